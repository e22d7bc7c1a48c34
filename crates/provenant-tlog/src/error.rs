//! The crate's single error type.

/// A boxed error from a storage backend behind [`crate::HashReader`],
/// [`crate::TileReader`] or [`crate::WitnessStore`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the log engine. Each variant names what is
/// wrong and where (index, tile path, line, offset, key).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An index (leaf, stored hash, node) lies outside the tree it refers to.
    #[error("{what} {index} is out of range for a tree of size {size}")]
    IndexOutOfRange {
        what: &'static str,
        index: u64,
        size: u64,
    },
    /// A tree size or level is too large to address (would overflow 64 bits).
    #[error("{what} overflows the addressable tree (level {level}, index {index})")]
    Overflow {
        what: &'static str,
        level: u8,
        index: u64,
    },
    /// Two tree sizes in the wrong order (a proof from a larger to a smaller tree).
    #[error("tree size {old_size} is larger than tree size {new_size}")]
    SizeOrder { old_size: u64, new_size: u64 },
    /// A proof has the wrong number of hashes for the index and size it claims.
    #[error("{kind} proof for {at} has {got} hashes, expected {expected}")]
    ProofLength {
        kind: &'static str,
        at: String,
        expected: usize,
        got: usize,
    },
    /// An inclusion proof does not lead to the expected root hash.
    #[error("inclusion proof for leaf {index} in tree size {size} does not verify: {reason}")]
    InclusionProof {
        index: u64,
        size: u64,
        reason: &'static str,
    },
    /// A consistency proof does not link the two root hashes.
    #[error("consistency proof from tree size {old_size} to {new_size} does not verify: {reason}")]
    ConsistencyProof {
        old_size: u64,
        new_size: u64,
        reason: &'static str,
    },
    /// A tile or entry-bundle URL path that is not in C2SP tlog-tiles form.
    #[error("malformed tile path {path:?}: {reason}")]
    TilePath { path: String, reason: &'static str },
    /// A tile whose byte length does not match the width its path or tree size implies.
    #[error("tile {tile} has {got} bytes, expected {expected}")]
    TileLength {
        tile: String,
        expected: usize,
        got: usize,
    },
    /// A malformed or inconsistent entry bundle.
    #[error("entry bundle {bundle} is malformed at byte offset {offset}: {reason}")]
    EntryBundle {
        bundle: String,
        offset: usize,
        reason: String,
    },
    /// An entry bundle entry does not hash to the leaf hash in the level-0 tile.
    #[error("entry {index} (in bundle {bundle}) does not match its leaf hash in tile {tile}")]
    EntryMismatch {
        index: u64,
        bundle: String,
        tile: String,
    },
    /// An entry longer than the 65535 bytes a uint16 length prefix can hold.
    #[error("entry {position} of the batch is {len} bytes; entries are at most 65535 bytes")]
    EntryTooLarge { position: usize, len: usize },
    /// A storage backend failed.
    #[error("storage error while {context}")]
    Storage {
        context: String,
        #[source]
        source: BoxError,
    },
    /// A storage backend returned the wrong number of results.
    #[error("reader returned {got} {what} for {expected} requested")]
    ReaderCount {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// A signed note that does not follow C2SP signed-note syntax.
    #[error("malformed note at line {line}: {reason}")]
    MalformedNote { line: usize, reason: String },
    /// A verifier or signer key string that cannot be parsed.
    #[error("malformed {what} key: {reason}")]
    MalformedKey { what: &'static str, reason: String },
    /// A key string whose key ID does not match its name and key material.
    #[error(
        "key ID {claimed:08x} of key {name:?} does not match its key material (computed {computed:08x})"
    )]
    KeyIdMismatch {
        name: String,
        claimed: u32,
        computed: u32,
    },
    /// A key string with an algorithm byte this crate does not implement.
    #[error("key {name:?} uses unknown signature type 0x{alg:02x}")]
    UnknownKeyType { name: String, alg: u8 },
    /// Two configured verifiers share both name and key ID.
    #[error("ambiguous key {name}+{key_id:08x}: configured more than once")]
    AmbiguousKey { name: String, key_id: u32 },
    /// A signature by a known key that does not verify (forged or corrupted).
    #[error("invalid signature for key {name}+{key_id:08x} at signature line {line}")]
    InvalidSignature {
        name: String,
        key_id: u32,
        line: usize,
    },
    /// A well-formed note with no signature from any known key.
    #[error("note has no verifiable signature ({unverified} signatures from unknown keys)")]
    UnverifiedNote { unverified: usize },
    /// A signer whose name is not a valid key name.
    #[error("invalid signer name {name:?}")]
    InvalidSigner { name: String },
    /// Signing failed in a signer backend.
    #[error("signing with key {name:?} failed")]
    Signing {
        name: String,
        #[source]
        source: BoxError,
    },
    /// A checkpoint body that does not follow C2SP tlog-checkpoint.
    #[error("malformed checkpoint at line {line}: {reason}")]
    MalformedCheckpoint { line: usize, reason: String },
    /// A checkpoint from a different log than expected.
    #[error("checkpoint origin is {found:?}, expected {expected:?}")]
    CheckpointOrigin { expected: String, found: String },
    /// A cosignature that is not a 72-byte timestamped signature.
    #[error("malformed cosignature from {name:?}: {reason}")]
    MalformedCosignature { name: String, reason: String },
    /// Witness: the add-checkpoint request body is malformed (HTTP 400).
    #[error("malformed add-checkpoint request at line {line}: {reason}")]
    WitnessRequest { line: usize, reason: String },
    /// Witness: the checkpoint's origin is not a configured log (HTTP 404).
    #[error("witness does not know log origin {origin:?}")]
    WitnessUnknownOrigin { origin: String },
    /// Witness: no trusted log signature verifies on the checkpoint (HTTP 403).
    #[error("checkpoint for {origin:?} carries no valid signature from the log's keys")]
    WitnessUnsigned {
        origin: String,
        #[source]
        source: Box<Error>,
    },
    /// Witness: `old` size above the checkpoint size (HTTP 400).
    #[error("old size {old_size} is larger than the checkpoint size {new_size}")]
    WitnessOldSize { old_size: u64, new_size: u64 },
    /// Witness: `old` size is not the size it last cosigned (HTTP 409, body = current size).
    #[error(
        "old size {old_size} is stale: the witness last cosigned size {current_size} for {origin:?}"
    )]
    WitnessConflict {
        origin: String,
        old_size: u64,
        current_size: u64,
    },
    /// Witness: same size as last cosigned but a different root hash (HTTP 409).
    #[error(
        "checkpoint for {origin:?} at size {size} has a different root hash than the one cosigned"
    )]
    WitnessRootMismatch { origin: String, size: u64 },
    /// Witness: the consistency proof does not verify (HTTP 422).
    #[error("consistency proof for {origin:?} does not verify")]
    WitnessProof {
        origin: String,
        #[source]
        source: Box<Error>,
    },
    /// JSON that cannot be canonicalised per RFC 8785.
    #[error("cannot canonicalize JSON at {path}: {reason}")]
    Json { path: String, reason: String },
    /// The OS random number generator failed.
    #[error("random number generator failed: {0}")]
    Random(String),
}

impl Error {
    /// The HTTP status a C2SP tlog-witness `add-checkpoint` handler answers
    /// with for this error (`None`: an internal error, answer 500).
    pub fn witness_http_status(&self) -> Option<u16> {
        match self {
            Error::WitnessRequest { .. }
            | Error::WitnessOldSize { .. }
            | Error::MalformedNote { .. }
            | Error::MalformedCheckpoint { .. } => Some(400),
            Error::WitnessUnsigned { .. } => Some(403),
            Error::WitnessUnknownOrigin { .. } => Some(404),
            Error::WitnessConflict { .. } | Error::WitnessRootMismatch { .. } => Some(409),
            Error::WitnessProof { .. } => Some(422),
            _ => None,
        }
    }

    pub(crate) fn storage(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Storage {
            context: context.into(),
            source: source.into(),
        }
    }
}

use provenant_store::StoreError;

/// Domain errors. The server maps each variant to an HTTP status and one
/// stable `provenant_api::ErrorCode` in one exhaustive match; the enum is not
/// `#[non_exhaustive]` so that a new variant fails to compile there until it
/// is given its status and code.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The policy gate denied a push (the decision is recorded and logged).
    #[error("the policy gate denied {} of {}", .0.action, .0.reference)]
    PolicyDenied(Box<provenant_api::DecisionView>),
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidName {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("invalid reference {value:?}: {reason}")]
    InvalidReference { value: String, reason: String },
    #[error("invalid file path {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },
    #[error("metadata does not match the version-metadata schema: {}", .errors.join("; "))]
    InvalidMetadata { errors: Vec<String> },
    #[error("invalid digest for {path:?}: {reason}")]
    InvalidDigest { path: String, reason: String },
    #[error("model {0} not found")]
    ModelNotFound(String),
    #[error("version {0} not found")]
    VersionNotFound(String),
    #[error("file {path:?}: blob {digest} has not been uploaded")]
    BlobMissing {
        path: String,
        digest: provenant_digest::Digest,
    },
    #[error("file {path:?}: declared size {declared} but blob {digest} holds {stored} bytes")]
    BlobSizeMismatch {
        path: String,
        digest: provenant_digest::Digest,
        declared: u64,
        stored: u64,
    },
    #[error("file path {0:?} appears twice")]
    DuplicatePath(String),
    #[error("a version needs at least one file")]
    NoFiles,
    #[error("version {version} is {state}; cannot {action}")]
    InvalidState {
        version: String,
        state: crate::VersionState,
        action: &'static str,
    },
    #[error("a reason is required to {0}")]
    ReasonRequired(&'static str),
    #[error(
        "cannot archive {version} while aliases point at it ({}); move them to another version first",
        .aliases.join(", ")
    )]
    AliasedVersion {
        version: String,
        aliases: Vec<String>,
    },
    /// The bytes are not a Sigstore bundle carrying an in-toto statement.
    #[error("invalid bundle: {field}: {reason}")]
    InvalidBundle { field: String, reason: String },
    /// The bundle's signature does not verify, or the key material sent with it is unusable.
    #[error("invalid signature: {reason}")]
    InvalidSignature { reason: String },
    #[error("signature does not match the version's files: {}", .problems.join("; "))]
    SignatureMismatch { problems: Vec<String> },
    #[error("namespace {namespace} does not trust key {fingerprint}")]
    KeyNotFound {
        namespace: String,
        fingerprint: String,
    },
    #[error("{what} is not trusted by namespace {namespace}: {reason}")]
    Untrusted {
        what: String,
        namespace: String,
        reason: String,
    },
    #[error("invalid attestation: {field}: {reason}")]
    InvalidAttestation { field: String, reason: String },
    #[error("invalid vulnerability database update: {reason}")]
    InvalidVulnDb { reason: String },
    #[error("invalid provenance: {field}: {reason}")]
    InvalidProvenance { field: String, reason: String },
    #[error(
        "subject does not match version {version}: expected {expected}, the statement names {got}"
    )]
    SubjectMismatch {
        version: String,
        expected: String,
        got: String,
    },
    #[error(
        "predicate.buildDefinition.externalParameters.parents: parent {parent} would make a cycle in the lineage of {version}"
    )]
    LineageCycle { version: String, parent: String },
    #[error("invalid input {value:?}: {reason}")]
    InvalidInput { value: String, reason: String },
    /// A fault of the server, not of the request: a worker thread panicked,
    /// or a record it stored cannot be read back.
    #[error("internal error: {reason}")]
    Internal { reason: String },
    /// The caller's roles (or its token's scope) do not allow this.
    #[error("forbidden: {reason}")]
    Forbidden { reason: String },
    #[error("no principal {0}")]
    PrincipalNotFound(String),
    #[error("principal {0} exists")]
    PrincipalExists(String),
    #[error("no token {0}")]
    TokenNotFound(String),
    #[error("{0}")]
    TokenExists(String),
    #[error("namespace {0} exists")]
    NamespaceExists(String),
    #[error("no namespace {0}")]
    NamespaceNotFound(String),
    #[error("{principal} holds no role in {namespace}")]
    RoleNotFound {
        namespace: String,
        principal: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

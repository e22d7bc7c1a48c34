use crate::Digest;

/// Errors from the blob and metadata stores. Not `#[non_exhaustive]`: the
/// server maps every variant to an HTTP status and error code in one
/// exhaustive match, which a new variant must join.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid digest {value:?}: {reason}")]
    InvalidDigest { value: String, reason: &'static str },
    #[error("blob {0} not found")]
    BlobNotFound(Digest),
    #[error("digest mismatch: declared {declared}, received bytes hash to {actual}")]
    /// Boxed: two digests inline would make every `Result<_, StoreError>` large.
    DigestMismatch {
        declared: Box<Digest>,
        actual: Box<Digest>,
    },
    /// `blob` names the declared digest, or says the upload declared none yet.
    #[error("size mismatch for {blob}: declared {declared} bytes, received {received}")]
    SizeMismatch {
        blob: String,
        declared: u64,
        received: u64,
    },
    #[error(
        "checksum mismatch: declared CRC-64/NVME {declared:016x}, received bytes give {actual:016x}"
    )]
    ChecksumMismatch { declared: u64, actual: u64 },
    #[error(
        "an upload opened without a digest is committed with the digest or the CRC-64/NVME checksum of its bytes; neither was given"
    )]
    DeclarationMissing,
    #[error(
        "the blob store at {location} needs an upload's digest when the upload opens (uploads without one are for local stores)"
    )]
    DigestRequired { location: String },
    #[error("upload offset mismatch: upload is at byte {expected}, request starts at {given}")]
    OffsetMismatch { expected: u64, given: u64 },
    #[error("unsupported blob store URL {url:?}: {reason}")]
    BlobUrl { url: String, reason: String },
    #[error("unsupported database URL {url:?}: {reason}")]
    DatabaseUrl { url: String, reason: String },
    #[error("object store: {0}")]
    Object(#[from] object_store::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// From the embedded database's direct readers (listings).
    #[error("database: {0}")]
    Sqlite(String),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("parent link {parent} would make a cycle in the lineage of version id {version_id}")]
    LineageCycle { version_id: i64, parent: String },
    #[error("version id {version_id} is archived: no alias may point at it")]
    VersionArchived { version_id: i64 },
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
    #[error("not enough disk space for a blob of {size} bytes in {location}")]
    InsufficientStorage { size: u64, location: String },
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

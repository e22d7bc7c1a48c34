use provenant_store::StoreError;

/// Domain errors. Each maps to one stable API error code (see [`RegistryError::code`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
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
    BlobMissing { path: String, digest: String },
    #[error("file {path:?}: declared size {declared} but blob {digest} holds {stored} bytes")]
    BlobSizeMismatch {
        path: String,
        digest: String,
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
        state: String,
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
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RegistryError {
    /// Stable machine-readable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidName { .. } => "invalid_name",
            Self::InvalidReference { .. } => "invalid_reference",
            Self::InvalidPath { .. } => "invalid_path",
            Self::InvalidMetadata { .. } => "invalid_metadata",
            Self::InvalidDigest { .. } => "invalid_digest",
            Self::ModelNotFound(_) => "model_not_found",
            Self::VersionNotFound(_) => "version_not_found",
            Self::BlobMissing { .. } => "blob_missing",
            Self::BlobSizeMismatch { .. } => "blob_size_mismatch",
            Self::DuplicatePath(_) => "duplicate_path",
            Self::NoFiles => "no_files",
            Self::InvalidState { .. } => "invalid_state",
            Self::ReasonRequired(_) => "reason_required",
            Self::AliasedVersion { .. } => "version_aliased",
            Self::InvalidSignature { .. } => "invalid_signature",
            Self::SignatureMismatch { .. } => "signature_mismatch",
            Self::KeyNotFound { .. } => "key_not_found",
            Self::Untrusted { .. } => "untrusted",
            Self::InvalidAttestation { .. } => "invalid_attestation",
            Self::InvalidVulnDb { .. } => "invalid_vulndb",
            Self::InvalidProvenance { .. } => "invalid_provenance",
            Self::SubjectMismatch { .. } => "subject_mismatch",
            Self::LineageCycle { .. } => "lineage_cycle",
            Self::InvalidInput { .. } => "invalid_input",
            Self::Store(_) => "internal",
        }
    }
}

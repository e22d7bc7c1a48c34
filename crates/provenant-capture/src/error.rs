use provenant_provenance::ProvenanceError;

/// Errors of recipe capture. Bad flags name the flag (`--param`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// A flag's value is malformed.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The working tree has uncommitted changes.
    #[error(
        "the working tree of {repo} has uncommitted changes ({files}); commit them or pass --allow-dirty"
    )]
    DirtyTree { repo: String, files: String },
    /// git, gpg or ssh-keygen failed or is missing, or a Python environment
    /// could not be read.
    #[error("{tool}: {reason}")]
    Tool { tool: String, reason: String },
    #[error("hashing {path}: {source}")]
    Digest {
        path: String,
        #[source]
        source: provenant_digest::DigestError,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A dataset or digest the provenance model refused.
    #[error(transparent)]
    Provenance(#[from] ProvenanceError),
}

impl CaptureError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The flag or field a malformed-value error names.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } => Some(field),
            Self::Provenance(e) => e.field(),
            _ => None,
        }
    }
}

pub type Result<T, E = CaptureError> = std::result::Result<T, E>;

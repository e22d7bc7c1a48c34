/// Errors of provenance validation, recipe parsing and dataset hashing.
/// Field names are JSON paths
/// (`predicate.buildDefinition.externalParameters.hyperparameters`) or flags.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvenanceError {
    /// A field is missing or malformed.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
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
}

impl ProvenanceError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The field an [`ProvenanceError::Invalid`] names.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

pub type Result<T, E = ProvenanceError> = std::result::Result<T, E>;

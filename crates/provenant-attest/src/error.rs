use std::path::PathBuf;

use provenant_digest::{DigestError, ResourceMismatch};

/// Result alias for this crate.
pub type Result<T, E = AttestError> = std::result::Result<T, E>;

/// Everything that can make signing or verification fail. Each variant names
/// the file, bundle field or key it is about, and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Hashing the model failed (unreadable file, refused symlink, ...).
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// Input larger than the accepted maximum.
    #[error("{what} is too large ({size} bytes, limit {limit})")]
    TooLarge {
        what: &'static str,
        size: u64,
        limit: u64,
    },
    /// The bundle, envelope, statement or predicate is malformed; `field` is a
    /// JSON path such as `dsseEnvelope.signatures[0].sig`.
    #[error("malformed signature bundle: {field}: {reason}")]
    Malformed { field: String, reason: String },
    /// A key could not be read or is not supported.
    #[error("key {source_name}: {reason}")]
    Key { source_name: String, reason: String },
    /// The signature does not verify with the given key.
    #[error("{field}: signature does not verify with {key} (wrong key or modified payload)")]
    BadSignature { field: String, key: String },
    /// The bundle names a different public key than the one given. `expected`
    /// is the given key's fingerprint (`sha256:` + hex SHA-256 of its DER
    /// SubjectPublicKeyInfo, as everywhere else); `hint` is the bundle's
    /// `publicKey.hint` as written (model_signing: hex SHA-256 of the PEM text),
    /// which is not a fingerprint and cannot be turned into one.
    #[error(
        "verificationMaterial.publicKey.hint: bundle was signed by another key, not by the given key {expected} (the bundle's key hint is {hint})"
    )]
    KeyHintMismatch { hint: String, expected: String },
    /// The certificate chain is not acceptable.
    #[error("{field}: {reason}")]
    Certificate { field: String, reason: String },
    /// The bundle carries the wrong kind of verification material.
    #[error("verificationMaterial: {reason}")]
    VerificationMaterial { reason: String },
    /// The signed resources do not hash to the signed root digest.
    #[error(
        "subject[0].digest.sha256: root digest {signed} does not match the resources ({computed})"
    )]
    RootDigestMismatch { signed: String, computed: String },
    /// The model on disk differs from what was signed.
    #[error("model does not match its signature:\n  {}", mismatches.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    ModelMismatch { mismatches: Vec<ResourceMismatch> },
}

impl AttestError {
    pub(crate) fn malformed(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Malformed {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn key(source_name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Key {
            source_name: source_name.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

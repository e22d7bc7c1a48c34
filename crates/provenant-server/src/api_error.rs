//! The one HTTP error boundary: domain errors become a status, a stable
//! machine-readable [`ErrorCode`] and a message safe for clients. Internal
//! details go to the log only.
//!
//! Every domain error enum is matched exhaustively, variant by variant, with
//! no catch-all arm: a new variant does not compile until it is given its
//! status and code here. (The enums are therefore not `#[non_exhaustive]`,
//! which would force a wildcard arm in this crate.)

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
pub use provenant_api::{ErrorBody, ErrorCode};
use provenant_registry::{LogError, RegistryError, StoreError};

/// A failed request: status, code and client-safe message.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// With `policy_denied`: the decision that denied.
    pub decision: Option<Box<provenant_api::DecisionView>>,
}

/// Message of every `internal` answer; the detail is in the log.
const INTERNAL_MESSAGE: &str = "internal error; see the server log";

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            decision: None,
        }
    }

    /// 403 `policy_denied`, carrying the decision.
    pub fn policy_denied(decision: provenant_api::DecisionView) -> Self {
        let reasons: Vec<String> = decision
            .decision
            .deny
            .iter()
            .map(|d| format!("{}: {}", d.policy, d.message))
            .collect();
        Self {
            status: StatusCode::FORBIDDEN,
            code: ErrorCode::PolicyDenied,
            message: format!(
                "the policy gate denied {} of {}: {}",
                decision.action,
                decision.reference,
                reasons.join("; ")
            ),
            decision: Some(Box::new(decision)),
        }
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// A fault of the server: 500 `internal`; `detail` goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            INTERNAL_MESSAGE,
        )
    }

    /// The answer for a mapped domain error: its own message, except for
    /// `internal`, whose detail is logged and replaced.
    fn mapped((status, code): (StatusCode, ErrorCode), error: &dyn std::fmt::Display) -> Self {
        if code == ErrorCode::Internal {
            Self::internal(error)
        } else {
            Self::new(status, code, error.to_string())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(code = %self.code, status = %self.status, "request failed");
        }
        (
            self.status,
            Json(ErrorBody {
                code: self.code,
                message: self.message,
                decision: self.decision,
            }),
        )
            .into_response()
    }
}

/// Status and code of a store error.
pub fn store_status(e: &StoreError) -> (StatusCode, ErrorCode) {
    use ErrorCode as C;
    use StatusCode as S;
    match e {
        StoreError::InvalidDigest { .. } => (S::BAD_REQUEST, C::InvalidDigest),
        StoreError::BlobNotFound(_) => (S::NOT_FOUND, C::BlobNotFound),
        StoreError::DigestMismatch { .. } => (S::BAD_REQUEST, C::DigestMismatch),
        StoreError::SizeMismatch { .. } => (S::BAD_REQUEST, C::SizeMismatch),
        StoreError::ChecksumMismatch { .. } => (S::BAD_REQUEST, C::ChecksumMismatch),
        StoreError::DeclarationMissing => (S::BAD_REQUEST, C::DeclarationRequired),
        StoreError::DigestRequired { .. } => (S::BAD_REQUEST, C::DigestRequired),
        StoreError::OffsetMismatch { .. } => (S::CONFLICT, C::OffsetMismatch),
        StoreError::LineageCycle { .. } => (S::BAD_REQUEST, C::LineageCycle),
        StoreError::VersionArchived { .. } => (S::CONFLICT, C::InvalidState),
        StoreError::InsufficientStorage { .. } => (S::INSUFFICIENT_STORAGE, C::InsufficientStorage),
        // Faults of the server: its configuration, its storage, its data.
        StoreError::BlobUrl { .. }
        | StoreError::DatabaseUrl { .. }
        | StoreError::Object(_)
        | StoreError::Database(_)
        | StoreError::Sqlite(_)
        | StoreError::Migrate(_)
        | StoreError::Corrupt(_)
        | StoreError::Io(_) => (S::INTERNAL_SERVER_ERROR, C::Internal),
    }
}

/// Status and code of a registry error.
pub fn registry_status(e: &RegistryError) -> (StatusCode, ErrorCode) {
    use ErrorCode as C;
    use StatusCode as S;
    match e {
        RegistryError::InvalidName { .. } => (S::BAD_REQUEST, C::InvalidName),
        RegistryError::InvalidReference { .. } => (S::BAD_REQUEST, C::InvalidReference),
        RegistryError::InvalidPath { .. } => (S::BAD_REQUEST, C::InvalidPath),
        RegistryError::InvalidMetadata { .. } => (S::BAD_REQUEST, C::InvalidMetadata),
        RegistryError::InvalidDigest { .. } => (S::BAD_REQUEST, C::InvalidDigest),
        RegistryError::ModelNotFound(_) => (S::NOT_FOUND, C::ModelNotFound),
        RegistryError::VersionNotFound(_) => (S::NOT_FOUND, C::VersionNotFound),
        RegistryError::BlobMissing { .. } => (S::UNPROCESSABLE_ENTITY, C::BlobMissing),
        RegistryError::BlobSizeMismatch { .. } => (S::UNPROCESSABLE_ENTITY, C::BlobSizeMismatch),
        RegistryError::DuplicatePath(_) => (S::BAD_REQUEST, C::DuplicatePath),
        RegistryError::NoFiles => (S::BAD_REQUEST, C::NoFiles),
        RegistryError::InvalidState { .. } => (S::CONFLICT, C::InvalidState),
        RegistryError::ReasonRequired(_) => (S::BAD_REQUEST, C::ReasonRequired),
        RegistryError::AliasedVersion { .. } => (S::CONFLICT, C::VersionAliased),
        RegistryError::InvalidBundle { .. } => (S::BAD_REQUEST, C::InvalidBundle),
        RegistryError::InvalidSignature { .. } => (S::BAD_REQUEST, C::InvalidSignature),
        RegistryError::SignatureMismatch { .. } => (S::BAD_REQUEST, C::SignatureMismatch),
        RegistryError::KeyNotFound { .. } => (S::NOT_FOUND, C::KeyNotFound),
        RegistryError::Untrusted { .. } => (S::BAD_REQUEST, C::Untrusted),
        RegistryError::PolicyDenied(_) => (S::FORBIDDEN, C::PolicyDenied),
        RegistryError::InvalidAttestation { .. } => (S::BAD_REQUEST, C::InvalidAttestation),
        RegistryError::InvalidVulnDb { .. } => (S::BAD_REQUEST, C::InvalidVulndb),
        RegistryError::InvalidProvenance { .. } => (S::BAD_REQUEST, C::InvalidProvenance),
        RegistryError::SubjectMismatch { .. } => (S::BAD_REQUEST, C::SubjectMismatch),
        RegistryError::LineageCycle { .. } => (S::BAD_REQUEST, C::LineageCycle),
        RegistryError::InvalidInput { .. } => (S::BAD_REQUEST, C::InvalidInput),
        RegistryError::Internal { .. } => (S::INTERNAL_SERVER_ERROR, C::Internal),
        RegistryError::Forbidden { .. } => (S::FORBIDDEN, C::Forbidden),
        RegistryError::PrincipalNotFound(_) => (S::NOT_FOUND, C::PrincipalNotFound),
        RegistryError::PrincipalExists(_) => (S::CONFLICT, C::PrincipalExists),
        RegistryError::TokenNotFound(_) => (S::NOT_FOUND, C::TokenNotFound),
        RegistryError::TokenExists(_) => (S::CONFLICT, C::TokenExists),
        RegistryError::NamespaceExists(_) => (S::CONFLICT, C::NamespaceExists),
        RegistryError::NamespaceNotFound(_) => (S::NOT_FOUND, C::NamespaceNotFound),
        RegistryError::RoleNotFound { .. } => (S::NOT_FOUND, C::RoleNotFound),
        RegistryError::Store(s) => store_status(s),
    }
}

/// Status and code of a transparency-log error.
pub fn log_status(e: &LogError) -> (StatusCode, ErrorCode) {
    use ErrorCode as C;
    use StatusCode as S;
    match e {
        LogError::Store(s) => store_status(s),
        LogError::Beyond { .. } => (S::NOT_FOUND, C::LogBeyondTree),
        LogError::NoEntry(_) => (S::NOT_FOUND, C::LogEntryNotFound),
        LogError::Tlog(t) => match t {
            provenant_tlog::Error::IndexOutOfRange { .. }
            | provenant_tlog::Error::SizeOrder { .. } => (S::BAD_REQUEST, C::LogOutOfRange),
            // The spec crate's error is #[non_exhaustive] (kept so: it is a
            // library of its own). Every other variant comes from stored
            // tiles, hashes or keys, never from a request: a fault.
            _ => (S::INTERNAL_SERVER_ERROR, C::Internal),
        },
        LogError::Inconsistent { .. } | LogError::Missing { .. } => {
            (S::INTERNAL_SERVER_ERROR, C::Internal)
        }
    }
}

impl From<provenant_digest::DigestParseError> for ApiError {
    fn from(e: provenant_digest::DigestParseError) -> Self {
        Self::bad_request(ErrorCode::InvalidDigest, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::mapped(store_status(&e), &e)
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        if let RegistryError::PolicyDenied(view) = e {
            return Self::policy_denied(*view);
        }
        Self::mapped(registry_status(&e), &e)
    }
}

impl From<LogError> for ApiError {
    fn from(e: LogError) -> Self {
        Self::mapped(log_status(&e), &e)
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        if let Some(stall) = crate::server::stalled(&e) {
            return Self::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::BodyTimeout,
                format!("request body too slow: {stall}"),
            );
        }
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::BodyTooLarge,
                format!("{} (this route's limit)", e.body_text()),
            );
        }
        Self::new(e.status(), ErrorCode::InvalidBody, e.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_not_found_is_404() {
        let e = RegistryError::KeyNotFound {
            namespace: "ns".into(),
            fingerprint: "SHA256:abc".into(),
        };
        assert_eq!(
            registry_status(&e),
            (StatusCode::NOT_FOUND, ErrorCode::KeyNotFound)
        );
        let api = ApiError::from(e);
        assert_eq!(api.status, StatusCode::NOT_FOUND);
        assert!(api.message.contains("SHA256:abc"), "{}", api.message);
    }

    #[test]
    fn server_faults_are_500_internal_with_no_detail() {
        let faults: Vec<RegistryError> = vec![
            RegistryError::Internal {
                reason: "a vulnerability database loader thread panicked".into(),
            },
            RegistryError::Store(StoreError::Corrupt("secret detail".into())),
            RegistryError::Store(StoreError::Sqlite("secret detail".into())),
            RegistryError::Store(StoreError::Io(std::io::Error::other("secret detail"))),
            RegistryError::Store(StoreError::DatabaseUrl {
                url: "postgres://secret".into(),
                reason: "secret detail".into(),
            }),
        ];
        for e in faults {
            let shown = e.to_string();
            let api = ApiError::from(e);
            assert_eq!(api.status, StatusCode::INTERNAL_SERVER_ERROR, "{shown}");
            assert_eq!(api.code, ErrorCode::Internal, "{shown}");
            assert_eq!(api.message, INTERNAL_MESSAGE, "{shown}");
        }
    }

    #[test]
    fn client_errors_keep_their_message() {
        let e = RegistryError::InvalidBundle {
            field: "bundle".into(),
            reason: "mediaType: expected a string".into(),
        };
        let api = ApiError::from(e);
        assert_eq!(
            (api.status, api.code),
            (StatusCode::BAD_REQUEST, ErrorCode::InvalidBundle)
        );
        assert!(api.message.contains("mediaType"), "{}", api.message);
    }

    #[test]
    fn store_conflicts_and_storage() {
        let cases = [
            (
                StoreError::OffsetMismatch {
                    expected: 1,
                    given: 2,
                },
                StatusCode::CONFLICT,
                ErrorCode::OffsetMismatch,
            ),
            (
                StoreError::VersionArchived { version_id: 1 },
                StatusCode::CONFLICT,
                ErrorCode::InvalidState,
            ),
            (
                StoreError::InsufficientStorage {
                    size: 1,
                    location: "blobs".into(),
                },
                StatusCode::INSUFFICIENT_STORAGE,
                ErrorCode::InsufficientStorage,
            ),
        ];
        for (e, status, code) in cases {
            assert_eq!(store_status(&e), (status, code), "{e}");
        }
    }

    #[test]
    fn log_errors() {
        assert_eq!(
            log_status(&LogError::NoEntry("x".into())),
            (StatusCode::NOT_FOUND, ErrorCode::LogEntryNotFound)
        );
        assert_eq!(
            log_status(&LogError::Missing {
                path: "tile/0/000".into()
            }),
            (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal)
        );
    }
}

//! The one HTTP error boundary: domain errors become a status, a stable
//! machine-readable `code` and a message safe for clients. Internal details go
//! to the log only.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use provenant_registry::RegistryError;
use provenant_store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// Error body of every failed request.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `version_not_found`.
    pub code: String,
    /// Human-readable explanation naming what is wrong and where.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(code = self.code, status = %self.status, "request failed");
        }
        (
            self.status,
            Json(ErrorBody {
                code: self.code.to_owned(),
                message: self.message,
            }),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidDigest { .. } => Self::bad_request("invalid_digest", e.to_string()),
            StoreError::BlobNotFound(_) => Self::not_found("blob_not_found", e.to_string()),
            StoreError::DigestMismatch { .. } => {
                Self::bad_request("digest_mismatch", e.to_string())
            }
            StoreError::SizeMismatch { .. } => Self::bad_request("size_mismatch", e.to_string()),
            StoreError::ChecksumMismatch { .. } => {
                Self::bad_request("checksum_mismatch", e.to_string())
            }
            StoreError::DeclarationMissing => {
                Self::bad_request("declaration_required", e.to_string())
            }
            StoreError::DigestRequired { .. } => {
                Self::bad_request("digest_required", e.to_string())
            }
            StoreError::OffsetMismatch { .. } => {
                Self::new(StatusCode::CONFLICT, "offset_mismatch", e.to_string())
            }
            StoreError::InsufficientStorage { .. } => Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "insufficient_storage",
                e.to_string(),
            ),
            other => Self::internal(other),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        let code = e.code();
        let status = match &e {
            RegistryError::ModelNotFound(_) | RegistryError::VersionNotFound(_) => {
                StatusCode::NOT_FOUND
            }
            RegistryError::InvalidState { .. } | RegistryError::AliasedVersion { .. } => {
                StatusCode::CONFLICT
            }
            RegistryError::BlobMissing { .. } | RegistryError::BlobSizeMismatch { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            RegistryError::Store(_) => {
                return match e {
                    RegistryError::Store(s) => s.into(),
                    _ => Self::internal("unreachable"),
                };
            }
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, code, e.to_string())
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        if let Some(stall) = crate::server::stalled(&e) {
            return Self::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!("request body too slow: {stall}"),
            );
        }
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("{} (this route's limit)", e.body_text()),
            );
        }
        Self::new(e.status(), "invalid_body", e.body_text())
    }
}

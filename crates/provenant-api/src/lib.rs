//! Wire types of the Provenant HTTP API shared by the server and the CLI:
//! the stable error codes ([`ErrorCode`]) and the error body ([`ErrorBody`])
//! of every failed request, and the request bodies both sides use
//! ([`BundleBody`], [`LabelsBody`], [`ReasonBody`], [`AliasTarget`],
//! [`KeyBody`]). Pure: serde and utoipa only, no HTTP client or server; the
//! server publishes these types in its OpenAPI 3.1 document
//! (<https://spec.openapis.org/oas/v3.1.0>) at `/api/v1/openapi.json`.

mod error;
mod requests;

pub use error::{ErrorBody, ErrorCode, UnknownErrorCode};
pub use requests::{AliasTarget, BundleBody, KeyBody, LabelsBody, ReasonBody};

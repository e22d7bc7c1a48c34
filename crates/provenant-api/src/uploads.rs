//! The blob upload protocol: sessions, plans and commits.
//!
//! Request bodies carry digests as the client wrote them (the server parses
//! them and answers `invalid_digest` naming the field); what the server
//! answers carries [`Digest`]s.

use provenant_digest::Digest;

/// Start an upload (`POST /api/v1/uploads`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct NewUpload {
    /// Declared digest, `sha256:<hex>`. Without it the session is undeclared:
    /// the digest or checksum is declared when it commits (`PUT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Declared size in bytes.
    pub size: u64,
}

/// An upload session, or a blob the store already has.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct UploadStatus {
    /// Session id; absent when the blob already exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The blob's digest: as declared, or once an undeclared upload committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub digest: Option<Digest>,
    pub size: u64,
    /// Bytes received so far; resume from here.
    pub offset: u64,
    /// SHA-256 of the bytes received so far (undeclared sessions): a client
    /// resumes one only if its file's first `offset` bytes hash to this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub received_digest: Option<Digest>,
    /// True once the blob is stored (already present, or fully uploaded and verified).
    pub complete: bool,
}

/// What the client will do for every upload it commits (`PUT`).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitUpload {
    /// Digest of the bytes sent, `sha256:<hex>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// CRC-64/NVME of the bytes sent, `crc64nvme:<16 hex digits>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// Sizes of files a client is about to push.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadPlanRequest {
    /// At most 10,000 sizes, in bytes.
    pub sizes: Vec<u64>,
}

/// What a push can skip or resume.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct UploadPlan {
    /// Whether this server takes undeclared uploads (a local blob store does).
    pub undeclared: bool,
    /// The asked sizes the store holds a blob of: hash such a file first, to
    /// skip its upload if the server has it.
    // The server always sends both lists (required in the OpenAPI document);
    // a client reading an older server's answer takes a missing one as empty.
    #[serde(default)]
    #[schema(required = true)]
    pub held_sizes: Vec<u64>,
    /// Idle undeclared sessions of the asked sizes, to resume.
    #[serde(default)]
    #[schema(required = true)]
    pub resumable: Vec<UploadStatus>,
}

//! Client-side views of API responses.

use std::collections::BTreeMap;

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct FileInfo {
    pub path: String,
    pub digest: String,
    pub size: u64,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct VersionInfo {
    pub model: String,
    pub number: i64,
    pub reference: String,
    pub digest: String,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_changed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_changed_by: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub size: i64,
    pub file_count: i64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub metadata: serde_json::Value,
    pub metadata_digest: String,
    pub config_digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatures: Option<Vec<SignatureInfo>>,
    /// Attestations (SBOMs, provenance) as the server shows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestations: Option<Vec<serde_json::Value>>,
    /// SLSA provenance summaries (filled in by `show`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct SignatureInfo {
    pub digest: String,
    pub signer: String,
    pub fingerprint: String,
    pub trusted: bool,
    pub created_at: String,
    pub created_by: String,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct Published {
    pub created: bool,
    pub version: VersionInfo,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub namespace: String,
    pub description: String,
    pub version_count: i64,
    pub created_at: String,
    pub created_by: String,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct AliasEvent {
    pub alias: String,
    pub number: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_number: Option<i64>,
    pub moved_at: String,
    pub moved_by: String,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct UploadStatus {
    #[serde(default)]
    pub id: Option<String>,
    /// Absent for an undeclared session until it commits.
    #[serde(default)]
    pub digest: Option<String>,
    pub size: u64,
    pub offset: u64,
    /// SHA-256 of the bytes an undeclared session received so far.
    #[serde(default)]
    pub received_digest: Option<String>,
    pub complete: bool,
}

/// `POST /api/v1/uploads/plan`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct UploadPlan {
    pub undeclared: bool,
    #[serde(default)]
    pub held_sizes: Vec<u64>,
    #[serde(default)]
    pub resumable: Vec<UploadStatus>,
}

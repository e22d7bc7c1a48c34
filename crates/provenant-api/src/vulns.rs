//! The server's vulnerability database and the findings of versions, as the
//! API shows them.

use provenant_digest::Digest;
use serde_json::Value;

/// Outcome of an import into the server's database.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct VulnDbImport {
    pub source: String,
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub withdrawn: usize,
    /// Records that could not be taken: file, field and reason.
    pub issues: Vec<String>,
    /// Records in the database after the import.
    pub records: usize,
    pub generation: i64,
    /// Versions re-scanned because the database changed.
    pub rescanned: usize,
    /// Findings first seen in that re-scan.
    pub new_findings: usize,
}

/// The server's OSV database.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct VulnDbStatus {
    pub generation: i64,
    pub records: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub updated_by: String,
}

/// One finding of a version as the API shows it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FindingView {
    /// The scanner's finding: id, aliases, purl, installed_version,
    /// fixed_versions, severity, summary, url.
    #[schema(value_type = Object)]
    pub finding: Value,
    pub first_seen: String,
    pub last_seen: String,
    /// Set when the advisory no longer matches (withdrawn or changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<String>,
}

/// A version's findings.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FindingsView {
    pub reference: String,
    #[schema(value_type = String)]
    pub digest: Digest,
    /// False when the version has no SBOM attached (nothing to scan).
    pub scanned: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_at: Option<String>,
    /// Database generation of the last scan.
    pub generation: i64,
    pub components: i64,
    pub findings: Vec<FindingView>,
    /// What could not be judged (unknown ecosystems, unparsable versions).
    pub warnings: Vec<String>,
}

//! Training provenance and the lineage graph, as the API shows them.

use provenant_digest::Digest;
use serde_json::Value;

use crate::VersionState;

/// What `show` prints about one provenance attestation.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ProvenanceSummary {
    pub build_type: String,
    pub builder_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<String>,
    /// `uri@sha256:…` of each dataset.
    pub datasets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Commit signature status (`verified`, `unsigned`, …) and signer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_signature: Option<String>,
    pub entrypoint: String,
    #[schema(value_type = Object)]
    pub hyperparameters: Value,
    pub seeds: Vec<u64>,
    pub images: Vec<String>,
    pub parents: Vec<String>,
}

/// A provenance attestation as the API shows it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ProvenanceView {
    /// SHA-256 of the bundle bytes.
    #[schema(value_type = String)]
    pub digest: Digest,
    /// Who signed the attestation (verified).
    pub signer: String,
    /// Fingerprint of what verified the bundle: the key, or the key of the
    /// root its certificate chain was built to.
    pub fingerprint: String,
    /// Whether the namespace's trusted key or root certificate of that
    /// fingerprint verifies the bundle now (decided by the server alone).
    pub trusted: bool,
    pub created_at: String,
    pub created_by: String,
    pub summary: ProvenanceSummary,
    /// The in-toto statement (subject, predicateType, predicate).
    #[schema(value_type = Object)]
    pub statement: Value,
}

/// A node of the lineage graph.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LineageEdgeView {
    /// The version that used the input: `ns/name:N`.
    pub version: String,
    #[schema(value_type = String)]
    pub version_digest: Digest,
    /// `dataset`, `commit`, `image` or `parent`.
    pub kind: String,
    /// `sha256:…`, a commit id, or for parents the parent version `ns/name:N`.
    pub input: String,
    pub uri: String,
}

/// Upstream (inputs, parents and theirs) and downstream (fine-tunes) of a version.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LineageView {
    pub version: String,
    #[schema(value_type = String)]
    pub digest: Digest,
    pub upstream: Vec<LineageEdgeView>,
    pub downstream: Vec<LineageEdgeView>,
}

/// A version affected by an input.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ImpactedVersion {
    pub version: String,
    #[schema(value_type = String)]
    pub digest: Digest,
    pub state: VersionState,
    /// Uses the input itself; otherwise inherits it from a parent version.
    pub direct: bool,
    /// Aliases pointing at this version now.
    pub aliases: Vec<String>,
}

/// Everything an input affects.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ImpactView {
    /// `dataset:sha256:…`, `commit:…` or `image:sha256:…`.
    pub input: String,
    pub versions: Vec<ImpactedVersion>,
    /// `ns/name#alias` of every alias pointing at an affected version.
    pub aliases: Vec<String>,
}

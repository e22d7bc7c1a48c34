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
    #[schema(value_type = Vec<String>)]
    pub images: Vec<Digest>,
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

/// What a lineage edge links a version to; the words the API and the
/// database use.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum LineageEdgeKind {
    /// A dataset, by content digest.
    Dataset,
    /// A source commit id.
    Commit,
    /// A training container image, by digest.
    Image,
    /// The version it was fine-tuned from.
    Parent,
}

impl LineageEdgeKind {
    /// Every kind.
    pub const ALL: [LineageEdgeKind; 4] = [Self::Dataset, Self::Commit, Self::Image, Self::Parent];

    /// The kind as it goes over the wire and into the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Dataset => "dataset",
            Self::Commit => "commit",
            Self::Image => "image",
            Self::Parent => "parent",
        }
    }

    /// The kind of a wire or database word; `None` for any other word.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for LineageEdgeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node of the lineage graph.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LineageEdgeView {
    /// The version that used the input: `ns/name:N`.
    pub version: String,
    #[schema(value_type = String)]
    pub version_digest: Digest,
    pub kind: LineageEdgeKind,
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

#[cfg(test)]
mod lineage_kind_tests {
    use super::LineageEdgeKind;

    #[test]
    fn words_round_trip_and_others_are_refused() {
        for k in LineageEdgeKind::ALL {
            assert_eq!(LineageEdgeKind::parse(k.as_str()), Some(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{k}\""));
            assert_eq!(serde_json::from_str::<LineageEdgeKind>(&json).unwrap(), k);
        }
        assert_eq!(LineageEdgeKind::parse("Parent"), None);
        assert!(serde_json::from_str::<LineageEdgeKind>("\"model\"").is_err());
    }
}

//! The policy gate on the wire: the input document every policy sees
//! (version 1, published as a JSON Schema at
//! `/api/v1/schemas/policy-input.json`), gate requests and the decisions
//! answered and stored.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::VersionState;

/// `schema` of a version-1 input document.
pub const POLICY_INPUT_SCHEMA_ID: &str = "https://provenant.dev/policy-input/v1";

/// What the gate is asked about: publishing (`ingest`), moving a protected
/// alias (`promote`) or running the version (`deploy`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PolicyAction {
    Ingest,
    Promote,
    Deploy,
}

impl PolicyAction {
    /// Every action.
    pub const ALL: [PolicyAction; 3] = [Self::Ingest, Self::Promote, Self::Deploy];

    /// The action as it goes over the wire and into the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ingest => "ingest",
            Self::Promote => "promote",
            Self::Deploy => "deploy",
        }
    }
}

impl fmt::Display for PolicyAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PolicyAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown action {s:?} (ingest, promote or deploy)"))
    }
}

/// `input.artifact`: the version decided about.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PolicyArtifact {
    /// `namespace/name@sha256:…`: the version by digest.
    pub reference: String,
    /// What the caller named (an alias, a number or the digest form).
    pub requested: String,
    /// Whether the caller named the version by its digest.
    pub pinned: bool,
    pub digest: String,
    pub namespace: String,
    pub model: String,
    /// `null` at ingestion (the version has no number yet).
    pub number: Option<i64>,
    pub labels: BTreeMap<String, String>,
    pub state: VersionState,
    pub state_reason: Option<String>,
    pub aliases: Vec<String>,
    /// The licence the version's metadata declares.
    pub license: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

/// A signing certificate's identity (`input.signatures[].certificate`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PolicyCertificate {
    /// Subject alternative names (URIs, e-mail addresses).
    pub identities: Vec<String>,
    /// The OIDC issuer the certificate names (Fulcio extension), if any.
    pub issuer: Option<String>,
}

/// One verified signature (`input.signatures[]`): trust as the server
/// decides it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PolicySignature {
    pub digest: String,
    pub signer: String,
    pub fingerprint: String,
    pub trusted: bool,
    pub certificate: Option<PolicyCertificate>,
}

/// The commit signature status of the provenance's source.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PolicyCommitSignature {
    /// `verified`, `unsigned`, `bad`, `unknown_key`, …
    pub status: String,
    pub signer: Option<String>,
}

/// One training dataset (`input.provenance.datasets[]`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PolicyDataset {
    pub uri: String,
    /// `sha256:…`; `null` when the provenance gives none.
    pub digest: Option<String>,
}

/// `input.provenance`: the newest provenance attestation, in brief.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PolicyProvenance {
    pub digest: String,
    pub trusted: bool,
    pub signer: String,
    pub fingerprint: String,
    pub builder: String,
    pub build_type: String,
    pub invocation_id: Option<String>,
    pub repository: Option<String>,
    pub commit: Option<String>,
    pub commit_signature: Option<PolicyCommitSignature>,
    pub datasets: Vec<PolicyDataset>,
    #[schema(value_type = Object)]
    pub hyperparameters: Value,
    pub images: Vec<String>,
    pub parents: Vec<String>,
}

/// The licences of one SBOM component.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PolicyComponentLicences {
    /// The component's purl, or its name when it has none.
    pub component: String,
    pub name: String,
    pub licenses: Vec<String>,
}

/// `input.sbom`: the newest SBOM, in brief.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PolicySbom {
    pub digest: String,
    pub trusted: bool,
    pub format: String,
    pub components: u64,
    pub licenses: Vec<PolicyComponentLicences>,
}

/// An open vulnerability finding (`input.findings.open[]`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PolicyFinding {
    pub id: String,
    pub aliases: Vec<String>,
    /// `critical`, `high`, `medium`, `low` or `unknown`.
    pub severity: String,
    pub purl: String,
    pub package: String,
    pub installed_version: String,
    pub fixed_versions: Vec<String>,
    pub summary: String,
}

/// A finding a waiver or VEX statement suppresses
/// (`input.findings.suppressed[]`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PolicySuppressed {
    pub id: String,
    pub purl: String,
    /// `waiver` or `vex`.
    pub by: String,
    pub reason: String,
    pub expires: Option<String>,
}

/// `input.findings`: open findings after waivers and VEX.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PolicyFindings {
    pub scanned: bool,
    pub scanned_at: Option<String>,
    pub open: Vec<PolicyFinding>,
    pub suppressed: Vec<PolicySuppressed>,
}

/// An approval of the version (`input.approvals[]`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PolicyApproval {
    pub principal: String,
    pub comment: String,
    pub at: String,
}

/// A workload that runs the version (`input.target.workload`).
#[derive(
    Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct PolicyWorkload {
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

/// A container image of the workload (`input.target.images[]`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PolicyImage {
    pub image: String,
    /// `sha256:…` when the image is named by digest, else `null`.
    pub digest: Option<String>,
}

/// `input.target`: where the version goes.
#[derive(
    Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct PolicyTarget {
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub kubernetes_namespace: Option<String>,
    /// For `promote`: the alias being moved.
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub workload: Option<PolicyWorkload>,
    #[serde(default)]
    pub images: Vec<PolicyImage>,
}

/// The input document (version 1) every policy sees as `input`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PolicyInput {
    /// Always [`POLICY_INPUT_SCHEMA_ID`].
    pub schema: String,
    pub action: PolicyAction,
    pub artifact: PolicyArtifact,
    pub signatures: Vec<PolicySignature>,
    pub provenance: Option<PolicyProvenance>,
    pub sbom: Option<PolicySbom>,
    pub findings: PolicyFindings,
    pub approvals: Vec<PolicyApproval>,
    pub target: PolicyTarget,
}

/// One reason or warning of a decision.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
pub struct DecisionMessage {
    /// The policy package (`provenant.signed`), or `gate` for what the
    /// server decided itself (no policy configured, bad input).
    pub policy: String,
    pub message: String,
    #[serde(default)]
    pub id: Option<String>,
}

/// An exception that suppressed at least one deny.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DecisionException {
    pub policy: String,
    pub id: String,
    pub justification: String,
    pub expires: String,
}

/// A decision document: what `policy eval`, `gate` and the server answer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DecisionDocument {
    pub allowed: bool,
    /// `allow` or `deny`.
    pub decision: String,
    pub deny: Vec<DecisionMessage>,
    pub warn: Vec<DecisionMessage>,
    pub dry_run: Vec<DecisionMessage>,
    pub exceptions: Vec<DecisionException>,
    /// Digest of the policy set that decided (`null` when none is
    /// configured: then the gate denies).
    pub policy_set: Option<String>,
    /// Digest of the canonical JSON of the input.
    pub input_digest: String,
}

/// `POST /api/v1/gate?ref=…`: decide about the version `ref` names.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GateBody {
    /// Default `deploy`.
    #[serde(default = "deploy")]
    pub action: PolicyAction,
    #[serde(default)]
    pub target: PolicyTarget,
}

fn deploy() -> PolicyAction {
    PolicyAction::Deploy
}

/// A stored decision as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DecisionView {
    pub id: i64,
    /// `namespace/name@sha256:…`.
    pub reference: String,
    pub action: PolicyAction,
    /// Empty when no environment was named.
    pub environment: String,
    pub decided_at: String,
    pub decided_by: String,
    /// The log entry's index, once sequenced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<i64>,
    /// Whether this answer came from the decision cache (then `id` is the
    /// decision first recorded for the same digest, policy set and input).
    #[serde(default)]
    pub cached: bool,
    pub decision: DecisionDocument,
}

/// `GET /api/v1/policies`: the policy set in force.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PolicySetView {
    /// Whether a policy set is configured (without one every gate denies).
    pub configured: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// What the set holds: its digest, policy and library packages, module
    /// paths and SHA-256 digests, data files, mode overrides.
    #[schema(value_type = Object)]
    pub set: Value,
    /// The namespaces whose pushes are gated (`*`: all).
    pub gate_ingest: Vec<String>,
    /// The aliases whose moves are gated.
    pub gate_promote: Vec<String>,
    /// The last reload's error, when the files on disk do not compile (the
    /// set in force stays the previous one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload_error: Option<String>,
}

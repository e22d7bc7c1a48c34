//! The recipe: what `provenant capture` records about a training run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dataset::DatasetDescriptor;

/// `_type` of a recipe document.
pub const RECIPE_TYPE: &str = "https://provenant.dev/recipe/v1";

/// Everything a training run used, as captured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipe {
    #[serde(rename = "_type")]
    pub type_: String,
    /// Training datasets, each with its digest.
    #[serde(default)]
    pub datasets: Vec<DatasetRef>,
    /// Source repository and commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Training entrypoint (script or module) and its arguments.
    #[serde(default)]
    pub entrypoint: String,
    #[serde(default)]
    pub arguments: Vec<String>,
    /// Hyperparameters (from `--params` and `--param`).
    #[serde(default)]
    pub hyperparameters: BTreeMap<String, Value>,
    /// Random seeds.
    #[serde(default)]
    pub seeds: Vec<u64>,
    /// Container image digest (`sha256:<hex>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    /// Versions this model was fine-tuned from (`ns/name@sha256:<manifest digest>`).
    #[serde(default)]
    pub parents: Vec<String>,
    /// Lock files with their digests (`path` → `sha256:<hex>`).
    #[serde(default)]
    pub lock_files: BTreeMap<String, String>,
    /// Where the run happened.
    #[serde(default)]
    pub environment: Environment,
    /// CI run identity, when detected or given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<CiIdentity>,
    /// RFC 3339 timestamps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<String>,
    /// Exit status of the training command when `capture` ran it (a recipe
    /// is written only for a run that succeeded, so 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

/// A dataset the run read.
pub type DatasetRef = DatasetDescriptor;

/// The source of the training code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// Remote URL (`origin`), or the local path when there is no remote.
    pub repository: String,
    /// Full commit SHA (40 hex digits for SHA-1 repositories, 64 for SHA-256).
    pub commit: String,
    /// Branch or ref, when on one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#ref: Option<String>,
    /// Uncommitted changes were present (only with `--allow-dirty`).
    #[serde(default)]
    pub dirty: bool,
    /// Files with uncommitted changes, when dirty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dirty_files: Vec<String>,
    /// Signature of the commit.
    pub signature: CommitSignature,
}

/// Software and hardware of the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub arch: String,
    #[serde(default)]
    pub kernel: String,
    #[serde(default)]
    pub cpu: String,
    #[serde(default)]
    pub cpus: u32,
    #[serde(default)]
    pub gpus: Vec<String>,
    /// Python packages of the active environment (name → version), from site-packages metadata.
    #[serde(default)]
    pub python_packages: BTreeMap<String, String>,
    /// ML frameworks among them (torch, tensorflow, jax, scikit-learn, …).
    #[serde(default)]
    pub frameworks: BTreeMap<String, String>,
}

/// Whether and by whom the source commit is signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitSignature {
    /// `verified` (good signature by an allowed signer), `unsigned`,
    /// `untrusted` (good signature, signer not allowed), `unverifiable`
    /// (signed, but no allowed-signers file or key to check it), `bad`,
    /// `expired` or `revoked`.
    pub status: String,
    /// `ssh`, `gpg` or `x509`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The principal (SSH allowed signer) or the GPG user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// Key fingerprint (`SHA256:…` for SSH, the GPG fingerprint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl CommitSignature {
    pub fn unsigned() -> Self {
        Self {
            status: "unsigned".into(),
            format: None,
            signer: None,
            key: None,
        }
    }
}

/// The CI run a recipe was captured in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CiIdentity {
    /// `github-actions`, `gitlab-ci`, `buildkite`, `jenkins`, or as given.
    pub system: String,
    /// SLSA `runDetails.builder.id`.
    pub builder_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// A package name and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
}

impl Recipe {
    /// An empty recipe.
    pub fn new() -> Self {
        Self {
            type_: RECIPE_TYPE.to_owned(),
            datasets: Vec::new(),
            source: None,
            entrypoint: String::new(),
            arguments: Vec::new(),
            hyperparameters: BTreeMap::new(),
            seeds: Vec::new(),
            image_digest: None,
            parents: Vec::new(),
            lock_files: BTreeMap::new(),
            environment: Environment::default(),
            ci: None,
            started_on: None,
            finished_on: None,
            exit_code: None,
        }
    }

    /// Parses a recipe file.
    ///
    /// # Errors
    /// Not JSON or fields of the wrong type, naming the JSON path.
    pub fn from_json(bytes: &[u8]) -> crate::Result<Self> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let r: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            crate::ProvenanceError::invalid(format!("recipe.{}", e.path()), e.inner().to_string())
        })?;
        if r.type_ != RECIPE_TYPE {
            return Err(crate::ProvenanceError::invalid(
                "recipe._type",
                format!("expected {RECIPE_TYPE}, got {:?}", r.type_),
            ));
        }
        Ok(r)
    }
}

impl Default for Recipe {
    fn default() -> Self {
        Self::new()
    }
}

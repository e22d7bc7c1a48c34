//! The recipe: what `provenant capture` records about a training run.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use provenant_digest::Digest;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dataset::DatasetDescriptor;
use crate::error::ProvenanceError;
use crate::validate::parse_digest;

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
    pub image_digest: Option<Digest>,
    /// Versions this model was fine-tuned from (`ns/name@sha256:<manifest digest>`).
    #[serde(default)]
    pub parents: Vec<ParentRef>,
    /// Lock files with their digests (`path` → `sha256:<hex>`).
    #[serde(default)]
    pub lock_files: BTreeMap<String, Digest>,
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

/// A version a model was fine-tuned from, pinned to its manifest digest:
/// `ns/name@sha256:<64 hex>`, which is also its JSON form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParentRef {
    /// The model (`ns/name`).
    pub model: String,
    /// The version's manifest digest.
    pub digest: Digest,
}

impl FromStr for ParentRef {
    type Err = ProvenanceError;

    /// Parses `ns/name@sha256:<hex>`.
    ///
    /// # Errors
    /// Anything else, naming `--parent`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split_once('@')
            .filter(|(model, _)| !model.is_empty())
            .and_then(|(model, d)| {
                Some(Self {
                    model: model.to_owned(),
                    digest: parse_digest("--parent", d).ok()?,
                })
            })
            .ok_or_else(|| {
                ProvenanceError::invalid(
                    "--parent",
                    format!(
                        "{s:?} must be ns/name@sha256:<64 hex digits> (the parent's manifest digest)"
                    ),
                )
            })
    }
}

impl fmt::Display for ParentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.model, self.digest)
    }
}

impl Serialize for ParentRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ParentRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parents_parse_once_and_print_as_given() {
        let text = format!("aiops/base@sha256:{}", "ab".repeat(32));
        let p: ParentRef = text.parse().unwrap();
        assert_eq!(p.model, "aiops/base");
        assert_eq!(p.digest.hex(), "ab".repeat(32));
        assert_eq!(p.to_string(), text);
        assert_eq!(serde_json::to_value(&p).unwrap(), serde_json::json!(text));
        for bad in [
            "aiops/base",
            "@sha256:abab",
            "aiops/base@sha256:AB",
            &format!("aiops/base@sha512:{}", "ab".repeat(64)),
        ] {
            let e = bad.parse::<ParentRef>().unwrap_err();
            assert_eq!(e.field(), Some("--parent"), "{bad}: {e}");
        }
    }

    #[test]
    fn digests_in_a_recipe_are_the_strings_they_were() {
        let hex = "1e".repeat(32);
        let doc = serde_json::json!({
            "_type": RECIPE_TYPE,
            "imageDigest": format!("sha256:{hex}"),
            "parents": [format!("a/b@sha256:{hex}")],
            "lockFiles": {"uv.lock": format!("sha256:{hex}")},
        });
        let r = Recipe::from_json(doc.to_string().as_bytes()).unwrap();
        assert_eq!(r.image_digest.unwrap().hex(), hex);
        let back = serde_json::to_value(&r).unwrap();
        for k in ["imageDigest", "parents", "lockFiles"] {
            assert_eq!(back[k], doc[k], "{k}");
        }
        // A digest that is not one is refused where the recipe is read.
        let mut bad = doc.clone();
        bad["imageDigest"] = "sha256:zz".into();
        let e = Recipe::from_json(bad.to_string().as_bytes()).unwrap_err();
        assert_eq!(e.field(), Some("recipe.imageDigest"), "{e}");
    }
}

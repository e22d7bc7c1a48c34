//! Capturing a recipe: the flags of `provenant capture` and what they record.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use provenant_digest::{Digest, DigestAlgorithm, HashAlgorithm};
use provenant_provenance::{CiIdentity, Recipe, parse_dataset_ref, parse_digest};
use serde_json::Value;

use crate::ci::detect_ci;
use crate::environment::environment_info;
use crate::error::{CaptureError, Result};
use crate::git::git_source;

/// What `provenant capture` was asked to record.
#[derive(Debug, Clone, Default)]
pub struct CaptureOptions {
    /// The training repository (the current directory).
    pub repo_dir: PathBuf,
    /// `--dataset` values: paths (hashed) or `<uri>@sha256:<hex>`.
    pub datasets: Vec<String>,
    /// `--params` file (JSON or YAML mapping).
    pub params_file: Option<PathBuf>,
    /// `--param k=v` values, applied after the file.
    pub params: Vec<String>,
    pub seeds: Vec<u64>,
    /// `--image-digest` / `PROVENANT_IMAGE_DIGEST`.
    pub image_digest: Option<String>,
    pub allow_dirty: bool,
    pub allowed_signers: Option<PathBuf>,
    pub entrypoint: Option<String>,
    pub arguments: Vec<String>,
    /// `--parent ns/name@sha256:<hex>` (fine-tuned from).
    pub parents: Vec<String>,
    pub lock_files: Vec<PathBuf>,
    pub python_env: Option<PathBuf>,
    /// CI identity given by flags; otherwise detected from the environment.
    pub ci: Option<CiIdentity>,
    /// When the training run started and ended (RFC 3339), and its exit
    /// status: recorded only when given, by whoever ran it (`capture --
    /// COMMAND`); a recipe never claims a training time it did not see.
    pub started_on: Option<String>,
    pub finished_on: Option<String>,
    pub exit_code: Option<i32>,
    /// Skip git (a training run outside any repository).
    pub no_git: bool,
}

/// Parses a `--param` value: JSON scalars and arrays as such (`0.01`,
/// `true`, `[1,2]`), anything else as a string.
fn param_value(s: &str) -> Value {
    serde_json::from_str::<Value>(s)
        .ok()
        .filter(|v| !v.is_object())
        .unwrap_or_else(|| Value::String(s.to_owned()))
}

fn load_params(path: &Path) -> Result<BTreeMap<String, Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| CaptureError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let v: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => serde_norway::from_str(&text).map_err(|e| {
            CaptureError::invalid(
                "--params",
                format!("{}: neither JSON nor YAML: {e}", path.display()),
            )
        })?,
    };
    match v {
        Value::Object(m) => Ok(m.into_iter().collect()),
        _ => Err(CaptureError::invalid(
            "--params",
            format!(
                "{}: expected a mapping of hyperparameter names to values",
                path.display()
            ),
        )),
    }
}

/// Captures a recipe.
///
/// # Errors
/// Bad flags (named), a dirty tree without `allow_dirty`, unreadable
/// datasets, params or environments.
pub fn capture(o: &CaptureOptions) -> Result<Recipe> {
    let mut r = Recipe::new();
    r.started_on = o.started_on.clone();
    r.finished_on = o.finished_on.clone();
    r.exit_code = o.exit_code;
    if !o.no_git {
        r.source = Some(git_source(
            &o.repo_dir,
            o.allow_dirty,
            o.allowed_signers.as_deref(),
        )?);
    }
    for d in &o.datasets {
        r.datasets.push(parse_dataset_ref(d)?);
    }
    if let Some(f) = &o.params_file {
        r.hyperparameters = load_params(f)?;
    }
    for p in &o.params {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| CaptureError::invalid("--param", format!("{p:?} must be key=value")))?;
        if k.is_empty() {
            return Err(CaptureError::invalid(
                "--param",
                format!("{p:?} has an empty key"),
            ));
        }
        r.hyperparameters.insert(k.to_owned(), param_value(v));
    }
    r.seeds = o.seeds.clone();
    if let Some(img) = &o.image_digest {
        r.image_digest = Some(parse_digest("--image-digest", img)?);
    }
    for p in &o.parents {
        r.parents.push(p.parse()?);
    }
    for f in &o.lock_files {
        let d = provenant_digest::digest_path(f, HashAlgorithm::Sha256).map_err(|e| {
            CaptureError::Digest {
                path: f.display().to_string(),
                source: e,
            }
        })?;
        let digest = d
            .resources
            .first()
            .and_then(|r| Digest::from_raw(DigestAlgorithm::Sha256, &r.digest))
            .ok_or_else(|| {
                CaptureError::invalid("--lock-file", format!("{}: nothing to hash", f.display()))
            })?;
        r.lock_files.insert(f.display().to_string(), digest);
    }
    r.entrypoint = o.entrypoint.clone().unwrap_or_default();
    r.arguments = o.arguments.clone();
    r.environment = environment_info(o.python_env.as_deref())?;
    r.ci =
        o.ci.clone()
            .or_else(|| detect_ci(&|k| std::env::var(k).ok()));
    Ok(r)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn params() {
        assert_eq!(param_value("0.01"), serde_json::json!(0.01));
        assert_eq!(param_value("adam"), serde_json::json!("adam"));
        assert_eq!(param_value("[1,2]"), serde_json::json!([1, 2]));
        let d = tempfile::tempdir().unwrap();
        let y = d.path().join("p.yaml");
        std::fs::write(&y, "lr: 0.1\nlayers: [64, 32]\nopt: adam\n").unwrap();
        let m = load_params(&y).unwrap();
        assert_eq!(m["layers"], serde_json::json!([64, 32]));
        std::fs::write(&y, "- 1\n- 2\n").unwrap();
        assert_eq!(load_params(&y).unwrap_err().field(), Some("--params"));
    }
}

//! Recipe capture: git source and commit signature, CI identity, software
//! and hardware environment, parameters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dataset::parse_dataset_ref;
use crate::error::{ProvenanceError, Result};
use crate::recipe::{Environment, Recipe, Source};
use crate::validate::{parse_sha256, valid_commit};

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

/// Detects the CI run from environment variables (GitHub Actions, GitLab CI,
/// Buildkite, Jenkins). `var` reads one variable (`std::env::var` in practice).
pub fn detect_ci(var: &dyn Fn(&str) -> Option<String>) -> Option<CiIdentity> {
    let v = |k: &str| var(k).filter(|s| !s.is_empty());
    if v("GITHUB_ACTIONS").as_deref() == Some("true") {
        let server = v("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
        let repo = v("GITHUB_REPOSITORY").unwrap_or_default();
        let run = v("GITHUB_RUN_ID");
        let attempt = v("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into());
        let builder_id = match v("GITHUB_WORKFLOW_REF") {
            Some(w) => format!("{server}/{w}"),
            None => format!("{server}/{repo}/actions"),
        };
        return Some(CiIdentity {
            system: "github-actions".into(),
            builder_id,
            run_url: run
                .as_ref()
                .map(|r| format!("{server}/{repo}/actions/runs/{r}/attempts/{attempt}")),
            run_id: run.map(|r| format!("{r}-{attempt}")),
            workflow: v("GITHUB_WORKFLOW"),
            actor: v("GITHUB_ACTOR"),
        });
    }
    if v("GITLAB_CI").as_deref() == Some("true") {
        let server = v("CI_SERVER_URL").unwrap_or_else(|| "https://gitlab.com".into());
        let project = v("CI_PROJECT_PATH").unwrap_or_default();
        return Some(CiIdentity {
            system: "gitlab-ci".into(),
            builder_id: format!(
                "{server}/{project}/-/runners/{}",
                v("CI_RUNNER_ID").unwrap_or_default()
            ),
            run_id: v("CI_JOB_ID").or(v("CI_PIPELINE_ID")),
            run_url: v("CI_JOB_URL").or(v("CI_PIPELINE_URL")),
            workflow: v("CI_JOB_NAME"),
            actor: v("GITLAB_USER_LOGIN"),
        });
    }
    if v("BUILDKITE").as_deref() == Some("true") {
        return Some(CiIdentity {
            system: "buildkite".into(),
            builder_id: format!(
                "https://buildkite.com/{}/{}",
                v("BUILDKITE_ORGANIZATION_SLUG").unwrap_or_default(),
                v("BUILDKITE_PIPELINE_SLUG").unwrap_or_default()
            ),
            run_id: v("BUILDKITE_JOB_ID").or(v("BUILDKITE_BUILD_ID")),
            run_url: v("BUILDKITE_BUILD_URL"),
            workflow: v("BUILDKITE_LABEL"),
            actor: v("BUILDKITE_BUILD_CREATOR"),
        });
    }
    if let Some(jenkins) = v("JENKINS_URL") {
        let job = v("JOB_NAME").unwrap_or_default();
        return Some(CiIdentity {
            system: "jenkins".into(),
            builder_id: format!("{}/job/{job}", jenkins.trim_end_matches('/')),
            run_id: v("BUILD_TAG").or(v("BUILD_ID")),
            run_url: v("BUILD_URL"),
            workflow: Some(job).filter(|j| !j.is_empty()),
            actor: v("BUILD_USER_ID"),
        });
    }
    None
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| ProvenanceError::Tool {
            tool: "git".into(),
            reason: format!("cannot run git: {e}"),
        })?;
    if !out.status.success() {
        return Err(ProvenanceError::Tool {
            tool: "git".into(),
            reason: format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
}

/// A URL without user info (`https://user:token@host/x` → `https://host/x`).
fn without_credentials(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if let Some((_, host)) = authority.rsplit_once('@') {
            return format!("{scheme}://{host}/{path}");
        }
    }
    url.to_owned()
}

/// Reads the source of a git working tree: remote URL, commit, ref, dirty
/// state and commit signature. A dirty tree (tracked changes or untracked,
/// not ignored files) is refused unless `allow_dirty`.
///
/// Signatures are checked as `git verify-commit` does: SSH signatures
/// against `allowed_signers` (git's `gpg.ssh.allowedSignersFile`, which runs
/// `ssh-keygen -Y verify`), GPG signatures against the user's keyring.
///
/// # Errors
/// Not a git repository, no commit, a dirty tree, or git missing.
pub fn git_source(dir: &Path, allow_dirty: bool, allowed_signers: Option<&Path>) -> Result<Source> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    let commit = git(dir, &["rev-parse", "HEAD"])?;
    if !valid_commit(&commit) {
        return Err(ProvenanceError::Tool {
            tool: "git".into(),
            reason: format!("HEAD resolves to {commit:?}, not a commit id"),
        });
    }
    let remote = git(dir, &["remote"])
        .ok()
        .and_then(|r| {
            let names: Vec<&str> = r.lines().collect();
            let name = if names.contains(&"origin") {
                "origin"
            } else {
                names.first()?
            };
            git(dir, &["remote", "get-url", name]).ok()
        })
        .map(|u| without_credentials(&u));
    let repository = remote.unwrap_or_else(|| format!("file://{top}"));
    let r#ref = git(dir, &["symbolic-ref", "-q", "--short", "HEAD"])
        .ok()
        .filter(|s| !s.is_empty());
    let status = git(dir, &["status", "--porcelain=v1", "--untracked-files=all"])?;
    let dirty_files: Vec<String> = status
        .lines()
        .filter_map(|l| l.get(3..))
        .map(str::to_owned)
        .collect();
    let dirty = !dirty_files.is_empty();
    if dirty && !allow_dirty {
        let mut files = dirty_files
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if dirty_files.len() > 5 {
            files.push_str(&format!(" and {} more", dirty_files.len() - 5));
        }
        return Err(ProvenanceError::DirtyTree { repo: top, files });
    }
    let signature = commit_signature(dir, &commit, allowed_signers)?;
    Ok(Source {
        repository,
        commit,
        r#ref,
        dirty,
        dirty_files,
        signature,
    })
}

/// Checks the signature of `commit` (see [`git_source`]).
fn commit_signature(
    dir: &Path,
    commit: &str,
    allowed_signers: Option<&Path>,
) -> Result<CommitSignature> {
    let raw = git(dir, &["cat-file", "commit", commit])?;
    let header: String = raw.split("\n\n").next().unwrap_or_default().to_owned();
    let sig_line = header
        .lines()
        .find(|l| l.starts_with("gpgsig ") || l.starts_with("gpgsig-sha256 "));
    let Some(sig_line) = sig_line else {
        return Ok(CommitSignature::unsigned());
    };
    let format = if sig_line.contains("BEGIN SSH SIGNATURE") {
        "ssh"
    } else if sig_line.contains("BEGIN SIGNED MESSAGE") {
        "x509"
    } else {
        "gpg"
    };
    let mut args: Vec<String> = Vec::new();
    if let Some(f) = allowed_signers {
        let abs = std::fs::canonicalize(f).map_err(|e| ProvenanceError::Io {
            path: f.display().to_string(),
            source: e,
        })?;
        args.push("-c".into());
        args.push(format!("gpg.ssh.allowedSignersFile={}", abs.display()));
    }
    args.extend(["log", "-1", "--format=%G?%x00%GS%x00%GF%x00%GK", commit].map(String::from));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = git(dir, &argv).unwrap_or_default();
    let mut parts = out.split('\0');
    let code = parts.next().unwrap_or_default().trim().to_owned();
    let signer = parts
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let fpr = parts
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let keyid = parts
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let status = match code.as_str() {
        "G" => "verified",
        "U" => "untrusted",
        "B" => "bad",
        "X" | "Y" => "expired",
        "R" => "revoked",
        _ => "unverifiable",
    };
    // Without an allowed-signers file git cannot check SSH signatures at all.
    let status = if format == "ssh" && allowed_signers.is_none() {
        "unverifiable"
    } else {
        status
    };
    Ok(CommitSignature {
        status: status.into(),
        format: Some(format.into()),
        signer: if status == "verified" || format == "gpg" {
            signer
        } else {
            None
        },
        key: fpr.or(keyid),
    })
}

fn read_trim(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// ML frameworks singled out from the package list.
const FRAMEWORKS: [&str; 14] = [
    "torch",
    "tensorflow",
    "jax",
    "jaxlib",
    "keras",
    "scikit-learn",
    "xgboost",
    "lightgbm",
    "transformers",
    "onnx",
    "onnxruntime",
    "numpy",
    "pandas",
    "statsmodels",
];

/// OS, CPU, GPUs (through `nvidia-smi` when present) and, given a Python
/// environment (venv, prefix or site-packages), its installed packages read
/// from their metadata files.
///
/// # Errors
/// An unreadable Python environment.
pub fn environment_info(python_env: Option<&Path>) -> Result<Environment> {
    let mut env = Environment {
        os: read_trim("/etc/os-release")
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_owned())
            })
            .unwrap_or_else(|| std::env::consts::OS.to_owned()),
        arch: std::env::consts::ARCH.to_owned(),
        kernel: read_trim("/proc/sys/kernel/osrelease").unwrap_or_default(),
        cpu: read_trim("/proc/cpuinfo")
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_default(),
        cpus: std::thread::available_parallelism()
            .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
            .unwrap_or(0),
        ..Environment::default()
    };
    if let Ok(out) = Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,driver_version,memory.total",
            "--format=csv,noheader",
        ])
        .output()
        && out.status.success()
    {
        env.gpus = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
    }
    if let Some(dir) = python_env {
        let sbom = provenant_sbom::catalog_python_env(dir).map_err(|e| ProvenanceError::Tool {
            tool: "python environment".into(),
            reason: format!("{}: {e}", dir.display()),
        })?;
        for c in sbom.components {
            let Some(version) = c.version else { continue };
            let name = c.name.to_ascii_lowercase().replace('_', "-");
            if FRAMEWORKS.contains(&name.as_str()) {
                env.frameworks.insert(name.clone(), version.clone());
            }
            env.python_packages.insert(name, version);
        }
    }
    Ok(env)
}

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
    let text = std::fs::read_to_string(path).map_err(|e| ProvenanceError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let v: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => serde_norway::from_str(&text).map_err(|e| {
            ProvenanceError::invalid(
                "--params",
                format!("{}: neither JSON nor YAML: {e}", path.display()),
            )
        })?,
    };
    match v {
        Value::Object(m) => Ok(m.into_iter().collect()),
        _ => Err(ProvenanceError::invalid(
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
        let (k, v) = p.split_once('=').ok_or_else(|| {
            ProvenanceError::invalid("--param", format!("{p:?} must be key=value"))
        })?;
        if k.is_empty() {
            return Err(ProvenanceError::invalid(
                "--param",
                format!("{p:?} has an empty key"),
            ));
        }
        r.hyperparameters.insert(k.to_owned(), param_value(v));
    }
    r.seeds = o.seeds.clone();
    if let Some(img) = &o.image_digest {
        parse_sha256("--image-digest", img)?;
        r.image_digest = Some(img.clone());
    }
    for p in &o.parents {
        let ok = p
            .split_once('@')
            .is_some_and(|(name, d)| !name.is_empty() && parse_sha256("--parent", d).is_ok());
        if !ok {
            return Err(ProvenanceError::invalid(
                "--parent",
                format!(
                    "{p:?} must be ns/name@sha256:<64 hex digits> (the parent's manifest digest)"
                ),
            ));
        }
        r.parents.push(p.clone());
    }
    for f in &o.lock_files {
        let d = provenant_digest::digest_path(f, provenant_digest::HashAlgorithm::Sha256).map_err(
            |e| ProvenanceError::Digest {
                path: f.display().to_string(),
                source: e,
            },
        )?;
        let hex = d
            .resources
            .first()
            .map(|r| r.digest_hex())
            .unwrap_or_default();
        r.lock_files
            .insert(f.display().to_string(), format!("sha256:{hex}"));
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

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn ci_systems_are_detected() {
        let gh = detect_ci(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "acme/train"),
            ("GITHUB_RUN_ID", "77"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            (
                "GITHUB_WORKFLOW_REF",
                "acme/train/.github/workflows/t.yml@refs/heads/main",
            ),
            ("GITHUB_ACTOR", "octo"),
        ]))
        .unwrap();
        assert_eq!(gh.system, "github-actions");
        assert_eq!(
            gh.builder_id,
            "https://github.com/acme/train/.github/workflows/t.yml@refs/heads/main"
        );
        assert_eq!(
            gh.run_url.as_deref(),
            Some("https://github.com/acme/train/actions/runs/77/attempts/2")
        );
        let gl = detect_ci(&env(&[
            ("GITLAB_CI", "true"),
            ("CI_JOB_ID", "9"),
            ("CI_JOB_URL", "https://gl/j/9"),
        ]))
        .unwrap();
        assert_eq!(
            (gl.system.as_str(), gl.run_id.as_deref()),
            ("gitlab-ci", Some("9"))
        );
        let bk = detect_ci(&env(&[
            ("BUILDKITE", "true"),
            ("BUILDKITE_BUILD_URL", "https://bk/b/1"),
        ]))
        .unwrap();
        assert_eq!(bk.system, "buildkite");
        let jk = detect_ci(&env(&[
            ("JENKINS_URL", "https://ci.example/"),
            ("JOB_NAME", "train"),
            ("BUILD_TAG", "jenkins-train-3"),
        ]))
        .unwrap();
        assert_eq!(
            (jk.system.as_str(), jk.builder_id.as_str()),
            ("jenkins", "https://ci.example/job/train")
        );
        assert!(detect_ci(&env(&[])).is_none());
    }

    #[test]
    fn params_and_credentials() {
        assert_eq!(param_value("0.01"), serde_json::json!(0.01));
        assert_eq!(param_value("adam"), serde_json::json!("adam"));
        assert_eq!(param_value("[1,2]"), serde_json::json!([1, 2]));
        assert_eq!(
            without_credentials("https://u:tok@git.example/a/b.git"),
            "https://git.example/a/b.git"
        );
        assert_eq!(
            without_credentials("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
        let d = tempfile::tempdir().unwrap();
        let y = d.path().join("p.yaml");
        std::fs::write(&y, "lr: 0.1\nlayers: [64, 32]\nopt: adam\n").unwrap();
        let m = load_params(&y).unwrap();
        assert_eq!(m["layers"], serde_json::json!([64, 32]));
        std::fs::write(&y, "- 1\n- 2\n").unwrap();
        assert_eq!(load_params(&y).unwrap_err().field(), Some("--params"));
    }

    #[test]
    fn environment_reads_a_site_packages_dir() {
        let d = tempfile::tempdir().unwrap();
        let di = d.path().join("torch-2.5.1.dist-info");
        std::fs::create_dir(&di).unwrap();
        std::fs::write(
            di.join("METADATA"),
            "Metadata-Version: 2.1\nName: torch\nVersion: 2.5.1\n",
        )
        .unwrap();
        let e = environment_info(Some(d.path())).unwrap();
        assert_eq!(e.frameworks.get("torch").map(String::as_str), Some("2.5.1"));
        assert!(!e.arch.is_empty());
    }
}

#[cfg(test)]
mod git_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn have(tool: &str) -> bool {
        let ok = Command::new(tool).arg("--version").output().is_ok()
            || Command::new(tool).arg("-?").output().is_ok();
        assert!(
            ok || std::env::var_os("CI").is_none(),
            "CI is set but {tool} is missing"
        );
        ok
    }

    fn run(dir: &Path, cmd: &str, args: &[&str]) {
        let out = Command::new(cmd)
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cmd} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn git_source_dirty_tree_and_ssh_commit_signatures() {
        if !have("git") || !have("ssh-keygen") {
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let repo = d.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        run(&repo, "git", &["init", "-q", "-b", "main"]);
        run(&repo, "git", &["config", "user.email", "alice@example.com"]);
        run(&repo, "git", &["config", "user.name", "Alice"]);
        run(
            &repo,
            "git",
            &[
                "remote",
                "add",
                "origin",
                "https://bot:secret@git.example/aiops/train.git",
            ],
        );
        std::fs::write(repo.join("train.py"), "print('hi')\n").unwrap();
        run(&repo, "git", &["add", "train.py"]);
        run(&repo, "git", &["commit", "-q", "-m", "unsigned"]);
        let s = git_source(&repo, false, None).unwrap();
        assert_eq!(
            s.repository, "https://git.example/aiops/train.git",
            "credentials are dropped"
        );
        assert_eq!(s.signature, CommitSignature::unsigned());
        assert_eq!(s.r#ref.as_deref(), Some("main"));
        assert!(valid_commit(&s.commit));

        // Dirty: refused, or recorded with --allow-dirty.
        std::fs::write(repo.join("train.py"), "print('changed')\n").unwrap();
        let e = git_source(&repo, false, None).unwrap_err();
        assert!(matches!(e, ProvenanceError::DirtyTree { .. }), "{e}");
        assert!(e.to_string().contains("train.py"), "{e}");
        let s = git_source(&repo, true, None).unwrap();
        assert!(s.dirty && s.dirty_files == ["train.py"]);

        // SSH-signed commit: verified against the allowed signers, untrusted otherwise.
        run(
            d.path(),
            "ssh-keygen",
            &[
                "-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f", "alice",
            ],
        );
        run(
            d.path(),
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-C", "bob", "-f", "bob"],
        );
        run(&repo, "git", &["config", "gpg.format", "ssh"]);
        let key = d.path().join("alice.pub");
        run(
            &repo,
            "git",
            &["config", "user.signingkey", key.to_str().unwrap()],
        );
        run(&repo, "git", &["commit", "-q", "-S", "-a", "-m", "signed"]);
        let pubkey = std::fs::read_to_string(&key).unwrap();
        let allowed = d.path().join("allowed_signers");
        std::fs::write(
            &allowed,
            format!("alice@example.com namespaces=\"git\" {pubkey}"),
        )
        .unwrap();
        let s = git_source(&repo, false, Some(&allowed)).unwrap();
        assert_eq!(s.signature.status, "verified", "{:?}", s.signature);
        assert_eq!(s.signature.signer.as_deref(), Some("alice@example.com"));
        assert_eq!(s.signature.format.as_deref(), Some("ssh"));
        assert!(s.signature.key.as_deref().unwrap().starts_with("SHA256:"));
        let bob = std::fs::read_to_string(d.path().join("bob.pub")).unwrap();
        std::fs::write(&allowed, format!("bob@example.com {bob}")).unwrap();
        let s = git_source(&repo, false, Some(&allowed)).unwrap();
        assert_eq!(s.signature.status, "untrusted");
        assert_eq!(s.signature.signer, None);
        let s = git_source(&repo, false, None).unwrap();
        assert_eq!(s.signature.status, "unverifiable");
        // Not a repository.
        let e = git_source(d.path(), false, None).unwrap_err();
        assert!(matches!(e, ProvenanceError::Tool { .. }), "{e}");
    }

    #[test]
    fn gpg_signed_commits_are_checked_against_the_keyring() {
        if !have("git") || !have("gpg") {
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let home = d.path().join("gnupg");
        std::fs::create_dir(&home).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let params = d.path().join("params");
        std::fs::write(
            &params,
            "%no-protection\nKey-Type: EDDSA\nKey-Curve: ed25519\nName-Real: Bob Builder\nName-Email: bob@example.com\nExpire-Date: 0\n%commit\n",
        )
        .unwrap();
        let out = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--quiet", "--gen-key"])
            .arg(&params)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--list-secret-keys", "--with-colons"])
            .output()
            .unwrap();
        let fpr = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_owned())
            })
            .unwrap();
        // git runs gpg through gpg.program: a wrapper pointing at this keyring.
        let wrapper = d.path().join("gpg-wrapper");
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nGNUPGHOME={} exec gpg \"$@\"\n", home.display()),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let repo = d.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        run(&repo, "git", &["init", "-q"]);
        run(&repo, "git", &["config", "user.email", "bob@example.com"]);
        run(&repo, "git", &["config", "user.name", "Bob Builder"]);
        run(&repo, "git", &["config", "user.signingkey", &fpr]);
        run(
            &repo,
            "git",
            &["config", "gpg.program", wrapper.to_str().unwrap()],
        );
        std::fs::write(repo.join("train.py"), "x\n").unwrap();
        run(&repo, "git", &["add", "train.py"]);
        run(&repo, "git", &["commit", "-q", "-S", "-m", "signed"]);
        let s = git_source(&repo, false, None).unwrap();
        assert_eq!(s.signature.status, "verified", "{:?}", s.signature);
        assert_eq!(s.signature.format.as_deref(), Some("gpg"));
        assert_eq!(
            s.signature.signer.as_deref(),
            Some("Bob Builder <bob@example.com>")
        );
        assert_eq!(s.signature.key.as_deref(), Some(fpr.as_str()));
        // Without the key in the keyring the signature cannot be checked.
        let empty = d.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nGNUPGHOME={} exec gpg \"$@\"\n", empty.display()),
        )
        .unwrap();
        let s = git_source(&repo, false, None).unwrap();
        assert_ne!(s.signature.status, "verified", "{:?}", s.signature);
        assert_eq!(s.signature.format.as_deref(), Some("gpg"));
    }
}

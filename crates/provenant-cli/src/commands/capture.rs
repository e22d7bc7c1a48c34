use std::path::PathBuf;

use anyhow::Context as _;
use provenant_provenance::{CaptureOptions, CiIdentity, ProvenanceError};

use crate::GlobalArgs;
use crate::commands::oms::Refused;

/// Record what a training run used, as a recipe (JSON): datasets with
/// digests, source repository and commit (refusing a dirty tree unless
/// --allow-dirty) with its signature status, hyperparameters, seeds,
/// container image, Python packages, OS/CPU/GPU and the CI run. Run it inside
/// the training repository; the training command may follow `--`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Training dataset: a local path (hashed) or <uri>@sha256:<hex> (repeatable)
    #[arg(long = "dataset", value_name = "PATH|URI@sha256:HEX")]
    pub datasets: Vec<String>,
    /// Hyperparameter key=value; values parse as JSON scalars or arrays, else strings (repeatable)
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Hyperparameters from a JSON or YAML mapping (--param entries override)
    #[arg(long = "params", value_name = "FILE")]
    pub params_file: Option<PathBuf>,
    /// Random seed (repeatable)
    #[arg(long = "seed", value_name = "N")]
    pub seeds: Vec<u64>,
    /// Container image digest the training ran in
    #[arg(long, env = "PROVENANT_IMAGE_DIGEST", value_name = "sha256:HEX")]
    pub image_digest: Option<String>,
    /// Accept uncommitted changes (recorded as dirty, with the files)
    #[arg(long)]
    pub allow_dirty: bool,
    /// Allowed signers file (git's gpg.ssh.allowedSignersFile format) to verify SSH commit signatures
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<PathBuf>,
    /// Where to write the recipe [default: stdout]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Training entrypoint [default: the first word of the command after --]
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Version fine-tuned from, ns/name@sha256:<manifest digest> (repeatable)
    #[arg(long = "parent", value_name = "REF")]
    pub parents: Vec<String>,
    /// Lock file to record with its digest (repeatable)
    #[arg(long = "lock-file", value_name = "FILE")]
    pub lock_files: Vec<PathBuf>,
    /// Python environment (venv, prefix or site-packages) whose packages to record
    #[arg(long, env = "VIRTUAL_ENV", value_name = "DIR")]
    pub python_env: Option<PathBuf>,
    /// Training repository [default: current directory]
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// CI system, when not detected from the environment (e.g. argo)
    #[arg(long, value_name = "NAME", requires = "builder_id")]
    pub ci_system: Option<String>,
    /// SLSA builder id with --ci-system
    #[arg(long, value_name = "URI", requires = "ci_system")]
    pub builder_id: Option<String>,
    /// CI run id with --ci-system
    #[arg(long, requires = "ci_system")]
    pub ci_run_id: Option<String>,
    /// CI run URL with --ci-system
    #[arg(long, requires = "ci_system")]
    pub ci_run_url: Option<String>,
    /// The training command and its arguments
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Map capture errors: a dirty tree is a refusal (exit 1), the rest errors (exit 2).
fn map_err(e: ProvenanceError) -> anyhow::Error {
    match e {
        ProvenanceError::DirtyTree { .. } => Refused(e.to_string()).into(),
        other => other.into(),
    }
}

pub async fn run(_g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || {
        let repo_dir = match &a.repo {
            Some(r) => r.clone(),
            None => std::env::current_dir().context("current directory")?,
        };
        let mut command = a.command.clone();
        let entrypoint = a.entrypoint.clone().or_else(|| {
            (!command.is_empty()).then(|| command.remove(0))
        });
        let ci = a.ci_system.as_ref().map(|system| CiIdentity {
            system: system.clone(),
            builder_id: a.builder_id.clone().unwrap_or_default(),
            run_id: a.ci_run_id.clone(),
            run_url: a.ci_run_url.clone(),
            workflow: None,
            actor: None,
        });
        let opts = CaptureOptions {
            repo_dir,
            datasets: a.datasets.clone(),
            params_file: a.params_file.clone(),
            params: a.params.clone(),
            seeds: a.seeds.clone(),
            image_digest: a.image_digest.clone(),
            allow_dirty: a.allow_dirty,
            allowed_signers: a.allowed_signers.clone(),
            entrypoint,
            arguments: command,
            parents: a.parents.clone(),
            lock_files: a.lock_files.clone(),
            python_env: a.python_env.clone(),
            ci,
            started_on: None,
            no_git: false,
        };
        let recipe = provenant_provenance::capture(&opts).map_err(map_err)?;
        let text = serde_json::to_string_pretty(&recipe)? + "\n";
        match &a.out {
            Some(p) => {
                std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?;
                let src = recipe.source.as_ref();
                eprintln!(
                    "recipe written to {}: {} dataset(s), commit {} (signature: {}{}), {} hyperparameter(s)",
                    p.display(),
                    recipe.datasets.len(),
                    src.map_or("-", |s| s.commit.as_str()),
                    src.map_or("-", |s| s.signature.status.as_str()),
                    src.and_then(|s| s.signature.signer.as_deref())
                        .map(|w| format!(" by {w}"))
                        .unwrap_or_default(),
                    recipe.hyperparameters.len()
                );
            }
            None => print!("{text}"),
        }
        Ok(())
    })
    .await?
}

use std::path::PathBuf;

use anyhow::Context as _;
use provenant_capture::{CaptureError, CaptureOptions};
use provenant_provenance::CiIdentity;

use crate::GlobalArgs;
use crate::commands::oms::Refused;

/// Record what a training run used, as a recipe (JSON): datasets with
/// digests, source repository and commit (refusing a dirty tree unless
/// --allow-dirty) with its signature status, hyperparameters, seeds,
/// container image, Python packages, OS/CPU/GPU and the CI run. Run it inside
/// the training repository. A training command after `--` is run (after the
/// inputs are recorded): its real start, end and exit status go in the
/// recipe, and a command that fails writes no recipe (capture exits with its
/// status). Without one, nothing claims a training time.
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
    /// Version fine-tuned from: any reference (ns/name:3, ns/name#production,
    /// a digest prefix…), pinned to its manifest digest through the registry
    /// (repeatable)
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
    /// The training command and its arguments, run by capture
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// The training command failed: no recipe is written, and capture exits with
/// the command's status.
#[derive(Debug, thiserror::Error)]
#[error("{command} {how}; no recipe written")]
pub struct CommandFailed {
    pub command: String,
    how: String,
    /// The command's exit status (128 + signal when a signal ended it).
    pub exit_code: u8,
}

/// A parent as the recipe records it: `ns/name@sha256:<64 hex>` as given,
/// any other reference resolved through the registry and pinned to its digest.
async fn pin_parent(g: &GlobalArgs, parent: &str) -> anyhow::Result<String> {
    if let Some((name, digest)) = parent.split_once('@')
        && !name.is_empty()
        && digest.parse::<provenant_digest::Digest>().is_ok()
    {
        return Ok(parent.to_owned());
    }
    let v = super::resolve(&g.client()?, parent)
        .await
        .with_context(|| format!("--parent {parent}"))?;
    let pinned = format!("{}@{}", v.model, v.digest);
    eprintln!("--parent {parent} is {} ({pinned})", v.reference);
    Ok(pinned)
}

fn now_rfc3339() -> anyhow::Result<String> {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .context("formatting the time")
}

/// Runs the training command; returns its start and end times. Its output
/// goes to stderr when the recipe goes to stdout.
fn run_training(command: &[String], stdout_is_recipe: bool) -> anyhow::Result<(String, String)> {
    let (program, args) = command.split_first().context("no command after --")?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    // The training code gets no registry credential: it has no business
    // pushing or changing anything as the person who runs capture.
    cmd.env_remove("PROVENANT_TOKEN");
    #[cfg(unix)]
    if stdout_is_recipe {
        use std::os::fd::AsFd as _;
        let err = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .context("duplicating stderr for the training command's output")?;
        cmd.stdout(std::process::Stdio::from(err));
    }
    let shown = command.join(" ");
    let started = now_rfc3339()?;
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    let finished = now_rfc3339()?;
    if !status.success() {
        let (how, exit_code) = match status.code() {
            Some(c) => (
                format!("exited with status {c}"),
                u8::try_from(c).unwrap_or(1),
            ),
            None => {
                #[cfg(unix)]
                let sig = std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0);
                #[cfg(not(unix))]
                let sig = 0;
                (
                    format!("was ended by signal {sig}"),
                    u8::try_from(128 + sig).unwrap_or(1),
                )
            }
        };
        return Err(CommandFailed {
            command: shown,
            how,
            exit_code: exit_code.max(1),
        }
        .into());
    }
    Ok((started, finished))
}

/// Map capture errors: a dirty tree is a refusal (exit 1), the rest errors (exit 2).
fn map_err(e: CaptureError) -> anyhow::Error {
    match e {
        CaptureError::DirtyTree { .. } => Refused(e.to_string()).into(),
        other => other.into(),
    }
}

pub async fn run(g: &GlobalArgs, a: Args) -> anyhow::Result<()> {
    let mut parents = Vec::with_capacity(a.parents.len());
    for p in &a.parents {
        parents.push(pin_parent(g, p).await?);
    }
    tokio::task::spawn_blocking(move || {
        let repo_dir = match &a.repo {
            Some(r) => r.clone(),
            None => std::env::current_dir().context("current directory")?,
        };
        let run_command = !a.command.is_empty();
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
            parents,
            lock_files: a.lock_files.clone(),
            python_env: a.python_env.clone(),
            ci,
            started_on: None,
            finished_on: None,
            exit_code: None,
            no_git: false,
        };
        // The inputs are recorded before the run (the commit it starts from,
        // the datasets as it finds them); the run's times come from the run.
        let mut recipe = provenant_capture::capture(&opts).map_err(map_err)?;
        if run_command {
            let (started, finished) = run_training(&a.command, a.out.is_none())?;
            recipe.started_on = Some(started);
            recipe.finished_on = Some(finished);
            recipe.exit_code = Some(0);
        }
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

//! `provenant policy`: developer tools for Rego policy sets, without a
//! server: run their unit tests, evaluate an input, check that they compile.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use provenant_policy::{
    DataSource, Decision, ModuleSource, PolicyConfig, PolicySet, read_data_file, read_modules,
};

use crate::GlobalArgs;

/// Policy sets (Rego v1, OPA compatible): test, evaluate, check.
///
/// Exit codes: 0 pass/allow, 1 failed tests/deny/compile errors, 2 usage or I/O error.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the Rego unit tests (`test_*` rules in every module, `*_test.rego`
    /// included) as `opa test` does: a test passes when it is defined and true
    Test(TestArgs),
    /// Decide on an input document: prints the decision as JSON (exit 0 allow, 1 deny)
    Eval(EvalArgs),
    /// Compile every module (tests included) and report each error with file and line
    Check(CheckArgs),
    /// Print the input document the server's gate sees for a version (JSON)
    Input(super::gate::InputArgs),
}

/// `policy test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Policy directory (searched recursively for .rego files)
    pub dir: PathBuf,
    /// Data file (JSON, or YAML by .yaml/.yml), merged at the root of `data`; repeatable
    #[arg(long = "data", value_name = "FILE")]
    pub data: Vec<PathBuf>,
    /// List every test, not only failures
    #[arg(short, long)]
    pub verbose: bool,
    /// Time limit of each test, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub timeout_ms: u64,
}

/// `policy eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Policy directory (searched recursively; *_test.rego files are left out)
    pub dir: PathBuf,
    /// The input document (policy input v1, JSON); `-` reads stdin
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Data file (JSON, or YAML by .yaml/.yml), merged at the root of `data`; repeatable
    #[arg(long = "data", value_name = "FILE")]
    pub data: Vec<PathBuf>,
    /// Override a policy's mode: PACKAGE=enforce|warn|dry-run; repeatable
    #[arg(long = "mode", value_name = "PKG=MODE")]
    pub modes: Vec<String>,
    /// The time the decision is made at (RFC 3339), for exception expiry [default: now]
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Print the raw `data.provenant` document (decision rules only) instead of the decision
    #[arg(long)]
    pub raw: bool,
    /// Evaluation time limit, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 250)]
    pub timeout_ms: u64,
}

/// `policy check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Policy directory (searched recursively for .rego files)
    pub dir: PathBuf,
}

/// A policy command's negative result: tests failed, the decision is deny,
/// or modules do not compile. Exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PolicyFailed(pub String);

pub async fn run(g: &GlobalArgs, c: Command) -> anyhow::Result<()> {
    // Reading and compiling is blocking work; `input` asks the server.
    let local: Box<dyn FnOnce() -> anyhow::Result<()> + Send> = match c {
        Command::Input(a) => return super::gate::input(g, a).await,
        Command::Test(a) => Box::new(move || test(a)),
        Command::Eval(a) => Box::new(move || eval(a)),
        Command::Check(a) => Box::new(move || check(a)),
    };
    tokio::task::spawn_blocking(local).await?
}

fn modules(dir: &Path) -> anyhow::Result<Vec<ModuleSource>> {
    if !dir.is_dir() {
        anyhow::bail!("{} is not a directory", dir.display());
    }
    Ok(read_modules(dir)?)
}

fn data(files: &[PathBuf]) -> anyhow::Result<Vec<DataSource>> {
    Ok(files
        .iter()
        .map(|p| read_data_file(p))
        .collect::<Result<_, _>>()?)
}

fn test(a: TestArgs) -> anyhow::Result<()> {
    let modules = modules(&a.dir)?;
    let report = provenant_policy::run_tests(
        &modules,
        &data(&a.data)?,
        std::time::Duration::from_millis(a.timeout_ms),
    )
    .map_err(|e| PolicyFailed(format!("the policies do not compile: {e}")))?;
    crate::output::stdout(format_args!("{}", report.render(a.verbose)));
    if report.success() {
        Ok(())
    } else {
        Err(PolicyFailed(format!(
            "{} of {} tests failed",
            report.failed() + report.errored(),
            report.results.len()
        ))
        .into())
    }
}

fn eval(a: EvalArgs) -> anyhow::Result<()> {
    let input_text = if a.input.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the input from stdin")?
    } else {
        std::fs::read_to_string(&a.input)
            .with_context(|| format!("reading {}", a.input.display()))?
    };
    let input: serde_json::Value = serde_json::from_str(&input_text)
        .with_context(|| format!("{} is not valid JSON", a.input.display()))?;
    let now = match &a.now {
        Some(t) => time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .with_context(|| format!("--now {t:?} is not an RFC 3339 time"))?,
        None => time::OffsetDateTime::now_utc(),
    };
    let config = PolicyConfig {
        dir: a.dir.clone(),
        data_files: a.data.clone(),
        modes: provenant_policy::parse_mode_overrides(&a.modes)?,
        time_limit: std::time::Duration::from_millis(a.timeout_ms),
    };
    if !a.dir.is_dir() {
        anyhow::bail!("{} is not a directory", a.dir.display());
    }
    let set = PolicySet::load(&config)?;
    if a.raw {
        let raw = set.raw(&input)?;
        return crate::output::json(&raw);
    }
    let decision: Decision = set.evaluate(&input, now);
    crate::output::json(&decision)?;
    if decision.allowed {
        Ok(())
    } else {
        Err(PolicyFailed(format!(
            "denied: {}",
            decision
                .deny
                .iter()
                .map(|r| format!("{}: {}", r.policy, r.message))
                .collect::<Vec<_>>()
                .join("; ")
        ))
        .into())
    }
}

fn check(a: CheckArgs) -> anyhow::Result<()> {
    let modules = modules(&a.dir)?;
    let errors = provenant_policy::check(&modules);
    if errors.is_empty() {
        eprintln!("{} modules compile", modules.len());
        return Ok(());
    }
    for e in &errors {
        crate::output::stdout(format_args!("{}\n", e));
    }
    Err(PolicyFailed(format!("{} errors", errors.len())).into())
}

//! Shared pieces of the OMS commands (`digest`, `sign`, `verify`): hashing
//! options, ignore paths, and progress on a terminal.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use provenant_digest::{HashOptions, Serialization};

/// A signature or verification the library refused (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Map a library error: I/O problems stay errors (exit 2), everything else is a refusal (exit 1).
pub fn refuse(e: provenant_attest::AttestError) -> anyhow::Error {
    use provenant_attest::AttestError;
    use provenant_digest::DigestError;
    match &e {
        AttestError::Io { .. } | AttestError::Digest(DigestError::Io { .. }) => {
            anyhow::Error::new(e)
        }
        _ => Refused(e.to_string()).into(),
    }
}

/// Hashing options shared by `digest` and `sign`.
#[derive(Debug, clap::Args)]
pub struct HashArgs {
    /// Hash algorithm for the resources
    #[arg(long = "hash", default_value = "sha256", value_parser = hash_algorithm())]
    pub hash: provenant_digest::HashAlgorithm,
    /// Hash shards of this many bytes instead of whole files (OMS shard mode, e.g. 1000000000)
    #[arg(long)]
    pub shard_size: Option<u64>,
    /// Paths to leave out (relative to the model, or to the working directory when inside the model)
    #[arg(long = "ignore-paths", num_args = 1.., value_name = "PATH")]
    pub ignore_paths: Vec<String>,
    /// Also hash top-level git files (.git, .gitattributes, .github, .gitignore)
    #[arg(long)]
    pub no_ignore_git_paths: bool,
    /// Follow symlinks that stay inside the model (never outside)
    #[arg(long)]
    pub allow_symlinks: bool,
    /// Hashing threads [default: all cores]
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Model-relative ignore path: like model_signing, a path is taken relative to
/// the working directory when that lands inside the model; otherwise a
/// relative path is taken as model-relative.
pub fn resolve_ignore(model: &Path, p: &str) -> Option<String> {
    let root = std::fs::canonicalize(model).ok()?;
    if let Ok(abs) = std::fs::canonicalize(p)
        && let Ok(rel) = abs.strip_prefix(&root)
    {
        let s: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        return (!s.is_empty()).then(|| s.join("/"));
    }
    let p = p.trim_start_matches("./").trim_end_matches('/');
    (!Path::new(p).is_absolute() && !p.is_empty()).then(|| p.to_owned())
}

pub fn resolve_ignores(model: &Path, paths: &[String]) -> Vec<String> {
    paths
        .iter()
        .filter_map(|p| resolve_ignore(model, p))
        .collect()
}

/// `--hash`: one of the algorithms `model_signing` names, as an enum (clap
/// lists the accepted spellings and refuses any other, naming the flag).
fn hash_algorithm() -> impl clap::builder::TypedValueParser<Value = provenant_digest::HashAlgorithm>
{
    use clap::builder::TypedValueParser as _;
    const NAMES: [(&str, provenant_digest::HashAlgorithm); 3] = [
        ("sha256", provenant_digest::HashAlgorithm::Sha256),
        ("blake2b", provenant_digest::HashAlgorithm::Blake2b),
        ("blake3", provenant_digest::HashAlgorithm::Blake3),
    ];
    clap::builder::PossibleValuesParser::new(NAMES.map(|(n, _)| n)).map(|s| {
        NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map_or(provenant_digest::HashAlgorithm::Sha256, |(_, a)| *a)
    })
}

impl HashArgs {
    pub fn options(&self, model: &Path) -> anyhow::Result<HashOptions> {
        let algorithm = self.hash;
        let serialization = match self.shard_size {
            Some(0) => anyhow::bail!("--shard-size must be positive"),
            Some(shard_size) => Serialization::Shards { shard_size },
            None => Serialization::Files,
        };
        Ok(HashOptions {
            algorithm,
            serialization,
            threads: self.threads,
            ignore_git_paths: !self.no_ignore_git_paths,
            allow_symlinks: self.allow_symlinks,
            ignore_paths: resolve_ignores(model, &self.ignore_paths),
            ..HashOptions::default()
        })
    }
}

/// Show bytes hashed and the rate on stderr while `f` runs, if stderr is a terminal.
pub fn with_progress<T>(counter: &Arc<AtomicU64>, f: impl FnOnce() -> T) -> T {
    if !std::io::stderr().is_terminal() {
        return f();
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let start = Instant::now();
            let mut shown = false;
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let t = start.elapsed().as_secs_f64();
                if t > 1.0 {
                    let b = counter.load(Ordering::Relaxed) as f64;
                    eprint!(
                        "\rhashed {:.1} MiB at {:.0} MiB/s   ",
                        b / 1_048_576.0,
                        b / 1_048_576.0 / t
                    );
                    shown = true;
                }
            }
            if shown {
                eprintln!();
            }
        });
        let r = f();
        done.store(true, Ordering::Relaxed);
        r
    })
}

/// Read PEM certificates from files.
pub fn certificates(paths: &[PathBuf]) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for p in paths {
        let bytes =
            std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?;
        out.extend(provenant_attest::load_pem_certificates(&bytes).map_err(refuse)?);
    }
    Ok(out)
}

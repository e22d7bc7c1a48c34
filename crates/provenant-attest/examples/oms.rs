//! Command-line front for interop tests and benchmarks, with the interface
//! issue 3 gives the `provenant` CLI. A thin wrapper over the library.
//!
//! ```text
//! oms keygen [--type ecdsa-p256|ecdsa-p384|ed25519] --out key.pem
//! oms sign <model> --key key.pem [--password-env VAR] [--certificate cert.pem --certificate-chain chain.pem]
//!          [--signature path] [--ignore-paths p]... [--no-ignore-git-paths] [--allow-symlinks]
//!          [--shard-size N] [--hash sha256|blake2b|blake3] [--threads N]
//! oms verify <model> (--key key.pub | --certificate-chain roots.pem) [--signature path]
//!          [--ignore-unsigned-files] [--ignore-paths p]... [--allow-symlinks] [--threads N]
//! oms digest <model> [--hash h] [--shard-size N] [--no-ignore-git-paths] [--resources]
//! ```
//! Exit codes: 0 success, 1 verification or signing refused, 2 usage or I/O error.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use provenant_attest::{
    AttestError, KeyAlgorithm, PrivateKey, PublicKey, SignOptions, TrustRoot, VerifyOptions,
    load_pem_certificates, sign_model, verify_model,
};
use provenant_digest::{DEFAULT_SHARD_SIZE, DigestError, HashOptions, Serialization, hash_model};

struct Args {
    positional: Vec<String>,
    flags: Vec<(String, Option<String>)>,
}

const BOOL_FLAGS: [&str; 5] = [
    "--ignore-unsigned-files",
    "--no-ignore-git-paths",
    "--allow-symlinks",
    "--resources",
    "--help",
];

impl Args {
    fn parse(raw: &[String]) -> Result<Self, String> {
        let mut positional = Vec::new();
        let mut flags = Vec::new();
        let mut it = raw.iter();
        while let Some(a) = it.next() {
            if let Some(stripped) = a.strip_prefix("--") {
                let (name, inline) = match stripped.split_once('=') {
                    Some((n, v)) => (format!("--{n}"), Some(v.to_owned())),
                    None => (a.clone(), None),
                };
                if BOOL_FLAGS.contains(&name.as_str()) {
                    flags.push((name, None));
                } else {
                    let v = match inline {
                        Some(v) => v,
                        None => it
                            .next()
                            .ok_or_else(|| format!("{name} needs a value"))?
                            .clone(),
                    };
                    flags.push((name, Some(v)));
                }
            } else {
                positional.push(a.clone());
            }
        }
        Ok(Self { positional, flags })
    }
    fn one(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }
    fn all(&self, name: &str) -> Vec<&str> {
        self.flags
            .iter()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    }
    fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }
    fn check(&self, allowed: &[&str]) -> Result<(), String> {
        for (n, _) in &self.flags {
            if !allowed.contains(&n.as_str()) {
                return Err(format!("unknown option {n}"));
            }
        }
        Ok(())
    }
    fn model(&self) -> Result<PathBuf, String> {
        match self.positional.as_slice() {
            [m] => Ok(PathBuf::from(m)),
            _ => Err("expected exactly one model path".into()),
        }
    }
}

enum Failure {
    Usage(String),
    Refused(String),
    Io(String),
}

impl From<AttestError> for Failure {
    fn from(e: AttestError) -> Self {
        match &e {
            AttestError::Io { .. } | AttestError::Digest(DigestError::Io { .. }) => {
                Self::Io(e.to_string())
            }
            _ => Self::Refused(e.to_string()),
        }
    }
}

impl From<DigestError> for Failure {
    fn from(e: DigestError) -> Self {
        AttestError::from(e).into()
    }
}

/// Model-relative ignore path: like model_signing, a path is taken relative to
/// the working directory when that lands inside the model; otherwise a
/// relative path is taken as model-relative.
fn resolve_ignore(model: &Path, p: &str) -> Option<String> {
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

fn hash_options(a: &Args, model: &Path) -> Result<HashOptions, Failure> {
    let mut o = HashOptions::default();
    if let Some(h) = a.one("--hash") {
        o.algorithm = h
            .parse()
            .map_err(|e: DigestError| Failure::Usage(e.to_string()))?;
    }
    if let Some(s) = a.one("--shard-size") {
        let shard_size: u64 = s
            .parse()
            .map_err(|_| Failure::Usage(format!("--shard-size: not a number: {s}")))?;
        o.serialization = Serialization::Shards { shard_size };
    }
    if let Some(t) = a.one("--threads") {
        o.threads = Some(
            t.parse()
                .map_err(|_| Failure::Usage(format!("--threads: not a number: {t}")))?,
        );
    }
    o.ignore_git_paths = !a.has("--no-ignore-git-paths");
    o.allow_symlinks = a.has("--allow-symlinks");
    o.ignore_paths = a
        .all("--ignore-paths")
        .into_iter()
        .filter_map(|p| resolve_ignore(model, p))
        .collect();
    Ok(o)
}

/// Prints bytes hashed and rate on stderr while `f` runs, if stderr is a TTY.
fn with_progress<T>(counter: &Arc<AtomicU64>, f: impl FnOnce() -> T) -> T {
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
                        b / 1048576.0,
                        b / 1048576.0 / t
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

fn password(a: &Args) -> Result<Option<Vec<u8>>, Failure> {
    a.one("--password-env")
        .map(|var| {
            std::env::var(var)
                .map(String::into_bytes)
                .map_err(|_| Failure::Usage(format!("--password-env: variable {var} is not set")))
        })
        .transpose()
}

fn run(cmd: &str, a: &Args) -> Result<(), Failure> {
    match cmd {
        "keygen" => {
            a.check(&["--type", "--out"]).map_err(Failure::Usage)?;
            let alg: KeyAlgorithm = a
                .one("--type")
                .unwrap_or("ecdsa-p256")
                .parse()
                .map_err(|e: AttestError| Failure::Usage(e.to_string()))?;
            let out = a
                .one("--out")
                .ok_or_else(|| Failure::Usage("--out is required".into()))?;
            let key = PrivateKey::generate(alg)?;
            let pub_path = key.write_pem_files(Path::new(out))?;
            println!("{out}\n{}", pub_path.display());
            Ok(())
        }
        "sign" => {
            a.check(&[
                "--key",
                "--password-env",
                "--certificate",
                "--certificate-chain",
                "--signature",
                "--ignore-paths",
                "--no-ignore-git-paths",
                "--allow-symlinks",
                "--shard-size",
                "--hash",
                "--threads",
            ])
            .map_err(Failure::Usage)?;
            let model = a.model().map_err(Failure::Usage)?;
            let key_path = a
                .one("--key")
                .ok_or_else(|| Failure::Usage("--key is required".into()))?;
            let key = PrivateKey::from_pem_file(Path::new(key_path), password(a)?.as_deref())?;
            let mut chain = Vec::new();
            if let Some(cert) = a.one("--certificate") {
                let read = |p: &str| std::fs::read(p).map_err(|e| Failure::Io(format!("{p}: {e}")));
                chain.extend(load_pem_certificates(&read(cert)?)?);
                for c in a.all("--certificate-chain") {
                    chain.extend(load_pem_certificates(&read(c)?)?);
                }
            } else if a.has("--certificate-chain") {
                return Err(Failure::Usage(
                    "--certificate-chain needs --certificate".into(),
                ));
            }
            let counter = Arc::new(AtomicU64::new(0));
            let mut hashing = hash_options(a, &model)?;
            hashing.progress = Some(counter.clone());
            let opts = SignOptions {
                hashing,
                signature_path: a.one("--signature").map(PathBuf::from),
                certificate_chain: chain,
            };
            let signed = with_progress(&counter, || sign_model(&model, &key, &opts))?;
            eprintln!(
                "signed {} resources, root digest sha256:{} -> {}",
                signed.digest.resources.len(),
                signed.digest.root_digest_hex(),
                signed.bundle_path.display()
            );
            Ok(())
        }
        "verify" => {
            a.check(&[
                "--key",
                "--certificate-chain",
                "--signature",
                "--ignore-unsigned-files",
                "--ignore-paths",
                "--allow-symlinks",
                "--threads",
            ])
            .map_err(Failure::Usage)?;
            let model = a.model().map_err(Failure::Usage)?;
            let trust = match (a.one("--key"), a.all("--certificate-chain")) {
                (Some(k), c) if c.is_empty() => {
                    TrustRoot::PublicKey(PublicKey::from_pem_file(Path::new(k))?)
                }
                (None, c) if !c.is_empty() => {
                    let mut roots = Vec::new();
                    for p in c {
                        let bytes =
                            std::fs::read(p).map_err(|e| Failure::Io(format!("{p}: {e}")))?;
                        roots.extend(load_pem_certificates(&bytes)?);
                    }
                    TrustRoot::Certificates(roots)
                }
                _ => {
                    return Err(Failure::Usage(
                        "give either --key or --certificate-chain".into(),
                    ));
                }
            };
            let counter = Arc::new(AtomicU64::new(0));
            let mut opts = VerifyOptions::new(trust);
            opts.signature_path = a.one("--signature").map(PathBuf::from);
            opts.ignore_unsigned_files = a.has("--ignore-unsigned-files");
            opts.allow_symlinks = a.has("--allow-symlinks");
            opts.ignore_paths = a
                .all("--ignore-paths")
                .into_iter()
                .filter_map(|p| resolve_ignore(&model, p))
                .collect();
            opts.progress = Some(counter.clone());
            if let Some(t) = a.one("--threads") {
                opts.threads = Some(
                    t.parse()
                        .map_err(|_| Failure::Usage(format!("--threads: not a number: {t}")))?,
                );
            }
            // A missing or unreadable signature is a failed verification (fail closed).
            let v = with_progress(&counter, || verify_model(&model, &opts))
                .map_err(|e| Failure::Refused(e.to_string()))?;
            println!(
                "verified: {} resources signed by {}",
                v.manifest.resources.len(),
                v.identity
            );
            Ok(())
        }
        "digest" => {
            a.check(&[
                "--hash",
                "--shard-size",
                "--no-ignore-git-paths",
                "--ignore-paths",
                "--allow-symlinks",
                "--resources",
                "--threads",
            ])
            .map_err(Failure::Usage)?;
            let model = a.model().map_err(Failure::Usage)?;
            let counter = Arc::new(AtomicU64::new(0));
            let mut o = hash_options(a, &model)?;
            o.progress = Some(counter.clone());
            let d = with_progress(&counter, || hash_model(&model, &o))?;
            if a.has("--resources") {
                for r in &d.resources {
                    println!("{} {} {}", r.algorithm, r.digest_hex(), r.name);
                }
            }
            println!("sha256:{}", d.root_digest_hex());
            Ok(())
        }
        _ => Err(Failure::Usage(format!(
            "unknown command {cmd:?} (keygen, sign, verify, digest)"
        ))),
    }
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = raw.split_first() else {
        eprintln!(
            "usage: oms keygen|sign|verify|digest … (see the source header); default shard size {DEFAULT_SHARD_SIZE}"
        );
        return ExitCode::from(2);
    };
    let result = Args::parse(rest)
        .map_err(Failure::Usage)
        .and_then(|a| run(cmd, &a));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(m) | Failure::Io(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
    }
}

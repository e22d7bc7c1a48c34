//! Walking a model directory and hashing its files in parallel.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, bail};
use provenant_digest::Digest;
use sha2::Digest as _;

/// A downloaded or local file that does not match its recorded digest.
#[derive(Debug, thiserror::Error)]
#[error("verification failed for {path}: {reason}")]
pub struct VerifyFailure {
    pub path: String,
    pub reason: String,
}

/// A file of a local model.
#[derive(Debug, Clone)]
pub struct LocalFile {
    /// Path relative to the model root, `/`-separated.
    pub rel: String,
    pub abs: PathBuf,
    pub size: u64,
}

/// A file of a local model with the SHA-256 of its content.
#[derive(Debug, Clone)]
pub struct HashedFile {
    pub file: LocalFile,
    pub digest: Digest,
}

/// The OMS root digest of hashed files: what `provenant digest` prints for
/// them and what an attestation about them names as its subject.
pub fn oms_root(files: &[HashedFile]) -> anyhow::Result<Digest> {
    Ok(provenant_registry::oms_root_digest(
        files.iter().map(|f| (f.file.rel.as_str(), &f.digest)),
    )?)
}

const BUF: usize = 1 << 20;

/// SHA-256 of a file, streaming in 1 MiB reads.
pub fn hash_file(path: &Path, progress: &dyn Fn(u64)) -> std::io::Result<Digest> {
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; BUF];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        progress(n as u64);
    }
    Ok(Digest::from_sha256_bytes(h.finalize().into()))
}

/// The walking rules of `push`, the same as the signature it makes covers:
/// OMS's (top-level git files left out, in-tree file symlinks followed at the
/// link's path, symlinked directories not descended, links out of the model
/// refused), with the signature file `model.sig` left out too.
pub fn push_options() -> provenant_digest::HashOptions {
    provenant_digest::HashOptions {
        ignore_paths: vec![provenant_attest::DEFAULT_SIGNATURE_NAME.to_owned()],
        allow_symlinks: true,
        ..provenant_digest::HashOptions::default()
    }
}

/// List the regular files of a model (a directory, or a single file named by
/// its file name) with the one walker hashing and signing use, under
/// [`push_options`]. Sockets, devices and FIFOs are refused, naming them.
pub fn collect(root: &Path) -> anyhow::Result<Vec<LocalFile>> {
    let listed = provenant_digest::list_model_files(root, &push_options())
        .map_err(|e| anyhow::anyhow!("cannot push {}: {e}", root.display()))?;
    let single_name = || {
        root.file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .with_context(|| format!("{} has no UTF-8 file name", root.display()))
    };
    let out = listed
        .into_iter()
        .map(|f| {
            Ok(LocalFile {
                rel: if f.rel == "." { single_name()? } else { f.rel },
                abs: f.abs,
                size: f.size,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if out.is_empty() {
        bail!("{} holds no files", root.display());
    }
    Ok(out)
}

/// Hash every file in parallel (one worker per core), reporting bytes as they
/// are read and each file as soon as its digest is known (so that uploads can
/// start while other files are still being hashed).
pub fn hash_all_with(
    files: Vec<LocalFile>,
    progress: &(dyn Fn(u64) + Sync),
    done: &(dyn Fn(&HashedFile) + Sync),
) -> anyhow::Result<Vec<HashedFile>> {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(files.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<std::io::Result<Digest>>>> =
        files.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = files.get(i) else { break };
                    let r = hash_file(&f.abs, progress);
                    if let Ok(d) = &r {
                        done(&HashedFile {
                            file: f.clone(),
                            digest: *d,
                        });
                    }
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    files
        .into_iter()
        .zip(results)
        .map(|(file, r)| {
            let r = r
                .into_inner()
                .ok()
                .flatten()
                .context("hash worker failed")?;
            let digest = r.with_context(|| format!("cannot read {}", file.abs.display()))?;
            Ok(HashedFile { file, digest })
        })
        .collect()
}

/// [`hash_all_with`] without the per-file callback.
#[cfg(test)]
pub fn hash_all(
    files: Vec<LocalFile>,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<Vec<HashedFile>> {
    hash_all_with(files, progress, &|_| {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_nested_and_refuses_escaping_symlinks() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/b")).unwrap();
        std::fs::write(d.path().join("a/b/w.bin"), b"w").unwrap();
        std::fs::write(d.path().join("a-c"), b"").unwrap();
        std::fs::create_dir_all(d.path().join(".git")).unwrap();
        std::fs::write(d.path().join(".git/HEAD"), b"x").unwrap();
        std::fs::write(d.path().join(".gitignore"), b"*.tmp").unwrap();
        std::fs::write(d.path().join("model.sig"), b"{}").unwrap();
        // Below the top level, git paths are model files (as OMS hashes them).
        std::fs::write(d.path().join("a/.gitignore"), b"x").unwrap();
        let files = collect(d.path()).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(names, ["a-c", "a/.gitignore", "a/b/w.bin"]);
        // Exactly what a signature of the directory covers.
        let signed = provenant_digest::hash_model(d.path(), &push_options()).unwrap();
        let mut resources: Vec<String> = signed
            .resources
            .iter()
            .map(|r| r.name.to_string())
            .collect();
        // (OMS orders by path component, `a/…` before `a-c`.)
        resources.sort();
        assert_eq!(resources, names);
        let hashed = hash_all(files, &|_| {}).unwrap();
        assert_eq!(
            hashed[0].digest.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );

        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outside.path().join("secret"), d.path().join("link"))
                .unwrap();
            let err = collect(d.path()).unwrap_err().to_string();
            assert!(err.contains("link: symbolic link points outside"), "{err}");
        }
    }

    #[test]
    fn a_single_file_is_named_by_its_file_name() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("model.onnx");
        std::fs::write(&f, b"onnx").unwrap();
        let files = collect(&f).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].rel, "model.onnx");
        assert_eq!(files[0].size, 4);
        let empty = tempfile::tempdir().unwrap();
        let err = collect(empty.path()).unwrap_err().to_string();
        assert!(err.contains("holds no files"), "{err}");
    }
}

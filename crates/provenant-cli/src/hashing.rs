//! Walking a model directory and hashing its files in parallel.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, bail};
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
    pub digest: String,
}

const BUF: usize = 1 << 20;

/// SHA-256 of a file as `sha256:<hex>`, streaming in 1 MiB reads.
pub fn hash_file(path: &Path, progress: &dyn Fn(u64)) -> std::io::Result<String> {
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
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

/// List the regular files of a model: a directory (recursively; `.git`
/// directories skipped) or a single file. Symlinks are followed only when they
/// resolve to a file inside the model directory; one that leaves the tree is
/// an error naming it.
pub fn collect(root: &Path) -> anyhow::Result<Vec<LocalFile>> {
    let meta =
        std::fs::metadata(root).with_context(|| format!("cannot read {}", root.display()))?;
    if meta.is_file() {
        let name = root
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{} has no UTF-8 file name", root.display()))?;
        return Ok(vec![LocalFile {
            rel: name.to_owned(),
            abs: root.to_path_buf(),
            size: meta.len(),
            digest: String::new(),
        }]);
    }
    let canonical_root = root
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", root.display()))?;
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
            let name = entry.file_name();
            let name = name.to_str().with_context(|| {
                format!(
                    "file name {:?} in {} is not UTF-8",
                    entry.file_name(),
                    dir.display()
                )
            })?;
            let rel = if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}/{name}")
            };
            let path = entry.path();
            let ft = entry
                .file_type()
                .with_context(|| format!("cannot stat {}", path.display()))?;
            if prefix.is_empty() && name == "model.sig" {
                // An OMS signature is an attachment of the version, not one of its files.
                continue;
            }
            if ft.is_symlink() {
                let target = path
                    .canonicalize()
                    .with_context(|| format!("symlink {rel} is dangling"))?;
                if !target.starts_with(&canonical_root) {
                    bail!(
                        "symlink {rel} points outside the model directory (to {})",
                        target.display()
                    );
                }
                let tmeta = std::fs::metadata(&target)?;
                if !tmeta.is_file() {
                    bail!(
                        "symlink {rel} points to a directory; only file symlinks inside the model are followed"
                    );
                }
                out.push(LocalFile {
                    rel,
                    abs: path,
                    size: tmeta.len(),
                    digest: String::new(),
                });
            } else if ft.is_dir() {
                if name != ".git" {
                    stack.push((path, rel));
                }
            } else if ft.is_file() {
                let size = entry.metadata()?.len();
                out.push(LocalFile {
                    rel,
                    abs: path,
                    size,
                    digest: String::new(),
                });
            } else {
                bail!("{rel} is not a regular file (sockets, devices and FIFOs cannot be pushed)");
            }
        }
    }
    if out.is_empty() {
        bail!("{} holds no files", root.display());
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// Hash every file in parallel (one worker per core), reporting bytes as they
/// are read and each file as soon as its digest is known (so that uploads can
/// start while other files are still being hashed).
pub fn hash_all_with(
    files: &mut [LocalFile],
    progress: &(dyn Fn(u64) + Sync),
    done: &(dyn Fn(&LocalFile) + Sync),
) -> anyhow::Result<()> {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(files.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<std::io::Result<String>>>> =
        files.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = files.get(i) else { break };
                    let r = hash_file(&f.abs, progress);
                    if let Ok(d) = &r {
                        done(&LocalFile {
                            digest: d.clone(),
                            ..f.clone()
                        });
                    }
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    for (f, r) in files.iter_mut().zip(results) {
        let r = r
            .into_inner()
            .ok()
            .flatten()
            .context("hash worker failed")?;
        f.digest = r.with_context(|| format!("cannot read {}", f.abs.display()))?;
    }
    Ok(())
}

/// [`hash_all_with`] without the per-file callback.
#[cfg(test)]
pub fn hash_all(files: &mut [LocalFile], progress: &(dyn Fn(u64) + Sync)) -> anyhow::Result<()> {
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
        let mut files = collect(d.path()).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(names, ["a-c", "a/b/w.bin"]);
        hash_all(&mut files, &|_| {}).unwrap();
        assert_eq!(
            files[0].digest,
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );

        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outside.path().join("secret"), d.path().join("link"))
                .unwrap();
            let err = collect(d.path()).unwrap_err().to_string();
            assert!(err.contains("symlink link points outside"), "{err}");
        }
    }
}

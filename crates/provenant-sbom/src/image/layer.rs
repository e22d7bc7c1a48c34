//! Streaming one layer blob (plain tar, gzip or zstd): hash it, bound it and keep only the
//! files the catalogers read, with symbolic links, hard links and whiteouts.

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use provenant_digest::Digest;
use sha2::{Digest as _, Sha256};

use super::ImageLimits;
use super::archive::{BlobStore, LayerRef};
use super::tar_guard::TarGuard;
use super::vfs::Node;
use super::zstd::ZstdStream;
use crate::error::{Result, SbomError};

/// What one layer contributes.
pub(super) struct LayerScan {
    /// Opaque directories (`dir/.wh..wh..opq`).
    pub(super) opaque: Vec<String>,
    /// Whited-out paths (`dir/.wh.name` → `dir/name`).
    pub(super) whiteouts: Vec<String>,
    /// Entries in archive order.
    pub(super) entries: Vec<(String, Node)>,
    /// SHA-256 of the (compressed) blob and of the uncompressed tar (the diff id).
    pub(super) blob_digest: Digest,
    pub(super) diff_digest: Digest,
    /// Size of the (compressed) blob.
    pub(super) compressed_bytes: u64,
}

/// Is this path one of the files the catalogers read?
fn wanted(path: &str) -> bool {
    if matches!(
        path,
        "var/lib/dpkg/status"
            | "lib/apk/db/installed"
            | "usr/lib/apk/db/installed"
            | "etc/os-release"
            | "usr/lib/os-release"
    ) {
        return true;
    }
    if let Some(rest) = path.strip_prefix("var/lib/dpkg/status.d/") {
        return !rest.contains('/') && !rest.ends_with(".md5sums");
    }
    if let Some(rest) = path.strip_prefix("usr/share/doc/") {
        return rest.split_once('/').is_some_and(|(_, f)| f == "copyright");
    }
    python_file(path).is_some()
}

/// For Python metadata files: (site dir, dist dir, file name).
pub(super) fn python_file(path: &str) -> Option<(&str, &str, &str)> {
    let (parent, file) = path.rsplit_once('/')?;
    let in_site = |dir: &str| dir.ends_with("/site-packages") || dir.ends_with("/dist-packages");
    if file.ends_with(".egg-info") && in_site(parent) {
        return Some((parent, path, ""));
    }
    let (site, dist) = parent.rsplit_once('/')?;
    if !in_site(site) {
        return None;
    }
    let ok = (dist.ends_with(".dist-info")
        && matches!(file, "METADATA" | "RECORD" | "direct_url.json"))
        || (dist.ends_with(".egg-info") && matches!(file, "PKG-INFO" | "requires.txt"));
    ok.then_some((site, parent, file))
}

/// Normalise a tar member name: strip `./`, refuse absolute paths and `..`.
pub(super) fn normalize_entry(raw: &[u8], archive: &str) -> Result<String> {
    let s = String::from_utf8_lossy(raw);
    let unsafe_path = |reason| SbomError::UnsafePath {
        archive: archive.into(),
        entry: s.to_string(),
        reason,
    };
    if s.starts_with('/') {
        return Err(unsafe_path("absolute path"));
    }
    if s.contains('\0') {
        return Err(unsafe_path("NUL byte in name"));
    }
    let mut parts = Vec::new();
    for c in s.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(unsafe_path("parent directory component")),
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// The compressed side: counts and hashes the blob as the decoder pulls it.
struct BlobTap {
    inner: Box<dyn Read + Send>,
    hasher: std::sync::Arc<Mutex<Sha256>>,
    count: std::sync::Arc<AtomicU64>,
}

impl Read for BlobTap {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher
            .lock()
            .map_err(|_| io::Error::other("poisoned hasher"))?
            .update(&buf[..n]);
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The uncompressed side: hashes (diff id), counts and enforces the decompression bounds
/// and, through [`TarGuard`], the size of tar extension headers.
struct Bounded<'a> {
    inner: Box<dyn Read + Send>,
    hasher: Sha256,
    count: u64,
    compressed: &'a AtomicU64,
    total: &'a AtomicU64,
    limits: &'a ImageLimits,
    guard: TarGuard,
}

impl Read for Bounded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.guard.feed(&buf[..n])?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        let done = self.count;
        let total = self.total.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        let compressed = self.compressed.load(Ordering::Relaxed).max(1);
        let bomb = |what: &'static str, limit: u64| io::Error::other(LimitHit { what, limit });
        if done > self.limits.max_layer_bytes {
            return Err(bomb("decompressed layer size", self.limits.max_layer_bytes));
        }
        if total > self.limits.max_total_bytes {
            return Err(bomb("decompressed image size", self.limits.max_total_bytes));
        }
        if done > self.limits.ratio_after_bytes && done / compressed > self.limits.max_ratio {
            return Err(bomb("decompression ratio", self.limits.max_ratio));
        }
        Ok(n)
    }
}

#[derive(Debug)]
pub(super) struct LimitHit {
    pub(super) what: &'static str,
    pub(super) limit: u64,
}
impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} exceeds {}", self.what, self.limit)
    }
}
impl std::error::Error for LimitHit {}

pub(super) fn scan_layer(
    reader: Box<dyn Read + Send>,
    name: &str,
    limits: &ImageLimits,
    total: &AtomicU64,
    kept: &AtomicU64,
    extra: &BTreeSet<String>,
) -> Result<LayerScan> {
    let wanted = |p: &str| wanted(p) || extra.contains(p);
    let blob_hasher = std::sync::Arc::new(Mutex::new(Sha256::new()));
    let blob_count = std::sync::Arc::new(AtomicU64::new(0));
    let mut tap = BlobTap {
        inner: reader,
        hasher: blob_hasher.clone(),
        count: blob_count.clone(),
    };
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = tap
            .read(&mut magic[got..])
            .map_err(|e| SbomError::io(name, e))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let src: Box<dyn Read + Send> = Box::new(io::Cursor::new(magic[..got].to_vec()).chain(tap));
    let decoded: Box<dyn Read + Send> = if got >= 2 && magic[..2] == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(src))
    } else if got == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
        Box::new(
            ZstdStream::new(src)
                .map_err(|e| SbomError::parse(name, 0, format!("bad zstd stream: {e}")))?,
        )
    } else {
        src
    };
    let bounded = Bounded {
        inner: decoded,
        hasher: Sha256::new(),
        count: 0,
        compressed: &blob_count,
        total,
        limits,
        guard: TarGuard::new(limits.max_extension_header_bytes),
    };
    let mut ar = tar::Archive::new(bounded);
    let mut opaque = Vec::new();
    let mut whiteouts = Vec::new();
    let mut nodes = Vec::new();
    let map_err = |e: io::Error| -> SbomError {
        if let Some(hit) = e.get_ref().and_then(|r| r.downcast_ref::<LimitHit>()) {
            return SbomError::LimitExceeded {
                archive: name.into(),
                what: hit.what,
                limit: hit.limit,
            };
        }
        SbomError::parse(name, 0, format!("malformed or truncated layer: {e}"))
    };
    let keep = |n: u64| -> Result<()> {
        if kept.fetch_add(n, Ordering::Relaxed) + n > limits.max_kept_bytes {
            return Err(SbomError::LimitExceeded {
                archive: name.into(),
                what: "metadata kept in memory",
                limit: limits.max_kept_bytes,
            });
        }
        Ok(())
    };
    {
        let entries = ar.entries().map_err(map_err)?;
        let mut count = 0u64;
        for e in entries {
            let mut e = e.map_err(map_err)?;
            count += 1;
            if count > limits.max_entries {
                return Err(SbomError::LimitExceeded {
                    archive: name.into(),
                    what: "layer entry count",
                    limit: limits.max_entries,
                });
            }
            let path = normalize_entry(&e.path_bytes(), name)?;
            if path.is_empty() {
                continue;
            }
            let (dir, base) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
            if base == ".wh..wh..opq" {
                keep(dir.len() as u64)?;
                opaque.push(dir.to_string());
                continue;
            }
            if let Some(target) = base.strip_prefix(".wh.") {
                if target.is_empty() || target == "." || target == ".." {
                    return Err(SbomError::UnsafePath {
                        archive: name.into(),
                        entry: path.clone(),
                        reason: "malformed whiteout",
                    });
                }
                keep(path.len() as u64)?;
                whiteouts.push(if dir.is_empty() {
                    target.to_string()
                } else {
                    format!("{dir}/{target}")
                });
                continue;
            }
            let ty = e.header().entry_type();
            if ty.is_symlink() {
                let target =
                    String::from_utf8_lossy(&e.link_name_bytes().unwrap_or_default()).to_string();
                keep(target.len() as u64 + path.len() as u64)?;
                nodes.push((path, Node::Symlink(target)));
            } else if ty.is_hard_link() {
                if wanted(&path) {
                    let target = normalize_entry(&e.link_name_bytes().unwrap_or_default(), name)?;
                    keep(target.len() as u64 + path.len() as u64)?;
                    nodes.push((path, Node::HardLink(target)));
                }
            } else if (ty.is_file() || ty == tar::EntryType::Continuous) && wanted(&path) {
                let size = e.size();
                if size > limits.max_file_bytes {
                    return Err(SbomError::LimitExceeded {
                        archive: format!("{name}!/{path}"),
                        what: "file size",
                        limit: limits.max_file_bytes,
                    });
                }
                keep(size + path.len() as u64)?;
                let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                e.read_to_end(&mut buf).map_err(map_err)?;
                nodes.push((path, Node::File(std::sync::Arc::new(buf))));
            }
            // Everything else (unwanted files, devices, fifos): the tar reader skips the data.
        }
    }
    // Read to the end so that the digests cover the whole blob.
    let mut bounded = ar.into_inner();
    io::copy(&mut bounded, &mut io::sink()).map_err(map_err)?;
    let diff_digest = Digest::from_sha256_bytes(bounded.hasher.finalize_reset().into());
    drop(bounded);
    let h = blob_hasher
        .lock()
        .map_err(|_| SbomError::parse(name, 0, "internal: poisoned hasher"))?
        .clone();
    Ok(LayerScan {
        opaque,
        whiteouts,
        entries: nodes,
        blob_digest: Digest::from_sha256_bytes(h.finalize().into()),
        diff_digest,
        compressed_bytes: blob_count.load(Ordering::Relaxed),
    })
}

pub(super) fn scan_layers(
    store: &BlobStore,
    label: &str,
    layers: &[LayerRef],
    limits: &ImageLimits,
    extra: &BTreeSet<String>,
) -> Result<Vec<LayerScan>> {
    let threads = if limits.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        limits.threads
    }
    .clamp(1, layers.len().max(1));
    let next = AtomicUsize::new(0);
    let total = AtomicU64::new(0);
    let kept = AtomicU64::new(0);
    let results: Mutex<Vec<Option<Result<LayerScan>>>> =
        Mutex::new((0..layers.len()).map(|_| None).collect());
    let failed = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= layers.len() || failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let name = format!("{label}!/{}", layers[i].member);
                    let r = store
                        .open(&layers[i].member)
                        .and_then(|(rd, _)| scan_layer(rd, &name, limits, &total, &kept, extra));
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    if let Ok(mut g) = results.lock() {
                        g[i] = Some(r);
                    }
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| SbomError::parse(label, 0, "internal: layer worker panicked"))?;
    let mut out = Vec::with_capacity(layers.len());
    // Report the first failing layer in layer order.
    for r in results {
        match r {
            Some(r) => out.push(r?),
            None => {
                return Err(SbomError::parse(label, 0, "internal: layer not scanned"));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names() {
        assert_eq!(normalize_entry(b"./usr//lib/x", "t").unwrap(), "usr/lib/x");
        assert!(matches!(
            normalize_entry(b"../etc/passwd", "t"),
            Err(SbomError::UnsafePath { .. })
        ));
        assert!(matches!(
            normalize_entry(b"a/../../b", "t"),
            Err(SbomError::UnsafePath { .. })
        ));
        assert!(matches!(
            normalize_entry(b"/etc/passwd", "t"),
            Err(SbomError::UnsafePath { .. })
        ));
    }

    #[test]
    fn wanted_paths() {
        assert!(wanted("var/lib/dpkg/status"));
        assert!(wanted(
            "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA"
        ));
        assert!(wanted("usr/local/lib/python3.11/site-packages/x.egg-info"));
        assert!(!wanted(
            "usr/local/lib/python3.11/site-packages/setuptools/_vendor/packaging-24.0.dist-info/METADATA"
        ));
        assert!(wanted("usr/share/doc/bash/copyright"));
        assert!(!wanted("usr/share/doc/bash/changelog.gz"));
    }
}

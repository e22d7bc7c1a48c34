//! Container images: OCI image layouts (<https://github.com/opencontainers/image-spec/blob/main/image-layout.md>)
//! and `docker save` archives. Layers are streamed (plain tar, gzip or zstd), never unpacked to
//! disk: each layer keeps only the files we catalog (package databases, Python metadata,
//! Debian copyright files, os-release) and its symlinks and whiteouts; the layers are then
//! applied in order (<https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts>)
//! to a small virtual file system that the OS and Python catalogers read.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Result, SbomError};
use crate::model::{Component, ComponentKind, Hash, HashAlg, Sbom};
use crate::os_pkgs;
use crate::purl::Purl;
use crate::python::{PythonDist, catalog_dists};
use crate::util::hex;

/// Bounds that make a hostile image an error instead of an outage.
#[derive(Debug, Clone)]
pub struct ImageLimits {
    /// Decompressed bytes of one layer.
    pub max_layer_bytes: u64,
    /// Decompressed bytes of all layers together.
    pub max_total_bytes: u64,
    /// Decompressed / compressed ratio, checked once a layer has produced `ratio_after_bytes`.
    pub max_ratio: u64,
    /// Decompressed bytes after which the ratio is checked (small layers compress well legitimately).
    pub ratio_after_bytes: u64,
    /// Tar entries in one layer.
    pub max_entries: u64,
    /// Number of layers.
    pub max_layers: usize,
    /// Size of one file kept in memory (a dpkg status database, a RECORD).
    pub max_file_bytes: u64,
    /// Total bytes kept in memory over all layers: kept files, the paths of kept entries,
    /// symlink targets, and the whiteout and opaque-directory lists.
    pub max_kept_bytes: u64,
    /// Size of one tar extension header (a GNU long name or long link, a PAX record set):
    /// the tar reader holds each one whole in memory, so a longer one is refused before it
    /// is read.
    pub max_extension_header_bytes: u64,
    /// Size of a JSON document (index, manifest, config).
    pub max_json_bytes: u64,
    /// Layers decoded in parallel (0 = number of CPUs).
    pub threads: usize,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_layer_bytes: 32 << 30,
            max_total_bytes: 128 << 30,
            max_ratio: 1000,
            ratio_after_bytes: 64 << 20,
            max_entries: 2_000_000,
            max_layers: 512,
            max_file_bytes: 64 << 20,
            max_kept_bytes: 256 << 20,
            max_extension_header_bytes: 1 << 20,
            max_json_bytes: 16 << 20,
            threads: 0,
        }
    }
}

/// Catalog an image: an OCI layout directory, an OCI layout tarball or a `docker save` archive.
pub fn catalog_image(path: &Path) -> Result<Sbom> {
    catalog_image_with(path, &ImageLimits::default())
}

/// [`catalog_image`] with explicit limits.
pub fn catalog_image_with(path: &Path, limits: &ImageLimits) -> Result<Sbom> {
    let store = if path.is_dir() {
        BlobStore::Dir(path.to_path_buf())
    } else {
        BlobStore::index_tar(path)?
    };
    let label = path.display().to_string();
    let images = store.images(&label, limits)?;
    if images.is_empty() {
        return Err(SbomError::parse(&label, 0, "no image manifests found"));
    }
    let mut sbom = Sbom::default();
    for img in images {
        sbom.merge(catalog_one(&store, &label, &img, limits)?);
    }
    Ok(sbom)
}

// ------------------------------------------------------------------ blob access

enum BlobStore {
    Dir(PathBuf),
    /// An uncompressed tar archive: member name → (data offset, size).
    Tar {
        path: PathBuf,
        members: BTreeMap<String, (u64, u64)>,
    },
}

impl BlobStore {
    fn index_tar(path: &Path) -> Result<Self> {
        let mut f = File::open(path).map_err(|e| SbomError::io(path, e))?;
        let mut magic = [0u8; 4];
        let n = f.read(&mut magic).map_err(|e| SbomError::io(path, e))?;
        if n >= 2 && magic[..2] == [0x1f, 0x8b] || n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
            return Err(SbomError::Unsupported {
                file: path.display().to_string(),
                what:
                    "compressed image archive: decompress it first (docker save writes plain tar)"
                        .into(),
            });
        }
        f.seek(SeekFrom::Start(0))
            .map_err(|e| SbomError::io(path, e))?;
        let mut ar = tar::Archive::new(f);
        let mut members = BTreeMap::new();
        let label = path.display().to_string();
        let entries = ar.entries_with_seek().map_err(|e| SbomError::io(path, e))?;
        for (i, e) in entries.enumerate() {
            if i > 1_000_000 {
                return Err(SbomError::LimitExceeded {
                    archive: label,
                    what: "archive entries",
                    limit: 1_000_000,
                });
            }
            let e =
                e.map_err(|e| SbomError::parse(&label, 0, format!("malformed tar archive: {e}")))?;
            if e.header().entry_type().is_file() {
                let name = normalize_entry(&e.path_bytes(), &label)?;
                members.insert(name, (e.raw_file_position(), e.size()));
            }
        }
        Ok(Self::Tar {
            path: path.to_path_buf(),
            members,
        })
    }

    fn exists(&self, name: &str) -> bool {
        match self {
            // Whatever it is: `open` refuses what is not a regular file, naming it.
            Self::Dir(d) => std::fs::symlink_metadata(d.join(name)).is_ok(),
            Self::Tar { members, .. } => members.contains_key(name),
        }
    }

    fn open(&self, name: &str) -> Result<(Box<dyn Read + Send>, u64)> {
        match self {
            Self::Dir(d) => {
                // Member names may come from an untrusted manifest.json: stay inside the directory.
                let rel = normalize_entry(name.as_bytes(), &d.display().to_string())?;
                let (f, len) = open_in_dir(d, &rel)?;
                Ok((Box::new(f), len))
            }
            Self::Tar { path, members } => {
                let &(off, size) = members.get(name).ok_or_else(|| SbomError::Parse {
                    file: path.display().to_string(),
                    line: 0,
                    message: format!("archive has no member {name:?}"),
                })?;
                let mut f = File::open(path).map_err(|e| SbomError::io(path, e))?;
                f.seek(SeekFrom::Start(off))
                    .map_err(|e| SbomError::io(path, e))?;
                Ok((Box::new(f.take(size)), size))
            }
        }
    }

    fn read_json<T: for<'de> Deserialize<'de>>(
        &self,
        name: &str,
        label: &str,
        limits: &ImageLimits,
    ) -> Result<(T, Vec<u8>)> {
        let (r, len) = self.open(name)?;
        if len > limits.max_json_bytes {
            return Err(SbomError::LimitExceeded {
                archive: format!("{label}!/{name}"),
                what: "JSON document size",
                limit: limits.max_json_bytes,
            });
        }
        let mut bytes = Vec::new();
        r.take(limits.max_json_bytes)
            .read_to_end(&mut bytes)
            .map_err(|e| SbomError::io(format!("{label}!/{name}"), e))?;
        let v = serde_json::from_slice(&bytes)
            .map_err(|e| SbomError::parse(format!("{label}!/{name}"), e.line(), e.to_string()))?;
        Ok((v, bytes))
    }

    fn blob_name(digest: &str, label: &str) -> Result<String> {
        let (alg, hexd) = digest
            .split_once(':')
            .ok_or_else(|| SbomError::parse(label, 0, format!("malformed digest {digest:?}")))?;
        let ok = matches!(alg, "sha256" | "sha512")
            && !hexd.is_empty()
            && hexd
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if !ok {
            return Err(SbomError::parse(
                label,
                0,
                format!("unsupported or malformed digest {digest:?}"),
            ));
        }
        Ok(format!("blobs/{alg}/{hexd}"))
    }

    /// The images in this store: OCI `index.json` (preferred) or docker `manifest.json`.
    fn images(&self, label: &str, limits: &ImageLimits) -> Result<Vec<ImageRef>> {
        if self.exists("index.json") {
            let (index, _) = self.read_json::<OciIndex>("index.json", label, limits)?;
            let mut out = Vec::new();
            for d in index.manifests {
                // docker save puts the full name in the containerd annotation and only the
                // tag in the OCI one.
                let name = d
                    .annotations
                    .get("io.containerd.image.name")
                    .or_else(|| d.annotations.get("org.opencontainers.image.ref.name"))
                    .cloned();
                if let Some(m) = self.resolve_manifest(&d, label, limits, 0)? {
                    out.push(ImageRef {
                        name,
                        manifest_digest: Some(m.0),
                        config: m.1,
                        layers: m.2,
                        repo_tags: Vec::new(),
                    });
                }
            }
            return Ok(out);
        }
        if self.exists("manifest.json") {
            let (ms, _) = self.read_json::<Vec<DockerManifest>>("manifest.json", label, limits)?;
            return Ok(ms
                .into_iter()
                .map(|m| ImageRef {
                    name: m.repo_tags.first().cloned(),
                    manifest_digest: None,
                    config: LayerRef {
                        member: m.config,
                        digest: None,
                        size: None,
                    },
                    layers: m
                        .layers
                        .into_iter()
                        .map(|l| LayerRef {
                            member: l,
                            digest: None,
                            size: None,
                        })
                        .collect(),
                    repo_tags: m.repo_tags,
                })
                .collect());
        }
        Err(SbomError::parse(
            label,
            0,
            "neither index.json (OCI layout) nor manifest.json (docker archive) found",
        ))
    }

    /// Follow a descriptor to an image manifest (through nested indexes, picking linux/amd64
    /// or the first platform). Returns (manifest digest, config, layers).
    fn resolve_manifest(
        &self,
        d: &Descriptor,
        label: &str,
        limits: &ImageLimits,
        depth: usize,
    ) -> Result<Option<(String, LayerRef, Vec<LayerRef>)>> {
        if depth > 4 {
            return Err(SbomError::parse(label, 0, "image indexes nested too deep"));
        }
        let name = Self::blob_name(&d.digest, label)?;
        let (v, bytes) = self.read_json::<serde_json::Value>(&name, label, limits)?;
        verify_digest(&bytes, &d.digest, &format!("{label}!/{name}"))?;
        let mt = v
            .get("mediaType")
            .and_then(|m| m.as_str())
            .unwrap_or(d.media_type.as_str());
        if mt.contains("index") || mt.contains("manifest.list") || v.get("manifests").is_some() {
            let idx: OciIndex = serde_json::from_value(v)
                .map_err(|e| SbomError::parse(format!("{label}!/{name}"), 0, e.to_string()))?;
            let pick = idx
                .manifests
                .iter()
                .find(|m| {
                    m.platform
                        .as_ref()
                        .is_some_and(|p| p.os == "linux" && p.architecture == host_arch())
                })
                .or_else(|| {
                    idx.manifests
                        .iter()
                        .find(|m| m.platform.as_ref().is_none_or(|p| p.os != "unknown"))
                });
            return match pick {
                Some(m) => self.resolve_manifest(m, label, limits, depth + 1),
                None => Ok(None),
            };
        }
        let m: OciManifest = serde_json::from_value(v)
            .map_err(|e| SbomError::parse(format!("{label}!/{name}"), 0, e.to_string()))?;
        let to_ref = |d: &Descriptor| -> Result<LayerRef> {
            Ok(LayerRef {
                member: Self::blob_name(&d.digest, label)?,
                digest: Some(d.digest.clone()),
                size: Some(d.size),
            })
        };
        let config = to_ref(&m.config)?;
        let layers = m.layers.iter().map(to_ref).collect::<Result<Vec<_>>>()?;
        Ok(Some((d.digest.clone(), config, layers)))
    }
}

/// Opens `rel` (a normalised member name) inside the image directory `root` only if no
/// component of it is a symbolic link and it is a regular file: an image directory from
/// elsewhere must not make us read outside it, block on a FIFO or stream a device. The
/// file opened must be the one inspected (same device and inode), so a swap in between is
/// refused too. (`root` itself is the caller's choice and may be a link.)
fn open_in_dir(root: &Path, rel: &str) -> Result<(File, u64)> {
    let refuse = |reason| SbomError::UnsafePath {
        archive: root.display().to_string(),
        entry: rel.to_string(),
        reason,
    };
    let mut p = root.to_path_buf();
    let mut meta = None;
    for c in rel.split('/') {
        p.push(c);
        let m = std::fs::symlink_metadata(&p).map_err(|e| SbomError::io(&p, e))?;
        if m.file_type().is_symlink() {
            return Err(refuse(
                "a symbolic link in an image directory (it could lead outside it)",
            ));
        }
        meta = Some(m);
    }
    if !meta.as_ref().is_some_and(std::fs::Metadata::is_file) {
        return Err(refuse(
            "not a regular file (a directory, device, FIFO or socket) in an image directory",
        ));
    }
    // Never follow a last-moment link, never block on a FIFO swapped in:
    // O_NOFOLLOW and O_NONBLOCK (which a regular file's reads ignore).
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
        // The O_* bits are small positive values: the cast keeps them.
        options.custom_flags(flags.bits() as i32);
    }
    let f = options.open(&p).map_err(|e| SbomError::io(&p, e))?;
    let opened = f.metadata().map_err(|e| SbomError::io(&p, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.is_some_and(|m| (m.dev(), m.ino()) != (opened.dev(), opened.ino())) {
            return Err(refuse("replaced while it was being opened"));
        }
    }
    if !opened.is_file() {
        return Err(refuse(
            "not a regular file (a directory, device, FIFO or socket) in an image directory",
        ));
    }
    Ok((f, opened.len()))
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn verify_digest(bytes: &[u8], digest: &str, file: &str) -> Result<()> {
    if let Some(expected) = digest.strip_prefix("sha256:") {
        let actual = crate::util::sha256_hex(bytes);
        if actual != expected {
            return Err(SbomError::DigestMismatch {
                file: file.into(),
                expected: digest.into(),
                actual: format!("sha256:{actual}"),
            });
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct OciIndex {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

#[derive(Deserialize)]
struct OciManifest {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifest {
    config: String,
    #[serde(default)]
    repo_tags: Vec<String>,
    #[serde(default)]
    layers: Vec<String>,
}

#[derive(Deserialize, Default)]
struct ImageConfig {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    rootfs: RootFs,
}

#[derive(Deserialize, Default)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

struct LayerRef {
    member: String,
    digest: Option<String>,
    size: Option<u64>,
}

struct ImageRef {
    name: Option<String>,
    manifest_digest: Option<String>,
    config: LayerRef,
    layers: Vec<LayerRef>,
    repo_tags: Vec<String>,
}

// ------------------------------------------------------------------ layer scanning

/// What one layer contributes.
#[derive(Default)]
struct LayerScan {
    /// Opaque directories (`dir/.wh..wh..opq`).
    opaque: Vec<String>,
    /// Whited-out paths (`dir/.wh.name` → `dir/name`).
    whiteouts: Vec<String>,
    /// Entries in archive order.
    entries: Vec<(String, Node)>,
    /// sha256 of the (compressed) blob and of the uncompressed tar.
    blob_sha256: String,
    diff_sha256: String,
    compressed_bytes: u64,
    uncompressed_bytes: u64,
}

#[derive(Clone)]
enum Node {
    File(std::sync::Arc<Vec<u8>>),
    Symlink(String),
    /// A hard link to another path (resolved when the layer is applied).
    HardLink(String),
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
fn python_file(path: &str) -> Option<(&str, &str, &str)> {
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
fn normalize_entry(raw: &[u8], archive: &str) -> Result<String> {
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

/// Tar block size.
const BLOCK: u64 = 512;

/// Follows the block structure of a tar stream as it is read, the way the `tar` crate walks
/// it, to refuse a GNU long name or long link or a PAX record set larger than
/// [`ImageLimits::max_extension_header_bytes`] *before* the `tar` crate reads it whole into
/// memory (it has no bound of its own: a layer could hold a name of gigabytes).
///
/// It stops following (and lets the `tar` crate report the error) at anything the crate
/// rejects or stops at: a bad checksum, an unreadable size, the first all-zero block.
struct TarGuard {
    /// Stream offset of the next byte fed.
    pos: u64,
    /// Stream offset of the next header (or GNU sparse extension) block.
    next: u64,
    /// The block being assembled at `next`.
    block: Box<tar::Header>,
    filled: usize,
    /// GNU sparse extension blocks follow; then the entry's data of this size.
    sparse_data: Option<u64>,
    /// A PAX local header's records being collected (start offset, length, bytes so far):
    /// they can set the next entry's size.
    pax: Option<(u64, usize, Vec<u8>)>,
    /// Size set by the last PAX local header, for the next entry that is not itself an
    /// extension header.
    pax_size: Option<u64>,
    done: bool,
    max_ext: u64,
}

impl TarGuard {
    fn new(max_ext: u64) -> Self {
        Self {
            pos: 0,
            next: 0,
            block: Box::new(tar::Header::new_old()),
            filled: 0,
            sparse_data: None,
            pax: None,
            pax_size: None,
            done: false,
            max_ext,
        }
    }

    fn feed(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() && !self.done {
            if self.pos < self.next {
                // Entry data (or padding) up to the next block.
                let n = usize::try_from(self.next - self.pos)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                if let Some((start, len, data)) = &mut self.pax {
                    // The records start at `start` and are `len` bytes long.
                    let skip = usize::try_from(start.saturating_sub(self.pos)).unwrap_or(n);
                    let take = n.saturating_sub(skip).min(*len - data.len());
                    data.extend_from_slice(&buf[skip.min(n)..skip.min(n) + take]);
                    if data.len() == *len {
                        self.pax_size = pax_size(data);
                        self.pax = None;
                    }
                }
                self.pos += n as u64;
                buf = &buf[n..];
                continue;
            }
            let n = (BLOCK as usize - self.filled).min(buf.len());
            self.block.as_mut_bytes()[self.filled..self.filled + n].copy_from_slice(&buf[..n]);
            self.filled += n;
            self.pos += n as u64;
            buf = &buf[n..];
            if self.filled == BLOCK as usize {
                self.filled = 0;
                self.next += BLOCK;
                self.on_block()?;
            }
        }
        Ok(())
    }

    /// A whole block at `next - BLOCK` has arrived.
    fn on_block(&mut self) -> io::Result<()> {
        if let Some(size) = self.sparse_data {
            // A GNU sparse extension block: `isextended` is its last used byte.
            if self.block.as_bytes()[504] != 1 {
                self.sparse_data = None;
                self.skip_data(size);
            }
            return Ok(());
        }
        let h = &*self.block;
        if h.as_bytes().iter().all(|&b| b == 0) {
            self.done = true;
            return Ok(());
        }
        let sum = h.as_bytes()[..148]
            .iter()
            .chain(&h.as_bytes()[156..])
            .map(|&b| u32::from(b))
            .sum::<u32>()
            + 8 * 32;
        let Ok(mut size) = h.entry_size() else {
            self.done = true;
            return Ok(());
        };
        if h.cksum().ok() != Some(sum) {
            self.done = true;
            return Ok(());
        }
        let ty = h.entry_type();
        let extension = ty.is_gnu_longname()
            || ty.is_gnu_longlink()
            || ty.is_pax_local_extensions()
            || ty.is_pax_global_extensions();
        if !extension && let Some(s) = self.pax_size.take() {
            size = s;
        }
        let recognized = h.as_gnu().is_some() || h.as_ustar().is_some();
        if recognized
            && (ty.is_gnu_longname() || ty.is_gnu_longlink() || ty.is_pax_local_extensions())
        {
            if size > self.max_ext {
                return Err(io::Error::other(LimitHit {
                    what: "tar extension header (long name, long link or PAX records)",
                    limit: self.max_ext,
                }));
            }
            if ty.is_pax_local_extensions() {
                // Bounded by `max_ext` just above.
                let len = usize::try_from(size).unwrap_or(0);
                self.pax = (len > 0).then(|| (self.next, len, Vec::with_capacity(len)));
            }
        }
        if !extension {
            self.pax_size = None;
        }
        if ty.is_gnu_sparse() && h.as_gnu().is_some_and(tar::GnuHeader::is_extended) {
            self.sparse_data = Some(size);
        } else {
            self.skip_data(size);
        }
        Ok(())
    }

    /// The next block follows `size` bytes of data, padded to whole blocks. A size
    /// past the end of any stream stops the guard (the tar reader refuses it).
    fn skip_data(&mut self, size: u64) {
        match size
            .div_ceil(BLOCK)
            .checked_mul(BLOCK)
            .and_then(|s| self.next.checked_add(s))
        {
            Some(next) => self.next = next,
            None => self.done = true,
        }
    }
}

/// The `size` record of a PAX record set, read as the `tar` crate reads it.
fn pax_size(records: &[u8]) -> Option<u64> {
    for r in tar::PaxExtensions::new(records) {
        let r = r.ok()?;
        if r.key() == Ok("size") {
            return r.value().ok()?.parse().ok();
        }
    }
    None
}

#[derive(Debug)]
struct LimitHit {
    what: &'static str,
    limit: u64,
}
impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} exceeds {}", self.what, self.limit)
    }
}
impl std::error::Error for LimitHit {}

/// A reader that can tell whether more input follows without losing the byte it peeked.
struct Peek<R> {
    peeked: Option<u8>,
    inner: R,
}

impl<R: Read> Peek<R> {
    fn at_eof(&mut self) -> io::Result<bool> {
        if self.peeked.is_some() {
            return Ok(false);
        }
        let mut b = [0u8; 1];
        loop {
            match self.inner.read(&mut b) {
                Ok(0) => return Ok(true),
                Ok(_) => {
                    self.peeked = Some(b[0]);
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl<R: Read> Read for Peek<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if let Some(b) = self.peeked.take() {
            buf[0] = b;
            return Ok(1);
        }
        self.inner.read(buf)
    }
}

type ZstdDec<R> = ruzstd::decoding::StreamingDecoder<Peek<R>, ruzstd::decoding::FrameDecoder>;

/// A zstd stream of one or more frames (skippable frames are skipped by the frame decoder).
struct ZstdStream<R: Read> {
    dec: Option<ZstdDec<R>>,
}

impl<R: Read> ZstdStream<R> {
    fn new(src: R) -> io::Result<Self> {
        let dec = ruzstd::decoding::StreamingDecoder::new(Peek {
            peeked: None,
            inner: src,
        })
        .map_err(io::Error::other)?;
        Ok(Self { dec: Some(dec) })
    }
}

impl<R: Read> Read for ZstdStream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(dec) = self.dec.as_mut() else {
                return Ok(0);
            };
            let n = dec.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let Some(d) = self.dec.take() else {
                return Ok(0);
            };
            let (mut src, frame) = d.into_parts();
            if src.at_eof()? {
                return Ok(0);
            }
            self.dec = Some(
                ruzstd::decoding::StreamingDecoder::new_with_decoder(src, frame)
                    .map_err(io::Error::other)?,
            );
        }
    }
}

fn scan_layer(
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
    let mut scan = LayerScan::default();
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
                scan.opaque.push(dir.to_string());
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
                scan.whiteouts.push(if dir.is_empty() {
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
                scan.entries.push((path, Node::Symlink(target)));
            } else if ty.is_hard_link() {
                if wanted(&path) {
                    let target = normalize_entry(&e.link_name_bytes().unwrap_or_default(), name)?;
                    keep(target.len() as u64 + path.len() as u64)?;
                    scan.entries.push((path, Node::HardLink(target)));
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
                scan.entries
                    .push((path, Node::File(std::sync::Arc::new(buf))));
            }
            // Everything else (unwanted files, devices, fifos): the tar reader skips the data.
        }
    }
    // Read to the end so that the digests cover the whole blob.
    let mut bounded = ar.into_inner();
    io::copy(&mut bounded, &mut io::sink()).map_err(map_err)?;
    scan.diff_sha256 = hex(&bounded.hasher.finalize_reset());
    scan.uncompressed_bytes = bounded.count;
    drop(bounded);
    let h = blob_hasher
        .lock()
        .map_err(|_| SbomError::parse(name, 0, "internal: poisoned hasher"))?
        .clone();
    scan.blob_sha256 = hex(&h.finalize());
    scan.compressed_bytes = blob_count.load(Ordering::Relaxed);
    Ok(scan)
}

// ------------------------------------------------------------------ the merged file system

/// Maximum symbolic links followed while resolving one path (as Linux's MAXSYMLINKS).
const MAX_SYMLINK_HOPS: usize = 40;

/// The files we keep from all layers, after applying whiteouts in layer order.
#[derive(Default)]
pub(crate) struct Vfs {
    nodes: BTreeMap<String, Node>,
    label: String,
}

impl Vfs {
    fn remove_tree(&mut self, path: &str) {
        self.nodes.remove(path);
        self.remove_children(path);
    }

    fn remove_children(&mut self, dir: &str) {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let doomed: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    /// Apply one layer on top of the current state.
    fn apply(&mut self, scan: LayerScan) -> Result<()> {
        for dir in &scan.opaque {
            let d = self.resolve(dir, true)?;
            self.remove_children(&d);
        }
        for w in &scan.whiteouts {
            let p = self.resolve(w, false)?;
            self.remove_tree(&p);
        }
        let mut this_layer: BTreeMap<String, std::sync::Arc<Vec<u8>>> = BTreeMap::new();
        for (path, node) in scan.entries {
            let p = self.resolve(&path, false)?;
            let node = match node {
                Node::HardLink(target) => {
                    let data = match this_layer.get(&target) {
                        Some(d) => Some(d.clone()),
                        None => self.read(&target)?,
                    };
                    match data {
                        Some(d) => Node::File(d),
                        None => continue, // link to a file we do not keep
                    }
                }
                n => n,
            };
            if let Node::File(d) = &node {
                this_layer.insert(path.clone(), d.clone());
            }
            self.remove_children(&p);
            self.nodes.insert(p, node);
        }
        Ok(())
    }

    /// Resolve `path` through symbolic links (chroot semantics: `..` stops at the root,
    /// absolute targets start at the image root). With `follow_last` false the final
    /// component is not followed.
    pub(crate) fn resolve(&self, path: &str, follow_last: bool) -> Result<String> {
        let mut pending: Vec<String> = path.split('/').rev().map(str::to_string).collect();
        let mut cur: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = pending.pop() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    cur.pop();
                    continue;
                }
                _ => {}
            }
            cur.push(c);
            if pending.iter().all(|p| p.is_empty() || p == ".") && !follow_last {
                break;
            }
            if let Some(Node::Symlink(t)) = self.nodes.get(&cur.join("/")) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(SbomError::SymlinkLoop {
                        archive: self.label.clone(),
                        path: path.to_string(),
                    });
                }
                cur.pop();
                if t.starts_with('/') {
                    cur.clear();
                }
                pending.extend(t.split('/').rev().map(str::to_string));
            }
        }
        Ok(cur.join("/"))
    }

    /// Read a kept file, following symbolic links.
    pub(crate) fn read(&self, path: &str) -> Result<Option<std::sync::Arc<Vec<u8>>>> {
        let p = self.resolve(path, true)?;
        Ok(match self.nodes.get(&p) {
            Some(Node::File(d)) => Some(d.clone()),
            _ => None,
        })
    }

    fn files(&self) -> impl Iterator<Item = (&str, &std::sync::Arc<Vec<u8>>)> {
        self.nodes.iter().filter_map(|(k, n)| match n {
            Node::File(d) => Some((k.as_str(), d)),
            _ => None,
        })
    }

    /// Paths of kept files under `dir/` (one level).
    fn list(&self, dir: &str) -> Vec<String> {
        let prefix = format!("{dir}/");
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, n)| !k[prefix.len()..].contains('/') && matches!(n, Node::File(_)))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

// ------------------------------------------------------------------ one image

fn catalog_one(
    store: &BlobStore,
    label: &str,
    img: &ImageRef,
    limits: &ImageLimits,
) -> Result<Sbom> {
    if img.layers.len() > limits.max_layers {
        return Err(SbomError::LimitExceeded {
            archive: label.into(),
            what: "layer count",
            limit: limits.max_layers as u64,
        });
    }
    let (config, config_bytes) =
        store.read_json::<ImageConfig>(&img.config.member, label, limits)?;
    let config_digest = format!("sha256:{}", crate::util::sha256_hex(&config_bytes));
    if let Some(d) = &img.config.digest {
        verify_digest(&config_bytes, d, &format!("{label}!/{}", img.config.member))?;
    }
    let diff_ids = &config.rootfs.diff_ids;
    if !diff_ids.is_empty() && diff_ids.len() != img.layers.len() {
        return Err(SbomError::parse(
            format!("{label}!/{}", img.config.member),
            0,
            format!(
                "config lists {} diff_ids but the manifest has {} layers",
                diff_ids.len(),
                img.layers.len()
            ),
        ));
    }
    let (vfs, layer_props) = build_vfs(store, label, img, diff_ids, limits, &BTreeSet::new())?;
    // Package databases reached through symbolic links: their targets were not known while
    // streaming, so read the layers once more for exactly those paths (rare).
    let extra: BTreeSet<String> = ROOT_FILES
        .iter()
        .filter_map(|p| {
            vfs.resolve(p, true)
                .ok()
                .filter(|r| r != p && !vfs.nodes.contains_key(r))
        })
        .collect();
    let vfs = if extra.is_empty() {
        vfs
    } else {
        build_vfs(store, label, img, diff_ids, limits, &extra)?.0
    };
    catalog_built(vfs, layer_props, label, img, &config, config_digest)
}

/// Fixed paths of the package databases and os-release.
const ROOT_FILES: [&str; 5] = [
    "var/lib/dpkg/status",
    "lib/apk/db/installed",
    "usr/lib/apk/db/installed",
    "etc/os-release",
    "usr/lib/os-release",
];

type LayerProps = BTreeMap<String, String>;

fn build_vfs(
    store: &BlobStore,
    label: &str,
    img: &ImageRef,
    diff_ids: &[String],
    limits: &ImageLimits,
    extra: &BTreeSet<String>,
) -> Result<(Vfs, LayerProps)> {
    let scans = scan_layers(store, label, &img.layers, limits, extra)?;
    let mut vfs = Vfs {
        label: label.to_string(),
        ..Vfs::default()
    };
    let mut layer_props = BTreeMap::new();
    for (i, (scan, layer)) in scans.into_iter().zip(&img.layers).enumerate() {
        let file = format!("{label}!/{}", layer.member);
        if let Some(d) = &layer.digest {
            if let Some(expected) = d.strip_prefix("sha256:")
                && expected != scan.blob_sha256
            {
                return Err(SbomError::DigestMismatch {
                    file,
                    expected: d.clone(),
                    actual: format!("sha256:{}", scan.blob_sha256),
                });
            }
            if let Some(size) = layer.size
                && size != scan.compressed_bytes
            {
                return Err(SbomError::parse(
                    file,
                    0,
                    format!(
                        "layer is {} bytes, manifest says {size}",
                        scan.compressed_bytes
                    ),
                ));
            }
        }
        let diff = format!("sha256:{}", scan.diff_sha256);
        if let Some(expected) = diff_ids.get(i)
            && *expected != diff
        {
            return Err(SbomError::DigestMismatch {
                file,
                expected: expected.clone(),
                actual: diff,
            });
        }
        let blob = layer
            .digest
            .clone()
            .unwrap_or_else(|| format!("sha256:{}", scan.blob_sha256));
        layer_props.insert(
            format!("provenant:image:layer:{i:03}"),
            if blob == diff {
                blob
            } else {
                format!("{blob} diff_id={diff}")
            },
        );
        vfs.apply(scan)?;
    }
    Ok((vfs, layer_props))
}

fn catalog_built(
    vfs: Vfs,
    layer_props: LayerProps,
    label: &str,
    img: &ImageRef,
    config: &ImageConfig,
    config_digest: String,
) -> Result<Sbom> {
    // The image component.
    let name_full = img.name.clone().unwrap_or_else(|| "image".into());
    let (repo, tag) = split_image_ref(&name_full);
    let id_digest = img
        .manifest_digest
        .clone()
        .unwrap_or_else(|| config_digest.clone());
    let short = repo.rsplit('/').next().unwrap_or(&repo).to_string();
    let repo_url = repo.rsplit_once('/').map(|(r, _)| r.to_string());
    let purl = Purl::new("oci", &short)
        .with_version(Some(&id_digest))
        .with_qualifier(
            "repository_url",
            if repo_url.is_some() {
                Some(repo.as_str())
            } else {
                None
            },
        )
        .with_qualifier("tag", tag.as_deref())
        .to_string();
    let mut image = Component {
        kind: ComponentKind::Container,
        bom_ref: purl.clone(),
        name: repo.clone(),
        version: tag.clone().or_else(|| Some(id_digest.clone())),
        purl: Some(purl.clone()),
        ..Component::default()
    };
    if let Some(h) = id_digest
        .strip_prefix("sha256:")
        .and_then(|h| Hash::new(HashAlg::Sha256, h))
    {
        image.hashes.push(h);
    }
    image.properties.extend(layer_props);
    image
        .properties
        .insert("provenant:image:config-digest".into(), config_digest);
    if let Some(m) = &img.manifest_digest {
        image
            .properties
            .insert("provenant:image:manifest-digest".into(), m.clone());
    }
    if !config.os.is_empty() {
        image.properties.insert(
            "provenant:image:platform".into(),
            format!("{}/{}", config.os, config.architecture),
        );
    }
    if img.repo_tags.len() > 1 {
        image
            .properties
            .insert("provenant:image:tags".into(), img.repo_tags.join(" "));
    }
    image
        .properties
        .insert(crate::PROP_FOUND_IN.into(), label.into());

    let mut sbom = catalog_rootfs_vfs(&vfs, label)?;
    image.properties.extend(os_props(&vfs));
    let all: BTreeSet<String> = sbom.components.iter().map(|c| c.bom_ref.clone()).collect();
    sbom.contains.insert(image.bom_ref.clone(), all);
    sbom.add(image);
    Ok(sbom)
}

fn os_props(vfs: &Vfs) -> BTreeMap<String, String> {
    let d = distro(vfs);
    let mut m = BTreeMap::new();
    m.insert("provenant:os:id".to_string(), d.id.clone());
    if let Some(v) = d.version_id {
        m.insert("provenant:os:version-id".to_string(), v);
    }
    m
}

/// `registry/repo:tag` → (`registry/repo`, `tag`); digests (`@sha256:…`) are not tags.
fn split_image_ref(r: &str) -> (String, Option<String>) {
    let r = r.split('@').next().unwrap_or(r);
    let last_slash = r.rfind('/').map_or(0, |i| i + 1);
    match r[last_slash..].rfind(':') {
        Some(i) => (
            r[..last_slash + i].to_string(),
            Some(r[last_slash + i + 1..].to_string()),
        ),
        None => (r.to_string(), None),
    }
}

fn scan_layers(
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

// ------------------------------------------------------------------ what is inside

/// Distribution identity from os-release.
pub(crate) struct Distro {
    pub(crate) id: String,
    pub(crate) version_id: Option<String>,
}

fn parse_os_release(text: &str) -> Distro {
    let mut id = None;
    let mut ver = None;
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
            match k.trim() {
                "ID" => id = Some(v),
                "VERSION_ID" => ver = Some(v),
                _ => {}
            }
        }
    }
    Distro {
        id: id.unwrap_or_else(|| "linux".into()),
        version_id: ver,
    }
}

fn distro(vfs: &Vfs) -> Distro {
    let text = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| vfs.read(p).ok().flatten());
    match text {
        Some(t) => parse_os_release(&String::from_utf8_lossy(&t)),
        None => Distro {
            id: "linux".into(),
            version_id: None,
        },
    }
}

/// Catalog the OS packages and Python distributions of a merged image file system.
fn catalog_rootfs_vfs(vfs: &Vfs, label: &str) -> Result<Sbom> {
    let d = distro(vfs);
    let mut sbom = Sbom::default();
    let copyright = |pkg: &str| {
        vfs.read(&format!("usr/share/doc/{pkg}/copyright"))
            .ok()
            .flatten()
    };
    if let Some(status) = vfs.read("var/lib/dpkg/status")? {
        let text = String::from_utf8_lossy(&status);
        sbom.merge(os_pkgs::catalog_dpkg(
            &text,
            &format!("{label}!/var/lib/dpkg/status"),
            &d,
            &copyright,
        ));
    }
    let mut status_d = vfs.list("var/lib/dpkg/status.d");
    status_d.sort();
    for f in status_d {
        if let Some(bytes) = vfs.read(&f)? {
            let text = String::from_utf8_lossy(&bytes);
            sbom.merge(os_pkgs::catalog_dpkg(
                &text,
                &format!("{label}!/{f}"),
                &d,
                &copyright,
            ));
        }
    }
    for db in ["lib/apk/db/installed", "usr/lib/apk/db/installed"] {
        if let Some(bytes) = vfs.read(db)? {
            let text = String::from_utf8_lossy(&bytes);
            sbom.merge(os_pkgs::catalog_apk(&text, &format!("{label}!/{db}"), &d));
            break;
        }
    }
    // Python: group metadata files by site dir and distribution dir.
    let mut sites: BTreeMap<String, BTreeMap<String, PythonDist>> = BTreeMap::new();
    for (path, data) in vfs.files() {
        let Some((site, dist, file)) = python_file(path) else {
            continue;
        };
        let entry = sites
            .entry(site.to_string())
            .or_default()
            .entry(dist.to_string())
            .or_insert_with(|| PythonDist {
                location: format!("{label}!/{dist}"),
                ..PythonDist::default()
            });
        let bytes = data.as_ref().clone();
        match file {
            "" | "METADATA" | "PKG-INFO" => {
                entry.metadata_path = if file.is_empty() {
                    format!("{label}!/{dist}")
                } else {
                    format!("{label}!/{dist}/{file}")
                };
                entry.metadata = bytes;
            }
            "RECORD" => entry.record = Some(bytes),
            "direct_url.json" => entry.direct_url = Some(bytes),
            "requires.txt" => entry.requires_txt = Some(bytes),
            _ => {}
        }
    }
    for (_, dists) in sites {
        let mut list = Vec::new();
        for (dist, d) in dists {
            if d.metadata_path.is_empty() {
                sbom.warnings.push(crate::model::Warning {
                    file: format!("{label}!/{dist}"),
                    line: 0,
                    message: "distribution metadata file missing; distribution skipped".into(),
                });
                continue;
            }
            list.push(d);
        }
        sbom.merge(catalog_dists(list));
    }
    Ok(sbom)
}

/// Catalog a root file system on disk (a directory with `var/lib/dpkg/status`,
/// `lib/apk/db/installed` and/or Python installations under `usr/`), e.g. `/` or a chroot.
pub fn catalog_rootfs(root: &Path) -> Result<Sbom> {
    let read = |rel: &str| -> Option<Vec<u8>> { std::fs::read(root.join(rel)).ok() };
    let d = match read("etc/os-release").or_else(|| read("usr/lib/os-release")) {
        Some(t) => parse_os_release(&String::from_utf8_lossy(&t)),
        None => Distro {
            id: "linux".into(),
            version_id: None,
        },
    };
    let mut sbom = Sbom::default();
    let copyright =
        |pkg: &str| read(&format!("usr/share/doc/{pkg}/copyright")).map(std::sync::Arc::new);
    let status_path = root.join("var/lib/dpkg/status");
    if status_path.is_file() {
        let bytes = std::fs::read(&status_path).map_err(|e| SbomError::io(&status_path, e))?;
        sbom.merge(os_pkgs::catalog_dpkg(
            &String::from_utf8_lossy(&bytes),
            &status_path.display().to_string(),
            &d,
            &copyright,
        ));
    }
    if let Ok(rd) = std::fs::read_dir(root.join("var/lib/dpkg/status.d")) {
        let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for f in files
            .iter()
            .filter(|f| !f.to_string_lossy().ends_with(".md5sums"))
        {
            let bytes = std::fs::read(f).map_err(|e| SbomError::io(f, e))?;
            sbom.merge(os_pkgs::catalog_dpkg(
                &String::from_utf8_lossy(&bytes),
                &f.display().to_string(),
                &d,
                &copyright,
            ));
        }
    }
    for db in ["lib/apk/db/installed", "usr/lib/apk/db/installed"] {
        let p = root.join(db);
        if p.is_file() {
            let bytes = std::fs::read(&p).map_err(|e| SbomError::io(&p, e))?;
            sbom.merge(os_pkgs::catalog_apk(
                &String::from_utf8_lossy(&bytes),
                &p.display().to_string(),
                &d,
            ));
            break;
        }
    }
    for prefix in ["usr", "usr/local"] {
        for site in crate::python::find_site_packages(&root.join(prefix)).unwrap_or_default() {
            let (dists, warnings) = crate::python::read_site_packages(&site)?;
            let mut part = catalog_dists(dists);
            part.warnings.extend(warnings);
            sbom.merge(part);
        }
    }
    if sbom.components.is_empty() && sbom.warnings.is_empty() {
        return Err(SbomError::NothingToCatalog {
            path: root.to_path_buf(),
        });
    }
    Ok(sbom)
}

/// Scan one layer blob held in memory, apply it to an empty file system and catalog it
/// (the fuzz target's entry point; small limits).
pub(crate) fn fuzz_layer(bytes: &[u8]) -> Result<Sbom> {
    let limits = ImageLimits {
        max_layer_bytes: 64 << 20,
        max_total_bytes: 64 << 20,
        max_entries: 10_000,
        max_file_bytes: 8 << 20,
        max_kept_bytes: 16 << 20,
        ..ImageLimits::default()
    };
    let (total, kept) = (AtomicU64::new(0), AtomicU64::new(0));
    let scan = scan_layer(
        Box::new(io::Cursor::new(bytes.to_vec())),
        "fuzz",
        &limits,
        &total,
        &kept,
        &BTreeSet::new(),
    )?;
    let mut vfs = Vfs {
        label: "fuzz".into(),
        ..Vfs::default()
    };
    vfs.apply(scan)?;
    catalog_rootfs_vfs(&vfs, "fuzz")
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

    #[test]
    fn symlink_resolution_and_loops() {
        let mut v = Vfs::default();
        v.nodes
            .insert("lib".into(), Node::Symlink("usr/lib".into()));
        v.nodes.insert(
            "usr/lib/x".into(),
            Node::File(std::sync::Arc::new(b"hi".to_vec())),
        );
        v.nodes.insert("a".into(), Node::Symlink("/b".into()));
        v.nodes.insert("b".into(), Node::Symlink("../../a".into()));
        v.nodes
            .insert("up".into(), Node::Symlink("../../../usr".into()));
        assert_eq!(v.read("lib/x").unwrap().unwrap().as_slice(), b"hi");
        assert_eq!(v.read("up/lib/x").unwrap().unwrap().as_slice(), b"hi");
        assert!(matches!(v.read("a/x"), Err(SbomError::SymlinkLoop { .. })));
    }

    #[test]
    fn tar_guard_survives_absurd_sizes() {
        // A header claiming u64::MAX bytes (base-256 size field): no overflow, the
        // guard stops and leaves the error to the tar reader.
        let mut h = tar::Header::new_gnu();
        h.set_path("f").unwrap();
        h.set_size(u64::MAX);
        h.set_cksum();
        let mut g = TarGuard::new(1 << 20);
        g.feed(h.as_bytes()).unwrap();
        assert!(g.done);
        // A GNU long name over the bound is refused as soon as its header is seen.
        let mut h = tar::Header::new_gnu();
        h.set_path("././@LongLink").unwrap();
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_size(2 << 20);
        h.set_cksum();
        let e = TarGuard::new(1 << 20).feed(h.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("extension header"), "{e}");
    }

    #[test]
    fn image_refs() {
        assert_eq!(
            split_image_ref("docker.io/library/python:3.12"),
            ("docker.io/library/python".into(), Some("3.12".into()))
        );
        assert_eq!(
            split_image_ref("localhost:5000/x"),
            ("localhost:5000/x".into(), None)
        );
    }
}

//! Reading an image: an OCI image layout (directory or tarball) or a `docker save` archive,
//! its index, manifests and config, with every blob checked against its digest.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use provenant_digest::{Digest, DigestAlgorithm};
use serde::Deserialize;

use super::ImageLimits;
use super::layer::normalize_entry;
use crate::error::{Result, SbomError};

pub(super) enum BlobStore {
    Dir(PathBuf),
    /// An uncompressed tar archive: member name → (data offset, size).
    Tar {
        path: PathBuf,
        members: BTreeMap<String, (u64, u64)>,
    },
}

impl BlobStore {
    pub(super) fn index_tar(path: &Path) -> Result<Self> {
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

    pub(super) fn open(&self, name: &str) -> Result<(Box<dyn Read + Send>, u64)> {
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

    pub(super) fn read_json<T: for<'de> Deserialize<'de>>(
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

    /// Parse a descriptor's digest, strictly: a registered algorithm and lowercase hex of its
    /// length (the OCI rule).
    fn parse_digest(digest: &str, label: &str) -> Result<Digest> {
        if !digest.contains(':') {
            return Err(SbomError::parse(
                label,
                0,
                format!("malformed digest {digest:?}"),
            ));
        }
        digest.parse().map_err(|_| {
            SbomError::parse(
                label,
                0,
                format!("unsupported or malformed digest {digest:?}"),
            )
        })
    }

    /// The member holding a blob in an OCI image layout.
    fn blob_name(digest: &Digest) -> String {
        format!("blobs/{}/{}", digest.algorithm(), digest.hex())
    }

    /// The images in this store: OCI `index.json` (preferred) or docker `manifest.json`.
    pub(super) fn images(&self, label: &str, limits: &ImageLimits) -> Result<Vec<ImageRef>> {
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
    ) -> Result<Option<(Digest, LayerRef, Vec<LayerRef>)>> {
        if depth > 4 {
            return Err(SbomError::parse(label, 0, "image indexes nested too deep"));
        }
        let digest = Self::parse_digest(&d.digest, label)?;
        let name = Self::blob_name(&digest);
        let (v, bytes) = self.read_json::<serde_json::Value>(&name, label, limits)?;
        verify_digest(&bytes, &digest, &format!("{label}!/{name}"))?;
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
            let digest = Self::parse_digest(&d.digest, label)?;
            Ok(LayerRef {
                member: Self::blob_name(&digest),
                digest: Some(digest),
                size: Some(d.size),
            })
        };
        let config = to_ref(&m.config)?;
        let layers = m.layers.iter().map(to_ref).collect::<Result<Vec<_>>>()?;
        Ok(Some((digest, config, layers)))
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

/// Check `bytes` against the digest that names them.
pub(super) fn verify_digest(bytes: &[u8], digest: &Digest, file: &str) -> Result<()> {
    if digest.matches(bytes) {
        return Ok(());
    }
    let actual = match digest.algorithm() {
        DigestAlgorithm::Sha256 => Digest::sha256(bytes),
        DigestAlgorithm::Sha512 => Digest::sha512(bytes),
    };
    Err(SbomError::DigestMismatch {
        file: file.into(),
        expected: Box::new(*digest),
        actual: Box::new(actual),
    })
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
pub(super) struct ImageConfig {
    #[serde(default)]
    pub(super) architecture: String,
    #[serde(default)]
    pub(super) os: String,
    #[serde(default)]
    pub(super) rootfs: RootFs,
}

#[derive(Deserialize, Default)]
pub(super) struct RootFs {
    #[serde(default)]
    pub(super) diff_ids: Vec<Digest>,
}

pub(super) struct LayerRef {
    pub(super) member: String,
    pub(super) digest: Option<Digest>,
    pub(super) size: Option<u64>,
}

pub(super) struct ImageRef {
    pub(super) name: Option<String>,
    pub(super) manifest_digest: Option<Digest>,
    pub(super) config: LayerRef,
    pub(super) layers: Vec<LayerRef>,
    pub(super) repo_tags: Vec<String>,
}

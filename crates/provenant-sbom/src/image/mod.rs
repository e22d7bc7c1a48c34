//! Container images: OCI image layouts (<https://github.com/opencontainers/image-spec/blob/main/image-layout.md>)
//! and `docker save` archives. Layers are streamed (plain tar, gzip or zstd), never unpacked to
//! disk: each layer keeps only the files we catalog (package databases, Python metadata,
//! Debian copyright files, os-release) and its symlinks and whiteouts; the layers are then
//! applied in order (<https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts>)
//! to a small virtual file system that the OS and Python catalogers read.
//!
//! `archive` reads the image (index, manifests, config, blobs by digest); `layer` streams one
//! layer (with `tar_guard` bounding tar extension headers and `zstd` decoding zstd layers);
//! `vfs` merges the layers; `rootfs` catalogs what a merged or on-disk root file system holds;
//! `catalog` puts one image together.

mod archive;
mod catalog;
mod layer;
mod rootfs;
mod tar_guard;
mod vfs;
mod zstd;

use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::sync::atomic::AtomicU64;

use archive::BlobStore;
use catalog::catalog_one;
use layer::scan_layer;
use rootfs::catalog_rootfs_vfs;
use vfs::Vfs;

use crate::error::{Result, SbomError};
use crate::model::Sbom;

pub(crate) use rootfs::Distro;
pub use rootfs::catalog_rootfs;

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

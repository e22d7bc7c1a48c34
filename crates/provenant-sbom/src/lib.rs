//! Software bills of materials for model releases.
//!
//! Catalogers turn real inputs into a format-neutral [`Sbom`]:
//! installed Python environments ([`catalog_python_env`]), lock and requirement files
//! ([`catalog_lockfile`]), container images as OCI image layouts or `docker save` archives
//! ([`catalog_image`]), and the model itself ([`model_component`]). Writers emit
//! CycloneDX 1.6 JSON (<https://cyclonedx.org/docs/1.6/json/>, including the ML-BOM
//! `machine-learning-model` component and `modelCard`) and SPDX 2.3 JSON
//! (<https://spdx.github.io/spdx-spec/v2.3/>), byte-for-byte deterministic once the
//! timestamp and serial number are pinned ([`WriteOptions`]). [`parse_sbom`] (and
//! [`read_sbom`] for a file) reads either format, ours or another tool's, into the same model:
//! it is the one SBOM reader of the product, used to check an attached SBOM and, by
//! `provenant-vuln`, to scan one. Components are named by package URLs
//! (<https://github.com/package-url/purl-spec>); [`Purl`] builds and parses them.
//!
//! Untrusted input never panics: malformed files are errors naming file and line; problems
//! that do not stop cataloging are [`Warning`]s, and an SBOM with warnings is marked
//! incomplete (CycloneDX `compositions`, SPDX document comment) rather than passed off as whole.

mod api;
mod cyclonedx;
mod error;
mod image;
mod license;
mod lockfile;
mod model;
mod modelfile;
mod os_pkgs;
mod purl;
mod python;
mod spdx_json;
mod util;

pub use api::{Source, SourceKind, catalog_path, catalog_sources};
pub use cyclonedx::write_cyclonedx;
pub use error::{Result, SbomError};
pub use image::{ImageLimits, catalog_image, catalog_image_with, catalog_rootfs};
pub use lockfile::{
    LockKind, MAX_LOCKFILE_BYTES, catalog_lockfile, parse_cargo_lock, parse_lock,
    parse_package_lock, parse_pipfile_lock, parse_poetry_lock, parse_requirements, parse_uv_lock,
};
pub use model::{
    Component, ComponentKind, ExternalRef, FileEntry, Hash, HashAlg, License, Sbom, Supplier,
    Warning,
};
pub use modelfile::{
    ModelDescription, ModelFile, ModelFormat, detect_format, detect_format_of_file, model_component,
};
pub use purl::{Purl, PurlError};
pub use python::{PythonDist, catalog_dists, catalog_python_env, find_site_packages};
pub use spdx_json::write_spdx;

/// Property naming where a component was found (file path; several joined by newlines).
pub const PROP_FOUND_IN: &str = "provenant:found-in";

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// CycloneDX 1.6 JSON.
    CycloneDxJson,
    /// SPDX 2.3 JSON.
    SpdxJson,
}

impl Format {
    /// in-toto predicate type for an attestation carrying this document.
    pub fn predicate_type(self) -> &'static str {
        match self {
            Self::CycloneDxJson => "https://cyclonedx.org/bom",
            Self::SpdxJson => "https://spdx.dev/Document/v2.3",
        }
    }

    /// IANA media type of the document.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::CycloneDxJson => "application/vnd.cyclonedx+json",
            Self::SpdxJson => "application/spdx+json",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "cyclonedx-json" | "cyclonedx" | "cdx" => Ok(Self::CycloneDxJson),
            "spdx-json" | "spdx" => Ok(Self::SpdxJson),
            other => Err(format!(
                "unknown SBOM format {other:?} (cyclonedx-json, spdx-json)"
            )),
        }
    }
}

/// Options for the writers.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Creation time as seconds since the Unix epoch; `None` = now.
    pub timestamp: Option<u64>,
    /// CycloneDX serial number (`urn:uuid:…`) / SPDX document namespace URI; `None` = derived
    /// from the content and the timestamp (unique per document, reproducible when pinned).
    pub serial: Option<String>,
    /// Document name (SPDX `name`); defaults to the subject's name.
    pub name: Option<String>,
    /// Also list the files of package components (Python `RECORD` entries). The files of a
    /// machine-learning model are always listed.
    pub include_package_files: bool,
}

/// Write an SBOM in the chosen format.
pub fn write(sbom: &Sbom, format: Format, opts: &WriteOptions) -> Vec<u8> {
    match format {
        Format::CycloneDxJson => write_cyclonedx(sbom, opts),
        Format::SpdxJson => write_spdx(sbom, opts),
    }
}

/// Parse a CycloneDX (1.4–1.6) or SPDX 2.3 JSON document back into an [`Sbom`]
/// (checks that an uploaded SBOM is what it claims to be). Returns the detected format.
pub fn parse_sbom(bytes: &[u8], file: &str) -> Result<(Format, Sbom)> {
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| SbomError::parse(file, e.line(), e.to_string()))?;
    if v.get("bomFormat").and_then(|f| f.as_str()) == Some("CycloneDX") {
        return cyclonedx::parse(&v, file).map(|s| (Format::CycloneDxJson, s));
    }
    if v.get("spdxVersion").is_some() {
        return spdx_json::parse(&v, file).map(|s| (Format::SpdxJson, s));
    }
    Err(SbomError::parse(
        file,
        1,
        "neither a CycloneDX (bomFormat) nor an SPDX (spdxVersion) JSON document",
    ))
}

/// Largest SBOM document [`read_sbom`] reads.
pub const MAX_SBOM_BYTES: u64 = 256 * 1024 * 1024;

/// Read an SBOM file (CycloneDX or SPDX JSON, at most [`MAX_SBOM_BYTES`]) with [`parse_sbom`].
pub fn read_sbom(path: &std::path::Path) -> Result<(Format, Sbom)> {
    use std::io::Read as _;
    let f = std::fs::File::open(path).map_err(|e| SbomError::io(path, e))?;
    let mut bytes = Vec::new();
    f.take(MAX_SBOM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| SbomError::io(path, e))?;
    let name = path.display().to_string();
    if bytes.len() as u64 > MAX_SBOM_BYTES {
        return Err(SbomError::LimitExceeded {
            archive: name,
            what: "SBOM document size",
            limit: MAX_SBOM_BYTES,
        });
    }
    parse_sbom(&bytes, &name)
}

/// Entry points for the `cargo fuzz` targets in `fuzz/`; not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    /// Scan a layer blob (plain tar, gzip or zstd) and catalog what it holds.
    pub fn layer(bytes: &[u8]) -> crate::Result<crate::Sbom> {
        crate::image::fuzz_layer(bytes)
    }
}

//! Offline vulnerability scanning for Provenant.
//!
//! * Reads OSV records (<https://ossf.github.io/osv-schema/>) from
//!   directories of JSON or YAML files (the PyPA advisory database's
//!   encoding) and from OSV's per-ecosystem `all.zip` exports, reporting each
//!   malformed record with its file and field.
//! * Keeps them in an [`Index`] with re-import semantics, persisted through
//!   the [`IndexStore`] trait ([`FileStore`]: one checksummed file per
//!   database directory).
//! * Matches SBOM components (CycloneDX or SPDX 2.3 JSON, by package URL)
//!   with the schema's exact range evaluation and each ecosystem's version
//!   order: PEP 440 (PyPI), SemVer 2.0 (crates.io, npm, Go), dpkg (Debian,
//!   Ubuntu), apk (Alpine, Wolfi).
//! * Applies OpenVEX v0.2 statements
//!   (<https://github.com/openvex/spec/blob/main/OPENVEX-SPEC.md>) and
//!   `waivers.yaml` exceptions, and renders a table, JSON or SARIF 2.1.0.
//!
//! ```no_run
//! use provenant_vuln::{FileStore, Index, IndexStore, ScanOptions, read_sbom_file, scan};
//! # fn main() -> Result<(), provenant_vuln::VulnError> {
//! let store = FileStore::new("vulndb");
//! let mut index = store.load()?.unwrap_or_default();
//! let report = index.import("osv-pypa/vulns".as_ref())?;
//! store.save(&index)?;
//! eprintln!("{report}");
//!
//! let sbom = read_sbom_file("bom.cdx.json".as_ref())?;
//! let result = scan(&store.load_required()?, &sbom, &ScanOptions::default());
//! print!("{}", provenant_vuln::render_table(&result));
//! std::process::exit(i32::from(result.fail_on("high".parse().unwrap_or(provenant_vuln::Level::High))));
//! # }
//! ```

mod error;
mod index;
mod ingest;
mod matching;
mod osv;
mod purl;
mod render;
mod sbom;
mod scan;
mod severity;
mod store;
mod time;
mod version;
mod vex;
mod waiver;

pub use error::VulnError;
pub use index::{ImportIssue, ImportReport, Index, IndexEntry};
pub use ingest::{SourceItem, read_source};
pub use osv::{
    Affected, Event, EventKind, Format, Package, Range, RangeKind, Record, RecordError, Reference,
    SeverityEntry, parse_record,
};
pub use purl::Purl;
pub use render::{render_json, render_sarif, render_table};
pub use sbom::{Component, Sbom, SbomFormat, parse_sbom, read_sbom_file};
pub use scan::{Finding, ScanOptions, ScanReport, SuppressedBy, scan};
pub use severity::{Level, Severity, cvss3_base_score};
pub use store::{FileStore, INDEX_FILE, IndexStore};
pub use time::{Date, Timestamp};
pub use version::{Ecosystem, Scheme, Version, normalize_pypi};
pub use vex::{VexDocument, VexStatement, VexStatus, parse_vex};
pub use waiver::{Waiver, Waivers, parse_waivers};

/// Reads an OpenVEX document from a file.
pub fn read_vex_file(path: &std::path::Path) -> Result<VexDocument, VulnError> {
    let bytes = std::fs::read(path).map_err(|e| VulnError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    parse_vex(&bytes, &path.display().to_string())
}

/// Reads a `waivers.yaml` file.
pub fn read_waivers_file(path: &std::path::Path) -> Result<Waivers, VulnError> {
    let bytes = std::fs::read(path).map_err(|e| VulnError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    parse_waivers(&bytes, &path.display().to_string())
}

//! Vulnerability scanning of model releases: which known advisories affect the packages an
//! SBOM lists, after the team's VEX statements and waivers.
//!
//! * Reads OSV records (<https://ossf.github.io/osv-schema/>) from directories of JSON or
//!   YAML files (the PyPA advisory database's encoding) and from OSV's per-ecosystem
//!   `all.zip` exports ([`read_source`]), reporting each malformed record with its file and
//!   field, into an [`Index`] with re-import semantics (a source's records that disappear are
//!   removed). Where the index lives is the caller's business: `provenant vulndb import`
//!   and the server's watcher keep it in the registry database.
//! * Matches the components of a [`provenant_sbom::Sbom`] (the product's one SBOM model, read
//!   by [`provenant_sbom::parse_sbom`] from CycloneDX or SPDX 2.3 JSON, or straight from a
//!   cataloger) by package URL, with the schema's exact range evaluation and each
//!   ecosystem's version order: PEP 440 (PyPI, names compared PEP 503-normalised), SemVer
//!   2.0 (crates.io, npm, Go), dpkg (Debian, Ubuntu), apk (Alpine, Wolfi).
//! * Applies OpenVEX v0.2 statements
//!   (<https://github.com/openvex/spec/blob/main/OPENVEX-SPEC.md>) and `waivers.yaml`
//!   exceptions, and renders a table, JSON or SARIF 2.1.0.
//!
//! `provenant scan` runs it on a file or a catalogued path; the server runs it on every
//! SBOM attached to a version, again whenever the database changes.
//!
//! ```no_run
//! use provenant_vuln::{Index, ScanOptions, scan};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut index = Index::new();
//! let report = index.import("osv-pypa/vulns".as_ref())?;
//! eprintln!("{report}");
//!
//! let (_format, sbom) = provenant_sbom::read_sbom("bom.cdx.json".as_ref())?;
//! let result = scan(&index, &sbom, &ScanOptions::default());
//! print!("{}", provenant_vuln::render_table(&result));
//! std::process::exit(i32::from(result.fail_on(provenant_vuln::Level::High)));
//! # }
//! ```

mod error;
mod index;
mod ingest;
mod matching;
mod osv;
mod purl;
mod render;
mod scan;
mod severity;
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
pub use render::{render_json, render_sarif, render_table};
pub use scan::{Finding, ScanOptions, ScanReport, SuppressedBy, scan};
pub use severity::{Level, Severity, cvss3_base_score};
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

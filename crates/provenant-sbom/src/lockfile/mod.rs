//! Lock and requirement files: `requirements*.txt`, `uv.lock`, `poetry.lock`, `Pipfile.lock`,
//! `Cargo.lock`, `package-lock.json` (v2/v3).
//!
//! Text parsers take the file's contents and its display name (used in errors); only
//! `requirements` includes (`-r other.txt`) touch the file system, through [`catalog_lockfile`].

mod cargo;
mod npm;
mod pipfile;
mod poetry;
mod requirements;
mod uv;

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::{Result, SbomError};
use crate::model::{Component, Sbom};
use crate::util::line_of;

pub use cargo::parse_cargo_lock;
pub use npm::parse_package_lock;
pub use pipfile::parse_pipfile_lock;
pub use poetry::parse_poetry_lock;
pub use requirements::parse_requirements;
pub use uv::parse_uv_lock;

/// Largest lock file we read (a hostile 10 GiB "lock file" is refused, not slurped).
pub const MAX_LOCKFILE_BYTES: u64 = 256 << 20;

/// The lock/requirement formats we understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockKind {
    /// pip `requirements*.txt` (also `*.in` is *not* accepted: it is not pinned by design).
    Requirements,
    /// `uv.lock`.
    UvLock,
    /// `poetry.lock`.
    PoetryLock,
    /// `Pipfile.lock`.
    PipfileLock,
    /// `Cargo.lock`.
    CargoLock,
    /// npm `package-lock.json` (lockfileVersion 2 or 3) or `npm-shrinkwrap.json`.
    PackageLock,
}

impl LockKind {
    /// Recognise a lock file by its file name.
    pub fn detect(file_name: &str) -> Option<Self> {
        Some(match file_name {
            "uv.lock" => Self::UvLock,
            "poetry.lock" => Self::PoetryLock,
            "Pipfile.lock" => Self::PipfileLock,
            "Cargo.lock" => Self::CargoLock,
            "package-lock.json" | "npm-shrinkwrap.json" => Self::PackageLock,
            n if n.starts_with("requirements") && n.ends_with(".txt") => Self::Requirements,
            _ => return None,
        })
    }
}

/// Catalog one lock or requirement file from disk.
pub fn catalog_lockfile(path: &Path) -> Result<Sbom> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let kind = LockKind::detect(name).ok_or_else(|| SbomError::Unsupported {
        file: path.display().to_string(),
        what: "not a known lock or requirements file name".into(),
    })?;
    if kind == LockKind::Requirements {
        let mut seen = BTreeSet::new();
        return requirements::requirements_file(path, &mut seen, 0);
    }
    let text = read_text(path)?;
    parse_lock(kind, &text, &path.display().to_string())
}

fn read_text(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| SbomError::io(path, e))?;
    if meta.len() > MAX_LOCKFILE_BYTES {
        return Err(SbomError::LimitExceeded {
            archive: path.display().to_string(),
            what: "lock file size",
            limit: MAX_LOCKFILE_BYTES,
        });
    }
    let bytes = std::fs::read(path).map_err(|e| SbomError::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let ok = e.utf8_error().valid_up_to();
        let line = line_of(&String::from_utf8_lossy(&e.as_bytes()[..ok]), ok);
        SbomError::parse(path.display().to_string(), line, "not valid UTF-8")
    })
}

/// Parse lock file text of a known kind. `file` names it in errors.
pub fn parse_lock(kind: LockKind, text: &str, file: &str) -> Result<Sbom> {
    match kind {
        LockKind::Requirements => parse_requirements(text, file).map(|(s, _)| s),
        LockKind::UvLock => parse_uv_lock(text, file),
        LockKind::PoetryLock => parse_poetry_lock(text, file),
        LockKind::PipfileLock => parse_pipfile_lock(text, file),
        LockKind::CargoLock => parse_cargo_lock(text, file),
        LockKind::PackageLock => parse_package_lock(text, file),
    }
}

fn found_in(c: &mut Component, file: &str) {
    c.properties
        .insert(crate::PROP_FOUND_IN.into(), file.to_string());
}

fn toml_err(e: &toml::de::Error, text: &str, file: &str) -> SbomError {
    let line = e.span().map_or(0, |s| line_of(text, s.start));
    SbomError::parse(file, line, e.message().trim().to_string())
}

fn json_err(e: &serde_json::Error, file: &str) -> SbomError {
    SbomError::parse(file, e.line(), e.to_string())
}

fn find_line(text: &str, needle: &str) -> usize {
    text.find(needle).map_or(0, |i| line_of(text, i))
}

//! What the CLI calls: detect what a path is, catalog it, combine several sources.

use std::path::{Path, PathBuf};

use crate::error::{Result, SbomError};
use crate::lockfile::LockKind;
use crate::model::Sbom;

/// What a source path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceKind {
    /// An installed Python environment (site-packages, venv or prefix).
    PythonEnv,
    /// A lock or requirements file.
    LockFile(LockKind),
    /// An OCI image layout directory (`index.json` + `blobs/`).
    OciLayout,
    /// An image tarball (`docker save`, or an OCI layout in a tar).
    ImageArchive,
    /// A root file system (`var/lib/dpkg/status`, `lib/apk/db/installed`).
    RootFs,
}

/// One thing to catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Where it is.
    pub path: PathBuf,
    /// What it is.
    pub kind: SourceKind,
}

/// Directories never searched for lock files.
const SKIP_DIRS: &[&str] = &[
    "node_modules",
    "target",
    ".git",
    "__pycache__",
    "site-packages",
    "dist-packages",
    ".tox",
];
const MAX_DEPTH: usize = 4;

impl Source {
    /// Detect the sources at `path`: a file is one source; a directory may hold several
    /// (an OCI layout, a root file system, a Python environment, lock files up to 4 levels deep,
    /// and `.venv`/`venv` environments next to them).
    pub fn detect(path: &Path) -> Result<Vec<Source>> {
        let meta = std::fs::metadata(path).map_err(|e| SbomError::io(path, e))?;
        if meta.is_file() {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if let Some(k) = LockKind::detect(name) {
                return Ok(vec![Source {
                    path: path.into(),
                    kind: SourceKind::LockFile(k),
                }]);
            }
            if is_tar(path)? {
                return Ok(vec![Source {
                    path: path.into(),
                    kind: SourceKind::ImageArchive,
                }]);
            }
            return Err(SbomError::NothingToCatalog { path: path.into() });
        }
        if path.join("index.json").is_file()
            && (path.join("oci-layout").is_file() || path.join("blobs").is_dir())
        {
            return Ok(vec![Source {
                path: path.into(),
                kind: SourceKind::OciLayout,
            }]);
        }
        let mut out = Vec::new();
        if path.join("var/lib/dpkg/status").is_file()
            || path.join("var/lib/dpkg/status.d").is_dir()
            || path.join("lib/apk/db/installed").is_file()
        {
            // A root file system: its Python installations are cataloged with it.
            return Ok(vec![Source {
                path: path.into(),
                kind: SourceKind::RootFs,
            }]);
        }
        if !crate::python::find_site_packages(path)?.is_empty() {
            out.push(Source {
                path: path.into(),
                kind: SourceKind::PythonEnv,
            });
            return Ok(out);
        }
        walk(path, 0, &mut out)?;
        if out.is_empty() {
            return Err(SbomError::NothingToCatalog { path: path.into() });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Catalog this source.
    pub fn catalog(&self) -> Result<Sbom> {
        match self.kind {
            SourceKind::PythonEnv => crate::python::catalog_python_env(&self.path),
            SourceKind::LockFile(_) => crate::lockfile::catalog_lockfile(&self.path),
            SourceKind::OciLayout | SourceKind::ImageArchive => {
                crate::image::catalog_image(&self.path)
            }
            SourceKind::RootFs => crate::image::catalog_rootfs(&self.path),
        }
    }
}

fn is_tar(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| SbomError::io(path, e))?;
    let mut h = [0u8; 512];
    let mut got = 0;
    while got < h.len() {
        let n = f.read(&mut h[got..]).map_err(|e| SbomError::io(path, e))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got == 512 && &h[257..262] == b"ustar")
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<Source>) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| SbomError::io(dir, e))?;
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let Some(name) = p.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
            continue;
        };
        let Ok(ft) = std::fs::symlink_metadata(&p).map(|m| m.file_type()) else {
            continue;
        };
        if ft.is_file() {
            if let Some(k) = LockKind::detect(&name) {
                out.push(Source {
                    path: p,
                    kind: SourceKind::LockFile(k),
                });
            }
        } else if ft.is_dir() {
            if p.join("pyvenv.cfg").is_file() {
                out.push(Source {
                    path: p,
                    kind: SourceKind::PythonEnv,
                });
            } else if depth < MAX_DEPTH
                && !SKIP_DIRS.contains(&name.as_str())
                && !name.starts_with('.')
            {
                walk(&p, depth + 1, out)?;
            }
        }
    }
    Ok(())
}

/// Catalog everything found at `path` into one SBOM.
pub fn catalog_path(path: &Path) -> Result<Sbom> {
    catalog_sources(&[path.to_path_buf()], &[])
}

/// Catalog several paths (each detected as in [`Source::detect`]) plus explicit Python
/// environments, merged into one SBOM. Any source that fails to parse fails the whole SBOM:
/// a partial SBOM is never presented as complete.
pub fn catalog_sources(paths: &[PathBuf], python_envs: &[PathBuf]) -> Result<Sbom> {
    let mut sources = Vec::new();
    for p in paths {
        sources.extend(Source::detect(p)?);
    }
    for p in python_envs {
        sources.push(Source {
            path: p.clone(),
            kind: SourceKind::PythonEnv,
        });
    }
    let mut sbom = Sbom::default();
    for s in &sources {
        sbom.merge(s.catalog()?);
    }
    sbom.coalesce_pypi_spellings();
    sbom.normalize();
    Ok(sbom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_package_from_two_sources_spelled_two_ways_is_listed_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "zope.interface==6.4\n").unwrap();
        std::fs::write(
            dir.path().join("b/requirements.txt"),
            "zope-interface==6.4\n",
        )
        .unwrap();
        let sbom = catalog_path(dir.path()).unwrap();
        let purls: Vec<_> = sbom
            .components
            .iter()
            .filter_map(|c| c.purl.as_deref())
            .collect();
        assert_eq!(purls, ["pkg:pypi/zope.interface@6.4"]);
        let found_in = &sbom.components[0].properties[crate::PROP_FOUND_IN];
        assert_eq!(found_in.lines().count(), 2, "{found_in}");
    }
}

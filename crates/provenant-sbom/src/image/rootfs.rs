//! What is inside a root file system: the OS packages (dpkg, apk) and Python
//! distributions, read from a merged image file system or a directory on disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::layer::python_file;
use super::vfs::Vfs;
use crate::error::{Result, SbomError};
use crate::model::Sbom;
use crate::os_pkgs;
use crate::python::{PythonDist, catalog_dists};

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

pub(super) fn distro(vfs: &Vfs) -> Distro {
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
pub(super) fn catalog_rootfs_vfs(vfs: &Vfs, label: &str) -> Result<Sbom> {
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

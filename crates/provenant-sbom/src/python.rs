//! Installed Python distributions: `*.dist-info/METADATA` (core metadata,
//! <https://packaging.python.org/en/latest/specifications/core-metadata/>), `RECORD`
//! (<https://packaging.python.org/en/latest/specifications/recording-installed-packages/>),
//! `direct_url.json`, and legacy `*.egg-info` (`PKG-INFO`, `requires.txt`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Result, SbomError};
use crate::license;
use crate::model::{
    Component, ExternalRef, FileEntry, Hash, HashAlg, License, Sbom, Supplier, Warning,
};
use crate::purl::Purl;
use crate::util::{b64_decode, pep503, split_contact};

/// The raw files of one installed distribution, wherever they were read from
/// (a directory on disk, a container image).
#[derive(Debug, Clone, Default)]
pub struct PythonDist {
    /// Where it was found (the `.dist-info` / `.egg-info` path), used in warnings and properties.
    pub location: String,
    /// Path of the metadata file (`…/METADATA`, `…/PKG-INFO`, or the `.egg-info` file itself).
    pub metadata_path: String,
    /// `METADATA` / `PKG-INFO` bytes.
    pub metadata: Vec<u8>,
    /// `RECORD` bytes (dist-info only).
    pub record: Option<Vec<u8>>,
    /// `direct_url.json` bytes.
    pub direct_url: Option<Vec<u8>>,
    /// `requires.txt` bytes (egg-info only).
    pub requires_txt: Option<Vec<u8>>,
}

/// The site-packages directories of `dir`: `dir` itself when it holds distributions, else those
/// of a venv or prefix (`lib/python3.*/site-packages`, `lib/python3/dist-packages`, `Lib/site-packages`).
pub fn find_site_packages(dir: &Path) -> Result<Vec<PathBuf>> {
    if holds_distributions(dir)? {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut found = Vec::new();
    for lib in ["lib", "lib64", "local/lib"] {
        let lib = dir.join(lib);
        let Ok(rd) = std::fs::read_dir(&lib) else {
            continue;
        };
        let mut names: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        names.sort();
        for p in names {
            let is_python = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("python"));
            if !is_python {
                continue;
            }
            for sub in ["site-packages", "dist-packages"] {
                let sp = p.join(sub);
                if sp.is_dir() && !found.iter().any(|f: &PathBuf| same_dir(f, &sp)) {
                    found.push(sp);
                }
            }
        }
    }
    let win = dir.join("Lib").join("site-packages");
    if win.is_dir() {
        found.push(win);
    }
    Ok(found)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn holds_distributions(dir: &Path) -> Result<bool> {
    let rd = std::fs::read_dir(dir).map_err(|e| SbomError::io(dir, e))?;
    Ok(rd.filter_map(|e| e.ok()).any(|e| {
        let n = e.file_name();
        let n = n.to_string_lossy();
        n.ends_with(".dist-info") || n.ends_with(".egg-info")
    }))
}

/// Catalog an installed Python environment: a site-packages directory, a venv or a prefix.
pub fn catalog_python_env(dir: &Path) -> Result<Sbom> {
    let sites = find_site_packages(dir)?;
    if sites.is_empty() {
        return Err(SbomError::NothingToCatalog {
            path: dir.to_path_buf(),
        });
    }
    let mut sbom = Sbom::default();
    for site in sites {
        let (dists, warnings) = read_site_packages(&site)?;
        let mut part = catalog_dists(dists);
        part.warnings.extend(warnings);
        sbom.merge(part);
    }
    Ok(sbom)
}

/// Read the metadata files of every distribution directly under one site-packages directory.
pub fn read_site_packages(site: &Path) -> Result<(Vec<PythonDist>, Vec<Warning>)> {
    let rd = std::fs::read_dir(site).map_err(|e| SbomError::io(site, e))?;
    let mut entries: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".dist-info") || n.ends_with(".egg-info"))
        })
        .collect();
    entries.sort();
    // Reading is I/O bound: a few threads over interleaved slices, results back in order.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let mut slots: Vec<Option<std::result::Result<PythonDist, Warning>>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let entries = &entries;
                s.spawn(move || {
                    entries
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % threads == t)
                        .map(|(i, p)| (i, read_dist(p)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        slots = (0..entries.len()).map(|_| None).collect();
        for h in handles {
            // A panicking reader thread would be a bug in this function, not bad input.
            for (i, r) in h.join().unwrap_or_default() {
                slots[i] = Some(r);
            }
        }
    });
    let mut dists = Vec::new();
    let mut warnings = Vec::new();
    for r in slots.into_iter().flatten() {
        match r {
            Ok(d) => dists.push(d),
            Err(w) => warnings.push(w),
        }
    }
    Ok((dists, warnings))
}

fn read_dist(p: &Path) -> std::result::Result<PythonDist, Warning> {
    let is_dist_info = p.extension().is_some_and(|e| e == "dist-info");
    let is_dir = p.is_dir();
    let meta_path = match (is_dist_info, is_dir) {
        (true, _) => p.join("METADATA"),
        (false, true) => p.join("PKG-INFO"),
        (false, false) => p.to_path_buf(),
    };
    let metadata = std::fs::read(&meta_path).map_err(|e| Warning {
        file: meta_path.display().to_string(),
        line: 0,
        message: format!("unreadable metadata, distribution skipped: {e}"),
    })?;
    let opt = |f: &str| std::fs::read(p.join(f)).ok();
    let mut d = PythonDist {
        location: p.display().to_string(),
        metadata_path: meta_path.display().to_string(),
        metadata,
        ..PythonDist::default()
    };
    if is_dist_info {
        d.record = opt("RECORD");
        d.direct_url = opt("direct_url.json");
    } else if is_dir {
        d.requires_txt = opt("requires.txt");
    }
    Ok(d)
}

/// Parsed core-metadata headers: lowercase name → values with their 1-based line.
struct Headers(BTreeMap<String, Vec<(String, usize)>>);

impl Headers {
    fn first(&self, k: &str) -> Option<&str> {
        self.0
            .get(k)
            .and_then(|v| v.first())
            .map(|(s, _)| s.as_str())
            .filter(|s| !s.trim().is_empty())
    }
    fn all(&self, k: &str) -> impl Iterator<Item = &str> {
        self.0.get(k).into_iter().flatten().map(|(s, _)| s.as_str())
    }
}

/// Parse RFC 822-style headers up to the first blank line (the body is the long description).
fn parse_headers(text: &str, file: &str) -> std::result::Result<Headers, Warning> {
    let mut map: BTreeMap<String, Vec<(String, usize)>> = BTreeMap::new();
    let mut last: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(k) = &last
                && let Some((v, _)) = map.get_mut(k).and_then(|v| v.last_mut())
            {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            return Err(Warning {
                file: file.to_string(),
                line: lineno,
                message: format!("not a metadata header: {:?}", truncate(line, 60)),
            });
        };
        let k = k.trim().to_ascii_lowercase();
        map.entry(k.clone())
            .or_default()
            .push((v.trim().to_string(), lineno));
        last = Some(k);
    }
    Ok(Headers(map))
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Turn distributions (one environment) into components with `depends-on` edges resolved
/// within that environment.
pub fn catalog_dists(dists: Vec<PythonDist>) -> Sbom {
    let mut sbom = Sbom::default();
    let mut requires: Vec<(String, Vec<String>)> = Vec::new();
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for d in dists {
        match dist_component(&d) {
            Ok((c, reqs, warns)) => {
                sbom.warnings.extend(warns);
                by_name
                    .entry(pep503(&c.name))
                    .or_insert_with(|| c.bom_ref.clone());
                requires.push((c.bom_ref.clone(), reqs));
                sbom.add(c);
            }
            Err(w) => sbom.warnings.push(w),
        }
    }
    for (from, reqs) in requires {
        for r in reqs {
            if let Some(to) = by_name.get(&pep503(&r))
                && *to != from
            {
                sbom.dependencies
                    .entry(from.clone())
                    .or_default()
                    .insert(to.clone());
            }
        }
        sbom.dependencies.entry(from).or_default();
    }
    sbom
}

type DistParts = (Component, Vec<String>, Vec<Warning>);

fn dist_component(d: &PythonDist) -> std::result::Result<DistParts, Warning> {
    let meta_file = d.metadata_path.clone();
    let mut warnings = Vec::new();
    let text = match std::str::from_utf8(&d.metadata) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(e) => {
            let line = crate::util::line_of(
                &String::from_utf8_lossy(&d.metadata[..e.valid_up_to()]),
                e.valid_up_to(),
            );
            warnings.push(Warning {
                file: meta_file.clone(),
                line,
                message: "metadata is not valid UTF-8; invalid bytes replaced".into(),
            });
            String::from_utf8_lossy(&d.metadata)
        }
    };
    let h = parse_headers(&text, &meta_file)?;
    let (Some(name), Some(version)) = (h.first("name"), h.first("version")) else {
        return Err(Warning {
            file: meta_file,
            line: 0,
            message: "metadata lacks Name or Version; distribution skipped".into(),
        });
    };
    let name = name.trim().to_string();
    let version = version.trim().to_string();
    let purl = Purl::pypi(&name, Some(&version)).to_string();
    let mut c = Component {
        bom_ref: purl.clone(),
        name,
        version: Some(version),
        purl: Some(purl),
        description: h.first("summary").map(|s| s.trim().to_string()),
        ..Component::default()
    };
    c.licenses = python_licenses(&h);
    c.supplier = ["maintainer", "author", "maintainer-email", "author-email"]
        .iter()
        .find_map(|k| h.first(k))
        .map(|s| {
            // Author-email may list several: keep the first.
            let first = s.split(',').next().unwrap_or(s);
            let (name, email) = split_contact(first);
            Supplier { name, email }
        });
    if let Some(home) = h.first("home-page").and_then(clean_url) {
        c.external_refs.push(ExternalRef {
            kind: "website".into(),
            url: home,
        });
    }
    for pu in h.all("project-url") {
        let Some((label, url)) = pu.split_once(',') else {
            continue;
        };
        let Some(url) = clean_url(url) else { continue };
        let l = label.trim().to_ascii_lowercase();
        let kind =
            if ["source", "repository", "code", "source code", "github"].contains(&l.as_str()) {
                "vcs"
            } else if l.contains("issue") || l.contains("bug") || l.contains("tracker") {
                "issue-tracker"
            } else if l.contains("doc") {
                "documentation"
            } else {
                "website"
            };
        c.external_refs.push(ExternalRef {
            kind: kind.into(),
            url,
        });
    }
    c.properties
        .insert(crate::PROP_FOUND_IN.into(), d.location.clone());
    if let Some(rec) = &d.record {
        c.files = parse_record(rec, &format!("{}/RECORD", d.location), &mut warnings);
    }
    if let Some(du) = &d.direct_url {
        direct_url(&mut c, du);
    }
    let mut reqs: Vec<String> = h
        .all("requires-dist")
        .filter_map(requirement_name_unless_extra)
        .collect();
    if let Some(rt) = &d.requires_txt {
        for line in String::from_utf8_lossy(rt).lines() {
            let l = line.trim();
            if l.starts_with('[') {
                break; // extras / conditional sections follow
            }
            if let Some(n) = requirement_name_unless_extra(l) {
                reqs.push(n);
            }
        }
    }
    Ok((c, reqs, warnings))
}

fn python_licenses(h: &Headers) -> Vec<License> {
    if let Some(expr) = h.first("license-expression")
        && let Some(l) = license::as_spdx(expr.trim())
    {
        return vec![l];
    }
    let mut out: Vec<License> = h
        .all("classifier")
        .filter_map(license::from_classifier)
        .collect();
    if let Some(l) = h.first("license").and_then(license::normalize) {
        match &l {
            License::Spdx(_) if !out.contains(&l) => out.push(l),
            License::Named(_) if out.is_empty() => out.push(l),
            _ => {}
        }
    }
    if out.is_empty()
        && let Some(expr) = h.first("license-expression").and_then(license::normalize)
    {
        out.push(expr);
    }
    if out.is_empty() {
        // A classifier that names no single SPDX licence ("BSD License") is still a declaration.
        out.extend(
            h.all("classifier")
                .filter(|c| c.starts_with("License ::"))
                .map(|c| License::Named(c.trim().to_string())),
        );
    }
    out
}

fn clean_url(u: &str) -> Option<String> {
    let u = u.trim();
    (u.contains("://") && !u.chars().any(|c| c.is_whitespace() || c.is_control()) && u.len() < 2048)
        .then(|| u.to_string())
}

/// The distribution name of a PEP 508 requirement, `None` when it only applies to an extra.
fn requirement_name_unless_extra(req: &str) -> Option<String> {
    let (spec, marker) = match req.split_once(';') {
        Some((s, m)) => (s, Some(m)),
        None => (req, None),
    };
    if marker.is_some_and(|m| m.contains("extra")) {
        return None;
    }
    let name: String = spec
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Parse a `RECORD` file: CSV rows `path,algo=urlsafe-b64-digest,size`.
pub(crate) fn parse_record(
    bytes: &[u8],
    file: &str,
    warnings: &mut Vec<Warning>,
) -> Vec<FileEntry> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some(fields) = csv_row(line) else {
            warnings.push(Warning {
                file: file.to_string(),
                line: i + 1,
                message: "malformed RECORD row (unbalanced quotes)".into(),
            });
            continue;
        };
        let [path, hash, size] = fields.as_slice() else {
            warnings.push(Warning {
                file: file.to_string(),
                line: i + 1,
                message: format!("RECORD row has {} fields, expected 3", fields.len()),
            });
            continue;
        };
        if hash.is_empty() {
            continue; // RECORD itself, *.pyc: not hashed by design
        }
        // The spec says urlsafe-base64; Debian's python3-* packages write hex. Both are
        // unambiguous by length.
        let parsed = hash.split_once('=').and_then(|(alg, digest)| {
            let alg = HashAlg::parse(alg)?;
            if digest.len() == alg.hex_len() {
                Hash::new(alg, digest)
            } else {
                Hash::from_bytes(alg, &b64_decode(digest)?)
            }
        });
        let Some(h) = parsed else {
            warnings.push(Warning {
                file: file.to_string(),
                line: i + 1,
                message: format!("unrecognised RECORD hash {:?}", truncate(hash, 40)),
            });
            continue;
        };
        out.push(FileEntry {
            path: path.clone(),
            hashes: vec![h],
            size: size.parse().ok(),
            properties: BTreeMap::new(),
        });
    }
    out
}

/// Split one CSV line (RFC 4180 quoting, as Python's `csv` module writes it).
fn csv_row(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(ch) = chars.next() {
        match (quoted, ch) {
            (false, ',') => fields.push(std::mem::take(&mut cur)),
            (false, '"') if cur.is_empty() => quoted = true,
            (true, '"') => {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            }
            (_, c) => cur.push(c),
        }
    }
    if quoted {
        return None;
    }
    fields.push(cur);
    Some(fields)
}

fn direct_url(c: &mut Component, bytes: &[u8]) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return;
    };
    if let Some(url) = v.get("url").and_then(|u| u.as_str()).and_then(clean_url)
        && !url.starts_with("file:")
    {
        c.external_refs.push(ExternalRef {
            kind: "distribution".into(),
            url,
        });
    }
    let archive = v.get("archive_info");
    if let Some(hashes) = archive
        .and_then(|a| a.get("hashes"))
        .and_then(|h| h.as_object())
    {
        for (alg, hex) in hashes {
            if let (Some(alg), Some(hex)) = (HashAlg::parse(alg), hex.as_str())
                && let Some(h) = Hash::new(alg, hex)
            {
                c.hashes.push(h);
            }
        }
    } else if let Some(h) = archive
        .and_then(|a| a.get("hash"))
        .and_then(|h| h.as_str())
        .and_then(Hash::parse_prefixed)
    {
        c.hashes.push(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = "Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 1.2.3\nSummary: A thing\nLicense: BSD\n        more text\nClassifier: License :: OSI Approved :: MIT License\nRequires-Dist: requests (>=2)\nRequires-Dist: pytest ; extra == 'test'\nAuthor-email: Jane <jane@example.org>\nProject-URL: Source, https://example.org/foo\n\nLong: description: here\n";

    #[test]
    fn parses_metadata_and_record() {
        let d = PythonDist {
            location: "/sp/Foo_Bar-1.2.3.dist-info".into(),
            metadata: META.as_bytes().to_vec(),
            record: Some(b"foo/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n\"foo/a,b.py\",sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\nFoo_Bar-1.2.3.dist-info/RECORD,,\nhex.py,sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855,0\n".to_vec()),
            ..PythonDist::default()
        };
        let req = PythonDist {
            location: "/sp/requests-2.0.dist-info".into(),
            metadata: b"Name: requests\nVersion: 2.0\nLicense-Expression: Apache-2.0\n".to_vec(),
            ..PythonDist::default()
        };
        let sbom = catalog_dists(vec![d, req]);
        assert!(sbom.warnings.is_empty(), "{:?}", sbom.warnings);
        let c = sbom.component("pkg:pypi/foo-bar@1.2.3").unwrap();
        assert_eq!(c.licenses, vec![License::Spdx("MIT".into())]);
        assert_eq!(c.supplier.as_ref().unwrap().name, "Jane");
        assert_eq!(c.files.len(), 3, "hex digests (Debian) are accepted too");
        assert_eq!(c.files[1].path, "foo/a,b.py");
        assert_eq!(
            c.files[0].hashes[0].hex,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(c.external_refs[0].kind, "vcs");
        let deps = &sbom.dependencies["pkg:pypi/foo-bar@1.2.3"];
        assert!(deps.contains("pkg:pypi/requests@2.0"));
        assert_eq!(deps.len(), 1, "extra-only requirement must not be an edge");
    }

    #[test]
    fn missing_version_is_a_warning_naming_the_file() {
        let d = PythonDist {
            location: "/sp/x.dist-info".into(),
            metadata_path: "/sp/x.dist-info/METADATA".into(),
            metadata: b"Name: x\n".to_vec(),
            ..PythonDist::default()
        };
        let sbom = catalog_dists(vec![d]);
        assert!(sbom.components.is_empty());
        assert_eq!(sbom.warnings[0].file, "/sp/x.dist-info/METADATA");
    }

    #[test]
    fn garbage_header_names_its_line() {
        let d = PythonDist {
            location: "/sp/x.dist-info".into(),
            metadata_path: "/sp/x.dist-info/METADATA".into(),
            metadata: b"Name: x\nVersion: 1\nthis is not a header\n".to_vec(),
            ..PythonDist::default()
        };
        let sbom = catalog_dists(vec![d]);
        assert_eq!(sbom.warnings[0].line, 3);
        assert!(!sbom.is_complete());
    }
}

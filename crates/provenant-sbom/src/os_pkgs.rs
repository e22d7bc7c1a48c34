//! OS package databases: dpkg's `status` (deb822 stanzas, <https://man7.org/linux/man-pages/man1/dpkg-query.1.html>)
//! with licences from machine-readable `debian/copyright` files (DEP-5,
//! <https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/>), and Alpine's
//! `lib/apk/db/installed` (<https://wiki.alpinelinux.org/wiki/Apk_spec>).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::image::Distro;
use crate::license;
use crate::model::{Component, ComponentKind, ExternalRef, License, Sbom, Supplier, Warning};
use crate::purl::Purl;
use crate::util::split_contact;

/// One deb822 stanza: field name → (value, line of the field).
type Stanza = BTreeMap<String, (String, usize)>;

fn stanzas(text: &str, file: &str, warnings: &mut Vec<Warning>) -> Vec<(usize, Stanza)> {
    let mut out = Vec::new();
    let mut cur = Stanza::new();
    let mut start = 1;
    let mut last: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push((start, std::mem::take(&mut cur)));
            }
            last = None;
            start = lineno + 1;
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(v) = last.as_ref().and_then(|k| cur.get_mut(k)) {
                v.0.push('\n');
                v.0.push_str(line.trim());
            }
            continue;
        }
        match line.split_once(':') {
            Some((k, v)) => {
                cur.insert(k.trim().to_string(), (v.trim().to_string(), lineno));
                last = Some(k.trim().to_string());
            }
            None => warnings.push(Warning {
                file: file.into(),
                line: lineno,
                message: format!(
                    "not a field: {:?}",
                    line.chars().take(60).collect::<String>()
                ),
            }),
        }
    }
    if !cur.is_empty() {
        out.push((start, cur));
    }
    out
}

fn deb_namespace(d: &Distro) -> &str {
    match d.id.as_str() {
        "ubuntu" => "ubuntu",
        _ => "debian",
    }
}

fn distro_qualifier(d: &Distro) -> Option<String> {
    d.version_id.as_ref().map(|v| format!("{}-{v}", d.id))
}

/// Catalog a dpkg status database (or one `status.d/` file). `copyright` returns the
/// `usr/share/doc/<package>/copyright` file of a package, if present.
pub(crate) fn catalog_dpkg(
    text: &str,
    file: &str,
    distro: &Distro,
    copyright: &dyn Fn(&str) -> Option<Arc<Vec<u8>>>,
) -> Sbom {
    let mut sbom = Sbom::default();
    let mut warnings = Vec::new();
    let mut provides: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut deps: Vec<(String, String)> = Vec::new();
    let ns = deb_namespace(distro);
    let distro_q = distro_qualifier(distro);
    for (line, st) in stanzas(text, file, &mut warnings) {
        let get = |k: &str| st.get(k).map(|(v, _)| v.as_str());
        // status.d files (distroless) have no Status field: they list installed packages only.
        if let Some(status) = get("Status")
            && status.split_whitespace().nth(2) != Some("installed")
        {
            continue;
        }
        let (Some(name), Some(version)) = (get("Package"), get("Version")) else {
            warnings.push(Warning {
                file: file.into(),
                line,
                message: "stanza lacks Package or Version".into(),
            });
            continue;
        };
        let arch = get("Architecture");
        let purl = Purl::new("deb", name)
            .with_namespace(ns)
            .with_version(Some(version))
            .with_qualifier("arch", arch)
            .with_qualifier("distro", distro_q.as_deref())
            .to_string();
        let mut c = Component {
            kind: ComponentKind::Library,
            bom_ref: purl.clone(),
            name: name.to_string(),
            version: Some(version.to_string()),
            purl: Some(purl.clone()),
            description: get("Description").map(|d| d.lines().next().unwrap_or(d).to_string()),
            ..Component::default()
        };
        if let Some(m) = get("Maintainer") {
            let (name, email) = split_contact(m);
            c.supplier = Some(Supplier { name, email });
        }
        if let Some(h) =
            get("Homepage").filter(|h| h.contains("://") && !h.contains(char::is_whitespace))
        {
            c.external_refs.push(ExternalRef {
                kind: "website".into(),
                url: h.to_string(),
            });
        }
        if let Some(src) = get("Source") {
            c.properties
                .insert("provenant:deb:source".into(), src.to_string());
        }
        c.properties
            .insert(crate::PROP_FOUND_IN.into(), file.into());
        if let Some(cr) = copyright(name) {
            c.licenses = dep5_licenses(&String::from_utf8_lossy(&cr));
        }
        for p in get("Provides").into_iter().flat_map(|p| p.split(',')) {
            let pn = p.trim().split([' ', '(', ':']).next().unwrap_or_default();
            if !pn.is_empty() {
                provides
                    .entry(pn.to_string())
                    .or_default()
                    .push(purl.clone());
            }
        }
        provides
            .entry(name.to_string())
            .or_default()
            .insert(0, purl.clone());
        for field in ["Pre-Depends", "Depends"] {
            if let Some(d) = get(field) {
                deps.push((purl.clone(), d.to_string()));
            }
        }
        sbom.dependencies.entry(purl).or_default();
        sbom.add(c);
    }
    for (from, spec) in deps {
        for group in spec.split(',') {
            // Alternatives "a | b": the first one installed satisfies the dependency.
            let target = group.split('|').find_map(|alt| {
                let n = alt.trim().split([' ', '(', ':']).next().unwrap_or_default();
                provides.get(n).and_then(|v| v.first()).cloned()
            });
            if let Some(to) = target
                && to != from
            {
                sbom.dependencies
                    .entry(from.clone())
                    .or_default()
                    .insert(to);
            }
        }
    }
    sbom.warnings.extend(warnings);
    sbom
}

/// Map a DEP-5 short licence name to SPDX.
fn dep5_id(tok: &str) -> Option<String> {
    let (base, plus) = match tok.strip_suffix('+') {
        Some(b) => (b, true),
        None => (tok, false),
    };
    let lower = base.to_ascii_lowercase();
    let gnu = |family: &str, ver: &str| {
        format!("{family}-{ver}-{}", if plus { "or-later" } else { "only" })
    };
    for family in ["GPL", "LGPL", "AGPL", "GFDL"] {
        if let Some(ver) = lower
            .strip_prefix(&family.to_ascii_lowercase())
            .and_then(|r| r.strip_prefix('-'))
        {
            let ver = if ver.contains('.') {
                ver.to_string()
            } else {
                format!("{ver}.0")
            };
            let id = gnu(family, &ver);
            return spdx::license_id(&id).map(|_| id);
        }
    }
    let mapped = match lower.as_str() {
        "expat" => "MIT",
        "bsd-2-clause" => "BSD-2-Clause",
        "bsd-3-clause" => "BSD-3-Clause",
        "bsd-4-clause" => "BSD-4-Clause",
        "apache-2.0" => "Apache-2.0",
        "zlib" => "Zlib",
        "isc" => "ISC",
        "mpl-2.0" => "MPL-2.0",
        "mpl-1.1" => "MPL-1.1",
        "psf-2" | "python-2.0" => "Python-2.0",
        "artistic-2.0" => "Artistic-2.0",
        "cc0-1.0" | "cc0" => "CC0-1.0",
        "unicode-dfs-2016" => "Unicode-DFS-2016",
        "openssl" => "OpenSSL",
        "curl" => "curl",
        _ => {
            return if !plus && spdx::license_id(base).is_some() && !base.contains(' ') {
                Some(base.to_string())
            } else {
                None
            };
        }
    };
    (!plus).then(|| mapped.to_string())
}

/// Licences of a machine-readable copyright file: the distinct `License:` short names of its
/// stanzas, as SPDX expressions where every name maps, else free text. Non-DEP-5 files: none.
pub(crate) fn dep5_licenses(text: &str) -> Vec<License> {
    if !text.starts_with("Format:") {
        return Vec::new();
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(v) = line.strip_prefix("License:") else {
            continue;
        };
        let v = v.trim();
        if v.is_empty() || !seen.insert(v.to_string()) {
            continue;
        }
        let mut expr = Vec::new();
        let mut ok = true;
        for tok in v.replace(',', " ").split_whitespace() {
            match tok.to_ascii_lowercase().as_str() {
                "or" => expr.push("OR".to_string()),
                "and" => expr.push("AND".to_string()),
                "with" => expr.push("WITH".to_string()),
                _ => {
                    match dep5_id(tok).or_else(|| spdx::exception_id(tok).map(|_| tok.to_string()))
                    {
                        Some(id) => expr.push(id),
                        None => {
                            ok = false;
                            break;
                        }
                    }
                }
            }
        }
        let joined = expr.join(" ");
        let l = if ok { license::as_spdx(&joined) } else { None };
        let l = l.unwrap_or_else(|| License::Named(v.chars().take(120).collect()));
        if !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

/// Catalog Alpine's installed database.
pub(crate) fn catalog_apk(text: &str, file: &str, distro: &Distro) -> Sbom {
    let mut sbom = Sbom::default();
    let distro_q = distro_qualifier(distro);
    let mut provides: BTreeMap<String, String> = BTreeMap::new();
    let mut deps: Vec<(String, String)> = Vec::new();
    let mut fields: BTreeMap<char, String> = BTreeMap::new();
    let mut start = 1;
    let lines: Vec<&str> = text.lines().chain(std::iter::once("")).collect();
    for (i, line) in lines.iter().enumerate() {
        if !line.trim().is_empty() {
            let mut chars = line.chars();
            if let (Some(k), Some(':')) = (chars.next(), chars.next()) {
                // Only the first occurrence of single-valued fields (later ones are per-file: R:, Z:, ...).
                fields
                    .entry(k)
                    .or_insert_with(|| chars.as_str().to_string());
            } else {
                sbom.warnings.push(Warning {
                    file: file.into(),
                    line: i + 1,
                    message: "not an apk database line".into(),
                });
            }
            continue;
        }
        if fields.is_empty() {
            start = i + 2;
            continue;
        }
        let f = std::mem::take(&mut fields);
        let (Some(name), Some(version)) = (f.get(&'P'), f.get(&'V')) else {
            sbom.warnings.push(Warning {
                file: file.into(),
                line: start,
                message: "package lacks P: or V:".into(),
            });
            start = i + 2;
            continue;
        };
        let purl = Purl::new("apk", name)
            .with_namespace("alpine")
            .with_version(Some(version))
            .with_qualifier("arch", f.get(&'A').map(String::as_str))
            .with_qualifier("distro", distro_q.as_deref())
            .to_string();
        let mut c = Component {
            bom_ref: purl.clone(),
            name: name.clone(),
            version: Some(version.clone()),
            purl: Some(purl.clone()),
            description: f.get(&'T').cloned(),
            ..Component::default()
        };
        if let Some(l) = f.get(&'L') {
            c.licenses.extend(license::normalize(l));
        }
        if let Some(m) = f.get(&'m') {
            let (name, email) = split_contact(m);
            c.supplier = Some(Supplier { name, email });
        }
        if let Some(u) = f
            .get(&'U')
            .filter(|u| u.contains("://") && !u.contains(char::is_whitespace))
        {
            c.external_refs.push(ExternalRef {
                kind: "website".into(),
                url: u.clone(),
            });
        }
        if let Some(o) = f.get(&'o') {
            c.properties
                .insert("provenant:apk:origin".into(), o.clone());
        }
        if let Some(cs) = f.get(&'C') {
            c.properties
                .insert("provenant:apk:checksum".into(), cs.clone());
        }
        c.properties
            .insert(crate::PROP_FOUND_IN.into(), file.into());
        provides.insert(name.clone(), purl.clone());
        for p in f.get(&'p').into_iter().flat_map(|p| p.split_whitespace()) {
            let pn = p.split('=').next().unwrap_or(p);
            provides
                .entry(pn.to_string())
                .or_insert_with(|| purl.clone());
        }
        if let Some(d) = f.get(&'D') {
            deps.push((purl.clone(), d.clone()));
        }
        sbom.dependencies.entry(purl).or_default();
        sbom.add(c);
        start = i + 2;
    }
    for (from, spec) in deps {
        for d in spec.split_whitespace() {
            if d.starts_with('!') {
                continue; // conflict, not a dependency
            }
            let n = d.split(['<', '>', '=', '~']).next().unwrap_or(d);
            if let Some(to) = provides.get(n)
                && *to != from
            {
                sbom.dependencies
                    .entry(from.clone())
                    .or_default()
                    .insert(to.clone());
            }
        }
    }
    sbom
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debian() -> Distro {
        Distro {
            id: "debian".into(),
            version_id: Some("12".into()),
        }
    }

    #[test]
    fn dpkg_stanzas_and_deps() {
        let text = "Package: a\nStatus: install ok installed\nVersion: 1:1.0+x-1\nArchitecture: amd64\nMaintainer: Jo <jo@example.org>\nDepends: b (>= 1), c | d\nDescription: first line\n second line\n\nPackage: b\nStatus: install ok installed\nVersion: 2\nArchitecture: all\nProvides: d\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n";
        let none = |_: &str| None;
        let s = catalog_dpkg(text, "status", &debian(), &none);
        assert_eq!(s.components.len(), 2);
        let a = "pkg:deb/debian/a@1%3A1.0%2Bx-1?arch=amd64&distro=debian-12";
        let c = s.component(a).unwrap();
        assert_eq!(c.description.as_deref(), Some("first line"));
        assert_eq!(c.supplier.as_ref().unwrap().name, "Jo");
        assert_eq!(
            s.dependencies[a].len(),
            1,
            "b satisfies b, and d via Provides: same target"
        );
    }

    #[test]
    fn dep5() {
        let text = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-2+\n\nFiles: x\nLicense: BSD-3-clause or Expat\n\nFiles: y\nLicense: Custom-Thing\n";
        assert_eq!(
            dep5_licenses(text),
            vec![
                License::Spdx("GPL-2.0-or-later".into()),
                License::Spdx("BSD-3-Clause OR MIT".into()),
                License::Named("Custom-Thing".into())
            ]
        );
        assert!(dep5_licenses("This package was debianized by ...").is_empty());
    }

    #[test]
    fn apk() {
        let text = "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\nT:the musl c library\no:musl\nm:Someone <s@example.org>\np:so:libc.musl-x86_64.so.1=1\nF:lib\nR:ld-musl-x86_64.so.1\n\nP:busybox\nV:1.36.1-r5\nA:x86_64\nL:GPL-2.0-only\nD:so:libc.musl-x86_64.so.1 !conflict\n";
        let s = catalog_apk(
            text,
            "installed",
            &Distro {
                id: "alpine".into(),
                version_id: Some("3.19.1".into()),
            },
        );
        assert_eq!(s.components.len(), 2);
        let bb = "pkg:apk/alpine/busybox@1.36.1-r5?arch=x86_64&distro=alpine-3.19.1";
        assert!(
            s.dependencies[bb]
                .contains("pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1")
        );
        assert_eq!(
            s.component(bb).unwrap().licenses,
            vec![License::Spdx("GPL-2.0-only".into())]
        );
    }
}

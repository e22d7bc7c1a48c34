//! npm `package-lock.json` / `npm-shrinkwrap.json` (lockfileVersion 2 or 3).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{find_line, found_in, json_err};
use crate::error::{Result, SbomError};
use crate::license;
use crate::model::{Component, ComponentKind, ExternalRef, Hash, HashAlg, Sbom, Warning};
use crate::purl::Purl;
use crate::util::b64_decode;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackageLock {
    lockfile_version: Option<u64>,
    #[serde(default)]
    packages: BTreeMap<String, NpmPackage>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct NpmPackage {
    name: Option<String>,
    version: Option<String>,
    resolved: Option<String>,
    integrity: Option<String>,
    license: Option<serde_json::Value>,
    #[serde(default)]
    link: bool,
    #[serde(default)]
    dev: bool,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    dependencies: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, serde_json::Value>,
}

/// Parse npm's `package-lock.json` (lockfileVersion 2 or 3: the `packages` map).
pub fn parse_package_lock(text: &str, file: &str) -> Result<Sbom> {
    let lock: PackageLock = serde_json::from_str(text).map_err(|e| json_err(&e, file))?;
    match lock.lockfile_version {
        Some(2 | 3) => {}
        other => {
            return Err(SbomError::Unsupported {
                file: file.into(),
                what: format!(
                    "package-lock.json lockfileVersion {} (only 2 and 3 are supported; run npm 7 or later)",
                    other.map_or_else(|| "missing".to_string(), |v| v.to_string())
                ),
            });
        }
    }
    let mut sbom = Sbom::default();
    // path key → bom_ref
    let mut refs: BTreeMap<&str, String> = BTreeMap::new();
    for (key, p) in &lock.packages {
        if p.link {
            continue;
        }
        let derived = key.rsplit_once("node_modules/").map(|(_, n)| n);
        let Some(full_name) = p.name.as_deref().or(derived).filter(|n| !n.is_empty()) else {
            if key.is_empty() {
                continue; // nameless root project
            }
            return Err(SbomError::parse(
                file,
                find_line(text, &format!("\"{key}\"")),
                format!("package {key:?} has no name"),
            ));
        };
        let (ns, name) = match full_name.split_once('/') {
            Some((scope, n)) if scope.starts_with('@') => (Some(scope), n),
            _ => (None, full_name),
        };
        let mut purl = Purl::new("npm", name).with_version(p.version.as_deref());
        if let Some(ns) = ns {
            purl = purl.with_namespace(ns);
        }
        let purl = purl.to_string();
        let local = key.is_empty() || !key.contains("node_modules/");
        let mut c = Component {
            kind: if local {
                ComponentKind::Application
            } else {
                ComponentKind::Library
            },
            bom_ref: purl.clone(),
            name: full_name.to_string(),
            version: p.version.clone(),
            purl: Some(purl.clone()),
            ..Component::default()
        };
        found_in(&mut c, file);
        if let Some(integrity) = &p.integrity {
            for sri in integrity.split_whitespace() {
                let h = sri
                    .split_once('-')
                    .and_then(|(alg, b64)| Some((HashAlg::parse(alg)?, b64_decode(b64)?)))
                    .and_then(|(alg, raw)| Hash::from_bytes(alg, &raw))
                    .ok_or_else(|| {
                        SbomError::parse(
                            file,
                            find_line(text, sri),
                            format!("{key}: malformed integrity {sri:?}"),
                        )
                    })?;
                c.hashes.push(h);
            }
        }
        if let Some(r) = p.resolved.as_deref().filter(|r| r.contains("://")) {
            c.external_refs.push(ExternalRef {
                kind: "distribution".into(),
                url: r.into(),
            });
        }
        if let Some(l) = p
            .license
            .as_ref()
            .and_then(|l| l.as_str())
            .and_then(license::normalize)
        {
            c.licenses.push(l);
        }
        if p.dev {
            c.properties.insert("provenant:scope".into(), "dev".into());
        }
        if p.optional {
            c.properties
                .insert("provenant:optional".into(), "true".into());
        }
        if p.version.is_none() && !local {
            sbom.warnings.push(Warning {
                file: file.into(),
                line: find_line(text, &format!("\"{key}\"")),
                message: format!("{key} has no version"),
            });
        }
        refs.insert(key.as_str(), purl);
        sbom.add(c);
    }
    // Links: node_modules/x → the workspace directory it points at.
    let links: BTreeMap<&str, &str> = lock
        .packages
        .iter()
        .filter(|(_, p)| p.link)
        .filter_map(|(k, p)| Some((k.as_str(), p.resolved.as_deref()?)))
        .collect();
    for (key, p) in &lock.packages {
        let Some(from) = refs.get(key.as_str()).cloned() else {
            continue;
        };
        let deps = sbom.dependencies.entry(from).or_default();
        for dep in p.dependencies.keys().chain(p.optional_dependencies.keys()) {
            if let Some(to) = resolve_node(key, dep, &refs, &links) {
                deps.insert(to);
            }
        }
    }
    Ok(sbom)
}

/// Node's module resolution inside the lock file: look in `<key>/node_modules/<dep>`, then in
/// each ancestor's `node_modules`, up to the root.
fn resolve_node(
    key: &str,
    dep: &str,
    refs: &BTreeMap<&str, String>,
    links: &BTreeMap<&str, &str>,
) -> Option<String> {
    let mut base = key.to_string();
    loop {
        let candidate = if base.is_empty() {
            format!("node_modules/{dep}")
        } else {
            format!("{base}/node_modules/{dep}")
        };
        if let Some(r) = refs.get(candidate.as_str()) {
            return Some(r.clone());
        }
        if let Some(target) = links.get(candidate.as_str()) {
            return refs.get(target).cloned();
        }
        if base.is_empty() {
            return None;
        }
        base = match base.rfind("/node_modules/") {
            Some(i) => base[..i].to_string(),
            None => String::new(),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_lock_v3_resolution() {
        let text = r#"{"name":"app","lockfileVersion":3,"packages":{
            "":{"name":"app","version":"1.0.0","dependencies":{"a":"^1","@s/b":"^2"}},
            "node_modules/a":{"version":"1.0.1","integrity":"sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==","license":"MIT","dependencies":{"@s/b":"^1"}},
            "node_modules/a/node_modules/@s/b":{"version":"1.9.0"},
            "node_modules/@s/b":{"version":"2.0.0","dev":true}}}"#;
        let sbom = parse_package_lock(text, "package-lock.json").unwrap();
        assert_eq!(sbom.components.len(), 4);
        let a = "pkg:npm/a@1.0.1";
        assert!(sbom.dependencies[a].contains("pkg:npm/%40s/b@1.9.0"));
        assert!(sbom.dependencies["pkg:npm/app@1.0.0"].contains("pkg:npm/%40s/b@2.0.0"));
        assert_eq!(sbom.component(a).unwrap().hashes[0].alg, HashAlg::Sha512);
        let e = parse_package_lock(r#"{"lockfileVersion":1}"#, "package-lock.json").unwrap_err();
        assert!(e.to_string().contains("lockfileVersion 1"));
    }
}

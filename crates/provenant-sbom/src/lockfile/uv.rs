//! `uv.lock` (<https://docs.astral.sh/uv/concepts/projects/layout/#the-lockfile>).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{find_line, found_in, toml_err};
use crate::error::{Result, SbomError};
use crate::model::{Component, ComponentKind, ExternalRef, Hash, Sbom, Warning};
use crate::purl::Purl;
use crate::util::pep503;

#[derive(Deserialize)]
struct UvLock {
    #[serde(default)]
    package: Vec<UvPackage>,
}

#[derive(Deserialize)]
struct UvPackage {
    name: String,
    version: Option<String>,
    #[serde(default)]
    source: BTreeMap<String, toml::Value>,
    #[serde(default)]
    dependencies: Vec<UvDep>,
    sdist: Option<UvArtifact>,
    #[serde(default)]
    wheels: Vec<UvArtifact>,
}

#[derive(Deserialize)]
struct UvDep {
    name: String,
    version: Option<String>,
}

#[derive(Deserialize)]
struct UvArtifact {
    url: Option<String>,
    hash: Option<String>,
}

/// Parse `uv.lock` (<https://docs.astral.sh/uv/concepts/projects/layout/#the-lockfile>).
pub fn parse_uv_lock(text: &str, file: &str) -> Result<Sbom> {
    let lock: UvLock = toml::from_str(text).map_err(|e| toml_err(&e, text, file))?;
    let mut sbom = Sbom::default();
    let mut refs: Vec<(String, Option<String>, String)> = Vec::new();
    for p in &lock.package {
        let local = ["editable", "virtual", "directory", "path"]
            .iter()
            .any(|k| p.source.contains_key(*k));
        let purl = Purl::pypi(&p.name, p.version.as_deref()).to_string();
        let mut c = Component {
            kind: if local {
                ComponentKind::Application
            } else {
                ComponentKind::Library
            },
            bom_ref: purl.clone(),
            name: p.name.clone(),
            version: p.version.clone(),
            purl: Some(purl.clone()),
            ..Component::default()
        };
        found_in(&mut c, file);
        for a in p.sdist.iter().chain(p.wheels.iter()) {
            if let Some(h) = a.hash.as_deref() {
                let h = Hash::parse_prefixed(h).ok_or_else(|| {
                    SbomError::parse(
                        file,
                        find_line(text, h),
                        format!("{}: malformed hash {h:?}", p.name),
                    )
                })?;
                c.hashes.push(h);
            }
        }
        if let Some(url) = p.sdist.as_ref().and_then(|s| s.url.clone()) {
            c.external_refs.push(ExternalRef {
                kind: "distribution".into(),
                url,
            });
        }
        if let Some(reg) = p.source.get("registry").and_then(|v| v.as_str()) {
            c.properties.insert("provenant:registry".into(), reg.into());
        }
        if p.version.is_none() && !local {
            sbom.warnings.push(Warning {
                file: file.into(),
                line: find_line(text, &format!("name = \"{}\"", p.name)),
                message: format!("package {} has no version", p.name),
            });
        }
        refs.push((pep503(&p.name), p.version.clone(), purl));
        sbom.add(c);
    }
    for (p, (_, _, from)) in lock.package.iter().zip(refs.iter()) {
        let deps = sbom.dependencies.entry(from.clone()).or_default();
        for d in &p.dependencies {
            let n = pep503(&d.name);
            let target = refs
                .iter()
                .filter(|(name, _, _)| *name == n)
                .find(|(_, v, _)| d.version.is_none() || *v == d.version);
            if let Some((_, _, to)) = target {
                deps.insert(to.clone());
            }
        }
    }
    Ok(sbom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uv_lock() {
        let uv = r#"version = 1
[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "idna" }]

[[package]]
name = "idna"
version = "3.7"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files.example/idna-3.7.tar.gz", hash = "sha256:028ff3aadf0609c1fd278d8ea3089299412a7a8b9bd005dd08b9f8285bcb5cfc", size = 1 }
"#;
        let s = parse_uv_lock(uv, "uv.lock").unwrap();
        assert!(s.dependencies["pkg:pypi/app@0.1.0"].contains("pkg:pypi/idna@3.7"));
        assert_eq!(
            s.component("pkg:pypi/app@0.1.0").unwrap().kind,
            ComponentKind::Application
        );
    }
}

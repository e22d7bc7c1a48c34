//! `poetry.lock`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{find_line, found_in, toml_err};
use crate::error::{Result, SbomError};
use crate::model::{Component, Hash, Sbom};
use crate::purl::Purl;
use crate::util::pep503;

#[derive(Deserialize)]
struct PoetryLock {
    #[serde(default)]
    package: Vec<PoetryPackage>,
    metadata: Option<PoetryMetadata>,
}

#[derive(Deserialize)]
struct PoetryMetadata {
    #[serde(default)]
    files: BTreeMap<String, Vec<PoetryFile>>,
}

#[derive(Deserialize)]
struct PoetryPackage {
    name: String,
    version: String,
    description: Option<String>,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    files: Vec<PoetryFile>,
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
    source: Option<PoetrySource>,
}

#[derive(Deserialize)]
struct PoetryFile {
    hash: Option<String>,
}

#[derive(Deserialize)]
struct PoetrySource {
    #[serde(rename = "type")]
    kind: Option<String>,
    url: Option<String>,
}

/// Parse `poetry.lock` (lock-version 1.x and 2.x).
pub fn parse_poetry_lock(text: &str, file: &str) -> Result<Sbom> {
    let lock: PoetryLock = toml::from_str(text).map_err(|e| toml_err(&e, text, file))?;
    let legacy_files = lock.metadata.map(|m| m.files).unwrap_or_default();
    let mut sbom = Sbom::default();
    let mut by_name = BTreeMap::new();
    for p in &lock.package {
        let purl = Purl::pypi(&p.name, Some(&p.version)).to_string();
        let mut c = Component {
            bom_ref: purl.clone(),
            name: p.name.clone(),
            version: Some(p.version.clone()),
            purl: Some(purl.clone()),
            description: p.description.clone().filter(|d| !d.is_empty()),
            ..Component::default()
        };
        found_in(&mut c, file);
        let files = p
            .files
            .iter()
            .chain(legacy_files.get(&p.name).into_iter().flatten());
        for f in files {
            if let Some(h) = f.hash.as_deref() {
                c.hashes.push(Hash::parse_prefixed(h).ok_or_else(|| {
                    SbomError::parse(
                        file,
                        find_line(text, h),
                        format!("{}: malformed hash {h:?}", p.name),
                    )
                })?);
            }
        }
        if p.optional {
            c.properties
                .insert("provenant:optional".into(), "true".into());
        }
        if let Some(s) = &p.source {
            if let Some(k) = &s.kind {
                c.properties
                    .insert("provenant:source-type".into(), k.clone());
            }
            if let Some(u) = &s.url {
                c.properties.insert("provenant:registry".into(), u.clone());
            }
        }
        by_name.insert(pep503(&p.name), purl);
        sbom.add(c);
    }
    for p in &lock.package {
        let from = by_name[&pep503(&p.name)].clone();
        let deps = sbom.dependencies.entry(from).or_default();
        for (name, spec) in &p.dependencies {
            let optional = spec
                .as_table()
                .and_then(|t| t.get("optional"))
                .and_then(toml::Value::as_bool)
                .unwrap_or(false);
            if optional {
                continue;
            }
            if let Some(to) = by_name.get(&pep503(name)) {
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
    fn poetry_lock() {
        let poetry = r#"[[package]]
name = "idna"
version = "3.7"
description = ""
optional = false
python-versions = ">=3.5"
files = [{file = "idna-3.7.tar.gz", hash = "sha256:028ff3aadf0609c1fd278d8ea3089299412a7a8b9bd005dd08b9f8285bcb5cfc"}]

[[package]]
name = "requests"
version = "2.32.0"
description = "HTTP"
optional = false
python-versions = ">=3.8"
files = []

[package.dependencies]
idna = ">=2.5,<4"
socks = {version = "*", optional = true}
"#;
        let s = parse_poetry_lock(poetry, "poetry.lock").unwrap();
        assert_eq!(
            s.dependencies["pkg:pypi/requests@2.32.0"]
                .iter()
                .collect::<Vec<_>>(),
            vec!["pkg:pypi/idna@3.7"]
        );
        let e = parse_poetry_lock("[[package]]\nname = 3\n", "poetry.lock").unwrap_err();
        assert!(matches!(e, SbomError::Parse { line: 2, .. }), "{e}");
    }
}

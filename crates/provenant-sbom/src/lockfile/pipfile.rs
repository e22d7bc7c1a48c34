//! Pipenv `Pipfile.lock`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{find_line, found_in, json_err};
use crate::error::{Result, SbomError};
use crate::model::{Component, ExternalRef, Hash, Sbom, Warning};
use crate::purl::Purl;

#[derive(Deserialize)]
struct PipfileLock {
    #[serde(default)]
    default: BTreeMap<String, PipfileEntry>,
    #[serde(default)]
    develop: BTreeMap<String, PipfileEntry>,
}

#[derive(Deserialize)]
struct PipfileEntry {
    version: Option<String>,
    #[serde(default)]
    hashes: Vec<String>,
    git: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
}

/// Parse `Pipfile.lock` (pipenv's JSON lock file).
pub fn parse_pipfile_lock(text: &str, file: &str) -> Result<Sbom> {
    let lock: PipfileLock = serde_json::from_str(text).map_err(|e| json_err(&e, file))?;
    let mut sbom = Sbom::default();
    for (scope, entries) in [("default", &lock.default), ("develop", &lock.develop)] {
        for (name, e) in entries {
            let version = e.version.as_deref().map(|v| {
                v.trim_start_matches("==")
                    .trim_start_matches('=')
                    .to_string()
            });
            let purl = Purl::pypi(name, version.as_deref()).to_string();
            let mut c = Component {
                bom_ref: purl.clone(),
                name: name.clone(),
                version: version.clone(),
                purl: Some(purl),
                ..Component::default()
            };
            found_in(&mut c, file);
            for h in &e.hashes {
                c.hashes.push(Hash::parse_prefixed(h).ok_or_else(|| {
                    SbomError::parse(
                        file,
                        find_line(text, h),
                        format!("{name}: malformed hash {h:?}"),
                    )
                })?);
            }
            if scope == "develop" {
                c.properties
                    .insert("provenant:scope".into(), "develop".into());
            }
            if let Some(g) = &e.git {
                c.external_refs.push(ExternalRef {
                    kind: "vcs".into(),
                    url: g.clone(),
                });
                if let Some(r) = &e.git_ref {
                    c.properties.insert("provenant:vcs-ref".into(), r.clone());
                }
            }
            if version.is_none() && e.git_ref.is_none() {
                sbom.warnings.push(Warning {
                    file: file.into(),
                    line: find_line(text, &format!("\"{name}\"")),
                    message: format!("{name} has no pinned version"),
                });
            }
            sbom.add(c);
        }
    }
    Ok(sbom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipfile_lock() {
        let t = r#"{"_meta":{},"default":{"six":{"hashes":["sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"],"version":"==1.16.0"}},"develop":{}}"#;
        let s = parse_pipfile_lock(t, "Pipfile.lock").unwrap();
        assert_eq!(s.component("pkg:pypi/six@1.16.0").unwrap().hashes.len(), 1);
        let e = parse_pipfile_lock("{\n\"default\": [}", "Pipfile.lock").unwrap_err();
        assert!(matches!(e, SbomError::Parse { line: 2, .. }), "{e}");
    }
}

//! `Cargo.lock`.

use serde::Deserialize;

use super::{find_line, found_in, toml_err};
use crate::error::{Result, SbomError};
use crate::model::{Component, ComponentKind, Hash, HashAlg, Sbom};
use crate::purl::Purl;

#[derive(Deserialize)]
struct CargoLock {
    #[serde(default)]
    package: Vec<CargoPackage>,
}

#[derive(Deserialize)]
struct CargoPackage {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

const CRATES_IO: [&str; 2] = [
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
];

/// Parse `Cargo.lock` (versions 1–4).
pub fn parse_cargo_lock(text: &str, file: &str) -> Result<Sbom> {
    let lock: CargoLock = toml::from_str(text).map_err(|e| toml_err(&e, text, file))?;
    let mut sbom = Sbom::default();
    let mut refs: Vec<(String, String, Option<String>, String)> = Vec::new();
    for p in &lock.package {
        let mut purl = Purl::new("cargo", &p.name).with_version(Some(&p.version));
        match p.source.as_deref() {
            None => {}
            Some(s) if CRATES_IO.contains(&s) => {}
            Some(s) if s.starts_with("git+") => {
                purl = purl.with_qualifier("vcs_url", Some(&s[4..]));
            }
            Some(s) => {
                let url = s.split_once('+').map_or(s, |(_, u)| u);
                purl = purl.with_qualifier("repository_url", Some(url));
            }
        }
        let purl = purl.to_string();
        let mut c = Component {
            kind: if p.source.is_none() {
                ComponentKind::Application
            } else {
                ComponentKind::Library
            },
            bom_ref: purl.clone(),
            name: p.name.clone(),
            version: Some(p.version.clone()),
            purl: Some(purl.clone()),
            ..Component::default()
        };
        found_in(&mut c, file);
        if let Some(cs) = &p.checksum {
            c.hashes.push(Hash::new(HashAlg::Sha256, cs).ok_or_else(|| {
                SbomError::parse(
                    file,
                    find_line(text, cs),
                    format!("{}: malformed checksum", p.name),
                )
            })?);
        }
        if p.source.is_none() {
            c.properties
                .insert("provenant:cargo:local".into(), "true".into());
        }
        refs.push((p.name.clone(), p.version.clone(), p.source.clone(), purl));
        sbom.add(c);
    }
    for (p, (_, _, _, from)) in lock.package.iter().zip(refs.iter()) {
        let deps = sbom.dependencies.entry(from.clone()).or_default();
        for d in &p.dependencies {
            // "name", "name version" or "name version (source)"
            let mut parts = d.splitn(3, ' ');
            let name = parts.next().unwrap_or_default();
            let version = parts.next();
            let source = parts
                .next()
                .map(|s| s.trim_start_matches('(').trim_end_matches(')'));
            let target = refs.iter().find(|(n, v, s, _)| {
                n == name
                    && version.is_none_or(|ver| ver == v)
                    && source.is_none_or(|src| s.as_deref() == Some(src))
            });
            match target {
                Some((_, _, _, to)) => {
                    deps.insert(to.clone());
                }
                None => {
                    return Err(SbomError::parse(
                        file,
                        find_line(text, &format!("\"{d}\"")),
                        format!("{} depends on {d:?}, which is not in the lock file", p.name),
                    ));
                }
            }
        }
    }
    Ok(sbom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_lock_errors_have_lines() {
        let e = parse_cargo_lock(
            "version = 4\n\n[[package]]\nversion = \"1\"\n",
            "Cargo.lock",
        )
        .unwrap_err();
        assert!(matches!(e, SbomError::Parse { line: 3, .. }), "{e}");
        let e = parse_cargo_lock(
            "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\ndependencies = [\"ghost\"]\n",
            "Cargo.lock",
        )
        .unwrap_err();
        assert!(e.to_string().contains("ghost"), "{e}");
    }
}

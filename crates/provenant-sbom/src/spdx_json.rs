//! SPDX 2.3 JSON (<https://spdx.github.io/spdx-spec/v2.3/>): writer and reader.
//!
//! Every component becomes a package (`externalRefs` carries the purl). Files of a component
//! (model files; Python `RECORD` entries when asked) also become packages with purpose `FILE`
//! and a `CONTAINS` relationship, because SPDX 2.3 `files` must carry a SHA-1 checksum and we
//! only know their SHA-256.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::cyclonedx::{TOOL_NAME, TOOL_VERSION, derived_uuid, now};
use crate::error::{Result, SbomError};
use crate::model::{
    Component, ComponentKind, ExternalRef, Hash, HashAlg, License, Sbom, Supplier, Warning,
};
use crate::{PROP_FOUND_IN, WriteOptions};

fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(64);
    out
}

/// A stable SPDX identifier for a bom-ref (independent of component order).
fn spdx_id(prefix: &str, name: &str, bom_ref: &str) -> String {
    let h = crate::util::sha256_hex(bom_ref.as_bytes());
    format!("SPDXRef-{prefix}-{}-{}", sanitize(name), &h[..12])
}

fn supplier(s: &Option<Supplier>) -> String {
    match s {
        Some(s) => {
            let name: String = s
                .name
                .chars()
                .filter(|c| !matches!(c, '(' | ')' | '\n'))
                .collect();
            let name = name.trim();
            if name.is_empty() {
                return "NOASSERTION".into();
            }
            match s
                .email
                .as_deref()
                .filter(|e| e.contains('@') && !e.contains([' ', '(', ')']))
            {
                Some(e) => format!("Organization: {name} ({e})"),
                None => format!("Organization: {name}"),
            }
        }
        None => "NOASSERTION".into(),
    }
}

struct LicenseRefs(BTreeMap<String, String>);

impl LicenseRefs {
    fn declared(&mut self, ls: &[License]) -> String {
        if ls.is_empty() {
            return "NOASSERTION".into();
        }
        let parts: Vec<String> = ls
            .iter()
            .map(|l| match l {
                License::Spdx(e) => e.clone(),
                License::Named(n) => {
                    let id = format!(
                        "LicenseRef-{}",
                        &crate::util::sha256_hex(n.as_bytes())[..16]
                    );
                    self.0.insert(id.clone(), n.clone());
                    id
                }
            })
            .collect();
        if parts.len() == 1 {
            parts.into_iter().next().unwrap_or_default()
        } else {
            parts
                .iter()
                .map(|p| {
                    if p.contains(' ') {
                        format!("({p})")
                    } else {
                        p.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(" AND ")
        }
    }
}

fn checksums(hs: &[Hash]) -> Value {
    Value::Array(
        hs.iter()
            .map(|h| json!({ "algorithm": h.alg.spdx(), "checksumValue": h.hex }))
            .collect(),
    )
}

/// Serialise as SPDX 2.3 JSON, deterministically (see [`WriteOptions`]).
pub fn write_spdx(sbom: &Sbom, opts: &WriteOptions) -> Vec<u8> {
    let sbom = sbom.for_writing(opts.include_package_files);
    let mut lrefs = LicenseRefs(BTreeMap::new());
    let mut packages = Vec::new();
    let mut rels: Vec<(String, &'static str, String)> = Vec::new();
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let all: Vec<&Component> = sbom.subject.iter().chain(sbom.components.iter()).collect();
    for c in &all {
        ids.insert(c.bom_ref.clone(), spdx_id("Package", &c.name, &c.bom_ref));
    }
    for c in &all {
        let id = ids[&c.bom_ref].clone();
        let mut p = Map::new();
        p.insert("SPDXID".into(), json!(id));
        p.insert("name".into(), json!(c.name));
        if let Some(v) = &c.version {
            p.insert("versionInfo".into(), json!(v));
        }
        let download = c
            .external_refs
            .iter()
            .find(|r| r.kind == "distribution")
            .map(|r| r.url.clone());
        p.insert(
            "downloadLocation".into(),
            json!(download.unwrap_or_else(|| "NOASSERTION".into())),
        );
        if let Some(home) = c.external_refs.iter().find(|r| r.kind == "website") {
            p.insert("homepage".into(), json!(home.url));
        }
        p.insert("filesAnalyzed".into(), json!(false));
        p.insert("licenseConcluded".into(), json!("NOASSERTION"));
        p.insert("licenseDeclared".into(), json!(lrefs.declared(&c.licenses)));
        p.insert("copyrightText".into(), json!("NOASSERTION"));
        p.insert("supplier".into(), json!(supplier(&c.supplier)));
        p.insert("primaryPackagePurpose".into(), json!(c.kind.spdx()));
        if let Some(d) = &c.description {
            p.insert("summary".into(), json!(d));
        }
        if !c.hashes.is_empty() {
            p.insert("checksums".into(), checksums(&c.hashes));
        }
        if let Some(purl) = &c.purl {
            p.insert(
                "externalRefs".into(),
                json!([{ "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl }]),
            );
        }
        let mut comment: Vec<String> = c
            .properties
            .iter()
            .flat_map(|(k, v)| v.split('\n').map(move |line| format!("{k}: {line}")))
            .collect();
        if let Some(card) = &c.model_card {
            comment.push(format!("cyclonedx:modelCard: {card}"));
        }
        if c.kind == ComponentKind::MachineLearningModel {
            comment.insert(0, "machine-learning-model".into());
        }
        if !comment.is_empty() {
            p.insert("comment".into(), json!(comment.join("\n")));
        }
        packages.push(Value::Object(p));
        let show_files =
            c.kind == ComponentKind::MachineLearningModel || opts.include_package_files;
        if show_files {
            for f in &c.files {
                let fid = spdx_id("File", &f.path, &format!("{}#{}", c.bom_ref, f.path));
                let mut fp = Map::new();
                fp.insert("SPDXID".into(), json!(fid));
                fp.insert("name".into(), json!(f.path));
                fp.insert("downloadLocation".into(), json!("NOASSERTION"));
                fp.insert("filesAnalyzed".into(), json!(false));
                fp.insert("primaryPackagePurpose".into(), json!("FILE"));
                fp.insert("licenseConcluded".into(), json!("NOASSERTION"));
                fp.insert("licenseDeclared".into(), json!("NOASSERTION"));
                fp.insert("copyrightText".into(), json!("NOASSERTION"));
                if !f.hashes.is_empty() {
                    fp.insert("checksums".into(), checksums(&f.hashes));
                }
                let mut comment: Vec<String> = f
                    .properties
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect();
                if let Some(s) = f.size {
                    comment.push(format!("provenant:file:size: {s}"));
                }
                if !comment.is_empty() {
                    fp.insert("comment".into(), json!(comment.join("\n")));
                }
                packages.push(Value::Object(fp));
                rels.push((id.clone(), "CONTAINS", fid));
            }
        }
    }
    for (map, kind) in [
        (&sbom.dependencies, "DEPENDS_ON"),
        (&sbom.contains, "CONTAINS"),
    ] {
        for (from, tos) in map {
            for to in tos {
                if let (Some(a), Some(b)) = (ids.get(from), ids.get(to)) {
                    rels.push((a.clone(), kind, b.clone()));
                }
            }
        }
    }
    // The document describes the subject, or every component nothing else contains.
    let described: Vec<String> = match &sbom.subject {
        Some(s) => vec![ids[&s.bom_ref].clone()],
        None => {
            let contained: BTreeSet<&String> = sbom.contains.values().flatten().collect();
            sbom.components
                .iter()
                .filter(|c| !contained.contains(&c.bom_ref))
                .map(|c| ids[&c.bom_ref].clone())
                .collect()
        }
    };
    let mut relationships: Vec<Value> = described
        .iter()
        .map(|d| json!({ "spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": d }))
        .collect();
    rels.sort();
    rels.dedup();
    relationships.extend(rels.into_iter().map(
        |(a, k, b)| json!({ "spdxElementId": a, "relationshipType": k, "relatedSpdxElement": b }),
    ));

    let mut doc = Map::new();
    doc.insert("spdxVersion".into(), json!("SPDX-2.3"));
    doc.insert("dataLicense".into(), json!("CC0-1.0"));
    doc.insert("SPDXID".into(), json!("SPDXRef-DOCUMENT"));
    let name = opts
        .name
        .clone()
        .or_else(|| sbom.subject.as_ref().map(|s| s.name.clone()))
        .unwrap_or_else(|| "sbom".into());
    doc.insert("name".into(), json!(name));
    doc.insert("packages".into(), Value::Array(packages));
    doc.insert("relationships".into(), Value::Array(relationships));
    if !lrefs.0.is_empty() {
        let infos: Vec<Value> = lrefs
            .0
            .iter()
            .map(|(id, text)| json!({ "licenseId": id, "extractedText": text, "name": text }))
            .collect();
        doc.insert("hasExtractedLicensingInfos".into(), Value::Array(infos));
    }
    if !sbom.is_complete() {
        let lines: Vec<String> = sbom
            .warnings
            .iter()
            .map(|w| format!("provenant:warning: {w}"))
            .collect();
        doc.insert(
            "comment".into(),
            json!(format!(
                "INCOMPLETE: some inputs could not be read in full.\n{}",
                lines.join("\n")
            )),
        );
    }
    let ts = opts.timestamp.unwrap_or_else(now);
    let body = serde_json::to_vec(&doc).unwrap_or_default();
    let ns = opts
        .serial
        .clone()
        .map(|s| {
            if s.contains("://") {
                s
            } else {
                format!(
                    "https://spdx.invalid/provenant/{}",
                    s.trim_start_matches("urn:uuid:")
                )
            }
        })
        .unwrap_or_else(|| {
            format!(
                "https://spdx.invalid/provenant/{}-{}",
                sanitize(&name),
                derived_uuid(&body, ts)
            )
        });
    doc.insert("documentNamespace".into(), json!(ns));
    doc.insert(
        "creationInfo".into(),
        json!({ "created": crate::util::rfc3339(ts), "creators": [format!("Tool: {TOOL_NAME}-{TOOL_VERSION}")] }),
    );
    let mut out = serde_json::to_vec_pretty(&Value::Object(doc)).unwrap_or_default();
    out.push(b'\n');
    out
}

fn field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// Read an SPDX 2.2/2.3 JSON document.
pub(crate) fn parse(v: &Value, file: &str) -> Result<Sbom> {
    let ver = field(v, "spdxVersion").unwrap_or_default();
    if !["SPDX-2.2", "SPDX-2.3"].contains(&ver) {
        return Err(SbomError::Unsupported {
            file: file.into(),
            what: format!("spdxVersion {ver:?} (SPDX-2.2 and SPDX-2.3 are read)"),
        });
    }
    for k in ["SPDXID", "name", "documentNamespace", "dataLicense"] {
        if field(v, k).is_none() {
            return Err(SbomError::parse(
                file,
                0,
                format!("missing required field {k}"),
            ));
        }
    }
    let mut sbom = Sbom::default();
    let mut by_id: BTreeMap<String, String> = BTreeMap::new();
    let mut files: BTreeMap<String, (String, crate::model::FileEntry)> = BTreeMap::new();
    let pkgs = v
        .get("packages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, p) in pkgs.iter().enumerate() {
        let err = |m: &str| SbomError::parse(file, 0, format!("packages[{i}]: {m}"));
        let id = field(p, "SPDXID").ok_or_else(|| err("missing SPDXID"))?;
        let name = field(p, "name").ok_or_else(|| err("missing name"))?;
        let mut hashes = Vec::new();
        for (j, c) in p
            .get("checksums")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let h = field(c, "algorithm")
                .and_then(HashAlg::parse)
                .and_then(|a| Hash::new(a, field(c, "checksumValue")?));
            match h {
                Some(h) => hashes.push(h),
                None if field(c, "algorithm").is_some_and(|a| HashAlg::parse(a).is_none()) => {} // MD5 etc.
                None => return Err(err(&format!("checksums[{j}] is malformed"))),
            }
        }
        if field(p, "primaryPackagePurpose") == Some("FILE") {
            files.insert(
                id.to_string(),
                (
                    String::new(),
                    crate::model::FileEntry {
                        path: name.to_string(),
                        hashes,
                        size: None,
                        properties: BTreeMap::new(),
                    },
                ),
            );
            continue;
        }
        let purl = p
            .get("externalRefs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|r| field(r, "referenceType") == Some("purl"))
            .and_then(|r| field(r, "referenceLocator"))
            .map(str::to_string);
        let comment = field(p, "comment").unwrap_or_default();
        let kind = if comment.starts_with("machine-learning-model") {
            ComponentKind::MachineLearningModel
        } else {
            ComponentKind::from_spdx(field(p, "primaryPackagePurpose").unwrap_or_default())
        };
        let mut c = Component {
            kind,
            bom_ref: purl.clone().unwrap_or_else(|| id.to_string()),
            name: name.to_string(),
            version: field(p, "versionInfo").map(str::to_string),
            purl,
            description: field(p, "summary").map(str::to_string),
            hashes,
            ..Component::default()
        };
        if let Some(l) =
            field(p, "licenseDeclared").filter(|l| !["NOASSERTION", "NONE"].contains(l))
        {
            c.licenses.push(License::Spdx(l.to_string()));
        }
        if let Some(s) = field(p, "supplier")
            .and_then(|s| s.split_once(": "))
            .map(|(_, n)| n)
        {
            let (name, email) = match s.rsplit_once(" (") {
                Some((n, e)) => (n.to_string(), Some(e.trim_end_matches(')').to_string())),
                None => (s.to_string(), None),
            };
            c.supplier = Some(Supplier { name, email });
        }
        if let Some(d) = field(p, "downloadLocation").filter(|d| d.contains("://")) {
            c.external_refs.push(ExternalRef {
                kind: "distribution".into(),
                url: d.to_string(),
            });
        }
        if let Some(h) = field(p, "homepage").filter(|d| d.contains("://")) {
            c.external_refs.push(ExternalRef {
                kind: "website".into(),
                url: h.to_string(),
            });
        }
        for line in comment.lines() {
            if let Some(card) = line.strip_prefix("cyclonedx:modelCard: ") {
                c.model_card = serde_json::from_str(card).ok();
            } else if let Some((k, val)) = line.split_once(": ")
                && k.starts_with("provenant:")
            {
                c.properties
                    .entry(k.to_string())
                    .and_modify(|old| {
                        if k == PROP_FOUND_IN {
                            old.push('\n');
                            old.push_str(val);
                        }
                    })
                    .or_insert_with(|| val.to_string());
            }
        }
        by_id.insert(id.to_string(), c.bom_ref.clone());
        sbom.components.push(c);
    }
    for (i, r) in v
        .get("relationships")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let (Some(a), Some(t), Some(b)) = (
            field(r, "spdxElementId"),
            field(r, "relationshipType"),
            field(r, "relatedSpdxElement"),
        ) else {
            return Err(SbomError::parse(
                file,
                0,
                format!("relationships[{i}]: missing field"),
            ));
        };
        match t {
            "DEPENDS_ON" | "CONTAINS" => {
                if let (Some(from), Some(to)) = (by_id.get(a), by_id.get(b)) {
                    let map = if t == "DEPENDS_ON" {
                        &mut sbom.dependencies
                    } else {
                        &mut sbom.contains
                    };
                    map.entry(from.clone()).or_default().insert(to.clone());
                } else if let (Some(from), Some(f)) = (by_id.get(a), files.get_mut(b)) {
                    f.0 = from.clone();
                }
            }
            _ => {}
        }
    }
    let described: Vec<&str> = v
        .get("relationships")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| {
            field(r, "spdxElementId") == Some("SPDXRef-DOCUMENT")
                && field(r, "relationshipType") == Some("DESCRIBES")
        })
        .filter_map(|r| field(r, "relatedSpdxElement"))
        // SPDX 2.2's `documentDescribes` says the same, and tools still write it.
        .chain(
            v.get("documentDescribes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str),
        )
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .collect();
    for (_, (owner, f)) in files {
        if let Some(c) = sbom.components.iter_mut().find(|c| c.bom_ref == owner) {
            c.files.push(f);
        }
    }
    // A document that describes exactly one package has that package as its subject.
    if let [only] = described.as_slice()
        && let Some(r) = by_id.get(*only)
        && let Some(i) = sbom.components.iter().position(|c| c.bom_ref == *r)
    {
        sbom.subject = Some(sbom.components.remove(i));
    }
    if let Some(c) = field(v, "comment").filter(|c| c.starts_with("INCOMPLETE")) {
        for line in c.lines().skip(1) {
            sbom.warnings.push(Warning {
                file: file.into(),
                line: 0,
                message: line.trim_start_matches("provenant:warning: ").to_string(),
            });
        }
        if sbom.warnings.is_empty() {
            sbom.warnings.push(Warning {
                file: file.into(),
                line: 0,
                message: "the document declares itself incomplete".into(),
            });
        }
    }
    Ok(sbom)
}

#[cfg(test)]
mod tests {
    use crate::{Format, parse_sbom};

    #[test]
    fn document_describes_names_the_subject() {
        let doc = br#"{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"m",
          "dataLicense":"CC0-1.0","documentNamespace":"https://example.com/m",
          "documentDescribes":["SPDXRef-root"],"packages":[
          {"name":"root","SPDXID":"SPDXRef-root","versionInfo":"1"},
          {"name":"urllib3","SPDXID":"SPDXRef-p1","versionInfo":"1.26.0",
           "externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:pypi/urllib3@1.26.0"}]}]}"#;
        let (format, s) = parse_sbom(doc, "spdx.json").unwrap();
        assert_eq!(format, Format::SpdxJson);
        assert_eq!(s.subject.unwrap().name, "root");
        assert_eq!(s.components.len(), 1);
        let p = s.components[0].package_url().unwrap().unwrap();
        assert_eq!(p.name(), "urllib3");
    }
}

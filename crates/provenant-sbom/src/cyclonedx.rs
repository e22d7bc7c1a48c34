//! CycloneDX 1.6 JSON (<https://cyclonedx.org/docs/1.6/json/>): writer and reader.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::error::{Result, SbomError};
use crate::license::is_single_id;
use crate::model::{
    Component, ComponentKind, ExternalRef, FileEntry, Hash, HashAlg, License, Sbom, Supplier,
    Warning,
};
use crate::{PROP_FOUND_IN, WriteOptions};

pub(crate) const TOOL_NAME: &str = "provenant";
pub(crate) const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Serialise as CycloneDX 1.6 JSON. Deterministic: components sorted by `bom-ref`, object keys
/// sorted; with [`WriteOptions::timestamp`] and [`WriteOptions::serial`] pinned the output is
/// byte-for-byte reproducible.
pub fn write_cyclonedx(sbom: &Sbom, opts: &WriteOptions) -> Vec<u8> {
    let sbom = sbom.for_writing(opts.include_package_files);
    let mut bom = Map::new();
    bom.insert(
        "$schema".into(),
        json!("http://cyclonedx.org/schema/bom-1.6.schema.json"),
    );
    bom.insert("bomFormat".into(), json!("CycloneDX"));
    bom.insert("specVersion".into(), json!("1.6"));
    bom.insert("version".into(), json!(1));
    let components: Vec<Value> = sbom.components.iter().map(|c| component(c, opts)).collect();
    bom.insert("components".into(), Value::Array(components));
    let deps: Vec<Value> = sbom
        .dependencies
        .iter()
        .map(|(r, d)| {
            let mut m = Map::new();
            m.insert("ref".into(), json!(r));
            if !d.is_empty() {
                m.insert("dependsOn".into(), json!(d));
            }
            Value::Object(m)
        })
        .collect();
    if !deps.is_empty() {
        bom.insert("dependencies".into(), Value::Array(deps));
    }
    let all_refs: Vec<&str> = sbom.components.iter().map(|c| c.bom_ref.as_str()).collect();
    let aggregate = if sbom.is_complete() {
        "complete"
    } else {
        "incomplete"
    };
    let mut comp = Map::new();
    comp.insert("aggregate".into(), json!(aggregate));
    if !all_refs.is_empty() {
        comp.insert("assemblies".into(), json!(all_refs));
    }
    bom.insert("compositions".into(), json!([Value::Object(comp)]));

    let ts = opts.timestamp.unwrap_or_else(now);
    // The serial is derived from everything else, so identical input + timestamp → identical bytes.
    let body = serde_json::to_vec(&bom).unwrap_or_default();
    let serial = opts
        .serial
        .clone()
        .unwrap_or_else(|| derived_uuid(&body, ts));
    let serial = if serial.starts_with("urn:uuid:") {
        serial
    } else {
        format!("urn:uuid:{serial}")
    };
    bom.insert("serialNumber".into(), json!(serial));
    let mut meta = Map::new();
    meta.insert("timestamp".into(), json!(crate::util::rfc3339(ts)));
    meta.insert(
        "tools".into(),
        json!({ "components": [{ "type": "application", "name": TOOL_NAME, "version": TOOL_VERSION }] }),
    );
    if let Some(s) = &sbom.subject {
        meta.insert("component".into(), component(s, opts));
    }
    if !sbom.warnings.is_empty() {
        let props: Vec<Value> = sbom
            .warnings
            .iter()
            .map(|w| json!({ "name": "provenant:warning", "value": w.to_string() }))
            .collect();
        meta.insert("properties".into(), Value::Array(props));
    }
    bom.insert("metadata".into(), Value::Object(meta));
    let mut out = serde_json::to_vec_pretty(&Value::Object(bom)).unwrap_or_default();
    out.push(b'\n');
    out
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A UUID (RFC 9562 layout, version nibble 5: name-based) from SHA-256 of `body` and `ts`.
pub(crate) fn derived_uuid(body: &[u8], ts: u64) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(body);
    h.update(ts.to_be_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = crate::util::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

fn valid_email(e: &str) -> bool {
    let mut parts = e.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && d.contains('.') && !d.ends_with('.'))
        && e.chars().all(|c| c.is_ascii_graphic())
}

fn supplier(s: &Supplier) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(s.name));
    if let Some(e) = s.email.as_deref().filter(|e| valid_email(e)) {
        m.insert("contact".into(), json!([{ "email": e }]));
    }
    Value::Object(m)
}

fn hashes(hs: &[Hash]) -> Value {
    Value::Array(
        hs.iter()
            .map(|h| json!({ "alg": h.alg.cyclonedx(), "content": h.hex }))
            .collect(),
    )
}

/// CycloneDX allows either license objects (id or name) or exactly one expression.
fn licenses(ls: &[License]) -> Value {
    let all_spdx: Vec<&str> = ls
        .iter()
        .filter_map(|l| match l {
            License::Spdx(s) => Some(s.as_str()),
            License::Named(_) => None,
        })
        .collect();
    if all_spdx.len() == ls.len()
        && ls
            .iter()
            .any(|l| matches!(l, License::Spdx(s) if !is_single_id(s)))
    {
        let expr = if all_spdx.len() == 1 {
            all_spdx[0].to_string()
        } else {
            all_spdx
                .iter()
                .map(|e| format!("({e})"))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        return json!([{ "expression": expr, "acknowledgement": "declared" }]);
    }
    Value::Array(
        ls.iter()
            .map(|l| match l {
                License::Spdx(s) if is_single_id(s) => {
                    json!({ "license": { "id": s, "acknowledgement": "declared" } })
                }
                License::Spdx(s) | License::Named(s) => {
                    json!({ "license": { "name": s, "acknowledgement": "declared" } })
                }
            })
            .collect(),
    )
}

fn properties(props: &BTreeMap<String, String>) -> Vec<Value> {
    let mut out = Vec::new();
    for (k, v) in props {
        if k == PROP_FOUND_IN {
            for line in v.split('\n') {
                out.push(json!({ "name": k, "value": line }));
            }
        } else {
            out.push(json!({ "name": k, "value": v }));
        }
    }
    out
}

fn file_component(f: &FileEntry) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("file"));
    m.insert("name".into(), json!(f.path));
    if !f.hashes.is_empty() {
        m.insert("hashes".into(), hashes(&f.hashes));
    }
    let mut props = properties(&f.properties);
    if let Some(s) = f.size {
        props.push(json!({ "name": "provenant:file:size", "value": s.to_string() }));
    }
    if !props.is_empty() {
        m.insert("properties".into(), Value::Array(props));
    }
    Value::Object(m)
}

fn component(c: &Component, opts: &WriteOptions) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(c.kind.cyclonedx()));
    m.insert("bom-ref".into(), json!(c.bom_ref));
    m.insert("name".into(), json!(c.name));
    if let Some(v) = &c.version {
        m.insert("version".into(), json!(v));
    }
    if let Some(d) = &c.description {
        m.insert("description".into(), json!(d));
    }
    if let Some(s) = &c.supplier {
        m.insert("supplier".into(), supplier(s));
    }
    if !c.hashes.is_empty() {
        m.insert("hashes".into(), hashes(&c.hashes));
    }
    if !c.licenses.is_empty() {
        m.insert("licenses".into(), licenses(&c.licenses));
    }
    if let Some(p) = &c.purl {
        m.insert("purl".into(), json!(p));
    }
    if !c.external_refs.is_empty() {
        let refs: Vec<Value> = c
            .external_refs
            .iter()
            .map(|r| json!({ "type": r.kind, "url": r.url }))
            .collect();
        m.insert("externalReferences".into(), Value::Array(refs));
    }
    let show_files = c.kind == ComponentKind::MachineLearningModel || opts.include_package_files;
    if show_files && !c.files.is_empty() {
        m.insert(
            "components".into(),
            Value::Array(c.files.iter().map(file_component).collect()),
        );
    }
    if c.kind == ComponentKind::MachineLearningModel
        && let Some(card) = &c.model_card
    {
        m.insert("modelCard".into(), card.clone());
    }
    let props = properties(&c.properties);
    if !props.is_empty() {
        m.insert("properties".into(), Value::Array(props));
    }
    Value::Object(m)
}

// ------------------------------------------------------------------ reading

fn field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn parse_component(v: &Value, at: &str, file: &str) -> Result<Component> {
    let err = |m: String| SbomError::parse(file, 0, format!("{at}: {m}"));
    let ty = field(v, "type").ok_or_else(|| err("missing type".into()))?;
    let kind = ComponentKind::from_cyclonedx(ty)
        .ok_or_else(|| err(format!("unknown component type {ty:?}")))?;
    let name = field(v, "name").ok_or_else(|| err("missing name".into()))?;
    let purl = field(v, "purl").map(str::to_string);
    let bom_ref = field(v, "bom-ref")
        .map(str::to_string)
        .or_else(|| purl.clone())
        .unwrap_or_else(|| format!("{name}@{}", field(v, "version").unwrap_or("")));
    let mut c = Component {
        kind,
        bom_ref,
        name: name.to_string(),
        version: field(v, "version").map(str::to_string),
        purl,
        description: field(v, "description").map(str::to_string),
        model_card: v.get("modelCard").cloned(),
        ..Component::default()
    };
    if let Some(s) = v.get("supplier") {
        c.supplier = field(s, "name").map(|n| Supplier {
            name: n.to_string(),
            email: s
                .get("contact")
                .and_then(|c| c.get(0))
                .and_then(|c| field(c, "email"))
                .map(str::to_string),
        });
    }
    for (i, h) in v
        .get("hashes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let alg = field(h, "alg").and_then(HashAlg::parse);
        let hash = alg.and_then(|a| Hash::new(a, field(h, "content")?));
        c.hashes.push(hash.ok_or_else(|| {
            err(format!(
                "hashes[{i}] is malformed or uses an unsupported algorithm"
            ))
        })?);
    }
    for l in v
        .get("licenses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(e) = field(l, "expression") {
            c.licenses.push(License::Spdx(e.to_string()));
        } else if let Some(id) = l.get("license").and_then(|x| field(x, "id")) {
            c.licenses.push(License::Spdx(id.to_string()));
        } else if let Some(n) = l.get("license").and_then(|x| field(x, "name")) {
            c.licenses.push(License::Named(n.to_string()));
        }
    }
    for r in v
        .get("externalReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(t), Some(u)) = (field(r, "type"), field(r, "url")) {
            c.external_refs.push(ExternalRef {
                kind: t.to_string(),
                url: u.to_string(),
            });
        }
    }
    for p in v
        .get("properties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(n), Some(val)) = (field(p, "name"), field(p, "value")) {
            c.properties
                .entry(n.to_string())
                .and_modify(|old| {
                    old.push('\n');
                    old.push_str(val);
                })
                .or_insert_with(|| val.to_string());
        }
    }
    for (i, f) in v
        .get("components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if field(f, "type") == Some("file") {
            let fc = parse_component(f, &format!("{at}.components[{i}]"), file)?;
            let size = fc
                .properties
                .get("provenant:file:size")
                .and_then(|s| s.parse().ok());
            let mut props = fc.properties;
            props.remove("provenant:file:size");
            c.files.push(FileEntry {
                path: fc.name,
                hashes: fc.hashes,
                size,
                properties: props,
            });
        }
    }
    Ok(c)
}

/// Read a CycloneDX JSON document (spec versions 1.4–1.6).
pub(crate) fn parse(v: &Value, file: &str) -> Result<Sbom> {
    let spec = field(v, "specVersion").unwrap_or_default();
    if !["1.4", "1.5", "1.6"].contains(&spec) {
        return Err(SbomError::Unsupported {
            file: file.into(),
            what: format!("CycloneDX specVersion {spec:?} (1.4–1.6 are read)"),
        });
    }
    let mut sbom = Sbom::default();
    if let Some(mc) = v.get("metadata").and_then(|m| m.get("component")) {
        sbom.subject = Some(parse_component(mc, "metadata.component", file)?);
    }
    let comps = match v.get("components") {
        None => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => return Err(SbomError::parse(file, 0, "components is not an array")),
    };
    let mut seen = BTreeSet::new();
    // Depth first, in document order. Nested components other than files are components of
    // their own, contained in their parent.
    let mut stack: Vec<(String, &Value, Option<String>)> = comps
        .iter()
        .enumerate()
        .rev()
        .map(|(i, c)| (format!("components[{i}]"), c, None))
        .collect();
    while let Some((at, v, parent)) = stack.pop() {
        let mut c = parse_component(v, &at, file)?;
        if !seen.insert(c.bom_ref.clone()) {
            if field(v, "bom-ref").is_some() {
                return Err(SbomError::parse(
                    file,
                    0,
                    format!("{at}: duplicate bom-ref {:?}", c.bom_ref),
                ));
            }
            // No bom-ref of its own (the spec makes it optional) and the purl or name@version
            // it would be known by is taken: keep it, under a reference of its own.
            let base = c.bom_ref.clone();
            let mut n = 2;
            while !seen.insert(format!("{base}#{n}")) {
                n += 1;
            }
            c.bom_ref = format!("{base}#{n}");
        }
        let nested = v
            .get("components")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (j, child) in nested.iter().enumerate().rev() {
            if field(child, "type") != Some("file") {
                stack.push((
                    format!("{at}.components[{j}]"),
                    child,
                    Some(c.bom_ref.clone()),
                ));
            }
        }
        if let Some(p) = parent {
            sbom.contains
                .entry(p)
                .or_default()
                .insert(c.bom_ref.clone());
        }
        sbom.components.push(c);
    }
    for (i, d) in v
        .get("dependencies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let r = field(d, "ref")
            .ok_or_else(|| SbomError::parse(file, 0, format!("dependencies[{i}]: missing ref")))?;
        let on: BTreeSet<String> = d
            .get("dependsOn")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect();
        sbom.dependencies
            .entry(r.to_string())
            .or_default()
            .extend(on);
    }
    for p in v
        .get("metadata")
        .and_then(|m| m.get("properties"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if field(p, "name") == Some("provenant:warning") {
            sbom.warnings.push(Warning {
                file: file.into(),
                line: 0,
                message: field(p, "value").unwrap_or_default().to_string(),
            });
        }
    }
    let incomplete = v
        .get("compositions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| field(c, "aggregate").is_some_and(|a| a.starts_with("incomplete")));
    if incomplete && sbom.warnings.is_empty() {
        sbom.warnings.push(Warning {
            file: file.into(),
            line: 0,
            message: "the document declares itself incomplete".into(),
        });
    }
    Ok(sbom)
}

#[cfg(test)]
mod tests {
    use crate::{Format, parse_sbom};

    #[test]
    fn nested_components_are_components_contained_in_their_parent() {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6",
          "metadata":{"component":{"type":"machine-learning-model","name":"m","bom-ref":"root"}},
          "components":[
            {"type":"library","name":"requests","version":"2.19.0","purl":"pkg:pypi/requests@2.19.0",
             "components":[{"type":"library","name":"inner","purl":"pkg:pypi/inner@1.0"},
                           {"type":"file","name":"inner/__init__.py"}]},
            {"type":"library","name":"broken","purl":"not-a-purl"}]}"#;
        let (format, s) = parse_sbom(doc, "bom.json").unwrap();
        assert_eq!(format, Format::CycloneDxJson);
        let names: Vec<_> = s.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["requests", "inner", "broken"]);
        let inner = s.components[1].package_url().unwrap().unwrap();
        assert_eq!(inner.version(), Some("1.0"));
        assert_eq!(s.components[0].files[0].path, "inner/__init__.py");
        assert!(s.contains["pkg:pypi/requests@2.19.0"].contains("pkg:pypi/inner@1.0"));
        assert_eq!(s.subject.as_ref().unwrap().bom_ref, "root");
        // The purl is kept as written; whether it parses is the reader's concern.
        assert_eq!(s.components[2].purl.as_deref(), Some("not-a-purl"));
        assert!(s.components[2].package_url().unwrap().is_err());
        assert!(s.is_complete());
    }

    #[test]
    fn components_without_a_bom_ref_may_share_a_purl() {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[
            {"type":"library","name":"requests","purl":"pkg:pypi/requests@2.19.0"},
            {"type":"library","name":"requests","purl":"pkg:pypi/requests@2.19.0"}]}"#;
        let (_, s) = parse_sbom(doc, "bom.json").unwrap();
        let refs: Vec<_> = s.components.iter().map(|c| c.bom_ref.as_str()).collect();
        assert_eq!(
            refs,
            ["pkg:pypi/requests@2.19.0", "pkg:pypi/requests@2.19.0#2"]
        );
    }

    #[test]
    fn a_nested_duplicate_bom_ref_is_refused() {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[
            {"type":"library","name":"a","bom-ref":"x","components":[{"type":"library","name":"b","bom-ref":"x"}]}]}"#;
        let e = parse_sbom(doc, "bom.json").unwrap_err().to_string();
        assert!(
            e.contains("components[0].components[0]: duplicate bom-ref"),
            "{e}"
        );
    }
}

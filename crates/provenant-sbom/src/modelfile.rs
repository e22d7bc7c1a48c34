//! The model itself as one CycloneDX `machine-learning-model` component: the OMS root digest,
//! per-file SHA-256 hashes, file formats detected from their headers (pickle-bearing formats
//! flagged as executable content) and a `modelCard` built from the version's metadata.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use provenant_digest::Digest;
use serde_json::{Map, Value, json};

use crate::error::{Result, SbomError};
use crate::license;
use crate::model::{Component, ComponentKind, FileEntry, Hash, Supplier};
use crate::purl::Purl;

/// A model file format, as recognised from the first bytes of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ModelFormat {
    /// safetensors (8-byte little-endian header length, then a JSON header).
    Safetensors,
    /// GGUF (`GGUF` magic).
    Gguf,
    /// ONNX (a protobuf `ModelProto`).
    Onnx,
    /// PyTorch `torch.save` zip archive (contains `data.pkl`: a pickle).
    PyTorchZip,
    /// NumPy `.npy` (with `object` dtype, the payload is a pickle).
    NumPy {
        /// The array has `object` dtype: loading it unpickles.
        object_dtype: bool,
    },
    /// NumPy `.npz` (zip of `.npy` members).
    NumPyZip,
    /// A Python pickle (including legacy non-zip `torch.save` files).
    Pickle,
    /// HDF5 (Keras `.h5`).
    Hdf5,
    /// TensorFlow Lite flatbuffer.
    TfLite,
    /// Any other zip archive.
    Zip,
    /// Not recognised.
    Unknown,
}

impl ModelFormat {
    /// Short name used in properties.
    pub fn name(self) -> &'static str {
        match self {
            Self::Safetensors => "safetensors",
            Self::Gguf => "gguf",
            Self::Onnx => "onnx",
            Self::PyTorchZip => "pytorch-zip",
            Self::NumPy { .. } => "numpy",
            Self::NumPyZip => "numpy-zip",
            Self::Pickle => "pickle",
            Self::Hdf5 => "hdf5",
            Self::TfLite => "tflite",
            Self::Zip => "zip",
            Self::Unknown => "unknown",
        }
    }

    /// Loading this format can run arbitrary code (it is or embeds a pickle).
    pub fn executes_code(self) -> bool {
        matches!(
            self,
            Self::PyTorchZip | Self::Pickle | Self::NumPy { object_dtype: true }
        )
    }
}

/// How many leading bytes [`detect_format_of_file`] reads.
pub const HEADER_BYTES: usize = 64 * 1024;

/// Detect a model file's format from its first bytes (up to [`HEADER_BYTES`]); `file_name`
/// only breaks ties for formats without a magic number (ONNX, protocol 0/1 pickles).
pub fn detect_format(header: &[u8], file_name: &str) -> ModelFormat {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if header.starts_with(b"GGUF") {
        return ModelFormat::Gguf;
    }
    if header.starts_with(b"\x93NUMPY") {
        let h = String::from_utf8_lossy(&header[..header.len().min(4096)]);
        let object_dtype = h.contains("'descr': '|O'") || h.contains("\"descr\": \"|O\"");
        return ModelFormat::NumPy { object_dtype };
    }
    if header.starts_with(b"\x89HDF\r\n\x1a\n") {
        return ModelFormat::Hdf5;
    }
    if header.starts_with(b"PK\x03\x04") {
        return zip_kind(header);
    }
    if header.len() >= 9 {
        let mut n = [0u8; 8];
        n.copy_from_slice(&header[..8]);
        let len = u64::from_le_bytes(n);
        if (2..100 << 20).contains(&len) && header[8] == b'{' {
            return ModelFormat::Safetensors;
        }
    }
    if header.len() >= 8 && &header[4..8] == b"TFL3" {
        return ModelFormat::TfLite;
    }
    if header.len() >= 2 && header[0] == 0x80 && (2..=5).contains(&header[1]) {
        return ModelFormat::Pickle;
    }
    if looks_like_onnx(header) && (ext == "onnx" || ext.is_empty() || ext == "bin") {
        return ModelFormat::Onnx;
    }
    let pickle_ext =
        ["pkl", "pickle", "pt", "pth", "joblib", "bin", "ckpt"].contains(&ext.as_str());
    if pickle_ext && header.first().is_some_and(|b| b"(]}cq".contains(b)) && header.ends_with(b".")
    {
        return ModelFormat::Pickle;
    }
    ModelFormat::Unknown
}

fn zip_kind(header: &[u8]) -> ModelFormat {
    // Names of the local file headers we can see.
    let mut names = Vec::new();
    let mut off = 0usize;
    while off + 30 <= header.len() && header[off..].starts_with(b"PK\x03\x04") && names.len() < 64 {
        let u16at = |i: usize| usize::from(u16::from_le_bytes([header[i], header[i + 1]]));
        let u32at = |i: usize| {
            u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]) as usize
        };
        let flags = u16at(off + 6);
        let csize = u32at(off + 18);
        let name_len = u16at(off + 26);
        let extra_len = u16at(off + 28);
        let Some(name) = header.get(off + 30..off + 30 + name_len) else {
            break;
        };
        names.push(String::from_utf8_lossy(name).to_string());
        if flags & 0x08 != 0 {
            break; // sizes follow the data: cannot walk further
        }
        off = off + 30 + name_len + extra_len + csize;
    }
    if names
        .iter()
        .any(|n| n == "data.pkl" || n.ends_with("/data.pkl"))
    {
        ModelFormat::PyTorchZip
    } else if !names.is_empty() && names.iter().all(|n| n.ends_with(".npy")) {
        ModelFormat::NumPyZip
    } else {
        ModelFormat::Zip
    }
}

/// A protobuf message starting with field 1 (varint `ir_version`, 3..=20) followed by one of
/// ModelProto's length-delimited fields.
fn looks_like_onnx(h: &[u8]) -> bool {
    if h.len() < 4 || h[0] != 0x08 || !(3..=20).contains(&h[1]) {
        return false;
    }
    // producer_name(2), producer_version(3), domain(4), doc_string(6), graph(7), opset_import(8), metadata_props(14)
    [0x12, 0x1a, 0x22, 0x32, 0x3a, 0x42, 0x72].contains(&h[2])
}

/// Read the first bytes of a file and detect its format.
pub fn detect_format_of_file(path: &Path) -> Result<ModelFormat> {
    let f = std::fs::File::open(path).map_err(|e| SbomError::io(path, e))?;
    let mut buf = Vec::with_capacity(HEADER_BYTES);
    f.take(HEADER_BYTES as u64)
        .read_to_end(&mut buf)
        .map_err(|e| SbomError::io(path, e))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    Ok(detect_format(&buf, name))
}

/// One file of a model version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFile {
    /// Path inside the model (as in the OMS manifest / `org.cncf.model.filepath`).
    pub path: String,
    /// Content digest (SHA-256 as the registry names files).
    pub digest: Digest,
    /// Size in bytes.
    pub size: Option<u64>,
    /// Format, when known (see [`detect_format`]).
    pub format: Option<ModelFormat>,
}

/// What the registry knows about a model version.
#[derive(Debug, Clone)]
pub struct ModelDescription {
    /// Namespace (`aiops`, `netops/edge`).
    pub namespace: String,
    /// Model name.
    pub name: String,
    /// Version label (sequence number or semantic version).
    pub version: String,
    /// OMS root digest (SHA-256 over the model's manifest).
    pub root_digest: Digest,
    /// The files.
    pub files: Vec<ModelFile>,
    /// Version metadata (task, architecture, datasets, metrics, framework, license, ...).
    pub metadata: Option<Value>,
    /// Use this purl instead of `pkg:generic/…` (e.g. `pkg:huggingface/org/name@rev`).
    pub purl: Option<String>,
    /// Who supplies the model (team, organisation).
    pub supplier: Option<String>,
}

/// Build the `machine-learning-model` component. The purl is
/// `pkg:generic/<namespace>/<name>@<version>?checksum=sha256:<root digest>` unless one is given.
pub fn model_component(desc: &ModelDescription) -> Result<Component> {
    let label = format!("{}/{}:{}", desc.namespace, desc.name, desc.version);
    let purl = match &desc.purl {
        Some(p) => p.clone(),
        None => Purl::new("generic", &desc.name)
            .with_namespace(&desc.namespace)
            .with_version(Some(&desc.version))
            .with_qualifier("checksum", Some(&desc.root_digest.to_string()))
            .to_string(),
    };
    let full_name = if desc.namespace.is_empty() {
        desc.name.clone()
    } else {
        format!("{}/{}", desc.namespace, desc.name)
    };
    let mut c = Component {
        kind: ComponentKind::MachineLearningModel,
        bom_ref: purl.clone(),
        name: full_name,
        version: Some(desc.version.clone()),
        purl: Some(purl),
        hashes: vec![Hash::from(&desc.root_digest)],
        supplier: desc
            .supplier
            .clone()
            .map(|name| Supplier { name, email: None }),
        ..Component::default()
    };
    let mut formats = std::collections::BTreeSet::new();
    let mut executable = Vec::new();
    for f in &desc.files {
        if f.path.is_empty() || f.path.starts_with('/') || f.path.split('/').any(|p| p == "..") {
            return Err(SbomError::parse(
                &label,
                0,
                format!("unsafe model file path {:?}", f.path),
            ));
        }
        let mut props = BTreeMap::new();
        if let Some(fmt) = f.format {
            props.insert("provenant:model:format".to_string(), fmt.name().to_string());
            formats.insert(fmt.name());
            if fmt.executes_code() {
                props.insert(
                    "provenant:model:executable-content".to_string(),
                    "true".to_string(),
                );
                executable.push(f.path.clone());
            }
        }
        c.files.push(FileEntry {
            path: f.path.clone(),
            hashes: vec![Hash::from(&f.digest)],
            size: f.size,
            properties: props,
        });
    }
    c.properties.insert(
        "provenant:model:root-digest".into(),
        desc.root_digest.to_string(),
    );
    c.properties.insert(
        "provenant:model:file-count".into(),
        desc.files.len().to_string(),
    );
    if !formats.is_empty() {
        c.properties.insert(
            "provenant:model:formats".into(),
            formats.into_iter().collect::<Vec<_>>().join(","),
        );
    }
    c.properties.insert(
        "provenant:model:executable-content".into(),
        (!executable.is_empty()).to_string(),
    );
    if !executable.is_empty() {
        c.properties.insert(
            "provenant:model:executable-files".into(),
            executable.join("\n"),
        );
    }
    if let Some(meta) = &desc.metadata {
        if let Some(d) = meta.get("description").and_then(Value::as_str) {
            c.description = Some(d.to_string());
        }
        if let Some(l) = meta
            .get("license")
            .and_then(Value::as_str)
            .and_then(license::normalize)
        {
            c.licenses.push(l);
        }
        if let Some(fw) = meta.get("framework").and_then(Value::as_str) {
            c.properties
                .insert("provenant:model:framework".into(), fw.to_string());
        }
        if let Some(commit) = meta.get("source_commit").and_then(Value::as_str) {
            c.properties
                .insert("provenant:model:source-commit".into(), commit.to_string());
        }
        c.model_card = model_card(meta);
    }
    Ok(c)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Build a CycloneDX 1.6 `modelCard` from version metadata. Understood keys:
/// `task`, `approach` / `learning_type`, `architecture` / `model_architecture`,
/// `architecture_family`, `datasets` (strings or `{name, url, description, digest}`),
/// `metrics` (`{name: value}` or `[{name|type, value, slice, lower, upper}]`), `inputs`/`outputs`
/// (format strings), `hyperparameters` (→ card properties), `intended_use`, `limitations`.
pub fn model_card(meta: &Value) -> Option<Value> {
    let get = |k: &str| meta.get(k);
    let mut params = Map::new();
    let approach = get("approach")
        .or_else(|| get("learning_type"))
        .and_then(Value::as_str);
    if let Some(a) = approach {
        let a = a.to_ascii_lowercase().replace([' ', '_'], "-");
        if [
            "supervised",
            "unsupervised",
            "reinforcement-learning",
            "semi-supervised",
            "self-supervised",
        ]
        .contains(&a.as_str())
        {
            params.insert("approach".into(), json!({ "type": a }));
        }
    }
    if let Some(t) = get("task").and_then(text) {
        params.insert("task".into(), Value::String(t));
    }
    if let Some(a) = get("architecture_family").and_then(text) {
        params.insert("architectureFamily".into(), Value::String(a));
    }
    if let Some(a) = get("model_architecture")
        .or_else(|| get("architecture"))
        .and_then(text)
    {
        params.insert("modelArchitecture".into(), Value::String(a));
    }
    if let Some(ds) = get("datasets").or_else(|| get("dataset")) {
        let list: Vec<&Value> = match ds {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        let mut out = Vec::new();
        for d in list {
            let mut cd = Map::new();
            cd.insert("type".into(), json!("dataset"));
            match d {
                Value::String(s) => {
                    cd.insert("name".into(), json!(s));
                }
                Value::Object(o) => {
                    if let Some(n) = o.get("name").and_then(text) {
                        cd.insert("name".into(), json!(n));
                    }
                    if let Some(desc) = o.get("description").and_then(text) {
                        cd.insert("description".into(), json!(desc));
                    }
                    let mut contents = Map::new();
                    if let Some(u) = o
                        .get("url")
                        .or_else(|| o.get("uri"))
                        .and_then(Value::as_str)
                        && !u.contains(char::is_whitespace)
                    {
                        contents.insert("url".into(), json!(u));
                    }
                    let props: Vec<Value> = o
                        .iter()
                        .filter(|(k, _)| {
                            !["name", "description", "url", "uri"].contains(&k.as_str())
                        })
                        .filter_map(|(k, v)| text(v).map(|v| json!({ "name": k, "value": v })))
                        .collect();
                    if !props.is_empty() {
                        contents.insert("properties".into(), Value::Array(props));
                    }
                    if !contents.is_empty() {
                        cd.insert("contents".into(), Value::Object(contents));
                    }
                }
                _ => continue,
            }
            out.push(Value::Object(cd));
        }
        if !out.is_empty() {
            params.insert("datasets".into(), Value::Array(out));
        }
    }
    for (key, field) in [("inputs", "inputs"), ("outputs", "outputs")] {
        if let Some(Value::Array(a)) = get(key) {
            let v: Vec<Value> = a
                .iter()
                .filter_map(text)
                .map(|f| json!({ "format": f }))
                .collect();
            if !v.is_empty() {
                params.insert(field.into(), Value::Array(v));
            }
        }
    }
    let mut card = Map::new();
    if !params.is_empty() {
        card.insert("modelParameters".into(), Value::Object(params));
    }
    let metrics = get("metrics").map(metric_list).unwrap_or_default();
    if !metrics.is_empty() {
        card.insert(
            "quantitativeAnalysis".into(),
            json!({ "performanceMetrics": metrics }),
        );
    }
    let mut considerations = Map::new();
    if let Some(u) = get("intended_use").and_then(text) {
        considerations.insert("useCases".into(), json!([u]));
    }
    if let Some(l) = get("limitations").and_then(text) {
        considerations.insert("technicalLimitations".into(), json!([l]));
    }
    if !considerations.is_empty() {
        card.insert("considerations".into(), Value::Object(considerations));
    }
    if let Some(Value::Object(hp)) = get("hyperparameters") {
        let props: Vec<Value> = hp
            .iter()
            .map(|(k, v)| {
                let v = text(v).unwrap_or_else(|| v.to_string());
                json!({ "name": format!("hyperparameter:{k}"), "value": v })
            })
            .collect();
        if !props.is_empty() {
            card.insert("properties".into(), Value::Array(props));
        }
    }
    (!card.is_empty()).then_some(Value::Object(card))
}

fn metric_list(m: &Value) -> Vec<Value> {
    let one = |name: &str, v: &Value| -> Option<Value> {
        match v {
            Value::Object(o) => {
                let mut pm = Map::new();
                pm.insert(
                    "type".into(),
                    json!(
                        o.get("type")
                            .or_else(|| o.get("name"))
                            .and_then(text)
                            .unwrap_or_else(|| name.to_string())
                    ),
                );
                pm.insert("value".into(), json!(o.get("value").and_then(text)?));
                if let Some(s) = o.get("slice").and_then(text) {
                    pm.insert("slice".into(), json!(s));
                }
                let lo = o
                    .get("lower")
                    .or_else(|| o.get("lower_bound"))
                    .and_then(text);
                let hi = o
                    .get("upper")
                    .or_else(|| o.get("upper_bound"))
                    .and_then(text);
                if lo.is_some() || hi.is_some() {
                    let mut ci = Map::new();
                    if let Some(l) = lo {
                        ci.insert("lowerBound".into(), json!(l));
                    }
                    if let Some(h) = hi {
                        ci.insert("upperBound".into(), json!(h));
                    }
                    pm.insert("confidenceInterval".into(), Value::Object(ci));
                }
                Some(Value::Object(pm))
            }
            other => Some(json!({ "type": name, "value": text(other)? })),
        }
    };
    match m {
        Value::Object(o) => o.iter().filter_map(|(k, v)| one(k, v)).collect(),
        Value::Array(a) => a.iter().filter_map(|v| one("metric", v)).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_headers() {
        let mut st = 10u64.to_le_bytes().to_vec();
        st.extend_from_slice(b"{\"a\":1}   ");
        assert_eq!(
            detect_format(&st, "model.safetensors"),
            ModelFormat::Safetensors
        );
        assert_eq!(detect_format(b"GGUF\x03\0\0\0", "x"), ModelFormat::Gguf);
        assert_eq!(detect_format(b"\x80\x04\x95", "x.pkl"), ModelFormat::Pickle);
        assert!(ModelFormat::Pickle.executes_code());
        let npy = b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (2,), }";
        assert_eq!(
            detect_format(npy, "a.npy"),
            ModelFormat::NumPy { object_dtype: true }
        );
        assert!(detect_format(npy, "a.npy").executes_code());
        assert_eq!(
            detect_format(b"\x08\x07\x12\x07pytorch", "m.onnx"),
            ModelFormat::Onnx
        );
        assert_eq!(
            detect_format(b"hello world", "README"),
            ModelFormat::Unknown
        );
    }

    #[test]
    fn torch_zip_is_flagged() {
        let mut z = b"PK\x03\x04".to_vec();
        z.extend_from_slice(&[0; 14]); // version, flags, method, time, date, crc
        z.extend_from_slice(&3u32.to_le_bytes()); // compressed size
        z.extend_from_slice(&3u32.to_le_bytes()); // uncompressed size
        z.extend_from_slice(&(b"archive/data.pkl".len() as u16).to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z.extend_from_slice(b"archive/data.pkl\x80\x02.");
        assert_eq!(detect_format(&z, "model.pt"), ModelFormat::PyTorchZip);
    }

    #[test]
    fn component_and_card() {
        let d = ModelDescription {
            namespace: "aiops".into(),
            name: "anomaly".into(),
            version: "3".into(),
            root_digest: format!("sha256:{}", "ab".repeat(32)).parse().unwrap(),
            files: vec![ModelFile {
                path: "model.pt".into(),
                digest: format!("sha256:{}", "cd".repeat(32)).parse().unwrap(),
                size: Some(3),
                format: Some(ModelFormat::PyTorchZip),
            }],
            metadata: Some(json!({
                "task": "anomaly-detection", "architecture": "LSTM", "approach": "unsupervised",
                "datasets": ["netflow-2024", {"name": "syslog", "url": "s3://b/syslog", "digest": "sha256:00"}],
                "metrics": {"f1": 0.93, "auc": {"value": 0.97, "lower": 0.95, "upper": 0.98}},
                "hyperparameters": {"lr": 0.001}, "license": "Apache-2.0"
            })),
            purl: None,
            supplier: None,
        };
        let c = model_component(&d).unwrap();
        assert_eq!(
            c.purl.as_deref(),
            Some(
                format!(
                    "pkg:generic/aiops/anomaly@3?checksum=sha256:{}",
                    "ab".repeat(32)
                )
                .as_str()
            )
        );
        assert_eq!(c.properties["provenant:model:executable-content"], "true");
        let card = c.model_card.unwrap();
        assert_eq!(card["modelParameters"]["task"], "anomaly-detection");
        assert_eq!(
            card["modelParameters"]["datasets"][1]["contents"]["url"],
            "s3://b/syslog"
        );
        assert_eq!(
            card["quantitativeAnalysis"]["performanceMetrics"][0]["type"],
            "auc"
        );
        assert_eq!(
            card["quantitativeAnalysis"]["performanceMetrics"][0]["confidenceInterval"]["upperBound"],
            "0.98"
        );
        // A bad root digest no longer reaches the SBOM: it fails where the
        // caller parses it.
        assert!("nope".parse::<Digest>().is_err());
        let bad = ModelDescription {
            files: vec![ModelFile {
                path: "../escape".into(),
                ..d.files[0].clone()
            }],
            ..d
        };
        assert!(model_component(&bad).is_err());
    }
}

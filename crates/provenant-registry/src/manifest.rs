//! A version as an OCI image manifest v1.1 with CNCF ModelPack media types:
//! one raw layer per model file (its path in `org.cncf.model.filepath`) and a
//! ModelPack config blob carrying the model descriptor and our metadata.
//! Serialisation is deterministic, so identical content gives an identical digest.

use provenant_digest::Digest;
use serde_json::{Value, json};

use crate::{Metadata, ModelName};

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const ARTIFACT_TYPE: &str = "application/vnd.cncf.model.manifest.v1+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.model.config.v1+json";
pub const FILEPATH_ANNOTATION: &str = "org.cncf.model.filepath";

pub use provenant_api::ManifestFile;

/// The ModelPack layer media type for a file, from its name.
pub fn layer_media_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if name.starts_with("readme")
        || name.starts_with("license")
        || matches!(ext, "md" | "txt" | "rst")
    {
        "application/vnd.cncf.model.doc.v1.raw"
    } else if matches!(ext, "py" | "sh" | "ipynb") {
        "application/vnd.cncf.model.code.v1.raw"
    } else if matches!(
        ext,
        "json" | "yaml" | "yml" | "toml" | "model" | "tiktoken" | "vocab"
    ) {
        "application/vnd.cncf.model.weight.config.v1.raw"
    } else {
        "application/vnd.cncf.model.weight.v1.raw"
    }
}

/// Serialised manifest and config with their digests.
#[derive(Clone, Debug)]
pub struct BuiltManifest {
    pub manifest: Vec<u8>,
    pub digest: Digest,
    pub config: Vec<u8>,
    pub config_digest: Digest,
}

/// Build the manifest for `files` (sorted by path by the caller).
pub fn build_manifest(
    model: &ModelName,
    files: &[ManifestFile],
    metadata: &Metadata,
) -> BuiltManifest {
    let m = &metadata.value;
    let mut descriptor = serde_json::Map::new();
    descriptor.insert("name".into(), json!(model.full()));
    if let Some(d) = m.get("description") {
        descriptor.insert("description".into(), d.clone());
    }
    if let Some(a) = m.get("authors") {
        descriptor.insert("authors".into(), a.clone());
    }
    if let Some(l) = m.get("license") {
        descriptor.insert("licenses".into(), json!([l]));
    }
    let mut config = serde_json::Map::new();
    for key in ["architecture", "format"] {
        if let Some(v) = m.get(key) {
            config.insert(key.into(), v.clone());
        }
    }
    let config_doc = json!({
        "descriptor": Value::Object(descriptor),
        "config": Value::Object(config),
        "modelfs": {
            "type": "layers",
            "diffIds": files.iter().map(|f| f.digest).collect::<Vec<_>>(),
        },
        "x-provenant-metadata": m,
    });
    let config_bytes = config_doc.to_string().into_bytes();
    let config_digest = Digest::sha256(&config_bytes);
    let layers: Vec<Value> = files
        .iter()
        .map(|f| {
            json!({
                "mediaType": layer_media_type(&f.path),
                "digest": f.digest,
                "size": f.size,
                "annotations": { FILEPATH_ANNOTATION: f.path },
            })
        })
        .collect();
    let manifest_doc = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": {
            "mediaType": CONFIG_MEDIA_TYPE,
            "digest": config_digest,
            "size": config_bytes.len(),
        },
        "layers": layers,
    });
    let manifest = manifest_doc.to_string().into_bytes();
    let digest = Digest::sha256(&manifest);
    BuiltManifest {
        manifest,
        digest,
        config: config_bytes,
        config_digest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate_metadata;

    #[test]
    fn deterministic_and_modelpack_shaped() {
        let model = ModelName::parse("aiops/anomaly").unwrap();
        let meta = validate_metadata(json!({"format": "safetensors", "x-a": 1})).unwrap();
        let files = vec![
            ManifestFile {
                path: "README.md".into(),
                digest: Digest::sha256(b"r"),
                size: 1,
            },
            ManifestFile {
                path: "model.safetensors".into(),
                digest: Digest::sha256(b"m"),
                size: 1,
            },
        ];
        let a = build_manifest(&model, &files, &meta);
        let b = build_manifest(&model, &files, &meta);
        assert_eq!(a.digest, b.digest);
        let doc: Value = serde_json::from_slice(&a.manifest).unwrap();
        assert_eq!(doc["artifactType"], ARTIFACT_TYPE);
        assert_eq!(doc["config"]["digest"], a.config_digest.to_string());
        assert_eq!(
            doc["layers"][1]["mediaType"],
            "application/vnd.cncf.model.weight.v1.raw"
        );
        assert_eq!(
            doc["layers"][1]["annotations"][FILEPATH_ANNOTATION],
            "model.safetensors"
        );
        assert_eq!(
            doc["layers"][0]["mediaType"],
            "application/vnd.cncf.model.doc.v1.raw"
        );
        let other = validate_metadata(json!({"format": "onnx"})).unwrap();
        assert_ne!(build_manifest(&model, &files, &other).digest, a.digest);
    }
}

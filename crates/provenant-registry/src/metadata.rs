//! Version metadata and its JSON Schema (published at
//! `/api/v1/schemas/version-metadata.json`). Unknown top-level fields are
//! rejected; `x-*` extension fields are kept as they are.

use std::sync::OnceLock;

use serde_json::Value;

use crate::RegistryError;

/// The JSON Schema (draft 2020-12) every version's metadata must satisfy.
pub const METADATA_SCHEMA: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://provenant.dev/schemas/version-metadata.json",
  "title": "Provenant version metadata",
  "type": "object",
  "properties": {
    "description": { "type": "string", "maxLength": 8192 },
    "framework": { "type": "string", "maxLength": 128, "examples": ["pytorch", "onnx", "scikit-learn", "xgboost"] },
    "framework_version": { "type": "string", "maxLength": 64 },
    "task": { "type": "string", "maxLength": 128, "examples": ["anomaly-detection", "incident-prediction"] },
    "architecture": { "type": "string", "maxLength": 128 },
    "format": { "type": "string", "maxLength": 64, "examples": ["safetensors", "onnx", "gguf", "pickle"] },
    "license": { "type": "string", "maxLength": 256 },
    "authors": { "type": "array", "items": { "type": "string", "maxLength": 256 }, "maxItems": 64 },
    "metrics": {
      "type": "object",
      "additionalProperties": { "type": "number" },
      "description": "evaluation metrics, name to value"
    },
    "hyperparameters": {
      "type": "object",
      "description": "training hyperparameters, name to any JSON value"
    },
    "datasets": {
      "type": "array",
      "maxItems": 256,
      "items": {
        "type": "object",
        "properties": {
          "name": { "type": "string", "maxLength": 256 },
          "uri": { "type": "string", "maxLength": 2048 },
          "digest": { "type": "string", "pattern": "^sha256:[0-9a-f]{64}$" },
          "split": { "type": "string", "maxLength": 64 }
        },
        "required": ["digest"],
        "additionalProperties": false
      }
    },
    "source": {
      "type": "object",
      "properties": {
        "repository": { "type": "string", "maxLength": 2048 },
        "commit": { "type": "string", "pattern": "^([0-9a-f]{40}|[0-9a-f]{64})$" },
        "path": { "type": "string", "maxLength": 1024 }
      },
      "required": ["commit"],
      "additionalProperties": false
    },
    "container_image": {
      "type": "string",
      "pattern": "^[^\\s@]+@sha256:[0-9a-f]{64}$",
      "description": "training image pinned by digest: name@sha256:…"
    },
    "parents": {
      "type": "array",
      "items": { "type": "string", "pattern": "^[a-z0-9][a-z0-9._/-]*@sha256:[0-9a-f]{64}$" },
      "description": "versions this one was derived from (fine-tunes), pinned by digest",
      "maxItems": 16
    }
  },
  "patternProperties": { "^x-": {} },
  "additionalProperties": false
}"##;

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        // The schema is a constant of this crate; a test checks it compiles.
        #[allow(clippy::expect_used)]
        let schema: Value =
            serde_json::from_str(METADATA_SCHEMA).expect("metadata schema is valid JSON");
        #[allow(clippy::expect_used)]
        jsonschema::validator_for(&schema).expect("metadata schema compiles")
    })
}

/// Validated metadata, serialised canonically (object keys sorted, no whitespace).
#[derive(Clone, Debug, PartialEq)]
pub struct Metadata {
    pub value: Value,
    pub canonical: String,
}

/// Largest metadata of a version, as canonical JSON (object keys sorted, no
/// whitespace): what every listing row carries and every search indexes.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// Largest value of one top-level metadata field (`hyperparameters`,
/// `metrics`, an `x-*` extension, ...), as canonical JSON.
pub const MAX_METADATA_FIELD_BYTES: usize = 32 * 1024;

/// Counts the bytes serde writes and stops it once they pass a limit, so that
/// an oversized value is never serialised whole.
struct Budget {
    used: usize,
    limit: usize,
}

impl std::io::Write for Budget {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.used += buf.len();
        if self.used > self.limit {
            return Err(std::io::Error::other("over budget"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether `value` fits in `limit` bytes of compact JSON.
fn fits(value: &Value, limit: usize) -> bool {
    serde_json::to_writer(&mut Budget { used: 0, limit }, value).is_ok()
}

/// The size caps, checked before the schema so that an oversized value costs
/// no more than its first `limit` bytes.
fn check_size(value: &Value) -> Result<(), RegistryError> {
    if let Value::Object(fields) = value {
        for (name, v) in fields {
            if !fits(v, MAX_METADATA_FIELD_BYTES) {
                let pointer = name.replace('~', "~0").replace('/', "~1");
                return Err(RegistryError::InvalidMetadata {
                    errors: vec![format!(
                        "at /{pointer}: field {name:?} is over {MAX_METADATA_FIELD_BYTES} bytes as JSON (the limit per field)"
                    )],
                });
            }
        }
    }
    if !fits(value, MAX_METADATA_BYTES) {
        return Err(RegistryError::InvalidMetadata {
            errors: vec![format!(
                "at /: metadata is over {MAX_METADATA_BYTES} bytes as JSON (the limit per version)"
            )],
        });
    }
    Ok(())
}

/// Validate metadata against the size caps ([`MAX_METADATA_FIELD_BYTES`] per
/// top-level field, [`MAX_METADATA_BYTES`] in all) and the schema; every
/// violation is reported with its JSON pointer.
pub fn validate_metadata(value: Value) -> Result<Metadata, RegistryError> {
    check_size(&value)?;
    let errors: Vec<String> = validator()
        .iter_errors(&value)
        .map(|e| {
            let at = e.instance_path().to_string();
            let at = if at.is_empty() { "/".to_owned() } else { at };
            format!("at {at}: {e}")
        })
        .collect();
    if !errors.is_empty() {
        return Err(RegistryError::InvalidMetadata { errors });
    }
    // serde_json's Map is ordered by key (no `preserve_order`), so this is canonical.
    let canonical = serde_json::to_string(&value).map_err(|e| RegistryError::InvalidMetadata {
        errors: vec![format!("cannot serialise: {e}")],
    })?;
    Ok(Metadata { value, canonical })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn accepts_full_metadata_and_extensions() {
        let m = validate_metadata(json!({
            "framework": "pytorch",
            "task": "anomaly-detection",
            "metrics": {"f1": 0.93},
            "hyperparameters": {"lr": 0.001, "layers": [64, 32]},
            "datasets": [{"name": "netflow", "digest": format!("sha256:{}", "a".repeat(64))}],
            "source": {"repository": "https://git.example/aiops", "commit": "0123456789abcdef0123456789abcdef01234567"},
            "container_image": format!("registry.example/train@sha256:{}", "b".repeat(64)),
            "x-team": {"oncall": "netops"}
        }))
        .unwrap();
        assert!(
            m.canonical.starts_with("{\"container_image\""),
            "keys sorted: {}",
            m.canonical
        );
    }

    #[test]
    fn rejects_unknown_fields_and_bad_values_with_pointers() {
        let err = validate_metadata(json!({"framwork": "pytorch"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("framwork"), "{err}");
        let err = validate_metadata(json!({"metrics": {"f1": "high"}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/metrics/f1"), "{err}");
        let err = validate_metadata(json!({"source": {"commit": "abc"}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/source/commit"), "{err}");
        assert!(validate_metadata(json!([1, 2])).is_err());
    }

    #[test]
    fn size_caps_name_the_field() {
        // One field over its cap: the error names it, whatever the schema says.
        let big = "x".repeat(MAX_METADATA_FIELD_BYTES);
        let err = validate_metadata(json!({"hyperparameters": {"notes": big}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at /hyperparameters"), "{err}");
        assert!(err.contains("limit per field"), "{err}");
        let err = validate_metadata(json!({"x-a/b": [big]}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at /x-a~1b"), "{err}");
        // Every field within its cap, the whole over the total.
        let part = "y".repeat(MAX_METADATA_FIELD_BYTES - 100);
        let err = validate_metadata(json!({"x-1": part, "x-2": part, "x-3": part}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("limit per version"), "{err}");
        // Just under both caps passes.
        let m = validate_metadata(json!({"x-1": part, "x-2": part})).unwrap();
        assert!(m.canonical.len() <= MAX_METADATA_BYTES);
    }
}

//! in-toto Statement v1 with the OMS predicate
//! (<https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md>,
//! <https://github.com/ossf/model-signing-spec>).

use std::collections::HashSet;

use provenant_digest::{
    GIT_IGNORE_PATHS, HashAlgorithm, ModelDigest, Resource, ResourceName, Serialization,
    root_digest, validate_relative_path,
};
use serde::Serialize;
use serde_json::Value;

use crate::encoding::{hex, unhex};
use crate::error::{AttestError, Result};

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// OMS predicate v1.0.
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
/// Pre-1.0 predicate (model_signing 0.2): one subject per file.
pub const PREDICATE_TYPE_V01: &str = "https://model_signing/Digests/v0.1";

/// What a verified signature says about the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedManifest {
    /// `predicateType` of the statement.
    pub predicate_type: String,
    /// `subject[0].name` (informative).
    pub model_name: String,
    /// `subject[0].digest.sha256` (absent in v0.1 statements).
    pub root_digest: Option<[u8; 32]>,
    /// Resource digest algorithm.
    pub algorithm: HashAlgorithm,
    /// Files or shards.
    pub serialization: Serialization,
    /// Whether symlinks were hashed.
    pub allow_symlinks: bool,
    /// Paths the signer left out (None when the statement does not say).
    pub ignore_paths: Option<Vec<String>>,
    /// Signed resources, in statement order.
    pub resources: Vec<Resource>,
}

impl SignedManifest {
    /// Hex of the root digest, if any.
    pub fn root_digest_hex(&self) -> Option<String> {
        self.root_digest.map(|d| hex(&d))
    }
}

#[derive(Serialize)]
struct StatementOut<'a> {
    #[serde(rename = "_type")]
    type_: &'a str,
    subject: [SubjectOut<'a>; 1],
    #[serde(rename = "predicateType")]
    predicate_type: &'a str,
    predicate: PredicateOut<'a>,
}

#[derive(Serialize)]
struct SubjectOut<'a> {
    name: &'a str,
    digest: DigestOut,
}

#[derive(Serialize)]
struct DigestOut {
    sha256: String,
}

#[derive(Serialize)]
struct PredicateOut<'a> {
    serialization: SerializationOut<'a>,
    resources: Vec<ResourceOut<'a>>,
}

#[derive(Serialize)]
struct SerializationOut<'a> {
    method: &'a str,
    hash_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard_size: Option<u64>,
    allow_symlinks: bool,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    ignore_paths: &'a [String],
}

#[derive(Serialize)]
struct ResourceOut<'a> {
    name: String,
    algorithm: &'a str,
    digest: String,
}

/// The in-toto statement (OMS v1.0 predicate) for a hashed model, as
/// indented JSON like model_signing's payload.
pub fn statement_json(model: &ModelDigest) -> Vec<u8> {
    let shard_size = match model.serialization {
        Serialization::Files => None,
        Serialization::Shards { shard_size } => Some(shard_size),
    };
    let s = StatementOut {
        type_: STATEMENT_TYPE,
        subject: [SubjectOut {
            name: &model.model_name,
            digest: DigestOut {
                sha256: model.root_digest_hex(),
            },
        }],
        predicate_type: PREDICATE_TYPE,
        predicate: PredicateOut {
            serialization: SerializationOut {
                method: model.serialization.method(),
                hash_type: model.algorithm.name(),
                shard_size,
                allow_symlinks: model.allow_symlinks,
                ignore_paths: &model.ignore_paths,
            },
            resources: model
                .resources
                .iter()
                .map(|r| ResourceOut {
                    name: r.name.to_string(),
                    algorithm: &r.algorithm,
                    digest: r.digest_hex(),
                })
                .collect(),
        },
    };
    serde_json::to_vec_pretty(&s).unwrap_or_default()
}

fn get<'a>(v: &'a Value, key: &str, field: &str) -> Result<&'a Value> {
    v.get(key)
        .ok_or_else(|| AttestError::malformed(format!("{field}.{key}"), "missing"))
}

fn get_str<'a>(v: &'a Value, key: &str, field: &str) -> Result<&'a str> {
    get(v, key, field)?
        .as_str()
        .ok_or_else(|| AttestError::malformed(format!("{field}.{key}"), "expected a string"))
}

fn get_array<'a>(v: &'a Value, key: &str, field: &str) -> Result<&'a Vec<Value>> {
    get(v, key, field)?
        .as_array()
        .ok_or_else(|| AttestError::malformed(format!("{field}.{key}"), "expected an array"))
}

fn digest_bytes(s: &str, field: &str, len: usize) -> Result<Vec<u8>> {
    let d = unhex(s).ok_or_else(|| AttestError::malformed(field, "expected lowercase hex"))?;
    if d.len() != len {
        return Err(AttestError::malformed(
            field,
            format!("expected a {len}-byte digest, got {} bytes", d.len()),
        ));
    }
    Ok(d)
}

/// Parses a signed in-toto statement carrying an OMS predicate (v1.0, or
/// v0.1 for old signatures). Checks the root digest against the resources and
/// refuses unsafe resource names (`..`, absolute paths).
///
/// # Errors
/// Any malformed or inconsistent field, named by its JSON path in the payload.
pub fn parse_statement(payload: &[u8]) -> Result<SignedManifest> {
    let v: Value = serde_json::from_slice(payload)
        .map_err(|e| AttestError::malformed("dsseEnvelope.payload", format!("not JSON: {e}")))?;
    let f = "payload";
    let t = get_str(&v, "_type", f)?;
    if t != STATEMENT_TYPE {
        return Err(AttestError::malformed(
            "payload._type",
            format!("expected {STATEMENT_TYPE}, got {t:?}"),
        ));
    }
    let predicate_type = get_str(&v, "predicateType", f)?;
    let subjects = get_array(&v, "subject", f)?;
    match predicate_type {
        PREDICATE_TYPE => parse_v1(&v, subjects),
        PREDICATE_TYPE_V01 => parse_v01(subjects),
        other => Err(AttestError::malformed(
            "payload.predicateType",
            format!("unsupported predicate type {other:?} (expected {PREDICATE_TYPE})"),
        )),
    }
}

fn parse_v1(v: &Value, subjects: &[Value]) -> Result<SignedManifest> {
    if subjects.len() != 1 {
        return Err(AttestError::malformed(
            "payload.subject",
            format!("expected exactly one subject, got {}", subjects.len()),
        ));
    }
    let subject = &subjects[0];
    let model_name = get_str(subject, "name", "payload.subject[0]")?.to_owned();
    let digest = get(subject, "digest", "payload.subject[0]")?;
    let root_hex = get_str(digest, "sha256", "payload.subject[0].digest")?;
    let root: [u8; 32] = digest_bytes(root_hex, "payload.subject[0].digest.sha256", 32)?
        .try_into()
        .map_err(|_| AttestError::malformed("payload.subject[0].digest.sha256", "bad length"))?;

    let predicate = get(v, "predicate", "payload")?;
    let ser = get(predicate, "serialization", "payload.predicate")?;
    let sf = "payload.predicate.serialization";
    let method = get_str(ser, "method", sf)?;
    let hash_type = get_str(ser, "hash_type", sf)?;
    let algorithm: HashAlgorithm =
        hash_type
            .parse()
            .map_err(|e: provenant_digest::DigestError| {
                AttestError::malformed(format!("{sf}.hash_type"), e.to_string())
            })?;
    let serialization = match method {
        "files" => Serialization::Files,
        "shards" => {
            let s = get(ser, "shard_size", sf)?;
            // model_signing writes protobuf Struct numbers, e.g. `1000000000.0`.
            let size = s
                .as_u64()
                .or_else(|| {
                    s.as_f64()
                        .filter(|x| x.fract() == 0.0 && *x >= 1.0 && *x < 9.0e15)
                        .map(|x| x as u64)
                })
                .filter(|x| *x > 0)
                .ok_or_else(|| {
                    AttestError::malformed(
                        format!("{sf}.shard_size"),
                        "expected a positive integer",
                    )
                })?;
            Serialization::Shards { shard_size: size }
        }
        other => {
            return Err(AttestError::malformed(
                format!("{sf}.method"),
                format!("unknown serialization method {other:?} (expected files or shards)"),
            ));
        }
    };
    let allow_symlinks = match ser.get("allow_symlinks") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(AttestError::malformed(
                format!("{sf}.allow_symlinks"),
                "expected a boolean",
            ));
        }
    };
    let ignore_paths = match ser.get("ignore_paths") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, p)| {
                p.as_str().map(str::to_owned).ok_or_else(|| {
                    AttestError::malformed(format!("{sf}.ignore_paths[{i}]"), "expected a string")
                })
            })
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            // Paths outside the model cannot match anything; drop them.
            .filter(|p| validate_relative_path(p).is_ok())
            .collect(),
        Some(_) => {
            return Err(AttestError::malformed(
                format!("{sf}.ignore_paths"),
                "expected an array",
            ));
        }
    };

    let expected_algorithm = serialization.resource_algorithm(algorithm);
    let items = get_array(predicate, "resources", "payload.predicate")?;
    let mut seen = HashSet::new();
    let mut resources = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let rf = format!("payload.predicate.resources[{i}]");
        let name = get_str(item, "name", &rf)?;
        let name = ResourceName::parse(name, &serialization)
            .map_err(|e| AttestError::malformed(format!("{rf}.name"), e.to_string()))?;
        let alg = get_str(item, "algorithm", &rf)?;
        if alg != expected_algorithm {
            return Err(AttestError::malformed(
                format!("{rf}.algorithm"),
                format!("expected {expected_algorithm:?} (from serialization), got {alg:?}"),
            ));
        }
        let digest = digest_bytes(
            get_str(item, "digest", &rf)?,
            &format!("{rf}.digest"),
            algorithm.digest_len(),
        )?;
        if !seen.insert(name.to_string()) {
            return Err(AttestError::malformed(
                format!("{rf}.name"),
                format!("duplicate resource {name}"),
            ));
        }
        resources.push(Resource {
            name,
            algorithm: alg.to_owned(),
            digest,
        });
    }
    let computed = root_digest(&resources);
    if computed != root {
        return Err(AttestError::RootDigestMismatch {
            signed: hex(&root),
            computed: hex(&computed),
        });
    }
    Ok(SignedManifest {
        predicate_type: PREDICATE_TYPE.to_owned(),
        model_name,
        root_digest: Some(root),
        algorithm,
        serialization,
        allow_symlinks,
        ignore_paths: Some(ignore_paths),
        resources,
    })
}

fn parse_v01(subjects: &[Value]) -> Result<SignedManifest> {
    let mut seen = HashSet::new();
    let mut resources = Vec::with_capacity(subjects.len());
    for (i, s) in subjects.iter().enumerate() {
        let sf = format!("payload.subject[{i}]");
        let name = get_str(s, "name", &sf)?;
        let name = ResourceName::parse(name, &Serialization::Files)
            .map_err(|e| AttestError::malformed(format!("{sf}.name"), e.to_string()))?;
        let digest = get(s, "digest", &sf)?;
        let d = digest_bytes(
            get_str(digest, "sha256", &format!("{sf}.digest"))?,
            &format!("{sf}.digest.sha256"),
            32,
        )?;
        if !seen.insert(name.to_string()) {
            return Err(AttestError::malformed(
                format!("{sf}.name"),
                format!("duplicate resource {name}"),
            ));
        }
        resources.push(Resource {
            name,
            algorithm: "sha256".to_owned(),
            digest: d,
        });
    }
    Ok(SignedManifest {
        predicate_type: PREDICATE_TYPE_V01.to_owned(),
        model_name: String::new(),
        root_digest: None,
        algorithm: HashAlgorithm::Sha256,
        serialization: Serialization::Files,
        allow_symlinks: false,
        ignore_paths: None,
        resources,
    })
}

/// Ignore paths to use when the statement does not record any (v0.1).
pub(crate) fn default_ignore_paths() -> Vec<String> {
    GIT_IGNORE_PATHS.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ModelDigest {
        let resources = vec![
            Resource {
                name: ResourceName::File("a/b".into()),
                algorithm: "sha256".into(),
                digest: vec![1; 32],
            },
            Resource {
                name: ResourceName::File("a-c".into()),
                algorithm: "sha256".into(),
                digest: vec![2; 32],
            },
        ];
        ModelDigest {
            model_name: "m".into(),
            algorithm: HashAlgorithm::Sha256,
            serialization: Serialization::Files,
            allow_symlinks: false,
            ignore_paths: vec![".git".into(), "model.sig".into()],
            root_digest: root_digest(&resources),
            resources,
        }
    }

    #[test]
    fn round_trip() {
        let md = sample();
        let json = statement_json(&md);
        let m = parse_statement(&json).unwrap();
        assert_eq!(m.resources, md.resources);
        assert_eq!(m.root_digest, Some(md.root_digest));
        assert_eq!(m.ignore_paths.as_deref(), Some(&md.ignore_paths[..]));
        assert_eq!(m.model_name, "m");
    }

    fn edit(f: impl FnOnce(&mut Value)) -> Result<SignedManifest> {
        let mut v: Value = serde_json::from_slice(&statement_json(&sample())).unwrap();
        f(&mut v);
        parse_statement(&serde_json::to_vec(&v).unwrap())
    }

    #[test]
    fn bad_statements_name_the_field() {
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(Edit, &str)> = vec![
            (Box::new(|v| v["_type"] = "x".into()), "payload._type"),
            (
                Box::new(|v| v["predicateType"] = "x".into()),
                "payload.predicateType",
            ),
            (
                Box::new(|v| v["predicate"]["resources"][1]["name"] = "../../etc/passwd".into()),
                "payload.predicate.resources[1].name",
            ),
            (
                Box::new(|v| v["predicate"]["resources"][1]["name"] = "/etc/passwd".into()),
                "payload.predicate.resources[1].name",
            ),
            (
                Box::new(|v| v["predicate"]["resources"][0]["digest"] = "zz".into()),
                "payload.predicate.resources[0].digest",
            ),
            (
                Box::new(|v| v["predicate"]["resources"][0]["algorithm"] = "md5".into()),
                "payload.predicate.resources[0].algorithm",
            ),
            (
                Box::new(|v| v["predicate"]["resources"][0]["digest"] = "03".repeat(32).into()),
                "root digest",
            ),
            (
                Box::new(|v| v["predicate"]["serialization"]["method"] = "tensors".into()),
                "serialization.method",
            ),
            (
                Box::new(|v| v["subject"] = Value::Array(vec![])),
                "payload.subject",
            ),
        ];
        for (f, field) in cases {
            let e = edit(f).unwrap_err();
            assert!(e.to_string().contains(field), "{field}: {e}");
        }
    }

    #[test]
    fn float_shard_size_from_model_signing() {
        let m = edit(|v| {
            v["predicate"]["serialization"]["method"] = "shards".into();
            v["predicate"]["serialization"]["shard_size"] = serde_json::json!(2.0);
            v["predicate"]["resources"][0]["name"] = "a/b:0:2".into();
            v["predicate"]["resources"][1]["name"] = "a-c:0:2".into();
            v["predicate"]["resources"][0]["algorithm"] = "sha256-sharded-2".into();
            v["predicate"]["resources"][1]["algorithm"] = "sha256-sharded-2".into();
        })
        .unwrap();
        assert_eq!(m.serialization, Serialization::Shards { shard_size: 2 });
    }
}

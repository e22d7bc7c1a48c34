//! Validation of SLSA provenance with the ML-training build type on
//! ingestion: the JSON Schema, then the required inputs (dataset digests,
//! commit, hyperparameters, image digest) and their cross-references.
//! Every error names the field by its JSON path under `predicate`.

use std::sync::OnceLock;

use provenant_digest::{Digest, DigestAlgorithm};
use serde_json::Value;

use crate::error::{ProvenanceError, Result};
use crate::slsa::{BUILD_TYPE, PREDICATE_TYPE, Provenance};

/// The JSON Schema (draft 2020-12) of the ML-training build type predicate.
pub const BUILD_TYPE_SCHEMA: &str = include_str!("ml-training-build-type.schema.json");

/// Which inputs must be present (all by default; a registry policy may relax them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirements {
    pub dataset_digest: bool,
    pub commit: bool,
    pub hyperparameters: bool,
    pub image_digest: bool,
}

impl Requirements {
    /// The names `--provenance-optional` accepts.
    pub const NAMES: [&'static str; 4] = [
        "dataset-digest",
        "commit",
        "hyperparameters",
        "image-digest",
    ];

    /// All required except the named ones.
    ///
    /// # Errors
    /// An unknown name.
    pub fn all_except(optional: &[String]) -> Result<Self> {
        let mut r = Self::default();
        for name in optional {
            match name.as_str() {
                "dataset-digest" => r.dataset_digest = false,
                "commit" => r.commit = false,
                "hyperparameters" => r.hyperparameters = false,
                "image-digest" => r.image_digest = false,
                other => {
                    return Err(ProvenanceError::invalid(
                        "--provenance-optional",
                        format!(
                            "unknown input {other:?} (one of {})",
                            Self::NAMES.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(r)
    }
}

impl Default for Requirements {
    fn default() -> Self {
        Self {
            dataset_digest: true,
            commit: true,
            hyperparameters: true,
            image_digest: true,
        }
    }
}

/// The inputs of a training run, as lineage edges need them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// (uri, digest)
    pub datasets: Vec<(String, Digest)>,
    /// (repository, commit sha)
    pub commits: Vec<(String, String)>,
    /// Digests of container images
    pub images: Vec<Digest>,
    /// (model name, manifest digest) of parent versions
    pub parents: Vec<(String, Digest)>,
}

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        // The schema is a constant of this crate; a test checks it compiles.
        #[allow(clippy::expect_used)]
        let schema: Value =
            serde_json::from_str(BUILD_TYPE_SCHEMA).expect("build type schema is valid JSON");
        #[allow(clippy::expect_used)]
        jsonschema::validator_for(&schema).expect("build type schema compiles")
    })
}

/// `/a/0/b` → `predicate.a[0].b`.
fn dotted(pointer: &str) -> String {
    let mut out = String::from("predicate");
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if part.bytes().all(|b| b.is_ascii_digit()) && !part.is_empty() {
            out.push_str(&format!("[{part}]"));
        } else {
            out.push('.');
            out.push_str(&part);
        }
    }
    out
}

/// A content digest as the ML-training build type takes one:
/// `sha256:<64 lowercase hex>`.
///
/// # Errors
/// Anything else (other algorithms too), naming `field`.
pub fn parse_digest(field: &str, s: &str) -> Result<Digest> {
    match s.parse::<Digest>() {
        Ok(d) if d.algorithm() == DigestAlgorithm::Sha256 => Ok(d),
        _ => {
            // The message says which part is wrong: the form, or the hex.
            let what = if s.starts_with("sha256:") {
                "64 lowercase hex digits"
            } else {
                "64 hex digits"
            };
            Err(ProvenanceError::invalid(
                field,
                format!("{s:?} is not a digest of the form sha256:<{what}>"),
            ))
        }
    }
}

/// The SHA-256 digest of an in-toto `digest` map (`{"sha256": "<hex>"}`),
/// naming `field` when it is not 64 lowercase hex digits.
fn sha256_of_map(field: &str, hex: &str) -> Result<Digest> {
    Digest::from_hex(DigestAlgorithm::Sha256, hex)
        .map_err(|e| ProvenanceError::invalid(field, e.to_string()))
}

/// A full git commit id: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
pub fn valid_commit(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

const EXT: &str = "predicate.buildDefinition.externalParameters";
const DEPS: &str = "predicate.buildDefinition.resolvedDependencies";

/// Validates a provenance statement's predicate type and predicate and
/// returns its inputs.
///
/// # Errors
/// The first problem found (schema violations are all listed), naming the field.
pub fn validate(predicate_type: &str, predicate: &Value, req: Requirements) -> Result<Inputs> {
    if predicate_type != PREDICATE_TYPE {
        return Err(ProvenanceError::invalid(
            "predicateType",
            format!("expected {PREDICATE_TYPE}, got {predicate_type:?}"),
        ));
    }
    let bt = predicate
        .pointer("/buildDefinition/buildType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if bt != BUILD_TYPE {
        return Err(ProvenanceError::invalid(
            "predicate.buildDefinition.buildType",
            format!("expected {BUILD_TYPE}, got {bt:?}"),
        ));
    }
    let errors: Vec<(String, String)> = validator()
        .iter_errors(predicate)
        .map(|e| (dotted(&e.instance_path().to_string()), e.to_string()))
        .collect();
    if let Some((field, _)) = errors.first() {
        let reason = errors
            .iter()
            .map(|(f, m)| {
                if f == field {
                    m.clone()
                } else {
                    format!("{f}: {m}")
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(ProvenanceError::invalid(field.clone(), reason));
    }
    let p: Provenance = serde_json::from_value(predicate.clone())
        .map_err(|e| ProvenanceError::invalid("predicate", e.to_string()))?;
    let ext = &p.build_definition.external_parameters;
    let mut inputs = Inputs::default();

    // Resolved dependencies by role.
    let mut source_commit: Option<String> = None;
    for (i, d) in p.build_definition.resolved_dependencies.iter().enumerate() {
        let at = format!("{DEPS}[{i}]");
        let sha = d.digest.get("sha256");
        match d.role() {
            Some("dataset") => {
                let hex = sha.ok_or_else(|| {
                    ProvenanceError::invalid(
                        format!("{at}.digest.sha256"),
                        "a dataset needs a sha256 digest",
                    )
                })?;
                let digest = sha256_of_map(&format!("{at}.digest.sha256"), hex)?;
                inputs
                    .datasets
                    .push((d.uri.clone().unwrap_or_default(), digest));
            }
            Some("image") => {
                let hex = sha.ok_or_else(|| {
                    ProvenanceError::invalid(
                        format!("{at}.digest.sha256"),
                        "a container image needs a sha256 digest",
                    )
                })?;
                inputs
                    .images
                    .push(sha256_of_map(&format!("{at}.digest.sha256"), hex)?);
            }
            Some("source") => {
                let c = d.digest.get("gitCommit").ok_or_else(|| {
                    ProvenanceError::invalid(
                        format!("{at}.digest.gitCommit"),
                        "the source needs a gitCommit digest",
                    )
                })?;
                let repo = d
                    .uri
                    .as_deref()
                    .map(|u| u.strip_prefix("git+").unwrap_or(u).to_owned())
                    .unwrap_or_default();
                inputs.commits.push((repo, c.clone()));
                source_commit.get_or_insert_with(|| c.clone());
            }
            Some("parent") => {
                let hex = sha.ok_or_else(|| {
                    ProvenanceError::invalid(
                        format!("{at}.digest.sha256"),
                        "a parent version needs its manifest sha256 digest",
                    )
                })?;
                let digest = sha256_of_map(&format!("{at}.digest.sha256"), hex)?;
                let name = d
                    .uri
                    .as_deref()
                    .and_then(|u| u.strip_prefix("provenant:"))
                    .and_then(|u| u.split('@').next())
                    .or(d.name.as_deref())
                    .ok_or_else(|| {
                        ProvenanceError::invalid(
                            format!("{at}.uri"),
                            "a parent version needs uri provenant:<ns/name>@sha256:<hex>",
                        )
                    })?;
                inputs.parents.push((name.to_owned(), digest));
            }
            _ => {}
        }
    }

    // Datasets named in externalParameters must be resolved with the same digest.
    let listed = ext
        .get("datasets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, d) in listed.iter().enumerate() {
        let hex = d
            .pointer("/digest/sha256")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let uri = d.get("uri").and_then(Value::as_str).unwrap_or_default();
        let digest = Digest::from_hex(DigestAlgorithm::Sha256, hex).ok();
        if !inputs
            .datasets
            .iter()
            .any(|(_, d)| Some(d) == digest.as_ref())
        {
            return Err(ProvenanceError::invalid(
                format!("{EXT}.datasets[{i}]"),
                format!(
                    "unknown dataset reference {uri}@sha256:{hex}: no resolvedDependencies entry with role dataset has this digest"
                ),
            ));
        }
    }
    if req.dataset_digest && inputs.datasets.is_empty() {
        return Err(ProvenanceError::invalid(
            format!("{EXT}.datasets"),
            "required: at least one dataset with a sha256 digest (and its resolvedDependencies entry with role dataset)",
        ));
    }

    let ext_commit = ext.pointer("/source/commit").and_then(Value::as_str);
    if req.commit {
        let c = ext_commit.ok_or_else(|| {
            ProvenanceError::invalid(
                format!("{EXT}.source.commit"),
                "required: the source commit SHA",
            )
        })?;
        match &source_commit {
            None => {
                return Err(ProvenanceError::invalid(
                    DEPS,
                    "required: an entry with role source and digest.gitCommit",
                ));
            }
            Some(s) if s != c => {
                return Err(ProvenanceError::invalid(
                    format!("{EXT}.source.commit"),
                    format!("{c} differs from the resolved source gitCommit {s}"),
                ));
            }
            Some(_) => {}
        }
    }
    if req.hyperparameters
        && ext
            .get("hyperparameters")
            .and_then(Value::as_object)
            .is_none_or(serde_json::Map::is_empty)
    {
        return Err(ProvenanceError::invalid(
            format!("{EXT}.hyperparameters"),
            "required: a non-empty object of hyperparameters",
        ));
    }
    if req.image_digest && inputs.images.is_empty() {
        return Err(ProvenanceError::invalid(
            DEPS,
            "required: the container image digest (an entry with role image and digest.sha256)",
        ));
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::recipe::CommitSignature;
    use crate::recipe::{Recipe, Source};
    use crate::slsa::provenance_from_recipe;

    pub(crate) fn recipe() -> Recipe {
        let mut r = Recipe::new();
        r.datasets.push(
            crate::parse_dataset_ref(&format!("s3://b/flows@sha256:{}", "1a".repeat(32))).unwrap(),
        );
        r.source = Some(Source {
            repository: "https://git.example/aiops/train.git".into(),
            commit: "c0".repeat(20),
            r#ref: Some("main".into()),
            dirty: false,
            dirty_files: vec![],
            signature: CommitSignature::unsigned(),
        });
        r.entrypoint = "train.py".into();
        r.hyperparameters
            .insert("lr".into(), serde_json::json!(0.01));
        r.seeds = vec![42];
        r.image_digest = Some(format!("sha256:{}", "1e".repeat(32)).parse().unwrap());
        r
    }

    fn predicate(r: &Recipe) -> Value {
        serde_json::to_value(provenance_from_recipe(r)).unwrap()
    }

    #[test]
    fn schema_compiles_and_a_captured_recipe_validates() {
        let inputs = validate(
            PREDICATE_TYPE,
            &predicate(&recipe()),
            Requirements::default(),
        )
        .unwrap();
        let sha256 = |hex: &str| Digest::from_hex(DigestAlgorithm::Sha256, hex).unwrap();
        assert_eq!(
            inputs.datasets,
            vec![("s3://b/flows".into(), sha256(&"1a".repeat(32)))]
        );
        assert_eq!(inputs.commits[0].1, "c0".repeat(20));
        assert_eq!(inputs.images, vec![sha256(&"1e".repeat(32))]);
    }

    #[test]
    fn missing_and_malformed_fields_are_named() {
        let req = Requirements::default();
        let mut r = recipe();
        r.hyperparameters.clear();
        let e = validate(PREDICATE_TYPE, &predicate(&r), req).unwrap_err();
        assert_eq!(
            e.field(),
            Some("predicate.buildDefinition.externalParameters.hyperparameters"),
            "{e}"
        );
        // Relaxed by policy: accepted.
        let relaxed = Requirements {
            hyperparameters: false,
            ..req
        };
        validate(PREDICATE_TYPE, &predicate(&r), relaxed).unwrap();

        let mut r = recipe();
        r.image_digest = None;
        let e = validate(PREDICATE_TYPE, &predicate(&r), req).unwrap_err();
        assert!(e.to_string().contains("container image digest"), "{e}");

        let mut r = recipe();
        r.datasets.clear();
        let e = validate(PREDICATE_TYPE, &predicate(&r), req).unwrap_err();
        assert_eq!(
            e.field(),
            Some("predicate.buildDefinition.externalParameters.datasets")
        );

        let mut r = recipe();
        r.source = None;
        let e = validate(PREDICATE_TYPE, &predicate(&r), req).unwrap_err();
        assert_eq!(
            e.field(),
            Some("predicate.buildDefinition.externalParameters.source.commit")
        );

        // Malformed digest.
        let mut p = predicate(&recipe());
        p["buildDefinition"]["resolvedDependencies"][1]["digest"]["sha256"] = "XYZ".into();
        let e = validate(PREDICATE_TYPE, &p, req).unwrap_err();
        assert_eq!(
            e.field(),
            Some("predicate.buildDefinition.resolvedDependencies[1].digest.sha256"),
            "{e}"
        );

        // Unknown dataset reference.
        let mut p = predicate(&recipe());
        p["buildDefinition"]["externalParameters"]["datasets"][0]["digest"]["sha256"] =
            "2b".repeat(32).into();
        let e = validate(PREDICATE_TYPE, &p, req).unwrap_err();
        assert_eq!(
            e.field(),
            Some("predicate.buildDefinition.externalParameters.datasets[0]")
        );
        assert!(e.to_string().contains("unknown dataset reference"), "{e}");

        // Wrong build type / predicate type.
        let mut p = predicate(&recipe());
        p["buildDefinition"]["buildType"] = "https://example.com/other".into();
        assert_eq!(
            validate(PREDICATE_TYPE, &p, req).unwrap_err().field(),
            Some("predicate.buildDefinition.buildType")
        );
        assert_eq!(
            validate("https://x", &predicate(&recipe()), req)
                .unwrap_err()
                .field(),
            Some("predicateType")
        );

        // Missing builder id.
        let mut p = predicate(&recipe());
        p["runDetails"]["builder"]
            .as_object_mut()
            .unwrap()
            .remove("id");
        assert_eq!(
            validate(PREDICATE_TYPE, &p, req).unwrap_err().field(),
            Some("predicate.runDetails.builder")
        );
    }

    #[test]
    fn odd_predicates_are_errors_not_panics() {
        let bt = BUILD_TYPE;
        let cases = [
            serde_json::json!(null),
            serde_json::json!([1, 2]),
            serde_json::json!({"buildDefinition": {"buildType": bt}}),
            serde_json::json!({"buildDefinition": {"buildType": bt, "externalParameters": {"datasets": 3}}, "runDetails": {"builder": {"id": "x"}}}),
            serde_json::json!({"buildDefinition": {"buildType": bt, "externalParameters": {}, "resolvedDependencies": [{"annotations": {"role": "dataset"}, "uri": "u"}]}, "runDetails": {"builder": {"id": "x"}}}),
            serde_json::json!({"buildDefinition": {"buildType": bt, "externalParameters": {}, "resolvedDependencies": [{"annotations": {"role": "parent"}, "digest": {"sha256": "ab".repeat(32)}}]}, "runDetails": {"builder": {"id": "x"}}}),
        ];
        for p in &cases {
            assert!(
                validate(PREDICATE_TYPE, p, Requirements::default()).is_err(),
                "{p}"
            );
            let empty = Default::default();
            let _ = crate::diff(p, p, &empty, &empty);
        }
    }

    #[test]
    fn policy_names_relax_requirements() {
        let r = Requirements::all_except(&["image-digest".into(), "commit".into()]).unwrap();
        assert!(!r.image_digest && !r.commit && r.dataset_digest && r.hyperparameters);
        let e = Requirements::all_except(&["seeds".into()]).unwrap_err();
        assert_eq!(e.field(), Some("--provenance-optional"));
    }

    #[test]
    fn digests_parse_strictly() {
        assert_eq!(
            parse_digest("f", &format!("sha256:{}", "ab".repeat(32)))
                .unwrap()
                .hex(),
            "ab".repeat(32)
        );
        for bad in [
            "ab",
            "sha256:AB",
            "sha512:00",
            &format!("sha256:{}", "ab".repeat(31)),
        ] {
            assert_eq!(parse_digest("f", bad).unwrap_err().field(), Some("f"));
        }
        assert!(valid_commit(&"a".repeat(40)) && !valid_commit("abc"));
    }
}

//! Reproducibility: field-by-field comparison of two training recipes (as
//! recorded in their SLSA provenance) and of their outputs (model files).

use std::collections::{BTreeMap, BTreeSet};

use provenant_digest::{Digest, DigestAlgorithm};
use serde::Serialize;
use serde_json::{Value, json};

/// Which part of a recipe a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Chosen inputs: datasets, commit, entrypoint, arguments, hyperparameters, seeds, image, parents, lock files.
    Input,
    /// Where it ran: packages, OS, hardware, builder (reported, not decisive).
    Environment,
    /// Produced model files.
    Output,
}

/// One compared field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDiff {
    pub field: String,
    pub category: Category,
    pub equal: bool,
    pub a: Value,
    pub b: Value,
}

/// What a comparison concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Same inputs, same outputs.
    Reproduces,
    /// Same inputs, different outputs: the training is not deterministic.
    SameInputsDifferentOutputs,
    /// The inputs differ: B is another recipe.
    DifferentInputs,
}

/// The result of [`diff`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub inputs_equal: bool,
    pub environment_equal: bool,
    pub outputs_equal: bool,
    pub reproduces: bool,
    pub verdict: Verdict,
    pub fields: Vec<FieldDiff>,
}

/// The SHA-256 digests (`sha256:<hex>`) of the resolved dependencies with
/// `role`, sorted. A hex that is not a digest (a predicate nobody validated)
/// is compared as it is.
fn sorted_digests(deps: &[Value], role: &str) -> Value {
    let mut v: Vec<String> = deps
        .iter()
        .filter(|d| d.pointer("/annotations/role").and_then(Value::as_str) == Some(role))
        .filter_map(|d| d.pointer("/digest/sha256").and_then(Value::as_str))
        .map(|hex| {
            Digest::from_hex(DigestAlgorithm::Sha256, hex)
                .map_or_else(|_| hex.to_owned(), |d| d.to_string())
        })
        .collect();
    v.sort();
    v.dedup();
    json!(v)
}

/// The compared fields of a provenance predicate (ML-training build type),
/// by name, with their category.
pub fn recipe_fields(predicate: &Value) -> BTreeMap<String, (Category, Value)> {
    use Category::{Environment, Input};
    let mut out = BTreeMap::new();
    let ext = predicate
        .pointer("/buildDefinition/externalParameters")
        .cloned()
        .unwrap_or(Value::Null);
    let int = predicate
        .pointer("/buildDefinition/internalParameters")
        .cloned()
        .unwrap_or(Value::Null);
    let deps = predicate
        .pointer("/buildDefinition/resolvedDependencies")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let get = |v: &Value, p: &str| v.pointer(p).cloned().unwrap_or(Value::Null);
    out.insert("datasets".into(), (Input, sorted_digests(&deps, "dataset")));
    out.insert("source.commit".into(), (Input, get(&ext, "/source/commit")));
    out.insert("source.dirty".into(), (Input, get(&ext, "/source/dirty")));
    out.insert("entrypoint".into(), (Input, get(&ext, "/entrypoint")));
    out.insert("arguments".into(), (Input, get(&ext, "/arguments")));
    out.insert("image".into(), (Input, sorted_digests(&deps, "image")));
    out.insert("parents".into(), (Input, sorted_digests(&deps, "parent")));
    out.insert(
        "lockFiles".into(),
        (Input, sorted_digests(&deps, "lockfile")),
    );
    out.insert("seeds".into(), (Input, get(&int, "/seeds")));
    if let Some(h) = ext.get("hyperparameters").and_then(Value::as_object) {
        for (k, v) in h {
            out.insert(format!("hyperparameters.{k}"), (Input, v.clone()));
        }
    }
    out.insert(
        "source.repository".into(),
        (Environment, get(&ext, "/source/repository")),
    );
    out.insert(
        "builder.id".into(),
        (
            Environment,
            predicate
                .pointer("/runDetails/builder/id")
                .cloned()
                .unwrap_or(Value::Null),
        ),
    );
    for k in ["os", "kernel"] {
        out.insert(
            format!("environment.{k}"),
            (Environment, get(&int, &format!("/environment/{k}"))),
        );
    }
    for k in ["cpu", "gpus", "arch"] {
        out.insert(
            format!("hardware.{k}"),
            (Environment, get(&int, &format!("/hardware/{k}"))),
        );
    }
    if let Some(f) = int
        .pointer("/environment/frameworks")
        .and_then(Value::as_object)
    {
        for (k, v) in f {
            out.insert(format!("frameworks.{k}"), (Environment, v.clone()));
        }
    }
    out.insert(
        "pythonPackages".into(),
        (Environment, get(&int, "/environment/pythonPackages")),
    );
    out
}

/// Compares recipe A with recipe B and their model files (`path` → digest).
/// A hyperparameter present on one side only counts as a difference.
pub fn diff(
    a: &Value,
    b: &Value,
    files_a: &BTreeMap<String, Digest>,
    files_b: &BTreeMap<String, Digest>,
) -> Comparison {
    let fa = recipe_fields(a);
    let fb = recipe_fields(b);
    let names: BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    let mut fields = Vec::new();
    for n in names {
        let (ca, va) = fa.get(n).cloned().unwrap_or((Category::Input, Value::Null));
        let (cb, vb) = fb.get(n).cloned().unwrap_or((ca, Value::Null));
        fields.push(FieldDiff {
            field: n.clone(),
            category: ca.min(cb),
            equal: va == vb,
            a: va,
            b: vb,
        });
    }
    let paths: BTreeSet<&String> = files_a.keys().chain(files_b.keys()).collect();
    for p in paths {
        let va = files_a.get(p).map_or(Value::Null, |d| json!(d));
        let vb = files_b.get(p).map_or(Value::Null, |d| json!(d));
        fields.push(FieldDiff {
            field: format!("files.{p}"),
            category: Category::Output,
            equal: va == vb,
            a: va,
            b: vb,
        });
    }
    let all = |c: Category| fields.iter().filter(|f| f.category == c).all(|f| f.equal);
    let inputs_equal = all(Category::Input);
    let outputs_equal = all(Category::Output) && files_a == files_b;
    let verdict = match (inputs_equal, outputs_equal) {
        (true, true) => Verdict::Reproduces,
        (true, false) => Verdict::SameInputsDifferentOutputs,
        (false, _) => Verdict::DifferentInputs,
    };
    Comparison {
        inputs_equal,
        environment_equal: all(Category::Environment),
        outputs_equal,
        reproduces: verdict == Verdict::Reproduces,
        verdict,
        fields,
    }
}

/// One file that differs between a published version and a rebuilt model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileDiff {
    pub path: String,
    /// `changed`, `missing` (published, not rebuilt) or `extra` (rebuilt, not published).
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<Digest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebuilt: Option<Digest>,
}

/// Compares published files with rebuilt ones (`path` → digest).
pub fn check_files(
    published: &BTreeMap<String, Digest>,
    rebuilt: &BTreeMap<String, Digest>,
) -> Vec<FileDiff> {
    let paths: BTreeSet<&String> = published.keys().chain(rebuilt.keys()).collect();
    paths
        .into_iter()
        .filter_map(|p| {
            let a = published.get(p);
            let b = rebuilt.get(p);
            let status = match (a, b) {
                (Some(x), Some(y)) if x == y => return None,
                (Some(_), Some(_)) => "changed",
                (Some(_), None) => "missing",
                (None, _) => "extra",
            };
            Some(FileDiff {
                path: p.clone(),
                status: status.into(),
                published: a.copied(),
                rebuilt: b.copied(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::slsa::provenance_from_recipe;

    fn pred(lr: f64, seed: u64) -> Value {
        let mut r = crate::Recipe::new();
        r.datasets.push(
            crate::parse_dataset_ref(&format!("s3://b/d@sha256:{}", "1a".repeat(32))).unwrap(),
        );
        r.hyperparameters.insert("lr".into(), json!(lr));
        r.seeds = vec![seed];
        r.entrypoint = "train.py".into();
        serde_json::to_value(provenance_from_recipe(&r)).unwrap()
    }

    fn files(content: &str) -> BTreeMap<String, Digest> {
        BTreeMap::from([("model.bin".to_owned(), Digest::sha256(content.as_bytes()))])
    }

    #[test]
    fn verdicts() {
        let c = diff(&pred(0.1, 1), &pred(0.1, 1), &files("aa"), &files("aa"));
        assert_eq!(c.verdict, Verdict::Reproduces);
        assert!(c.reproduces);
        let c = diff(&pred(0.1, 1), &pred(0.1, 1), &files("aa"), &files("bb"));
        assert_eq!(c.verdict, Verdict::SameInputsDifferentOutputs);
        let bad: Vec<_> = c
            .fields
            .iter()
            .filter(|f| !f.equal)
            .map(|f| f.field.as_str())
            .collect();
        assert_eq!(bad, ["files.model.bin"]);
        let c = diff(&pred(0.1, 1), &pred(0.2, 2), &files("aa"), &files("aa"));
        assert_eq!(c.verdict, Verdict::DifferentInputs);
        let bad: Vec<_> = c
            .fields
            .iter()
            .filter(|f| !f.equal)
            .map(|f| f.field.as_str())
            .collect();
        assert_eq!(bad, ["hyperparameters.lr", "seeds"]);
    }

    #[test]
    fn file_checks_name_each_difference() {
        let p = BTreeMap::from([
            ("a".to_owned(), Digest::sha256(b"1")),
            ("b".to_owned(), Digest::sha256(b"2")),
        ]);
        let r = BTreeMap::from([
            ("a".to_owned(), Digest::sha256(b"9")),
            ("c".to_owned(), Digest::sha256(b"3")),
        ]);
        let d = check_files(&p, &r);
        let s: Vec<_> = d
            .iter()
            .map(|d| (d.path.as_str(), d.status.as_str()))
            .collect();
        assert_eq!(s, [("a", "changed"), ("b", "missing"), ("c", "extra")]);
        assert!(check_files(&p, &p).is_empty());
    }
}

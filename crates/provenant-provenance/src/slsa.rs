//! SLSA Provenance v1 predicate types (<https://slsa.dev/spec/v1.0/provenance>)
//! and the translation of a [`Recipe`] into one with the ML-training build type.
//!
//! Our own serde types: published crates lag the spec. Unknown fields are kept
//! out of these types on purpose; validation works on the JSON value.

use std::collections::BTreeMap;

use provenant_digest::Digest;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::recipe::Recipe;

/// `predicateType` of SLSA Provenance v1.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";

/// Provenant's build type for ML training runs. Documented in the README and
/// described by [`crate::BUILD_TYPE_SCHEMA`] (served at
/// `/api/v1/schemas/ml-training-build-type.json`).
pub const BUILD_TYPE: &str = "https://provenant.dev/buildtypes/ml-training/v1";

/// Builder id used when no CI system was detected.
pub const LOCAL_BUILDER: &str = "https://provenant.dev/builders/local";

/// The SLSA v1 provenance predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    pub build_definition: BuildDefinition,
    pub run_details: RunDetails,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    pub build_type: String,
    pub external_parameters: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// in-toto ResourceDescriptor v1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, Value>>,
}

impl ResourceDescriptor {
    /// The `annotations.role` we set (`source`, `dataset`, `image`, `parent`, `lockfile`).
    pub fn role(&self) -> Option<&str> {
        self.annotations.as_ref()?.get("role")?.as_str()
    }

    fn with_role(role: &str) -> Self {
        Self {
            annotations: Some(BTreeMap::from([("role".to_owned(), json!(role))])),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    pub builder: Builder,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BuildMetadata>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub byproducts: Vec<ResourceDescriptor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Builder {
    pub id: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub builder_dependencies: Vec<ResourceDescriptor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<String>,
}

/// An in-toto digest map: `{"sha256": "<hex>"}`.
fn digest_map(digest: &Digest) -> BTreeMap<String, String> {
    BTreeMap::from([(digest.algorithm().name().to_owned(), digest.hex())])
}

/// Builds the SLSA v1 predicate for a captured recipe.
///
/// `externalParameters`: entrypoint, arguments, hyperparameters, datasets
/// (URI + digest), source (repository, commit, ref, dirty), parents.
/// `internalParameters`: seeds, hardware, environment, commit signature, CI.
/// `resolvedDependencies`: the commit (`gitCommit`), datasets, container
/// image, parent versions and lock files, each with its digest and
/// `annotations.role`.
pub fn provenance_from_recipe(r: &Recipe) -> Provenance {
    let datasets: Vec<Value> = r
        .datasets
        .iter()
        .map(|d| json!({"name": d.name, "uri": d.uri, "digest": digest_map(&d.digest)}))
        .collect();
    let mut external = json!({
        "entrypoint": r.entrypoint,
        "arguments": r.arguments,
        "hyperparameters": r.hyperparameters,
        "datasets": datasets,
    });
    let mut deps = Vec::new();
    if let Some(s) = &r.source {
        external["source"] = json!({
            "repository": s.repository,
            "commit": s.commit,
            "ref": s.r#ref,
            "dirty": s.dirty,
        });
        let mut d = ResourceDescriptor::with_role("source");
        d.uri = Some(format!("git+{}", s.repository));
        d.digest = BTreeMap::from([("gitCommit".to_owned(), s.commit.clone())]);
        if let Some(a) = d.annotations.as_mut() {
            a.insert(
                "signature".into(),
                serde_json::to_value(&s.signature).unwrap_or(Value::Null),
            );
            if s.dirty {
                a.insert("dirtyFiles".into(), json!(s.dirty_files));
            }
        }
        deps.push(d);
    }
    if !r.parents.is_empty() {
        external["parents"] = json!(r.parents);
    }
    for d in &r.datasets {
        let mut rd = ResourceDescriptor::with_role("dataset");
        rd.uri = Some(d.uri.clone());
        rd.name = Some(d.name.clone());
        rd.digest = digest_map(&d.digest);
        deps.push(rd);
    }
    if let Some(img) = &r.image_digest {
        let mut rd = ResourceDescriptor::with_role("image");
        rd.name = Some("container-image".into());
        rd.digest = digest_map(img);
        deps.push(rd);
    }
    for p in &r.parents {
        let mut rd = ResourceDescriptor::with_role("parent");
        rd.uri = Some(format!("provenant:{p}"));
        rd.name = Some(p.model.clone());
        rd.digest = digest_map(&p.digest);
        deps.push(rd);
    }
    for (path, digest) in &r.lock_files {
        let mut rd = ResourceDescriptor::with_role("lockfile");
        rd.uri = Some(format!("file:{path}"));
        rd.name = Some(path.clone());
        rd.digest = digest_map(digest);
        deps.push(rd);
    }
    let e = &r.environment;
    let mut internal = json!({
        "seeds": r.seeds,
        "hardware": {"cpu": e.cpu, "cpus": e.cpus, "gpus": e.gpus, "arch": e.arch},
        "environment": {
            "os": e.os,
            "kernel": e.kernel,
            "pythonPackages": e.python_packages,
            "frameworks": e.frameworks,
        },
    });
    if let Some(ci) = &r.ci {
        internal["ci"] = serde_json::to_value(ci).unwrap_or(Value::Null);
    }
    let builder_id =
        r.ci.as_ref()
            .map(|c| c.builder_id.clone())
            .unwrap_or_else(|| LOCAL_BUILDER.to_owned());
    let invocation_id =
        r.ci.as_ref()
            .and_then(|c| c.run_url.clone().or(c.run_id.clone()));
    Provenance {
        build_definition: BuildDefinition {
            build_type: BUILD_TYPE.to_owned(),
            external_parameters: external,
            internal_parameters: Some(internal),
            resolved_dependencies: deps,
        },
        run_details: RunDetails {
            builder: Builder {
                id: builder_id,
                version: BTreeMap::from([(
                    "provenant".to_owned(),
                    env!("CARGO_PKG_VERSION").to_owned(),
                )]),
                builder_dependencies: Vec::new(),
            },
            metadata: Some(BuildMetadata {
                invocation_id,
                started_on: r.started_on.clone(),
                finished_on: r.finished_on.clone(),
            }),
            byproducts: Vec::new(),
        },
    }
}

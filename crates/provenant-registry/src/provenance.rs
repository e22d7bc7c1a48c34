//! Training provenance (SLSA v1, ML-training build type) attached to
//! versions, and the lineage graph built from it: impact of an input,
//! upstream/downstream of a version.
//!
//! On ingestion the bundle's signature is verified (against the key or
//! roots the client sends, or the namespace's trusted keys and roots), its
//! subject must carry the version's OMS root digest (file mode, SHA-256,
//! from the version's file digests) or its manifest digest, the predicate
//! must satisfy the build type's schema and required inputs, parents must be
//! versions of this registry; then the attachment and its lineage edges are
//! stored in one transaction (a parent cycle stores nothing).

use provenant_attest::{Bundle, Statement};
use provenant_digest::{Digest, DigestAlgorithm};
use provenant_provenance::Inputs;
use provenant_store::{
    AttachmentRow, ImpactRow, LineageEdgeRow, NewLineageEdge, StoreError, VersionRow,
};

use crate::attach::{AttachmentInput, Expect};
use crate::attestations::AttachmentKind;
use crate::trust::NamespaceTrust;
use serde_json::Value;

use crate::service::rfc3339;
use crate::{Registry, RegistryError};

pub use provenant_api::{
    ImpactView, ImpactedVersion, LineageEdgeView, LineageView, ProvenanceSummary, ProvenanceView,
};

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> RegistryError {
    RegistryError::InvalidProvenance {
        field: field.into(),
        reason: reason.into(),
    }
}

fn summary_of(st: &Statement) -> ProvenanceSummary {
    summary(&serde_json::json!({"predicate": st.predicate}))
}

fn summary(statement: &Value) -> ProvenanceSummary {
    let p = statement.get("predicate").cloned().unwrap_or(Value::Null);
    let s = |ptr: &str| p.pointer(ptr).and_then(Value::as_str).map(str::to_owned);
    let deps = p
        .pointer("/buildDefinition/resolvedDependencies")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let role = |r: &str| -> Vec<Value> {
        deps.iter()
            .filter(|d| d.pointer("/annotations/role").and_then(Value::as_str) == Some(r))
            .cloned()
            .collect()
    };
    // The statement was validated when it was attached, so every input's
    // `digest.sha256` is 64 hex digits; one that is not shows as none.
    let sha = |d: &Value| {
        d.pointer("/digest/sha256")
            .and_then(Value::as_str)
            .and_then(|h| Digest::from_hex(DigestAlgorithm::Sha256, h).ok())
    };
    let source = role("source").into_iter().next();
    let commit_signature = source
        .as_ref()
        .and_then(|d| d.pointer("/annotations/signature"))
        .map(|sig| {
            let status = sig
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            match sig.get("signer").and_then(Value::as_str) {
                Some(who) => format!("{status} ({who})"),
                None => status.to_owned(),
            }
        });
    ProvenanceSummary {
        build_type: s("/buildDefinition/buildType").unwrap_or_default(),
        builder_id: s("/runDetails/builder/id").unwrap_or_default(),
        invocation_id: s("/runDetails/metadata/invocationId"),
        started_on: s("/runDetails/metadata/startedOn"),
        finished_on: s("/runDetails/metadata/finishedOn"),
        datasets: role("dataset")
            .iter()
            .map(|d| {
                let uri = d.get("uri").and_then(Value::as_str).unwrap_or("");
                match sha(d) {
                    Some(digest) => format!("{uri}@{digest}"),
                    None => uri.to_owned(),
                }
            })
            .collect(),
        repository: s("/buildDefinition/externalParameters/source/repository"),
        commit: s("/buildDefinition/externalParameters/source/commit"),
        commit_signature,
        entrypoint: s("/buildDefinition/externalParameters/entrypoint").unwrap_or_default(),
        hyperparameters: p
            .pointer("/buildDefinition/externalParameters/hyperparameters")
            .cloned()
            .unwrap_or(Value::Null),
        seeds: p
            .pointer("/buildDefinition/internalParameters/seeds")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default(),
        images: role("image").iter().filter_map(sha).collect(),
        parents: role("parent")
            .iter()
            .filter_map(|d| {
                d.get("uri")
                    .and_then(Value::as_str)
                    .map(|u| u.trim_start_matches("provenant:").to_owned())
            })
            .collect(),
    }
}

/// Shortest commit abbreviation `impact` takes (what git prints by default).
const MIN_COMMIT_PREFIX: usize = 7;

use provenant_api::LineageEdgeKind as EdgeKind;

/// An input whose downstream versions `impact` lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImpactInput {
    Dataset(Digest),
    /// A full commit id, or an abbreviation (at least 7 hex digits) that
    /// [`Registry::impact`] expands against the commits it has recorded.
    Commit(String),
    Image(Digest),
}

impl ImpactInput {
    /// Parses `dataset:sha256:<hex>`, `commit:<sha>` or `image:sha256:<hex>`.
    pub fn parse(input: &str) -> Result<Self, RegistryError> {
        let bad = |reason: String| RegistryError::InvalidInput {
            value: input.to_owned(),
            reason,
        };
        let (kind, rest) = input.split_once(':').ok_or_else(|| {
            bad("expected dataset:sha256:<hex>, commit:<sha> or image:sha256:<hex>".into())
        })?;
        match kind {
            "dataset" | "image" => {
                let digest = provenant_provenance::parse_digest(kind, rest)
                    .map_err(|e| bad(e.to_string()))?;
                Ok(if kind == "dataset" {
                    Self::Dataset(digest)
                } else {
                    Self::Image(digest)
                })
            }
            "commit" => {
                let abbreviated = (MIN_COMMIT_PREFIX..40).contains(&rest.len())
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !provenant_provenance::valid_commit(rest) && !abbreviated {
                    return Err(bad(format!(
                        "commit {rest:?} is not a commit id (40 or 64 lowercase hex digits, or an abbreviation of at least {MIN_COMMIT_PREFIX})"
                    )));
                }
                Ok(Self::Commit(rest.to_owned()))
            }
            other => Err(bad(format!(
                "unknown input kind {other:?}: use dataset, commit or image"
            ))),
        }
    }

    /// The lineage edge kind this input is recorded under.
    fn edge_kind(&self) -> EdgeKind {
        match self {
            Self::Dataset(_) => EdgeKind::Dataset,
            Self::Commit(_) => EdgeKind::Commit,
            Self::Image(_) => EdgeKind::Image,
        }
    }

    /// The input as lineage edges record it.
    fn stored(&self) -> String {
        match self {
            Self::Dataset(d) | Self::Image(d) => d.to_string(),
            Self::Commit(c) => c.clone(),
        }
    }
}

impl std::fmt::Display for ImpactInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.edge_kind().as_str(), self.stored())
    }
}

/// The view of a stored edge; an edge kind the registry never writes is a
/// corrupt record.
fn edge_view(e: &LineageEdgeRow) -> Result<LineageEdgeView, RegistryError> {
    let kind = EdgeKind::parse(&e.kind).ok_or_else(|| {
        provenant_store::StoreError::Corrupt(format!(
            "lineage edge of {}:{} has kind {:?}",
            e.model, e.number, e.kind
        ))
    })?;
    let input = match (&e.parent_model, e.parent_number) {
        (Some(m), Some(n)) if kind == EdgeKind::Parent => format!("{m}:{n}"),
        _ => e.input.clone(),
    };
    Ok(LineageEdgeView {
        version: format!("{}:{}", e.model, e.number),
        version_digest: e.digest,
        kind,
        input,
        uri: e.uri.clone(),
    })
}

impl Registry {
    /// Verify a provenance bundle (against the key or roots the client sent,
    /// or the namespace's trusted keys and root certificates) and attach it
    /// with its lineage edges, in one transaction.
    pub async fn attach_provenance(
        &self,
        reference: &crate::Reference,
        input: &AttachmentInput,
        by: &str,
    ) -> Result<(ProvenanceView, bool), RegistryError> {
        let (_, att, created, trust) = self
            .attach_to_version(reference, input, Expect::Provenance, by)
            .await?;
        Ok((provenance_view(&att, &trust)?, created))
    }

    /// Validates a provenance statement whose signature and subject were
    /// checked (ML-training build type, required inputs, parents known).
    /// Returns the summary kept with the attachment and its lineage edges.
    /// Parents are looked up only in the namespaces `readable` names.
    pub(crate) async fn provenance_prepare(
        &self,
        st: &Statement,
        readable: &crate::Visibility,
    ) -> Result<(String, Vec<NewLineageEdge>), RegistryError> {
        let inputs: Inputs = provenant_provenance::validate(
            &st.predicate_type,
            &st.predicate,
            self.provenance_requirements,
        )
        .map_err(|e| match e {
            provenant_provenance::ProvenanceError::Invalid { field, reason } => {
                invalid(field, reason)
            }
            other => invalid("predicate", other.to_string()),
        })?;
        let mut edges = Vec::new();
        for (uri, digest) in &inputs.datasets {
            edges.push(NewLineageEdge {
                kind: EdgeKind::Dataset.as_str().into(),
                input: digest.to_string(),
                uri: uri.clone(),
                parent_id: None,
            });
        }
        for (repo, sha) in &inputs.commits {
            edges.push(NewLineageEdge {
                kind: EdgeKind::Commit.as_str().into(),
                input: sha.clone(),
                uri: repo.clone(),
                parent_id: None,
            });
        }
        for digest in &inputs.images {
            edges.push(NewLineageEdge {
                kind: EdgeKind::Image.as_str().into(),
                input: digest.to_string(),
                uri: String::new(),
                parent_id: None,
            });
        }
        for (name, digest) in &inputs.parents {
            let reference = format!("{name}@{digest}");
            let parent = match crate::ModelName::parse(name) {
                Ok(model) if !readable.includes(&model.namespace) => {
                    Err(RegistryError::ModelNotFound(model.to_string()))
                }
                Ok(model) => {
                    self.resolve(&crate::Reference::by_digest(model, *digest))
                        .await
                }
                Err(e) => Err(e),
            };
            let parent = parent.map_err(|e| match e {
                RegistryError::ModelNotFound(_)
                | RegistryError::VersionNotFound(_)
                | RegistryError::InvalidName { .. }
                | RegistryError::InvalidReference { .. } => invalid(
                    "predicate.buildDefinition.externalParameters.parents",
                    format!("parent version {reference} is not in this registry"),
                ),
                other => other,
            })?;
            edges.push(NewLineageEdge {
                kind: EdgeKind::Parent.as_str().into(),
                input: reference,
                uri: format!("provenant:{}:{}", parent.model, parent.number),
                parent_id: Some(parent.id),
            });
        }
        let summary = serde_json::to_string(&summary_of(st))
            .map_err(|e| invalid("predicate", e.to_string()))?;
        Ok((summary, edges))
    }

    /// Provenance attestations of a version, oldest first.
    pub async fn provenance(&self, row: &VersionRow) -> Result<Vec<ProvenanceView>, RegistryError> {
        let trust = self.version_trust(row).await?;
        self.store
            .attachments(row.id, AttachmentKind::Provenance.as_str())
            .await?
            .iter()
            .map(|a| provenance_view(a, &trust))
            .collect()
    }

    /// Upstream and downstream of a version.
    pub async fn lineage(
        &self,
        reference: &crate::Reference,
    ) -> Result<LineageView, RegistryError> {
        let row = self.resolve(reference).await?;
        let up = self.store.lineage_upstream(row.id).await?;
        let down = self.store.lineage_downstream(row.id).await?;
        Ok(LineageView {
            version: format!("{}:{}", row.model, row.number),
            digest: row.digest,
            upstream: up.iter().map(edge_view).collect::<Result<_, _>>()?,
            downstream: down.iter().map(edge_view).collect::<Result<_, _>>()?,
        })
    }

    /// Every version (and alias) affected by an input.
    pub async fn impact(&self, input: &ImpactInput) -> Result<ImpactView, RegistryError> {
        let kind = input.edge_kind().as_str();
        let mut stored = input.stored();
        if matches!(input, ImpactInput::Commit(_)) && !provenant_provenance::valid_commit(&stored) {
            // An abbreviation: it must name exactly one recorded commit.
            let found = self
                .store
                .lineage_inputs_by_prefix(kind, &stored, 10)
                .await?;
            stored = match found.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(RegistryError::InvalidInput {
                        value: input.to_string(),
                        reason: format!("no recorded commit starts with {stored}"),
                    });
                }
                many => {
                    return Err(RegistryError::InvalidInput {
                        value: input.to_string(),
                        reason: format!(
                            "{stored} is ambiguous: it starts {} (give more digits)",
                            many.join(", ")
                        ),
                    });
                }
            };
        }
        let rows: Vec<ImpactRow> = self.store.lineage_impact(kind, &stored).await?;
        let mut aliases = Vec::new();
        let versions = rows
            .into_iter()
            .map(|r| {
                aliases.extend(r.aliases.iter().map(|a| format!("{}#{a}", r.model)));
                let state = crate::service::stored_state(&r.state, &r.digest)?;
                Ok(ImpactedVersion {
                    version: format!("{}:{}", r.model, r.number),
                    digest: r.digest,
                    state,
                    direct: r.direct,
                    aliases: r.aliases,
                })
            })
            .collect::<Result<_, RegistryError>>()?;
        Ok(ImpactView {
            input: format!("{kind}:{stored}"),
            versions,
            aliases,
        })
    }
}

fn provenance_view(
    a: &AttachmentRow,
    trust: &NamespaceTrust,
) -> Result<ProvenanceView, RegistryError> {
    let corrupt = |e: String| {
        RegistryError::Store(StoreError::Corrupt(format!(
            "provenance attachment {}: {e}",
            a.digest
        )))
    };
    let bundle = Bundle::from_json(&a.body).map_err(|e| corrupt(e.to_string()))?;
    let statement: Value =
        serde_json::from_slice(&bundle.envelope.payload).map_err(|e| corrupt(e.to_string()))?;
    Ok(ProvenanceView {
        digest: a.digest,
        signer: a.signer.clone(),
        fingerprint: a.fingerprint.clone(),
        trusted: trust.vouches(a),
        created_at: rfc3339(a.created_at),
        created_by: a.created_by.clone(),
        summary: summary(&statement),
        statement,
    })
}

//! The policy gate's side of the registry: the input document (version 1)
//! a policy sees about a version, built from what the registry holds and
//! decides itself (trust, findings), and the decisions recorded with their
//! log entries. The policies themselves are evaluated by the server
//! (`provenant-policy`); at ingestion the registry asks an [`IngestGate`]
//! before it writes anything.

use std::collections::BTreeMap;
use std::sync::Arc;

use provenant_api::{
    DecisionDocument, DecisionView, POLICY_INPUT_SCHEMA_ID, PolicyAction, PolicyArtifact,
    PolicyCertificate, PolicyCommitSignature, PolicyComponentLicences, PolicyDataset,
    PolicyFinding, PolicyFindings, PolicyInput, PolicyProvenance, PolicySbom, PolicySignature,
    PolicySuppressed, PolicyTarget, VersionState,
};
use provenant_digest::Digest;
use provenant_store::{AttachmentRow, DecisionRow, NewDecision, VersionRow};
use serde_json::Value;

use crate::attestations::attestation_statement;
use crate::service::rfc3339;
use crate::trust::NamespaceTrust;
use crate::{AttachmentKind, ModelName, Registry, RegistryError};

/// Decides about a version about to be published (the server's policy
/// set). Called off the async runtime; must answer (fail closed) rather
/// than fail.
pub trait IngestGate: Send + Sync {
    /// Whether pushes to `namespace` are gated.
    fn gates(&self, namespace: &str) -> bool;
    /// The decision about `input` (action `ingest`).
    fn decide(&self, input: &PolicyInput) -> DecisionDocument;
    /// Who the decision is recorded as made by.
    fn decided_by(&self) -> &str {
        "policy-gate"
    }
}

/// An [`IngestGate`] as a publish request carries it.
#[derive(Clone)]
pub struct GateHandle(pub Arc<dyn IngestGate>);

impl std::fmt::Debug for GateHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GateHandle")
    }
}

/// What the caller named and where the version goes: the parts of the
/// input document that are not the registry's.
#[derive(Clone, Debug)]
pub struct GateRequest {
    /// The reference as the caller wrote it.
    pub requested: String,
    pub action: PolicyAction,
    pub target: PolicyTarget,
}

/// One attachment as the input document describes it.
struct Facts<'a> {
    kind: &'a str,
    digest: Digest,
    body: &'a [u8],
    signer: &'a str,
    fingerprint: &'a str,
    summary: &'a str,
    trusted: bool,
    created_at: i64,
}

/// The version-specific parts of an input document.
struct Subject<'a> {
    model: &'a ModelName,
    number: Option<i64>,
    digest: Digest,
    labels: BTreeMap<String, String>,
    state: VersionState,
    state_reason: Option<String>,
    aliases: Vec<String>,
    metadata: &'a str,
    created_by: &'a str,
    created_at: i64,
}

impl Registry {
    /// The input document a policy sees about the version `row`.
    pub async fn policy_input(
        &self,
        row: &VersionRow,
        req: &GateRequest,
    ) -> Result<PolicyInput, RegistryError> {
        let model = ModelName::parse(&row.model)?;
        let trust = self.version_trust(row).await?;
        let labels = self.store.version_labels(row.id).await?;
        let aliases = self.store.aliases_of_version(row.id).await?;
        let mut rows: Vec<AttachmentRow> = Vec::new();
        for kind in AttachmentKind::ALL {
            rows.extend(self.store.attachments(row.id, kind.as_str()).await?);
        }
        let facts: Vec<Facts<'_>> = rows
            .iter()
            .map(|a| Facts {
                kind: &a.kind,
                digest: a.digest,
                body: &a.body,
                signer: &a.signer,
                fingerprint: &a.fingerprint,
                summary: &a.summary,
                trusted: trust.vouches(a),
                created_at: a.created_at,
            })
            .collect();
        let scan = self.store.vuln_scan(row.id).await?;
        let findings = self.store.findings(row.id, false).await?;
        let findings = findings_of(
            scan.is_some(),
            scan.as_ref().map(|s| rfc3339(s.scanned_at)),
            findings.iter().map(|f| f.finding.as_str()),
        );
        let state = VersionState::parse(&row.state).ok_or_else(|| RegistryError::Internal {
            reason: format!(
                "version {}:{} has state {:?}",
                row.model, row.number, row.state
            ),
        })?;
        Ok(input_of(
            &Subject {
                model: &model,
                number: Some(row.number),
                digest: row.digest,
                labels,
                state,
                state_reason: row.state_reason.clone(),
                aliases,
                metadata: &row.metadata,
                created_by: &row.created_by,
                created_at: row.created_at,
            },
            &facts,
            findings,
            req,
        ))
    }

    /// The input document of a version about to be published: its
    /// attachments as prepared (trust decided now), and findings from
    /// scanning its SBOMs in memory against the database.
    pub(crate) async fn ingest_input(
        &self,
        model: &ModelName,
        new: &provenant_store::NewVersion,
        digest: Digest,
        prepared: &[(
            provenant_store::NewAttachment,
            Vec<provenant_store::NewLineageEdge>,
        )],
    ) -> Result<PolicyInput, RegistryError> {
        let trust: NamespaceTrust = self.namespace_trust(&model.namespace).await?;
        let now = std::time::SystemTime::now();
        let created_at = provenant_store::now_millis();
        let facts: Vec<Facts<'_>> = prepared
            .iter()
            .map(|(a, _)| Facts {
                kind: &a.kind,
                digest: a.digest,
                body: &a.body,
                signer: &a.signer,
                fingerprint: &a.fingerprint,
                summary: &a.summary,
                trusted: trust.vouches_for(&a.fingerprint, &a.body, now),
                created_at,
            })
            .collect();
        let sboms: Vec<(Digest, Vec<u8>)> = prepared
            .iter()
            .filter(|(a, _)| a.kind == AttachmentKind::Sbom.as_str())
            .filter_map(|(a, _)| {
                let st = attestation_statement(&a.body).ok()?;
                Some((a.digest, serde_json::to_vec(&st.predicate).ok()?))
            })
            .collect();
        let findings = if sboms.is_empty() {
            findings_of(false, None, std::iter::empty())
        } else {
            let (_, index) = self.vuln_index().await?;
            let found = tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                for (digest, bytes) in sboms {
                    if let Ok((_, sbom)) =
                        provenant_sbom::parse_sbom(&bytes, &format!("sbom {digest}"))
                    {
                        let report = provenant_vuln::scan(&index, &sbom, &Default::default());
                        out.extend(
                            report
                                .findings
                                .iter()
                                .filter_map(|f| serde_json::to_string(f).ok()),
                        );
                    }
                }
                out
            })
            .await
            .map_err(|e| RegistryError::Internal {
                reason: format!("vulnerability scan task: {e}"),
            })?;
            findings_of(
                true,
                Some(rfc3339(created_at)),
                found.iter().map(String::as_str),
            )
        };
        Ok(input_of(
            &Subject {
                model,
                number: None,
                digest,
                labels: new.labels.clone(),
                state: VersionState::Active,
                state_reason: None,
                aliases: Vec::new(),
                metadata: &new.metadata,
                created_by: &new.created_by,
                created_at,
            },
            &facts,
            findings,
            &GateRequest {
                requested: format!("{model}@{digest}"),
                action: PolicyAction::Ingest,
                target: PolicyTarget::default(),
            },
        ))
    }

    /// Records a decision and its log entry.
    #[allow(clippy::too_many_arguments)] // the row's columns, each named
    pub async fn decision_record(
        &self,
        model: &ModelName,
        digest: &Digest,
        version_id: Option<i64>,
        action: PolicyAction,
        environment: Option<&str>,
        document: &DecisionDocument,
        by: &str,
    ) -> Result<DecisionView, RegistryError> {
        let text = serde_json::to_string(document).map_err(|e| RegistryError::Internal {
            reason: format!("decision document: {e}"),
        })?;
        let full = model.full();
        let digest_text = digest.to_string();
        let id = self
            .store
            .policy_decision_insert(&NewDecision {
                model: &full,
                digest: &digest_text,
                version_id,
                action: action.as_str(),
                environment: environment.unwrap_or(""),
                allowed: document.allowed,
                policy_set: document.policy_set.as_deref().unwrap_or(""),
                input_digest: &document.input_digest,
                decision: &text,
                decided_by: by,
            })
            .await?;
        Ok(DecisionView {
            id,
            reference: format!("{full}@{digest}"),
            action,
            environment: environment.unwrap_or("").to_owned(),
            decided_at: rfc3339(provenant_store::now_millis()),
            decided_by: by.to_owned(),
            log_index: None,
            cached: false,
            decision: document.clone(),
        })
    }

    /// Decisions about the version `row`, newest first (those made before it
    /// was published included: the push's).
    pub async fn decisions(
        &self,
        row: &VersionRow,
        limit: i64,
    ) -> Result<Vec<DecisionView>, RegistryError> {
        self.store
            .policy_decisions(&row.model, &row.digest.to_string(), limit.clamp(1, 1000))
            .await?
            .into_iter()
            .map(decision_view)
            .collect()
    }

    /// Records that the server loaded a policy set (with its log entry),
    /// unless it is the set last recorded. Returns whether it recorded.
    pub async fn policy_set_record(
        &self,
        digest: &str,
        description: &Value,
        by: &str,
    ) -> Result<bool, RegistryError> {
        Ok(self
            .store
            .policy_set_record(digest, &description.to_string(), by)
            .await?)
    }

    /// Asks `gate` about a version about to be published, records the
    /// decision, and refuses the publish when it denies.
    pub(crate) async fn gate_ingest(
        &self,
        gate: &Arc<dyn IngestGate>,
        model: &ModelName,
        new: &provenant_store::NewVersion,
        digest: Digest,
        prepared: &[(
            provenant_store::NewAttachment,
            Vec<provenant_store::NewLineageEdge>,
        )],
    ) -> Result<(), RegistryError> {
        let input = self.ingest_input(model, new, digest, prepared).await?;
        let decider = gate.clone();
        let document = tokio::task::spawn_blocking(move || decider.decide(&input))
            .await
            .map_err(|e| RegistryError::Internal {
                reason: format!("policy evaluation task: {e}"),
            })?;
        let view = self
            .decision_record(
                model,
                &digest,
                None,
                PolicyAction::Ingest,
                None,
                &document,
                gate.decided_by(),
            )
            .await?;
        if view.decision.allowed {
            Ok(())
        } else {
            Err(RegistryError::PolicyDenied(Box::new(view)))
        }
    }
}

/// A stored decision as the API shows it.
fn decision_view(r: DecisionRow) -> Result<DecisionView, RegistryError> {
    let decision: DecisionDocument =
        serde_json::from_str(&r.decision).map_err(|e| RegistryError::Internal {
            reason: format!("stored decision {}: {e}", r.id),
        })?;
    let action = r
        .action
        .parse::<PolicyAction>()
        .map_err(|reason| RegistryError::Internal { reason })?;
    Ok(DecisionView {
        id: r.id,
        reference: format!("{}@{}", r.model, r.digest),
        action,
        environment: r.environment,
        decided_at: rfc3339(r.decided_at),
        decided_by: r.decided_by,
        log_index: r.log_index,
        cached: false,
        decision,
    })
}

/// The input document from its parts.
fn input_of(
    s: &Subject<'_>,
    facts: &[Facts<'_>],
    findings: PolicyFindings,
    req: &GateRequest,
) -> PolicyInput {
    let metadata: Value = serde_json::from_str(s.metadata).unwrap_or(Value::Null);
    let license = metadata
        .get("license")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let requested = req.requested.trim().to_owned();
    let pinned = requested
        .split_once('@')
        .is_some_and(|(_, d)| d.parse::<Digest>().is_ok_and(|d| d == s.digest));
    let signatures = facts
        .iter()
        .filter(|f| f.kind == AttachmentKind::Signature.as_str())
        .map(|f| PolicySignature {
            digest: f.digest.to_string(),
            signer: f.signer.to_owned(),
            fingerprint: f.fingerprint.to_owned(),
            trusted: f.trusted,
            certificate: certificate_of(f.body),
        })
        .collect();
    // The newest of each kind speaks for the version.
    let newest = |kind: AttachmentKind| {
        facts
            .iter()
            .filter(|f| f.kind == kind.as_str())
            .max_by_key(|f| f.created_at)
    };
    let provenance = newest(AttachmentKind::Provenance).map(provenance_of);
    let sbom = newest(AttachmentKind::Sbom).map(sbom_of);
    PolicyInput {
        schema: POLICY_INPUT_SCHEMA_ID.to_owned(),
        action: req.action,
        artifact: PolicyArtifact {
            reference: format!("{}@{}", s.model, s.digest),
            requested,
            pinned,
            digest: s.digest.to_string(),
            namespace: s.model.namespace.clone(),
            model: s.model.name.clone(),
            number: s.number,
            labels: s.labels.clone(),
            state: s.state,
            state_reason: s.state_reason.clone(),
            aliases: s.aliases.clone(),
            license,
            created_by: s.created_by.to_owned(),
            created_at: rfc3339(s.created_at),
        },
        signatures,
        provenance,
        sbom,
        findings,
        approvals: Vec::new(),
        target: req.target.clone(),
    }
}

/// The signing certificate's identities, for a bundle signed with one.
fn certificate_of(body: &[u8]) -> Option<PolicyCertificate> {
    let bundle = provenant_attest::Bundle::from_json(body).ok()?;
    let provenant_attest::VerificationMaterial::CertificateChain(chain) = &bundle.material else {
        return None;
    };
    let id = provenant_attest::certificate_identity(chain.first()?).ok()?;
    Some(PolicyCertificate {
        // As policies match them: a URI as it is, an e-mail address as a
        // `mailto:` URI (Fulcio's form), a DNS name bare.
        identities: id
            .sans
            .iter()
            .map(|s| match s.split_once(':') {
                Some(("email", addr)) => format!("mailto:{addr}"),
                Some((_, v)) => v.to_owned(),
                None => s.clone(),
            })
            .collect(),
        issuer: id.oidc_issuer,
    })
}

fn provenance_of(f: &Facts<'_>) -> PolicyProvenance {
    let summary: provenant_api::ProvenanceSummary = match serde_json::from_str(f.summary) {
        Ok(s) => s,
        Err(_) => provenant_api::ProvenanceSummary {
            build_type: String::new(),
            builder_id: String::new(),
            invocation_id: None,
            started_on: None,
            finished_on: None,
            datasets: Vec::new(),
            repository: None,
            commit: None,
            commit_signature: None,
            entrypoint: String::new(),
            hyperparameters: Value::Null,
            seeds: Vec::new(),
            images: Vec::new(),
            parents: Vec::new(),
        },
    };
    PolicyProvenance {
        digest: f.digest.to_string(),
        trusted: f.trusted,
        signer: f.signer.to_owned(),
        fingerprint: f.fingerprint.to_owned(),
        builder: summary.builder_id,
        build_type: summary.build_type,
        invocation_id: summary.invocation_id,
        repository: summary.repository,
        commit: summary.commit,
        commit_signature: summary.commit_signature.as_deref().map(commit_signature_of),
        datasets: summary
            .datasets
            .iter()
            .map(|d| match d.rsplit_once('@') {
                Some((uri, digest)) if digest.starts_with("sha256:") => PolicyDataset {
                    uri: uri.to_owned(),
                    digest: Some(digest.to_owned()),
                },
                _ => PolicyDataset {
                    uri: d.clone(),
                    digest: None,
                },
            })
            .collect(),
        hyperparameters: summary.hyperparameters,
        images: summary.images.iter().map(ToString::to_string).collect(),
        parents: summary.parents,
    }
}

/// `verified (<signer>)`, `unsigned`, … as the summary writes it.
fn commit_signature_of(text: &str) -> PolicyCommitSignature {
    let (status, signer) = match text.split_once(' ') {
        Some((status, rest)) => {
            let signer = rest.trim();
            let signer = signer.strip_prefix("by ").unwrap_or(signer).trim();
            (
                status,
                (!signer.is_empty()).then(|| signer.trim_matches(['(', ')']).to_owned()),
            )
        }
        None => (text, None),
    };
    PolicyCommitSignature {
        status: status.trim().to_owned(),
        signer,
    }
}

fn sbom_of(f: &Facts<'_>) -> PolicySbom {
    let summary: Option<provenant_api::SbomSummary> = serde_json::from_str(f.summary).ok();
    let mut licenses = Vec::new();
    if let Ok(st) = attestation_statement(f.body)
        && let Ok(bytes) = serde_json::to_vec(&st.predicate)
        && let Ok((_, sbom)) = provenant_sbom::parse_sbom(&bytes, "sbom")
    {
        for c in &sbom.components {
            if c.licenses.is_empty() {
                continue;
            }
            licenses.push(PolicyComponentLicences {
                component: c.purl.clone().unwrap_or_else(|| c.name.clone()),
                name: c.name.clone(),
                licenses: c
                    .licenses
                    .iter()
                    .map(|l| match l {
                        provenant_sbom::License::Spdx(s) | provenant_sbom::License::Named(s) => {
                            s.clone()
                        }
                    })
                    .collect(),
            });
        }
    }
    PolicySbom {
        digest: f.digest.to_string(),
        trusted: f.trusted,
        format: summary
            .as_ref()
            .map_or_else(String::new, |s| s.format.clone()),
        components: summary.as_ref().map_or(0, |s| s.components),
        licenses,
    }
}

/// Findings from the scanner's JSON: open, or suppressed by a waiver or VEX.
fn findings_of<'a>(
    scanned: bool,
    scanned_at: Option<String>,
    rows: impl Iterator<Item = &'a str>,
) -> PolicyFindings {
    let mut open = Vec::new();
    let mut suppressed = Vec::new();
    for text in rows {
        let Ok(f) = serde_json::from_str::<Value>(text) else {
            continue;
        };
        let s = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let list = |k: &str| -> Vec<String> {
            f.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        if f.get("suppressed").and_then(Value::as_bool) == Some(true) {
            suppressed.push(PolicySuppressed {
                id: s("id"),
                purl: s("purl"),
                by: f
                    .get("suppressed_by")
                    .and_then(Value::as_str)
                    .unwrap_or("waiver")
                    .to_owned(),
                reason: s("suppressed_reason"),
                expires: None,
            });
            continue;
        }
        let severity = match f
            .get("severity")
            .and_then(|v| v.get("level").or(Some(v)))
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_ascii_lowercase()
            .as_str()
        {
            // CVSS "none" (a score of 0): the lowest level the input knows.
            "none" => "low".to_owned(),
            level @ ("critical" | "high" | "medium" | "low") => level.to_owned(),
            _ => "unknown".to_owned(),
        };
        open.push(PolicyFinding {
            id: s("id"),
            aliases: list("aliases"),
            severity,
            purl: s("purl"),
            package: s("package"),
            installed_version: s("installed_version"),
            fixed_versions: list("fixed_versions"),
            summary: s("summary"),
        });
    }
    open.sort_by(|a, b| (&a.id, &a.purl).cmp(&(&b.id, &b.purl)));
    suppressed.sort_by(|a, b| (&a.id, &a.purl).cmp(&(&b.id, &b.purl)));
    PolicyFindings {
        scanned,
        scanned_at,
        open,
        suppressed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_signature_words() {
        assert_eq!(
            commit_signature_of("unsigned"),
            PolicyCommitSignature {
                status: "unsigned".into(),
                signer: None
            }
        );
        let v = commit_signature_of("verified (alice@example.com)");
        assert_eq!(v.status, "verified");
        assert_eq!(v.signer.as_deref(), Some("alice@example.com"));
    }

    #[test]
    fn findings_split_open_and_suppressed() {
        let open = r#"{"id":"GHSA-1","aliases":["CVE-1"],"purl":"pkg:pypi/a@1","package":"a",
            "installed_version":"1","fixed_versions":["2"],"severity":{"level":"critical","source":"x"},
            "suppressed":false,"summary":"bad"}"#;
        let waived = r#"{"id":"GHSA-2","purl":"pkg:pypi/b@1","severity":{"level":"high","source":"x"},
            "suppressed":true,"suppressed_reason":"not reachable","suppressed_by":"vex"}"#;
        let zero = r#"{"id":"GHSA-3","severity":{"level":"none"},"suppressed":false}"#;
        let odd = r#"{"id":"GHSA-4","severity":{"level":"catastrophic"},"suppressed":false}"#;
        let f = findings_of(
            true,
            None,
            [open, waived, zero, odd, "not json"].into_iter(),
        );
        assert_eq!(f.open.len(), 3);
        assert_eq!(f.open[0].severity, "critical");
        // Only the levels the input schema knows reach it.
        assert_eq!(f.open[1].severity, "low");
        assert_eq!(f.open[2].severity, "unknown");
        assert_eq!(f.open[0].fixed_versions, vec!["2"]);
        assert_eq!(f.suppressed.len(), 1);
        assert_eq!(f.suppressed[0].by, "vex");
        assert_eq!(f.suppressed[0].reason, "not reachable");
    }
}

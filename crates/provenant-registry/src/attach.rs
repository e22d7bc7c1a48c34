//! Checking signed bundles about a version, and storing them: OMS
//! signatures, SBOM attestations and training provenance, each on its own
//! route or with the publish request that creates the version — then in the
//! version's own transaction, so that a push is all or nothing.
//!
//! Checking never looks at the database row of the version, only at what
//! the version *is* (its manifest digest and files), so a bundle can be
//! checked before the version exists.

use std::time::SystemTime;

use provenant_attest::{Bundle, Statement};
use provenant_store::{
    AttachmentRow, Digest, NewAttachment, NewLineageEdge, StoreError, VersionRow,
};

use crate::attestations::{
    ATTESTATION_MEDIA_TYPE, AttachmentKind, SLSA_PROVENANCE_PREDICATE, check_predicate,
};
use crate::signatures::{SIGNATURE_MEDIA_TYPE, check_resources};
use crate::trust::{KeyMaterial, NamespaceTrust, verify_bundle_with};
use crate::{ModelName, Registry, RegistryError};

/// A signed bundle sent to be attached, with the key material (if any) that
/// verifies it. Without key material, the namespace's trusted keys and root
/// certificates are tried.
#[derive(Clone, Debug, Default)]
pub struct AttachmentInput {
    /// The Sigstore bundle v0.3 JSON, stored byte for byte.
    pub bundle: Vec<u8>,
    /// Key mode: the signer's public key (PEM).
    pub public_key: Option<String>,
    /// Certificate mode: root certificates (PEM) the chain may lead to.
    pub certificate_roots: Vec<String>,
    /// The namespaces the caller may read: a provenance attestation may name
    /// parent versions only there (one elsewhere is "not in this registry",
    /// so that naming parents cannot probe what other namespaces hold).
    pub readable: crate::Visibility,
}

impl AttachmentInput {
    fn material(&self) -> KeyMaterial<'_> {
        KeyMaterial {
            public_key: self.public_key.as_deref(),
            certificate_roots: &self.certificate_roots,
        }
    }
}

/// Most attachments one publish request may carry.
pub const MAX_ATTACHMENTS_PER_REQUEST: usize = 32;
/// Most attachments one version may hold (each is verified again when read).
pub const MAX_ATTACHMENTS_PER_VERSION: usize = 256;

/// Which bundles a caller takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    /// OMS signatures only (the signatures route).
    Signature,
    /// SBOM or provenance attestations (the attestations route).
    Attestation,
    /// Provenance only (the provenance route).
    Provenance,
    /// Any of them, told apart by predicate type (publish).
    Any,
}

/// The version a bundle must be about.
pub(crate) struct Target<'a> {
    /// How messages name it (`ns/name:3`, or `ns/name` before it exists).
    pub label: String,
    /// The digest of its manifest.
    pub manifest_digest: Digest,
    pub files: &'a [crate::ManifestFile],
}

/// A bundle that was checked, ready to be stored with the lineage edges it
/// establishes (provenance only).
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    /// What the bundle is (`new.kind` holds the same, as stored).
    pub kind: AttachmentKind,
    pub new: NewAttachment,
    pub edges: Vec<NewLineageEdge>,
}

/// What a bundle's statement says it is, by predicate type.
#[derive(Clone, Copy)]
enum Kind {
    Signature,
    Sbom,
    Provenance,
}

fn kind_of(payload: &[u8]) -> Option<(Kind, String)> {
    #[derive(serde::Deserialize)]
    struct Peek {
        #[serde(rename = "predicateType", default)]
        predicate_type: String,
    }
    let peek: Peek = serde_json::from_slice(payload).ok()?;
    let kind = match peek.predicate_type.as_str() {
        provenant_attest::PREDICATE_TYPE | provenant_attest::PREDICATE_TYPE_V01 => Kind::Signature,
        SLSA_PROVENANCE_PREDICATE => Kind::Provenance,
        _ => Kind::Sbom,
    };
    Some((kind, peek.predicate_type))
}

// One rule on every route (signatures, attestations, provenance, publish):
// bytes that are not a bundle with a statement are `InvalidBundle`; a
// signature that does not verify is `InvalidSignature`; a signed statement of
// a kind the route does not take is `InvalidAttestation`.

fn bad_bundle(field: &str, reason: String) -> RegistryError {
    RegistryError::InvalidBundle {
        field: field.into(),
        reason,
    }
}

fn bad_signature(reason: String) -> RegistryError {
    RegistryError::InvalidSignature { reason }
}

fn wrong_kind(reason: String) -> RegistryError {
    RegistryError::InvalidAttestation {
        field: "payload.predicateType".into(),
        reason,
    }
}

impl Registry {
    /// The keys and root certificates a namespace trusts now.
    pub(crate) async fn namespace_trust(
        &self,
        namespace: &str,
    ) -> Result<NamespaceTrust, RegistryError> {
        let rows = self.store.trusted_keys(namespace, false).await?;
        Ok(NamespaceTrust::new(namespace, &rows).with_cache(self.verdicts.clone()))
    }

    /// The trust of the namespace a version belongs to.
    pub(crate) async fn version_trust(
        &self,
        row: &VersionRow,
    ) -> Result<NamespaceTrust, RegistryError> {
        let model = ModelName::parse(&row.model)?;
        self.namespace_trust(&model.namespace).await
    }

    /// Checks a bundle about `target`: its signature (against the key
    /// material sent, or the namespace's anchors), that it is about exactly
    /// this version, and that its predicate is one we take and is valid.
    pub(crate) async fn prepare_attachment(
        &self,
        target: &Target<'_>,
        input: &AttachmentInput,
        expect: Expect,
        trust: &NamespaceTrust,
        by: &str,
    ) -> Result<Prepared, RegistryError> {
        let bundle =
            Bundle::from_json(&input.bundle).map_err(|e| bad_bundle("bundle", e.to_string()))?;
        let (kind, predicate_type) = kind_of(&bundle.envelope.payload).ok_or_else(|| {
            bad_bundle(
                "dsseEnvelope.payload",
                "not an in-toto statement with a predicateType".into(),
            )
        })?;
        let now = SystemTime::now();
        let material = input.material();
        let mut new = NewAttachment {
            version_id: 0,
            kind: String::new(),
            media_type: ATTESTATION_MEDIA_TYPE.into(),
            digest: Digest::sha256(&input.bundle),
            body: input.bundle.clone(),
            signer: String::new(),
            fingerprint: String::new(),
            created_by: by.into(),
            predicate_type: predicate_type.clone(),
            summary: "{}".into(),
        };
        let mut edges = Vec::new();
        let stored_as = match (kind, expect) {
            (Kind::Signature, Expect::Signature | Expect::Any) => {
                let checked = verify_bundle_with(
                    &bundle,
                    material,
                    trust,
                    |b, t| {
                        provenant_attest::verify_bundle(b, t, now).map(|v| (v.manifest, v.identity))
                    },
                    bad_signature,
                )?;
                check_resources(&checked.value, target.files)?;
                new.media_type = SIGNATURE_MEDIA_TYPE.into();
                new.predicate_type = String::new();
                new.signer = checked.signer;
                new.fingerprint = checked.fingerprint;
                AttachmentKind::Signature
            }
            (Kind::Signature, _) => {
                return Err(wrong_kind(format!(
                    "an OMS signature ({predicate_type}): attach it as a signature (`provenant attach <ref> model.sig`, POST …/signatures)"
                )));
            }
            (Kind::Provenance, Expect::Provenance | Expect::Attestation | Expect::Any)
            | (Kind::Sbom, Expect::Attestation | Expect::Any) => {
                let provenance = matches!(kind, Kind::Provenance);
                let checked = verify_bundle_with(
                    &bundle,
                    material,
                    trust,
                    |b, t| {
                        provenant_attest::verify_attestation(b, t, now)
                            .map(|v| (v.statement, v.identity))
                    },
                    bad_signature,
                )?;
                let st = checked.value;
                self.check_subject(target, &st, provenance)?;
                let stored_as = if provenance {
                    let (summary, lineage) = self.provenance_prepare(&st, &input.readable).await?;
                    new.summary = summary;
                    edges = lineage;
                    AttachmentKind::Provenance
                } else {
                    let (kind, summary) = check_predicate(&st)?;
                    new.summary = serde_json::to_string(&summary).map_err(|e| {
                        RegistryError::InvalidAttestation {
                            field: "payload.predicate".into(),
                            reason: e.to_string(),
                        }
                    })?;
                    kind
                };
                new.signer = checked.signer;
                new.fingerprint = checked.fingerprint;
                stored_as
            }
            (Kind::Sbom, _) | (Kind::Provenance, _) => {
                return Err(wrong_kind(format!(
                    "predicate type {predicate_type:?} is not {}",
                    match expect {
                        Expect::Signature => "an OMS signature",
                        _ => SLSA_PROVENANCE_PREDICATE,
                    }
                )));
            }
        };
        new.kind = stored_as.as_str().into();
        Ok(Prepared {
            kind: stored_as,
            new,
            edges,
        })
    }

    /// A statement must name the version: its OMS root digest (file mode,
    /// SHA-256) or its manifest digest.
    fn check_subject(
        &self,
        target: &Target<'_>,
        st: &Statement,
        provenance: bool,
    ) -> Result<(), RegistryError> {
        let root = crate::attestations::oms_root_of(target.files)?;
        if st.has_sha256(&root.hex()) || st.has_sha256(&target.manifest_digest.hex()) {
            return Ok(());
        }
        if provenance {
            // The subjects as the statement wrote them (in-toto digest
            // maps, not necessarily valid hex): shown, never parsed.
            let got: Vec<String> = st
                .subject
                .iter()
                .map(|s| {
                    format!(
                        "{} sha256:{}",
                        s.name,
                        s.digest.get("sha256").map_or("-", String::as_str)
                    )
                })
                .collect();
            return Err(RegistryError::SubjectMismatch {
                version: target.label.clone(),
                expected: format!(
                    "{root} (OMS root digest) or {} (manifest digest)",
                    target.manifest_digest
                ),
                got: got.join(", "),
            });
        }
        Err(RegistryError::InvalidAttestation {
            field: "payload.subject".into(),
            reason: format!(
                "no subject is {} (its OMS root digest {root} or manifest digest {})",
                target.label, target.manifest_digest
            ),
        })
    }

    /// Checks a bundle sent for an existing version and stores it
    /// (idempotent for identical bytes). Returns the row and whether it is new.
    pub(crate) async fn attach_to_version(
        &self,
        reference: &crate::Reference,
        input: &AttachmentInput,
        expect: Expect,
        by: &str,
    ) -> Result<(VersionRow, AttachmentRow, bool, NamespaceTrust), RegistryError> {
        let row = self.resolve(reference).await?;
        let model = ModelName::parse(&row.model)?;
        let held = self.store.attachment_count(row.id).await?;
        if usize::try_from(held).unwrap_or(usize::MAX) >= MAX_ATTACHMENTS_PER_VERSION {
            return Err(RegistryError::InvalidInput {
                value: format!("{}:{}", row.model, row.number),
                reason: format!(
                    "the version holds {held} attachments, the most one version may hold"
                ),
            });
        }
        let trust = self.namespace_trust(&model.namespace).await?;
        let files: Vec<_> = (self.store.version_files(row.id).await?)
            .into_iter()
            .map(crate::service::manifest_file)
            .collect();
        let target = Target {
            label: format!("{}:{}", row.model, row.number),
            manifest_digest: row.digest,
            files: &files,
        };
        let prepared = self
            .prepare_attachment(&target, input, expect, &trust, by)
            .await?;
        let (att, created) = self.store_prepared(&row, prepared).await?;
        Ok((row, att, created, trust))
    }

    /// Stores a checked attachment of an existing version (with its lineage
    /// edges, in one transaction), then scans a new SBOM.
    async fn store_prepared(
        &self,
        row: &VersionRow,
        prepared: Prepared,
    ) -> Result<(AttachmentRow, bool), RegistryError> {
        let new = NewAttachment {
            version_id: row.id,
            ..prepared.new
        };
        let label = format!("{}:{}", row.model, row.number);
        let kind = prepared.kind;
        let (att, created) = if prepared.edges.is_empty() {
            self.store.attachment_insert(&new).await?
        } else {
            self.store
                .attachment_insert_with_lineage(&new, &prepared.edges)
                .await
                .map_err(|e| lineage_error(e, &label))?
        };
        if created {
            tracing::info!(version = %label, %kind, signer = %att.signer, edges = prepared.edges.len(), "attached");
            if kind == AttachmentKind::Sbom {
                self.scan_version_logged(row).await;
            }
        }
        Ok((att, created))
    }
}

/// A parent link that would close a cycle, named for the version.
pub(crate) fn lineage_error(e: StoreError, version: &str) -> RegistryError {
    match e {
        StoreError::LineageCycle { parent, .. } => RegistryError::LineageCycle {
            version: version.to_owned(),
            parent,
        },
        other => other.into(),
    }
}

//! Signed in-toto attestations attached to versions: SBOMs (CycloneDX or
//! SPDX documents as the predicate) and, through the same path, training
//! provenance.
//!
//! An attestation is accepted when its DSSE signature verifies (against the
//! key or certificate roots sent with it, or the namespace's trusted keys
//! and roots), a subject names the version (its OMS root digest — file
//! mode, SHA-256 — or its manifest digest), and the predicate is one we
//! understand and parses. Trust is decided when reading, by the namespace's
//! anchors alone, as for signatures.

use provenant_api::SbomSummary;
use provenant_attest::{Bundle, Statement};
use provenant_digest::Digest;
use provenant_store::{AttachmentRow, VersionRow};
use serde_json::Value;

use crate::attach::{AttachmentInput, Expect};
use crate::service::rfc3339;
use crate::trust::NamespaceTrust;
use crate::{Registry, RegistryError};

/// in-toto predicate type of a CycloneDX document.
pub const CYCLONEDX_PREDICATE: &str = "https://cyclonedx.org/bom";
/// in-toto predicate type of an SPDX 2.3 document.
pub const SPDX_PREDICATE: &str = "https://spdx.dev/Document/v2.3";
/// SLSA provenance v1.
pub const SLSA_PROVENANCE_PREDICATE: &str = "https://slsa.dev/provenance/v1";
/// Media type of stored attestation bundles.
pub const ATTESTATION_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

pub use provenant_api::{AttachmentKind, AttestationView};

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> RegistryError {
    RegistryError::InvalidAttestation {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The OMS root digest of a version's files given as (path, digest) pairs:
/// file mode, SHA-256, digests in OMS path order — what `provenant digest`
/// prints for the same files. A file whose digest is not SHA-256 has no OMS
/// root in file mode (`InvalidDigest` naming its path).
pub fn oms_root_digest<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a Digest)>,
) -> Result<Digest, RegistryError> {
    let mut resources = files
        .into_iter()
        .map(|(path, digest)| {
            let bytes = digest
                .sha256_bytes()
                .ok_or_else(|| RegistryError::InvalidDigest {
                    path: path.to_owned(),
                    reason: format!("{digest} is not a sha256: digest"),
                })?;
            Ok(provenant_digest::Resource {
                name: provenant_digest::ResourceName::File(path.to_owned()),
                algorithm: "sha256".into(),
                digest: bytes.to_vec(),
            })
        })
        .collect::<Result<Vec<_>, RegistryError>>()?;
    resources.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Digest::from_sha256_bytes(provenant_digest::root_digest(
        &resources,
    )))
}

/// [`oms_root_digest`] of a version's files.
pub(crate) fn oms_root_of(files: &[crate::ManifestFile]) -> Result<Digest, RegistryError> {
    oms_root_digest(files.iter().map(|f| (f.path.as_str(), &f.digest)))
}

/// Checks an SBOM predicate: it must be the document its predicate type
/// names and parse. Returns the summary kept with the attachment.
fn check_sbom(statement: &Statement) -> Result<SbomSummary, RegistryError> {
    let bytes = serde_json::to_vec(&statement.predicate)
        .map_err(|e| invalid("payload.predicate", e.to_string()))?;
    let (format, sbom) = provenant_sbom::parse_sbom(&bytes, "payload.predicate")
        .map_err(|e| invalid("payload.predicate", e.to_string()))?;
    let expected = match statement.predicate_type.as_str() {
        CYCLONEDX_PREDICATE => provenant_sbom::Format::CycloneDxJson,
        _ => provenant_sbom::Format::SpdxJson,
    };
    if format != expected {
        return Err(invalid(
            "payload.predicateType",
            format!(
                "{} but the predicate is a {} document",
                statement.predicate_type,
                format_name(format)
            ),
        ));
    }
    let spec_version = statement
        .predicate
        .get("specVersion")
        .or_else(|| statement.predicate.get("spdxVersion"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(SbomSummary {
        complete: sbom.is_complete(),
        components: u64::try_from(sbom.components.len()).unwrap_or(u64::MAX),
        format: format_name(format).to_owned(),
        spec_version: spec_version.to_owned(),
        subject: sbom.subject.as_ref().map(|c| c.name.clone()),
    })
}

fn format_name(f: provenant_sbom::Format) -> &'static str {
    match f {
        provenant_sbom::Format::SpdxJson => "spdx-json",
        _ => "cyclonedx-json",
    }
}

/// The attachment kind and summary for a statement's predicate, after
/// checking it; unknown predicate types are refused.
pub(crate) fn check_predicate(
    statement: &Statement,
) -> Result<(AttachmentKind, SbomSummary), RegistryError> {
    match statement.predicate_type.as_str() {
        CYCLONEDX_PREDICATE | SPDX_PREDICATE | "https://spdx.dev/Document" => {
            Ok((AttachmentKind::Sbom, check_sbom(statement)?))
        }
        other => Err(invalid(
            "payload.predicateType",
            format!(
                "unsupported predicate type {other:?} (accepted: {CYCLONEDX_PREDICATE}, {SPDX_PREDICATE}, {SLSA_PROVENANCE_PREDICATE})"
            ),
        )),
    }
}

impl Registry {
    /// Verify an attestation bundle (against the key or roots the client
    /// sent, or the namespace's trusted keys and root certificates), check
    /// that it is about this version and that its predicate parses, then
    /// attach it (idempotent for identical bytes).
    pub async fn attach_attestation(
        &self,
        reference: &crate::Reference,
        input: &AttachmentInput,
        by: &str,
    ) -> Result<(AttestationView, bool), RegistryError> {
        let (_, att, created, trust) = self
            .attach_to_version(reference, input, Expect::Attestation, by)
            .await?;
        Ok((attestation_view(&att, &trust)?, created))
    }

    /// Attestations of a version (every kind but OMS signatures), oldest first.
    pub async fn attestations(
        &self,
        row: &VersionRow,
    ) -> Result<Vec<AttestationView>, RegistryError> {
        let trust = self.version_trust(row).await?;
        let mut out = Vec::new();
        for kind in AttachmentKind::ATTESTATIONS {
            for a in self.store.attachments(row.id, kind.as_str()).await? {
                out.push(attestation_view(&a, &trust)?);
            }
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(out)
    }

    /// The stored bundles of a version's attachments of `kind`.
    pub async fn attestation_rows(
        &self,
        row: &VersionRow,
        kind: AttachmentKind,
    ) -> Result<Vec<AttachmentRow>, RegistryError> {
        Ok(self.store.attachments(row.id, kind.as_str()).await?)
    }

    /// One attestation bundle, byte for byte.
    pub async fn attestation_bundle(
        &self,
        row: &VersionRow,
        digest: &Digest,
    ) -> Result<Vec<u8>, RegistryError> {
        for kind in AttachmentKind::ATTESTATIONS {
            if let Some(a) = self
                .store
                .attachments(row.id, kind.as_str())
                .await?
                .into_iter()
                .find(|a| a.digest == *digest)
            {
                return Ok(a.body);
            }
        }
        Err(RegistryError::VersionNotFound(format!(
            "{}:{} attestation {digest}",
            row.model, row.number
        )))
    }
}

pub(crate) fn attestation_view(
    a: &AttachmentRow,
    trust: &NamespaceTrust,
) -> Result<AttestationView, RegistryError> {
    Ok(AttestationView {
        digest: a.digest,
        kind: stored_kind(a)?,
        predicate_type: a.predicate_type.clone(),
        signer: a.signer.clone(),
        fingerprint: a.fingerprint.clone(),
        trusted: trust.vouches(a),
        summary: serde_json::from_str(&a.summary).unwrap_or(Value::Null),
        created_at: rfc3339(a.created_at),
        created_by: a.created_by.clone(),
    })
}

/// The kind of a stored attachment; a word that is no kind is a corrupt
/// record, a server fault.
pub(crate) fn stored_kind(a: &AttachmentRow) -> Result<AttachmentKind, RegistryError> {
    AttachmentKind::parse(&a.kind).ok_or_else(|| {
        RegistryError::Store(provenant_store::StoreError::Corrupt(format!(
            "kind {:?} of attachment {}",
            a.kind, a.digest
        )))
    })
}

/// The statement inside an attestation bundle (one the registry stored was
/// verified when it was attached; its callers treat a failure as a fault).
pub fn attestation_statement(body: &[u8]) -> Result<Statement, RegistryError> {
    let bad = |field: &str, e: String| RegistryError::InvalidBundle {
        field: field.into(),
        reason: e,
    };
    let bundle = Bundle::from_json(body).map_err(|e| bad("bundle", e.to_string()))?;
    Statement::parse(&bundle.envelope.payload)
        .map_err(|e| bad("dsseEnvelope.payload", e.to_string()))
}

#[cfg(test)]
mod tests {
    use provenant_api::SbomSummary;
    use provenant_digest::Digest;

    use crate::RegistryError;

    #[test]
    fn oms_root_is_in_path_order_and_sha256_only() {
        let (a, b) = (Digest::sha256(b"a"), Digest::sha256(b"b"));
        let root = super::oms_root_digest([("x/a", &a), ("b", &b)]).unwrap();
        assert_eq!(
            root,
            super::oms_root_digest([("b", &b), ("x/a", &a)]).unwrap()
        );
        assert_eq!(root.algorithm(), provenant_digest::DigestAlgorithm::Sha256);
        let other = Digest::sha512(b"a");
        match super::oms_root_digest([("m.bin", &other)]) {
            Err(RegistryError::InvalidDigest { path, reason }) => {
                assert_eq!(path, "m.bin");
                assert_eq!(reason, format!("{other} is not a sha256: digest"));
            }
            other => panic!("{other:?}"),
        }
    }

    /// The summary is stored as text: the typed summary writes the bytes the
    /// `json!` object it replaced wrote.
    #[test]
    fn sbom_summary_is_stored_as_before() {
        for subject in [Some("m"), None] {
            let typed = SbomSummary {
                complete: false,
                components: 3,
                format: "spdx-json".into(),
                spec_version: "SPDX-2.3".into(),
                subject: subject.map(str::to_owned),
            };
            let before = serde_json::json!({
                "format": "spdx-json",
                "spec_version": "SPDX-2.3",
                "components": 3usize,
                "complete": false,
                "subject": subject,
            });
            assert_eq!(serde_json::to_string(&typed).unwrap(), before.to_string());
            assert_eq!(
                serde_json::from_value::<SbomSummary>(before).unwrap(),
                typed
            );
        }
    }
}

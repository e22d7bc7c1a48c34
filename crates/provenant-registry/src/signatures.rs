//! OMS signatures attached to versions, and the keys a namespace trusts.
//!
//! Verification is not trust: the server checks a signature cryptographically
//! against the key (or certificate roots) the client sends with it, and that
//! its resources are exactly the version's files; whether the signer is
//! trusted is decided when reading, against the namespace's list of keys.

use std::collections::BTreeMap;
use std::time::SystemTime;

use provenant_attest::{Bundle, PublicKey, SignerIdentity, TrustRoot};
use provenant_digest::{HashAlgorithm, ResourceName, Serialization};
use provenant_store::{Digest, NewAttachment, TrustedKeyRow, VersionRow};

use crate::service::rfc3339;
use crate::{ModelName, Registry, RegistryError};

pub const SIGNATURE_KIND: &str = "signature";
pub const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// A signature as the API shows it.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SignatureView {
    /// SHA-256 of the bundle bytes.
    pub digest: String,
    /// Who signed: a key (`ecdsa-p256 key sha256:…`) or a certificate's subject/SANs.
    pub signer: String,
    /// Fingerprint of the verifying key (`sha256:` + hex of its DER SubjectPublicKeyInfo);
    /// for certificate signatures, of the root's key.
    pub fingerprint: String,
    /// Whether the namespace lists `fingerprint` among its trusted keys now.
    pub trusted: bool,
    pub media_type: String,
    pub created_at: String,
    pub created_by: String,
}

/// A trusted key as the API shows it.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TrustedKeyView {
    pub namespace: String,
    pub fingerprint: String,
    pub public_key: String,
    pub comment: String,
    pub added_at: String,
    pub added_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<String>,
}

impl From<TrustedKeyRow> for TrustedKeyView {
    fn from(k: TrustedKeyRow) -> Self {
        Self {
            namespace: k.namespace,
            fingerprint: k.fingerprint,
            public_key: k.public_key,
            comment: k.comment,
            added_at: rfc3339(k.added_at),
            added_by: k.added_by,
            removed_at: k.removed_at.map(rfc3339),
            removed_by: k.removed_by,
        }
    }
}

fn bad(reason: impl Into<String>) -> RegistryError {
    RegistryError::InvalidSignature {
        reason: reason.into(),
    }
}

/// A public key from PEM: a `PUBLIC KEY` block, or the key of a `CERTIFICATE`.
pub fn parse_key_or_certificate(pem: &str) -> Result<PublicKey, RegistryError> {
    if pem.contains("-----BEGIN CERTIFICATE-----") {
        let certs = provenant_attest::load_pem_certificates(pem.as_bytes())
            .map_err(|e| bad(e.to_string()))?;
        let first = certs.first().ok_or_else(|| bad("no certificate in PEM"))?;
        provenant_attest::certificate_public_key(first).map_err(|e| bad(e.to_string()))
    } else {
        PublicKey::from_pem(pem.as_bytes()).map_err(|e| bad(e.to_string()))
    }
}

/// What verifies a signed bundle: the signer's public key (PEM), or the root
/// certificates its chain leads to; with the fingerprint recorded as the signer's.
pub(crate) fn trust_from(
    public_key: Option<&str>,
    certificate_roots: &[String],
) -> Result<(TrustRoot, String), RegistryError> {
    Ok(match (public_key, certificate_roots) {
        (Some(pem), []) => {
            let k =
                PublicKey::from_pem(pem.as_bytes()).map_err(|e| bad(format!("public_key: {e}")))?;
            let fp = k.fingerprint();
            (TrustRoot::PublicKey(k), fp)
        }
        (None, roots) if !roots.is_empty() => {
            let mut ders = Vec::new();
            for pem in roots {
                ders.extend(
                    provenant_attest::load_pem_certificates(pem.as_bytes())
                        .map_err(|e| bad(format!("certificate_roots: {e}")))?,
                );
            }
            let root = ders
                .last()
                .ok_or_else(|| bad("certificate_roots holds no certificate"))?;
            let fp = provenant_attest::certificate_public_key(root)
                .map_err(|e| bad(e.to_string()))?
                .fingerprint();
            (TrustRoot::Certificates(ders), fp)
        }
        _ => {
            return Err(bad(
                "send exactly one of public_key or certificate_roots with the bundle",
            ));
        }
    })
}

/// Namespace of a model name or a bare namespace.
fn namespace_of(ns: &str) -> Result<String, RegistryError> {
    // Validate with the model-name rules by pretending a model name.
    let m = ModelName::parse(&format!("{ns}/x"))?;
    Ok(m.namespace)
}

/// Compare a signature's resources with a version's files: the same paths
/// with the same SHA-256 digests, nothing more, nothing less.
fn check_resources(
    manifest: &provenant_attest::SignedManifest,
    files: &[provenant_store::FileRow],
) -> Result<(), RegistryError> {
    if manifest.algorithm != HashAlgorithm::Sha256
        || !matches!(manifest.serialization, Serialization::Files)
    {
        return Err(bad(
            "the registry accepts file-mode SHA-256 signatures (sign without --shard-size and with --hash sha256)",
        ));
    }
    let mut expected: BTreeMap<String, String> = files
        .iter()
        .map(|f| {
            (
                f.path.clone(),
                f.digest.trim_start_matches("sha256:").to_owned(),
            )
        })
        .collect();
    let single = files.len() == 1;
    let mut problems = Vec::new();
    for r in &manifest.resources {
        let ResourceName::File(path) = &r.name else {
            return Err(bad(format!("resource {} is a shard", r.name)));
        };
        // A single-file model is signed as the one resource ".".
        let key = if path == "." && single {
            files[0].path.clone()
        } else {
            path.clone()
        };
        match expected.remove(&key) {
            Some(d) if d == r.digest_hex() => {}
            Some(d) => problems.push(format!(
                "{key}: signed sha256:{} but the version holds sha256:{d}",
                r.digest_hex()
            )),
            None => problems.push(format!("{key}: signed but not a file of this version")),
        }
    }
    for path in expected.keys() {
        problems.push(format!(
            "{path}: file of this version not covered by the signature"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RegistryError::SignatureMismatch { problems })
    }
}

impl Registry {
    /// Verify a signature bundle against the key or roots the client sent and
    /// the version's files, then attach it (idempotent for identical bytes).
    pub async fn attach_signature(
        &self,
        reference: &str,
        bundle_bytes: &[u8],
        public_key: Option<&str>,
        certificate_roots: &[String],
        by: &str,
    ) -> Result<(SignatureView, bool), RegistryError> {
        let row = self.resolve(reference).await?;
        let bundle = Bundle::from_json(bundle_bytes).map_err(|e| bad(e.to_string()))?;
        let (trust, fingerprint) = trust_from(public_key, certificate_roots)?;
        let verified = provenant_attest::verify_bundle(&bundle, &trust, SystemTime::now())
            .map_err(|e| bad(e.to_string()))?;
        let files = self.store.version_files(row.id).await?;
        check_resources(&verified.manifest, &files)?;
        let signer = match &verified.identity {
            SignerIdentity::Key { .. } => verified.identity.to_string(),
            SignerIdentity::Certificate(c) => c.to_string(),
        };
        let (att, created) = self
            .store
            .attachment_insert(&NewAttachment {
                version_id: row.id,
                kind: SIGNATURE_KIND.into(),
                media_type: SIGNATURE_MEDIA_TYPE.into(),
                digest: Digest::of(bundle_bytes).to_string(),
                body: bundle_bytes.to_vec(),
                signer,
                fingerprint,
                created_by: by.into(),
                predicate_type: String::new(),
                summary: "{}".into(),
            })
            .await?;
        if created {
            tracing::info!(version = %format!("{}:{}", row.model, row.number), signer = %att.signer, "signature attached");
        }
        let trusted = self.trusted_fingerprints(&row).await?;
        Ok((signature_view(&att, &trusted), created))
    }

    pub(crate) async fn trusted_fingerprints(
        &self,
        row: &VersionRow,
    ) -> Result<Vec<String>, RegistryError> {
        let model = ModelName::parse(&row.model)?;
        Ok(self
            .store
            .trusted_keys(&model.namespace, false)
            .await?
            .into_iter()
            .map(|k| k.fingerprint)
            .collect())
    }

    /// Signatures of a version with their trust status.
    pub async fn signatures(&self, row: &VersionRow) -> Result<Vec<SignatureView>, RegistryError> {
        let trusted = self.trusted_fingerprints(row).await?;
        let atts = self.store.attachments(row.id, SIGNATURE_KIND).await?;
        Ok(atts.iter().map(|a| signature_view(a, &trusted)).collect())
    }

    /// The bytes of one signature bundle.
    pub async fn signature_bundle(
        &self,
        row: &VersionRow,
        digest: &str,
    ) -> Result<Vec<u8>, RegistryError> {
        let atts = self.store.attachments(row.id, SIGNATURE_KIND).await?;
        atts.into_iter()
            .find(|a| a.digest == digest)
            .map(|a| a.body)
            .ok_or_else(|| {
                RegistryError::VersionNotFound(format!(
                    "{}:{} signature {digest}",
                    row.model, row.number
                ))
            })
    }

    pub async fn trusted_key_add(
        &self,
        namespace: &str,
        pem: &str,
        comment: &str,
        by: &str,
    ) -> Result<(TrustedKeyView, bool), RegistryError> {
        let ns = namespace_of(namespace)?;
        let key = parse_key_or_certificate(pem)?;
        let (row, created) = self
            .store
            .trusted_key_add(&ns, &key.fingerprint(), &key.to_pem(), comment, by)
            .await?;
        if created {
            tracing::info!(namespace = %ns, fingerprint = %row.fingerprint, by, "trusted key added");
        }
        Ok((row.into(), created))
    }

    pub async fn trusted_key_remove(
        &self,
        namespace: &str,
        fingerprint: &str,
        by: &str,
    ) -> Result<(), RegistryError> {
        let ns = namespace_of(namespace)?;
        if !self.store.trusted_key_remove(&ns, fingerprint, by).await? {
            return Err(RegistryError::KeyNotFound {
                namespace: ns,
                fingerprint: fingerprint.into(),
            });
        }
        tracing::info!(namespace = %ns, fingerprint, by, "trusted key removed");
        Ok(())
    }

    pub async fn trusted_keys(
        &self,
        namespace: &str,
        history: bool,
    ) -> Result<Vec<TrustedKeyView>, RegistryError> {
        let ns = namespace_of(namespace)?;
        Ok(self
            .store
            .trusted_keys(&ns, history)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

fn signature_view(a: &provenant_store::AttachmentRow, trusted: &[String]) -> SignatureView {
    SignatureView {
        digest: a.digest.clone(),
        signer: a.signer.clone(),
        fingerprint: a.fingerprint.clone(),
        trusted: trusted.iter().any(|t| t == &a.fingerprint),
        media_type: a.media_type.clone(),
        created_at: rfc3339(a.created_at),
        created_by: a.created_by.clone(),
    }
}

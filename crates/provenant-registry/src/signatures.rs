//! OMS signatures attached to versions, and the keys a namespace trusts.
//!
//! Verification is not trust: the server checks a signature cryptographically
//! (against key material sent with it, or the namespace's trusted keys and
//! root certificates) and that its resources are exactly the version's
//! files; whether the signer is trusted is decided when reading, by the
//! namespace's anchors alone (see `trust.rs`).

use std::collections::BTreeMap;

use provenant_attest::PublicKey;
use provenant_digest::{Digest, DigestAlgorithm, HashAlgorithm, ResourceName, Serialization};
use provenant_store::{TrustedKeyRow, VersionRow};

use crate::attach::{AttachmentInput, Expect};
use crate::service::rfc3339;
use crate::trust::NamespaceTrust;
use crate::{ModelName, Registry, RegistryError};

pub const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

pub use provenant_api::{AttachmentKind, SignatureView, TrustedKeyKind, TrustedKeyView};

/// What a stored trusted key is: a `CERTIFICATE` block is a root
/// certificate, anything else a public key.
pub(crate) fn trusted_key_kind(public_key: &str) -> TrustedKeyKind {
    if public_key.contains("-----BEGIN CERTIFICATE-----") {
        TrustedKeyKind::RootCertificate
    } else {
        TrustedKeyKind::Key
    }
}

/// A trusted key row as the API shows it.
pub(crate) fn trusted_key_view(k: TrustedKeyRow) -> TrustedKeyView {
    TrustedKeyView {
        kind: trusted_key_kind(&k.public_key),
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

/// What a namespace stores for a PEM it is asked to trust, and its
/// fingerprint: a `PUBLIC KEY` as is; a `CERTIFICATE` only when it is one
/// self-signed CA certificate (a root), kept whole so that chains can be
/// verified against it. Private keys are refused, never stored.
fn trusted_pem(pem: &str) -> Result<(String, String), RegistryError> {
    if pem.contains("PRIVATE KEY-----") {
        return Err(bad(
            "public_key holds a private key; send the public key (keys add derives it locally)",
        ));
    }
    if pem.contains("-----BEGIN CERTIFICATE-----") {
        let certs = provenant_attest::load_pem_certificates(pem.as_bytes())
            .map_err(|e| bad(e.to_string()))?;
        let [root] = certs.as_slice() else {
            return Err(bad(format!(
                "public_key holds {} certificates; trust one root certificate at a time",
                certs.len()
            )));
        };
        provenant_attest::check_root_certificate(root).map_err(|e| bad(e.to_string()))?;
        let key = provenant_attest::certificate_public_key(root).map_err(|e| bad(e.to_string()))?;
        return Ok((key.fingerprint(), provenant_attest::certificate_pem(root)));
    }
    let key = PublicKey::from_pem(pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    Ok((key.fingerprint(), key.to_pem()))
}

/// A key fingerprint as stored (`sha256:` + 64 lowercase hex), from either
/// that form or the bare hex, in either case.
pub fn normalize_fingerprint(fp: &str) -> Result<String, RegistryError> {
    // Lenient on purpose: a fingerprint in a request path is user input, as
    // `keys list` printed it or as the bare hex; the prefix may be left out.
    let hex = fp.strip_prefix("sha256:").unwrap_or(fp);
    Digest::from_hex(DigestAlgorithm::Sha256, &hex.to_ascii_lowercase())
        .map(|d| d.to_string())
        .map_err(|_| RegistryError::InvalidInput {
            value: fp.to_owned(),
            reason: "a key fingerprint is sha256: followed by 64 hex digits (the prefix may be left out)".into(),
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
pub(crate) fn check_resources(
    manifest: &provenant_attest::SignedManifest,
    files: &[crate::ManifestFile],
) -> Result<(), RegistryError> {
    if manifest.algorithm != HashAlgorithm::Sha256
        || !matches!(manifest.serialization, Serialization::Files)
    {
        return Err(bad(
            "the registry accepts file-mode SHA-256 signatures (sign without --shard-size and with --hash sha256)",
        ));
    }
    let mut expected: BTreeMap<String, Digest> =
        files.iter().map(|f| (f.path.clone(), f.digest)).collect();
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
        // The resource is in the OMS manifest's shape (its algorithm was
        // checked above, its digest is raw bytes): compared as a Digest.
        let signed = Digest::from_raw(DigestAlgorithm::Sha256, &r.digest);
        match expected.remove(&key) {
            Some(d) if signed == Some(d) => {}
            Some(d) => problems.push(format!(
                "{key}: signed sha256:{} but the version holds {d}",
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
    /// Verify a signature bundle (against the key or roots the client sent,
    /// or the namespace's trusted keys and root certificates) and the
    /// version's files, then attach it (idempotent for identical bytes).
    pub async fn attach_signature(
        &self,
        reference: &crate::Reference,
        input: &AttachmentInput,
        by: &str,
    ) -> Result<(SignatureView, bool), RegistryError> {
        let (_, att, created, trust) = self
            .attach_to_version(reference, input, Expect::Signature, by)
            .await?;
        Ok((signature_view(&att, &trust)?, created))
    }

    /// Signatures of a version with their trust status.
    pub async fn signatures(&self, row: &VersionRow) -> Result<Vec<SignatureView>, RegistryError> {
        let trust = self.version_trust(row).await?;
        let atts = self
            .store
            .attachments(row.id, AttachmentKind::Signature.as_str())
            .await?;
        atts.iter().map(|a| signature_view(a, &trust)).collect()
    }

    /// The bytes of one signature bundle.
    pub async fn signature_bundle(
        &self,
        row: &VersionRow,
        digest: &Digest,
    ) -> Result<Vec<u8>, RegistryError> {
        let atts = self
            .store
            .attachments(row.id, AttachmentKind::Signature.as_str())
            .await?;
        atts.into_iter()
            .find(|a| a.digest == *digest)
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
        let (fingerprint, stored) = trusted_pem(pem)?;
        // A key and a root certificate holding that key share a fingerprint
        // but vouch for different bundles (key-mode signatures; chains the
        // root issued). A root replaces its bare key (what `keys add
        // root.pem` stored before roots were kept whole); a bare key never
        // silently stands in for a trusted root.
        let is_root = |pem: &str| trusted_key_kind(pem) == TrustedKeyKind::RootCertificate;
        if let Some(existing) = self
            .store
            .trusted_keys(&ns, false)
            .await?
            .into_iter()
            .find(|k| k.fingerprint == fingerprint)
            && is_root(&existing.public_key) != is_root(&stored)
        {
            if is_root(&existing.public_key) {
                return Err(bad(format!(
                    "{fingerprint} is trusted in {ns} as a root certificate; remove it first to trust the bare key instead"
                )));
            }
            self.store.trusted_key_remove(&ns, &fingerprint, by).await?;
            tracing::info!(namespace = %ns, fingerprint = %fingerprint, by, "trusted key replaced by its root certificate");
        }
        let (row, created) = self
            .store
            .trusted_key_add(&ns, &fingerprint, &stored, comment, by)
            .await?;
        if created {
            tracing::info!(namespace = %ns, fingerprint = %row.fingerprint, by, "trusted key added");
        }
        Ok((trusted_key_view(row), created))
    }

    pub async fn trusted_key_remove(
        &self,
        namespace: &str,
        fingerprint: &str,
        by: &str,
    ) -> Result<(), RegistryError> {
        let ns = namespace_of(namespace)?;
        let fingerprint = &normalize_fingerprint(fingerprint)?;
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
            .map(trusted_key_view)
            .collect())
    }
}

pub(crate) fn signature_view(
    a: &provenant_store::AttachmentRow,
    trust: &NamespaceTrust,
) -> Result<SignatureView, RegistryError> {
    Ok(SignatureView {
        digest: a.digest,
        signer: a.signer.clone(),
        fingerprint: a.fingerprint.clone(),
        trusted: trust.vouches(a),
        media_type: a.media_type.clone(),
        created_at: rfc3339(a.created_at),
        created_by: a.created_by.clone(),
    })
}

//! Signatures, attestations and the keys a namespace trusts, as the API
//! shows them.

use provenant_digest::Digest;
use serde_json::Value;

/// A signature as the API shows it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SignatureView {
    /// SHA-256 of the bundle bytes.
    #[schema(value_type = String)]
    pub digest: Digest,
    /// Who signed: a key (`ecdsa-p256 key sha256:…`) or the signing
    /// certificate's subject, SANs, OIDC issuer and issuer.
    pub signer: String,
    /// Fingerprint (`sha256:` + hex of the DER SubjectPublicKeyInfo) of what
    /// verified the signature: the key, or for a certificate chain the key
    /// of the one root it was built to.
    pub fingerprint: String,
    /// Whether the namespace's trusted key or root certificate of that
    /// fingerprint verifies the signature now (decided by the server alone).
    pub trusted: bool,
    pub media_type: String,
    pub created_at: String,
    pub created_by: String,
}

/// A trusted key as the API shows it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TrustedKeyView {
    pub namespace: String,
    /// `sha256:` + hex of the key's DER SubjectPublicKeyInfo (for a root
    /// certificate, of its key).
    pub fingerprint: String,
    /// `key` (verifies bundles signed with it) or `root_certificate`
    /// (verifies certificate chains built to it).
    pub kind: String,
    /// The public key, or the root certificate, as PEM.
    pub public_key: String,
    pub comment: String,
    pub added_at: String,
    pub added_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<String>,
}

/// An attestation as the API shows it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AttestationView {
    /// SHA-256 of the bundle bytes.
    #[schema(value_type = String)]
    pub digest: Digest,
    /// `sbom` or `provenance`.
    pub kind: String,
    pub predicate_type: String,
    pub signer: String,
    /// Fingerprint of what verified the bundle: the key, or the key of the
    /// root its certificate chain was built to.
    pub fingerprint: String,
    /// Whether the namespace's trusted key or root certificate of that
    /// fingerprint verifies the bundle now (decided by the server alone).
    pub trusted: bool,
    /// What the predicate says in brief (SBOM: format, spec version, component count).
    #[schema(value_type = Object)]
    pub summary: Value,
    pub created_at: String,
    pub created_by: String,
}

//! Signatures, attestations and the keys a namespace trusts, as the API
//! shows them.

use std::fmt;
use std::str::FromStr;

use provenant_digest::Digest;
use serde_json::Value;

/// What a bundle attached to a version is: an OMS signature, or a signed
/// attestation (an SBOM, or training provenance). Serialised as those
/// lowercase words, which are also what the database stores.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentKind {
    Signature,
    Sbom,
    Provenance,
}

impl AttachmentKind {
    /// Every kind.
    pub const ALL: [AttachmentKind; 3] = [Self::Signature, Self::Sbom, Self::Provenance];
    /// The kinds of attestations (every kind but OMS signatures).
    pub const ATTESTATIONS: [AttachmentKind; 2] = [Self::Sbom, Self::Provenance];

    /// The kind as it goes over the wire and into the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Signature => "signature",
            Self::Sbom => "sbom",
            Self::Provenance => "provenance",
        }
    }

    /// The kind of a wire or database word; `None` for any other word.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for AttachmentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not an attachment kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownAttachmentKind(pub String);

impl fmt::Display for UnknownAttachmentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown attachment kind {:?} (signature, sbom or provenance)",
            self.0
        )
    }
}

impl std::error::Error for UnknownAttachmentKind {}

impl FromStr for AttachmentKind {
    type Err = UnknownAttachmentKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| UnknownAttachmentKind(s.to_owned()))
    }
}

/// What a namespace trusts: a public key (verifies bundles signed with it)
/// or a root certificate (verifies certificate chains built to it).
/// Serialised as `key` or `root_certificate`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TrustedKeyKind {
    Key,
    RootCertificate,
}

impl TrustedKeyKind {
    /// The kind as it goes over the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::RootCertificate => "root_certificate",
        }
    }
}

impl fmt::Display for TrustedKeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    pub kind: TrustedKeyKind,
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

/// What the registry keeps in brief about an attached SBOM (the `summary`
/// of an [`AttestationView`] of kind `sbom`). Fields in the order they have
/// always been written (alphabetical), so stored summaries stay byte for
/// byte what they were.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SbomSummary {
    /// Whether the document says its component list is complete.
    pub complete: bool,
    /// How many components it lists.
    pub components: u64,
    /// `cyclonedx-json` or `spdx-json`.
    pub format: String,
    /// The document's `specVersion` (CycloneDX) or `spdxVersion` (SPDX).
    pub spec_version: String,
    /// Name of the component the document describes, if it names one.
    pub subject: Option<String>,
}

/// An attestation as the API shows it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AttestationView {
    /// SHA-256 of the bundle bytes.
    #[schema(value_type = String)]
    pub digest: Digest,
    /// `sbom` or `provenance` (never `signature`: signatures have their
    /// own view).
    pub kind: AttachmentKind,
    pub predicate_type: String,
    pub signer: String,
    /// Fingerprint of what verified the bundle: the key, or the key of the
    /// root its certificate chain was built to.
    pub fingerprint: String,
    /// Whether the namespace's trusted key or root certificate of that
    /// fingerprint verifies the bundle now (decided by the server alone).
    pub trusted: bool,
    /// What the predicate says in brief: an [`SbomSummary`] for an SBOM, a
    /// `ProvenanceSummary` for provenance.
    #[schema(value_type = Object)]
    pub summary: Value,
    pub created_at: String,
    pub created_by: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_kind_words() {
        for k in AttachmentKind::ALL {
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::Value::from(k.as_str())
            );
            assert_eq!(k.as_str().parse::<AttachmentKind>(), Ok(k));
        }
        assert!("sboms".parse::<AttachmentKind>().is_err());
    }

    #[test]
    fn trusted_key_kind_words() {
        for (k, word) in [
            (TrustedKeyKind::Key, "key"),
            (TrustedKeyKind::RootCertificate, "root_certificate"),
        ] {
            assert_eq!(k.as_str(), word);
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::Value::from(word)
            );
            assert_eq!(
                serde_json::from_value::<TrustedKeyKind>(word.into()).unwrap(),
                k
            );
        }
    }
}

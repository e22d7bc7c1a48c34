//! Signed policy sets: the policy directory signed like a model, with an
//! OpenSSF Model Signing (OMS) signature (`provenant sign DIR` writes
//! `DIR/model.sig`, a Sigstore bundle whose in-toto statement lists every
//! file of the directory with its SHA-256). Spec:
//! <https://github.com/ossf/model-signing-spec>.
//!
//! When a set must be signed, the loader verifies the bundle against the
//! trusted key (or root certificates), then checks the very bytes it read
//! and is about to compile: every decision module and every data file must
//! be listed in the signed manifest with the SHA-256 of those bytes. Files
//! the manifest lists but the loader does not read (a README, test modules,
//! corpus JSON) are fine; the signature file itself is not part of the set
//! (nor of its digest).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use provenant_attest::{Bundle, DEFAULT_SIGNATURE_NAME, SignerIdentity, TrustRoot, verify_bundle};
use provenant_digest::{HashAlgorithm, ResourceName, Serialization};

use crate::PolicyError;
use crate::canonical::sha256_hex;

/// A policy set must carry a valid OMS signature: the bundle file and what
/// it must verify against.
#[derive(Clone, Debug)]
pub struct SignatureCheck {
    /// The OMS Sigstore bundle (`DIR/model.sig` unless signed elsewhere).
    pub bundle: PathBuf,
    /// The public key, or the root certificates a signing certificate must
    /// chain to (checked at load time).
    pub trust: TrustRoot,
}

impl SignatureCheck {
    /// A check of `bundle` against `trust`.
    pub fn new(bundle: impl Into<PathBuf>, trust: TrustRoot) -> Self {
        Self {
            bundle: bundle.into(),
            trust,
        }
    }

    /// A check of the signature `provenant sign DIR` writes by default,
    /// `DIR/model.sig`.
    pub fn in_dir(dir: &Path, trust: TrustRoot) -> Self {
        Self::new(dir.join(DEFAULT_SIGNATURE_NAME), trust)
    }
}

impl PartialEq for SignatureCheck {
    fn eq(&self, other: &Self) -> bool {
        self.bundle == other.bundle
            && match (&self.trust, &other.trust) {
                (TrustRoot::PublicKey(a), TrustRoot::PublicKey(b)) => a == b,
                (TrustRoot::Certificates(a), TrustRoot::Certificates(b)) => a == b,
                _ => false,
            }
    }
}

impl Eq for SignatureCheck {}

/// Who signed a loaded policy set, as established by verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySigner {
    /// The signer in words (`ecdsa-p256 key sha256:…`, or the certificate's
    /// subject, SANs and issuer).
    pub identity: String,
    /// `sha256:` fingerprint: of the key's DER SubjectPublicKeyInfo in key
    /// mode, of the DER signing certificate in certificate mode.
    pub fingerprint: String,
    /// The OMS root digest the signature covers (`sha256:…`), when present.
    pub root_digest: Option<String>,
}

/// A verified signature's manifest: relative path → SHA-256 hex.
#[derive(Debug)]
pub(crate) struct SignedFiles {
    bundle: PathBuf,
    files: BTreeMap<String, String>,
    signer: PolicySigner,
}

impl SignedFiles {
    /// Reads the bundle once, verifies it against `check.trust` now, and
    /// keeps its manifest.
    ///
    /// # Errors
    /// [`PolicyError::Signature`] for an unreadable, malformed or invalid
    /// bundle (wrong key, bad signature, rejected chain);
    /// [`PolicyError::SignedManifest`] for a manifest that does not give one
    /// SHA-256 per whole file.
    pub(crate) fn verify(check: &SignatureCheck) -> Result<Self, PolicyError> {
        let bundle_path = check.bundle.clone();
        let signature = |source| PolicyError::Signature {
            bundle: bundle_path.clone(),
            source,
        };
        let bundle = Bundle::read(&check.bundle).map_err(signature)?;
        let verified =
            verify_bundle(&bundle, &check.trust, SystemTime::now()).map_err(signature)?;
        let manifest = verified.manifest;
        let unsupported = |reason: String| PolicyError::SignedManifest {
            bundle: bundle_path.clone(),
            reason,
        };
        if manifest.serialization != Serialization::Files
            || manifest.algorithm != HashAlgorithm::Sha256
        {
            return Err(unsupported(format!(
                "signed with {} {} serialization; a policy directory must be signed per file \
                 with sha256 (the default of `provenant sign`)",
                manifest.algorithm,
                manifest.serialization.method()
            )));
        }
        let mut files = BTreeMap::new();
        for resource in &manifest.resources {
            let ResourceName::File(path) = &resource.name else {
                return Err(unsupported(format!(
                    "resource {} is a shard, not a whole file",
                    resource.name
                )));
            };
            if resource.algorithm != "sha256" || resource.digest.len() != 32 {
                return Err(unsupported(format!(
                    "resource {path} has a {} digest of {} bytes, not sha256",
                    resource.algorithm,
                    resource.digest.len()
                )));
            }
            files.insert(path.clone(), hex::encode(&resource.digest));
        }
        let root_digest = manifest.root_digest_hex().map(|h| format!("sha256:{h}"));
        let (identity, fingerprint) = match &verified.identity {
            SignerIdentity::Key { fingerprint, .. } => {
                (verified.identity.to_string(), fingerprint.clone())
            }
            SignerIdentity::Certificate(c) => {
                (verified.identity.to_string(), c.fingerprint.clone())
            }
        };
        Ok(Self {
            bundle: check.bundle.clone(),
            files,
            signer: PolicySigner {
                identity,
                fingerprint,
                root_digest,
            },
        })
    }

    /// Checks that `rel` (a path relative to the policy directory, `/`
    /// separators) is signed with the SHA-256 of `bytes`.
    ///
    /// # Errors
    /// [`PolicyError::Unsigned`] or [`PolicyError::SignedDigestMismatch`].
    pub(crate) fn check(&self, rel: &str, bytes: &[u8]) -> Result<(), PolicyError> {
        let Some(signed) = self.files.get(rel) else {
            return Err(PolicyError::Unsigned {
                file: rel.to_owned(),
                bundle: self.bundle.clone(),
            });
        };
        let actual = sha256_hex(bytes);
        if *signed != actual {
            return Err(PolicyError::SignedDigestMismatch {
                file: rel.to_owned(),
                bundle: self.bundle.clone(),
                signed: signed.clone(),
                actual,
            });
        }
        Ok(())
    }

    /// Checks a data file: it must lie inside `dir` and be signed with the
    /// SHA-256 of `bytes`.
    ///
    /// # Errors
    /// [`PolicyError::DataOutsideSignedDir`], and as [`SignedFiles::check`].
    pub(crate) fn check_data(
        &self,
        dir: &Path,
        file: &Path,
        bytes: &[u8],
    ) -> Result<(), PolicyError> {
        let rel = relative_inside(dir, file).ok_or_else(|| PolicyError::DataOutsideSignedDir {
            file: file.to_owned(),
            dir: dir.to_owned(),
        })?;
        self.check(&rel, bytes)
    }

    /// Who signed.
    pub(crate) fn into_signer(self) -> PolicySigner {
        self.signer
    }
}

/// `file` relative to `dir` (`/` separators), when it lies inside: first as
/// written (absolute paths, without resolving links, so a Kubernetes
/// ConfigMap volume's visible names are kept), then with both resolved.
pub(crate) fn relative_inside(dir: &Path, file: &Path) -> Option<String> {
    let lexical = std::path::absolute(dir)
        .ok()
        .zip(std::path::absolute(file).ok())
        .and_then(|(d, f)| normal_relative(&d, &f));
    lexical.or_else(|| {
        let d = std::fs::canonicalize(dir).ok()?;
        let f = std::fs::canonicalize(file).ok()?;
        normal_relative(&d, &f)
    })
}

/// The relative path of `file` under `dir` when it consists of plain names
/// only (no `.`, `..` or root), joined with `/`.
fn normal_relative(dir: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(dir).ok()?;
    let parts: Option<Vec<&str>> = rel
        .components()
        .map(|c| match c {
            Component::Normal(name) => name.to_str(),
            _ => None,
        })
        .collect();
    let parts = parts?;
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_are_placed_relative_to_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/data.json"), "{}").unwrap();
        assert_eq!(
            relative_inside(d, &d.join("sub/data.json")).as_deref(),
            Some("sub/data.json")
        );
        // `..` that comes back inside is resolved through the file system.
        assert_eq!(
            relative_inside(d, &d.join("sub/../sub/data.json")).as_deref(),
            Some("sub/data.json")
        );
        assert_eq!(relative_inside(&d.join("sub"), &d.join("x.json")), None);
        assert_eq!(relative_inside(d, d), None);
    }
}

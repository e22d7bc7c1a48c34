//! High-level signing and verification of model directories and files.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

use provenant_digest::{HashOptions, ModelDigest, diff_resources, hash_model};

use crate::bundle::{BUNDLE_MEDIA_TYPE, Bundle, VerificationMaterial};
use crate::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE};
use crate::error::{AttestError, Result};
use crate::keys::{KeyAlgorithm, PublicKey, Signer};
use crate::statement::{SignedManifest, default_ignore_paths, parse_statement, statement_json};
use crate::x509::{CertificateIdentity, certificate_public_key, verify_chain};

/// Default signature file name inside a model directory.
pub const DEFAULT_SIGNATURE_NAME: &str = "model.sig";

/// Where the signature of `model` goes by default: `<dir>/model.sig` for a
/// directory, `<file>.sig` next to a single-file model.
pub fn default_signature_path(model: &Path) -> PathBuf {
    if model.is_dir() {
        model.join(DEFAULT_SIGNATURE_NAME)
    } else {
        let mut name = model.file_name().unwrap_or_default().to_os_string();
        name.push(".sig");
        model.with_file_name(name)
    }
}

/// Options of [`sign_model`].
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    /// What to hash and how (algorithm, shards, ignore paths, symlinks).
    pub hashing: HashOptions,
    /// Bundle destination (default [`default_signature_path`]); ignored when hashing.
    pub signature_path: Option<PathBuf>,
    /// Certificate mode: DER certificates, signing certificate first, then
    /// its chain. Empty: key mode (the bundle carries a public-key hint).
    pub certificate_chain: Vec<Vec<u8>>,
}

/// Result of [`sign_model`].
#[derive(Debug, Clone)]
pub struct Signed {
    /// Where the bundle was written.
    pub bundle_path: PathBuf,
    /// The bundle.
    pub bundle: Bundle,
    /// The signed resources and root digest.
    pub digest: ModelDigest,
}

/// Hashes `model`, signs the OMS statement with `signer` and writes the
/// Sigstore bundle.
///
/// # Errors
/// Hashing errors, signer failure, a certificate that does not match the
/// signing key, I/O errors writing the bundle.
pub fn sign_model(model: &Path, signer: &dyn Signer, opts: &SignOptions) -> Result<Signed> {
    let bundle_path = opts
        .signature_path
        .clone()
        .unwrap_or_else(|| default_signature_path(model));
    let mut hashing = opts.hashing.clone();
    if let Some(rel) = relative_inside(model, &bundle_path) {
        hashing.ignore_paths.push(rel);
    }
    let digest = hash_model(model, &hashing)?;
    let bundle = sign_digest(&digest, signer, &opts.certificate_chain)?;
    bundle.write(&bundle_path)?;
    Ok(Signed {
        bundle_path,
        bundle,
        digest,
    })
}

/// Signs an already computed model digest into a bundle (no file I/O).
///
/// # Errors
/// Signer failure, or a signing certificate whose key is not the signer's.
pub fn sign_digest(
    digest: &ModelDigest,
    signer: &dyn Signer,
    certificate_chain: &[Vec<u8>],
) -> Result<Bundle> {
    let material = verification_material(signer, certificate_chain)?;
    let envelope = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, statement_json(digest), signer)?;
    Ok(Bundle {
        media_type: BUNDLE_MEDIA_TYPE.to_owned(),
        material,
        envelope,
    })
}

/// The bundle's `verificationMaterial` for `signer`: its certificate chain
/// (whose leaf must carry the signer's key), or a public-key hint.
pub(crate) fn verification_material(
    signer: &dyn Signer,
    certificate_chain: &[Vec<u8>],
) -> Result<VerificationMaterial> {
    let public = signer.public_key();
    if let Some(leaf) = certificate_chain.first() {
        let cert_key = certificate_public_key(leaf)?;
        if cert_key != public {
            return Err(AttestError::Certificate {
                field: "signing certificate".into(),
                reason: "its public key does not match the signing key".into(),
            });
        }
        Ok(VerificationMaterial::CertificateChain(
            certificate_chain.to_vec(),
        ))
    } else {
        Ok(VerificationMaterial::PublicKey {
            hint: Some(public.model_signing_hint()),
        })
    }
}

/// What a verifier trusts.
#[derive(Debug, Clone)]
pub enum TrustRoot {
    /// Key mode: this public key.
    PublicKey(PublicKey),
    /// Certificate mode: these root certificates (DER).
    Certificates(Vec<Vec<u8>>),
}

/// Who signed, as established by verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerIdentity {
    /// A bare key, identified by its fingerprint (`sha256:` + hex of the DER SPKI).
    Key {
        fingerprint: String,
        algorithm: KeyAlgorithm,
    },
    /// A certificate that chains to a trusted root.
    Certificate(CertificateIdentity),
}

impl fmt::Display for SignerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key {
                fingerprint,
                algorithm,
            } => write!(f, "{algorithm} key {fingerprint}"),
            Self::Certificate(c) => c.fmt(f),
        }
    }
}

/// A bundle whose signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    /// The signer.
    pub identity: SignerIdentity,
    /// The signed manifest (resources to compare with the model's files).
    pub manifest: SignedManifest,
}

/// Verifies a bundle cryptographically (signature, key hint, certificate
/// chain) and parses its statement. Does not look at any model file: the
/// registry uses this and compares `manifest.resources` with a version's files.
///
/// # Errors
/// Wrong key, bad signature, rejected certificate chain, malformed statement.
pub fn verify_bundle(
    bundle: &Bundle,
    trust: &TrustRoot,
    time: SystemTime,
) -> Result<VerifiedBundle> {
    let identity = verify_signature(bundle, trust, time)?;
    let manifest = parse_statement(&bundle.envelope.payload)?;
    Ok(VerifiedBundle { identity, manifest })
}

/// Checks a bundle's DSSE signature against `trust` (key hint, certificate
/// chain to the roots at `time`) and that it carries an in-toto statement;
/// returns who signed. Says nothing about the statement's content.
///
/// # Errors
/// Wrong key, bad signature, rejected certificate chain, wrong payload type.
pub fn verify_signature(
    bundle: &Bundle,
    trust: &TrustRoot,
    time: SystemTime,
) -> Result<SignerIdentity> {
    // Whether the envelope's signature was already checked with `key` (one
    // ECDSA verification is most of what reading a trusted signature costs).
    let mut checked = false;
    let (key, identity) = match (&bundle.material, trust) {
        (VerificationMaterial::PublicKey { hint }, TrustRoot::PublicKey(k)) => {
            checked = true;
            if bundle.envelope.verify(k).is_none() {
                return Err(match hint {
                    Some(h) if !k.matches_hint(h) => AttestError::KeyHintMismatch {
                        hint: h.clone(),
                        expected: k.fingerprint(),
                    },
                    _ => AttestError::BadSignature {
                        field: "dsseEnvelope.signatures".into(),
                        key: k.fingerprint(),
                    },
                });
            }
            (k.clone(), key_identity(k))
        }
        (VerificationMaterial::CertificateChain(chain), TrustRoot::Certificates(roots)) => {
            let (k, id) = verify_chain(chain, roots, time)?;
            (k, SignerIdentity::Certificate(id))
        }
        (VerificationMaterial::CertificateChain(chain), TrustRoot::PublicKey(k)) => {
            // Accept a certificate bundle when the caller pins the signing key itself.
            let leaf = chain
                .first()
                .map(|c| certificate_public_key(c))
                .transpose()?;
            if leaf.as_ref() != Some(k) {
                return Err(AttestError::VerificationMaterial {
                    reason: "bundle is signed with a certificate whose key is not the given key; verify with the root certificates instead".into(),
                });
            }
            (k.clone(), key_identity(k))
        }
        (VerificationMaterial::PublicKey { .. }, TrustRoot::Certificates(_)) => {
            return Err(AttestError::VerificationMaterial {
                reason: "bundle is signed with a bare key (publicKey), not a certificate; verify with the public key".into(),
            });
        }
    };
    if !checked && bundle.envelope.verify(&key).is_none() {
        return Err(AttestError::BadSignature {
            field: "dsseEnvelope.signatures".into(),
            key: match &identity {
                SignerIdentity::Key { fingerprint, .. } => fingerprint.clone(),
                SignerIdentity::Certificate(c) => format!("the key of {c}"),
            },
        });
    }
    if bundle.envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(AttestError::malformed(
            "dsseEnvelope.payloadType",
            format!(
                "expected {IN_TOTO_PAYLOAD_TYPE}, got {:?}",
                bundle.envelope.payload_type
            ),
        ));
    }
    Ok(identity)
}

fn key_identity(k: &PublicKey) -> SignerIdentity {
    SignerIdentity::Key {
        fingerprint: k.fingerprint(),
        algorithm: k.algorithm(),
    }
}

/// Options of [`verify_model`].
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Key or root certificates to verify against.
    pub trust: TrustRoot,
    /// Bundle location (default [`default_signature_path`]).
    pub signature_path: Option<PathBuf>,
    /// Do not fail on files present in the model but absent from the signature.
    pub ignore_unsigned_files: bool,
    /// Extra model-relative paths to ignore (on top of those the signer recorded).
    pub ignore_paths: Vec<String>,
    /// Hash symlinks (inside the model) even if the signer did not.
    pub allow_symlinks: bool,
    /// Time at which certificates must be valid (default: now).
    pub time: Option<SystemTime>,
    /// Hashing worker threads (default: all cores).
    pub threads: Option<usize>,
    /// Byte counter for progress display.
    pub progress: Option<Arc<AtomicU64>>,
}

impl VerifyOptions {
    /// Options with the given trust root and defaults otherwise.
    pub fn new(trust: TrustRoot) -> Self {
        Self {
            trust,
            signature_path: None,
            ignore_unsigned_files: false,
            ignore_paths: Vec::new(),
            allow_symlinks: false,
            time: None,
            threads: None,
            progress: None,
        }
    }
}

/// A model that matches a verified signature.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signer.
    pub identity: SignerIdentity,
    /// The signed manifest.
    pub manifest: SignedManifest,
    /// The bundle that was verified.
    pub bundle_path: PathBuf,
}

/// Verifies the signature of `model` and that the files match it exactly.
///
/// # Errors
/// Everything [`verify_bundle`] rejects, hashing errors (escaping symlinks,
/// unreadable files), and [`AttestError::ModelMismatch`] listing every
/// changed, missing, extra or renamed file.
pub fn verify_model(model: &Path, opts: &VerifyOptions) -> Result<Verified> {
    let bundle_path = opts
        .signature_path
        .clone()
        .unwrap_or_else(|| default_signature_path(model));
    let bundle = Bundle::read(&bundle_path)?;
    let vb = verify_bundle(
        &bundle,
        &opts.trust,
        opts.time.unwrap_or_else(SystemTime::now),
    )?;
    let m = &vb.manifest;

    let mut ignore_paths = m.ignore_paths.clone().unwrap_or_else(default_ignore_paths);
    ignore_paths.extend(opts.ignore_paths.iter().cloned());
    if let Some(rel) = relative_inside(model, &bundle_path) {
        ignore_paths.push(rel);
    }
    let only_files = opts.ignore_unsigned_files.then(|| {
        m.resources
            .iter()
            .map(|r| r.name.path().to_owned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    });
    let hashing = HashOptions {
        algorithm: m.algorithm,
        serialization: m.serialization,
        ignore_paths,
        ignore_git_paths: false,
        allow_symlinks: m.allow_symlinks || opts.allow_symlinks,
        only_files,
        threads: opts.threads,
        progress: opts.progress.clone(),
        ..HashOptions::default()
    };
    let actual = hash_model(model, &hashing)?;
    let mismatches = diff_resources(&m.resources, &actual.resources);
    if !mismatches.is_empty() {
        return Err(AttestError::ModelMismatch { mismatches });
    }
    Ok(Verified {
        identity: vb.identity,
        manifest: vb.manifest,
        bundle_path,
    })
}

/// `path` relative to the model directory, as a POSIX path, when it lies inside it.
fn relative_inside(model: &Path, path: &Path) -> Option<String> {
    let root = std::fs::canonicalize(model).ok()?;
    if !root.is_dir() {
        return None;
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let abs = std::fs::canonicalize(parent).ok()?.join(name);
    let rel = abs.strip_prefix(&root).ok()?;
    let parts: Option<Vec<&str>> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    let parts = parts?;
    (!parts.is_empty()).then(|| parts.join("/"))
}

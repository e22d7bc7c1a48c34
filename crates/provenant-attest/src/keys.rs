//! Keys, the `Signer`/`Verifier` traits and their software implementations.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use sha2::{Digest as _, Sha256};

use crate::encoding::{b64decode, b64encode, hex, pem_blocks};
use crate::error::{AttestError, Result};

/// Signs DSSE pre-authentication encodings. Implemented by [`PrivateKey`];
/// a KMS or HSM signer implements it to plug into [`crate::sign_model`].
pub trait Signer: Send + Sync {
    /// Signs `message` and returns the signature as stored in the envelope
    /// (ASN.1 DER for ECDSA, 64 raw bytes for Ed25519).
    ///
    /// # Errors
    /// When the backend fails to sign.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>>;

    /// The public half, recorded in (or hinted by) the bundle.
    fn public_key(&self) -> PublicKey;
}

/// Checks signatures over DSSE pre-authentication encodings.
pub trait Verifier {
    /// Whether `signature` is a valid signature of `message`.
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool;
}

/// Supported key types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 with SHA-256 (model_signing's usual key).
    EcdsaP256,
    /// ECDSA on NIST P-384 with SHA-384.
    EcdsaP384,
    /// Ed25519 (not accepted by model_signing 1.1).
    Ed25519,
}

impl KeyAlgorithm {
    /// Stable name: `ecdsa-p256`, `ecdsa-p384`, `ed25519`.
    pub fn name(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ecdsa-p256",
            Self::EcdsaP384 => "ecdsa-p384",
            Self::Ed25519 => "ed25519",
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = AttestError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "ecdsa-p256" | "p256" | "ecdsa" => Ok(Self::EcdsaP256),
            "ecdsa-p384" | "p384" => Ok(Self::EcdsaP384),
            "ed25519" => Ok(Self::Ed25519),
            _ => Err(AttestError::key(
                s,
                "unknown key type (expected ecdsa-p256, ecdsa-p384 or ed25519)",
            )),
        }
    }
}

#[derive(Clone)]
enum PubInner {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A public key (SubjectPublicKeyInfo).
#[derive(Clone)]
pub struct PublicKey {
    inner: PubInner,
    spki_der: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} {})", self.algorithm(), self.fingerprint())
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.spki_der == other.spki_der
    }
}
impl Eq for PublicKey {}

impl PublicKey {
    /// Parses a DER SubjectPublicKeyInfo (P-256, P-384 or Ed25519).
    ///
    /// # Errors
    /// Unsupported algorithm or curve, malformed DER.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        let inner = if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            PubInner::P256(k)
        } else if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(der) {
            PubInner::P384(k)
        } else if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            PubInner::Ed25519(k)
        } else {
            return Err(AttestError::key(
                "public key",
                "not an ECDSA P-256/P-384 or Ed25519 SubjectPublicKeyInfo",
            ));
        };
        Ok(Self::from_inner(inner))
    }

    fn from_inner(inner: PubInner) -> Self {
        // Re-encode so the stored DER is canonical (hints are computed over it).
        let der = match &inner {
            PubInner::P256(k) => k.to_public_key_der(),
            PubInner::P384(k) => k.to_public_key_der(),
            PubInner::Ed25519(k) => k.to_public_key_der(),
        };
        let spki_der = der.map(|d| d.as_bytes().to_vec()).unwrap_or_default();
        Self { inner, spki_der }
    }

    /// Parses a PEM `PUBLIC KEY` file.
    ///
    /// # Errors
    /// No `PUBLIC KEY` block, or an unsupported key.
    pub fn from_pem(pem: &[u8]) -> Result<Self> {
        let blocks = pem_blocks(pem).map_err(|r| AttestError::key("public key", r))?;
        let block = blocks
            .iter()
            .find(|b| b.label == "PUBLIC KEY")
            .ok_or_else(|| AttestError::key("public key", "no `PUBLIC KEY` PEM block"))?;
        Self::from_spki_der(&block.der)
    }

    /// Reads a PEM public key file.
    ///
    /// # Errors
    /// As [`PublicKey::from_pem`], plus I/O errors.
    pub fn from_pem_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(AttestError::io(path))?;
        Self::from_pem(&bytes).map_err(|e| rename_key_error(e, path))
    }

    /// Key type.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.inner {
            PubInner::P256(_) => KeyAlgorithm::EcdsaP256,
            PubInner::P384(_) => KeyAlgorithm::EcdsaP384,
            PubInner::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// PEM `PUBLIC KEY` with LF line endings (what `key.pub` contains).
    pub fn to_pem(&self) -> String {
        pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &self.spki_der)
            .unwrap_or_default()
    }

    /// The hint model_signing writes and checks: lowercase hex of SHA-256 over
    /// the PEM text. This is what Provenant emits in
    /// `verificationMaterial.publicKey.hint`.
    pub fn model_signing_hint(&self) -> String {
        hex(&Sha256::digest(self.to_pem().as_bytes()))
    }

    /// The cosign-style key id: standard base64 of SHA-256 over the DER
    /// SubjectPublicKeyInfo. Accepted as a hint on input.
    pub fn cosign_hint(&self) -> String {
        b64encode(&Sha256::digest(&self.spki_der))
    }

    /// Whether a bundle's `publicKey.hint` designates this key (either convention).
    pub fn matches_hint(&self, hint: &str) -> bool {
        if hint.eq_ignore_ascii_case(&self.model_signing_hint()) {
            return true;
        }
        let want = Sha256::digest(&self.spki_der);
        b64decode(hint).is_ok_and(|h| h == want.as_slice())
    }

    /// Stable identity of the key: `sha256:` + hex SHA-256 of the DER
    /// SubjectPublicKeyInfo (the "key fingerprint" recorded for signers).
    pub fn fingerprint(&self) -> String {
        provenant_digest::Digest::sha256(&self.spki_der).to_string()
    }
}

impl Verifier for PublicKey {
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        match &self.inner {
            PubInner::P256(k) => p256::ecdsa::Signature::from_der(signature)
                .or_else(|_| p256::ecdsa::Signature::from_slice(signature))
                .is_ok_and(|s| k.verify(message, &s).is_ok()),
            PubInner::P384(k) => p384::ecdsa::Signature::from_der(signature)
                .or_else(|_| p384::ecdsa::Signature::from_slice(signature))
                .is_ok_and(|s| k.verify(message, &s).is_ok()),
            PubInner::Ed25519(k) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| k.verify_strict(message, &s).is_ok()),
        }
    }
}

enum PrivInner {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A private signing key held in memory.
pub struct PrivateKey {
    inner: PrivInner,
    public: PublicKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({:?})", self.public)
    }
}

impl PrivateKey {
    fn from_inner(inner: PrivInner) -> Self {
        let public = PublicKey::from_inner(match &inner {
            PrivInner::P256(k) => PubInner::P256(*k.verifying_key()),
            PrivInner::P384(k) => PubInner::P384(*k.verifying_key()),
            PrivInner::Ed25519(k) => PubInner::Ed25519(k.verifying_key()),
        });
        Self { inner, public }
    }

    /// Generates a new key from the operating system's random source.
    ///
    /// # Errors
    /// When the OS random source fails.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self> {
        let rand_err =
            |e: getrandom::Error| AttestError::key("new key", format!("random source: {e}"));
        loop {
            let mut seed = [0u8; 48];
            getrandom::fill(&mut seed).map_err(rand_err)?;
            let inner = match algorithm {
                KeyAlgorithm::EcdsaP256 => p256::ecdsa::SigningKey::from_slice(&seed[..32])
                    .ok()
                    .map(PrivInner::P256),
                KeyAlgorithm::EcdsaP384 => p384::ecdsa::SigningKey::from_slice(&seed)
                    .ok()
                    .map(PrivInner::P384),
                KeyAlgorithm::Ed25519 => {
                    let mut s = [0u8; 32];
                    s.copy_from_slice(&seed[..32]);
                    Some(PrivInner::Ed25519(ed25519_dalek::SigningKey::from_bytes(
                        &s,
                    )))
                }
            };
            // Out-of-range scalars (probability ~2^-32 or less) are drawn again.
            if let Some(inner) = inner {
                return Ok(Self::from_inner(inner));
            }
        }
    }

    /// Parses a PEM private key: PKCS#8 (`PRIVATE KEY`), password-protected
    /// PKCS#8 (`ENCRYPTED PRIVATE KEY`, PBES2) or SEC1 (`EC PRIVATE KEY`).
    ///
    /// # Errors
    /// Unsupported or malformed key, missing or wrong password.
    pub fn from_pem(pem: &[u8], password: Option<&[u8]>) -> Result<Self> {
        const WHAT: &str = "private key";
        let blocks = pem_blocks(pem).map_err(|r| AttestError::key(WHAT, r))?;
        for block in &blocks {
            match block.label.as_str() {
                "PRIVATE KEY" => return Self::from_pkcs8_der(&block.der),
                "ENCRYPTED PRIVATE KEY" => {
                    let Some(pw) = password else {
                        return Err(AttestError::key(
                            WHAT,
                            "key is encrypted; a password is required",
                        ));
                    };
                    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(block.der.as_slice())
                        .map_err(|e| {
                            AttestError::key(WHAT, format!("malformed encrypted key: {e}"))
                        })?;
                    let doc = info.decrypt(pw).map_err(|_| {
                        AttestError::key(WHAT, "cannot decrypt key (wrong password?)")
                    })?;
                    return Self::from_pkcs8_der(doc.as_bytes());
                }
                "EC PRIVATE KEY" => {
                    if let Ok(k) = p256::SecretKey::from_sec1_der(&block.der) {
                        return Ok(Self::from_inner(PrivInner::P256(k.into())));
                    }
                    if let Ok(k) = p384::SecretKey::from_sec1_der(&block.der) {
                        return Ok(Self::from_inner(PrivInner::P384(k.into())));
                    }
                    return Err(AttestError::key(
                        WHAT,
                        "unsupported EC key (only P-256 and P-384; legacy encrypted SEC1 keys must be converted with `openssl pkcs8 -topk8`)",
                    ));
                }
                _ => {}
            }
        }
        Err(AttestError::key(
            WHAT,
            "no `PRIVATE KEY`, `ENCRYPTED PRIVATE KEY` or `EC PRIVATE KEY` PEM block",
        ))
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(Self::from_inner(PrivInner::P256(k)));
        }
        if let Ok(k) = p384::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(Self::from_inner(PrivInner::P384(k)));
        }
        if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
            return Ok(Self::from_inner(PrivInner::Ed25519(k)));
        }
        Err(AttestError::key(
            "private key",
            "not an ECDSA P-256/P-384 or Ed25519 PKCS#8 key",
        ))
    }

    /// Reads a PEM private key file.
    ///
    /// # Errors
    /// As [`PrivateKey::from_pem`], plus I/O errors.
    pub fn from_pem_file(path: &Path, password: Option<&[u8]>) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(AttestError::io(path))?;
        Self::from_pem(&bytes, password).map_err(|e| rename_key_error(e, path))
    }

    /// Key type.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.public.algorithm()
    }

    /// Writes the key as unencrypted PKCS#8 PEM to `key_path` (mode 0600) and
    /// the public key to `key_path` with extension `.pub`, refusing to
    /// overwrite either. Returns the public key path.
    ///
    /// # Errors
    /// A `key_path` whose extension is `.pub` (any case): it is where the
    /// public key goes, which would overwrite the private key. Existing files
    /// (nothing is written then), I/O errors.
    pub fn write_pem_files(&self, key_path: &Path) -> Result<PathBuf> {
        let pub_path = key_path.with_extension("pub");
        let is_pub = key_path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("pub"));
        if is_pub || pub_path == key_path {
            return Err(AttestError::key(
                key_path.display().to_string(),
                "refusing to write a private key to a .pub path: the public key is written \
                 beside it with extension .pub and would overwrite it (use e.g. key.pem)",
            ));
        }
        let pem = match &self.inner {
            PrivInner::P256(k) => k.to_pkcs8_pem(pkcs8::LineEnding::LF),
            PrivInner::P384(k) => k.to_pkcs8_pem(pkcs8::LineEnding::LF),
            PrivInner::Ed25519(k) => k.to_pkcs8_pem(pkcs8::LineEnding::LF),
        }
        .map_err(|e| AttestError::key("new key", format!("PKCS#8 encoding failed: {e}")))?;
        // Both files are new: check the public one before writing the private one.
        if std::fs::symlink_metadata(&pub_path).is_ok() {
            return Err(AttestError::Io {
                path: pub_path,
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "public key file already exists (nothing written)",
                ),
            });
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(key_path).map_err(AttestError::io(key_path))?;
        f.write_all(pem.as_bytes())
            .map_err(AttestError::io(key_path))?;
        f.sync_all().map_err(AttestError::io(key_path))?;
        let mut p = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&pub_path)
            .map_err(AttestError::io(&pub_path))?;
        p.write_all(self.public.to_pem().as_bytes())
            .map_err(AttestError::io(&pub_path))?;
        Ok(pub_path)
    }
}

impl Signer for PrivateKey {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        use p256::ecdsa::signature::Signer as _;
        let fail =
            |e: p256::ecdsa::Error| AttestError::key("private key", format!("signing failed: {e}"));
        Ok(match &self.inner {
            PrivInner::P256(k) => {
                let s: p256::ecdsa::DerSignature = k.try_sign(message).map_err(fail)?;
                s.as_bytes().to_vec()
            }
            PrivInner::P384(k) => {
                let s: p384::ecdsa::DerSignature = k.try_sign(message).map_err(fail)?;
                s.as_bytes().to_vec()
            }
            PrivInner::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
        })
    }

    fn public_key(&self) -> PublicKey {
        self.public.clone()
    }
}

fn rename_key_error(e: AttestError, path: &Path) -> AttestError {
    match e {
        AttestError::Key { reason, .. } => AttestError::key(path.display().to_string(), reason),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_each_type() {
        for alg in [
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::EcdsaP384,
            KeyAlgorithm::Ed25519,
        ] {
            let k = PrivateKey::generate(alg).unwrap();
            let sig = k.sign(b"msg").unwrap();
            let pk = k.public_key();
            assert!(pk.verify(b"msg", &sig), "{alg}");
            assert!(!pk.verify(b"msh", &sig), "{alg}");
            let other = PrivateKey::generate(alg).unwrap().public_key();
            assert!(!other.verify(b"msg", &sig), "{alg}");
            // PEM round trip.
            let pk2 = PublicKey::from_pem(pk.to_pem().as_bytes()).unwrap();
            assert_eq!(pk, pk2);
            assert_eq!(pk2.algorithm(), alg);
            assert!(pk.matches_hint(&pk.model_signing_hint()));
            assert!(pk.matches_hint(&pk.cosign_hint()));
            assert!(!other.matches_hint(&pk.model_signing_hint()));
        }
    }

    #[test]
    fn keygen_files() {
        let t = tempfile::tempdir().unwrap();
        let k = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let path = t.path().join("key.pem");
        let pub_path = k.write_pem_files(&path).unwrap();
        assert_eq!(pub_path, t.path().join("key.pub"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let k2 = PrivateKey::from_pem_file(&path, None).unwrap();
        assert_eq!(k2.public_key(), k.public_key());
        assert_eq!(PublicKey::from_pem_file(&pub_path).unwrap(), k.public_key());
        // Never overwrite an existing key.
        assert!(k.write_pem_files(&path).is_err());
    }

    #[test]
    fn garbage_keys_are_errors() {
        assert!(PrivateKey::from_pem(b"", None).is_err());
        assert!(
            PrivateKey::from_pem(
                b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                None
            )
            .is_err()
        );
        assert!(
            PublicKey::from_pem(b"-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----\n")
                .is_err()
        );
    }
}

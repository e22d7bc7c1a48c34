//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys,
//! byte-compatible with Go's `golang.org/x/mod/sumdb/note`.

use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::cosignature::CosignatureVerifier;
use crate::error::Error;
use crate::hash::sha256;

/// Signature type byte for plain Ed25519 note signatures.
pub const ALG_ED25519: u8 = 0x01;
/// Signature type byte for timestamped Ed25519 witness cosignatures.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// Most signature lines a note may carry (as in Go; C2SP requires at least 16).
pub const MAX_NOTE_SIGNATURES: usize = 100;

const SIG_PREFIX: &str = "\u{2014} ";

/// Verifies signatures by one key.
pub trait NoteVerifier: Send + Sync {
    /// The key name.
    fn name(&self) -> &str;
    /// The 32-bit key ID.
    fn key_id(&self) -> u32;
    /// Whether `sig` (the signature bytes after the key ID) is valid for `msg`
    /// (the note text).
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool;
}

/// Signs note texts with one key.
pub trait NoteSigner: Send + Sync {
    /// The key name.
    fn name(&self) -> &str;
    /// The 32-bit key ID.
    fn key_id(&self) -> u32;
    /// The signature bytes (without the key ID) over `msg` (the note text).
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error>;
}

/// Key ID per C2SP signed-note: the first four bytes, big-endian, of
/// SHA-256(name || 0x0A || type byte || public key).
pub fn key_id(name: &str, alg: u8, public_key: &[u8]) -> u32 {
    let digest = sha256(&[name.as_bytes(), b"\n", &[alg], public_key]);
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// A valid key name: non-empty, no Unicode white space, no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// Splits `name+hash+base64` (the base64 may itself contain `+`).
pub(crate) fn parse_key_string<'a>(
    what: &'static str,
    s: &'a str,
) -> Result<(&'a str, u32, Vec<u8>), Error> {
    let bad = |reason: &str| Error::MalformedKey {
        what,
        reason: reason.to_owned(),
    };
    let (name, rest) = s
        .split_once('+')
        .ok_or_else(|| bad("missing '+' after name"))?;
    let (hash, key64) = rest
        .split_once('+')
        .ok_or_else(|| bad("missing '+' after key ID"))?;
    if !is_valid_key_name(name) {
        return Err(bad("invalid key name"));
    }
    if hash.len() != 8 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("key ID is not 8 hex digits"));
    }
    let id = u32::from_str_radix(hash, 16).map_err(|_| bad("key ID is not 8 hex digits"))?;
    let key = STANDARD
        .decode(key64)
        .map_err(|_| bad("key material is not standard base64"))?;
    if key.is_empty() {
        return Err(bad("empty key material"));
    }
    Ok((name, id, key))
}

fn ed25519_public_key(what: &'static str, bytes: &[u8]) -> Result<VerifyingKey, Error> {
    let bytes: &[u8; 32] = bytes.try_into().map_err(|_| Error::MalformedKey {
        what,
        reason: format!("Ed25519 public key is {} bytes, expected 32", bytes.len()),
    })?;
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| Error::MalformedKey {
        what,
        reason: "not a valid Ed25519 point".into(),
    })?;
    if key.is_weak() {
        return Err(Error::MalformedKey {
            what,
            reason: "Ed25519 public key has small order".into(),
        });
    }
    Ok(key)
}

pub(crate) fn verifier_key_string(name: &str, id: u32, alg: u8, key: &[u8]) -> String {
    let mut material = Vec::with_capacity(1 + key.len());
    material.push(alg);
    material.extend_from_slice(key);
    format!("{name}+{id:08x}+{}", STANDARD.encode(material))
}

/// An Ed25519 note verifier (signature type 0x01).
#[derive(Clone)]
pub struct Ed25519Verifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl Ed25519Verifier {
    /// A verifier for `name` and `key`; the key ID is derived.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Ed25519Verifier, Error> {
        if !is_valid_key_name(name) {
            return Err(Error::InvalidSigner { name: name.into() });
        }
        Ok(Ed25519Verifier {
            name: name.to_owned(),
            key_id: key_id(name, ALG_ED25519, key.as_bytes()),
            key,
        })
    }

    /// Parses a verifier key string `name+hex(keyid)+base64(0x01 || pubkey)`.
    pub fn from_vkey(vkey: &str) -> Result<Ed25519Verifier, Error> {
        let (name, claimed, material) = parse_key_string("verifier", vkey)?;
        check_key_id(name, claimed, &material)?;
        match material[0] {
            ALG_ED25519 => Ok(Ed25519Verifier {
                name: name.to_owned(),
                key_id: claimed,
                key: ed25519_public_key("verifier", &material[1..])?,
            }),
            alg => Err(Error::UnknownKeyType {
                name: name.to_owned(),
                alg,
            }),
        }
    }

    /// The verifier key string.
    pub fn vkey(&self) -> String {
        verifier_key_string(&self.name, self.key_id, ALG_ED25519, self.key.as_bytes())
    }

    /// The public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }
}

fn check_key_id(name: &str, claimed: u32, material: &[u8]) -> Result<(), Error> {
    let computed = key_id(name, material[0], &material[1..]);
    if computed != claimed {
        return Err(Error::KeyIdMismatch {
            name: name.to_owned(),
            claimed,
            computed,
        });
    }
    Ok(())
}

impl NoteVerifier for Ed25519Verifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        Signature::from_slice(sig).is_ok_and(|sig| self.key.verify_strict(msg, &sig).is_ok())
    }
}

impl fmt::Debug for Ed25519Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.vkey())
    }
}

/// Parses a verifier key string of any supported type: Ed25519 (0x01) or
/// cosignature/v1 (0x04).
pub fn parse_verifier_key(vkey: &str) -> Result<Box<dyn NoteVerifier>, Error> {
    let (name, claimed, material) = parse_key_string("verifier", vkey)?;
    check_key_id(name, claimed, &material)?;
    match material[0] {
        ALG_ED25519 => Ok(Box::new(Ed25519Verifier::from_vkey(vkey)?)),
        ALG_COSIGNATURE_V1 => Ok(Box::new(CosignatureVerifier::from_vkey(vkey)?)),
        alg => Err(Error::UnknownKeyType {
            name: name.to_owned(),
            alg,
        }),
    }
}

/// An Ed25519 note signer (signature type 0x01).
pub struct Ed25519Signer {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl Ed25519Signer {
    /// A signer for `name` with `key`.
    pub fn new(name: &str, key: SigningKey) -> Result<Ed25519Signer, Error> {
        if !is_valid_key_name(name) {
            return Err(Error::InvalidSigner { name: name.into() });
        }
        Ok(Ed25519Signer {
            name: name.to_owned(),
            key_id: key_id(name, ALG_ED25519, key.verifying_key().as_bytes()),
            key,
        })
    }

    /// Generates a new random key for `name`.
    pub fn generate(name: &str) -> Result<Ed25519Signer, Error> {
        Ed25519Signer::new(name, SigningKey::from_bytes(&random_seed()?))
    }

    /// Parses a signer key string `PRIVATE+KEY+name+hex(keyid)+base64(0x01 || seed)`.
    pub fn from_skey(skey: &str) -> Result<Ed25519Signer, Error> {
        let (name, claimed, seed) = parse_signer_key(skey)?;
        match seed[0] {
            ALG_ED25519 => {
                let key = signing_key_from_seed(&seed[1..])?;
                let signer = Ed25519Signer::new(name, key)?;
                if signer.key_id != claimed {
                    return Err(Error::KeyIdMismatch {
                        name: name.to_owned(),
                        claimed,
                        computed: signer.key_id,
                    });
                }
                Ok(signer)
            }
            alg => Err(Error::UnknownKeyType {
                name: name.to_owned(),
                alg,
            }),
        }
    }

    /// The signer key string (secret: store it 0600, never log it).
    pub fn skey(&self) -> String {
        signer_key_string(&self.name, self.key_id, ALG_ED25519, self.key.as_bytes())
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Ed25519Verifier {
        Ed25519Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// The verifier key string.
    pub fn vkey(&self) -> String {
        self.verifier().vkey()
    }
}

impl fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519Signer({})", self.vkey())
    }
}

impl NoteSigner for Ed25519Signer {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(self.key.sign(msg).to_bytes().to_vec())
    }
}

pub(crate) fn parse_signer_key(skey: &str) -> Result<(&str, u32, Vec<u8>), Error> {
    let rest = skey
        .strip_prefix("PRIVATE+KEY+")
        .ok_or_else(|| Error::MalformedKey {
            what: "signer",
            reason: "does not start with PRIVATE+KEY+".into(),
        })?;
    parse_key_string("signer", rest)
}

pub(crate) fn signing_key_from_seed(seed: &[u8]) -> Result<SigningKey, Error> {
    let seed: &[u8; 32] = seed.try_into().map_err(|_| Error::MalformedKey {
        what: "signer",
        reason: format!("Ed25519 seed is {} bytes, expected 32", seed.len()),
    })?;
    Ok(SigningKey::from_bytes(seed))
}

pub(crate) fn signer_key_string(name: &str, id: u32, alg: u8, seed: &[u8; 32]) -> String {
    let mut material = Vec::with_capacity(33);
    material.push(alg);
    material.extend_from_slice(seed);
    format!("PRIVATE+KEY+{name}+{id:08x}+{}", STANDARD.encode(material))
}

pub(crate) fn random_seed() -> Result<[u8; 32], Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Error::Random(e.to_string()))?;
    Ok(seed)
}

/// Generates an Ed25519 key pair for `name`: `(signer key, verifier key)`,
/// the same strings as Go's `note.GenerateKey`.
pub fn generate_key(name: &str) -> Result<(String, String), Error> {
    let signer = Ed25519Signer::generate(name)?;
    Ok((signer.skey(), signer.vkey()))
}

/// A set of trusted verifiers, looked up by (name, key ID).
#[derive(Default)]
pub struct Verifiers {
    list: Vec<Box<dyn NoteVerifier>>,
}

impl Verifiers {
    /// An empty set.
    pub fn new() -> Verifiers {
        Verifiers::default()
    }

    /// Adds a verifier.
    pub fn push(&mut self, v: impl NoteVerifier + 'static) -> &mut Self {
        self.list.push(Box::new(v));
        self
    }

    /// Adds a boxed verifier.
    pub fn push_boxed(&mut self, v: Box<dyn NoteVerifier>) -> &mut Self {
        self.list.push(v);
        self
    }

    /// Number of verifiers.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The verifier for (name, key ID): `Ok(None)` if unknown, an error if
    /// more than one matches.
    pub fn get(&self, name: &str, key_id: u32) -> Result<Option<&dyn NoteVerifier>, Error> {
        let mut found = self
            .list
            .iter()
            .filter(|v| v.name() == name && v.key_id() == key_id);
        let first = found.next();
        if found.next().is_some() {
            return Err(Error::AmbiguousKey {
                name: name.to_owned(),
                key_id,
            });
        }
        Ok(first.map(|v| v.as_ref()))
    }
}

impl<V: NoteVerifier + 'static> FromIterator<V> for Verifiers {
    fn from_iter<I: IntoIterator<Item = V>>(iter: I) -> Self {
        let mut out = Verifiers::new();
        for v in iter {
            out.push(v);
        }
        out
    }
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key ID (the first four bytes of the decoded signature).
    pub key_id: u32,
    /// The base64 text as it appears on the line (key ID + signature).
    pub base64: String,
}

impl NoteSignature {
    /// Builds the line's fields from a key and raw signature bytes.
    pub fn new(name: &str, key_id: u32, sig: &[u8]) -> NoteSignature {
        let mut raw = Vec::with_capacity(4 + sig.len());
        raw.extend_from_slice(&key_id.to_be_bytes());
        raw.extend_from_slice(sig);
        NoteSignature {
            name: name.to_owned(),
            key_id,
            base64: STANDARD.encode(raw),
        }
    }

    /// The signature bytes after the key ID.
    pub fn signature_bytes(&self) -> Vec<u8> {
        STANDARD
            .decode(&self.base64)
            .ok()
            .and_then(|raw| raw.get(4..).map(<[u8]>::to_vec))
            .unwrap_or_default()
    }

    /// The signature line, `— <name> <base64>\n`.
    pub fn line(&self) -> String {
        format!("{SIG_PREFIX}{} {}\n", self.name, self.base64)
    }
}

/// A note after [`open_note`]: its text and its signatures, split into those
/// verified by a known key and those from unknown keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The text, including its final newline.
    pub text: String,
    /// Signatures verified by a known key, in note order (one per key).
    pub sigs: Vec<NoteSignature>,
    /// Signatures from unknown keys (duplicates dropped).
    pub unverified: Vec<NoteSignature>,
}

/// Parses a note without verifying anything: its text and signature lines.
pub fn parse_note(msg: &[u8]) -> Result<(String, Vec<NoteSignature>), Error> {
    let s = std::str::from_utf8(msg).map_err(|e| {
        let line = 1 + msg[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        Error::MalformedNote {
            line,
            reason: format!("invalid UTF-8 at byte offset {}", e.valid_up_to()),
        }
    })?;
    if let Some(pos) = s.bytes().position(|b| b < 0x20 && b != b'\n') {
        let line = 1 + s[..pos].matches('\n').count();
        return Err(Error::MalformedNote {
            line,
            reason: format!(
                "control character 0x{:02x} at byte offset {pos}",
                s.as_bytes()[pos]
            ),
        });
    }
    let split = s.rfind("\n\n").ok_or(Error::MalformedNote {
        line: 1 + s.matches('\n').count(),
        reason: "no blank line before the signatures".into(),
    })?;
    let text = &s[..=split];
    let sigs = &s[split + 2..];
    let blank_line = text.matches('\n').count() + 1;
    if sigs.is_empty() {
        return Err(Error::MalformedNote {
            line: blank_line + 1,
            reason: "no signature lines".into(),
        });
    }
    if !sigs.ends_with('\n') {
        return Err(Error::MalformedNote {
            line: blank_line + sigs.matches('\n').count() + 1,
            reason: "last signature line does not end in a newline".into(),
        });
    }
    let mut out = Vec::new();
    for (line_no, line) in (blank_line + 1..).zip(sigs.lines()) {
        let bad = |reason: &str| Error::MalformedNote {
            line: line_no,
            reason: reason.to_owned(),
        };
        if out.len() == MAX_NOTE_SIGNATURES {
            return Err(bad("more than 100 signatures"));
        }
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or_else(|| bad("signature line does not start with \"\u{2014} \""))?;
        let (name, b64) = rest.split_once(' ').unwrap_or((rest, ""));
        if !is_valid_key_name(name) {
            return Err(bad("invalid key name"));
        }
        let raw = STANDARD
            .decode(b64)
            .map_err(|_| bad("signature is not standard base64"))?;
        if raw.len() < 5 {
            return Err(bad("signature shorter than a key ID plus one byte"));
        }
        out.push(NoteSignature {
            name: name.to_owned(),
            key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
            base64: b64.to_owned(),
        });
    }
    Ok((text.to_owned(), out))
}

/// Opens a signed note: parses it and verifies every signature from a known
/// key. Signatures from unknown keys are kept as unverified; a known key's
/// bad signature is an error; no verified signature at all is an error.
pub fn open_note(msg: &[u8], known: &Verifiers) -> Result<Note, Error> {
    let (text, sigs) = parse_note(msg)?;
    let text_lines = text.matches('\n').count();
    let mut note = Note {
        text,
        sigs: Vec::new(),
        unverified: Vec::new(),
    };
    let mut seen: HashSet<(String, u32)> = HashSet::new();
    let mut seen_unverified: HashSet<(String, String)> = HashSet::new();
    for (i, sig) in sigs.into_iter().enumerate() {
        match known.get(&sig.name, sig.key_id)? {
            None => {
                if seen_unverified.insert((sig.name.clone(), sig.base64.clone())) {
                    note.unverified.push(sig);
                }
            }
            Some(v) => {
                if !seen.insert((sig.name.clone(), sig.key_id)) {
                    continue; // repeated signature by the same key
                }
                if !v.verify(note.text.as_bytes(), &sig.signature_bytes()) {
                    return Err(Error::InvalidSignature {
                        name: sig.name,
                        key_id: sig.key_id,
                        line: text_lines + 2 + i,
                    });
                }
                note.sigs.push(sig);
            }
        }
    }
    if note.sigs.is_empty() {
        return Err(Error::UnverifiedNote {
            unverified: note.unverified.len(),
        });
    }
    Ok(note)
}

/// Signs `text` with `signers`, keeping `existing` signatures (except those
/// by a key that signs anew). Returns the encoded note: text, blank line,
/// existing signatures, new signatures.
pub fn sign_note(
    text: &str,
    existing: &[NoteSignature],
    signers: &[&dyn NoteSigner],
) -> Result<String, Error> {
    check_note_text(text)?;
    let mut new_lines = String::new();
    let mut replaced: HashSet<(&str, u32)> = HashSet::new();
    for s in signers {
        if !is_valid_key_name(s.name()) {
            return Err(Error::InvalidSigner {
                name: s.name().to_owned(),
            });
        }
        replaced.insert((s.name(), s.key_id()));
        let sig = s.sign(text.as_bytes())?;
        new_lines.push_str(&NoteSignature::new(s.name(), s.key_id(), &sig).line());
    }
    let mut out = String::with_capacity(text.len() + 1 + new_lines.len() + existing.len() * 100);
    out.push_str(text);
    out.push('\n');
    for (i, sig) in existing.iter().enumerate() {
        if !is_valid_key_name(&sig.name) {
            return Err(Error::MalformedNote {
                line: i + 1,
                reason: format!("existing signature has invalid key name {:?}", sig.name),
            });
        }
        if replaced.contains(&(sig.name.as_str(), sig.key_id)) {
            continue;
        }
        let raw = STANDARD.decode(&sig.base64).ok();
        if raw
            .as_deref()
            .is_none_or(|r| r.len() < 5 || r[..4] != sig.key_id.to_be_bytes())
        {
            return Err(Error::MalformedNote {
                line: i + 1,
                reason: format!(
                    "existing signature by {:?} does not carry its key ID",
                    sig.name
                ),
            });
        }
        out.push_str(&sig.line());
    }
    out.push_str(&new_lines);
    Ok(out)
}

/// A note text must end in a newline and hold no control characters but newlines.
pub(crate) fn check_note_text(text: &str) -> Result<(), Error> {
    if !text.ends_with('\n') {
        return Err(Error::MalformedNote {
            line: text.matches('\n').count() + 1,
            reason: "text does not end in a newline".into(),
        });
    }
    if let Some(pos) = text.bytes().position(|b| b < 0x20 && b != b'\n') {
        return Err(Error::MalformedNote {
            line: 1 + text[..pos].matches('\n').count(),
            reason: format!("control character at byte offset {pos}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example key and note from Go's golang.org/x/mod/sumdb/note tests and docs.
    const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

    #[test]
    fn key_strings_round_trip() {
        let signer = Ed25519Signer::from_skey(SKEY).unwrap();
        assert_eq!(signer.skey(), SKEY);
        assert_eq!(signer.vkey(), VKEY);
        assert_eq!(signer.key_id(), 0xc74f20a3);
        let v = Ed25519Verifier::from_vkey(VKEY).unwrap();
        assert_eq!(v.vkey(), VKEY);
        assert_eq!(parse_verifier_key(VKEY).unwrap().key_id(), 0xc74f20a3);
    }

    #[test]
    fn generated_keys_work() {
        let (skey, vkey) = generate_key("example.com/log").unwrap();
        let s = Ed25519Signer::from_skey(&skey).unwrap();
        let v = Ed25519Verifier::from_vkey(&vkey).unwrap();
        assert_eq!((s.name(), s.key_id()), (v.name(), v.key_id()));
        let sig = s.sign(b"hi").unwrap();
        assert!(v.verify(b"hi", &sig));
        assert!(!v.verify(b"ho", &sig));
        assert!(generate_key("bad name").is_err());
    }
}

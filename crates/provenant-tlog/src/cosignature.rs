//! Witness cosignatures per C2SP tlog-cosignature
//! (<https://c2sp.org/tlog-cosignature>): timestamped Ed25519 signatures over
//! `cosignature/v1\ntime <T>\n` followed by the checkpoint text, key type 0x04.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::error::Error;
use crate::note::{
    ALG_COSIGNATURE_V1, NoteSignature, NoteSigner, NoteVerifier, check_note_text,
    is_valid_key_name, key_id, parse_key_string, parse_signer_key, random_seed, signer_key_string,
    signing_key_from_seed, verifier_key_string,
};

/// The message a cosignature/v1 signs for `checkpoint_text` at `timestamp`.
pub fn cosigned_message(checkpoint_text: &str, timestamp: u64) -> Vec<u8> {
    let mut msg = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    msg.extend_from_slice(checkpoint_text.as_bytes());
    msg
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A witness's cosigning key.
pub struct CosignatureSigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl CosignatureSigner {
    /// A cosigner named `name` (a schema-less URL identifying the witness).
    pub fn new(name: &str, key: SigningKey) -> Result<CosignatureSigner, Error> {
        if !is_valid_key_name(name) {
            return Err(Error::InvalidSigner { name: name.into() });
        }
        Ok(CosignatureSigner {
            name: name.to_owned(),
            key_id: key_id(name, ALG_COSIGNATURE_V1, key.verifying_key().as_bytes()),
            key,
        })
    }

    /// A new random witness key.
    pub fn generate(name: &str) -> Result<CosignatureSigner, Error> {
        CosignatureSigner::new(name, SigningKey::from_bytes(&random_seed()?))
    }

    /// Parses `PRIVATE+KEY+name+hex(keyid)+base64(0x04 || seed)` (the
    /// signer-key encoding of Go's note package, with type byte 0x04).
    pub fn from_skey(skey: &str) -> Result<CosignatureSigner, Error> {
        let (name, claimed, seed) = parse_signer_key(skey)?;
        if seed[0] != ALG_COSIGNATURE_V1 {
            return Err(Error::UnknownKeyType {
                name: name.to_owned(),
                alg: seed[0],
            });
        }
        let signer = CosignatureSigner::new(name, signing_key_from_seed(&seed[1..])?)?;
        if signer.key_id != claimed {
            return Err(Error::KeyIdMismatch {
                name: name.to_owned(),
                claimed,
                computed: signer.key_id,
            });
        }
        Ok(signer)
    }

    /// The signer key string (secret).
    pub fn skey(&self) -> String {
        signer_key_string(
            &self.name,
            self.key_id,
            ALG_COSIGNATURE_V1,
            self.key.as_bytes(),
        )
    }

    /// The verifier key string `name+hex(keyid)+base64(0x04 || pubkey)`.
    pub fn vkey(&self) -> String {
        self.verifier().vkey()
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// Cosigns a checkpoint text (the note text, ending in a newline) at
    /// `timestamp` (Unix seconds).
    pub fn cosign(&self, checkpoint_text: &str, timestamp: u64) -> Result<NoteSignature, Error> {
        check_note_text(checkpoint_text)?;
        let sig = self.key.sign(&cosigned_message(checkpoint_text, timestamp));
        let mut raw = Vec::with_capacity(72);
        raw.extend_from_slice(&timestamp.to_be_bytes());
        raw.extend_from_slice(&sig.to_bytes());
        Ok(NoteSignature::new(&self.name, self.key_id, &raw))
    }
}

impl fmt::Debug for CosignatureSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CosignatureSigner({})", self.vkey())
    }
}

impl NoteSigner for CosignatureSigner {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    /// Cosigns at the current time.
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        let text = std::str::from_utf8(msg).map_err(|_| Error::MalformedNote {
            line: 1,
            reason: "checkpoint text is not UTF-8".into(),
        })?;
        Ok(self.cosign(text, unix_now())?.signature_bytes())
    }
}

/// Verifies a witness's cosignatures (type 0x04). As a [`NoteVerifier`] it
/// plugs into [`crate::open_note`] next to the log's own key.
#[derive(Clone)]
pub struct CosignatureVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// A verifier for witness `name` with public key `key`.
    pub fn new(name: &str, key: VerifyingKey) -> Result<CosignatureVerifier, Error> {
        if !is_valid_key_name(name) {
            return Err(Error::InvalidSigner { name: name.into() });
        }
        Ok(CosignatureVerifier {
            name: name.to_owned(),
            key_id: key_id(name, ALG_COSIGNATURE_V1, key.as_bytes()),
            key,
        })
    }

    /// Parses `name+hex(keyid)+base64(0x04 || pubkey)`.
    pub fn from_vkey(vkey: &str) -> Result<CosignatureVerifier, Error> {
        let (name, claimed, material) = parse_key_string("verifier", vkey)?;
        if material[0] != ALG_COSIGNATURE_V1 {
            return Err(Error::UnknownKeyType {
                name: name.to_owned(),
                alg: material[0],
            });
        }
        let bytes: &[u8; 32] = material[1..].try_into().map_err(|_| Error::MalformedKey {
            what: "verifier",
            reason: format!(
                "Ed25519 public key is {} bytes, expected 32",
                material.len() - 1
            ),
        })?;
        let key = VerifyingKey::from_bytes(bytes)
            .ok()
            .filter(|k| !k.is_weak())
            .ok_or_else(|| Error::MalformedKey {
                what: "verifier",
                reason: "not a valid Ed25519 public key".into(),
            })?;
        let v = CosignatureVerifier::new(name, key)?;
        if v.key_id != claimed {
            return Err(Error::KeyIdMismatch {
                name: name.to_owned(),
                claimed,
                computed: v.key_id,
            });
        }
        Ok(v)
    }

    /// The verifier key string.
    pub fn vkey(&self) -> String {
        verifier_key_string(
            &self.name,
            self.key_id,
            ALG_COSIGNATURE_V1,
            self.key.as_bytes(),
        )
    }

    /// Verifies a cosignature (the 72 bytes after the key ID) over
    /// `checkpoint_text` and returns its timestamp.
    pub fn verify_cosignature(&self, checkpoint_text: &[u8], sig: &[u8]) -> Result<u64, Error> {
        let bad = |reason: &str| Error::MalformedCosignature {
            name: self.name.clone(),
            reason: reason.to_owned(),
        };
        if sig.len() != 72 {
            return Err(bad(&format!("{} signature bytes, expected 72", sig.len())));
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&sig[..8]);
        let timestamp = u64::from_be_bytes(ts);
        let text = std::str::from_utf8(checkpoint_text).map_err(|_| bad("text is not UTF-8"))?;
        let signature =
            Signature::from_slice(&sig[8..]).map_err(|_| bad("bad Ed25519 signature encoding"))?;
        self.key
            .verify_strict(&cosigned_message(text, timestamp), &signature)
            .map_err(|_| Error::InvalidSignature {
                name: self.name.clone(),
                key_id: self.key_id,
                line: 0,
            })?;
        Ok(timestamp)
    }
}

impl fmt::Debug for CosignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.vkey())
    }
}

impl NoteVerifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.verify_cosignature(msg, sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_message_layout() {
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        assert_eq!(
            String::from_utf8(cosigned_message(text, 1679315147)).unwrap(),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn cosign_and_verify() {
        let w = CosignatureSigner::generate("witness.example/w1").unwrap();
        let text = "example.com/log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let sig = w.cosign(text, 1_700_000_000).unwrap();
        let v = CosignatureVerifier::from_vkey(&w.vkey()).unwrap();
        assert_eq!(v.key_id(), sig.key_id);
        let raw = sig.signature_bytes();
        assert_eq!(
            v.verify_cosignature(text.as_bytes(), &raw).unwrap(),
            1_700_000_000
        );
        // Changing the timestamp invalidates the signature.
        let mut forged = raw.clone();
        forged[7] ^= 1;
        assert!(!v.verify(text.as_bytes(), &forged));
        // A different checkpoint text too.
        assert!(!v.verify(
            b"example.com/log\n6\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            &raw
        ));
        // Key string round trip.
        let again = CosignatureSigner::from_skey(&w.skey()).unwrap();
        assert_eq!(again.vkey(), w.vkey());
        // A plain Ed25519 key of the same name has a different key ID.
        assert_ne!(
            crate::note::key_id("witness.example/w1", 0x01, v.key.as_bytes()),
            v.key_id()
        );
    }
}

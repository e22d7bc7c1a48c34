//! DSSE v1 envelopes: <https://github.com/secure-systems-lab/dsse/blob/v1.0.0/protocol.md>.

use serde::{Deserialize, Serialize};

use crate::encoding::{b64decode, b64encode};
use crate::error::{AttestError, Result};
use crate::keys::{Signer, Verifier};

/// Payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Pre-Authentication Encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The encoding model_signing 0.2 signed by mistake (Python `repr` of the
/// payload bytes after `DSSEV1`); needed to verify its signatures.
pub(crate) fn pae_compat_v02(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEV1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    );
    let quote = if payload.contains(&b'\'') && !payload.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    out.push('b');
    out.push(quote);
    for &b in payload {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if char::from(b) == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote);
    out.into_bytes()
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// Optional key id (model_signing writes an empty string).
    pub keyid: String,
    /// Raw signature bytes.
    pub sig: Vec<u8>,
}

/// A DSSE envelope with its payload decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Exact payload bytes (what the signature covers).
    pub payload: Vec<u8>,
    /// Payload media type.
    pub payload_type: String,
    /// At least one signature.
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnvelopeJson {
    pub payload: String,
    pub payload_type: String,
    pub signatures: Vec<SignatureJson>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct SignatureJson {
    pub sig: String,
    #[serde(default)]
    pub keyid: Option<String>,
}

impl Envelope {
    /// Signs `payload` with `signer` (one signature, empty key id).
    ///
    /// # Errors
    /// When the signer fails.
    pub fn sign(payload_type: &str, payload: Vec<u8>, signer: &dyn Signer) -> Result<Self> {
        let sig = signer.sign(&pae(payload_type, &payload))?;
        Ok(Self {
            payload,
            payload_type: payload_type.to_owned(),
            signatures: vec![EnvelopeSignature {
                keyid: String::new(),
                sig,
            }],
        })
    }

    /// Index of the first signature that verifies with `verifier` over the
    /// standard PAE (or, for model_signing 0.2 bundles, its legacy encoding).
    pub fn verify(&self, verifier: &dyn Verifier) -> Option<usize> {
        let message = pae(&self.payload_type, &self.payload);
        if let Some(i) = self
            .signatures
            .iter()
            .position(|s| verifier.verify(&message, &s.sig))
        {
            return Some(i);
        }
        let legacy = pae_compat_v02(&self.payload_type, &self.payload);
        self.signatures
            .iter()
            .position(|s| verifier.verify(&legacy, &s.sig))
    }

    pub(crate) fn from_json_value(v: EnvelopeJson, field: &str) -> Result<Self> {
        let payload = b64decode(&v.payload)
            .map_err(|r| AttestError::malformed(format!("{field}.payload"), r))?;
        if v.signatures.is_empty() {
            return Err(AttestError::malformed(
                format!("{field}.signatures"),
                "no signature",
            ));
        }
        let signatures = v
            .signatures
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let sig = b64decode(&s.sig).map_err(|r| {
                    AttestError::malformed(format!("{field}.signatures[{i}].sig"), r)
                })?;
                if sig.is_empty() {
                    return Err(AttestError::malformed(
                        format!("{field}.signatures[{i}].sig"),
                        "empty signature",
                    ));
                }
                Ok(EnvelopeSignature {
                    keyid: s.keyid.unwrap_or_default(),
                    sig,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            payload,
            payload_type: v.payload_type,
            signatures,
        })
    }

    pub(crate) fn to_json_value(&self) -> EnvelopeJson {
        EnvelopeJson {
            payload: b64encode(&self.payload),
            payload_type: self.payload_type.clone(),
            signatures: self
                .signatures
                .iter()
                .map(|s| SignatureJson {
                    sig: b64encode(&s.sig),
                    keyid: Some(s.keyid.clone()),
                })
                .collect(),
        }
    }

    /// Parses a standalone DSSE JSON envelope (standard or URL-safe base64).
    ///
    /// # Errors
    /// Malformed JSON or base64, no signatures; the error names the field.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let v: EnvelopeJson = serde_path_to_error::deserialize(de).map_err(|e| {
            AttestError::malformed(path_or_root(&e.path().to_string()), e.inner().to_string())
        })?;
        Self::from_json_value(v, "envelope")
    }

    /// Serialises as compact DSSE JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_json_value()).unwrap_or_default()
    }
}

pub(crate) fn path_or_root(p: &str) -> String {
    if p.is_empty() || p == "." {
        "(document)".to_owned()
    } else {
        p.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::b64encode;
    use crate::keys::{KeyAlgorithm, PrivateKey};

    #[test]
    fn pae_matches_spec_example() {
        // Test vector from the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn legacy_pae_is_python_repr() {
        assert_eq!(
            pae_compat_v02("t", b"a'b\n\x01\\"),
            b"DSSEV1 1 t 6 b\"a'b\\n\\x01\\\\\"".to_vec()
        );
        assert_eq!(
            pae_compat_v02("t", b"{\"a\"}"),
            b"DSSEV1 1 t 5 b'{\"a\"}'".to_vec()
        );
    }

    #[test]
    fn sign_verify_round_trip_and_url_safe() {
        let k = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let env = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, b"{\"x\":1}".to_vec(), &k).unwrap();
        let json = env.to_json();
        let back = Envelope::from_json(json.as_bytes()).unwrap();
        assert_eq!(back, env);
        assert_eq!(back.verify(&k.public_key()), Some(0));
        // URL-safe, unpadded encodings are accepted.
        let url_b64 = |b: &[u8]| {
            b64encode(b)
                .replace('+', "-")
                .replace('/', "_")
                .replace('=', "")
        };
        let url = format!(
            r#"{{"payload":"{}","payloadType":"{IN_TOTO_PAYLOAD_TYPE}","signatures":[{{"sig":"{}","keyid":""}}]}}"#,
            url_b64(&env.payload),
            url_b64(&env.signatures[0].sig)
        );
        assert_eq!(Envelope::from_json(url.as_bytes()).unwrap(), env);
        // A modified payload no longer verifies.
        let mut bad = env.clone();
        bad.payload.push(b' ');
        assert_eq!(bad.verify(&k.public_key()), None);
    }

    #[test]
    fn malformed_envelopes_name_the_field() {
        let e = Envelope::from_json(
            br#"{"payload":"!!","payloadType":"t","signatures":[{"sig":"AA=="}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("envelope.payload"), "{e}");
        let e = Envelope::from_json(br#"{"payload":"","payloadType":"t","signatures":[]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("envelope.signatures"), "{e}");
        let e =
            Envelope::from_json(br#"{"payload":"","payloadType":"t","signatures":[{"sig":5}]}"#)
                .unwrap_err();
        assert!(e.to_string().contains("signatures[0].sig"), "{e}");
    }
}

//! Sigstore bundle v0.3 JSON, as model_signing reads and writes `model.sig`:
//! <https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_bundle.proto>.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dsse::{Envelope, EnvelopeJson, path_or_root};
use crate::encoding::{b64decode, b64encode};
use crate::error::{AttestError, Result};

/// Media type written by model_signing 1.x.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

const ACCEPTED_MEDIA_TYPES: [&str; 4] = [
    BUNDLE_MEDIA_TYPE,
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
];

/// Largest bundle accepted (a manifest of ~100k resources fits comfortably).
pub const MAX_BUNDLE_BYTES: u64 = 64 << 20;

/// How the verifier finds the signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerificationMaterial {
    /// Key mode: the verifier supplies the key; `hint` identifies it.
    PublicKey { hint: Option<String> },
    /// Certificate mode: DER certificates, signing certificate first.
    CertificateChain(Vec<Vec<u8>>),
}

/// A parsed Sigstore bundle carrying a DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// `mediaType`.
    pub media_type: String,
    /// `verificationMaterial`.
    pub material: VerificationMaterial,
    /// `dsseEnvelope`.
    pub envelope: Envelope,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundleJson {
    media_type: String,
    verification_material: MaterialJson,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dsse_envelope: Option<EnvelopeJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_signature: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MaterialJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    public_key: Option<PublicKeyJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x509_certificate_chain: Option<ChainJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate: Option<CertJson>,
    #[serde(default)]
    tlog_entries: Vec<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicKeyJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct ChainJson {
    certificates: Vec<CertJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CertJson {
    raw_bytes: String,
}

impl Bundle {
    /// Parses bundle JSON. Errors name the offending field.
    ///
    /// # Errors
    /// Oversized input, malformed JSON or base64, unsupported media type,
    /// missing DSSE envelope or verification material.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        if bytes.len() as u64 > MAX_BUNDLE_BYTES {
            return Err(AttestError::TooLarge {
                what: "signature bundle",
                size: bytes.len() as u64,
                limit: MAX_BUNDLE_BYTES,
            });
        }
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let v: BundleJson = serde_path_to_error::deserialize(de).map_err(|e| {
            AttestError::malformed(path_or_root(&e.path().to_string()), e.inner().to_string())
        })?;
        if !ACCEPTED_MEDIA_TYPES.contains(&v.media_type.as_str()) {
            return Err(AttestError::malformed(
                "mediaType",
                format!(
                    "unsupported media type {:?} (expected {BUNDLE_MEDIA_TYPE})",
                    v.media_type
                ),
            ));
        }
        let Some(env) = v.dsse_envelope else {
            return Err(AttestError::malformed(
                "dsseEnvelope",
                if v.message_signature.is_some() {
                    "bundle holds a messageSignature, not a DSSE envelope"
                } else {
                    "missing"
                },
            ));
        };
        let envelope = Envelope::from_json_value(env, "dsseEnvelope")?;
        let m = v.verification_material;
        let material = if let Some(chain) = m.x509_certificate_chain {
            if chain.certificates.is_empty() {
                return Err(AttestError::malformed(
                    "verificationMaterial.x509CertificateChain.certificates",
                    "empty certificate chain",
                ));
            }
            let certs = chain
                .certificates
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    b64decode(&c.raw_bytes).map_err(|r| {
                        AttestError::malformed(
                            format!("verificationMaterial.x509CertificateChain.certificates[{i}].rawBytes"),
                            r,
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            VerificationMaterial::CertificateChain(certs)
        } else if let Some(cert) = m.certificate {
            let der = b64decode(&cert.raw_bytes).map_err(|r| {
                AttestError::malformed("verificationMaterial.certificate.rawBytes", r)
            })?;
            VerificationMaterial::CertificateChain(vec![der])
        } else if let Some(pk) = m.public_key {
            VerificationMaterial::PublicKey {
                hint: pk.hint.filter(|h| !h.is_empty()),
            }
        } else {
            return Err(AttestError::malformed(
                "verificationMaterial",
                "no publicKey or x509CertificateChain",
            ));
        };
        Ok(Self {
            media_type: v.media_type,
            material,
            envelope,
        })
    }

    /// Reads and parses a bundle file (at most [`MAX_BUNDLE_BYTES`]).
    ///
    /// # Errors
    /// I/O errors and everything [`Bundle::from_json`] rejects.
    pub fn read(path: &Path) -> Result<Self> {
        use std::io::Read as _;
        let f = std::fs::File::open(path).map_err(AttestError::io(path))?;
        let mut bytes = Vec::new();
        f.take(MAX_BUNDLE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(AttestError::io(path))?;
        Self::from_json(&bytes)
    }

    /// Compact JSON with model_signing's field order.
    pub fn to_json(&self) -> String {
        let material = match &self.material {
            VerificationMaterial::PublicKey { hint } => MaterialJson {
                public_key: Some(PublicKeyJson { hint: hint.clone() }),
                x509_certificate_chain: None,
                certificate: None,
                tlog_entries: Vec::new(),
            },
            VerificationMaterial::CertificateChain(certs) => MaterialJson {
                public_key: None,
                x509_certificate_chain: Some(ChainJson {
                    certificates: certs
                        .iter()
                        .map(|c| CertJson {
                            raw_bytes: b64encode(c),
                        })
                        .collect(),
                }),
                certificate: None,
                tlog_entries: Vec::new(),
            },
        };
        let v = BundleJson {
            media_type: self.media_type.clone(),
            verification_material: material,
            dsse_envelope: Some(self.envelope.to_json_value()),
            message_signature: None,
        };
        serde_json::to_string(&v).unwrap_or_default()
    }

    /// Writes the bundle JSON to `path`.
    ///
    /// # Errors
    /// I/O errors.
    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_json()).map_err(AttestError::io(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"b2ff"},"tlogEntries":[]},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MEUC","keyid":""}]}}"#;

    #[test]
    fn round_trip_is_byte_identical() {
        let b = Bundle::from_json(REAL.as_bytes()).unwrap();
        assert_eq!(b.to_json(), REAL);
        assert_eq!(b.envelope.payload, b"{}");
    }

    #[test]
    fn malformed_bundles_name_the_field() {
        let cases: [(&str, &str); 6] = [
            (&REAL[..REAL.len() - 10], "malformed signature bundle"),
            (&REAL.replace("v0.3+json", "v9+json"), "mediaType"),
            (
                &REAL.replace("\"e30=\"", "\"e30=!\""),
                "dsseEnvelope.payload",
            ),
            (
                &REAL.replace("\"MEUC\"", "7"),
                "dsseEnvelope.signatures[0].sig",
            ),
            (
                &REAL.replace("\"publicKey\":{\"hint\":\"b2ff\"},", ""),
                "verificationMaterial",
            ),
            (&REAL.replace("dsseEnvelope", "other"), "dsseEnvelope"),
        ];
        for (json, field) in cases {
            let e = Bundle::from_json(json.as_bytes()).unwrap_err();
            assert!(e.to_string().contains(field), "{field}: {e}");
        }
    }
}

//! Generic in-toto Statement v1 attestations (any predicate: SBOMs, SLSA
//! provenance, ...) signed as DSSE envelopes in Sigstore bundles, the same
//! container as OMS signatures.
//!
//! <https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md>

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bundle::{BUNDLE_MEDIA_TYPE, Bundle};
use crate::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE};
use crate::error::{AttestError, Result};
use crate::keys::Signer;
use crate::model::{SignerIdentity, TrustRoot, verification_material, verify_signature};
use crate::statement::STATEMENT_TYPE;

/// A `subject` entry: a name and its digests by algorithm (`sha256` → hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub name: String,
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    /// A subject with a single SHA-256 digest (`hex` without prefix).
    pub fn sha256(name: impl Into<String>, hex: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            digest: BTreeMap::from([("sha256".to_owned(), hex.into())]),
        }
    }
}

/// An in-toto Statement v1 with an arbitrary predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: Value,
}

impl Statement {
    /// A statement about `subject` with `predicate` of type `predicate_type`.
    pub fn new(subject: Vec<Subject>, predicate_type: impl Into<String>, predicate: Value) -> Self {
        Self {
            type_: STATEMENT_TYPE.to_owned(),
            subject,
            predicate_type: predicate_type.into(),
            predicate,
        }
    }

    /// Whether a subject carries this SHA-256 digest (hex, any case).
    pub fn has_sha256(&self, hex: &str) -> bool {
        self.subject.iter().any(|s| {
            s.digest
                .get("sha256")
                .is_some_and(|d| d.eq_ignore_ascii_case(hex))
        })
    }

    /// Parses and checks a statement: `_type`, a non-empty `subject` whose
    /// digests are lowercase hex of the right length for known algorithms,
    /// a `predicateType` and an object `predicate`.
    ///
    /// # Errors
    /// The first malformed field, named by its JSON path (`payload.subject[0].digest.sha256`).
    pub fn parse(payload: &[u8]) -> Result<Self> {
        let v: Value = serde_json::from_slice(payload).map_err(|e| {
            AttestError::malformed("dsseEnvelope.payload", format!("not JSON: {e}"))
        })?;
        let t = v.get("_type").and_then(Value::as_str).unwrap_or_default();
        if t != STATEMENT_TYPE {
            return Err(AttestError::malformed(
                "payload._type",
                format!("expected {STATEMENT_TYPE}, got {t:?}"),
            ));
        }
        if !v.get("predicate").is_some_and(Value::is_object) {
            return Err(AttestError::malformed(
                "payload.predicate",
                "missing or not an object",
            ));
        }
        let st: Statement = serde_json::from_value(v)
            .map_err(|e| AttestError::malformed("payload", e.to_string()))?;
        if st.predicate_type.is_empty() {
            return Err(AttestError::malformed("payload.predicateType", "empty"));
        }
        if st.subject.is_empty() {
            return Err(AttestError::malformed("payload.subject", "no subject"));
        }
        for (i, s) in st.subject.iter().enumerate() {
            if s.digest.is_empty() {
                return Err(AttestError::malformed(
                    format!("payload.subject[{i}].digest"),
                    "no digest",
                ));
            }
            for (alg, hex) in &s.digest {
                let want = match alg.as_str() {
                    "sha256" => Some(64),
                    "sha384" => Some(96),
                    "sha512" => Some(128),
                    "sha1" | "gitCommit" => None,
                    _ => None,
                };
                let ok = hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                    && want.is_none_or(|n| hex.len() == n);
                if !ok {
                    return Err(AttestError::malformed(
                        format!("payload.subject[{i}].digest.{alg}"),
                        format!("{hex:?} is not a lowercase hex {alg} digest"),
                    ));
                }
            }
        }
        Ok(st)
    }

    /// Compact JSON of the statement (the DSSE payload).
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising a Value-bearing struct cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Signs `statement` into a Sigstore bundle (DSSE, payload type in-toto).
/// A non-empty `certificate_chain` (DER, leaf first) selects certificate mode.
///
/// # Errors
/// Signer failure, or a certificate whose key is not the signer's.
pub fn sign_statement(
    statement: &Statement,
    signer: &dyn Signer,
    certificate_chain: &[Vec<u8>],
) -> Result<Bundle> {
    let material = verification_material(signer, certificate_chain)?;
    let envelope = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, statement.to_json(), signer)?;
    Ok(Bundle {
        media_type: BUNDLE_MEDIA_TYPE.to_owned(),
        material,
        envelope,
    })
}

/// An attestation whose signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedAttestation {
    pub identity: SignerIdentity,
    pub statement: Statement,
}

/// Verifies the bundle's signature against `trust` and parses its statement.
/// The caller decides whether the subject and predicate are acceptable.
///
/// # Errors
/// Everything [`verify_signature`] rejects and malformed statements.
pub fn verify_attestation(
    bundle: &Bundle,
    trust: &TrustRoot,
    time: SystemTime,
) -> Result<VerifiedAttestation> {
    let identity = verify_signature(bundle, trust, time)?;
    let statement = Statement::parse(&bundle.envelope.payload)?;
    Ok(VerifiedAttestation {
        identity,
        statement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyAlgorithm, PrivateKey};

    fn statement() -> Statement {
        Statement::new(
            vec![Subject::sha256("ns/m", "ab".repeat(32))],
            "https://cyclonedx.org/bom",
            serde_json::json!({"bomFormat": "CycloneDX"}),
        )
    }

    #[test]
    fn sign_then_verify_round_trips_and_names_signer() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let bundle = sign_statement(&statement(), &key, &[]).unwrap();
        let back = Bundle::from_json(bundle.to_json().as_bytes()).unwrap();
        let v = verify_attestation(
            &back,
            &TrustRoot::PublicKey(key.public_key()),
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(v.statement, statement());
        assert!(v.statement.has_sha256(&"AB".repeat(32)));
        assert!(!v.statement.has_sha256(&"cd".repeat(32)));
        assert!(matches!(v.identity, SignerIdentity::Key { .. }));
    }

    #[test]
    fn other_key_and_modified_payload_are_refused() {
        let key = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let other = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let mut bundle = sign_statement(&statement(), &key, &[]).unwrap();
        let trust = TrustRoot::PublicKey(other.public_key());
        assert!(verify_attestation(&bundle, &trust, SystemTime::now()).is_err());
        bundle.envelope.payload = statement()
            .to_json()
            .iter()
            .map(|b| if *b == b'C' { b'X' } else { *b })
            .collect();
        let trust = TrustRoot::PublicKey(key.public_key());
        let err = verify_attestation(&bundle, &trust, SystemTime::now()).unwrap_err();
        assert!(
            err.to_string().contains("signature does not verify"),
            "{err}"
        );
    }

    #[test]
    fn malformed_statements_name_the_field() {
        let cases: [(&str, &str); 5] = [
            (r#"[]"#, "payload._type"),
            (
                r#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}"#,
                "payload.subject",
            ),
            (
                r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"XYZ"}}],"predicateType":"x","predicate":{}}"#,
                "payload.subject[0].digest.sha256",
            ),
            (
                r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"ab"}}],"predicateType":"x","predicate":{}}"#,
                "payload.subject[0].digest.sha256",
            ),
            (
                r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"ab"}}],"predicateType":"x","predicate":3}"#,
                "payload.predicate",
            ),
        ];
        for (json, field) in cases {
            let err = Statement::parse(json.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(field), "{json}: {err}");
        }
    }
}

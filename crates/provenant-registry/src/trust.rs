//! Who vouches for a signed bundle.
//!
//! Trust is the server's decision, from what a namespace trusts, never from
//! key material a request carries. A request may send a public key or root
//! certificates: they are used only to check that a bundle is validly signed
//! ("verified"), and the attachment records what actually verified it — the
//! key's fingerprint in key mode; in certificate mode the signing
//! certificate's identity and the fingerprint of the one root the chain was
//! built to. Whether that is *trusted* is decided when reading: the
//! namespace's trusted key or root certificate of that fingerprint must
//! verify the stored bundle again (at the time it was attached). Removing a
//! key therefore turns its signatures untrusted without rewriting history,
//! and a fingerprint recorded by mistake can never vouch for a bundle its
//! anchor did not sign.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use provenant_attest::{AttestError, Bundle, PublicKey, SignerIdentity, TrustRoot};
use provenant_store::{AttachmentRow, TrustedKeyRow};

use crate::RegistryError;

/// Key material a request sent with a bundle: at most one of a public key
/// (key mode) or root certificates (certificate mode).
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyMaterial<'a> {
    pub public_key: Option<&'a str>,
    pub certificate_roots: &'a [String],
}

/// Verdicts already reached, by (attachment row id, trusted key row id).
/// Both rows are immutable (a removed key is a row marked removed, a new
/// key a new row), and so is the verdict: it can be kept for as long as the
/// process lives. Bounded; emptied when full.
pub(crate) type VerdictCache = Arc<Mutex<HashMap<(i64, i64), bool>>>;

/// Most verdicts a [`VerdictCache`] holds (about 2 MiB).
const MAX_VERDICTS: usize = 65_536;

/// One trust anchor of a namespace: a public key or a root certificate.
#[derive(Clone, Debug)]
struct Anchor {
    /// The trusted key's row.
    id: i64,
    fingerprint: String,
    root: TrustRoot,
}

/// The anchors a namespace trusts now, parsed once per request.
#[derive(Clone, Debug)]
pub(crate) struct NamespaceTrust {
    namespace: String,
    anchors: Vec<Anchor>,
    verdicts: Option<VerdictCache>,
}

/// A trusted key row's anchor: a `CERTIFICATE` block is a root certificate,
/// anything else the `PUBLIC KEY` it holds.
fn anchor_of(row: &TrustedKeyRow) -> Option<Anchor> {
    let root = if row.public_key.contains("-----BEGIN CERTIFICATE-----") {
        let ders = provenant_attest::load_pem_certificates(row.public_key.as_bytes()).ok()?;
        TrustRoot::Certificates(ders)
    } else {
        TrustRoot::PublicKey(PublicKey::from_pem(row.public_key.as_bytes()).ok()?)
    };
    Some(Anchor {
        id: row.id,
        fingerprint: row.fingerprint.clone(),
        root,
    })
}

impl NamespaceTrust {
    pub(crate) fn new(namespace: &str, rows: &[TrustedKeyRow]) -> Self {
        let anchors = rows
            .iter()
            .filter_map(|r| {
                let a = anchor_of(r);
                if a.is_none() {
                    tracing::warn!(namespace, fingerprint = %r.fingerprint, "stored trusted key does not parse; ignored");
                }
                a
            })
            .collect();
        Self {
            namespace: namespace.to_owned(),
            anchors,
            verdicts: None,
        }
    }

    /// Keep and reuse verdicts about stored attachments in `cache`.
    pub(crate) fn with_cache(mut self, cache: VerdictCache) -> Self {
        self.verdicts = Some(cache);
        self
    }

    /// Whether the namespace vouches for a stored attachment: its anchor of
    /// the recorded fingerprint verifies the bundle at the time it was attached.
    pub(crate) fn vouches(&self, a: &AttachmentRow) -> bool {
        let Some(anchor) = self.anchors.iter().find(|k| k.fingerprint == a.fingerprint) else {
            return false;
        };
        let key = (a.id, anchor.id);
        if let Some(cache) = &self.verdicts
            && let Some(v) = cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&key)
        {
            return *v;
        }
        let verdict = verify_with(anchor, &a.body, attached_at(a.created_at));
        if let Some(cache) = &self.verdicts {
            let mut held = cache.lock().unwrap_or_else(PoisonError::into_inner);
            if held.len() >= MAX_VERDICTS {
                held.clear();
            }
            held.insert(key, verdict);
        }
        verdict
    }

    /// Whether the anchor of `fingerprint` verifies the bundle `body` at `at`.
    pub(crate) fn vouches_for(&self, fingerprint: &str, body: &[u8], at: SystemTime) -> bool {
        self.anchors
            .iter()
            .find(|k| k.fingerprint == fingerprint)
            .is_some_and(|anchor| verify_with(anchor, body, at))
    }

    pub(crate) fn namespace(&self) -> &str {
        &self.namespace
    }
}

/// Whether `anchor` verifies the bundle `body` at `at`.
fn verify_with(anchor: &Anchor, body: &[u8], at: SystemTime) -> bool {
    let Ok(bundle) = Bundle::from_json(body) else {
        return false;
    };
    provenant_attest::verify_signature(&bundle, &anchor.root, at).is_ok()
}

fn attached_at(millis: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

/// A bundle whose signature verified: the verifier's result, who signed,
/// and the fingerprint of what verified it.
#[derive(Debug)]
pub(crate) struct Checked<T> {
    pub value: T,
    pub signer: String,
    pub fingerprint: String,
}

/// How an attachment names its signer: a key's algorithm and fingerprint, or
/// the signing certificate's subject, SANs, OIDC issuer and issuer.
pub(crate) fn signer_name(identity: &SignerIdentity) -> String {
    identity.to_string()
}

/// Refuses private key material sent where a public key belongs: the server
/// must never receive (or store, or log) a private key.
fn refuse_private_key(pem: &str, field: &str) -> Result<(), RegistryError> {
    if pem.contains("PRIVATE KEY-----") {
        return Err(RegistryError::InvalidSignature {
            reason: format!(
                "{field} holds a private key; send the public key (`provenant keygen` writes it next to the private key as .pub)"
            ),
        });
    }
    Ok(())
}

/// Verifies `bundle` with `verify` against the key material the request
/// sent, or, when it sent none, against the namespace's anchors. Returns what
/// verified it. Which anchor of several roots the chain leads to is found by
/// trying them one at a time: the fingerprint recorded is that one's.
pub(crate) fn verify_bundle_with<T>(
    bundle: &Bundle,
    material: KeyMaterial<'_>,
    trust: &NamespaceTrust,
    verify: impl Fn(&Bundle, &TrustRoot) -> Result<(T, SignerIdentity), AttestError>,
    bad: impl Fn(String) -> RegistryError,
) -> Result<Checked<T>, RegistryError> {
    let checked = |(value, identity): (T, SignerIdentity), fingerprint: String| Checked {
        signer: signer_name(&identity),
        value,
        fingerprint,
    };
    match (material.public_key, material.certificate_roots) {
        (Some(_), [_, ..]) => Err(bad(
            "send at most one of public_key or certificate_roots with a bundle".into(),
        )),
        (Some(pem), []) => {
            refuse_private_key(pem, "public_key")?;
            let key =
                PublicKey::from_pem(pem.as_bytes()).map_err(|e| bad(format!("public_key: {e}")))?;
            let fingerprint = key.fingerprint();
            let out = verify(bundle, &TrustRoot::PublicKey(key)).map_err(|e| bad(e.to_string()))?;
            Ok(checked(out, fingerprint))
        }
        (None, roots) if !roots.is_empty() => {
            let mut ders = Vec::new();
            for pem in roots {
                refuse_private_key(pem, "certificate_roots")?;
                ders.extend(
                    provenant_attest::load_pem_certificates(pem.as_bytes())
                        .map_err(|e| bad(format!("certificate_roots: {e}")))?,
                );
            }
            // Only a self-signed CA can be an anchor; any other certificate
            // sent (an intermediate) is left to the bundle's own chain.
            let (anchors, others): (Vec<Vec<u8>>, Vec<Vec<u8>>) = ders
                .into_iter()
                .partition(|d| provenant_attest::check_root_certificate(d).is_ok());
            if anchors.is_empty() {
                return Err(bad(format!(
                    "certificate_roots holds no root certificate (a self-signed CA) among its {} certificates",
                    others.len()
                )));
            }
            let ders = anchors;
            for der in &ders {
                if let Ok(out) = verify(bundle, &TrustRoot::Certificates(vec![der.clone()])) {
                    let fingerprint = provenant_attest::certificate_public_key(der)
                        .map_err(|e| bad(format!("certificate_roots: {e}")))?
                        .fingerprint();
                    return Ok(checked(out, fingerprint));
                }
            }
            // None verifies alone: the error of all of them together says why.
            match verify(bundle, &TrustRoot::Certificates(ders)) {
                Err(e) => Err(bad(e.to_string())),
                Ok(_) => Err(bad(
                    "the certificate chain leads to no single root of certificate_roots".into(),
                )),
            }
        }
        _ => {
            for anchor in &trust.anchors {
                if let Ok(out) = verify(bundle, &anchor.root) {
                    return Ok(checked(out, anchor.fingerprint.clone()));
                }
            }
            Err(bad(format!(
                "no public_key or certificate_roots sent, and no key or root certificate trusted by namespace {} verifies the bundle",
                trust.namespace
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pki(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../provenant-attest/tests/fixtures/pki")
                .join(name),
        )
        .unwrap()
    }

    fn certs(names: &[&str]) -> Vec<Vec<u8>> {
        names
            .iter()
            .flat_map(|n| provenant_attest::load_pem_certificates(&pki(n)).unwrap())
            .collect()
    }

    fn bundle(key: &str, chain: &[&str]) -> Vec<u8> {
        let key = provenant_attest::PrivateKey::from_pem(&pki(key), None).unwrap();
        let st = provenant_attest::Statement::new(
            vec![provenant_attest::Subject::sha256("ns/m", "ab".repeat(32))],
            "https://cyclonedx.org/bom",
            serde_json::json!({"bomFormat": "CycloneDX"}),
        );
        provenant_attest::sign_statement(&st, &key, &certs(chain))
            .unwrap()
            .to_json()
            .into_bytes()
    }

    fn row(fingerprint: &str, body: Vec<u8>) -> AttachmentRow {
        AttachmentRow {
            id: 1,
            version_id: 1,
            kind: "sbom".into(),
            media_type: String::new(),
            digest: provenant_digest::Digest::sha256(b""),
            body,
            signer: String::new(),
            fingerprint: fingerprint.into(),
            created_at: 1_767_225_600_000, // 2026-01-01, inside the fixtures' validity
            created_by: "t".into(),
            predicate_type: String::new(),
            summary: "{}".into(),
        }
    }

    /// A recorded fingerprint is a claim, not a verdict: the namespace's
    /// anchor of that fingerprint must verify the stored bundle itself. A row
    /// that names the trusted root for a chain built to another CA (what the
    /// forged-anchor request recorded before the fix) is not vouched for.
    #[test]
    fn only_the_anchor_named_verifying_the_bundle_vouches() {
        let root = String::from_utf8(pki("root.pem")).unwrap();
        let root_fp = provenant_attest::certificate_public_key(&certs(&["root.pem"])[0])
            .unwrap()
            .fingerprint();
        let trust = NamespaceTrust::new(
            "ns",
            &[TrustedKeyRow {
                id: 1,
                namespace: "ns".into(),
                fingerprint: root_fp.clone(),
                public_key: root,
                comment: String::new(),
                added_at: 0,
                added_by: "t".into(),
                removed_at: None,
                removed_by: None,
            }],
        );
        let real = bundle("leaf.key.pem", &["leaf.pem", "intermediate.pem"]);
        let forged = bundle("attacker-leaf.key.pem", &["attacker-leaf.pem"]);
        assert!(trust.vouches(&row(&root_fp, real.clone())));
        assert!(!trust.vouches(&row(&root_fp, forged)));
        // Another fingerprint, or no anchor at all: not vouched for.
        assert!(!trust.vouches(&row(&format!("sha256:{}", "0".repeat(64)), real.clone())));
        assert!(!NamespaceTrust::new("ns", &[]).vouches(&row(&root_fp, real.clone())));

        // Verdicts are kept by (attachment row, key row): the second read
        // does not verify again (shown by a planted verdict being used).
        let cache = VerdictCache::default();
        let cached = trust.clone().with_cache(cache.clone());
        assert!(cached.vouches(&row(&root_fp, real.clone())));
        assert_eq!(cache.lock().unwrap().get(&(1, 1)), Some(&true));
        cache.lock().unwrap().insert((1, 1), false);
        assert!(!cached.vouches(&row(&root_fp, real)));
    }

    #[test]
    fn private_keys_are_refused_where_public_keys_belong() {
        let e = refuse_private_key(
            "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n",
            "public_key",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("public_key holds a private key"),
            "{e}"
        );
        let e = refuse_private_key(
            "-----BEGIN EC PRIVATE KEY-----\nMIGH\n-----END EC PRIVATE KEY-----\n",
            "certificate_roots",
        )
        .unwrap_err();
        assert!(e.to_string().contains("certificate_roots"), "{e}");
        refuse_private_key("-----BEGIN PUBLIC KEY-----\n", "public_key").unwrap();
    }
}

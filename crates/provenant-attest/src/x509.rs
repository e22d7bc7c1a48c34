//! X.509 certificate chains for certificate-mode signatures.

use std::fmt;
use std::time::{Duration, SystemTime};

use der::Decode as _;
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use crate::encoding::pem_blocks;
use crate::error::{AttestError, Result};
use crate::keys::PublicKey;

/// `id-kp-codeSigning` (1.3.6.1.5.5.7.3.3), DER contents.
const EKU_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

const NO_CODE_SIGNING: &str =
    "signing certificate lacks the code-signing extended key usage (1.3.6.1.5.5.7.3.3)";

const CHAIN_FIELD: &str = "verificationMaterial.x509CertificateChain.certificates";

/// Who a certificate says the signer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateIdentity {
    /// Subject distinguished name (RFC 4514).
    pub subject: String,
    /// Issuer distinguished name (RFC 4514).
    pub issuer: String,
    /// Subject alternative names: `email:…`, `dns:…`, `uri:…`.
    pub sans: Vec<String>,
    /// The OIDC issuer of a keyless (Fulcio-style) certificate: extension
    /// 1.3.6.1.4.1.57264.1.8 (DER UTF8String), else the deprecated
    /// 1.3.6.1.4.1.57264.1.1 (raw bytes).
    pub oidc_issuer: Option<String>,
    /// `sha256:` + hex SHA-256 of the DER certificate.
    pub fingerprint: String,
}

impl fmt::Display for CertificateIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "certificate subject \"{}\"", self.subject)?;
        if !self.sans.is_empty() {
            write!(f, " (SAN {})", self.sans.join(", "))?;
        }
        if let Some(oidc) = &self.oidc_issuer {
            write!(f, " (OIDC issuer {oidc})")?;
        }
        write!(f, " issued by \"{}\"", self.issuer)
    }
}

/// A DER certificate as one `CERTIFICATE` PEM block.
pub fn certificate_pem(der: &[u8]) -> String {
    pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der).unwrap_or_default()
}

/// Reads all `CERTIFICATE` blocks of a PEM file, as DER.
///
/// # Errors
/// Malformed PEM, or no certificate at all.
pub fn load_pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>> {
    let certs: Vec<Vec<u8>> = pem_blocks(pem)
        .map_err(|r| AttestError::Certificate {
            field: "certificate file".into(),
            reason: r,
        })?
        .into_iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| b.der)
        .collect();
    if certs.is_empty() {
        return Err(AttestError::Certificate {
            field: "certificate file".into(),
            reason: "no `CERTIFICATE` PEM block".into(),
        });
    }
    Ok(certs)
}

fn parse(der: &[u8], field: &str) -> Result<Certificate> {
    Certificate::from_der(der).map_err(|e| AttestError::Certificate {
        field: field.to_owned(),
        reason: format!("not a valid X.509 certificate: {e}"),
    })
}

/// Public key of a DER certificate.
///
/// # Errors
/// Malformed certificate or unsupported key.
pub fn certificate_public_key(der: &[u8]) -> Result<PublicKey> {
    let cert = parse(der, "certificate")?;
    let spki =
        der::Encode::to_der(cert.tbs_certificate().subject_public_key_info()).map_err(|e| {
            AttestError::Certificate {
                field: "certificate".into(),
                reason: format!("cannot encode public key: {e}"),
            }
        })?;
    PublicKey::from_spki_der(&spki)
}

/// Identity fields of a DER certificate.
///
/// # Errors
/// Malformed certificate.
pub fn certificate_identity(der: &[u8]) -> Result<CertificateIdentity> {
    let cert = parse(der, "certificate")?;
    let tbs = cert.tbs_certificate();
    let mut sans = Vec::new();
    if let Ok(Some((_, san))) = tbs.get_extension::<SubjectAltName>() {
        for name in san.0 {
            match name {
                GeneralName::Rfc822Name(s) => sans.push(format!("email:{}", printable(s.as_str()))),
                GeneralName::DnsName(s) => sans.push(format!("dns:{}", printable(s.as_str()))),
                GeneralName::UniformResourceIdentifier(s) => {
                    sans.push(format!("uri:{}", printable(s.as_str())));
                }
                _ => {}
            }
        }
    }
    Ok(CertificateIdentity {
        subject: printable(&tbs.subject().to_string()),
        issuer: printable(&tbs.issuer().to_string()),
        sans,
        oidc_issuer: oidc_issuer(&cert).map(|s| printable(&s)),
        fingerprint: provenant_digest::Digest::sha256(der).to_string(),
    })
}

/// A certificate's text as it may be shown: control characters (newlines,
/// terminal escapes) are written as `\u{…}`, so that a name cannot forge
/// lines of output (a fake "trusted" line under an untrusted signature).
fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Fulcio's OIDC issuer extensions: v2 (a DER UTF8String) and v1 (raw UTF-8).
const OID_OIDC_ISSUER_V2: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
const OID_OIDC_ISSUER_V1: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");

fn oidc_issuer(cert: &Certificate) -> Option<String> {
    let exts = cert.tbs_certificate().extensions()?;
    if let Some(e) = exts.iter().find(|e| e.extn_id == OID_OIDC_ISSUER_V2) {
        return der::asn1::Utf8StringRef::from_der(e.extn_value.as_bytes())
            .ok()
            .map(|s| s.as_str().to_owned());
    }
    exts.iter()
        .find(|e| e.extn_id == OID_OIDC_ISSUER_V1)
        .and_then(|e| std::str::from_utf8(e.extn_value.as_bytes()).ok())
        .map(str::to_owned)
}

/// Checks that a DER certificate can serve as a trust anchor: a CA
/// (basic constraints `cA` true) whose signature verifies with its own key
/// and whose issuer is its subject (self-signed). A leaf, or a certificate
/// that merely carries some key, is refused.
///
/// # Errors
/// [`AttestError::Certificate`] saying which of the three does not hold.
pub fn check_root_certificate(der: &[u8]) -> Result<()> {
    use x509_cert::ext::pkix::BasicConstraints;
    let refuse = |reason: &str| AttestError::Certificate {
        field: "root certificate".into(),
        reason: reason.to_owned(),
    };
    let cert = parse(der, "root certificate")?;
    let tbs = cert.tbs_certificate();
    let is_ca = tbs
        .get_extension::<BasicConstraints>()
        .ok()
        .flatten()
        .is_some_and(|(_, bc)| bc.ca);
    if !is_ca {
        return Err(refuse(
            "not a CA certificate (basic constraints cA is not set): a root must be a CA",
        ));
    }
    if tbs.subject() != tbs.issuer() {
        return Err(refuse(
            "not self-signed: its issuer is not its subject (give the root of the chain)",
        ));
    }
    let tbs_der = der::Encode::to_der(tbs).map_err(|e| refuse(&format!("cannot encode: {e}")))?;
    let spki = tbs.subject_public_key_info();
    let key_bits = spki.subject_public_key.raw_bytes();
    let signature = cert.signature().raw_bytes();
    let algs: [&dyn rustls_pki_types::SignatureVerificationAlgorithm; 5] = [
        webpki::ring::ECDSA_P256_SHA256,
        webpki::ring::ECDSA_P256_SHA384,
        webpki::ring::ECDSA_P384_SHA256,
        webpki::ring::ECDSA_P384_SHA384,
        webpki::ring::ED25519,
    ];
    // The algorithm the certificate declares: its AlgorithmIdentifier's
    // contents, as rustls-pki-types spells them (no outer SEQUENCE header).
    let declared = der::Encode::to_der(cert.signature_algorithm())
        .map_err(|e| refuse(&format!("cannot encode: {e}")))?;
    let declared = declared.get(2..).unwrap_or_default();
    if algs.iter().any(|alg| {
        alg.signature_alg_id().as_ref() == declared
            && alg.verify_signature(key_bits, &tbs_der, signature).is_ok()
    }) {
        Ok(())
    } else {
        Err(refuse(
            "not self-signed: its signature does not verify with its own key",
        ))
    }
}

/// Whether the certificate lists `id-kp-codeSigning` in its extended key usage.
fn has_code_signing_eku(der: &[u8]) -> bool {
    use x509_cert::ext::pkix::ExtendedKeyUsage;
    const CODE_SIGNING: der::asn1::ObjectIdentifier =
        der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
    Certificate::from_der(der)
        .ok()
        .and_then(|c| {
            c.tbs_certificate()
                .get_extension::<ExtendedKeyUsage>()
                .ok()
                .flatten()
        })
        .is_some_and(|(_, eku)| eku.0.contains(&CODE_SIGNING))
}

fn explain(e: &webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::CertExpired { .. } => "signing certificate has expired".into(),
        E::CertNotValidYet { .. } => "signing certificate is not valid yet".into(),
        E::RequiredEkuNotFoundContext(_) => NO_CODE_SIGNING.into(),
        E::UnknownIssuer => "certificate chain does not lead to a trusted root".into(),
        E::CaUsedAsEndEntity => "signing certificate is a CA certificate".into(),
        E::InvalidSignatureForPublicKey => "a certificate signature in the chain is invalid".into(),
        other => format!("certificate chain rejected: {other:?}"),
    }
}

/// Validates `chain` (signing certificate first, then intermediates) against
/// the trusted `roots` at `time`: signatures, validity periods, CA
/// constraints and the code-signing EKU. Returns the signing key and identity.
///
/// # Errors
/// [`AttestError::Certificate`] naming the chain field and the reason.
pub fn verify_chain(
    chain: &[Vec<u8>],
    roots: &[Vec<u8>],
    time: SystemTime,
) -> Result<(PublicKey, CertificateIdentity)> {
    let Some(leaf) = chain.first() else {
        return Err(AttestError::Certificate {
            field: CHAIN_FIELD.into(),
            reason: "empty certificate chain".into(),
        });
    };
    let leaf_field = format!("{CHAIN_FIELD}[0]");
    let roots_der: Vec<CertificateDer<'_>> = roots
        .iter()
        .map(|r| CertificateDer::from(r.as_slice()))
        .collect();
    let anchors = roots_der
        .iter()
        .enumerate()
        .map(|(i, r)| {
            webpki::anchor_from_trusted_cert(r).map_err(|e| AttestError::Certificate {
                field: format!("trusted root certificate #{}", i + 1),
                reason: format!("unusable as a trust anchor: {e:?}"),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let leaf_der = CertificateDer::from(leaf.as_slice());
    let ee = webpki::EndEntityCert::try_from(&leaf_der).map_err(|e| AttestError::Certificate {
        field: leaf_field.clone(),
        reason: format!("not a valid X.509 certificate: {e:?}"),
    })?;
    let intermediates: Vec<CertificateDer<'_>> = chain[1..]
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let algs: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] = &[
        webpki::ring::ECDSA_P256_SHA256,
        webpki::ring::ECDSA_P256_SHA384,
        webpki::ring::ECDSA_P384_SHA256,
        webpki::ring::ECDSA_P384_SHA384,
        webpki::ring::ED25519,
    ];
    ee.verify_for_usage(
        algs,
        &anchors,
        &intermediates,
        UnixTime::since_unix_epoch(since),
        // Intermediates usually carry no EKU: require code signing where an EKU
        // is present, then insist below that the signing certificate has one.
        webpki::KeyUsage::required_if_present(EKU_CODE_SIGNING),
        None,
        None,
    )
    .map_err(|e| AttestError::Certificate {
        field: leaf_field.clone(),
        reason: explain(&e),
    })?;
    if !has_code_signing_eku(leaf) {
        return Err(AttestError::Certificate {
            field: leaf_field,
            reason: NO_CODE_SIGNING.into(),
        });
    }
    let key = certificate_public_key(leaf).map_err(|e| match e {
        AttestError::Key { reason, .. } => AttestError::Certificate {
            field: leaf_field.clone(),
            reason,
        },
        other => other,
    })?;
    Ok((key, certificate_identity(leaf)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_text_cannot_forge_lines_of_output() {
        assert_eq!(
            printable("a@example.com\n  ml-team@example.com [trusted]\u{1b}[0m"),
            "a@example.com\\u{a}  ml-team@example.com [trusted]\\u{1b}[0m"
        );
        assert_eq!(printable("plain name, é"), "plain name, é");
    }
}

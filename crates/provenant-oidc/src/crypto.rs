//! A `jsonwebtoken` crypto provider on `ring`, the crypto the rest of the
//! tree already uses (rustls, webpki, object_store): `jsonwebtoken`'s own
//! providers are aws-lc (a long C build) or a second RustCrypto RSA stack.
//!
//! Verification covers RS256/384/512 and PS256/384/512 (RSA 2048–8192 bits),
//! ES256, ES384 and EdDSA (Ed25519); signing the same, for tests and tools.
//! HMAC is refused both ways: identity tokens are public-key signed, and a
//! provider that cannot compute an HMAC cannot be tricked into checking one
//! keyed with a public key.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind, new_error};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature;
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature as rs;

/// The provider, for [`install`].
static RING_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: rsa_components_from_private_key,
        rsa_pub_components_from_public_key: rsa_components_from_public_key,
        ec_pub_components_from_private_key: ec_components_from_private_key,
        ed_pub_components_from_private_key: ed_component_from_private_key,
        compute_digest,
    },
};

/// Makes the ring provider `jsonwebtoken`'s process-wide default, unless a
/// provider is installed already (then that one stays: `jsonwebtoken` has
/// one per process). [`crate::Verifier::new`] calls this; call it yourself
/// before `jsonwebtoken::encode` in a process that has no verifier.
pub fn install() {
    // An error only means another provider was installed first.
    let _ = RING_PROVIDER.install_default();
}

fn provider_error(what: &str) -> Error {
    new_error(ErrorKind::Provider(what.to_owned()))
}

/// The ring parameters of an RSA `alg`.
fn rsa_params(alg: Algorithm) -> Option<&'static rs::RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &rs::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &rs::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &rs::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &rs::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &rs::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &rs::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// The ring verification algorithm of any supported `alg`.
fn verification_alg(alg: Algorithm) -> Option<&'static dyn rs::VerificationAlgorithm> {
    if let Some(params) = rsa_params(alg) {
        return Some(params);
    }
    Some(match alg {
        Algorithm::ES256 => &rs::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &rs::ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA => &rs::ED25519,
        _ => return None,
    })
}

/// A public key and the one algorithm it verifies.
struct RingVerifier {
    alg: Algorithm,
    key: VerifierKey,
}

enum VerifierKey {
    /// SEC1 point, Ed25519 key bytes or PKCS#1 `RSAPublicKey`, as ring takes them.
    Encoded(&'static dyn rs::VerificationAlgorithm, Vec<u8>),
    /// RSA modulus and exponent (big-endian), as a JWK gives them.
    RsaComponents(&'static rs::RsaParameters, Vec<u8>, Vec<u8>),
}

impl signature::Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), signature::Error> {
        let verified = match &self.key {
            VerifierKey::Encoded(alg, key) => {
                rs::UnparsedPublicKey::new(*alg, key).verify(msg, sig)
            }
            VerifierKey::RsaComponents(params, n, e) => {
                rs::RsaPublicKeyComponents { n, e }.verify(params, msg, sig)
            }
        };
        verified.map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn new_verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    let alg = *alg;
    if alg.family() != key.family() {
        return Err(new_error(ErrorKind::InvalidAlgorithm));
    }
    let key = match key.kind() {
        DecodingKeyKind::SecretOrDer(bytes) => {
            let Some(ring_alg) = verification_alg(alg) else {
                return Err(new_error(ErrorKind::UnsupportedAlgorithm));
            };
            VerifierKey::Encoded(ring_alg, bytes.clone())
        }
        DecodingKeyKind::RsaModulusExponent { n, e } => {
            let Some(params) = rsa_params(alg) else {
                return Err(new_error(ErrorKind::InvalidAlgorithm));
            };
            VerifierKey::RsaComponents(params, n.clone(), e.clone())
        }
    };
    Ok(Box::new(RingVerifier { alg, key }))
}

/// A private key and the one algorithm it signs with.
struct RingSigner {
    alg: Algorithm,
    key: SignerKey,
}

enum SignerKey {
    Rsa(rs::RsaKeyPair, &'static dyn rs::RsaEncoding),
    Ecdsa(rs::EcdsaKeyPair),
    Ed25519(rs::Ed25519KeyPair),
}

impl signature::Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let rng = SystemRandom::new();
        match &self.key {
            SignerKey::Rsa(pair, padding) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(*padding, &rng, msg, &mut sig)
                    .map_err(|_| signature::Error::new())?;
                Ok(sig)
            }
            SignerKey::Ecdsa(pair) => pair
                .sign(&rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| signature::Error::new()),
            SignerKey::Ed25519(pair) => Ok(pair.sign(msg).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

/// An RSA private key in PKCS#8 or PKCS#1 DER.
fn rsa_key_pair(der: &[u8]) -> Result<rs::RsaKeyPair, Error> {
    rs::RsaKeyPair::from_pkcs8(der)
        .or_else(|_| rs::RsaKeyPair::from_der(der))
        .map_err(|e| new_error(ErrorKind::InvalidRsaKey(e.to_string())))
}

fn ecdsa_key_pair(alg: Algorithm, pkcs8: &[u8]) -> Result<rs::EcdsaKeyPair, Error> {
    let signing = match alg {
        Algorithm::ES256 => &rs::ECDSA_P256_SHA256_FIXED_SIGNING,
        Algorithm::ES384 => &rs::ECDSA_P384_SHA384_FIXED_SIGNING,
        _ => return Err(new_error(ErrorKind::InvalidAlgorithm)),
    };
    rs::EcdsaKeyPair::from_pkcs8(signing, pkcs8, &SystemRandom::new())
        .map_err(|_| new_error(ErrorKind::InvalidEcdsaKey))
}

fn new_signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    let alg = *alg;
    if alg.family() != key.family() {
        return Err(new_error(ErrorKind::InvalidAlgorithm));
    }
    let der = key.as_bytes();
    let key = match alg {
        Algorithm::RS256 => SignerKey::Rsa(rsa_key_pair(der)?, &rs::RSA_PKCS1_SHA256),
        Algorithm::RS384 => SignerKey::Rsa(rsa_key_pair(der)?, &rs::RSA_PKCS1_SHA384),
        Algorithm::RS512 => SignerKey::Rsa(rsa_key_pair(der)?, &rs::RSA_PKCS1_SHA512),
        Algorithm::PS256 => SignerKey::Rsa(rsa_key_pair(der)?, &rs::RSA_PSS_SHA256),
        Algorithm::PS384 => SignerKey::Rsa(rsa_key_pair(der)?, &rs::RSA_PSS_SHA384),
        Algorithm::PS512 => SignerKey::Rsa(rsa_key_pair(der)?, &rs::RSA_PSS_SHA512),
        Algorithm::ES256 | Algorithm::ES384 => SignerKey::Ecdsa(ecdsa_key_pair(alg, der)?),
        Algorithm::EdDSA => SignerKey::Ed25519(
            rs::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?,
        ),
        _ => return Err(new_error(ErrorKind::UnsupportedAlgorithm)),
    };
    Ok(Box::new(RingSigner { alg, key }))
}

fn rsa_components_from_private_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let pair = rsa_key_pair(der)?;
    let components: rs::RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
    Ok((components.n, components.e))
}

fn rsa_components_from_public_key(_der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Error> {
    // ring parses an `RSAPublicKey` only inside a verification; a JWK from a
    // PEM public key is not something this crate needs.
    Err(provider_error(
        "the ring provider cannot take an RSA public key apart; build the JWK from the private key",
    ))
}

fn ec_components_from_private_key(
    pkcs8: &[u8],
    alg: Algorithm,
) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>), Error> {
    let pair = ecdsa_key_pair(alg, pkcs8)?;
    use ring::signature::KeyPair as _;
    let point = pair.public_key().as_ref();
    let (curve, len) = match alg {
        Algorithm::ES256 => (EllipticCurve::P256, 32),
        _ => (EllipticCurve::P384, 48),
    };
    match point.split_first() {
        Some((4, xy)) if xy.len() == 2 * len => {
            let (x, y) = xy.split_at(len);
            Ok((curve, x.to_vec(), y.to_vec()))
        }
        _ => Err(new_error(ErrorKind::InvalidEcdsaKey)),
    }
}

fn ed_component_from_private_key(pkcs8: &[u8], curve: &EllipticCurve) -> Result<Vec<u8>, Error> {
    if *curve != EllipticCurve::Ed25519 {
        return Err(new_error(ErrorKind::InvalidAlgorithm));
    }
    use ring::signature::KeyPair as _;
    let pair = rs::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
        .map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?;
    Ok(pair.public_key().as_ref().to_vec())
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>, Error> {
    let alg = match hash {
        ThumbprintHash::SHA256 => &ring::digest::SHA256,
        ThumbprintHash::SHA384 => &ring::digest::SHA384,
        ThumbprintHash::SHA512 => &ring::digest::SHA512,
        _ => return Err(provider_error("unsupported thumbprint hash")),
    };
    Ok(ring::digest::digest(alg, data).as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jsonwebtoken::{Header, Validation, decode, encode};
    use ring::signature::KeyPair as _;

    fn ed25519() -> (EncodingKey, DecodingKey) {
        let pkcs8 = rs::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = rs::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        (
            EncodingKey::from_ed_der(pkcs8.as_ref()),
            DecodingKey::from_ed_der(pair.public_key().as_ref()),
        )
    }

    fn validation(alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        v.validate_aud = false;
        v
    }

    #[test]
    fn round_trip_and_tamper_eddsa() {
        install();
        let (enc, dec) = ed25519();
        let token = encode(
            &Header::new(Algorithm::EdDSA),
            &serde_json::json!({"a": 1}),
            &enc,
        )
        .unwrap();
        decode::<serde_json::Value>(&token, &dec, &validation(Algorithm::EdDSA)).unwrap();
        // Another key: the signature no longer verifies.
        let (_, other) = ed25519();
        let err =
            decode::<serde_json::Value>(&token, &other, &validation(Algorithm::EdDSA)).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidSignature), "{err:?}");
    }

    #[test]
    fn hmac_is_refused_both_ways() {
        install();
        let enc = EncodingKey::from_secret(b"secret").unwrap();
        let err = encode(&Header::new(Algorithm::HS256), &serde_json::json!({}), &enc).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::UnsupportedAlgorithm),
            "{err:?}"
        );
        let dec = DecodingKey::from_secret(b"secret").unwrap();
        assert!(new_verifier(&Algorithm::HS256, &dec).is_err());
    }

    #[test]
    fn a_key_verifies_only_its_family() {
        let (_, dec) = ed25519();
        assert!(new_verifier(&Algorithm::ES256, &dec).is_err());
        assert!(new_verifier(&Algorithm::RS256, &dec).is_err());
        assert!(new_verifier(&Algorithm::EdDSA, &dec).is_ok());
    }

    #[test]
    fn ec_components_come_from_the_private_key() {
        let rng = SystemRandom::new();
        let pkcs8 =
            rs::EcdsaKeyPair::generate_pkcs8(&rs::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let (curve, x, y) =
            ec_components_from_private_key(pkcs8.as_ref(), Algorithm::ES256).unwrap();
        assert_eq!(curve, EllipticCurve::P256);
        assert_eq!((x.len(), y.len()), (32, 32));
        assert_eq!(
            compute_digest(b"abc", ThumbprintHash::SHA256).unwrap()[..4],
            [0xba, 0x78, 0x16, 0xbf]
        );
    }
}

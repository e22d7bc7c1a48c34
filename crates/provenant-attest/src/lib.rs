//! Model signatures compatible with the OpenSSF Model Signing (OMS) v1.0
//! specification and PyPI `model-signing` 1.1.x.
//!
//! A model is hashed by [`provenant_digest`] into resources and a root digest;
//! the result becomes an in-toto Statement v1 with predicate
//! `https://model_signing/signature/v1.0`, signed in a DSSE envelope and
//! stored as a Sigstore bundle v0.3 JSON (`model.sig`).
//!
//! - OMS: <https://github.com/ossf/model-signing-spec>
//! - DSSE: <https://github.com/secure-systems-lab/dsse/blob/v1.0.0/protocol.md>
//! - in-toto Statement v1: <https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md>
//! - Sigstore bundle: <https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_bundle.proto>
//!
//! Keys are ECDSA P-256/P-384 (what model_signing uses) or Ed25519, in PEM
//! (PKCS#8, optionally PBES2-encrypted, or SEC1). Certificate mode carries the
//! signing certificate and its chain in `verificationMaterial.x509CertificateChain`;
//! verification requires a path to a trusted root, validity at the
//! verification time and the code-signing extended key usage.
//!
//! Public-key hints: we **emit** model_signing's convention (lowercase hex of
//! SHA-256 over the PEM text of the public key) and **accept** it as well as
//! cosign's (base64 of SHA-256 over the DER SubjectPublicKeyInfo). A hint only
//! selects the key; the signature is what is verified.

mod attestation;
mod bundle;
mod dsse;
mod encoding;
mod error;
mod keys;
mod model;
mod statement;
mod x509;

pub use attestation::{
    Statement, Subject, VerifiedAttestation, sign_statement, verify_attestation,
};
pub use bundle::{BUNDLE_MEDIA_TYPE, Bundle, MAX_BUNDLE_BYTES, VerificationMaterial};
pub use dsse::{Envelope, EnvelopeSignature, IN_TOTO_PAYLOAD_TYPE, pae};
pub use error::{AttestError, Result};
pub use keys::{KeyAlgorithm, PrivateKey, PublicKey, Signer, Verifier};
pub use model::{
    DEFAULT_SIGNATURE_NAME, SignOptions, Signed, SignerIdentity, TrustRoot, Verified,
    VerifiedBundle, VerifyOptions, default_signature_path, sign_digest, sign_model, verify_bundle,
    verify_model, verify_signature,
};
pub use statement::{
    PREDICATE_TYPE, PREDICATE_TYPE_V01, STATEMENT_TYPE, SignedManifest, parse_statement,
    statement_json,
};
pub use x509::{
    CertificateIdentity, certificate_identity, certificate_pem, certificate_public_key,
    check_root_certificate, load_pem_certificates, verify_chain,
};

//! Every bad input of issue 3 fails with a message naming the file or field.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use provenant_attest::{
    AttestError, Bundle, Envelope, IN_TOTO_PAYLOAD_TYPE, KeyAlgorithm, PrivateKey, SignOptions,
    Signer as _, TrustRoot, VerificationMaterial, VerifyOptions, load_pem_certificates, sign_model,
    verify_model,
};
use provenant_digest::{DigestError, ResourceMismatch};

use crate::support::{build_model, key, pki};

struct Fixture {
    _t: tempfile::TempDir,
    model: PathBuf,
}

fn signed_model() -> Fixture {
    let t = tempfile::tempdir().unwrap();
    let model = t.path().join("model");
    build_model(&model);
    sign_model(&model, &key(), &SignOptions::default()).unwrap();
    Fixture { _t: t, model }
}

fn verify(model: &Path) -> provenant_attest::Result<provenant_attest::Verified> {
    verify_model(
        model,
        &VerifyOptions::new(TrustRoot::PublicKey(key().public_key())),
    )
}

fn mismatches(e: AttestError) -> Vec<ResourceMismatch> {
    match e {
        AttestError::ModelMismatch { mismatches } => mismatches,
        other => panic!("expected a model mismatch, got {other}"),
    }
}

#[test]
fn untouched_model_verifies() {
    let f = signed_model();
    verify(&f.model).unwrap();
}

#[test]
fn changed_byte() {
    let f = signed_model();
    let p = f.model.join("weights.bin");
    let mut b = fs::read(&p).unwrap();
    b[123_456] ^= 1;
    fs::write(&p, b).unwrap();
    let e = verify(&f.model).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("weights.bin: content changed"), "{msg}");
    assert!(
        matches!(&mismatches(e)[..], [ResourceMismatch::Changed { name, .. }] if name == "weights.bin")
    );
}

#[test]
fn missing_file() {
    let f = signed_model();
    fs::remove_file(f.model.join("nested/deep/config.json")).unwrap();
    let e = verify(&f.model).unwrap_err();
    assert!(
        e.to_string()
            .contains("nested/deep/config.json: signed file is missing"),
        "{e}"
    );
}

#[test]
fn extra_unsigned_file_unless_ignored() {
    let f = signed_model();
    fs::write(f.model.join("a/README.md"), b"new").unwrap();
    let e = verify(&f.model).unwrap_err();
    assert!(
        e.to_string()
            .contains("a/README.md: file is not covered by the signature"),
        "{e}"
    );
    let mut o = VerifyOptions::new(TrustRoot::PublicKey(key().public_key()));
    o.ignore_unsigned_files = true;
    verify_model(&f.model, &o).unwrap();
    // Explicitly ignored paths are fine too.
    o.ignore_unsigned_files = false;
    o.ignore_paths = vec!["a/README.md".into()];
    verify_model(&f.model, &o).unwrap();
}

#[test]
fn renamed_file() {
    let f = signed_model();
    fs::rename(f.model.join("a-c"), f.model.join("a-d")).unwrap();
    let e = verify(&f.model).unwrap_err();
    assert!(e.to_string().contains("a-c: renamed to a-d"), "{e}");
}

#[test]
fn git_files_are_ignored_by_default() {
    let f = signed_model();
    fs::write(f.model.join(".git/HEAD"), b"changed").unwrap();
    verify(&f.model).unwrap();
}

#[test]
fn truncated_and_malformed_bundles() {
    let f = signed_model();
    let sig = f.model.join("model.sig");
    let text = fs::read_to_string(&sig).unwrap();
    fs::write(&sig, &text[..text.len() / 2]).unwrap();
    let e = verify(&f.model).unwrap_err();
    assert!(matches!(e, AttestError::Malformed { .. }), "{e}");
    assert!(
        e.to_string().starts_with("malformed signature bundle"),
        "{e}"
    );

    let b: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut bad = b.clone();
    bad["dsseEnvelope"]["payload"] = "%%%".into();
    fs::write(&sig, bad.to_string()).unwrap();
    let e = verify(&f.model).unwrap_err();
    assert!(e.to_string().contains("dsseEnvelope.payload"), "{e}");

    let mut bad = b.clone();
    bad["dsseEnvelope"]["signatures"] = serde_json::json!([]);
    fs::write(&sig, bad.to_string()).unwrap();
    let e = verify(&f.model).unwrap_err();
    assert!(e.to_string().contains("dsseEnvelope.signatures"), "{e}");

    fs::remove_file(&sig).unwrap();
    let e = verify(&f.model).unwrap_err();
    assert!(
        matches!(e, AttestError::Io { .. }) && e.to_string().contains("model.sig"),
        "{e}"
    );
}

#[test]
fn modified_payload_fails_signature() {
    let f = signed_model();
    let sig = f.model.join("model.sig");
    let mut b = Bundle::read(&sig).unwrap();
    let pos = b.envelope.payload.len() - 3;
    b.envelope.payload.insert(pos, b' ');
    b.write(&sig).unwrap();
    let e = verify(&f.model).unwrap_err();
    assert!(matches!(e, AttestError::BadSignature { .. }), "{e}");
    assert!(e.to_string().contains("dsseEnvelope.signatures"), "{e}");
}

#[test]
fn wrong_key() {
    let f = signed_model();
    let other = PrivateKey::generate(KeyAlgorithm::EcdsaP256)
        .unwrap()
        .public_key();
    let e = verify_model(
        &f.model,
        &VerifyOptions::new(TrustRoot::PublicKey(other.clone())),
    )
    .unwrap_err();
    assert!(matches!(e, AttestError::KeyHintMismatch { .. }), "{e}");
    assert!(e.to_string().contains("publicKey.hint"), "{e}");
    // Without a hint the signature check itself names the failure.
    let sig = f.model.join("model.sig");
    let mut b = Bundle::read(&sig).unwrap();
    b.material = VerificationMaterial::PublicKey { hint: None };
    b.write(&sig).unwrap();
    let e = verify_model(&f.model, &VerifyOptions::new(TrustRoot::PublicKey(other))).unwrap_err();
    assert!(matches!(e, AttestError::BadSignature { .. }), "{e}");
    // A certificate root given for a key-mode bundle is refused with the reason.
    let roots = load_pem_certificates(&fs::read(pki("root.pem")).unwrap()).unwrap();
    let e = verify_model(
        &f.model,
        &VerifyOptions::new(TrustRoot::Certificates(roots)),
    )
    .unwrap_err();
    assert!(e.to_string().contains("bare key"), "{e}");
}

#[test]
fn ed25519_round_trip() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("model");
    build_model(&m);
    let k = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
    sign_model(&m, &k, &SignOptions::default()).unwrap();
    let v = verify_model(
        &m,
        &VerifyOptions::new(TrustRoot::PublicKey(k.public_key())),
    )
    .unwrap();
    assert!(v.identity.to_string().starts_with("ed25519 key sha256:"));
}

fn sign_with_cert(m: &Path, key: &str, cert: &str) {
    let k = PrivateKey::from_pem_file(&pki(key), None).unwrap();
    let mut chain = load_pem_certificates(&fs::read(pki(cert)).unwrap()).unwrap();
    chain.extend(load_pem_certificates(&fs::read(pki("intermediate.pem")).unwrap()).unwrap());
    sign_model(
        m,
        &k,
        &SignOptions {
            certificate_chain: chain,
            ..SignOptions::default()
        },
    )
    .unwrap();
}

fn verify_roots(
    m: &Path,
    root: &str,
    time: Option<SystemTime>,
) -> provenant_attest::Result<provenant_attest::Verified> {
    let roots = load_pem_certificates(&fs::read(pki(root)).unwrap()).unwrap();
    let mut o = VerifyOptions::new(TrustRoot::Certificates(roots));
    o.time = time;
    verify_model(m, &o)
}

#[test]
fn certificate_checks() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("model");
    build_model(&m);

    sign_with_cert(&m, "leaf.key.pem", "leaf.pem");
    verify_roots(&m, "root.pem", None).unwrap();
    // Not yet valid in 2024.
    let e = verify_roots(
        &m,
        "root.pem",
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200)),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not valid yet"), "{e}");
    // Untrusted root.
    let e = verify_roots(&m, "server.pem", None).unwrap_err();
    assert!(
        e.to_string()
            .contains("x509CertificateChain.certificates[0]"),
        "{e}"
    );

    fs::remove_file(m.join("model.sig")).unwrap();
    sign_with_cert(&m, "expired.key.pem", "expired.pem");
    let e = verify_roots(&m, "root.pem", None).unwrap_err();
    assert!(
        e.to_string()
            .contains("certificates[0]: signing certificate has expired"),
        "{e}"
    );

    fs::remove_file(m.join("model.sig")).unwrap();
    sign_with_cert(&m, "server.key.pem", "server.pem");
    let e = verify_roots(&m, "root.pem", None).unwrap_err();
    assert!(e.to_string().contains("code-signing"), "{e}");
}

#[test]
fn certificate_must_match_signing_key() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("model");
    build_model(&m);
    let chain = load_pem_certificates(&fs::read(pki("leaf.pem")).unwrap()).unwrap();
    let e = sign_model(
        &m,
        &key(),
        &SignOptions {
            certificate_chain: chain,
            ..SignOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("does not match the signing key"),
        "{e}"
    );
}

#[cfg(unix)]
#[test]
fn escaping_symlink() {
    let f = signed_model();
    fs::write(f.model.parent().unwrap().join("secret"), b"s").unwrap();
    std::os::unix::fs::symlink("../secret", f.model.join("link")).unwrap();
    let e = verify(&f.model).unwrap_err();
    assert!(
        matches!(&e, AttestError::Digest(DigestError::SymlinkRefused { path }) if path == "link"),
        "{e}"
    );
    let mut o = VerifyOptions::new(TrustRoot::PublicKey(key().public_key()));
    o.allow_symlinks = true;
    let e = verify_model(&f.model, &o).unwrap_err();
    assert!(
        matches!(&e, AttestError::Digest(DigestError::SymlinkEscapes { path, .. }) if path == "link"),
        "{e}"
    );
    assert!(
        e.to_string().contains("points outside the model directory"),
        "{e}"
    );
}

#[test]
fn dot_dot_resource_name_is_refused() {
    let f = signed_model();
    let sig = f.model.join("model.sig");
    let b = Bundle::read(&sig).unwrap();
    let mut st: serde_json::Value = serde_json::from_slice(&b.envelope.payload).unwrap();
    st["predicate"]["resources"][0]["name"] = "../secret".into();
    // Re-sign so that only the path check can reject it.
    let env = Envelope::sign(
        IN_TOTO_PAYLOAD_TYPE,
        serde_json::to_vec(&st).unwrap(),
        &key(),
    )
    .unwrap();
    Bundle { envelope: env, ..b }.write(&sig).unwrap();
    let e = verify(&f.model).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("payload.predicate.resources[0].name") && msg.contains("`..`"),
        "{msg}"
    );
}

/// Only a self-signed CA certificate may serve as a trust anchor.
#[test]
fn a_root_must_be_a_self_signed_ca() {
    use provenant_attest::{check_root_certificate, load_pem_certificates};
    let der = |name: &str| {
        load_pem_certificates(&std::fs::read(crate::support::pki(name)).unwrap())
            .unwrap()
            .remove(0)
    };
    check_root_certificate(&der("root.pem")).unwrap();
    check_root_certificate(&der("attacker-root.pem")).unwrap();
    let refused = |name: &str| match check_root_certificate(&der(name)) {
        Err(AttestError::Certificate { field, reason }) => {
            assert_eq!(field, "root certificate");
            reason
        }
        other => panic!("{name}: expected a refusal, got {other:?}"),
    };
    // A self-signed leaf posing as a root.
    assert!(refused("impostor-root.pem").contains("not a CA"));
    // A CA that is not self-signed.
    assert!(refused("intermediate.pem").contains("not self-signed"));
    // A leaf.
    assert!(refused("leaf.pem").contains("not a CA"));
    // A self-named CA whose signature does not verify with its own key.
    let mut forged = der("root.pem");
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    match check_root_certificate(&forged) {
        Err(AttestError::Certificate { reason, .. }) => {
            assert!(reason.contains("does not verify"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

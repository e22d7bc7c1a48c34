//! Both directions against the real PyPI `model-signing` 1.1.x.

use std::fs;
use std::path::Path;
use std::time::SystemTime;

use provenant_attest::{
    KeyAlgorithm, PrivateKey, PublicKey, SignOptions, Signer as _, TrustRoot, VerifyOptions,
    load_pem_certificates, sign_model, verify_model,
};
use provenant_digest::{HashOptions, Serialization};

use crate::support::{build_model, fixtures, key, model_signing, peer, pki, python, s};

fn key_pub() -> std::path::PathBuf {
    fixtures().join("golden/key.pub")
}

fn key_pem() -> std::path::PathBuf {
    fixtures().join("golden/key.pem")
}

fn verify_with_key(
    model: &Path,
    sig: &Path,
) -> provenant_attest::Result<provenant_attest::Verified> {
    let mut o = VerifyOptions::new(TrustRoot::PublicKey(
        PublicKey::from_pem_file(&key_pub()).unwrap(),
    ));
    o.signature_path = Some(sig.to_owned());
    verify_model(model, &o)
}

fn cert_chain() -> Vec<Vec<u8>> {
    let mut chain = load_pem_certificates(&fs::read(pki("leaf.pem")).unwrap()).unwrap();
    chain.extend(load_pem_certificates(&fs::read(pki("intermediate.pem")).unwrap()).unwrap());
    chain
}

fn roots() -> TrustRoot {
    TrustRoot::Certificates(load_pem_certificates(&fs::read(pki("root.pem")).unwrap()).unwrap())
}

#[test]
fn our_key_signature_verifies_with_model_signing() {
    let Some(venv) = peer() else { return };
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("model");
    build_model(&m);
    let signed = sign_model(&m, &key(), &SignOptions::default()).unwrap();
    assert_eq!(signed.bundle_path, m.join("model.sig"));
    let sig = m.join("model.sig");
    let (ok, out) = model_signing(
        &venv,
        &[
            "verify",
            "key",
            s(&m),
            "--signature",
            s(&sig),
            "--public_key",
            s(&key_pub()),
        ],
    );
    assert!(ok, "{out}");
    // Sanity: the peer also notices tampering with our signature's model.
    fs::write(m.join("a/b"), b"HI\n").unwrap();
    let (ok, out) = model_signing(
        &venv,
        &[
            "verify",
            "key",
            s(&m),
            "--signature",
            s(&sig),
            "--public_key",
            s(&key_pub()),
        ],
    );
    assert!(!ok, "{out}");
}

#[test]
fn model_signing_key_signature_verifies_with_us() {
    let Some(venv) = peer() else { return };
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("model");
    build_model(&m);
    let sig = m.join("model.sig");
    let (ok, out) = model_signing(
        &venv,
        &[
            "sign",
            "key",
            s(&m),
            "--signature",
            s(&sig),
            "--private_key",
            s(&key_pem()),
        ],
    );
    assert!(ok, "{out}");
    let v = verify_with_key(&m, &sig).unwrap();
    assert_eq!(v.manifest.resources.len(), 5);
    let names: Vec<String> = v
        .manifest
        .resources
        .iter()
        .map(|r| r.name.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "a/b",
            "a-c",
            "empty",
            "nested/deep/config.json",
            "weights.bin"
        ]
    );
    assert!(
        v.identity
            .to_string()
            .contains(&key().public_key().fingerprint())
    );
}

#[test]
fn single_file_model_both_ways() {
    let Some(venv) = peer() else { return };
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("model");
    build_model(&m);
    let file = m.join("weights.bin");
    let ours = t.path().join("ours.sig");
    let opts = SignOptions {
        signature_path: Some(ours.clone()),
        ..SignOptions::default()
    };
    sign_model(&file, &key(), &opts).unwrap();
    let (ok, out) = model_signing(
        &venv,
        &[
            "verify",
            "key",
            s(&file),
            "--signature",
            s(&ours),
            "--public_key",
            s(&key_pub()),
        ],
    );
    assert!(ok, "{out}");

    let theirs = t.path().join("theirs.sig");
    let (ok, out) = model_signing(
        &venv,
        &[
            "sign",
            "key",
            s(&file),
            "--signature",
            s(&theirs),
            "--private_key",
            s(&key_pem()),
        ],
    );
    assert!(ok, "{out}");
    let v = verify_with_key(&file, &theirs).unwrap();
    assert_eq!(v.manifest.resources[0].name.to_string(), ".");
    assert_eq!(v.manifest.model_name, "weights.bin");
}

#[test]
fn certificate_mode_both_ways() {
    let Some(venv) = peer() else { return };
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("model");
    build_model(&m);
    let leaf_key = PrivateKey::from_pem_file(&pki("leaf.key.pem"), None).unwrap();
    let sig = m.join("model.sig");
    let opts = SignOptions {
        certificate_chain: cert_chain(),
        ..SignOptions::default()
    };
    sign_model(&m, &leaf_key, &opts).unwrap();
    let (ok, out) = model_signing(
        &venv,
        &[
            "verify",
            "certificate",
            s(&m),
            "--signature",
            s(&sig),
            "--certificate_chain",
            s(&pki("root.pem")),
        ],
    );
    assert!(ok, "{out}");

    fs::remove_file(&sig).unwrap();
    let (ok, out) = model_signing(
        &venv,
        &[
            "sign",
            "certificate",
            s(&m),
            "--signature",
            s(&sig),
            "--private_key",
            s(&pki("leaf.key.pem")),
            "--signing_certificate",
            s(&pki("leaf.pem")),
            "--certificate_chain",
            s(&pki("intermediate.pem")),
        ],
    );
    assert!(ok, "{out}");
    let mut o = VerifyOptions::new(roots());
    o.time = Some(SystemTime::now());
    let v = verify_model(&m, &o).unwrap();
    let id = v.identity.to_string();
    assert!(
        id.contains("CN=model-signer") && id.contains("email:ml-team@example.com"),
        "{id}"
    );
}

fn shard_opts(sig: &Path) -> SignOptions {
    SignOptions {
        hashing: HashOptions {
            serialization: Serialization::Shards {
                shard_size: 100_000,
            },
            ..HashOptions::default()
        },
        signature_path: Some(sig.to_owned()),
        ..SignOptions::default()
    }
}

/// The peer's CLI has no shard option; its Python API does.
fn py_shard_config() -> &'static str {
    "from model_signing import hashing, signing, verifying\n\
     hc = hashing.Config().use_shard_serialization(shard_size=100000).set_ignored_paths(paths=['model.sig'])\n"
}

#[test]
fn shard_mode_both_ways() {
    let Some(venv) = peer() else { return };
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("model");
    build_model(&m);
    let sig = m.join("model.sig");
    let signed = sign_model(&m, &key(), &shard_opts(&sig)).unwrap();
    assert!(
        signed
            .digest
            .resources
            .iter()
            .any(|r| r.name.to_string() == "weights.bin:200000:250000")
    );
    let code = format!(
        "{}verifying.Config().use_elliptic_key_verifier(public_key='{}').set_hashing_config(hc).verify('{}', '{}')",
        py_shard_config(),
        s(&key_pub()),
        s(&m),
        s(&sig)
    );
    let (ok, out) = python(&venv, &code);
    assert!(ok, "{out}");

    fs::remove_file(&sig).unwrap();
    let code = format!(
        "{}signing.Config().use_elliptic_key_signer(private_key='{}').set_hashing_config(hc).sign('{}', '{}')",
        py_shard_config(),
        s(&key_pem()),
        s(&m),
        s(&sig)
    );
    let (ok, out) = python(&venv, &code);
    assert!(ok, "{out}");
    let v = verify_with_key(&m, &sig).unwrap();
    assert_eq!(
        v.manifest.serialization,
        Serialization::Shards {
            shard_size: 100_000
        }
    );
    // a/b, a-c, config.json and three shards of weights.bin; the empty file has none.
    assert_eq!(v.manifest.resources.len(), 6);
}

#[test]
fn p384_key_verifies_with_model_signing() {
    let Some(venv) = peer() else { return };
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("model");
    build_model(&m);
    let k = PrivateKey::generate(KeyAlgorithm::EcdsaP384).unwrap();
    let pub_path = k.write_pem_files(&t.path().join("p384.pem")).unwrap();
    sign_model(&m, &k, &SignOptions::default()).unwrap();
    let (ok, out) = model_signing(
        &venv,
        &[
            "verify",
            "key",
            s(&m),
            "--signature",
            s(&m.join("model.sig")),
            "--public_key",
            s(&pub_path),
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(k.public_key().algorithm(), KeyAlgorithm::EcdsaP384);
}

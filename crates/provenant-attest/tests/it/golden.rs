//! Golden bundles from both tools, verified offline (no Python needed).
//! Regenerate with `cargo test --test it -- --ignored regenerate_goldens`
//! (needs the model-signing venv) and review the diff.

use std::fs;
use std::path::Path;

use provenant_attest::{
    Bundle, PrivateKey, PublicKey, SignOptions, TrustRoot, VerifyOptions, load_pem_certificates,
    sign_model, verify_model,
};
use provenant_digest::{HashOptions, Serialization};

use crate::support::{build_model, fixtures, key, model_signing, peer, pki, python, s};

fn golden(name: &str) -> std::path::PathBuf {
    fixtures().join("golden").join(name)
}

fn key_trust() -> TrustRoot {
    TrustRoot::PublicKey(PublicKey::from_pem_file(&golden("key.pub")).unwrap())
}

fn cert_trust() -> TrustRoot {
    TrustRoot::Certificates(load_pem_certificates(&fs::read(pki("root.pem")).unwrap()).unwrap())
}

fn chain() -> Vec<Vec<u8>> {
    let mut c = load_pem_certificates(&fs::read(pki("leaf.pem")).unwrap()).unwrap();
    c.extend(load_pem_certificates(&fs::read(pki("intermediate.pem")).unwrap()).unwrap());
    c
}

fn shards() -> HashOptions {
    HashOptions {
        serialization: Serialization::Shards {
            shard_size: 100_000,
        },
        ..HashOptions::default()
    }
}

/// (fixture, model is the single file `weights.bin`, trust, signed by us)
fn cases() -> Vec<(&'static str, bool, TrustRoot)> {
    vec![
        ("provenant-key.sig", false, key_trust()),
        ("provenant-cert.sig", false, cert_trust()),
        ("provenant-shards.sig", false, key_trust()),
        ("model_signing-key.sig", false, key_trust()),
        ("model_signing-cert.sig", false, cert_trust()),
        ("model_signing-shards.sig", false, key_trust()),
        ("model_signing-single.sig", true, key_trust()),
    ]
}

#[test]
fn goldens_verify_offline() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("model");
    build_model(&m);
    for (name, single, trust) in cases() {
        let mut o = VerifyOptions::new(trust);
        o.signature_path = Some(golden(name));
        let target = if single {
            m.join("weights.bin")
        } else {
            m.clone()
        };
        let v = verify_model(&target, &o).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!v.manifest.resources.is_empty(), "{name}");
    }
}

#[test]
fn golden_bundles_parse_and_reserialize_identically() {
    // Our writer reproduces model_signing's JSON layout byte for byte.
    for (name, _, _) in cases() {
        let text = fs::read_to_string(golden(name)).unwrap();
        let b = Bundle::from_json(text.as_bytes()).unwrap();
        assert_eq!(b.to_json(), text, "{name}");
    }
}

#[test]
fn our_key_bundle_is_reproducible() {
    // ECDSA signing is deterministic (RFC 6979): re-signing the same model
    // with the same key must give the committed bundle exactly.
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("model");
    build_model(&m);
    let out = t.path().join("out.sig");
    sign_model(
        &m,
        &key(),
        &SignOptions {
            signature_path: Some(out.clone()),
            hashing: HashOptions {
                ignore_paths: vec!["model.sig".into()],
                ..HashOptions::default()
            },
            ..SignOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        fs::read_to_string(golden("provenant-key.sig")).unwrap()
    );
}

fn sign_ours(m: &Path, out: &Path, hashing: HashOptions, signer: &PrivateKey, chain: Vec<Vec<u8>>) {
    let mut hashing = hashing;
    hashing.ignore_paths.push("model.sig".into());
    sign_model(
        m,
        signer,
        &SignOptions {
            signature_path: Some(out.to_owned()),
            hashing,
            certificate_chain: chain,
        },
    )
    .unwrap();
}

#[test]
#[ignore = "regenerates tests/fixtures/golden; run explicitly and review the diff"]
fn regenerate_goldens() {
    let venv = peer().expect("model-signing venv required");
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("model");
    build_model(&m);
    let leaf = PrivateKey::from_pem_file(&pki("leaf.key.pem"), None).unwrap();
    sign_ours(
        &m,
        &golden("provenant-key.sig"),
        HashOptions::default(),
        &key(),
        vec![],
    );
    sign_ours(
        &m,
        &golden("provenant-cert.sig"),
        HashOptions::default(),
        &leaf,
        chain(),
    );
    sign_ours(
        &m,
        &golden("provenant-shards.sig"),
        shards(),
        &key(),
        vec![],
    );
    let kp = golden("key.pem");
    let run = |args: &[&str]| {
        let (ok, out) = model_signing(&venv, args);
        assert!(ok, "{out}");
    };
    let sig = m.join("model.sig");
    run(&[
        "sign",
        "key",
        s(&m),
        "--signature",
        s(&sig),
        "--private_key",
        s(&kp),
    ]);
    fs::rename(&sig, golden("model_signing-key.sig")).unwrap();
    run(&[
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
    ]);
    fs::rename(&sig, golden("model_signing-cert.sig")).unwrap();
    let code = format!(
        "from model_signing import hashing, signing\n\
         hc = hashing.Config().use_shard_serialization(shard_size=100000).set_ignored_paths(paths=['model.sig'])\n\
         signing.Config().use_elliptic_key_signer(private_key='{}').set_hashing_config(hc).sign('{}', '{}')",
        s(&kp),
        s(&m),
        s(&sig)
    );
    let (ok, out) = python(&venv, &code);
    assert!(ok, "{out}");
    fs::rename(&sig, golden("model_signing-shards.sig")).unwrap();
    run(&[
        "sign",
        "key",
        s(&m.join("weights.bin")),
        "--signature",
        s(&golden("model_signing-single.sig")),
        "--private_key",
        s(&kp),
    ]);
}

//! Signed policy sets: the directory signed with an OMS signature, as
//! `provenant sign DIR` does, checked at every load and reload.

use std::path::Path;

use provenant_attest::{AttestError, KeyAlgorithm, PrivateKey, SignOptions, Signer, TrustRoot};
use provenant_policy::{LivePolicies, PolicyConfig, PolicyError, PolicySet, SignatureCheck};

const SIGNED: &str =
    "package provenant.signed\n\ndeny contains \"unsigned\" if count(input.signatures) == 0\n";
const LICENCES: &str = "package provenant.licences\n\ndeny contains \"licence\" if not input.artifact.license in data.licences\n";

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn key() -> PrivateKey {
    PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap()
}

/// Signs `dir` as `provenant sign DIR --key` does (default options:
/// `DIR/model.sig`, sha256 per file).
fn sign(dir: &Path, key: &PrivateKey) {
    provenant_attest::sign_model(dir, key, &SignOptions::default()).unwrap();
}

fn trust(key: &PrivateKey) -> TrustRoot {
    TrustRoot::PublicKey(key.public_key())
}

/// A policy directory with two modules, a test module, a README and a
/// data file; signed with `key`.
fn signed_dir(key: &PrivateKey) -> (tempfile::TempDir, PolicyConfig) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "signed.rego", SIGNED);
    write(dir.path(), "lib/licences.rego", LICENCES);
    write(
        dir.path(),
        "signed_test.rego",
        "package provenant.signed_test\n\ntest_x if true\n",
    );
    write(dir.path(), "README.md", "# policies\n");
    write(dir.path(), "data/licences.json", r#"{"licences": ["mit"]}"#);
    sign(dir.path(), key);
    let mut config = PolicyConfig::new(dir.path());
    config.data_files = vec![dir.path().join("data/licences.json")];
    (dir, config)
}

#[test]
fn a_signed_directory_loads_with_the_right_key_and_records_the_signer() {
    let key = key();
    let (dir, config) = signed_dir(&key);
    let check = SignatureCheck::in_dir(dir.path(), trust(&key));
    let set = PolicySet::load_signed(&config, Some(&check)).unwrap();
    assert_eq!(set.policies(), ["provenant.licences", "provenant.signed"]);
    let signer = set.signer().unwrap();
    assert_eq!(signer.fingerprint, key.public_key().fingerprint());
    assert!(signer.identity.contains(&signer.fingerprint));
    assert!(signer.root_digest.as_ref().unwrap().starts_with("sha256:"));
    // The signature is not part of the set: the digest is the unsigned one.
    let unsigned = PolicySet::load(&config).unwrap();
    assert_eq!(set.digest(), unsigned.digest());
    assert!(unsigned.signer().is_none());
}

#[test]
fn another_key_is_refused() {
    let key = key();
    let (dir, config) = signed_dir(&key);
    let check = SignatureCheck::in_dir(dir.path(), trust(&self::key()));
    let err = PolicySet::load_signed(&config, Some(&check)).unwrap_err();
    match &err {
        PolicyError::Signature { bundle, source } => {
            assert_eq!(bundle, &dir.path().join("model.sig"));
            assert!(
                matches!(
                    source,
                    AttestError::KeyHintMismatch { .. } | AttestError::BadSignature { .. }
                ),
                "{source:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("model.sig"), "{err}");
}

#[test]
fn a_missing_signature_is_refused() {
    let key = key();
    let (dir, config) = signed_dir(&key);
    std::fs::remove_file(dir.path().join("model.sig")).unwrap();
    let check = SignatureCheck::in_dir(dir.path(), trust(&key));
    assert!(matches!(
        PolicySet::load_signed(&config, Some(&check)),
        Err(PolicyError::Signature { .. })
    ));
}

#[test]
fn a_changed_module_is_refused_naming_the_file() {
    let key = key();
    let (dir, config) = signed_dir(&key);
    write(
        dir.path(),
        "lib/licences.rego",
        "package provenant.licences\n\ndeny contains \"x\" if false\n",
    );
    let check = SignatureCheck::in_dir(dir.path(), trust(&key));
    let err = PolicySet::load_signed(&config, Some(&check)).unwrap_err();
    match &err {
        PolicyError::SignedDigestMismatch {
            file,
            signed,
            actual,
            ..
        } => {
            assert_eq!(file, "lib/licences.rego");
            assert_ne!(signed, actual);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("lib/licences.rego"), "{err}");
}

#[test]
fn a_new_unsigned_module_is_refused_but_a_new_test_or_readme_is_not() {
    let key = key();
    let (dir, config) = signed_dir(&key);
    let check = SignatureCheck::in_dir(dir.path(), trust(&key));
    // Files the decision engine does not read may come and go.
    write(
        dir.path(),
        "extra_test.rego",
        "package provenant.extra_test\n\ntest_y if true\n",
    );
    write(dir.path(), "NOTES.md", "notes\n");
    PolicySet::load_signed(&config, Some(&check)).unwrap();

    write(
        dir.path(),
        "sub/allow.rego",
        "package provenant.allow\n\nwarn contains \"x\" if false\n",
    );
    match PolicySet::load_signed(&config, Some(&check)).unwrap_err() {
        PolicyError::Unsigned { file, bundle } => {
            assert_eq!(file, "sub/allow.rego");
            assert_eq!(bundle, dir.path().join("model.sig"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn data_files_must_be_signed_and_inside_the_directory() {
    let key = key();
    let (dir, mut config) = signed_dir(&key);
    let check = SignatureCheck::in_dir(dir.path(), trust(&key));

    // A signed data file that changed.
    write(
        dir.path(),
        "data/licences.json",
        r#"{"licences": ["mit", "cc-by-nc-4.0"]}"#,
    );
    match PolicySet::load_signed(&config, Some(&check)).unwrap_err() {
        PolicyError::SignedDigestMismatch { file, .. } => assert_eq!(file, "data/licences.json"),
        other => panic!("{other:?}"),
    }
    sign(dir.path(), &key);
    PolicySet::load_signed(&config, Some(&check)).unwrap();

    // A data file outside the signed directory: refused, though it would
    // load without a signature requirement.
    let outside = tempfile::tempdir().unwrap();
    let extra = outside.path().join("more.json");
    std::fs::write(&extra, r#"{"more": true}"#).unwrap();
    config.data_files.push(extra.clone());
    PolicySet::load(&config).unwrap();
    match PolicySet::load_signed(&config, Some(&check)).unwrap_err() {
        PolicyError::DataOutsideSignedDir { file, dir: d } => {
            assert_eq!(file, extra);
            assert_eq!(d, dir.path());
        }
        other => panic!("{other:?}"),
    }

    // A `..` path that leaves the directory is outside too.
    config.data_files = vec![dir.path().join("../elsewhere.json")];
    assert!(matches!(
        PolicySet::load_signed(&config, Some(&check)),
        Err(PolicyError::DataOutsideSignedDir { .. })
    ));
}

#[test]
fn a_signature_written_elsewhere_is_found_by_its_path() {
    let key = key();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "signed.rego", SIGNED);
    let sigs = tempfile::tempdir().unwrap();
    let bundle = sigs.path().join("policies.sig");
    let opts = SignOptions {
        signature_path: Some(bundle.clone()),
        ..SignOptions::default()
    };
    provenant_attest::sign_model(dir.path(), &key, &opts).unwrap();
    let config = PolicyConfig::new(dir.path());
    let set =
        PolicySet::load_signed(&config, Some(&SignatureCheck::new(&bundle, trust(&key)))).unwrap();
    assert_eq!(set.policies(), ["provenant.signed"]);
}

/// Waits until the file system's modification time moves on, so that an
/// edit is seen by the fingerprint even on coarse-grained clocks.
fn tick() {
    std::thread::sleep(std::time::Duration::from_millis(20));
}

#[test]
fn a_live_set_keeps_the_previous_set_on_a_tampered_edit_and_reloads_once_re_signed() {
    let key = key();
    let (dir, config) = signed_dir(&key);
    let live = LivePolicies::load_signed(
        config,
        Some(SignatureCheck::in_dir(dir.path(), trust(&key))),
    )
    .unwrap();
    let first = live.current().digest().to_owned();
    assert_eq!(
        live.current().signer().unwrap().fingerprint,
        key.public_key().fingerprint()
    );
    assert_eq!(live.reload_if_changed().unwrap(), None);

    // A tampered edit: refused, the previous set stays, reported once.
    tick();
    write(
        dir.path(),
        "signed.rego",
        "package provenant.signed\n\ndeny contains \"never\" if false\n",
    );
    assert!(matches!(
        live.reload_if_changed(),
        Err(PolicyError::SignedDigestMismatch { ref file, .. }) if file == "signed.rego"
    ));
    assert_eq!(live.current().digest(), first);
    assert_eq!(live.reload_if_changed().unwrap(), None);

    // Re-signed: the signature changed, so the set reloads, with the edit.
    tick();
    sign(dir.path(), &key);
    let reloaded = live.reload_if_changed().unwrap().unwrap();
    assert!(reloaded.changed());
    assert_eq!(reloaded.previous, first);
    assert_eq!(live.current().digest(), reloaded.digest);

    // Re-signed with another key: refused, the re-signed set stays.
    tick();
    sign(dir.path(), &self::key());
    assert!(matches!(
        live.reload_if_changed(),
        Err(PolicyError::Signature { .. })
    ));
    assert_eq!(live.current().digest(), reloaded.digest);
}

/// The PKI fixtures of provenant-attest (root, intermediate, code-signing
/// leaf valid 2025–2125; see its `tests/fixtures/pki/make_pki.py`).
fn pki(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../provenant-attest/tests/fixtures/pki")
        .join(name)
}

fn certificates(name: &str) -> Vec<Vec<u8>> {
    provenant_attest::load_pem_certificates(&std::fs::read(pki(name)).unwrap()).unwrap()
}

#[test]
fn a_certificate_signed_directory_loads_against_its_roots_only() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "signed.rego", SIGNED);
    let leaf = PrivateKey::from_pem_file(&pki("leaf.key.pem"), None).unwrap();
    let mut chain = certificates("leaf.pem");
    chain.extend(certificates("intermediate.pem"));
    let opts = SignOptions {
        certificate_chain: chain,
        ..SignOptions::default()
    };
    provenant_attest::sign_model(dir.path(), &leaf, &opts).unwrap();
    let config = PolicyConfig::new(dir.path());

    let roots = TrustRoot::Certificates(certificates("root.pem"));
    let set =
        PolicySet::load_signed(&config, Some(&SignatureCheck::in_dir(dir.path(), roots))).unwrap();
    let signer = set.signer().unwrap();
    assert!(
        signer.identity.starts_with("certificate subject"),
        "{signer:?}"
    );
    let leaf_der = &certificates("leaf.pem")[0];
    assert_eq!(
        signer.fingerprint,
        format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(leaf_der))
        )
    );

    // Another root: refused.
    let other = TrustRoot::Certificates(certificates("impostor-root.pem"));
    assert!(matches!(
        PolicySet::load_signed(&config, Some(&SignatureCheck::in_dir(dir.path(), other))),
        Err(PolicyError::Signature { .. })
    ));
}

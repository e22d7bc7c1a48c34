//! Signed pushes, trusted keys and verified pulls against a real server.

use std::path::Path;

use serde_json::Value;

use crate::Server;

fn pki(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../provenant-attest/tests/fixtures/pki")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn signed_flow(s: &Server, dir: &Path) {
    let m = dir.join("signed");
    std::fs::create_dir_all(m.join("tok")).unwrap();
    std::fs::write(m.join("weights.bin"), vec![3u8; 200_000]).unwrap();
    std::fs::write(m.join("tok/vocab.json"), b"{}").unwrap();
    std::fs::write(m.join(".gitattributes"), b"*.bin filter=lfs").unwrap();
    s.ok(dir, &["keygen", "--out", "k.pem"]);
    s.ok(dir, &["keygen", "--type", "ed25519", "--out", "other.pem"]);

    let r = s.json(
        dir,
        &[
            "push",
            "signed",
            "--model",
            "secure/detector",
            "--sign",
            "--key",
            "k.pem",
        ],
    );
    assert_eq!(
        r["files"], 2,
        ".gitattributes is not signed (OMS ignores top-level git files), so not pushed: {r}"
    );
    assert_eq!(r["signature"]["trusted"], false);
    let v = s.json(dir, &["show", "secure/detector:1"]);
    let sigs = v["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 1);
    assert!(
        sigs[0]["signer"].as_str().unwrap().contains("key sha256:"),
        "{v}"
    );

    // Trust is per namespace, recorded, and revocable.
    s.ok(
        dir,
        &[
            "keys",
            "add",
            "secure",
            "k.pub",
            "--comment",
            "CI signing key",
        ],
    );
    assert_eq!(
        s.json(dir, &["show", "secure/detector:1"])["signatures"][0]["trusted"],
        true
    );
    let out = s.ok(dir, &["show", "secure/detector:1"]);
    assert!(out.contains("[trusted]"), "{out}");

    // pull --verify checks the signature over the downloaded files.
    let p = s.json(
        dir,
        &[
            "pull",
            "secure/detector:1",
            "verified",
            "--verify",
            "--key",
            "k.pub",
        ],
    );
    assert!(p["signed_by"].as_str().unwrap().contains("key sha256:"));
    s.fails(
        dir,
        &[
            "pull",
            "secure/detector:1",
            "wrong-key",
            "--verify",
            "--key",
            "other.pub",
        ],
        1,
        "signature",
    );
    assert!(!dir.join("wrong-key").exists());

    // The server refuses a signature that does not cover exactly the version's files.
    std::fs::write(m.join("weights.bin"), vec![4u8; 200_000]).unwrap();
    s.ok(dir, &["sign", "signed", "--key", "k.pem"]);
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(m.join("model.sig")).unwrap()).unwrap();
    let pem = std::fs::read_to_string(dir.join("k.pub")).unwrap();
    let (status, body) = s.api(
        "POST",
        "/api/v1/models/secure%2Fdetector/versions/1/signatures",
        serde_json::json!({"bundle": bundle, "public_key": pem}),
    );
    assert_eq!(status, 400);
    assert_eq!(body["code"], "signature_mismatch");
    assert!(
        body["message"].as_str().unwrap().contains("weights.bin"),
        "{body}"
    );
    // ... or one checked against a key that did not make it.
    let other = std::fs::read_to_string(dir.join("other.pub")).unwrap();
    let (status, body) = s.api(
        "POST",
        "/api/v1/models/secure%2Fdetector/versions/1/signatures",
        serde_json::json!({"bundle": bundle, "public_key": other}),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_signature")),
        "{body}"
    );
    // A malformed bundle names the field.
    let (status, body) = s.api(
        "POST",
        "/api/v1/models/secure%2Fdetector/versions/1/signatures",
        serde_json::json!({"bundle": {"mediaType": 1}, "public_key": pem}),
    );
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("mediaType"),
        "{body}"
    );

    // The pushed model.sig is never one of the version's files; a fresh push signs again.
    let r = s.json(
        dir,
        &[
            "push",
            "signed",
            "--model",
            "secure/detector",
            "--sign",
            "--key",
            "k.pem",
        ],
    );
    assert_eq!(r["version"]["number"], 2);
    assert!(
        r["version"]["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["path"] != "model.sig")
    );
    assert_eq!(r["signature"]["trusted"], true);

    // Certificate mode: the chain leads to a root the namespace trusts.
    let r = s.json(
        dir,
        &[
            "push",
            "signed",
            "--model",
            "secure/certified",
            "--sign",
            "--key",
            &pki("leaf.key.pem"),
            "--certificate",
            &pki("leaf.pem"),
            "--certificate-chain",
            &pki("intermediate.pem"),
            "--certificate-chain",
            &pki("root.pem"),
        ],
    );
    assert_eq!(r["signature"]["trusted"], false);
    s.ok(dir, &["keys", "add", "secure", &pki("root.pem")]);
    assert_eq!(
        s.json(dir, &["show", "secure/certified:1"])["signatures"][0]["trusted"],
        true
    );
    s.ok(
        dir,
        &[
            "pull",
            "secure/certified:1",
            "cert-out",
            "--verify",
            "--certificate-chain",
            &pki("root.pem"),
        ],
    );

    // Removing a key is recorded; its signatures stop being trusted.
    s.ok(dir, &["keys", "remove", "secure", "k.pub"]);
    assert_eq!(
        s.json(dir, &["show", "secure/detector:1"])["signatures"][0]["trusted"],
        false
    );
    let keys = s.json(dir, &["keys", "list", "secure", "--history"]);
    let removed: Vec<&Value> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["removed_at"].is_string())
        .collect();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0]["removed_by"], "admin");
    s.fails(
        dir,
        &["keys", "remove", "secure", "k.pub"],
        2,
        "key_not_found",
    );
}

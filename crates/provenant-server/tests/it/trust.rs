//! Trust is decided by the server, from what the namespace trusts; a push is
//! all or nothing. Every case runs on SQLite and PostgreSQL.

use std::path::PathBuf;

use provenant_attest::{PrivateKey, Signer as _, Statement, Subject};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::harness::{TestServer, enc};

const MODEL: &str = "aiops/anomaly";
const FILES: &[(&str, &[u8])] = &[("weights.bin", b"weights v1"), ("config/model.json", b"{}")];

fn pki(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../provenant-attest/tests/fixtures/pki")
        .join(name)
}

fn pem(name: &str) -> String {
    std::fs::read_to_string(pki(name)).unwrap()
}

fn ders(names: &[&str]) -> Vec<Vec<u8>> {
    names
        .iter()
        .flat_map(|n| provenant_attest::load_pem_certificates(pem(n).as_bytes()).unwrap())
        .collect()
}

fn key(name: &str) -> PrivateKey {
    PrivateKey::from_pem_file(&pki(name), None).unwrap()
}

/// Fingerprint of a certificate's key, as the registry records it.
fn cert_fingerprint(name: &str) -> String {
    provenant_attest::certificate_public_key(&ders(&[name])[0])
        .unwrap()
        .fingerprint()
}

/// The real PKI: root -> intermediate -> leaf (ml-team@example.com).
fn real_signer() -> (PrivateKey, Vec<Vec<u8>>) {
    (key("leaf.key.pem"), ders(&["leaf.pem", "intermediate.pem"]))
}

/// The attacker's own CA -> leaf, with the same subject names as the real ones.
fn attacker() -> (PrivateKey, Vec<Vec<u8>>) {
    (key("attacker-leaf.key.pem"), ders(&["attacker-leaf.pem"]))
}

/// An OMS signature over `files`, as JSON.
fn oms(files: &[(&str, &[u8])], signer: &PrivateKey, chain: &[Vec<u8>]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    for (path, data) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    let digest =
        provenant_digest::hash_model(dir.path(), &provenant_digest::HashOptions::default())
            .unwrap();
    let b = provenant_attest::sign_digest(&digest, signer, chain).unwrap();
    serde_json::from_str(&b.to_json()).unwrap()
}

/// OMS root digest (hex) of `files`.
fn root_hex(files: &[(&str, &[u8])]) -> String {
    let digests: Vec<(String, provenant_digest::Digest)> = files
        .iter()
        .map(|(p, d)| ((*p).to_owned(), crate::harness::sha(d).parse().unwrap()))
        .collect();
    provenant_registry::oms_root_digest(digests.iter().map(|(p, d)| (p.as_str(), d)))
        .unwrap()
        .hex()
}

fn statement_bundle(
    subject_hex: &str,
    predicate_type: &str,
    predicate: Value,
    signer: &PrivateKey,
    chain: &[Vec<u8>],
) -> Value {
    let st = Statement::new(
        vec![Subject::sha256(MODEL, subject_hex)],
        predicate_type,
        predicate,
    );
    let b = provenant_attest::sign_statement(&st, signer, chain).unwrap();
    serde_json::from_str(&b.to_json()).unwrap()
}

fn sbom(subject_hex: &str, signer: &PrivateKey, chain: &[Vec<u8>]) -> Value {
    let bom = json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "components": [{"type": "library", "name": "numpy", "version": "2.1.0",
                        "purl": "pkg:pypi/numpy@2.1.0", "bom-ref": "pkg:pypi/numpy@2.1.0"}],
    });
    statement_bundle(subject_hex, "https://cyclonedx.org/bom", bom, signer, chain)
}

/// SLSA provenance (ML-training build type) naming every required input.
fn provenance(subject_hex: &str, signer: &PrivateKey, chain: &[Vec<u8>]) -> Value {
    let recipe = json!({
        "_type": "https://provenant.dev/recipe/v1",
        "datasets": [{"name": "train", "uri": "s3://data/train", "digest": format!("sha256:{}", "d".repeat(64)),
                      "digestMethod": "oms-root-sha256"}],
        "source": {"repository": "https://git.example.com/ml/anomaly", "commit": "a".repeat(40),
                   "signature": {"status": "unsigned"}},
        "entrypoint": "train.py",
        "hyperparameters": {"lr": 0.01},
        "imageDigest": format!("sha256:{}", "e".repeat(64)),
    });
    let recipe = provenant_provenance::Recipe::from_json(recipe.to_string().as_bytes()).unwrap();
    let predicate =
        serde_json::to_value(provenant_provenance::provenance_from_recipe(&recipe)).unwrap();
    statement_bundle(
        subject_hex,
        "https://slsa.dev/provenance/v1",
        predicate,
        signer,
        chain,
    )
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("<no code>")
}

async fn trust(s: &TestServer, pem: &str) -> Value {
    let (st, v) = s
        .json(
            Method::POST,
            "/api/v1/namespaces/aiops/keys",
            Some(json!({"public_key": pem, "comment": "test"})),
        )
        .await;
    assert!(st.is_success(), "{st} {v}");
    v
}

async fn attach(s: &TestServer, route: &str, body: Value) -> (StatusCode, Value) {
    s.json(
        Method::POST,
        &format!("/api/v1/models/{}/versions/1/{route}", enc(MODEL)),
        Some(body),
    )
    .await
}

async fn list(s: &TestServer, route: &str) -> Vec<Value> {
    let (st, v) = s
        .json(
            Method::GET,
            &format!("/api/v1/models/{}/versions/1/{route}", enc(MODEL)),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v.as_array().unwrap().clone()
}

fn trusted_flags(items: &[Value]) -> Vec<bool> {
    items.iter().map(|v| v["trusted"] == true).collect()
}

/// Uploads `files` and publishes them with `attachments`.
async fn push(
    s: &TestServer,
    files: &[(&str, &[u8])],
    attachments: Vec<Value>,
    extra: Value,
) -> (StatusCode, Value) {
    let mut list = Vec::new();
    for (path, data) in files {
        let digest = s.upload(data).await;
        list.push(json!({"path": path, "digest": digest, "size": data.len()}));
    }
    let mut body = json!({"files": list, "attachments": attachments});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    s.json(
        Method::POST,
        &format!("/api/v1/models/{}/versions", enc(MODEL)),
        Some(body),
    )
    .await
}

/// The attacker's signature, SBOM and provenance about `FILES`, with the
/// route each is attached on.
fn attacker_bundles() -> [(&'static str, Value); 3] {
    let (key, chain) = attacker();
    let root = root_hex(FILES);
    [
        ("signatures", oms(FILES, &key, &chain)),
        ("attestations", sbom(&root, &key, &chain)),
        ("provenance", provenance(&root, &key, &chain)),
    ]
}

/// Attaches `body` on `route` of version 1: accepted as validly signed,
/// recorded as verified by the attacker's CA, and not trusted.
async fn attached_untrusted(s: &TestServer, route: &str, body: Value) -> Value {
    let (st, v) = attach(s, route, body).await;
    assert_eq!(st, StatusCode::CREATED, "{route}: {v}");
    assert_eq!(
        v["fingerprint"],
        cert_fingerprint("attacker-root.pem").as_str(),
        "{route}: {v}"
    );
    assert_eq!(v["trusted"], false, "{route}: {v}");
    v
}

// The forged anchor: the caller sends its own CA and, last, a certificate
// carrying a key the namespace trusts. The chain is built to the caller's
// CA, so that is what is recorded, and nothing is trusted.
both!(forged_anchor_is_never_trusted, async |s: &TestServer| {
    trust(s, &pem("root.pem")).await;
    let (st, v) = s.publish(MODEL, FILES, json!({})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (key, chain) = attacker();
    let roots = json!([pem("attacker-root.pem"), pem("root.pem")]);
    for (route, bundle) in attacker_bundles() {
        let v = attached_untrusted(
            s,
            route,
            json!({"bundle": bundle, "certificate_roots": roots}),
        )
        .await;
        assert!(
            v["signer"]
                .as_str()
                .unwrap()
                .contains("attacker@example.com"),
            "{route}: {v}"
        );
        // The trusted root alone does not verify the attacker's chain, nor
        // do the namespace's own anchors, nor a leaf posing as a root.
        for body in [
            json!({"bundle": bundle, "certificate_roots": [pem("root.pem")]}),
            json!({"bundle": bundle}),
            json!({"bundle": bundle, "certificate_roots": [pem("attacker-leaf.pem")]}),
        ] {
            let (st, v) = attach(s, route, body).await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{route}: {v}");
        }
    }
    assert_eq!(trusted_flags(&list(s, "signatures").await), [false]);
    assert_eq!(
        trusted_flags(&list(s, "attestations").await),
        [false, false]
    );
    assert_eq!(trusted_flags(&list(s, "provenance").await), [false]);
    let (_, v) = s
        .json(
            Method::GET,
            &format!("/api/v1/models/{}/versions/1", enc(MODEL)),
            None,
        )
        .await;
    assert_eq!(v["signatures"][0]["trusted"], false, "{v}");

    // The same bundles pushed with a new version: untrusted too.
    let files2: &[(&str, &[u8])] = &[("weights.bin", b"weights v2")];
    let root2 = root_hex(files2);
    let (st, v) = push(
        s,
        files2,
        vec![
            json!({"bundle": oms(files2, &key, &chain), "certificate_roots": roots}),
            json!({"bundle": sbom(&root2, &key, &chain), "certificate_roots": roots}),
            json!({"bundle": provenance(&root2, &key, &chain), "certificate_roots": roots}),
        ],
        json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["version"]["signatures"][0]["trusted"], false, "{v}");
    let atts = v["version"]["attestations"].as_array().unwrap();
    assert_eq!(trusted_flags(atts), [false, false], "{v}");
});

// The attack exactly: the namespace trusts a bare key K; the caller
// sends its own CA and a certificate that CA issued carrying K (it cannot
// self-sign one without K's private key). The carrier is no anchor.
both!(
    a_certificate_carrying_a_trusted_key_is_no_anchor,
    async |s: &TestServer| {
        let trusted_key = provenant_attest::certificate_public_key(&ders(&["root.pem"])[0])
            .unwrap()
            .to_pem();
        let added = trust(s, &trusted_key).await;
        assert_eq!(added["kind"], "key", "{added}");
        let (st, v) = s.publish(MODEL, FILES, json!({})).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let roots = json!([pem("attacker-root.pem"), pem("carrier.pem")]);
        for (route, bundle) in attacker_bundles() {
            attached_untrusted(
                s,
                route,
                json!({"bundle": bundle, "certificate_roots": roots}),
            )
            .await;
            // The carrier alone is not a root at all.
            let (st, v) = attach(
                s,
                route,
                json!({"bundle": bundle, "certificate_roots": [pem("carrier.pem")]}),
            )
            .await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{route}: {v}");
            assert!(
                v["message"]
                    .as_str()
                    .unwrap()
                    .contains("no root certificate"),
                "{route}: {v}"
            );
        }
        // Trusting the root certificate itself replaces the bare key of the
        // same fingerprint (what `keys add root.pem` stored before roots
        // were kept whole); the attacker's chains stay untrusted.
        let added = trust(s, &pem("root.pem")).await;
        assert_eq!(added["kind"], "root_certificate", "{added}");
        let (_, keys) = s
            .json(Method::GET, "/api/v1/namespaces/aiops/keys", None)
            .await;
        assert_eq!(keys.as_array().map(Vec::len), Some(1), "{keys}");
        assert_eq!(trusted_flags(&list(s, "signatures").await), [false]);
        // A bare key does not silently stand in for a trusted root.
        let (st, v) = s
            .json(
                Method::POST,
                "/api/v1/namespaces/aiops/keys",
                Some(json!({"public_key": trusted_key})),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        assert!(
            v["message"].as_str().unwrap().contains("remove it first"),
            "{v}"
        );
    }
);

// A chain built to a root the namespace trusts is trusted, names the leaf's
// identity and the root's fingerprint; removing the root turns it off.
both!(
    chain_to_trusted_root_is_trusted_until_removed,
    async |s: &TestServer| {
        let added = trust(s, &pem("root.pem")).await;
        assert_eq!(added["kind"], "root_certificate", "{added}");
        let root_fp = cert_fingerprint("root.pem");
        assert_eq!(added["fingerprint"], root_fp.as_str());
        let (st, v) = s.publish(MODEL, FILES, json!({})).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let (key, chain) = real_signer();
        let root = root_hex(FILES);
        for (route, body) in [
            // No key material: the namespace's root verifies the chain.
            ("signatures", json!({"bundle": oms(FILES, &key, &chain)})),
            // The chain's files as the CLI sends them: an intermediate is not an
            // anchor, the root is.
            (
                "attestations",
                json!({"bundle": sbom(&root, &key, &chain),
                   "certificate_roots": [pem("intermediate.pem"), pem("root.pem")]}),
            ),
            (
                "provenance",
                json!({"bundle": provenance(&root, &key, &chain)}),
            ),
        ] {
            let (st, v) = attach(s, route, body).await;
            assert_eq!(st, StatusCode::CREATED, "{route}: {v}");
            assert_eq!(v["trusted"], true, "{route}: {v}");
            assert_eq!(v["fingerprint"], root_fp.as_str(), "{route}: {v}");
            let signer = v["signer"].as_str().unwrap();
            assert!(
                signer.contains("model-signer") && signer.contains("ml-team@example.com"),
                "{route}: {signer}"
            );
        }
        // Removed (fingerprint given without its prefix): untrusted on read.
        let bare = root_fp.trim_start_matches("sha256:");
        let (st, v) = s
            .json(
                Method::DELETE,
                &format!("/api/v1/namespaces/aiops/keys/{bare}"),
                None,
            )
            .await;
        assert!(st.is_success(), "{st} {v}");
        assert_eq!(trusted_flags(&list(s, "signatures").await), [false]);
        assert_eq!(
            trusted_flags(&list(s, "attestations").await),
            [false, false]
        );
        assert_eq!(trusted_flags(&list(s, "provenance").await), [false]);
        // Trusted again once the root is back.
        trust(s, &pem("root.pem")).await;
        assert_eq!(trusted_flags(&list(s, "signatures").await), [true]);
    }
);

// Key mode: a key sent with the bundle verifies it; only a key the
// namespace trusts makes it trusted.
both!(
    a_key_sent_verifies_but_only_the_namespace_trusts,
    async |s: &TestServer| {
        let trusted = PrivateKey::generate(provenant_attest::KeyAlgorithm::EcdsaP256).unwrap();
        let other = PrivateKey::generate(provenant_attest::KeyAlgorithm::EcdsaP256).unwrap();
        trust(s, &trusted.public_key().to_pem()).await;
        let (st, v) = s.publish(MODEL, FILES, json!({})).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let (st, v) = attach(
            s,
            "signatures",
            json!({"bundle": oms(FILES, &other, &[]), "public_key": other.public_key().to_pem()}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        assert_eq!(v["trusted"], false, "{v}");
        assert_eq!(v["fingerprint"], other.public_key().fingerprint().as_str());
        let (st, v) = attach(
            s,
            "signatures",
            json!({"bundle": oms(FILES, &trusted, &[])}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        assert_eq!(v["trusted"], true, "{v}");
        // A private key where a public key belongs is refused, never stored.
        let private = std::fs::read_to_string(pki("leaf.key.pem")).unwrap();
        let (st, v) = attach(
            s,
            "signatures",
            json!({"bundle": oms(FILES, &other, &[]), "public_key": private}),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        assert!(
            v["message"].as_str().unwrap().contains("private key"),
            "{v}"
        );
    }
);

// A trusted root must be a self-signed CA; private keys are refused.
both!(only_self_signed_cas_become_roots, async |s: &TestServer| {
    for (pem_text, expect) in [
        (pem("impostor-root.pem"), "not a CA"),
        (pem("intermediate.pem"), "not self-signed"),
        (pem("leaf.pem"), "not a CA"),
        (
            format!("{}{}", pem("root.pem"), pem("attacker-root.pem")),
            "one root",
        ),
        (pem("leaf.key.pem"), "private key"),
    ] {
        let (st, v) = s
            .json(
                Method::POST,
                "/api/v1/namespaces/aiops/keys",
                Some(json!({"public_key": pem_text})),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{expect}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains(expect),
            "{expect}: {v}"
        );
    }
    let (_, keys) = s
        .json(Method::GET, "/api/v1/namespaces/aiops/keys", None)
        .await;
    assert_eq!(keys.as_array().map(Vec::len), Some(0), "{keys}");
});

// A publish with attachments stores the version and all of them, or nothing.
both!(
    publish_with_attachments_is_all_or_nothing,
    async |s: &TestServer| {
        let signer = PrivateKey::generate(provenant_attest::KeyAlgorithm::EcdsaP256).unwrap();
        let stranger = PrivateKey::generate(provenant_attest::KeyAlgorithm::EcdsaP256).unwrap();
        let public = signer.public_key().to_pem();
        let root = root_hex(FILES);
        let good_sig = json!({"bundle": oms(FILES, &signer, &[]), "public_key": public});
        let good_sbom = json!({"bundle": sbom(&root, &signer, &[]), "public_key": public});
        let good_prov = json!({"bundle": provenance(&root, &signer, &[]), "public_key": public});
        let other: &[(&str, &[u8])] = &[("weights.bin", b"other weights")];
        let cases: Vec<(Vec<Value>, Value, &str)> = vec![
            // A signature over other files.
            (
                vec![
                    json!({"bundle": oms(other, &signer, &[]), "public_key": public}),
                    good_sbom.clone(),
                ],
                json!({}),
                "signature_mismatch",
            ),
            // An SBOM about another model, after a good signature.
            (
                vec![
                    good_sig.clone(),
                    json!({"bundle": sbom(&root_hex(other), &signer, &[]), "public_key": public}),
                ],
                json!({}),
                "invalid_attestation",
            ),
            // Provenance with no key sent and no key trusted by the namespace.
            (
                vec![
                    good_sig.clone(),
                    json!({"bundle": provenance(&root, &signer, &[])}),
                ],
                json!({}),
                "invalid_signature",
            ),
            // A bad signature (signed by a stranger, verified with our key).
            (
                vec![json!({"bundle": oms(FILES, &stranger, &[]), "public_key": public})],
                json!({}),
                "invalid_signature",
            ),
            // Validly signed, but the pipeline requires trust the namespace does not give.
            (
                vec![good_sig.clone(), good_sbom.clone(), good_prov.clone()],
                json!({"require_trusted": true}),
                "untrusted",
            ),
        ];
        for (attachments, extra, expect) in cases {
            let (st, v) = push(s, FILES, attachments, extra).await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{expect}: {v}");
            assert_eq!(code(&v), expect, "{v}");
            assert!(
                v["message"].as_str().unwrap().contains("attachments["),
                "{v}"
            );
            assert_eq!(s.version_count().await, 0, "{expect}: a version was left");
        }
        let (_, log) = s
            .json(Method::GET, "/api/v1/admin/log/events?limit=100", None)
            .await;
        assert_eq!(log.as_array().map(Vec::len), Some(0), "{log}");

        // Trusted, with every attachment: one version carrying all of them.
        trust(s, &public).await;
        let (st, v) = push(
            s,
            FILES,
            vec![good_sig, good_sbom, good_prov],
            json!({"require_trusted": true, "labels": {"stage": "candidate"}}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let version = &v["version"];
        assert_eq!(
            trusted_flags(version["signatures"].as_array().unwrap()),
            [true]
        );
        let kinds: Vec<&str> = version["attestations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds.len(), 2, "{v}");
        assert!(
            kinds.contains(&"sbom") && kinds.contains(&"provenance"),
            "{kinds:?}"
        );
        let (_, lineage) = s
            .json(
                Method::GET,
                &format!("/api/v1/models/{}/versions/1/lineage", enc(MODEL)),
                None,
            )
            .await;
        let upstream: Vec<&str> = lineage["upstream"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert!(
            upstream.contains(&"dataset") && upstream.contains(&"commit"),
            "{lineage}"
        );

        // The same content again with a new label: labels applied, not dropped.
        let (st, v) = push(s, FILES, vec![], json!({"labels": {"stage": "production"}})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["version"]["labels"]["stage"], "production", "{v}");
        assert_eq!(s.version_count().await, 1);
    }
);

// Labels and attachments have budgets: a version cannot be made to carry
// (and every read to re-verify) without bound.
both!(
    labels_and_attachments_have_budgets,
    async |s: &TestServer| {
        let many: serde_json::Map<String, Value> =
            (0..=64).map(|i| (format!("k{i}"), json!("v"))).collect();
        let (st, v) = push(s, FILES, vec![], json!({"labels": many})).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        assert!(v["message"].as_str().unwrap().contains("at most 64"), "{v}");
        let (st, v) = s.publish(MODEL, FILES, json!({})).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let (st, v) = s
            .json(
                Method::POST,
                &format!("/api/v1/models/{}/versions/1/labels", enc(MODEL)),
                Some(json!({"set": many, "remove": []})),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        let signer = PrivateKey::generate(provenant_attest::KeyAlgorithm::EcdsaP256).unwrap();
        let sig =
            json!({"bundle": oms(FILES, &signer, &[]), "public_key": signer.public_key().to_pem()});
        let (st, v) = push(s, FILES, vec![sig; 33], json!({})).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        assert!(v["message"].as_str().unwrap().contains("at most 32"), "{v}");
    }
);

//! The policy gate with the shipped policy library (`policies/`): pushes
//! to a gated namespace, promotions to a gated alias, `POST /api/v1/gate`
//! and the admission webhook with real-shaped AdmissionReviews of every
//! workload kind; every decision recorded, logged and covered by the audit
//! records; a policy change reloads and is logged.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use provenant_attest::{KeyAlgorithm, PrivateKey, Signer as _};
use provenant_server::GateConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::harness::{Backend, TestServer, enc};
use crate::permissions::{oms_bundle, root_hex, statement_bundle};

const MODEL: &str = "team-a/fraud-detector";
const PLACEHOLDER: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn dataset() -> String {
    format!("sha256:{}", "d".repeat(64))
}

/// Data that approves what the good version is made of: `key`'s
/// fingerprint, the local builder, the repository and dataset below.
fn data(key_fingerprint: &str) -> Value {
    json!({"provenant_config": {
        "trusted_identities": {"keys": [key_fingerprint], "certificates": []},
        "approved_builders": ["https://provenant.dev/builders/local"],
        "approved_repositories": ["https://git.example.com/team-a/*"],
        "require_signed_commits": false,
        "approved_datasets": {dataset(): {"name": "s3://data/train", "approved_by": "test"}},
        "blocking_severities": ["critical"],
        "allowed_licences": ["Apache-2.0", "MIT"],
        "licence_checked_environments": ["production"],
    }})
}

fn provenance_predicate() -> Value {
    let recipe = json!({
        "_type": "https://provenant.dev/recipe/v1",
        "datasets": [{"name": "train", "uri": "s3://data/train",
                      "digest": dataset(), "digestMethod": "oms-root-sha256"}],
        "source": {"repository": "https://git.example.com/team-a/fraud", "commit": "a".repeat(40),
                   "signature": {"status": "unsigned"}},
        "entrypoint": "train.py",
        "hyperparameters": {"lr": 0.01},
        "imageDigest": format!("sha256:{}", "e".repeat(64)),
    });
    let recipe = provenant_provenance::Recipe::from_json(recipe.to_string().as_bytes()).unwrap();
    serde_json::to_value(provenant_provenance::provenance_from_recipe(&recipe)).unwrap()
}

fn files(n: u8) -> Vec<(String, Vec<u8>)> {
    vec![
        (
            "weights.bin".to_owned(),
            format!("fraud weights v{n}").into_bytes(),
        ),
        (
            "config.json".to_owned(),
            format!("{{\"v\":{n}}}").into_bytes(),
        ),
    ]
}

struct Gated {
    key: PrivateKey,
    data_file: PathBuf,
}

async fn start(backend: Backend) -> Option<(TestServer, Gated)> {
    let key = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let dir = tempfile::tempdir().unwrap().keep();
    let data_file = dir.join("data.json");
    std::fs::write(
        &data_file,
        data(&key.public_key().fingerprint()).to_string(),
    )
    .unwrap();
    let gate = GateConfig {
        policy_dir: Some(workspace().join("policies")),
        data_files: vec![data_file.clone()],
        ingest: vec!["gated".into()],
        promote: vec!["production".into()],
        reload_interval: Duration::from_millis(100),
        admission_environment: Some("production".into()),
        admission_cluster: Some("c1".into()),
        ..GateConfig::default()
    };
    let s = TestServer::start_with_gate(backend, gate).await?;
    Some((s, Gated { key, data_file }))
}

/// Publishes `model` version `n` with a signature, provenance (signed by
/// `key`) and licence `license`; returns its digest.
async fn publish_good(
    s: &TestServer,
    key: &PrivateKey,
    model: &str,
    n: u8,
    license: &str,
) -> (StatusCode, Value) {
    let fs = files(n);
    let mut list = Vec::new();
    for (path, data) in &fs {
        let digest = s.upload(data).await;
        list.push(json!({"path": path, "digest": digest, "size": data.len()}));
    }
    let pem = key.public_key().to_pem();
    let body = json!({
        "files": list,
        "metadata": {"framework": "pytorch", "license": license},
        "attachments": [
            {"bundle": oms_bundle(&fs, key), "public_key": pem},
            {"bundle": statement_bundle(model, &root_hex(&fs), "https://slsa.dev/provenance/v1",
                                        provenance_predicate(), key), "public_key": pem},
        ],
    });
    s.json(
        Method::POST,
        &format!("/api/v1/models/{}/versions", enc(model)),
        Some(body),
    )
    .await
}

async fn trust(s: &TestServer, ns: &str, key: &PrivateKey) {
    let (st, v) = s
        .json(
            Method::POST,
            &format!("/api/v1/namespaces/{ns}/keys"),
            Some(json!({"public_key": key.public_key().to_pem(), "comment": "release"})),
        )
        .await;
    assert!(st.is_success(), "{v}");
}

async fn gate(s: &TestServer, reference: &str, body: Value) -> Value {
    let (st, v) = s
        .json(
            Method::POST,
            &format!("/api/v1/gate?ref={}", enc(reference)),
            Some(body),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v
}

fn deny_ids(decision: &Value) -> Vec<String> {
    decision["decision"]["deny"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let id = d["id"].as_str().unwrap_or("");
            id.split(':').next().unwrap_or("").to_owned()
        })
        .collect()
}

async fn admission(s: &TestServer, fixture: &str, digest: &str) -> (StatusCode, Value) {
    let text = std::fs::read_to_string(workspace().join("testdata/admission").join(fixture))
        .unwrap()
        .replace(PLACEHOLDER, digest);
    let resp = s
        .req(Method::POST, "/admission")
        .header("content-type", "application/json")
        .body(text)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// One body on both backends (the gate's data file and key are the
/// body's to change, so this case opens its own server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_decides_on_sqlite() {
    if let Some((s, g)) = start(Backend::Sqlite).await {
        the_gate_decides(&s, &g).await;
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_decides_on_postgres() {
    if let Some((s, g)) = start(Backend::Postgres).await {
        the_gate_decides(&s, &g).await;
        s.stop().await;
    }
}

/// Pushes, promotions, deployments and admissions decided by the shipped
/// policies.
async fn the_gate_decides(s: &TestServer, g: &Gated) {
    // A push to a gated namespace that the policies deny publishes nothing.
    let (st, v) = s
        .publish("gated/m", &[("w.bin", b"unsigned weights")], json!({}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["code"], "policy_denied", "{v}");
    let ids: Vec<&str> = v["decision"]["decision"]["deny"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert!(ids.contains(&"unsigned"), "{v}");
    assert!(ids.contains(&"missing_provenance"), "{v}");
    assert_eq!(v["decision"]["action"], "ingest");
    assert_eq!(
        s.version_count().await,
        0,
        "a denied push publishes nothing"
    );

    // The good one passes the gate at ingestion.
    trust(s, "gated", &g.key).await;
    let (st, v) = publish_good(s, &g.key, "gated/m", 1, "apache-2.0").await;
    assert_eq!(st, StatusCode::CREATED, "{v}");

    // Deployment: the good version by digest is allowed.
    trust(s, "team-a", &g.key).await;
    let (st, good) = publish_good(s, &g.key, MODEL, 1, "apache-2.0").await;
    assert_eq!(st, StatusCode::CREATED, "{good}");
    let digest = good["version"]["digest"].as_str().unwrap().to_owned();
    let pinned = format!("{MODEL}@{digest}");
    let d = gate(s, &pinned, json!({"target": {"environment": "production"}})).await;
    assert_eq!(d["decision"]["allowed"], true, "{d}");
    assert_eq!(d["decision"]["decision"], "allow");
    let set = d["decision"]["policy_set"].as_str().unwrap().to_owned();
    assert!(set.starts_with("sha256:"), "{d}");
    // The same question again is answered from the cache.
    let again = gate(s, &pinned, json!({"target": {"environment": "production"}})).await;
    assert_eq!(again["cached"], true, "{again}");
    assert_eq!(again["id"], d["id"]);
    // By number: a mutable reference.
    let by_number = gate(s, &format!("{MODEL}:1"), json!({})).await;
    assert_eq!(
        deny_ids(&by_number),
        vec!["mutable_reference"],
        "{by_number}"
    );

    // An unsigned version, one signed by a key the namespace does not
    // trust, and a non-commercial licence in production.
    let (_, unsigned) = s
        .publish(MODEL, &[("w.bin", b"other weights")], json!({}))
        .await;
    let d = gate(
        s,
        &format!(
            "{MODEL}@{}",
            unsigned["version"]["digest"].as_str().unwrap()
        ),
        json!({}),
    )
    .await;
    assert!(deny_ids(&d).contains(&"unsigned".to_owned()), "{d}");
    let stranger = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let (st, v) = publish_good(s, &stranger, MODEL, 2, "apache-2.0").await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let d = gate(
        s,
        &format!("{MODEL}@{}", v["version"]["digest"].as_str().unwrap()),
        json!({}),
    )
    .await;
    assert!(deny_ids(&d).contains(&"untrusted_signer".to_owned()), "{d}");
    let (st, nc) = publish_good(s, &g.key, MODEL, 3, "cc-by-nc-4.0").await;
    assert_eq!(st, StatusCode::CREATED, "{nc}");
    let nc_ref = format!("{MODEL}@{}", nc["version"]["digest"].as_str().unwrap());
    let d = gate(s, &nc_ref, json!({"target": {"environment": "production"}})).await;
    assert_eq!(deny_ids(&d), vec!["licence_not_allowed"], "{d}");
    let d = gate(s, &nc_ref, json!({"target": {"environment": "staging"}})).await;
    assert_eq!(d["decision"]["allowed"], true, "{d}");

    // Promotion to the gated alias: refused for the non-commercial
    // version, allowed for the good one; other aliases are not gated.
    let alias = format!("/api/v1/models/{}/aliases/production", enc(MODEL));
    let (st, v) = s
        .json(
            Method::PUT,
            &alias,
            Some(json!({"version": nc["version"]["number"]})),
        )
        .await;
    assert_eq!(
        (st, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("policy_denied")),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("licence"), "{v}");
    let (st, v) = s
        .json(Method::PUT, &alias, Some(json!({"version": 1})))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = s
        .json(
            Method::PUT,
            &format!("/api/v1/models/{}/aliases/canary", enc(MODEL)),
            Some(json!({"version": nc["version"]["number"]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");

    // The input document names what the gate saw.
    let (st, input) = s
        .json(
            Method::GET,
            &format!(
                "/api/v1/policy/input?ref={}&action=deploy&env=production",
                enc(&pinned)
            ),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{input}");
    assert_eq!(input["artifact"]["pinned"], true);
    assert_eq!(input["artifact"]["aliases"], json!(["production"]));
    assert_eq!(input["signatures"][0]["trusted"], true);
    assert_eq!(input["provenance"]["datasets"][0]["digest"], dataset());
    assert_eq!(input["target"]["environment"], "production");
    let (st, schema) = s
        .json(Method::GET, "/api/v1/schemas/policy-input.json", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(schema.is_object(), "{schema}");

    // Admission reviews of every workload kind naming the good version.
    for fixture in [
        "pod.json",
        "deployment.json",
        "statefulset.json",
        "daemonset.json",
        "replicaset.json",
        "replicationcontroller.json",
        "job.json",
        "cronjob.json",
    ] {
        let (st, v) = admission(s, fixture, &digest).await;
        assert_eq!(st, StatusCode::OK, "{fixture}: {v}");
        assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(v["kind"], "AdmissionReview");
        assert!(
            v["response"]["uid"].as_str().is_some_and(|u| !u.is_empty()),
            "{v}"
        );
        assert_eq!(v["response"]["allowed"], true, "{fixture}: {v}");
    }
    let deployment =
        std::fs::read_to_string(workspace().join("testdata/admission/deployment.json")).unwrap();
    let uid = serde_json::from_str::<Value>(&deployment).unwrap()["request"]["uid"].clone();
    let (_, v) = admission(s, "deployment.json", &digest).await;
    assert_eq!(v["response"]["uid"], uid, "the answer echoes request.uid");
    // ... and the bad ones, each denied with a message.
    for (fixture, says) in [
        ("pod-no-digest.json", "digest"),
        ("pod-mutable-model.json", ""),
        ("pod-malformed-annotation.json", "malformed"),
        ("pod-no-annotation.json", "names no model"),
        ("service.json", "Service"),
    ] {
        let (st, v) = admission(s, fixture, &digest).await;
        assert_eq!(st, StatusCode::OK, "{fixture}: {v}");
        assert_eq!(v["response"]["allowed"], false, "{fixture}: {v}");
        let message = v["response"]["status"]["message"].as_str().unwrap_or("");
        assert!(
            message.contains(says) && !message.is_empty(),
            "{fixture}: {v}"
        );
    }
    // A model that does not exist, and a non-commercial one in production.
    let (_, v) = admission(s, "pod.json", &format!("sha256:{}", "1".repeat(64))).await;
    assert_eq!(v["response"]["allowed"], false, "{v}");
    assert!(
        v["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("not in the registry"),
        "{v}"
    );
    let (_, v) = admission(s, "pod.json", nc["version"]["digest"].as_str().unwrap()).await;
    assert_eq!(v["response"]["allowed"], false, "{v}");
    // A delete has nothing to check.
    let (_, v) = admission(s, "deployment-delete.json", &digest).await;
    assert_eq!(v["response"]["allowed"], true, "{v}");
    // Not a review at all: 400, never an allow.
    let resp = s
        .req(Method::POST, "/admission")
        .header("content-type", "application/json")
        .body("{\"kind\": \"AdmissionReview\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Without a credential: 401 (the apiserver fails closed).
    let resp = s
        .http
        .post(format!("{}/admission", s.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Deprecated versions are refused for deployment.
    let (st, v) = s
        .json(
            Method::POST,
            &format!(
                "/api/v1/models/{}/versions/{}/deprecate",
                enc(MODEL),
                nc["version"]["number"]
            ),
            Some(json!({"reason": "licence"})),
        )
        .await;
    assert!(st.is_success(), "{v}");
    let d = gate(s, &nc_ref, json!({"target": {"environment": "staging"}})).await;
    assert_eq!(deny_ids(&d), vec!["deprecated_version"], "{d}");

    // Every decision about the good version is recorded, newest first.
    let (st, list) = s
        .json(
            Method::GET,
            &format!("/api/v1/decisions?ref={}", enc(&pinned)),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{list}");
    let list = list.as_array().unwrap();
    assert!(list.len() >= 3, "{list:?}");
    assert!(list.iter().any(|d| d["action"] == "promote"), "{list:?}");
    assert!(
        list.iter()
            .any(|d| d["action"] == "deploy"
                && d["decided_by"].as_str().unwrap().contains("admission")),
        "{list:?}"
    );

    // ... and logged: the audit records of every decision and the
    // policy set carry a log index once sequenced.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, records) = s.json(Method::GET, "/api/v1/admin/log/records", None).await;
        let records = records.as_array().cloned().unwrap_or_default();
        let ours: Vec<&Value> = records
            .iter()
            .filter(|r| r["source"] == "policy_decisions" || r["source"] == "policy_sets")
            .collect();
        let decisions = ours
            .iter()
            .filter(|r| r["source"] == "policy_decisions")
            .count();
        if decisions > 0 && ours.iter().all(|r| r["log_index"].is_i64()) {
            assert!(
                ours.iter().any(|r| r["source"] == "policy_sets"),
                "{ours:?}"
            );
            assert!(
                ours.iter().any(|r| r["type"] == "policy.decision"),
                "{ours:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "decisions not logged: {ours:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A policy change is reloaded (and logged): the key no longer
    // allowed, the good version is denied under the new set.
    std::fs::write(&g.data_file, data("sha256:0000").to_string()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, view) = s.json(Method::GET, "/api/v1/policies", None).await;
        if view["digest"].as_str() != Some(set.as_str()) {
            assert_eq!(view["configured"], true);
            break;
        }
        assert!(Instant::now() < deadline, "policy set not reloaded: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let d = gate(s, &pinned, json!({"target": {"environment": "production"}})).await;
    assert_eq!(d["cached"], false, "{d}");
    assert_eq!(deny_ids(&d), vec!["identity_not_allowed"], "{d}");
}

both!(
    without_policies_every_gate_decision_is_a_deny,
    async |s: &TestServer| {
        let (st, v) = s
            .publish("team/m", &[("w.bin", b"weights")], json!({}))
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let digest = v["version"]["digest"].as_str().unwrap();
        let d = gate(s, &format!("team/m@{digest}"), json!({})).await;
        assert_eq!(d["decision"]["allowed"], false, "{d}");
        assert_eq!(d["decision"]["policy_set"], Value::Null, "{d}");
        assert!(
            d["decision"]["deny"][0]["message"]
                .as_str()
                .unwrap()
                .contains("no policy set"),
            "{d}"
        );
        let (_, v) = s.json(Method::GET, "/api/v1/policies", None).await;
        assert_eq!(v["configured"], false, "{v}");
        // What a caller sends is bounded before anything is decided.
        let reference = enc(&format!("team/m@{digest}"));
        for (body, field) in [
            (
                json!({"target": {"environment": "e".repeat(254)}}),
                "target.environment",
            ),
            (
                json!({"target": {"images": (0..65).map(|i| json!({"image": format!("i{i}"), "digest": null})).collect::<Vec<_>>()}}),
                "target.images",
            ),
            (json!({"target": {"clusters": "x"}}), "clusters"),
        ] {
            let (st, v) = s
                .json(
                    Method::POST,
                    &format!("/api/v1/gate?ref={reference}"),
                    Some(body),
                )
                .await;
            assert!(st.is_client_error(), "{v}");
            assert!(
                v["message"].as_str().unwrap().contains(field),
                "{field}: {v}"
            );
        }
    }
);

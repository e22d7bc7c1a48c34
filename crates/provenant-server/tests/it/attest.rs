//! Attestations (signed SBOMs), server-side vulnerability scanning and findings.

use provenant_attest::{KeyAlgorithm, PrivateKey, Signer as _, Statement, Subject};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::harness::{TestServer, enc};

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("<no code>")
}

fn cyclonedx(components: &[(&str, &str)]) -> Value {
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "components": components.iter().map(|(name, version)| json!({
            "type": "library",
            "bom-ref": format!("pkg:pypi/{name}@{version}"),
            "name": name,
            "version": version,
            "purl": format!("pkg:pypi/{name}@{version}"),
        })).collect::<Vec<_>>(),
    })
}

fn spdx() -> Value {
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "demo",
        "documentNamespace": "https://example.com/demo",
        "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: test"]},
        "packages": [{
            "SPDXID": "SPDXRef-Package-demo",
            "name": "demo",
            "versionInfo": "1.0",
            "downloadLocation": "NOASSERTION",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:pypi/demo@1.0"}]
        }]
    })
}

/// A bundle (as JSON) signing `predicate` about `subject_hex`.
fn bundle(key: &PrivateKey, subject_hex: &str, predicate_type: &str, predicate: Value) -> Value {
    let st = Statement::new(
        vec![Subject::sha256("ns/model", subject_hex)],
        predicate_type,
        predicate,
    );
    let b = provenant_attest::sign_statement(&st, key, &[]).unwrap();
    serde_json::from_str(&b.to_json()).unwrap()
}

/// OSV record: `demo` affected from 0 until `fixed`, with a critical CVSS v3.1 vector.
fn osv(id: &str, modified: &str, fixed: &str) -> Value {
    json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": modified,
        "aliases": [format!("CVE-2099-{}", &id[id.len() - 4..])],
        "summary": "remote code execution in demo",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": "demo"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
        }]
    })
}

async fn attestations(s: &TestServer, model: &str, n: i64) -> Vec<Value> {
    let (status, list) = s
        .json(
            Method::GET,
            &format!("/api/v1/models/{}/versions/{n}/attestations", enc(model)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array().unwrap().clone()
}

both!(sbom_attestations_and_findings, async |s: &TestServer| {
    let (status, v) = s
        .publish(
            "sec/app",
            &[("model.bin", b"weights"), ("cfg.json", b"{}")],
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let manifest_hex = v["version"]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let files: Vec<(String, provenant_digest::Digest)> = v["version"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["digest"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    let root = provenant_registry::oms_root_digest(files.iter().map(|(p, d)| (p.as_str(), d)))
        .unwrap()
        .hex();
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let public = key.public_key().to_pem();
    let path = format!("/api/v1/models/{}/versions/1/attestations", enc("sec/app"));
    let post = |b: Value, k: &str| {
        s.json(
            Method::POST,
            &path,
            Some(json!({"bundle": b, "public_key": k})),
        )
    };

    // Refused, each naming what is wrong, and nothing stored.
    let other = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let good = bundle(
        &key,
        &root,
        "https://cyclonedx.org/bom",
        cyclonedx(&[("demo", "1.0")]),
    );
    let cases = [
        (
            post(good.clone(), &other.public_key().to_pem()).await,
            "given key",
        ),
        (
            post(
                bundle(
                    &key,
                    &"ab".repeat(32),
                    "https://cyclonedx.org/bom",
                    cyclonedx(&[]),
                ),
                &public,
            )
            .await,
            "payload.subject",
        ),
        (
            post(
                bundle(&key, &root, "https://example.com/custom/v1", json!({})),
                &public,
            )
            .await,
            "payload.predicateType",
        ),
        (
            post(
                bundle(&key, &root, "https://cyclonedx.org/bom", spdx()),
                &public,
            )
            .await,
            "payload.predicateType",
        ),
        (
            post(
                bundle(
                    &key,
                    &root,
                    "https://cyclonedx.org/bom",
                    json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": "none"}),
                ),
                &public,
            )
            .await,
            "payload.predicate",
        ),
    ];
    for ((status, body), needle) in cases {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            code(&body) == "invalid_attestation" || code(&body) == "invalid_signature",
            "{body}"
        );
        assert!(
            body["message"].as_str().unwrap().contains(needle),
            "{needle}: {body}"
        );
    }
    assert!(attestations(s, "sec/app", 1).await.is_empty());

    // Accepted: by OMS root digest (CycloneDX) and by manifest digest (SPDX).
    let (status, a) = post(good.clone(), &public).await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    assert_eq!(a["kind"], "sbom");
    assert_eq!(a["summary"]["format"], "cyclonedx-json");
    assert_eq!(a["summary"]["components"], 1);
    assert_eq!(a["trusted"], false);
    let (status, again) = post(good.clone(), &public).await;
    assert_eq!(status, StatusCode::OK, "same bytes: already attached");
    assert_eq!(again["digest"], a["digest"]);
    let (status, b) = post(
        bundle(
            &key,
            &manifest_hex,
            "https://spdx.dev/Document/v2.3",
            spdx(),
        ),
        &public,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    assert_eq!(b["summary"]["format"], "spdx-json");
    let list = attestations(s, "sec/app", 1).await;
    assert_eq!(list.len(), 2);
    let (_, shown) = s
        .json(
            Method::GET,
            &format!("/api/v1/models/{}/versions/1", enc("sec/app")),
            None,
        )
        .await;
    assert_eq!(shown["attestations"].as_array().unwrap().len(), 2);
    // The stored bundle comes back byte for byte.
    let resp = s
        .req(
            Method::GET,
            &format!("{path}/{}", a["digest"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let back: Value = resp.json().await.unwrap();
    assert_eq!(back, good);

    // Scanned on attach, but the database is empty.
    let findings_path = format!("/api/v1/models/{}/versions/1/findings", enc("sec/app"));
    let (_, f) = s.json(Method::GET, &findings_path, None).await;
    assert_eq!(f["scanned"], true, "{f}");
    assert_eq!(f["findings"].as_array().unwrap().len(), 0);

    // An import re-scans: demo 1.0 < fixed 1.1 is affected (in both SBOMs, one finding).
    let (status, r) = s
        .json(
            Method::POST,
            "/api/v1/vulndb/import",
            Some(json!({"source": "test-db", "records": [
                osv("PYSEC-2099-0001", "2026-01-01T00:00:00Z", "1.1"),
                osv("PYSEC-2099-0002", "2026-01-01T00:00:00Z", "1.0"),
                {"id": "BROKEN-1", "modified": "not a time"},
            ]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["added"], 2, "{r}");
    assert_eq!(r["rescanned"], 1);
    assert_eq!(r["new_findings"], 1);
    let issues = r["issues"].as_array().unwrap();
    assert!(
        issues.len() == 1 && issues[0].as_str().unwrap().contains("BROKEN-1"),
        "{r}"
    );
    let (_, f) = s.json(Method::GET, &findings_path, None).await;
    let list = f["findings"].as_array().unwrap();
    assert_eq!(list.len(), 1, "1.0 is exactly `fixed` for 0002: {f}");
    let first = &list[0];
    assert_eq!(first["finding"]["id"], "PYSEC-2099-0001");
    assert_eq!(first["finding"]["severity"]["level"], "critical");
    assert_eq!(first["finding"]["installed_version"], "1.0");
    let first_seen = first["first_seen"].as_str().unwrap().to_owned();

    // Importing the same content changes nothing and keeps first-seen.
    let (_, r) = s
        .json(
            Method::POST,
            "/api/v1/vulndb/import",
            Some(json!({"source": "test-db", "records": [
                osv("PYSEC-2099-0001", "2026-01-01T00:00:00Z", "1.1"),
                osv("PYSEC-2099-0002", "2026-01-01T00:00:00Z", "1.0"),
            ]})),
        )
        .await;
    assert_eq!(
        (r["added"].as_u64(), r["rescanned"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );

    // A newer record narrows the range: the finding is resolved, kept with its history.
    let (_, r) = s
        .json(
            Method::POST,
            "/api/v1/vulndb/import",
            Some(json!({"source": "test-db", "records": [
                osv("PYSEC-2099-0001", "2026-02-01T00:00:00Z", "0.9"),
                osv("PYSEC-2099-0002", "2026-01-01T00:00:00Z", "1.0"),
            ]})),
        )
        .await;
    assert_eq!(r["updated"], 1, "{r}");
    let (_, f) = s.json(Method::GET, &findings_path, None).await;
    assert!(f["findings"].as_array().unwrap().is_empty(), "{f}");
    let (_, f) = s
        .json(Method::GET, &format!("{findings_path}?resolved=true"), None)
        .await;
    let list = f["findings"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{f}");
    assert!(list[0]["resolved_at"].is_string(), "{f}");
    assert_eq!(list[0]["first_seen"], first_seen.as_str());

    let (_, st) = s.json(Method::GET, "/api/v1/vulndb", None).await;
    assert_eq!(st["records"], 2, "{st}");
    assert_eq!(
        st["generation"], 2,
        "two imports changed the database: {st}"
    );

    // A bad import names the problem and changes nothing.
    let (status, e) = s
        .json(
            Method::POST,
            "/api/v1/vulndb/import",
            Some(json!({"source": " ", "records": []})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(code(&e), "invalid_vulndb");
    let (_, st) = s.json(Method::GET, "/api/v1/vulndb", None).await;
    assert_eq!(st["generation"], 2);
});

/// `vulndb_watch`: the server imports a directory it watches and re-scans.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watched_directory_is_imported_and_rescanned() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let watch = dir.path().join("osv");
    std::fs::create_dir_all(&watch).unwrap();
    let mut config =
        provenant_server::ServeConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("data"));
    config.vulndb_watch = Some(watch.clone());
    config.vulndb_watch_interval = std::time::Duration::from_millis(200);
    let running = provenant_server::start(config, false).await.unwrap();
    let base = format!("http://{}", running.addr);
    let token = running.new_admin_token.clone().unwrap();
    let http = reqwest::Client::new();
    let get = |path: String| {
        let (http, token) = (http.clone(), token.clone());
        async move {
            http.get(path)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    // Publish a version and attach an SBOM with demo 1.0.
    let data = b"weights".to_vec();
    let digest = crate::harness::sha(&data);
    let st: Value = http
        .post(format!("{base}/api/v1/uploads"))
        .bearer_auth(&token)
        .json(&json!({"digest": digest, "size": data.len()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = http
        .patch(format!(
            "{base}/api/v1/uploads/{}",
            st["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .header("Upload-Offset", "0")
        .body(data)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let resp = http
        .post(format!("{base}/api/v1/models/w%2Fm/versions"))
        .bearer_auth(&token)
        .json(&json!({"files": [{"path": "m.bin", "digest": digest, "size": 7}], "metadata": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let root = provenant_registry::oms_root_digest([("m.bin", &digest.parse().unwrap())])
        .unwrap()
        .hex();
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let resp = http
        .post(format!("{base}/api/v1/models/w%2Fm/versions/1/attestations"))
        .bearer_auth(&token)
        .json(&json!({
            "bundle": bundle(&key, &root, "https://cyclonedx.org/bom", cyclonedx(&[("demo", "1.0")])),
            "public_key": key.public_key().to_pem(),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);

    // A record appears in the watched directory: imported, re-scanned, found.
    std::fs::write(
        watch.join("PYSEC-2099-0001.json"),
        osv("PYSEC-2099-0001", "2026-01-01T00:00:00Z", "1.1").to_string(),
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let f = get(format!("{base}/api/v1/models/w%2Fm/versions/1/findings")).await;
        if f["findings"].as_array().is_some_and(|l| !l.is_empty()) {
            assert_eq!(f["findings"][0]["finding"]["id"], "PYSEC-2099-0001");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never re-scanned: {f}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let st = get(format!("{base}/api/v1/vulndb")).await;
    assert_eq!(st["updated_by"], "vulndb-watch", "{st}");
    running.shutdown().await.unwrap();
}

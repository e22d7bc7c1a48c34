//! The error boundary: the codes the OpenAPI document publishes, the ones
//! the documentation lists and `ErrorCode` are the same; one failure has one
//! code on every route; server faults answer 500 `internal` without detail.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use provenant_api::ErrorCode;
use provenant_attest::{KeyAlgorithm, PrivateKey, Signer as _, Statement, Subject};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::harness::{Backend, TestServer, enc};

const MODEL: &str = "errors/model";
const FILES: &[(&str, &[u8])] = &[("weights.bin", b"error weights")];

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("<no code>")
}

fn enum_codes() -> BTreeSet<String> {
    ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The codes of the error-code table: the table after `<!-- error-codes -->`
/// in the one document (README.md or docs/*.md) that has the marker.
fn documented_codes() -> BTreeSet<String> {
    let mut docs = vec![workspace().join("README.md")];
    if let Ok(dir) = std::fs::read_dir(workspace().join("docs")) {
        docs.extend(
            dir.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "md")),
        );
    }
    let marked: Vec<(PathBuf, String)> = docs
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .filter(|(_, text)| text.contains("<!-- error-codes -->"))
        .collect();
    assert_eq!(
        marked.len(),
        1,
        "exactly one document holds the error-code table: {:?}",
        marked.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    let (path, text) = &marked[0];
    let after = text.split("<!-- error-codes -->").nth(1).unwrap();
    let rows: Vec<&str> = after
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .collect();
    assert!(!rows.is_empty(), "no table after the marker in {path:?}");
    rows.iter()
        .map(|row| {
            let first = row.split('|').nth(1).unwrap().trim();
            first
                .strip_prefix('`')
                .and_then(|c| c.strip_suffix('`'))
                .unwrap_or_else(|| panic!("{path:?}: first cell {first:?} is not a `code`"))
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn openapi_docs_and_enum_agree() {
    let s = TestServer::start(Backend::Sqlite).await.unwrap();
    let doc: Value = s
        .http
        .get(format!("{}/api/v1/openapi.json", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &doc["components"]["schemas"];
    let published: BTreeSet<String> = schemas["ErrorCode"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("no ErrorCode enum: {}", schemas["ErrorCode"]))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(published, enum_codes(), "OpenAPI enum vs ErrorCode");
    assert_eq!(
        schemas["ErrorBody"]["properties"]["code"]["$ref"], "#/components/schemas/ErrorCode",
        "{}",
        schemas["ErrorBody"]
    );
    let documented = documented_codes();
    assert_eq!(
        documented.len(),
        ErrorCode::ALL.len(),
        "a code is listed twice in the table"
    );
    assert_eq!(documented, enum_codes(), "documented table vs ErrorCode");
    s.stop().await;
}

// Removing a key the namespace does not trust is 404 (it was 400).
both!(key_not_found_is_404, async |s: &TestServer| {
    let fingerprint = format!("sha256:{}", "ab".repeat(32));
    let (status, body) = s
        .json(
            Method::DELETE,
            &format!("/api/v1/namespaces/errors/keys/{fingerprint}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(code(&body), "key_not_found", "{body}");
});

fn sbom_bundle(signer: &PrivateKey) -> Value {
    let root = {
        let d: Vec<(String, provenant_digest::Digest)> = FILES
            .iter()
            .map(|(p, b)| ((*p).to_owned(), crate::harness::sha(b).parse().unwrap()))
            .collect();
        provenant_registry::oms_root_digest(d.iter().map(|(p, d)| (p.as_str(), d)))
            .unwrap()
            .hex()
    };
    let st = Statement::new(
        vec![Subject::sha256(MODEL, root)],
        "https://cyclonedx.org/bom",
        json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": []}),
    );
    let b = provenant_attest::sign_statement(&st, signer, &[]).unwrap();
    serde_json::from_str(&b.to_json()).unwrap()
}

// One failure, one code, whichever route it reaches: a bundle that does not
// parse is `invalid_bundle`, a signature that does not verify is
// `invalid_signature`, a statement of a kind the route does not take is
// `invalid_attestation`.
both!(
    one_failure_one_code_on_every_route,
    async |s: &TestServer| {
        let (st, v) = s.publish(MODEL, FILES, json!({})).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let signer = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let stranger = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let public = signer.public_key().to_pem();
        let routes = ["signatures", "attestations", "provenance"];
        let post = async |route: &str, body: Value| {
            s.json(
                Method::POST,
                &format!("/api/v1/models/{}/versions/1/{route}", enc(MODEL)),
                Some(body),
            )
            .await
        };
        for route in routes {
            let (status, body) = post(route, json!({"bundle": {"mediaType": 1}})).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{route}: {body}");
            assert_eq!(code(&body), "invalid_bundle", "{route}: {body}");
            assert!(
                body["message"].as_str().unwrap().contains("mediaType"),
                "{route}: {body}"
            );
        }
        // Signed by a stranger, checked with our key: the signature.
        let (status, body) = post(
            "attestations",
            json!({"bundle": sbom_bundle(&stranger), "public_key": public}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(code(&body), "invalid_signature", "{body}");
        // A validly signed SBOM where a signature belongs.
        let (status, body) = post(
            "signatures",
            json!({"bundle": sbom_bundle(&signer), "public_key": public}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(code(&body), "invalid_attestation", "{body}");
        // The same malformed bundle sent with a publish.
        let digest = s.upload(FILES[0].1).await;
        let (status, body) = s
            .json(
                Method::POST,
                &format!("/api/v1/models/{}/versions", enc(MODEL)),
                Some(json!({
                    "files": [{"path": FILES[0].0, "digest": digest, "size": FILES[0].1.len()}],
                    "attachments": [{"bundle": {"mediaType": 1}}],
                })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(code(&body), "invalid_bundle", "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("attachments[0]"),
            "{body}"
        );
    }
);

// A stored OSV record the server cannot read back is its own fault: 500
// `internal`, with no detail for the client (it was 400 `invalid_vulndb`).
// SQLite only: the test writes the record straight into the database file.
#[tokio::test]
async fn unreadable_stored_record_is_500_internal() {
    let s = TestServer::start(Backend::Sqlite).await.unwrap();
    let store = provenant_store::Store::open_sqlite(&s.dir.path().join("data/meta.db"))
        .await
        .unwrap();
    store
        .osv_replace(
            &[provenant_store::OsvRow {
                id: "GHSA-xxxx-xxxx-xxxx".into(),
                source: "corrupt".into(),
                modified: "2026-01-01T00:00:00Z".into(),
                record: "{not json".into(),
            }],
            "test",
        )
        .await
        .unwrap();
    store.close().await;
    let (status, body) = s
        .json(
            Method::POST,
            "/api/v1/vulndb/import",
            Some(json!({"source": "osv", "records": []})),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(code(&body), "internal", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        !message.contains("GHSA") && !message.contains("not json"),
        "the detail reached the client: {body}"
    );
    s.stop().await;
}

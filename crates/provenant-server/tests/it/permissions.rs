//! The permission matrix, walked (issue 17): every route the server lists at
//! `GET /api/v1/permissions` is sent without a token and as every role, on
//! SQLite and PostgreSQL, and answered as the matrix says; the matrix is
//! compared with the OpenAPI document and with the router. Then the access
//! controls around it: filtered listings, hidden blobs, scoped, revoked and
//! expired tokens, and the access trail that records denials and failures.
//!
//! The cast, with roles in namespace `team` unless said otherwise: `viewer`,
//! `publisher`, `maintainer`, `auditor`, `nobody` (no role), `star-auditor`
//! (auditor in `*`), `root` (a global administrator made through the API),
//! and `bystander` (no token: the target of the role routes). Both `team`
//! and `other` hold a model `m` with two versions, a signature, an SBOM
//! attestation, provenance, a trusted key and an alias.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use provenant_api::{NamespaceRole, Permission, PermissionMatrix, RoutePermission};
use provenant_attest::{KeyAlgorithm, PrivateKey, Signer as _, Statement, Subject};
use provenant_server::Limits;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::harness::{Backend, TestServer, enc, sha};

const TEAM: &str = "team";
const OTHER: &str = "other";

/// The namespace a grant in every namespace names.
const STAR: &str = "*";

/// Routes that name their namespace in a `ref` query parameter rather than
/// in their path.
const QUERY_REF_ROUTES: &[&str] = &[
    "/api/v1/log/versions",
    "/api/v1/resolve",
    "/api/v1/gate",
    "/api/v1/policy/input",
    "/api/v1/decisions",
];

/// Routes whose template the matrix and the OpenAPI document (and the
/// router) spell differently: the router serves the C2SP tiles under one
/// catch-all (`/log/tile/{*path}`, which OpenAPI writes `{path}`), and the
/// matrix writes the tile's parts as C2SP does. Matrix template first.
const SAME_ROUTE: &[(&str, &str)] = &[
    ("/log/tile/{level}/{index}", "/log/tile/{path}"),
    ("/log/tile/entries/{index}", "/log/tile/entries/{path}"),
];

/// Routes the router serves that the OpenAPI document leaves out, each for
/// a stated reason (the comparison reports them, and fails on any other).
const NOT_IN_OPENAPI: &[(&str, &str, &str)] = &[(
    "GET",
    "/api/v1/openapi.json",
    "the document does not describe itself",
)];

/// Roles in namespaces: (namespace or `*`, role).
type Grants = Vec<(&'static str, NamespaceRole)>;

/// The principals the walk sends requests as: name, global admin, grants.
fn cast() -> Vec<(&'static str, bool, Grants)> {
    use NamespaceRole::*;
    vec![
        ("viewer", false, vec![(TEAM, Viewer)]),
        ("publisher", false, vec![(TEAM, Publisher)]),
        ("maintainer", false, vec![(TEAM, Maintainer)]),
        ("auditor", false, vec![(TEAM, Auditor)]),
        ("nobody", false, vec![]),
        ("star-auditor", false, vec![(STAR, Auditor)]),
        ("root", true, vec![]),
    ]
}

/// The walk sends a few hundred requests without a token, each an
/// authentication failure that the per-address limiter counts; the server
/// runs with a burst no walk reaches, so that the limiter (tested by the
/// binary's tests) does not answer for the matrix.
fn walk_server() -> impl AsyncFnOnce(Backend) -> Option<(TestServer, ())> {
    async move |backend| {
        let limits = Limits {
            auth_failure_burst: 1_000_000,
            ..Limits::default()
        };
        Some((TestServer::start_with_limits(backend, limits).await?, ()))
    }
}

struct Who {
    name: &'static str,
    admin: bool,
    grants: Grants,
    token: String,
}

/// What one namespace holds, and the request bodies that refer to it.
struct Seed {
    /// A file of `<ns>/m:1` that no other namespace holds, and its bytes.
    blob: String,
    blob_bytes: Vec<u8>,
    /// `POST …/versions` with exactly `<ns>/m:1`'s content (idempotent).
    publish: Value,
    signature: Value,
    signature_digest: String,
    attestation: Value,
    attestation_digest: String,
    provenance: Value,
}

struct World {
    who: Vec<Who>,
    team: Seed,
    other: Seed,
    /// The key `POST /namespaces/{namespace}/keys` trusts and
    /// `DELETE …/keys/{fingerprint}` removes again.
    walk_key_pem: String,
    walk_key_fingerprint: String,
    /// An undeclared upload session of `root`'s, and the bytes it expects.
    upload_id: String,
    upload_data: Vec<u8>,
}

impl World {
    fn seed(&self, ns: &str) -> &Seed {
        if ns == OTHER { &self.other } else { &self.team }
    }

    fn token(&self, name: &str) -> &str {
        &self
            .who
            .iter()
            .find(|w| w.name == name)
            .unwrap_or_else(|| panic!("no principal {name} in the cast"))
            .token
    }
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("<no code>")
}

/// A client that opens a connection per request: a refused request's body
/// may be left unread, and the server then closes its connection, which a
/// pooled client could race with its next request.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

enum Body {
    Json(Value),
    /// An upload's `PATCH`: bytes at an offset.
    Bytes {
        offset: u64,
        data: Vec<u8>,
    },
}

struct Call {
    method: Method,
    /// Path and query, filled in.
    path: String,
    body: Option<Body>,
}

async fn send(
    http: &reqwest::Client,
    s: &TestServer,
    token: Option<&str>,
    call: &Call,
) -> (StatusCode, Value) {
    let mut rb = http.request(call.method.clone(), format!("{}{}", s.base, call.path));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    match &call.body {
        Some(Body::Json(v)) => rb = rb.json(v),
        Some(Body::Bytes { offset, data }) => {
            rb = rb
                .header("Upload-Offset", offset.to_string())
                .body(data.clone());
        }
        None => {}
    }
    let resp = rb
        .send()
        .await
        .unwrap_or_else(|e| panic!("{} {}: {e}", call.method, call.path));
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get(
    http: &reqwest::Client,
    s: &TestServer,
    token: Option<&str>,
    path: &str,
) -> (StatusCode, Value) {
    let call = Call {
        method: Method::GET,
        path: path.to_owned(),
        body: None,
    };
    send(http, s, token, &call).await
}

async fn post(
    http: &reqwest::Client,
    s: &TestServer,
    token: Option<&str>,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let call = Call {
        method: Method::POST,
        path: path.to_owned(),
        body: Some(Body::Json(body)),
    };
    send(http, s, token, &call).await
}

/// Every mismatch found, reported together at the end.
#[derive(Default)]
struct Mismatches(Vec<String>);

impl Mismatches {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    fn assert_none(self) {
        assert!(
            self.0.is_empty(),
            "{} mismatch(es):\n  {}",
            self.0.len(),
            self.0.join("\n  ")
        );
    }
}

// ---------------------------------------------------------------------------
// Setting the stage, as the bootstrap administrator, through the API.

async fn ok(s: &TestServer, method: Method, path: &str, body: Option<Value>) -> Value {
    let (st, v) = s.json(method.clone(), path, body).await;
    assert!(st.is_success(), "setup: {method} {path}: {st} {v}");
    v
}

/// The files of `<ns>/m:<n>`: content that names its namespace, so that no
/// two namespaces share a blob.
fn files(ns: &str, n: u8) -> Vec<(String, Vec<u8>)> {
    vec![
        (
            "weights.bin".to_owned(),
            format!("{ns} weights v{n}").into_bytes(),
        ),
        (
            "config.json".to_owned(),
            format!("{{\"namespace\":\"{ns}\",\"v\":{n}}}").into_bytes(),
        ),
    ]
}

/// Version metadata (the word the search finds).
fn metadata() -> Value {
    json!({"description": "walkfixture model"})
}

/// An OMS signature over `files` (signed with `key`, no certificate).
pub(crate) fn oms_bundle(files: &[(String, Vec<u8>)], key: &PrivateKey) -> Value {
    let dir = tempfile::tempdir().unwrap();
    for (path, data) in files {
        std::fs::write(dir.path().join(path), data).unwrap();
    }
    let digest =
        provenant_digest::hash_model(dir.path(), &provenant_digest::HashOptions::default())
            .unwrap();
    let bundle = provenant_attest::sign_digest(&digest, key, &[]).unwrap();
    serde_json::from_str(&bundle.to_json()).unwrap()
}

/// The OMS root digest (hex) of `files`: the subject of attestations.
pub(crate) fn root_hex(files: &[(String, Vec<u8>)]) -> String {
    let digests: Vec<(String, provenant_digest::Digest)> = files
        .iter()
        .map(|(p, d)| (p.clone(), sha(d).parse().unwrap()))
        .collect();
    provenant_registry::oms_root_digest(digests.iter().map(|(p, d)| (p.as_str(), d)))
        .unwrap()
        .hex()
}

pub(crate) fn statement_bundle(
    model: &str,
    subject_hex: &str,
    predicate_type: &str,
    predicate: Value,
    key: &PrivateKey,
) -> Value {
    let st = Statement::new(
        vec![Subject::sha256(model, subject_hex)],
        predicate_type,
        predicate,
    );
    let bundle = provenant_attest::sign_statement(&st, key, &[]).unwrap();
    serde_json::from_str(&bundle.to_json()).unwrap()
}

/// The dataset the seeded provenance names (what `GET /api/v1/impact` asks
/// about).
fn dataset_digest() -> String {
    format!("sha256:{}", "d".repeat(64))
}

fn provenance_predicate(ns: &str) -> Value {
    let recipe = json!({
        "_type": "https://provenant.dev/recipe/v1",
        "datasets": [{"name": "train", "uri": format!("s3://data/{ns}/train"),
                      "digest": dataset_digest(), "digestMethod": "oms-root-sha256"}],
        "source": {"repository": format!("https://git.example.com/{ns}/m"), "commit": "a".repeat(40),
                   "signature": {"status": "unsigned"}},
        "entrypoint": "train.py",
        "hyperparameters": {"lr": 0.01},
        "imageDigest": format!("sha256:{}", "e".repeat(64)),
    });
    let recipe = provenant_provenance::Recipe::from_json(recipe.to_string().as_bytes()).unwrap();
    serde_json::to_value(provenant_provenance::provenance_from_recipe(&recipe)).unwrap()
}

/// Publishes `<ns>/m` versions 1 and 2 (2 is what deprecate and archive
/// act on), trusts a key, attaches a signature, an SBOM and provenance to
/// version 1, and points alias `prod` at it.
async fn seed(s: &TestServer, ns: &str) -> Seed {
    let model = format!("{ns}/m");
    let key = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let pem = key.public_key().to_pem();
    ok(
        s,
        Method::POST,
        &format!("/api/v1/namespaces/{ns}/keys"),
        Some(json!({"public_key": pem, "comment": "seed"})),
    )
    .await;
    let v1 = files(ns, 1);
    for (n, fs) in [(1, &v1), (2, &files(ns, 2))] {
        let refs: Vec<(&str, &[u8])> = fs.iter().map(|(p, d)| (p.as_str(), &d[..])).collect();
        let (st, v) = s.publish(&model, &refs, metadata()).await;
        assert_eq!(st, StatusCode::CREATED, "setup: publish {model}:{n}: {v}");
    }
    let publish = json!({
        "files": v1.iter().map(|(p, d)| json!({"path": p, "digest": sha(d), "size": d.len()})).collect::<Vec<_>>(),
        "metadata": metadata(),
    });
    let root = root_hex(&v1);
    let version = format!("/api/v1/models/{}/versions/1", enc(&model));
    let signature = json!({"bundle": oms_bundle(&v1, &key), "public_key": pem});
    let sig = ok(
        s,
        Method::POST,
        &format!("{version}/signatures"),
        Some(signature.clone()),
    )
    .await;
    let bom = json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "components": [{"type": "library", "name": "numpy", "version": "2.1.0",
                        "purl": "pkg:pypi/numpy@2.1.0", "bom-ref": "pkg:pypi/numpy@2.1.0"}],
    });
    let attestation = json!({
        "bundle": statement_bundle(&model, &root, "https://cyclonedx.org/bom", bom, &key),
        "public_key": pem,
    });
    let att = ok(
        s,
        Method::POST,
        &format!("{version}/attestations"),
        Some(attestation.clone()),
    )
    .await;
    let provenance = json!({
        "bundle": statement_bundle(&model, &root, "https://slsa.dev/provenance/v1", provenance_predicate(ns), &key),
        "public_key": pem,
    });
    ok(
        s,
        Method::POST,
        &format!("{version}/provenance"),
        Some(provenance.clone()),
    )
    .await;
    ok(
        s,
        Method::PUT,
        &format!("/api/v1/models/{}/aliases/prod", enc(&model)),
        Some(json!({"version": 1})),
    )
    .await;
    let (_, blob_bytes) = v1[0].clone();
    Seed {
        blob: sha(&blob_bytes),
        blob_bytes,
        publish,
        signature,
        signature_digest: sig["digest"].as_str().unwrap().to_owned(),
        attestation,
        attestation_digest: att["digest"].as_str().unwrap().to_owned(),
        provenance,
    }
}

/// Namespaces, principals, roles and tokens made through the API as the
/// bootstrap administrator; then the seeds.
async fn setup(s: &TestServer) -> World {
    for ns in [TEAM, OTHER] {
        ok(
            s,
            Method::POST,
            "/api/v1/namespaces",
            Some(json!({"name": ns})),
        )
        .await;
    }
    let mut who = Vec::new();
    for (name, admin, grants) in cast() {
        ok(
            s,
            Method::POST,
            "/api/v1/principals",
            Some(json!({"name": name, "admin": admin})),
        )
        .await;
        for (ns, role) in &grants {
            ok(
                s,
                Method::PUT,
                &format!("/api/v1/namespaces/{ns}/roles/{name}"),
                Some(json!({"role": role})),
            )
            .await;
        }
        let t = ok(
            s,
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "main", "owner": name})),
        )
        .await;
        who.push(Who {
            name,
            admin,
            grants,
            token: t["token"].as_str().unwrap().to_owned(),
        });
    }
    ok(
        s,
        Method::POST,
        "/api/v1/principals",
        Some(json!({"name": "bystander"})),
    )
    .await;
    let team = seed(s, TEAM).await;
    let other = seed(s, OTHER).await;
    let walk_key = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let w = World {
        who,
        team,
        other,
        walk_key_pem: walk_key.public_key().to_pem(),
        walk_key_fingerprint: walk_key.public_key().fingerprint(),
        upload_id: String::new(),
        upload_data: b"walk".to_vec(),
    };
    let (st, v) = post(
        &client(),
        s,
        Some(w.token("root")),
        "/api/v1/uploads",
        json!({"size": w.upload_data.len()}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "setup: open an upload: {v}");
    World {
        upload_id: v["id"].as_str().unwrap().to_owned(),
        ..w
    }
}

/// Waits until the log holds an entry: the tile routes are walked at
/// width 1.
async fn wait_for_log(s: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = s
            .http
            .get(format!("{}/log/checkpoint", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let size: u64 = text
            .lines()
            .nth(1)
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        if size > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the log holds no entry after 10 s: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------
// From a matrix row to a request, and to the answer the matrix promises.

/// Whether a route names the namespace it acts on (in its path or its
/// `ref` query parameter): such routes are walked in `team` and again in
/// `other`.
fn names_namespace(route: &RoutePermission) -> bool {
    route.path.contains("{model}")
        || route.path.contains("{namespace}")
        || QUERY_REF_ROUTES.contains(&route.path.as_str())
}

/// The concrete request for `route` in namespace `ns`: every path
/// parameter filled with something real, and a body that gets past
/// authorisation (most are fully valid). A parameter or a write route the
/// walk does not know is an error: teach it here.
fn concrete(route: &RoutePermission, ns: &str, w: &World) -> Result<Call, String> {
    let t = route.path.as_str();
    let seed = w.seed(ns);
    let mut path = String::new();
    for segment in t.split('/').skip(1) {
        path.push('/');
        let Some(param) = segment.strip_prefix('{').and_then(|p| p.strip_suffix('}')) else {
            path.push_str(segment);
            continue;
        };
        let value = match param {
            "model" => enc(&format!("{ns}/m")),
            // Version 2 takes the lifecycle changes; 1 keeps everything else.
            "number" if t.ends_with("/deprecate") || t.ends_with("/archive") => "2".to_owned(),
            "number" => "1".to_owned(),
            "namespace" => ns.to_owned(),
            "digest" if t.contains("/signatures/") => seed.signature_digest.clone(),
            "digest" if t.contains("/attestations/") => seed.attestation_digest.clone(),
            "digest" if t.starts_with("/api/v1/blobs/") => seed.blob.clone(),
            "alias" => "prod".to_owned(),
            "principal" => "bystander".to_owned(),
            // The token each caller makes in `POST /api/v1/tokens`.
            "token" => "walk".to_owned(),
            "id" => w.upload_id.clone(),
            "level" => "0".to_owned(),
            // C2SP: a partial tile of width 1 (the log holds an entry).
            "index" if t.starts_with("/log/tile/") => "000.p/1".to_owned(),
            "index" => "0".to_owned(),
            "fingerprint" => w.walk_key_fingerprint.clone(),
            other => {
                return Err(format!(
                    "{} {t}: the walk cannot fill {{{other}}}; give it a value in concrete()",
                    route.method
                ));
            }
        };
        path.push_str(&value);
    }
    let query = match (route.method.as_str(), t) {
        ("GET", "/api/v1/log/proof/inclusion") => "?index=0".to_owned(),
        ("GET", "/api/v1/log/proof/consistency") => "?old=1".to_owned(),
        (
            "GET" | "POST",
            "/api/v1/log/versions"
            | "/api/v1/resolve"
            | "/api/v1/gate"
            | "/api/v1/policy/input"
            | "/api/v1/decisions",
        ) => format!("?ref={ns}/m:1"),
        ("GET", "/api/v1/impact") => format!("?input=dataset:{}", dataset_digest()),
        ("GET", "/api/v1/search") => "?q=walkfixture".to_owned(),
        ("GET", "/api/v1/admin/access-events" | "/api/v1/admin/log/events") => {
            "?limit=1".to_owned()
        }
        _ => String::new(),
    };
    let body = match (route.method.as_str(), t) {
        ("GET" | "HEAD" | "DELETE", _) => None,
        ("POST", "/api/v1/tokens") => Some(Body::Json(json!({"name": "walk"}))),
        ("POST", "/api/v1/principals") => Some(Body::Json(json!({"name": "walk-principal"}))),
        ("POST", "/api/v1/namespaces") => Some(Body::Json(json!({"name": "walk-ns"}))),
        ("PUT", "/api/v1/namespaces/{namespace}/roles/{principal}") => {
            Some(Body::Json(json!({"role": "viewer"})))
        }
        ("POST", "/api/v1/uploads") => Some(Body::Json(
            json!({"digest": w.team.blob, "size": w.team.blob_bytes.len()}),
        )),
        ("POST", "/api/v1/uploads/plan") => Some(Body::Json(json!({"sizes": [4]}))),
        ("PATCH", "/api/v1/uploads/{id}") => Some(Body::Bytes {
            offset: 0,
            data: w.upload_data.clone(),
        }),
        ("PUT", "/api/v1/uploads/{id}") => Some(Body::Json(json!({"digest": sha(&w.upload_data)}))),
        ("POST", "/api/v1/models/{model}/versions") => Some(Body::Json(seed.publish.clone())),
        ("POST", "/api/v1/models/{model}/versions/{number}/labels") => {
            Some(Body::Json(json!({"set": {"walked": "yes"}})))
        }
        (
            "POST",
            "/api/v1/models/{model}/versions/{number}/deprecate"
            | "/api/v1/models/{model}/versions/{number}/archive",
        ) => Some(Body::Json(json!({"reason": "permission walk"}))),
        ("PUT", "/api/v1/models/{model}/aliases/{alias}") => {
            Some(Body::Json(json!({"version": 1})))
        }
        ("POST", "/api/v1/models/{model}/versions/{number}/signatures") => {
            Some(Body::Json(seed.signature.clone()))
        }
        ("POST", "/api/v1/models/{model}/versions/{number}/attestations") => {
            Some(Body::Json(seed.attestation.clone()))
        }
        ("POST", "/api/v1/models/{model}/versions/{number}/provenance") => {
            Some(Body::Json(seed.provenance.clone()))
        }
        ("POST", "/api/v1/namespaces/{namespace}/keys") => Some(Body::Json(
            json!({"public_key": w.walk_key_pem, "comment": "permission walk"}),
        )),
        ("POST", "/api/v1/gate") => Some(Body::Json(json!({"action": "deploy"}))),
        // Not a review: answered 400 to whoever may call the webhook.
        ("POST", "/admission") => Some(Body::Json(json!({"kind": "AdmissionReview"}))),
        ("POST", "/api/v1/vulndb/import") => {
            Some(Body::Json(json!({"source": "walk", "records": []})))
        }
        (m, _) => {
            return Err(format!(
                "{m} {t}: the walk has no body for this route; give it one in concrete()"
            ));
        }
    };
    Ok(Call {
        method: Method::from_bytes(route.method.as_bytes())
            .map_err(|e| format!("{} {t}: method: {e}", route.method))?,
        path: path + &query,
        body,
    })
}

/// Whether `who` may do what `route` needs, by the matrix: the served
/// roles' permissions, held in the namespace the request names (or in
/// `*`). Routes that name no namespace need the permission where
/// `authz.rs` documents (`RouteNeed::Perm`): publishing (uploads) in some
/// namespace, the audit trail in every namespace (`*`), admin globally.
/// The served matrix does not say where (`RoutePermission` has no scope).
fn allowed(
    roles: &BTreeMap<String, Vec<Permission>>,
    who: &Who,
    need: Option<Permission>,
    ns: Option<&str>,
) -> bool {
    let Some(p) = need else {
        return true;
    };
    let grants = |role: &str| roles.get(role).is_some_and(|ps| ps.contains(&p));
    if who.admin {
        return grants("admin");
    }
    let mut held = who.grants.iter();
    match (p, ns) {
        (Permission::Admin, _) => false,
        (_, Some(ns)) => held.any(|(g, r)| (*g == ns || *g == STAR) && grants(r.as_str())),
        (Permission::Publish, None) => held.any(|(_, r)| grants(r.as_str())),
        (_, None) => held.any(|(g, r)| *g == STAR && grants(r.as_str())),
    }
}

/// A route the router does not serve answers `route_not_found` (404) or
/// 405: the walk must reach a handler every time.
fn routed(label: &str, who: &str, got: &(StatusCode, Value), m: &mut Mismatches) {
    m.check(
        code(&got.1) != "route_not_found" && got.0 != StatusCode::METHOD_NOT_ALLOWED,
        || format!("{label} as {who}: no such route: {} {}", got.0, got.1),
    );
}

/// How many allowed and denied requests the walk made per permission (a
/// walk that denies nothing, or allows nothing, proves little).
type Tally = BTreeMap<String, (usize, usize)>;

#[allow(clippy::too_many_arguments)]
async fn walk_route(
    s: &TestServer,
    http: &reqwest::Client,
    w: &World,
    roles: &BTreeMap<String, Vec<Permission>>,
    route: &RoutePermission,
    ns: &str,
    tally: &mut Tally,
    m: &mut Mismatches,
) {
    let call = match concrete(route, ns, w) {
        Ok(c) => c,
        Err(e) => {
            m.0.push(e);
            return;
        }
    };
    let label = format!("{} {} (route {})", route.method, call.path, route.path);
    let anonymous = send(http, s, None, &call).await;
    routed(&label, "no token", &anonymous, m);
    if route.public {
        m.check(
            !matches!(
                anonymous.0,
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
            ),
            || {
                format!(
                    "{label}: public, but refused without a token: {} {}",
                    anonymous.0, anonymous.1
                )
            },
        );
        let with = send(http, s, Some(w.token("viewer")), &call).await;
        m.check(with.0 == anonymous.0, || {
            format!(
                "{label}: public, but answers {} without a token and {} with one",
                anonymous.0, with.0
            )
        });
        return;
    }
    m.check(
        anonymous.0 == StatusCode::UNAUTHORIZED
            && (call.method == Method::HEAD || code(&anonymous.1) == "unauthorized"),
        || {
            format!(
                "{label}: without a token: want 401 unauthorized, got {} {}",
                anonymous.0, anonymous.1
            )
        },
    );
    let named = names_namespace(route).then_some(ns);
    let need = route.permission;
    for who in &w.who {
        let got = send(http, s, Some(&who.token), &call).await;
        routed(&label, who.name, &got, m);
        let may = allowed(roles, who, need, named);
        let key = need.map_or_else(|| "(authentication)".to_owned(), |p| p.to_string());
        let t = tally.entry(key).or_default();
        if may {
            t.0 += 1;
            m.check(
                !matches!(got.0, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                    && !got.0.is_server_error(),
                || {
                    format!(
                        "{label} as {} (may {}): want authorisation to pass, got {} {}",
                        who.name,
                        need.map_or("authenticate".to_owned(), |p| p.to_string()),
                        got.0,
                        got.1
                    )
                },
            );
        } else {
            t.1 += 1;
            m.check(
                got.0 == StatusCode::FORBIDDEN
                    && (call.method == Method::HEAD || code(&got.1) == "forbidden"),
                || {
                    format!(
                        "{label} as {} (may not {}{}): want 403 forbidden, got {} {}",
                        who.name,
                        need.map_or("authenticate".to_owned(), |p| p.to_string()),
                        named.map_or(String::new(), |n| format!(" in {n}")),
                        got.0,
                        got.1
                    )
                },
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The matrix against the OpenAPI document and the router.

/// The matrix's routes, with templates spelled as the OpenAPI document does.
fn matrix_routes(matrix: &PermissionMatrix) -> BTreeSet<(String, String)> {
    matrix
        .routes
        .iter()
        .map(|r| {
            let path = SAME_ROUTE
                .iter()
                .find(|(m, _)| *m == r.path)
                .map_or(r.path.clone(), |(_, o)| (*o).to_owned());
            (r.method.clone(), path)
        })
        .collect()
}

/// Every (method, template) the OpenAPI document lists.
fn openapi_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// Every (method, template) the router in `routes/mod.rs` registers, read
/// from its source: the one list no document can forget. Catch-alls
/// (`{*path}`) are written `{path}`, as OpenAPI writes them.
fn router_routes() -> Result<BTreeSet<(String, String)>, String> {
    const SOURCE: &str = include_str!("../../src/routes/mod.rs");
    let start = SOURCE
        .find("pub fn router(")
        .ok_or("routes/mod.rs has no `pub fn router(`: update router_routes()")?;
    let end = SOURCE[start..]
        .find("\n}\n")
        .map(|e| start + e)
        .ok_or("routes/mod.rs: the end of router() not found")?;
    let body = &SOURCE[start..end];
    let mut out = BTreeSet::new();
    let mut rest = body;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        // The call's arguments: up to the parenthesis that closes it.
        let mut depth = 1usize;
        let mut close = None;
        for (i, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let args = &rest[..close.ok_or("routes/mod.rs: an unclosed .route(")?];
        let path = args
            .split('"')
            .nth(1)
            .ok_or_else(|| format!("routes/mod.rs: a .route( without a path literal: {args}"))?
            .replace("{*", "{");
        let mut methods = 0;
        for method in ["get", "post", "put", "delete", "patch", "head"] {
            let call = format!("{method}(");
            let mut from = 0;
            while let Some(i) = args[from..].find(&call) {
                let at = from + i;
                let before = args[..at].chars().next_back();
                if !before.is_some_and(|b| b.is_alphanumeric() || b == '_' || b == ':') {
                    out.insert((method.to_uppercase(), path.clone()));
                    methods += 1;
                }
                from = at + call.len();
            }
        }
        if methods == 0 {
            return Err(format!(
                "routes/mod.rs: no method found for {path}: update router_routes()"
            ));
        }
    }
    Ok(out)
}

/// Differences between the matrix and another list of routes. A `HEAD`
/// route the other list lacks is excused when it has the `GET` (utoipa and
/// axum may fold `HEAD` into `GET`), and `excused` routes for their reason;
/// both said in the test output.
fn compare(
    what: &str,
    matrix: &BTreeSet<(String, String)>,
    other: &BTreeSet<(String, String)>,
    excused: &[(&str, &str, &str)],
    m: &mut Mismatches,
) {
    for (method, path) in other.difference(matrix) {
        m.0.push(format!(
            "{what} has {method} {path}, the permission matrix (authz::ROUTES) does not"
        ));
    }
    for (method, path) in matrix.difference(other) {
        if method == "HEAD" && other.contains(&("GET".to_owned(), path.clone())) {
            eprintln!("note: {what} lists HEAD {path} only as its GET");
            continue;
        }
        if let Some((_, _, why)) = excused
            .iter()
            .find(|(em, ep, _)| em == method && ep == path)
        {
            eprintln!("note: {what} leaves out {method} {path}: {why}");
            continue;
        }
        m.0.push(format!(
            "the permission matrix has {method} {path}, {what} does not"
        ));
    }
}

// ---------------------------------------------------------------------------

both!(
    permission_matrix_walk,
    open = walk_server(),
    async |s: &TestServer| {
        let w = setup(s).await;
        let http = client();
        let mut m = Mismatches::default();

        let (st, v) = get(&http, s, Some(w.token("nobody")), "/api/v1/permissions").await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let matrix: PermissionMatrix = serde_json::from_value(v).unwrap();
        let roles: BTreeMap<String, Vec<Permission>> = matrix
            .roles
            .iter()
            .map(|r| (r.role.clone(), r.permissions.clone()))
            .collect();
        let expected_roles: BTreeSet<String> = NamespaceRole::ALL
            .iter()
            .map(|r| r.as_str().to_owned())
            .chain(["admin".to_owned()])
            .collect();
        assert_eq!(
            roles.keys().cloned().collect::<BTreeSet<_>>(),
            expected_roles,
            "the matrix's roles"
        );
        for role in NamespaceRole::ALL {
            assert_eq!(
                roles[role.as_str()],
                role.permissions(),
                "the matrix's {role} row"
            );
        }
        assert_eq!(roles["admin"], Permission::ALL, "the matrix's admin row");
        let mut seen = BTreeSet::new();
        for r in &matrix.routes {
            assert!(
                seen.insert((r.method.clone(), r.path.clone())),
                "the matrix lists {} {} twice",
                r.method,
                r.path
            );
            assert!(
                !(r.public && r.permission.is_some()),
                "{} {}: public and needing {:?}",
                r.method,
                r.path,
                r.permission
            );
        }

        // The matrix names every route the server has, and only those.
        let (st, doc) = get(&http, s, None, "/api/v1/openapi.json").await;
        assert_eq!(st, StatusCode::OK);
        let listed = matrix_routes(&matrix);
        compare(
            "the OpenAPI document",
            &listed,
            &openapi_routes(&doc),
            NOT_IN_OPENAPI,
            &mut m,
        );
        match router_routes() {
            Ok(router) => compare("the router (routes/mod.rs)", &listed, &router, &[], &mut m),
            Err(e) => m.0.push(e),
        }

        // Every route, without a token and as every role; then every route
        // that names a namespace again in `other`, where the `team` roles
        // hold nothing.
        wait_for_log(s).await;
        let mut tally = Tally::new();
        for route in &matrix.routes {
            walk_route(s, &http, &w, &roles, route, TEAM, &mut tally, &mut m).await;
        }
        for route in matrix.routes.iter().filter(|r| names_namespace(r)) {
            walk_route(s, &http, &w, &roles, route, OTHER, &mut tally, &mut m).await;
        }
        eprintln!("permission walk, (allowed, denied) per permission: {tally:?}");
        for p in Permission::ALL {
            let (allowed, denied) = tally.get(p.as_str()).copied().unwrap_or_default();
            m.check(allowed > 0 && denied > 0, || {
                format!("the walk allowed {allowed} and denied {denied} requests needing {p}: no route tests it both ways")
            });
        }
        m.assert_none();
    }
);

/// The namespace of `ns/name` (or of a reference to a version of it).
fn namespace_of(name: &str) -> String {
    name.rsplit_once('/').map_or("", |(ns, _)| ns).to_owned()
}

/// The namespaces of a page's items, by `field` (a model's `namespace`, a
/// version's `model`).
fn namespaces_in(page: &Value, field: &str) -> BTreeSet<String> {
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            let v = i[field].as_str().unwrap_or_default();
            if field == "namespace" {
                v.to_owned()
            } else {
                namespace_of(v)
            }
        })
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

both!(
    access_controls_and_the_access_trail,
    open = walk_server(),
    async |s: &TestServer| {
        let w = setup(s).await;
        let http = client();
        let mut m = Mismatches::default();
        let root = w.token("root");
        let viewer = w.token("viewer");
        let publisher = w.token("publisher");
        let star = w.token("star-auditor");
        let mut secrets: Vec<String> = w.who.iter().map(|p| p.token.clone()).collect();
        secrets.push(s.token.clone());

        // A token that expires while the server remembers it: used at once,
        // refused once its second is over (checked at the end).
        let (st, v) = post(
            &http,
            s,
            Some(root),
            "/api/v1/tokens",
            json!({"name": "brief", "owner": "viewer", "expires_in": 1}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let brief_made = Instant::now();
        let brief = v["token"].as_str().unwrap().to_owned();
        secrets.push(brief.clone());
        let (st, v) = get(&http, s, Some(&brief), "/api/v1/whoami").await;
        assert_eq!(st, StatusCode::OK, "a fresh token: {v}");

        // Listings are filtered to what the caller may read.
        for (path, field) in [
            ("/api/v1/models?limit=1000", "namespace"),
            ("/api/v1/versions?limit=1000", "model"),
            ("/api/v1/search?q=walkfixture&limit=1000", "model"),
        ] {
            for (who, want) in [
                ("root", set(&[TEAM, OTHER])),
                ("star-auditor", set(&[TEAM, OTHER])),
                ("viewer", set(&[TEAM])),
                ("auditor", set(&[TEAM])),
                ("nobody", set(&[])),
            ] {
                let (st, page) = get(&http, s, Some(w.token(who)), path).await;
                m.check(st == StatusCode::OK, || {
                    format!("GET {path} as {who}: {st} {page}")
                });
                let got = namespaces_in(&page, field);
                m.check(got == want, || {
                    format!("GET {path} as {who}: items from {got:?}, want {want:?}")
                });
            }
        }
        for (who, want) in [
            ("root", set(&[OTHER, TEAM])),
            ("star-auditor", set(&[OTHER, TEAM])),
            ("viewer", set(&[TEAM])),
            ("nobody", set(&[])),
        ] {
            let (st, list) = get(&http, s, Some(w.token(who)), "/api/v1/namespaces").await;
            m.check(st == StatusCode::OK, || {
                format!("GET /api/v1/namespaces as {who}: {st} {list}")
            });
            let got: BTreeSet<String> = list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n["name"].as_str().map(str::to_owned))
                .collect();
            m.check(got == want, || {
                format!("GET /api/v1/namespaces as {who}: {got:?}, want {want:?}")
            });
            if who == "viewer" {
                m.check(list[0]["role"] == "viewer", || {
                    format!("GET /api/v1/namespaces as viewer: its role in team: {list}")
                });
            }
        }

        // A blob is a file of a version: readable where that version is.
        let other_blob = format!("/api/v1/blobs/{}", w.other.blob);
        let team_blob = format!("/api/v1/blobs/{}", w.team.blob);
        for (who, path, want) in [
            ("viewer", &other_blob, None),
            ("nobody", &team_blob, None),
            ("viewer", &team_blob, Some(&w.team.blob_bytes)),
            ("star-auditor", &other_blob, Some(&w.other.blob_bytes)),
            ("root", &other_blob, Some(&w.other.blob_bytes)),
        ] {
            let resp = http
                .get(format!("{}{path}", s.base))
                .bearer_auth(w.token(who))
                .send()
                .await
                .unwrap();
            let st = resp.status();
            let bytes = resp.bytes().await.unwrap();
            match want {
                Some(data) => m.check(st == StatusCode::OK && bytes[..] == data[..], || {
                    format!(
                        "GET {path} as {who}: want 200 and the file, got {st} ({} bytes)",
                        bytes.len()
                    )
                }),
                None => {
                    let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
                    m.check(st == StatusCode::NOT_FOUND && code(&v) == "blob_not_found", || {
                        format!("GET {path} as {who}: want 404 blob_not_found (hidden), got {st} {v}")
                    });
                }
            }
        }
        // HEAD: hidden like GET from whoever may not read it, publishers
        // included (a digest named is not content held).
        for (who, want) in [
            ("viewer", StatusCode::NOT_FOUND),
            ("nobody", StatusCode::NOT_FOUND),
            ("publisher", StatusCode::NOT_FOUND),
            ("star-auditor", StatusCode::OK),
        ] {
            let st = http
                .head(format!("{}{other_blob}", s.base))
                .bearer_auth(w.token(who))
                .send()
                .await
                .unwrap()
                .status();
            m.check(st == want, || {
                format!("HEAD {other_blob} as {who}: want {want}, got {st}")
            });
        }

        // A scoped token: the publisher's, limited to viewer in team.
        let (st, v) = post(
            &http,
            s,
            Some(root),
            "/api/v1/tokens",
            json!({"name": "scoped", "owner": "publisher",
                   "scopes": [{"namespace": TEAM, "role": "viewer"}]}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let scoped = v["token"].as_str().unwrap().to_owned();
        secrets.push(scoped.clone());
        let team_versions = format!("/api/v1/models/{}/versions", enc("team/m"));
        let (st, v) = get(
            &http,
            s,
            Some(&scoped),
            &format!("/api/v1/models/{}", enc("team/m")),
        )
        .await;
        m.check(st == StatusCode::OK, || {
            format!("scoped token reads team/m: {st} {v}")
        });
        let (st, v) = get(&http, s, Some(&scoped), "/api/v1/whoami").await;
        m.check(
            st == StatusCode::OK
                && v["name"] == "publisher"
                && v["roles"] == json!([{"namespace": TEAM, "role": "viewer"}]),
            || format!("scoped token's whoami: {st} {v}"),
        );
        for (what, path, body) in [
            ("publish", team_versions.clone(), w.team.publish.clone()),
            (
                "set labels",
                format!("{team_versions}/1/labels"),
                json!({"set": {"scoped": "yes"}}),
            ),
            (
                "upload",
                "/api/v1/uploads".to_owned(),
                json!({"digest": w.team.blob, "size": w.team.blob_bytes.len()}),
            ),
            // Only tokens within its own limits.
            (
                "make an unscoped token",
                "/api/v1/tokens".to_owned(),
                json!({"name": "wider"}),
            ),
        ] {
            let (st, v) = post(&http, s, Some(&scoped), &path, body).await;
            m.check(st == StatusCode::FORBIDDEN && code(&v) == "forbidden", || {
                format!("scoped token may not {what} (POST {path}): want 403 forbidden, got {st} {v}")
            });
        }
        let (st, v) = post(
            &http,
            s,
            Some(publisher),
            &team_versions,
            w.team.publish.clone(),
        )
        .await;
        m.check(st == StatusCode::OK, || {
            format!("the publisher's own token republishes team/m:1: want 200, got {st} {v}")
        });

        // Denials, each to be found in the access trail below.
        let other_model = format!("/api/v1/models/{}", enc("other/m"));
        let other_versions = format!("{other_model}/versions");
        let (st, v) = get(&http, s, Some(viewer), &other_model).await;
        m.check(
            st == StatusCode::FORBIDDEN && code(&v) == "forbidden",
            || format!("viewer reads other/m: want 403 forbidden, got {st} {v}"),
        );
        let (st, v) = post(
            &http,
            s,
            Some(publisher),
            &other_versions,
            w.other.publish.clone(),
        )
        .await;
        m.check(
            st == StatusCode::FORBIDDEN && code(&v) == "forbidden",
            || format!("team publisher publishes to other/m: want 403 forbidden, got {st} {v}"),
        );
        let (st, v) = get(
            &http,
            s,
            Some(w.token("auditor")),
            "/api/v1/admin/access-events",
        )
        .await;
        m.check(st == StatusCode::FORBIDDEN && code(&v) == "forbidden", || {
            format!("an auditor of team only reads the access trail: want 403 forbidden, got {st} {v}")
        });
        let (st, v) = get(&http, s, Some(viewer), "/api/v1/resolve?ref=other/m:1").await;
        m.check(
            st == StatusCode::FORBIDDEN && code(&v) == "forbidden",
            || format!("viewer resolves other/m:1: want 403 forbidden, got {st} {v}"),
        );
        let (st, v) = get(&http, s, Some(star), "/api/v1/resolve?ref=other/m:1").await;
        m.check(st == StatusCode::OK, || {
            format!("star-auditor resolves other/m:1: {st} {v}")
        });

        // A revoked token: refused at once, though the server had it cached.
        let (st, v) = post(
            &http,
            s,
            Some(root),
            "/api/v1/tokens",
            json!({"name": "doomed", "owner": "viewer"}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let doomed = v["token"].as_str().unwrap().to_owned();
        secrets.push(doomed.clone());
        let doomed_id = v["id"].as_i64().unwrap();
        let (st, _) = get(&http, s, Some(&doomed), "/api/v1/whoami").await;
        assert_eq!(st, StatusCode::OK);
        let revoke = Call {
            method: Method::DELETE,
            path: format!("/api/v1/tokens/{doomed_id}"),
            body: None,
        };
        let (st, v) = send(&http, s, Some(root), &revoke).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        m.check(v["revoked_at"].is_string(), || {
            format!("the revoked token's view: {v}")
        });
        let (st, v) = get(&http, s, Some(&doomed), "/api/v1/whoami").await;
        m.check(
            st == StatusCode::UNAUTHORIZED && code(&v) == "token_revoked",
            || format!("a revoked token: want 401 token_revoked, got {st} {v}"),
        );

        // An expired token, straight into the database with a past expiry.
        let past = time_ms() - 60_000;
        let expired = s.add_token_for("viewer", "expired", Some(past)).await;
        secrets.push(expired.clone());
        let (st, v) = get(&http, s, Some(&expired), "/api/v1/whoami").await;
        m.check(
            st == StatusCode::UNAUTHORIZED && code(&v) == "token_expired",
            || format!("an expired token: want 401 token_expired, got {st} {v}"),
        );

        // No token, and a token the server never issued.
        let (st, v) = get(&http, s, None, "/api/v1/whoami").await;
        m.check(
            st == StatusCode::UNAUTHORIZED && code(&v) == "unauthorized",
            || format!("no token: want 401 unauthorized, got {st} {v}"),
        );
        let unknown = provenant_registry::generate_token().unwrap();
        let (st, v) = get(&http, s, Some(&unknown), "/api/v1/whoami").await;
        m.check(
            st == StatusCode::UNAUTHORIZED && code(&v) == "unknown_token",
            || format!("an unknown token: want 401 unknown_token, got {st} {v}"),
        );

        // The brief token, remembered by the server, past its second.
        tokio::time::sleep(
            (brief_made + Duration::from_millis(1200)).saturating_duration_since(Instant::now()),
        )
        .await;
        let (st, v) = get(&http, s, Some(&brief), "/api/v1/whoami").await;
        m.check(
            st == StatusCode::UNAUTHORIZED && code(&v) == "token_expired",
            || format!("a cached token past its expiry: want 401 token_expired, got {st} {v}"),
        );

        // The access trail, as the auditor of every namespace reads it.
        let (st, events) = get(
            &http,
            s,
            Some(star),
            "/api/v1/admin/access-events?limit=10000",
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{events}");
        let events = events.as_array().unwrap().clone();
        let find = |kind: &str, principal: &str, method: &str, path: &str, code: &str| {
            events.iter().find(|e| {
                e["kind"] == kind
                    && e["principal"] == principal
                    && e["method"] == method
                    && e["path"] == path
                    && e["code"] == code
            })
        };
        for (principal, method, path) in [
            ("viewer", "GET", other_model.as_str()),
            ("publisher", "POST", other_versions.as_str()),
            // The scoped token's refusals name its owner.
            ("publisher", "POST", team_versions.as_str()),
            ("auditor", "GET", "/api/v1/admin/access-events"),
            // Refused on the namespace of its `ref` query parameter.
            ("viewer", "GET", "/api/v1/resolve"),
        ] {
            let found = find("permission_denied", principal, method, path, "forbidden");
            m.check(found.is_some_and(|e| e["peer"] == "127.0.0.1"), || {
                let near: Vec<&Value> = events
                    .iter()
                    .filter(|e| e["kind"] == "permission_denied" && e["principal"] == principal)
                    .collect();
                format!(
                    "access trail: no permission_denied of {principal} for {method} {path} from 127.0.0.1; \
                     its denials: {}",
                    serde_json::to_string(&near).unwrap()
                )
            });
        }
        for code in [
            "token_revoked",
            "token_expired",
            "unauthorized",
            "unknown_token",
        ] {
            let found = find("authentication_failed", "", "GET", "/api/v1/whoami", code);
            m.check(found.is_some_and(|e| e["peer"] == "127.0.0.1"), || {
                format!("access trail: no authentication_failed ({code}) for GET /api/v1/whoami from 127.0.0.1")
            });
        }
        let revoked_hint = format!("{}…", &doomed[..8]);
        m.check(
            events.iter().any(|e| {
                e["code"] == "token_revoked" && e["credential"].as_str().is_some_and(|c| c.contains(&revoked_hint))
            }),
            || format!("access trail: the revoked token's failure does not name it by its hint {revoked_hint}"),
        );
        let text = serde_json::to_string(&events).unwrap();
        for secret in secrets.iter().chain([&unknown]) {
            m.check(!text.contains(secret.as_str()), || {
                format!("access trail holds a token's secret ({}…)", &secret[..8])
            });
        }
        m.assert_none();
    }
);

/// Unix milliseconds now.
fn time_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

both!(
    a_digest_named_is_not_a_blob_held,
    open = walk_server(),
    async |s: &TestServer| {
        let w = setup(s).await;
        let http = client();
        let publisher = w.token("publisher");
        // A file of `other`'s, whose digest the team's publisher has learnt.
        let (_, data) = files(OTHER, 1).swap_remove(0);
        let digest = sha(&data);
        let size = data.len();
        let blob = format!("/api/v1/blobs/{digest}");
        // Not readable, and not even there, to it.
        assert_eq!(
            get(&http, s, Some(publisher), &blob).await.0,
            StatusCode::NOT_FOUND
        );
        let head = http
            .head(format!("{}{blob}", s.base))
            .bearer_auth(publisher)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), StatusCode::NOT_FOUND);
        // Publishing it in its own namespace by digest alone is refused…
        let publish = json!({"files": [{"path": "stolen.bin", "digest": digest, "size": size}]});
        let (st, v) = post(
            &http,
            s,
            Some(publisher),
            "/api/v1/models/team%2Fcopy/versions",
            publish.clone(),
        )
        .await;
        assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
        // …and an upload of it does not complete at once, nor with the wrong bytes.
        let (st, v) = post(
            &http,
            s,
            Some(publisher),
            "/api/v1/uploads",
            json!({"digest": digest, "size": size}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        assert_eq!(v["complete"], false, "{v}");
        let id = v["id"].as_str().unwrap().to_owned();
        let patch = |bytes: Vec<u8>| Call {
            method: Method::PATCH,
            path: format!("/api/v1/uploads/{id}"),
            body: Some(Body::Bytes {
                offset: 0,
                data: bytes,
            }),
        };
        let wrong = vec![b'x'; size];
        let (st, v) = send(&http, s, Some(publisher), &patch(wrong)).await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::BAD_REQUEST, "digest_mismatch"),
            "{v}"
        );
        let (st, v) = post(
            &http,
            s,
            Some(publisher),
            "/api/v1/models/team%2Fcopy/versions",
            publish.clone(),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
        // Sending the content itself proves it holds it: then it may publish and read it.
        let (st, v) = post(
            &http,
            s,
            Some(publisher),
            "/api/v1/uploads",
            json!({"digest": digest, "size": size}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let id = v["id"].as_str().unwrap().to_owned();
        let (st, v) = send(
            &http,
            s,
            Some(publisher),
            &Call {
                method: Method::PATCH,
                path: format!("/api/v1/uploads/{id}"),
                body: Some(Body::Bytes {
                    offset: 0,
                    data: data.clone(),
                }),
            },
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let (st, v) = post(
            &http,
            s,
            Some(publisher),
            "/api/v1/models/team%2Fcopy/versions",
            publish,
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let (st, _) = get(&http, s, Some(publisher), &blob).await;
        assert_eq!(st, StatusCode::OK);
        // The refusals are in the access trail.
        let (st, events) = get(
            &http,
            s,
            Some(w.token("root")),
            "/api/v1/admin/access-events?limit=10000",
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert!(
            events
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "permission_denied"
                    && e["principal"] == "publisher"
                    && e["reason"].as_str().unwrap_or("").contains("stolen.bin")),
            "{events}"
        );
    }
);

both!(
    provenance_names_parents_only_where_the_caller_reads,
    open = walk_server(),
    async |s: &TestServer| {
        let w = setup(s).await;
        let http = client();
        let publisher = w.token("publisher");
        let digest_of = async |ns: &str| {
            let v = ok(
                s,
                Method::GET,
                &format!("/api/v1/models/{}/versions/1", enc(&format!("{ns}/m"))),
                None,
            )
            .await;
            v["digest"].as_str().unwrap().to_owned()
        };
        let attach = async |parent: String| {
            let recipe = json!({
                "_type": "https://provenant.dev/recipe/v1",
                "datasets": [{"name": "train", "uri": "s3://data/team/train",
                              "digest": dataset_digest(), "digestMethod": "oms-root-sha256"}],
                "source": {"repository": "https://git.example.com/team/m", "commit": "a".repeat(40),
                           "signature": {"status": "unsigned"}},
                "entrypoint": "train.py",
                "hyperparameters": {"lr": 0.01},
                "imageDigest": format!("sha256:{}", "e".repeat(64)),
                "parents": [parent],
            });
            let recipe =
                provenant_provenance::Recipe::from_json(recipe.to_string().as_bytes()).unwrap();
            let predicate =
                serde_json::to_value(provenant_provenance::provenance_from_recipe(&recipe))
                    .unwrap();
            let key = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
            let model = format!("{TEAM}/m");
            let body = json!({
                "bundle": statement_bundle(&model, &root_hex(&files(TEAM, 2)),
                                           "https://slsa.dev/provenance/v1", predicate, &key),
                "public_key": key.public_key().to_pem(),
            });
            post(
                &http,
                s,
                Some(publisher),
                &format!("/api/v1/models/{}/versions/2/provenance", enc(&model)),
                body,
            )
            .await
        };
        // A parent in a namespace the publisher cannot read is as absent as
        // one that does not exist: naming it probes nothing.
        let hidden = format!("{OTHER}/m@{}", digest_of(OTHER).await);
        let (st, v) = attach(hidden.clone()).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        let message = v["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("parent version {hidden} is not in this registry")),
            "{v}"
        );
        let missing = format!("{OTHER}/m@sha256:{}", "0".repeat(64));
        let (st, v) = attach(missing).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        // A parent it can read is linked.
        let own = format!("{TEAM}/m@{}", digest_of(TEAM).await);
        let (st, v) = attach(own).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
    }
);

use provenant_server::{GateConfig, Limits, Running, ServeConfig, start};
pub use provenant_testkit::Backend;
use provenant_testkit::{Fixture, PgTestDb};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;

pub struct TestServer {
    pub running: Option<Running>,
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    _pg: Option<PgTestDb>,
}

impl TestServer {
    /// Start a server; `None` when the PostgreSQL half is not configured (outside CI).
    pub async fn start(backend: Backend) -> Option<Self> {
        Self::start_with_blobs(backend, None, tempfile::tempdir().unwrap()).await
    }

    /// Start a server in `dir` whose blobs live at `blob_url` (default: in
    /// its data directory).
    pub async fn start_with_blobs(
        backend: Backend,
        blob_url: Option<String>,
        dir: tempfile::TempDir,
    ) -> Option<Self> {
        Self::start_configured(
            backend,
            blob_url,
            dir,
            Limits::default(),
            GateConfig::default(),
        )
        .await
    }

    /// Start a server with this policy gate.
    pub async fn start_with_gate(backend: Backend, gate: GateConfig) -> Option<Self> {
        Self::start_configured(
            backend,
            None,
            tempfile::tempdir().unwrap(),
            Limits::default(),
            gate,
        )
        .await
    }

    /// Start a server with these budgets.
    pub async fn start_with_limits(backend: Backend, limits: Limits) -> Option<Self> {
        Self::start_configured(
            backend,
            None,
            tempfile::tempdir().unwrap(),
            limits,
            GateConfig::default(),
        )
        .await
    }

    async fn start_configured(
        backend: Backend,
        blob_url: Option<String>,
        dir: tempfile::TempDir,
        limits: Limits,
        gate: GateConfig,
    ) -> Option<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgTestDb::create().await?),
        };
        let running = start(
            ServeConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                data_dir: dir.path().join("data"),
                database_url: pg.as_ref().map(|p| p.url.clone()),
                blob_url,
                vulndb_watch: None,
                vulndb_watch_interval: std::time::Duration::from_secs(60),
                provenance_requirements: Default::default(),
                log: Default::default(),
                limits,
                admin_token_file: None,
                oidc: None,
                tls: None,
                gate,
            },
            false,
        )
        .await
        .unwrap();
        let token = running.new_admin_token.clone().unwrap();
        Some(Self {
            base: format!("http://{}", running.addr),
            running: Some(running),
            token,
            http: reqwest::Client::new(),
            dir,
            _pg: pg,
        })
    }

    /// Another admin token, straight into the server's database; returns it.
    pub async fn add_token(&self, name: &str) -> String {
        self.add_token_with_role(name, "admin").await
    }

    /// Another token with this role, straight into the server's database; returns it.
    pub async fn add_token_with_role(&self, name: &str, role: &str) -> String {
        let store = match &self._pg {
            Some(pg) => provenant_store::Store::connect(&pg.url).await.unwrap(),
            None => provenant_store::Store::open_sqlite(&self.dir.path().join("data/meta.db"))
                .await
                .unwrap(),
        };
        let token = format!("pvt_{}", hex::encode(sha2::Sha256::digest(name.as_bytes())));
        let hash = hex::encode(sha2::Sha256::digest(token.as_bytes()));
        let principal = store
            .principal_insert(name, "user", role == "admin", "test")
            .await
            .unwrap()
            .unwrap();
        store
            .token_insert(&provenant_store::NewToken {
                name,
                hash: &hash,
                principal_id: principal.id,
                scopes: &[],
                expires_at: None,
                created_by: "test",
            })
            .await
            .unwrap()
            .unwrap();
        store.close().await;
        token
    }

    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut rb = self.req(method, path);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Upload bytes as a blob; returns its digest.
    pub async fn upload(&self, data: &[u8]) -> String {
        let digest = sha(data);
        let (status, st) = self
            .json(
                Method::POST,
                "/api/v1/uploads",
                Some(json!({"digest": digest, "size": data.len()})),
            )
            .await;
        if st["complete"] == true {
            return digest;
        }
        assert_eq!(status, StatusCode::CREATED, "{st}");
        let id = st["id"].as_str().unwrap();
        let resp = self
            .req(Method::PATCH, &format!("/api/v1/uploads/{id}"))
            .header("Upload-Offset", "0")
            .body(data.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "{}",
            resp.text().await.unwrap()
        );
        digest
    }

    pub async fn publish(
        &self,
        model: &str,
        files: &[(&str, &[u8])],
        metadata: Value,
    ) -> (StatusCode, Value) {
        let mut list = Vec::new();
        for (path, data) in files {
            let digest = self.upload(data).await;
            list.push(json!({"path": path, "digest": digest, "size": data.len()}));
        }
        self.json(
            Method::POST,
            &format!("/api/v1/models/{}/versions", enc(model)),
            Some(json!({"files": list, "metadata": metadata})),
        )
        .await
    }

    pub async fn version_count(&self) -> usize {
        let (_, page) = self
            .json(Method::GET, "/api/v1/versions?limit=1000", None)
            .await;
        page["items"].as_array().unwrap().len()
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.unwrap();
        }
    }
}

/// A server on each backend for `both!` (`provenant_testkit::both!`,
/// re-exported as `crate::both` in `main.rs`).
impl Fixture for TestServer {
    type Guard = ();

    async fn open(backend: Backend) -> Option<(Self, ())> {
        Some((Self::start(backend).await?, ()))
    }

    async fn close(self) {
        self.stop().await;
    }
}

pub fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

pub fn enc(model: &str) -> String {
    model.replace('/', "%2F")
}

impl TestServer {
    /// A token for the existing principal `principal`, straight into the
    /// server's database, expiring at `expires_at` (Unix ms; may lie in the
    /// past); returns its secret.
    pub async fn add_token_for(
        &self,
        principal: &str,
        name: &str,
        expires_at: Option<i64>,
    ) -> String {
        let store = match &self._pg {
            Some(pg) => provenant_store::Store::connect(&pg.url).await.unwrap(),
            None => provenant_store::Store::open_sqlite(&self.dir.path().join("data/meta.db"))
                .await
                .unwrap(),
        };
        let owner = store
            .principal_by_name(principal)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no principal {principal}"));
        let token = provenant_registry::generate_token().unwrap();
        store
            .token_insert(&provenant_store::NewToken {
                name,
                hash: &provenant_registry::hash_token(&token),
                principal_id: owner.id,
                scopes: &[],
                expires_at,
                created_by: "test",
            })
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{principal} already has a token named {name}"));
        store.close().await;
        token
    }
}

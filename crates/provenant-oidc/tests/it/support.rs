//! Keys, tokens, JWK sets and a local JWKS server for the tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use provenant_api::{Grant, NamespaceRole};
use provenant_oidc::{IssuerConfig, JwksSource, OidcConfig, Rule, Verifier};
use ring::rand::SystemRandom;
use ring::signature::{self as rs, KeyPair as _};
use serde_json::{Value, json};

/// The issuer of the file-based tests.
pub const ISS: &str = "https://issuer.example";
pub const AUD: &str = "provenant";

/// A fixed "now" for tokens checked against a given clock.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

pub fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key of the test and its public JWK.
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Value,
    /// The public key bytes as the JWK carries them (the RSA modulus for RSA).
    pub public: Vec<u8>,
}

impl TestKey {
    pub fn ed25519(kid: &str) -> Self {
        let pkcs8 = rs::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = rs::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let public = pair.public_key().as_ref().to_vec();
        Self {
            kid: kid.into(),
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&public), "kid": kid, "use": "sig"}),
            public,
        }
    }

    pub fn p256(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let alg = &rs::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = rs::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let pair = rs::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        Self {
            kid: kid.into(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: json!({
                "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..]),
                "kid": kid, "alg": "ES256",
            }),
            public: point,
        }
    }

    /// An RSA 2048 key made by `openssl genpkey` (once per test binary);
    /// `None`, after a skip line, where openssl cannot run (a failure in CI).
    pub fn rsa(kid: &str) -> Option<Self> {
        static DER: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
        let der = DER.get_or_init(|| {
            let out = std::process::Command::new("openssl")
                .args([
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                    "-outform",
                    "DER",
                ])
                .output()
                .map_err(|e| format!("openssl cannot run: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "openssl genpkey failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            Ok(out.stdout)
        });
        let pkcs8 = match der {
            Ok(p) => p,
            Err(why) => {
                provenant_testkit::skip(format!("no RSA key for the test: {why}"));
                return None;
            }
        };
        // openssl writes PKCS#1 DER (`-outform DER`); take PKCS#8 too.
        let pair = rs::RsaKeyPair::from_pkcs8(pkcs8)
            .or_else(|_| rs::RsaKeyPair::from_der(pkcs8))
            .unwrap();
        let components: rs::RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
        Some(Self {
            kid: kid.into(),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(pkcs8),
            jwk: json!({"kty": "RSA", "n": b64(&components.n), "e": b64(&components.e), "kid": kid}),
            public: pair.public().as_ref().to_vec(),
        })
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        self.sign_with(header, claims)
    }

    pub fn sign_with(&self, header: Header, claims: &Value) -> String {
        provenant_oidc::install_crypto_provider();
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// A JWK set of `keys`.
pub fn jwks(keys: &[&TestKey]) -> String {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() }).to_string()
}

/// Valid claims for `iss` at [`now`], with `extra` merged in.
pub fn claims_at(iss: &str, at: SystemTime, extra: Value) -> Value {
    let t = secs(at);
    let mut c = json!({
        "iss": iss, "aud": AUD, "sub": "repo:acme/train:ref:refs/heads/main",
        "iat": t, "nbf": t - 5, "exp": t + 600,
    });
    if let (Value::Object(c), Value::Object(extra)) = (&mut c, extra) {
        for (k, v) in extra {
            if v.is_null() {
                c.remove(&k);
            } else {
                c.insert(k, v);
            }
        }
    }
    c
}

pub fn claims(extra: Value) -> Value {
    claims_at(ISS, now(), extra)
}

pub fn rule(issuer: &str, claims: &[(&str, &str)], account: &str) -> Rule {
    Rule {
        issuer: issuer.into(),
        claims: claims
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        service_account: account.into(),
        grants: vec![Grant {
            namespace: "aiops".into(),
            role: NamespaceRole::Publisher,
        }],
        name: None,
    }
}

pub fn write_jwks(dir: &Path, keys: &[&TestKey]) -> PathBuf {
    let path = dir.join("jwks.json");
    std::fs::write(&path, jwks(keys)).unwrap();
    path
}

/// A configuration of one issuer whose keys are in a file.
pub fn file_config(issuer: &str, jwks_file: &Path, rules: Vec<Rule>) -> OidcConfig {
    OidcConfig::new(
        vec![IssuerConfig {
            issuer: issuer.into(),
            audiences: vec![AUD.into()],
            jwks: JwksSource::File(jwks_file.to_owned()),
        }],
        rules,
    )
}

/// A verifier of [`ISS`] trusting `keys` (in a file under `dir`), with one
/// rule matching any `sub`.
pub fn file_verifier(dir: &Path, keys: &[&TestKey]) -> Verifier {
    let path = write_jwks(dir, keys);
    Verifier::new(file_config(
        ISS,
        &path,
        vec![rule(ISS, &[("sub", "*")], "ci")],
    ))
    .unwrap()
}

/// A JWKS and discovery server on 127.0.0.1, counting its requests.
pub struct JwksServer {
    pub base: String,
    state: Arc<ServerState>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct ServerState {
    jwks: Mutex<String>,
    /// `issuer` of the discovery document; the server's base by default.
    discovery_issuer: Mutex<Option<String>>,
    jwks_hits: AtomicUsize,
    discovery_hits: AtomicUsize,
    /// Status of the JWKS answer (200 unless set).
    status: AtomicU16,
    delay_ms: AtomicU64,
}

impl JwksServer {
    pub async fn start(jwks: String) -> Self {
        use axum::routing::get;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(ServerState {
            jwks: Mutex::new(jwks),
            status: AtomicU16::new(200),
            ..ServerState::default()
        });
        let app = axum::Router::new()
            .route("/jwks", get(serve_jwks))
            .route("/.well-known/openid-configuration", get(serve_discovery))
            .with_state((state.clone(), base.clone()));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { base, state, task }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.base)
    }

    pub fn set_jwks(&self, jwks: String) {
        *self.state.jwks.lock().unwrap() = jwks;
    }

    pub fn set_status(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn set_discovery_issuer(&self, issuer: &str) {
        *self.state.discovery_issuer.lock().unwrap() = Some(issuer.to_owned());
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Shared = (Arc<ServerState>, String);

async fn serve_jwks(
    axum::extract::State((state, _)): axum::extract::State<Shared>,
) -> (axum::http::StatusCode, String) {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let status = axum::http::StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap();
    let body = state.jwks.lock().unwrap().clone();
    (status, body)
}

async fn serve_discovery(
    axum::extract::State((state, base)): axum::extract::State<Shared>,
) -> String {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let issuer = state
        .discovery_issuer
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| base.clone());
    json!({"issuer": issuer, "jwks_uri": format!("{base}/jwks")}).to_string()
}

//! Server start-up: data directory, stores, admin token, listener (plain or
//! TLS), failed-authentication limits, graceful shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ConnectInfo;
use provenant_registry::{BlobLocation, DatabaseLocation, Registry, StoreError};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::auth::{TOKEN_PREFIX, generate_token};
use crate::ratelimit::FailureLimiter;
use crate::routes;
use crate::state::{AppState, Counters};

/// What a client may cost the server. The defaults suit a registry serving
/// a team; each is a `serve` flag.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once; one more is answered 503
    /// (`too_many_connections`) and closed.
    pub max_connections: usize,
    /// Connections one client address may hold at once (so that one host
    /// cannot take every slot); one more is answered 503 and closed.
    pub max_connections_per_peer: usize,
    /// On shutdown, how long open connections get to finish their requests
    /// before the server stops waiting for them.
    pub drain_timeout: Duration,
    /// Time a client has to send a request's line and headers (also how long
    /// an idle keep-alive connection stays open).
    pub header_timeout: Duration,
    /// A request body must deliver `body_min_bytes` for every `body_timeout`
    /// spent waiting on it, or the request ends (408 `body_timeout`; an
    /// upload's `PATCH`: `upload_stalled`, and the session is closed).
    pub body_timeout: Duration,
    pub body_min_bytes: u64,
    /// Every request body but an upload's `PATCH` (JSON, at most 16 MiB)
    /// must arrive whole within this, however steadily it trickles (408
    /// `body_timeout`).
    pub request_body_timeout: Duration,
    /// Upload sessions one token may hold open at once.
    pub upload_sessions_per_token: usize,
    /// Bytes the open upload sessions of one token may declare in all.
    pub upload_bytes_per_token: u64,
    /// An upload session that receives nothing for this long is closed.
    pub upload_idle_timeout: Duration,
    /// Bytes of one page of versions or models: a page that reaches them ends early,
    /// with a cursor to the rest (a page always holds at least one version).
    pub page_bytes: usize,
    /// Failed authentications one client address (an IPv6 one by its /64)
    /// may make in a row; then it gets one more per `auth_failure_refill`,
    /// and a request with credentials meanwhile is answered 429
    /// (`too_many_failures`, with `Retry-After`).
    pub auth_failure_burst: u32,
    pub auth_failure_refill: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_connections_per_peer: 128,
            drain_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            body_min_bytes: 16 * 1024,
            request_body_timeout: Duration::from_secs(120),
            upload_sessions_per_token: 64,
            upload_bytes_per_token: 1 << 40,
            upload_idle_timeout: Duration::from_secs(3600),
            page_bytes: 4 << 20,
            auth_failure_burst: 20,
            auth_failure_refill: Duration::from_secs(3),
        }
    }
}

/// How to run the server.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// Holds `meta.db`, `blobs/` and `admin.token` in the embedded default.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; default `sqlite://DATA_DIR/meta.db`.
    pub database_url: Option<String>,
    /// `s3://…`, `gs://…`, `az://…`, `file://…` or a path; default `DATA_DIR/blobs`.
    pub blob_url: Option<String>,
    /// An OSV source (directory of JSON/YAML records or an `all.zip`) the
    /// server imports into its database whenever it changes.
    pub vulndb_watch: Option<PathBuf>,
    /// How often `vulndb_watch` is checked for changes.
    pub vulndb_watch_interval: std::time::Duration,
    /// Inputs provenance must name on ingestion (all by default).
    pub provenance_requirements: provenant_provenance::Requirements,
    /// Transparency log settings.
    pub log: crate::tlog::LogOptions,
    /// Budgets of connections, bodies, uploads and pages.
    pub limits: Limits,
    /// Serve HTTPS with this certificate and key (reloaded when either file
    /// changes, and on SIGHUP when `start` handles signals); plain HTTP
    /// without.
    pub tls: Option<crate::tls::TlsFiles>,
    /// On first start (no tokens in the database), the admin token is read
    /// from this file instead of generated, and `admin.token` is not
    /// written. Ignored once tokens exist.
    pub admin_token_file: Option<PathBuf>,
    /// Accept OIDC identity tokens of CI workloads from these issuers, mapped
    /// to service accounts and roles by these rules.
    pub oidc: Option<provenant_oidc::OidcConfig>,
    /// The policy gate: policies, what it gates, the admission webhook.
    pub gate: crate::gate::GateConfig,
}

impl ServeConfig {
    /// The embedded default (SQLite and local blobs under `data_dir`).
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            listen,
            data_dir,
            database_url: None,
            blob_url: None,
            vulndb_watch: None,
            vulndb_watch_interval: std::time::Duration::from_secs(60),
            provenance_requirements: Default::default(),
            log: Default::default(),
            limits: Limits::default(),
            tls: None,
            admin_token_file: None,
            oidc: None,
            gate: Default::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("writing admin token to {path}: {source}")]
    Token {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("creating the administrator: {0}")]
    Bootstrap(String),
    #[error("OIDC workload identity: {0}")]
    Oidc(String),
    /// The policy set does not load (a start never serves without it).
    #[error(transparent)]
    Policy(#[from] crate::gate::GateError),
    #[error("random number generator: {0}")]
    Random(String),
    #[error("transparency log: {0}")]
    Log(String),
    #[error("invalid limit {name}: {reason}")]
    Limit { name: &'static str, reason: String },
    /// A TLS certificate or key file that cannot be served.
    #[error("TLS file {path}: {reason}")]
    Tls { path: PathBuf, reason: String },
    /// An `--admin-token-file` that holds no usable token.
    #[error("admin token file {path}: {reason}")]
    AdminTokenFile { path: PathBuf, reason: String },
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    /// `https` when serving TLS, else `http`.
    pub scheme: &'static str,
    /// The admin token, when this start generated it (first start without
    /// an admin token file).
    pub new_admin_token: Option<String>,
    pub database: String,
    pub blobs: String,
    counters: Arc<Counters>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    join: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// The server's base URL, `scheme://addr` (an unspecified listen
    /// address stays as it is: substitute a host name).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Failed authentications and refused connections since the start.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Stop accepting connections, finish in-flight requests, and return.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(());
        self.join.await.map_err(std::io::Error::other)?
    }

    /// Wait until the server stops (it stops on Ctrl-C or SIGTERM when
    /// started with `handle_signals`).
    pub async fn wait(self) -> std::io::Result<()> {
        let Running { join, shutdown, .. } = self;
        let result = join.await.map_err(std::io::Error::other)?;
        drop(shutdown);
        result
    }
}

pub(crate) fn write_secret(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

/// The admin token an `--admin-token-file` holds: one token as
/// [`generate_token`] makes them (`pvt_` and 43 base64url characters, 256
/// bits), surrounding white space ignored.
fn read_admin_token(path: &Path) -> Result<String, ServerError> {
    let wrong = |reason: String| ServerError::AdminTokenFile {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| wrong(format!("cannot read it: {e}")))?;
    // A token is 47 bytes; anything much longer is some other file.
    if meta.len() > 4096 {
        return Err(wrong(format!(
            "{} bytes is not one token (pvt_ and 43 base64url characters)",
            meta.len()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                file = %path.display(),
                mode = format_args!("{mode:o}"),
                "the admin token file can be read by other users (chmod 600 it)"
            );
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| wrong(format!("cannot read it: {e}")))?;
    let token = text.trim();
    let Some(secret) = token.strip_prefix(TOKEN_PREFIX) else {
        return Err(wrong(format!(
            "does not hold a token: a token starts with {TOKEN_PREFIX} (the file's content is not shown)"
        )));
    };
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(secret);
    match decoded {
        Ok(bytes) if bytes.len() == 32 && secret.len() == 43 => Ok(token.to_owned()),
        _ => Err(wrong(format!(
            "the token must be {TOKEN_PREFIX} followed by 43 base64url characters (32 random \
             bytes, unpadded); this one has {} characters after {TOKEN_PREFIX}",
            secret.chars().count()
        ))),
    }
}

/// Middleware: a client address that failed to authenticate too often is
/// answered 429 (`too_many_failures`, with `Retry-After`) when it presents
/// credentials again, before they are looked at; every 401 answer to a
/// request that carried credentials counts as a failure of its address.
/// Requests without an `Authorization` header neither count nor are
/// refused: they cannot guess a token, and public reads from a shared
/// address stay open. (Concurrent requests may all pass the check before
/// their failures count; each failure still pushes the address's next
/// attempt one refill later, so the rate over time stays bounded.)
/// A credential this server validated within the token cache's lifetime
/// passes even from a refused address: guesses from a shared address do
/// not lock out the callers behind it that hold real credentials.
async fn limit_auth_failures(
    axum::extract::State((failures, state)): axum::extract::State<(Arc<FailureLimiter>, AppState)>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let credentials = req
        .headers()
        .contains_key(axum::http::header::AUTHORIZATION);
    let (Some(peer), true) = (peer, credentials) else {
        return next.run(req).await;
    };
    if let Err(wait) = failures.check(peer.ip(), std::time::Instant::now()) {
        // A caller whose credential this server validated moments ago is
        // not locked out by guesses made from its address (a NAT, a CI
        // runner pool): only credentials not yet known are refused.
        let validated = req
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|h| state.holds_validated_credential(h));
        if validated {
            return next.run(req).await;
        }
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        tracing::debug!(%peer, retry_after_s = seconds, "refused: too many failed authentications");
        let mut response = crate::api_error::ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            provenant_api::ErrorCode::TooManyFailures,
            format!("too many failed authentications from this address; retry in {seconds} s"),
        )
        .into_response();
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(seconds),
        );
        return response;
    }
    let response = next.run(req).await;
    if response.status() == axum::http::StatusCode::UNAUTHORIZED
        && failures.record_failure(peer.ip(), std::time::Instant::now())
    {
        tracing::warn!(
            %peer,
            tracked = failures.len(),
            "too many failed authentications: this address is refused for a while"
        );
    }
    response
}

/// Open the stores, create the admin token on first start, bind, and serve in
/// a background task.
pub async fn start(config: ServeConfig, handle_signals: bool) -> Result<Running, ServerError> {
    let limits = config.limits;
    let positive = |name: &'static str, zero: bool| {
        if zero {
            Err(ServerError::Limit {
                name,
                reason: "must be greater than zero".into(),
            })
        } else {
            Ok(())
        }
    };
    positive("max_connections", limits.max_connections == 0)?;
    positive(
        "max_connections_per_peer",
        limits.max_connections_per_peer == 0,
    )?;
    positive("header_timeout", limits.header_timeout.is_zero())?;
    positive("body_timeout", limits.body_timeout.is_zero())?;
    positive(
        "request_body_timeout",
        limits.request_body_timeout.is_zero(),
    )?;
    positive("upload_idle_timeout", limits.upload_idle_timeout.is_zero())?;
    positive("auth_failure_burst", limits.auth_failure_burst == 0)?;
    positive("auth_failure_refill", limits.auth_failure_refill.is_zero())?;
    // A certificate that cannot be served stops the start before anything
    // is created.
    let certs = config
        .tls
        .clone()
        .map(crate::tls::CertStore::load)
        .transpose()?;
    let tls = certs
        .as_ref()
        .map(|c| c.server_config())
        .transpose()?
        .map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c)));
    // So is an OIDC configuration that does not hold (unreadable JWKS file,
    // a rule naming no issuer).
    let oidc = config
        .oidc
        .clone()
        .map(provenant_oidc::Verifier::new)
        .transpose()
        .map_err(|e| ServerError::Oidc(e.to_string()))?
        .map(Arc::new);
    if let Some(v) = oidc.clone() {
        // Remote keys are fetched now rather than on the first CI request;
        // a failure is logged and retried when a token needs the keys.
        tokio::spawn(async move {
            for e in v.prefetch().await {
                tracing::warn!(error = %e, "fetching an OIDC issuer's keys failed");
            }
        });
    }
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).map_err(|source| ServerError::DataDir {
        path: dir.clone(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let (database_location, database) = match &config.database_url {
        Some(url) => (DatabaseLocation::Url(url.clone()), redact(url)),
        None => {
            let path = dir.join("meta.db");
            let shown = format!("sqlite {}", path.display());
            (DatabaseLocation::SqliteFile(path), shown)
        }
    };
    let blob_location = match &config.blob_url {
        Some(url) => BlobLocation::Url(url.clone()),
        None => BlobLocation::Directory(dir.join("blobs")),
    };
    let mut registry = Registry::open(&database_location, &blob_location).await?;
    registry.provenance_requirements = config.provenance_requirements;
    let blobs_location = registry.blob_location().to_owned();

    let mut new_admin_token = None;
    if registry
        .needs_bootstrap()
        .await
        .map_err(|e| ServerError::Bootstrap(e.to_string()))?
    {
        let token = match &config.admin_token_file {
            Some(file) => {
                let token = read_admin_token(file)?;
                tracing::info!(file = %file.display(), "admin token taken from the admin token file");
                token
            }
            None => {
                let token = generate_token().map_err(|e| ServerError::Random(e.to_string()))?;
                let path = dir.join("admin.token");
                if path.exists() {
                    std::fs::remove_file(&path).map_err(|source| ServerError::Token {
                        path: path.clone(),
                        source,
                    })?;
                }
                write_secret(&path, &token).map_err(|source| ServerError::Token {
                    path: path.clone(),
                    source,
                })?;
                new_admin_token = Some(token.clone());
                token
            }
        };
        registry
            .bootstrap_admin(&token)
            .await
            .map_err(|e| ServerError::Bootstrap(e.to_string()))?;
    } else if let Some(file) = &config.admin_token_file {
        tracing::info!(
            file = %file.display(),
            "the database holds tokens already: the admin token file is not used"
        );
    }

    let gate = Arc::new(crate::gate::PolicyGate::new(config.gate.clone())?);
    if let Some(digest) = gate.policy_set() {
        registry
            .policy_set_record(
                &digest,
                &gate.set_description(),
                crate::gate::GATE_PRINCIPAL,
            )
            .await
            .map_err(|e| ServerError::Log(format!("recording the policy set: {e}")))?;
        tracing::info!(policy_set = %digest, "policy set loaded");
        tokio::spawn(crate::gate::watch(gate.clone(), registry.clone()));
    }
    let log = crate::tlog::open_log(&config, dir, &registry).await?;
    let (stop_sequencer, sequencer_stop) = tokio::sync::watch::channel(false);
    let sequencer = tokio::spawn(log.clone().run_until(sequencer_stop));
    crate::tlog::spawn_witness_collector(log.clone(), &config.log.witnesses)?;
    let state = AppState {
        gate,
        log,
        registry,
        uploads: Arc::new(std::sync::Mutex::new(HashMap::new())),
        token_cache: Arc::new(std::sync::Mutex::new(HashMap::new())),
        unknown_tokens: Default::default(),
        credential_generation: Default::default(),
        oidc,
        limits,
        counters: Default::default(),
    };
    let counters = state.counters.clone();
    tokio::spawn(crate::uploads::reap_idle(state.clone()));
    if let Some(path) = config.vulndb_watch.clone() {
        tokio::spawn(crate::vulnwatch::watch(
            state.registry.clone(),
            path,
            config.vulndb_watch_interval,
        ));
    }
    let failures = Arc::new(FailureLimiter::new(
        limits.auth_failure_burst,
        limits.auth_failure_refill,
    ));
    let app = routes::router(state.clone()).layer(axum::middleware::from_fn_with_state(
        (failures, state.clone()),
        limit_auth_failures,
    ));
    let reloader =
        certs.map(|c| crate::tls::spawn_reloader(c, crate::tls::POLL_INTERVAL, handle_signals));
    let listener =
        TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServerError::Listen {
                addr: config.listen,
                source,
            })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServerError::Listen {
            addr: config.listen,
            source,
        })?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let registry_for_close = state.registry.clone();
    let counters_for_loop = counters.clone();
    let join = tokio::spawn(async move {
        let shutdown = async move {
            if handle_signals {
                tokio::select! {
                    _ = rx => {}
                    () = signal() => {}
                }
            } else {
                let _ = rx.await;
            }
            tracing::info!("shutting down: finishing in-flight requests");
        };
        serve(listener, tls, app, limits, &counters_for_loop, shutdown).await;
        if let Some(r) = reloader {
            r.abort();
        }
        let result = Ok(());
        // Let the sequencer finish its batch before the database closes.
        let _ = stop_sequencer.send(true);
        if tokio::time::timeout(std::time::Duration::from_secs(10), sequencer)
            .await
            .is_err()
        {
            tracing::warn!("log sequencer did not stop within 10 s");
        }
        registry_for_close.close().await;
        result
    });
    Ok(Running {
        addr,
        scheme: if config.tls.is_some() {
            "https"
        } else {
            "http"
        },
        new_admin_token,
        database,
        blobs: blobs_location,
        counters,
        shutdown: tx,
        join,
    })
}

/// A request body that delivered fewer than `min_bytes` bytes in a
/// `window` spent waiting for it, or did not arrive whole in time.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyStalled {
    #[error(
        "the request body delivered {got} bytes in {window:?} (at least {min_bytes} are required)"
    )]
    Slow {
        got: u64,
        window: Duration,
        min_bytes: u64,
    },
    #[error("the request body did not arrive whole within {total:?}")]
    Late { total: Duration },
}

/// The [`BodyStalled`] an error of a paced body comes from, if it does.
pub(crate) fn stalled<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e BodyStalled> {
    let mut at = Some(error);
    while let Some(e) = at {
        if let Some(s) = e.downcast_ref::<BodyStalled>() {
            return Some(s);
        }
        at = e.source();
    }
    None
}

/// Ends a request body with [`BodyStalled`] when it delivers fewer than
/// `min_bytes` bytes in a `window` of time spent waiting on the client (time
/// the handler spends on what it read does not count), so that a trickle
/// cannot hold a request, and what it holds, for ever.
pub(crate) fn paced(
    body: axum::body::Body,
    window: Duration,
    min_bytes: u64,
    total: Option<Duration>,
) -> axum::body::Body {
    use futures::StreamExt as _;
    let deadline = total.map(|t| tokio::time::Instant::now() + t);
    struct Pace {
        stream: axum::body::BodyDataStream,
        waited: Duration,
        got: u64,
        done: bool,
    }
    let start = Pace {
        stream: body.into_data_stream(),
        waited: Duration::ZERO,
        got: 0,
        done: false,
    };
    let stream = futures::stream::unfold(start, move |mut p| async move {
        if p.done {
            return None;
        }
        loop {
            let since = tokio::time::Instant::now();
            let mut wait = window.saturating_sub(p.waited);
            if let Some(d) = deadline {
                wait = wait.min(d.saturating_duration_since(since));
            }
            let next = tokio::time::timeout(wait, p.stream.next()).await;
            p.waited += since.elapsed();
            if let (Err(_), Some(total)) = (&next, total)
                && deadline.is_some_and(|d| tokio::time::Instant::now() >= d)
            {
                p.done = true;
                let late = BodyStalled::Late { total };
                return Some((Err(axum::BoxError::from(late)), p));
            }
            match next {
                Ok(Some(Ok(chunk))) => {
                    p.got += chunk.len() as u64;
                    if p.waited >= window && p.got >= min_bytes {
                        (p.waited, p.got) = (Duration::ZERO, 0);
                    }
                    return Some((Ok(chunk), p));
                }
                Ok(Some(Err(e))) => {
                    p.done = true;
                    return Some((Err(axum::BoxError::from(e)), p));
                }
                Ok(None) => return None,
                Err(_) if p.got >= min_bytes => (p.waited, p.got) = (Duration::ZERO, 0),
                Err(_) => {
                    p.done = true;
                    let stall = BodyStalled::Slow {
                        got: p.got,
                        window,
                        min_bytes,
                    };
                    return Some((Err(axum::BoxError::from(stall)), p));
                }
            }
        }
    });
    axum::body::Body::from_stream(stream)
}

/// Middleware: every request body with bytes to come is [`paced`].
pub(crate) async fn pace_bodies(
    axum::extract::State(limits): axum::extract::State<Limits>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::body::HttpBody as _;
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    // An upload's PATCH streams for as long as it keeps pace; any other body
    // is JSON of bounded size and must also arrive whole in good time.
    let total = (req.method() != axum::http::Method::PATCH).then_some(limits.request_body_timeout);
    let req = req.map(|b| paced(b, limits.body_timeout, limits.body_min_bytes, total));
    next.run(req).await
}

/// Accept connections until `shutdown`, serving at most
/// `limits.max_connections` at once, then let the open ones finish their
/// requests. (axum::serve has neither a connection cap nor a header read
/// timeout.)
async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: axum::Router,
    limits: Limits,
    counters: &Counters,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // Connections being refused, each for a moment: beyond these, a
    // connection over the cap is dropped without an answer.
    let refusals = Arc::new(Semaphore::new(64));
    let per_peer: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>> =
        Arc::default();
    let (closing_tx, closing) = watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors, or the peer gave up before
                    // the accept: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Responses go out as headers then body chunks: without TCP_NODELAY,
        // Nagle's algorithm holds a small body until the client's delayed ACK
        // of the headers (up to 40 ms per small blob or streamed response).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on a connection");
        }
        let Some(peer_slot) = PeerSlot::take(&per_peer, peer.ip(), limits.max_connections_per_peer)
        else {
            counters.connections_refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                %peer,
                max_connections_per_peer = limits.max_connections_per_peer,
                "connection refused: this address holds the maximum number of connections"
            );
            if let Ok(slot) = refusals.clone().try_acquire_owned() {
                let tls = tls.clone();
                tokio::spawn(async move {
                    refuse(tcp, tls, limits.max_connections_per_peer).await;
                    drop(slot);
                });
            }
            continue;
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            counters.connections_refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                %peer,
                max_connections = limits.max_connections,
                refused_total = counters.connections_refused(),
                "connection refused: serving the maximum number of connections"
            );
            if let Ok(slot) = refusals.clone().try_acquire_owned() {
                let tls = tls.clone();
                tokio::spawn(async move {
                    refuse(tcp, tls, limits.max_connections).await;
                    drop(slot);
                });
            }
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(
            tower_http::add_extension::AddExtension::new(app.clone(), ConnectInfo(peer)),
        );
        let mut closing = closing.clone();
        let http = http.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => drive(&http, tcp, service, closing, peer).await,
                // The handshake runs here, not in the accept loop, so that a
                // slow one holds up only its own connection; it gets the
                // time a client has to send its headers.
                Some(acceptor) => {
                    let handshake = tokio::select! {
                        r = tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp)) => r,
                        _ = closing.wait_for(|c| *c) => return,
                    };
                    match handshake {
                        Ok(Ok(stream)) => drive(&http, stream, service, closing, peer).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(
                            %peer,
                            header_timeout_s = limits.header_timeout.as_secs(),
                            "TLS handshake timed out"
                        ),
                    }
                }
            }
            drop(permit);
            drop(peer_slot);
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    // Every connection holds a permit until it ends; one that does not end
    // (a client that never reads its response) does not hold up shutdown.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.drain_timeout, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            open = limits.max_connections - permits.available_permits(),
            drain_timeout_s = limits.drain_timeout.as_secs(),
            "shutting down with connections still open"
        );
    }
}

/// The service of one connection: the router, told the client's address.
type ConnService = hyper_util::service::TowerToHyperService<
    tower_http::add_extension::AddExtension<axum::Router, ConnectInfo<SocketAddr>>,
>;

/// Serve HTTP/1.1 on one connection (plain or TLS) until it ends; once the
/// server is `closing`, finish the request in flight and close.
async fn drive<I>(
    http: &hyper::server::conn::http1::Builder,
    io: I,
    service: ConnService,
    mut closing: watch::Receiver<bool>,
    peer: SocketAddr,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let conn = http.serve_connection(hyper_util::rt::TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                break;
            }
            _ = closing.wait_for(|c| *c), if !draining => {
                conn.as_mut().graceful_shutdown();
                draining = true;
            }
        }
    }
}

/// One of a client address's connections, counted while it lives.
struct PeerSlot {
    map: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
    ip: std::net::IpAddr,
}

impl PeerSlot {
    /// A slot for `ip`, unless it holds `max` connections already.
    fn take(
        map: &Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
        ip: std::net::IpAddr,
        max: usize,
    ) -> Option<Self> {
        let mut held = map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = held.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Self {
            map: map.clone(),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut held = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = held.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

/// Answer a connection over the cap with 503 and close it (over TLS after a
/// handshake of at most two seconds).
async fn refuse(tcp: TcpStream, tls: Option<tokio_rustls::TlsAcceptor>, max: usize) {
    match tls {
        None => answer_503(tcp, max).await,
        Some(acceptor) => {
            if let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(2), acceptor.accept(tcp)).await
            {
                answer_503(stream, max).await;
            }
        }
    }
}

/// Write the 503 and close, reading what the client sent meanwhile (briefly)
/// so that closing does not reset the connection before the client reads
/// the answer.
async fn answer_503<S>(mut tcp: S, max: usize)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let body = serde_json::to_string(&provenant_api::ErrorBody {
        code: provenant_api::ErrorCode::TooManyConnections,
        message: format!("the server is serving its maximum of {max} connections; retry shortly"),
        decision: None,
    })
    .unwrap_or_default();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer = async {
        tcp.write_all(response.as_bytes()).await?;
        tcp.shutdown().await?;
        let mut sink = [0u8; 4096];
        let mut left: usize = 64 * 1024;
        while left > 0 {
            let n = tcp.read(&mut sink).await?;
            if n == 0 {
                break;
            }
            left = left.saturating_sub(n);
        }
        std::io::Result::Ok(())
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), answer).await;
}

async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<unparsable URL>".into(),
    }
}

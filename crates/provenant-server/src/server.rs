//! Server start-up: data directory, stores, admin token, listener, graceful shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::serve::ListenerExt as _;
use provenant_registry::Registry;
use provenant_store::{BlobStore, Store, StoreError};
use tokio::net::TcpListener;

use crate::auth::{generate_token, hash_token};
use crate::routes;
use crate::state::AppState;

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
    #[error("random number generator: {0}")]
    Random(String),
    #[error("transparency log: {0}")]
    Log(String),
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    /// The admin token, when this start created it (first start).
    pub new_admin_token: Option<String>,
    pub database: String,
    pub blobs: String,
    shutdown: tokio::sync::oneshot::Sender<()>,
    join: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
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

/// Open the stores, create the admin token on first start, bind, and serve in
/// a background task.
pub async fn start(config: ServeConfig, handle_signals: bool) -> Result<Running, ServerError> {
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
    let (store, database) = match &config.database_url {
        Some(url) => (Store::connect(url).await?, redact(url)),
        None => {
            let path = dir.join("meta.db");
            (
                Store::open_sqlite(&path).await?,
                format!("sqlite {}", path.display()),
            )
        }
    };
    let blobs = match &config.blob_url {
        Some(url) => BlobStore::open(url)?,
        None => BlobStore::local(&dir.join("blobs"))?,
    };
    let blobs_location = blobs.location().to_owned();

    let mut new_admin_token = None;
    if store.token_count().await? == 0 {
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
        store
            .token_insert("admin", &hash_token(&token), "admin")
            .await?;
        new_admin_token = Some(token);
    }

    let log = crate::tlog::open_log(&config, dir, store.clone(), blobs.clone()).await?;
    let (stop_sequencer, sequencer_stop) = tokio::sync::watch::channel(false);
    let sequencer = tokio::spawn(log.clone().run_until(sequencer_stop));
    crate::tlog::spawn_witness_collector(log.clone(), &config.log.witnesses)?;
    let mut registry = Registry::new(store, blobs);
    registry.provenance_requirements = config.provenance_requirements;
    let state = AppState {
        log,
        registry,
        uploads: Arc::new(std::sync::Mutex::new(HashMap::new())),
        token_cache: Arc::new(std::sync::Mutex::new(HashMap::new())),
    };
    tokio::spawn(crate::uploads::reap_idle(state.clone()));
    if let Some(path) = config.vulndb_watch.clone() {
        tokio::spawn(crate::vulnwatch::watch(
            state.registry.clone(),
            path,
            config.vulndb_watch_interval,
        ));
    }
    let app = routes::router(state.clone());
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
    let store_for_close = state.registry.store.clone();
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
        // Responses go out as headers then body chunks: without TCP_NODELAY,
        // Nagle's algorithm holds a small body until the client's delayed ACK
        // of the headers (up to 40 ms per small blob or streamed response).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY on a connection");
            }
        });
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        // Let the sequencer finish its batch before the database closes.
        let _ = stop_sequencer.send(true);
        if tokio::time::timeout(std::time::Duration::from_secs(10), sequencer)
            .await
            .is_err()
        {
            tracing::warn!("log sequencer did not stop within 10 s");
        }
        store_for_close.close().await;
        result
    });
    Ok(Running {
        addr,
        new_admin_token,
        database,
        blobs: blobs_location,
        shutdown: tx,
        join,
    })
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

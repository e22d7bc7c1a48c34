//! A small witness (C2SP tlog-witness, <https://c2sp.org/tlog-witness>):
//! `POST /add-checkpoint` checks the log's signature and a consistency proof
//! from the size it last cosigned, answers 409 with that size when the
//! client's `old` is stale, and returns an Ed25519 cosignature
//! (C2SP tlog-cosignature). The last cosigned tree head per origin is kept
//! in a JSON file, replaced atomically on every change.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use provenant_tlog::{
    CosignatureSigner, Error as TlogError, Hash, SwapOutcome, TreeHead, Witness, WitnessStore,
    parse_verifier_key, unix_now,
};

/// Witness state in a JSON file: origin → (size, hex root).
pub struct FileWitnessStore {
    path: PathBuf,
    heads: Mutex<HashMap<String, (u64, String)>>,
}

impl FileWitnessStore {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let heads = match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => return Err(e),
        };
        Ok(Self {
            path: path.to_owned(),
            heads: Mutex::new(heads),
        })
    }

    fn save(&self, heads: &HashMap<String, (u64, String)>) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(heads)?)?;
        std::fs::rename(&tmp, &self.path)
    }
}

fn storage(context: &str, e: impl std::fmt::Display) -> TlogError {
    // The engine's storage error takes a boxed source.
    TlogError::Storage {
        context: context.to_owned(),
        source: e.to_string().into(),
    }
}

impl WitnessStore for FileWitnessStore {
    fn latest(&self, origin: &str) -> Result<Option<TreeHead>, TlogError> {
        let heads = self
            .heads
            .lock()
            .map_err(|_| storage("reading witness state", "lock poisoned"))?;
        heads
            .get(origin)
            .map(|(size, root)| {
                Ok(TreeHead {
                    size: *size,
                    root: Hash::from_hex(root)
                        .ok_or_else(|| storage("reading witness state", "bad root hash"))?,
                })
            })
            .transpose()
    }

    fn compare_and_swap(
        &self,
        origin: &str,
        expected_size: u64,
        new: TreeHead,
    ) -> Result<SwapOutcome, TlogError> {
        let mut heads = self
            .heads
            .lock()
            .map_err(|_| storage("updating witness state", "lock poisoned"))?;
        let current_size = heads.get(origin).map_or(0, |h| h.0);
        if current_size != expected_size {
            return Ok(SwapOutcome::Conflict { current_size });
        }
        let mut next = heads.clone();
        next.insert(origin.to_owned(), (new.size, new.root.to_hex()));
        self.save(&next)
            .map_err(|e| storage("writing witness state", e))?;
        *heads = next;
        Ok(SwapOutcome::Swapped)
    }
}

/// How to run a witness.
#[derive(Clone, Debug)]
pub struct WitnessConfig {
    pub listen: SocketAddr,
    /// Holds `witness.key` (generated, 0600), `witness.vkey` and `state.json`.
    pub data_dir: PathBuf,
    /// Key name for a generated key.
    pub name: String,
    /// Logs to witness: (origin, log verifier key).
    pub logs: Vec<(String, String)>,
}

/// A running witness.
pub struct RunningWitness {
    pub addr: SocketAddr,
    pub vkey: String,
    join: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningWitness {
    pub async fn wait(self) -> std::io::Result<()> {
        self.join.await.map_err(std::io::Error::other)?
    }
}

type Shared = Arc<Witness<FileWitnessStore>>;

async fn add_checkpoint(State(w): State<Shared>, body: Bytes) -> Response {
    if body.len() > 64 * 1024 {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request too large\n").into_response();
    }
    let w2 = w.clone();
    let result = tokio::task::spawn_blocking(move || w2.add_checkpoint(&body, unix_now())).await;
    match result {
        Ok(Ok(lines)) => (StatusCode::OK, lines).into_response(),
        Ok(Err(TlogError::WitnessConflict { current_size, .. })) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, "text/x.tlog.size")],
            format!("{current_size}\n"),
        )
            .into_response(),
        Ok(Err(e)) => {
            let status = e
                .witness_http_status()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status.is_server_error() {
                tracing::error!(error = %e, "witness failure");
                (status, "internal error\n".to_owned()).into_response()
            } else {
                (status, format!("{e}\n")).into_response()
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "witness task failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

/// Starts a witness in a background task.
pub async fn start_witness(config: WitnessConfig) -> Result<RunningWitness, String> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("creating {}: {e}", config.data_dir.display()))?;
    let key_path = config.data_dir.join("witness.key");
    if !key_path.exists() {
        let signer = CosignatureSigner::generate(&config.name).map_err(|e| e.to_string())?;
        crate::server::write_secret(&key_path, &signer.skey())
            .map_err(|e| format!("writing {}: {e}", key_path.display()))?;
    }
    let skey = std::fs::read_to_string(&key_path)
        .map_err(|e| format!("reading {}: {e}", key_path.display()))?;
    let signer = CosignatureSigner::from_skey(skey.trim())
        .map_err(|e| format!("{}: {e}", key_path.display()))?;
    let vkey = signer.vkey();
    let _ = std::fs::write(config.data_dir.join("witness.vkey"), format!("{vkey}\n"));
    let store = FileWitnessStore::open(&config.data_dir.join("state.json"))
        .map_err(|e| format!("witness state: {e}"))?;
    let mut witness = Witness::new(signer, store);
    for (origin, key) in &config.logs {
        let v = parse_verifier_key(key).map_err(|e| format!("log key for {origin}: {e}"))?;
        witness.add_log(origin, v);
    }
    let shared: Shared = Arc::new(witness);
    let app = Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let join = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(RunningWitness { addr, vkey, join })
}

//! A small witness (C2SP tlog-witness, <https://c2sp.org/tlog-witness>):
//! `POST /add-checkpoint` checks the log's signature and a consistency proof
//! from the size it last cosigned, answers 409 with that size when the
//! client's `old` is stale, and returns an Ed25519 cosignature
//! (C2SP tlog-cosignature). The last cosigned tree head per origin is kept
//! in a JSON file, replaced atomically and durably on every change before the
//! cosignature is returned: a crash cannot roll it back and let the witness
//! cosign a fork of what it already cosigned.

use std::collections::HashMap;
use std::io::Write as _;
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
    /// Reads the state at `path` (none yet: empty). A temporary file left
    /// beside it by a crash is removed: it was never renamed into place, so no
    /// cosignature was returned for what it holds.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let tmp = temp_path(path);
        match std::fs::remove_file(&tmp) {
            Ok(()) => tracing::warn!(
                file = %tmp.display(),
                "removed a witness state file left unfinished by a crash"
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("removing leftover {}: {e}", tmp.display()),
                ));
            }
        }
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

    /// Replaces the state file atomically and durably: the new content goes
    /// to a temporary file beside it, which is flushed to disk and renamed
    /// over the state file; then the directory is flushed so that the rename
    /// survives a crash too. Returns only once all of that is done.
    fn save(&self, heads: &HashMap<String, (u64, String)>) -> std::io::Result<()> {
        let context = |what: &str, p: &Path| {
            let what = what.to_owned();
            let p = p.display().to_string();
            move |e: std::io::Error| std::io::Error::new(e.kind(), format!("{what} {p}: {e}"))
        };
        let bytes = serde_json::to_vec_pretty(heads)?;
        let tmp = temp_path(&self.path);
        let mut f = std::fs::File::create(&tmp).map_err(context("creating", &tmp))?;
        f.write_all(&bytes).map_err(context("writing", &tmp))?;
        f.sync_all().map_err(context("flushing", &tmp))?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(context("renaming into", &self.path))?;
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        sync_dir(dir).map_err(context("flushing directory", dir))
    }
}

/// The temporary file beside `path` that [`FileWitnessStore::save`] renames into place.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Flushes a directory's entries (a rename in it) to disk.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Directories cannot be opened for flushing here; the rename is all there is.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use provenant_tlog::{
        AddCheckpointRequest, Checkpoint, Ed25519Signer, MemoryLog, consistency_proof,
    };

    const ORIGIN: &str = "log.example/w";

    /// A log, its signer, and the witness's key.
    struct Setup {
        log: MemoryLog,
        signer: Ed25519Signer,
        witness_skey: String,
    }

    impl Setup {
        fn new() -> Self {
            Self {
                log: MemoryLog::new(),
                signer: Ed25519Signer::generate(ORIGIN).unwrap(),
                witness_skey: CosignatureSigner::generate("witness.example/w")
                    .unwrap()
                    .skey(),
            }
        }

        /// A witness started (as after a restart) from the state file at `state`.
        fn witness(&self, state: &Path) -> Witness<FileWitnessStore> {
            let mut w = Witness::new(
                CosignatureSigner::from_skey(&self.witness_skey).unwrap(),
                FileWitnessStore::open(state).unwrap(),
            );
            w.add_log(ORIGIN, Box::new(self.signer.verifier()));
            w
        }

        /// Grows the log by `n` entries; the add-checkpoint request from `old`.
        fn grow(&mut self, n: u64, old: u64) -> Vec<u8> {
            let start = self.log.size();
            let entries: Vec<Vec<u8>> = (start..start + n)
                .map(|i| i.to_be_bytes().to_vec())
                .collect();
            self.log.append(&entries).unwrap();
            let note = Checkpoint::new(ORIGIN, self.log.size(), self.log.root().unwrap())
                .sign(&[&self.signer])
                .unwrap();
            AddCheckpointRequest {
                old_size: old,
                proof: consistency_proof(old, self.log.size(), &self.log.hash_reader()).unwrap(),
                checkpoint: note.into_bytes(),
            }
            .to_body()
        }
    }

    /// The head recorded on disk for [`ORIGIN`], read as a restarted witness would.
    fn on_disk(state: &Path) -> Option<TreeHead> {
        FileWitnessStore::open(state)
            .unwrap()
            .latest(ORIGIN)
            .unwrap()
    }

    #[test]
    fn cosigned_head_is_on_disk_before_the_cosignature_is_returned() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let mut s = Setup::new();
        let w = s.witness(&state);
        let req = s.grow(10, 0);
        w.add_checkpoint(&req, 1_700_000_000).unwrap();
        // As soon as the cosignature is returned, the file holds the head,
        // complete (it parses), and no temporary file is left.
        let root = s.log.root().unwrap();
        assert_eq!(on_disk(&state), Some(TreeHead { size: 10, root }));
        assert!(!temp_path(&state).exists());
        let req = s.grow(5, 10);
        w.add_checkpoint(&req, 1_700_000_001).unwrap();
        let root = s.log.root().unwrap();
        assert_eq!(on_disk(&state), Some(TreeHead { size: 15, root }));

        // A witness restarted from that file is not rolled back: a request
        // from an older size is a conflict naming the size it holds.
        let restarted = s.witness(&state);
        let req = s.grow(1, 10);
        match restarted.add_checkpoint(&req, 1_700_000_002) {
            Err(TlogError::WitnessConflict { current_size, .. }) => assert_eq!(current_size, 15),
            other => panic!("expected a conflict at 15, got {other:?}"),
        }
    }

    #[test]
    fn leftover_temp_file_does_not_confuse_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let mut s = Setup::new();
        let req = s.grow(10, 0);
        s.witness(&state).add_checkpoint(&req, 1).unwrap();
        let committed = on_disk(&state);
        assert_eq!(committed.map(|h| h.size), Some(10));

        // A crash while writing the next state leaves a half-written temporary
        // file: start-up keeps the committed state and removes the leftover.
        std::fs::write(temp_path(&state), br#"{"log.example/w": [99, "ab"#).unwrap();
        let w = s.witness(&state);
        assert!(!temp_path(&state).exists());
        assert_eq!(on_disk(&state), committed);
        let req = s.grow(5, 10);
        w.add_checkpoint(&req, 2).unwrap();
        assert_eq!(on_disk(&state).map(|h| h.size), Some(15));

        // A crash before the first state was ever renamed into place: no state.
        let fresh = dir.path().join("fresh.json");
        std::fs::write(temp_path(&fresh), br#"{"log.example/w": [7, "00"]}"#).unwrap();
        assert_eq!(on_disk(&fresh), None);
        assert!(!temp_path(&fresh).exists());
    }
}

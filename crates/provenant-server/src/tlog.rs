//! Transparency log wiring: the signing key in the data directory, the
//! origin, and the witness collector (C2SP tlog-witness client).

use std::path::Path;
use std::time::Duration;

use provenant_registry::{LogConfig, LogHead, Registry, TransparencyLog};
use provenant_tlog::{
    AddCheckpointRequest, Checkpoint, CosignatureVerifier, Ed25519Signer, NoteSignature, parse_note,
};

use crate::server::{ServeConfig, ServerError};

/// A witness the log submits checkpoints to.
#[derive(Clone, Debug)]
pub struct WitnessPeer {
    /// Base URL; the request goes to `<url>/add-checkpoint`.
    pub url: String,
    /// The witness's cosignature verifier key (`name+id+base64(0x04‖key)`).
    pub vkey: String,
}

impl std::str::FromStr for WitnessPeer {
    type Err = String;
    /// `URL,VKEY`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (url, vkey) = s
            .split_once(',')
            .ok_or_else(|| format!("witness {s:?} must be URL,VERIFIER_KEY"))?;
        CosignatureVerifier::from_vkey(vkey).map_err(|e| format!("witness key of {url}: {e}"))?;
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            vkey: vkey.to_owned(),
        })
    }
}

/// Log settings of the server.
#[derive(Clone, Debug, Default)]
pub struct LogOptions {
    /// Checkpoint origin [default: host name + `/log`].
    pub origin: Option<String>,
    /// File holding the signing key (`PRIVATE+KEY+…`) [default:
    /// `DATA_DIR/keys/log.key`, generated on first start, mode 0600].
    pub key_file: Option<std::path::PathBuf>,
    /// Witnesses to collect cosignatures from.
    pub witnesses: Vec<WitnessPeer>,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty() && provenant_tlog::is_valid_key_name(h))
        .unwrap_or_else(|| "provenant.localhost".into())
}

/// Loads (or on first start generates) the log key and opens the log.
pub async fn open_log(
    config: &ServeConfig,
    data_dir: &Path,
    registry: &Registry,
) -> Result<TransparencyLog, ServerError> {
    let origin = config
        .log
        .origin
        .clone()
        .unwrap_or_else(|| format!("{}/log", host_name()));
    let bad = ServerError::Log;
    let key_path = match &config.log.key_file {
        Some(p) => p.clone(),
        None => {
            let keys = data_dir.join("keys");
            std::fs::create_dir_all(&keys).map_err(|source| ServerError::DataDir {
                path: keys.clone(),
                source,
            })?;
            let path = keys.join("log.key");
            if !path.exists() {
                let signer = Ed25519Signer::generate(&origin).map_err(|e| bad(e.to_string()))?;
                crate::server::write_secret(&path, &signer.skey()).map_err(|source| {
                    ServerError::Token {
                        path: path.clone(),
                        source,
                    }
                })?;
                tracing::info!(path = %path.display(), vkey = %signer.vkey(), "generated the log signing key");
            }
            path
        }
    };
    let skey = std::fs::read_to_string(&key_path)
        .map_err(|e| bad(format!("reading log key {}: {e}", key_path.display())))?;
    let signer = Ed25519Signer::from_skey(skey.trim())
        .map_err(|e| bad(format!("log key {}: {e}", key_path.display())))?;
    registry
        .open_log(signer, LogConfig::new(&origin))
        .await
        .map_err(|e| bad(e.to_string()))
}

/// Starts one task that submits each new checkpoint to the witnesses and
/// stores the checkpoint with the cosignatures collected.
pub fn spawn_witness_collector(
    log: TransparencyLog,
    witnesses: &[WitnessPeer],
) -> Result<(), ServerError> {
    if witnesses.is_empty() {
        return Ok(());
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ServerError::Log(format!("witness HTTP client: {e}")))?;
    let mut peers = Vec::new();
    for w in witnesses {
        let v = CosignatureVerifier::from_vkey(&w.vkey)
            .map_err(|e| ServerError::Log(format!("witness {}: {e}", w.url)))?;
        peers.push((w.clone(), v, None::<u64>));
    }
    let mut rx = log.subscribe();
    tokio::spawn(async move {
        // Start from what is already committed.
        if let Ok(head) = log.head(true).await {
            cosign_round(&log, &http, &mut peers, &head).await;
        }
        while rx.changed().await.is_ok() {
            let head = rx.borrow_and_update().clone();
            if let Some(head) = head {
                cosign_round(&log, &http, &mut peers, &head).await;
            }
        }
    });
    Ok(())
}

async fn cosign_round(
    log: &TransparencyLog,
    http: &reqwest::Client,
    peers: &mut [(WitnessPeer, CosignatureVerifier, Option<u64>)],
    head: &LogHead,
) {
    let Ok((text, existing)) = parse_note(head.checkpoint.as_bytes()) else {
        return;
    };
    let mut cosigs: Vec<NoteSignature> = Vec::new();
    for (peer, verifier, last) in peers.iter_mut() {
        match submit(log, http, peer, verifier, last, head, &text).await {
            Ok(sig) => cosigs.push(sig),
            Err(e) => tracing::warn!(witness = %peer.url, error = %e, "witness did not cosign"),
        }
    }
    if cosigs.is_empty() {
        return;
    }
    let Ok(cp) = Checkpoint::parse(&text) else {
        return;
    };
    match cp.add_signatures(&existing, &cosigs) {
        Ok(note) => {
            if let Err(e) = log.set_cosigned(&note).await {
                tracing::warn!(error = %e, "storing the cosigned checkpoint");
            }
        }
        Err(e) => tracing::warn!(error = %e, "adding cosignatures"),
    }
}

async fn submit(
    log: &TransparencyLog,
    http: &reqwest::Client,
    peer: &WitnessPeer,
    verifier: &CosignatureVerifier,
    last: &mut Option<u64>,
    head: &LogHead,
    text: &str,
) -> Result<NoteSignature, String> {
    for _ in 0..2 {
        let old = last.unwrap_or(0).min(head.size);
        let proof = log
            .consistency(old, head.size)
            .await
            .map_err(|e| e.to_string())?;
        let body = AddCheckpointRequest {
            old_size: old,
            proof,
            checkpoint: head.checkpoint.clone().into_bytes(),
        }
        .to_body();
        let resp = http
            .post(format!("{}/add-checkpoint", peer.url))
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let bytes = resp.text().await.map_err(|e| e.to_string())?;
        if status.as_u16() == 409 {
            // The witness holds another size: retry from it.
            let size = bytes
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("409 without a tree size: {:?}", bytes.trim()))?;
            if size > head.size {
                return Err(format!(
                    "witness has size {size}, beyond this log's {} (fork or rollback?)",
                    head.size
                ));
            }
            *last = Some(size);
            continue;
        }
        if !status.is_success() {
            return Err(format!("HTTP {status}: {}", bytes.trim()));
        }
        let sig = parse_cosignature_line(&bytes, verifier, text)?;
        *last = Some(head.size);
        return Ok(sig);
    }
    Err("witness kept answering 409".into())
}

/// Parses and verifies the witness's `— name base64` line.
fn parse_cosignature_line(
    body: &str,
    verifier: &CosignatureVerifier,
    text: &str,
) -> Result<NoteSignature, String> {
    // Reuse the note parser: a fake note whose only signature is this line.
    let fake = format!("{text}\n{body}");
    let (_, sigs) = parse_note(fake.as_bytes()).map_err(|e| format!("cosignature line: {e}"))?;
    let want = verifier.vkey();
    let name = want.split('+').next().unwrap_or_default();
    let sig = sigs
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| format!("no cosignature from {name} in the response"))?;
    verifier
        .verify_cosignature(text.as_bytes(), &sig.signature_bytes())
        .map_err(|e| format!("cosignature does not verify: {e}"))?;
    Ok(sig)
}

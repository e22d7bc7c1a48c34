use provenant_api::{ConsistencyView, EntryView, InclusionView, LogEventView};
use std::path::PathBuf;

use anyhow::Context as _;
use reqwest::Method;

use crate::GlobalArgs;
use crate::client::Client;
use crate::commands::oms::Refused;
use provenant_tlog::{
    Checkpoint, CosignatureVerifier, Ed25519Verifier, Hash, NoteVerifier, Verifiers, leaf_hash,
    verify_consistency, verify_inclusion,
};

/// The registry's transparency log: key, checkpoint, verification, proofs.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the log's signed-note verifier key (pin it with --log-key)
    Key,
    /// Print the latest signed checkpoint
    Checkpoint,
    /// Verify the checkpoint's signature against the pinned key and its
    /// consistency with the last checkpoint this client saw; refuses (exit 1)
    /// a log that forked or shrank
    Verify(#[command(flatten)] TrustArgs),
    /// Prove that a version's log entries (`ns/name:N`) or an index are in the log
    Prove {
        /// Version reference or log index
        target: String,
        #[command(flatten)]
        trust: TrustArgs,
    },
}

/// How to trust the log.
#[derive(Debug, Clone, clap::Args)]
pub struct TrustArgs {
    /// The log's verifier key (`name+id+base64`) [default: `log_key` in the config file]
    #[arg(long = "log-key", env = "PROVENANT_LOG_KEY")]
    pub log_key: Option<String>,
    /// A witness's cosignature verifier key (repeatable)
    #[arg(long = "witness-key", value_name = "VKEY")]
    pub witness_keys: Vec<String>,
    /// How many of the given witnesses must have cosigned the checkpoint
    #[arg(long = "min-witnesses", default_value_t = 0)]
    pub min_witnesses: usize,
    /// Where checkpoints seen are remembered [default: $XDG_STATE_HOME/provenant
    /// or ~/.local/state/provenant]
    #[arg(long, env = "PROVENANT_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

/// A checkpoint that verified, and what it was checked against.
pub struct Verified {
    pub checkpoint: Checkpoint,
    pub note: String,
    pub previous: Option<u64>,
    pub witnesses: Vec<String>,
}

fn state_dir(a: &TrustArgs) -> PathBuf {
    if let Some(d) = &a.state_dir {
        return d.clone();
    }
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("provenant")
}

fn origin_file(dir: &std::path::Path, origin: &str) -> PathBuf {
    let safe: String = origin
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join("checkpoints").join(safe)
}

pub async fn get_text(client: &Client, path: &str) -> anyhow::Result<String> {
    let resp = client.send(client.request(Method::GET, path)?).await?;
    resp.text().await.context("reading the response")
}

pub async fn get_bytes(client: &Client, path: &str) -> anyhow::Result<Vec<u8>> {
    let resp = client.send(client.request(Method::GET, path)?).await?;
    Ok(resp.bytes().await.context("reading the response")?.to_vec())
}

fn pinned_key(a: &TrustArgs) -> anyhow::Result<Ed25519Verifier> {
    let key = match &a.log_key {
        Some(k) => k.clone(),
        None => crate::client::read_config()?.log_key.ok_or_else(|| {
            anyhow::anyhow!(
                "no pinned log key: pass --log-key (or set PROVENANT_LOG_KEY, or log_key in the config file); \
                 `provenant log key` prints the server's key — compare it out of band before pinning it"
            )
        })?,
    };
    Ed25519Verifier::from_vkey(key.trim()).context("the pinned log key")
}

fn parse_hashes(hashes: &[String], what: &str) -> anyhow::Result<Vec<Hash>> {
    hashes
        .iter()
        .enumerate()
        .map(|(i, h)| {
            Hash::from_base64(h).ok_or_else(|| {
                anyhow::Error::new(Refused(format!(
                    "{what}: hash {i} is not base64 of 32 bytes"
                )))
            })
        })
        .collect()
}

/// Fetches the checkpoint, verifies it and its consistency with the last
/// one seen, and remembers it.
pub async fn verify_latest(client: &Client, a: &TrustArgs) -> anyhow::Result<Verified> {
    let key = pinned_key(a)?;
    let mut verifiers = Verifiers::new();
    let log_name = key.name().to_owned();
    let log_id = key.key_id();
    verifiers.push(key);
    let mut witness_names = Vec::new();
    for w in &a.witness_keys {
        let v = CosignatureVerifier::from_vkey(w.trim())
            .with_context(|| format!("witness key {w:?}"))?;
        witness_names.push((v.name().to_owned(), v.key_id()));
        verifiers.push(v);
    }
    if a.min_witnesses > witness_names.len() {
        anyhow::bail!(
            "--min-witnesses {} but only {} --witness-key given",
            a.min_witnesses,
            witness_names.len()
        );
    }
    let note = get_text(client, "log/checkpoint").await?;
    let (cp, opened) = Checkpoint::open(note.as_bytes(), None, &verifiers)
        .map_err(|e| Refused(format!("checkpoint from {}: {e}", client.base())))?;
    if !opened
        .sigs
        .iter()
        .any(|s| s.name == log_name && s.key_id == log_id)
    {
        return Err(Refused(format!(
            "checkpoint from {} is not signed by the pinned log key {log_name}",
            client.base()
        ))
        .into());
    }
    let witnesses: Vec<String> = opened
        .sigs
        .iter()
        .filter(|s| {
            witness_names
                .iter()
                .any(|(n, id)| *n == s.name && *id == s.key_id)
        })
        .map(|s| s.name.clone())
        .collect();
    if witnesses.len() < a.min_witnesses {
        return Err(Refused(format!(
            "checkpoint of {} at size {} has {} valid witness cosignatures, {} required",
            cp.origin,
            cp.size,
            witnesses.len(),
            a.min_witnesses
        ))
        .into());
    }

    // Consistency with what this client saw before.
    let dir = state_dir(a);
    let path = origin_file(&dir, &cp.origin);
    let mut previous = None;
    match std::fs::read_to_string(&path) {
        Ok(old_note) => {
            let (old, _) = Checkpoint::open(old_note.as_bytes(), Some(&cp.origin), &verifiers)
                .with_context(|| format!("the remembered checkpoint {}", path.display()))?;
            if cp.size < old.size {
                return Err(Refused(format!(
                    "LOG SHRANK: {} now has size {}, but this client saw size {} (remembered in {})",
                    cp.origin,
                    cp.size,
                    old.size,
                    path.display()
                ))
                .into());
            }
            if cp.size == old.size && cp.root != old.root {
                return Err(Refused(format!(
                    "LOG FORKED: {} at size {} has root {}, but this client saw root {}",
                    cp.origin, cp.size, cp.root, old.root
                ))
                .into());
            }
            if cp.size > old.size && old.size > 0 {
                let view: ConsistencyView = client
                    .get_json(&format!(
                        "api/v1/log/proof/consistency?old={}&new={}",
                        old.size, cp.size
                    ))
                    .await?;
                let proof = parse_hashes(&view.hashes, "consistency proof")?;
                verify_consistency(old.size, cp.size, &proof, &old.root, &cp.root).map_err(
                    |e| {
                        Refused(format!(
                            "LOG FORKED: {} at size {} is not consistent with size {} seen before: {e}",
                            cp.origin, cp.size, old.size
                        ))
                    },
                )?;
            }
            previous = Some(old.size);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    if previous.is_none_or(|p| cp.size >= p) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &note).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(Verified {
        checkpoint: cp,
        note,
        previous,
        witnesses,
    })
}

pub async fn run(g: &GlobalArgs, c: Command) -> anyhow::Result<()> {
    let client = g.client()?;
    match c {
        Command::Key => {
            print!("{}", get_text(&client, "log/key").await?);
        }
        Command::Checkpoint => {
            print!("{}", get_text(&client, "log/checkpoint").await?);
        }
        Command::Verify(a) => {
            let v = verify_latest(&client, &a).await?;
            if g.json {
                return crate::output::json(&serde_json::json!({
                    "origin": v.checkpoint.origin,
                    "size": v.checkpoint.size,
                    "root": v.checkpoint.root.to_base64(),
                    "previous_size": v.previous,
                    "witnesses": v.witnesses,
                }));
            }
            println!(
                "checkpoint verified: {} size {} root {}",
                v.checkpoint.origin, v.checkpoint.size, v.checkpoint.root
            );
            match v.previous {
                Some(p) => println!("consistent with size {p} seen before"),
                None => println!("first checkpoint seen from this log; remembered"),
            }
            if !v.witnesses.is_empty() {
                println!("cosigned by {}", v.witnesses.join(", "));
            }
        }
        Command::Prove { target, trust } => {
            let v = verify_latest(&client, &trust).await?;
            let size = v.checkpoint.size;
            // By version reference, the entries come with the version's
            // events (whoever may read the version may prove them); a bare
            // index is read from the log's entries (auditor or admin).
            let events: Vec<(String, Option<u64>, Option<EntryView>)> = match target.parse::<u64>()
            {
                Ok(i) => vec![(String::new(), Some(i), None)],
                Err(_) => {
                    let q: String = url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("ref", &target)
                        .finish();
                    let rows: Vec<LogEventView> =
                        client.get_json(&format!("api/v1/log/versions?{q}")).await?;
                    rows.into_iter()
                        .map(|r| {
                            let index = r.log_index.and_then(|i| u64::try_from(i).ok());
                            let entry = index.map(|index| EntryView {
                                index,
                                entry: r.entry,
                                leaf_hash: r.leaf_hash.unwrap_or_default(),
                                kind: r.kind.clone(),
                                source: r.source,
                                source_id: r.source_id,
                            });
                            (r.kind, index, entry)
                        })
                        .collect()
                }
            };
            if events.is_empty() {
                return Err(Refused(format!("{target} has no log entries")).into());
            }
            let mut out = Vec::new();
            for (kind, index, entry) in events {
                let Some(index) = index else {
                    return Err(Refused(format!(
                        "{target}: a {kind} entry is not sequenced yet (no checkpoint covers it)"
                    ))
                    .into());
                };
                if index >= size {
                    return Err(Refused(format!(
                        "log index {index} is not covered by the checkpoint (size {size})"
                    ))
                    .into());
                }
                let e: EntryView = match entry {
                    Some(e) => e,
                    None => {
                        client
                            .get_json(&format!("api/v1/log/entries/{index}"))
                            .await?
                    }
                };
                let p: InclusionView = client
                    .get_json(&format!(
                        "api/v1/log/proof/inclusion?index={index}&size={size}"
                    ))
                    .await?;
                let proof = parse_hashes(&p.hashes, "inclusion proof")?;
                let leaf = leaf_hash(e.entry.as_bytes());
                verify_inclusion(&leaf, index, size, &proof, &v.checkpoint.root).map_err(
                    |err| {
                        Refused(format!(
                            "entry {index} is not proven in the checkpoint of size {size}: {err}"
                        ))
                    },
                )?;
                out.push(e);
            }
            if g.json {
                return crate::output::json(&serde_json::json!({
                    "checkpoint": v.note,
                    "entries": out,
                }));
            }
            for e in &out {
                // An attachment entry says what it attached (signature, sbom, provenance).
                let attached = serde_json::from_str::<serde_json::Value>(&e.entry)
                    .ok()
                    .and_then(|entry| entry["details"]["kind"].as_str().map(|k| format!(" {k}")))
                    .unwrap_or_default();
                println!(
                    "included: index {} ({}{attached}) in {} size {}",
                    e.index, e.kind, v.checkpoint.origin, size
                );
                println!("  {}", e.entry);
            }
        }
    }
    Ok(())
}

use anyhow::Context as _;
use provenant_api::{AccessEventView, AuditRecordView, LogEventView};
use provenant_tlog::{
    MemoryLog, TILE_WIDTH, TileId, TileReader, parse_entry_bundle, tile_width, tiles_for_size,
};
use serde_json::Value;

use crate::GlobalArgs;
use crate::commands::log::{TrustArgs, get_bytes, verify_latest};
use crate::commands::oms::Refused;

/// Audit the registry against its transparency log (needs an admin token).
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Recompute the whole tree from the entry bundles, check it against the
    /// verified checkpoint and the served tiles, and cross-check the registry
    /// database against the log; every problem is reported with its log index
    Verify(#[command(flatten)] TrustArgs),
    /// Print the audit trail as JSON Lines (who, what, when, target, outcome, log index): the
    /// logged changes, then authentication failures, permission denials and identity changes
    Export {
        /// Only events at or after this time (RFC 3339, YYYY-MM-DD, or Unix ms)
        #[arg(long)]
        since: Option<String>,
    },
}

/// One finding of `audit verify`.
#[derive(Debug, serde::Serialize)]
struct Problem {
    /// Log index concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u64>,
    /// What is wrong, and where.
    what: String,
}

fn parse_since(s: &str) -> anyhow::Result<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Ok((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let d = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .with_context(|| format!("--since {s:?}: expected RFC 3339, YYYY-MM-DD or Unix ms"))?;
    Ok(d.midnight().assume_utc().unix_timestamp() * 1000)
}

pub async fn run(g: &GlobalArgs, c: Command) -> anyhow::Result<()> {
    let client = g.client()?;
    match c {
        Command::Export { since } => {
            let since = since.as_deref().map(parse_since).transpose()?.unwrap_or(0);
            let mut after = 0i64;
            loop {
                let page: Vec<LogEventView> = client
                    .get_json(&format!(
                        "api/v1/admin/log/events?since={since}&after={after}&limit=1000"
                    ))
                    .await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                for e in &page {
                    let entry: Value = serde_json::from_str(&e.entry).unwrap_or(Value::Null);
                    let line = serde_json::json!({
                        "trail": "log",
                        "who": entry.get("who"),
                        "what": e.kind,
                        "when": provenant_registry::rfc3339(e.created_at),
                        "target": entry.get("target"),
                        "details": entry.get("details"),
                        "outcome": if e.log_index.is_some() { "logged" } else { "pending" },
                        "log_index": e.log_index,
                    });
                    println!("{line}");
                }
            }
            // Then the access part of the trail: authentication failures,
            // permission denials and changes to identities and roles.
            let mut after = 0i64;
            loop {
                let page: Vec<AccessEventView> = client
                    .get_json(&format!(
                        "api/v1/admin/access-events?since={since}&after={after}&limit=1000"
                    ))
                    .await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                for e in &page {
                    let line = serde_json::json!({
                        "trail": "access",
                        "who": e.principal,
                        "what": e.kind,
                        "when": e.at,
                        "target": e.path,
                        "details": {
                            "method": e.method,
                            "credential": e.credential,
                            "reason": e.reason,
                        },
                        "from": e.peer,
                        "outcome": e.code,
                        "log_index": Value::Null,
                    });
                    println!("{line}");
                }
            }
            Ok(())
        }
        Command::Verify(trust) => {
            let v = verify_latest(&client, &trust).await?;
            let size = v.checkpoint.size;
            let mut problems: Vec<Problem> = Vec::new();

            // 1. Entry bundles → the whole tree.
            let mut log = MemoryLog::new();
            let mut entries: Vec<Vec<u8>> = Vec::with_capacity(size as usize);
            for b in 0..size.div_ceil(TILE_WIDTH) {
                let width = tile_width(0, b, size).unwrap_or(0);
                let id = TileId::entries(b, width);
                let bytes = get_bytes(&client, &format!("log/{}", id.path())).await?;
                match parse_entry_bundle(&id, &bytes) {
                    Ok(es) => {
                        let es: Vec<Vec<u8>> = es.iter().map(|e| e.to_vec()).collect();
                        log.append(&es)?;
                        entries.extend(es);
                    }
                    Err(e) => {
                        problems.push(Problem {
                            index: Some(b * TILE_WIDTH),
                            what: format!("{e}"),
                        });
                        // Keep the tree's shape with placeholders so later checks still run.
                        let n = usize::from(width);
                        let filler: Vec<Vec<u8>> = (0..n).map(|_| Vec::new()).collect();
                        log.append(&filler)?;
                        entries.extend(filler);
                    }
                }
            }
            let root = log.root()?;
            if root != v.checkpoint.root {
                problems.push(Problem {
                    index: None,
                    what: format!(
                        "the entry bundles give root {root} for size {size}, but the checkpoint says {}",
                        v.checkpoint.root
                    ),
                });
            }
            // 2. Served hash tiles against the recomputed ones.
            for id in tiles_for_size(size) {
                let served = get_bytes(&client, &format!("log/{}", id.path())).await?;
                let mine = log.read_tiles(&[id])?;
                let mine = mine.first().copied().unwrap_or_default();
                if served != mine {
                    let first_bad = served
                        .chunks(32)
                        .zip(mine.chunks(32))
                        .position(|(a, b)| a != b);
                    let index = match (id.kind, first_bad) {
                        (provenant_tlog::TileKind::Hashes(0), Some(k)) => {
                            Some(id.index * TILE_WIDTH + k as u64)
                        }
                        _ => None,
                    };
                    problems.push(Problem {
                        index,
                        what: format!(
                            "tile {} ({} bytes) differs from the tree recomputed from the entry bundles{}",
                            id.path(),
                            served.len(),
                            first_bad.map_or(String::new(), |k| format!(" at hash {k}"))
                        ),
                    });
                }
            }
            // 3. The registry database against the log.
            let records: Vec<AuditRecordView> = client.get_json("api/v1/admin/log/records").await?;
            for r in &records {
                let row = format!("{} row {} ({})", r.source, r.source_id, r.target);
                let Some(index) = r.log_index.and_then(|i| u64::try_from(i).ok()) else {
                    problems.push(Problem {
                        index: None,
                        what: format!("{row} has no log entry ({} missing)", r.kind),
                    });
                    continue;
                };
                let Some(raw) = entries.get(index as usize) else {
                    problems.push(Problem {
                        index: Some(index),
                        what: format!(
                            "{row} claims log index {index}, beyond the checkpoint (size {size})"
                        ),
                    });
                    continue;
                };
                let entry: Value = match serde_json::from_slice(raw) {
                    Ok(e) => e,
                    Err(e) => {
                        problems.push(Problem {
                            index: Some(index),
                            what: format!("log entry {index} is not JSON: {e}"),
                        });
                        continue;
                    }
                };
                let mut diffs = Vec::new();
                let mut check = |field: &str, logged: Option<&Value>, db: &Value| {
                    if logged != Some(db) {
                        diffs.push(format!(
                            "{field} is {} in the log but {db} in the database",
                            logged.map_or("absent".into(), Value::to_string)
                        ));
                    }
                };
                check("type", entry.get("type"), &Value::from(r.kind.clone()));
                check(
                    "target",
                    entry.get("target"),
                    &Value::from(r.target.clone()),
                );
                check("who", entry.get("who"), &Value::from(r.who.clone()));
                if let Some(obj) = r.details.as_object() {
                    for (k, want) in obj {
                        check(
                            &format!("details.{k}"),
                            entry.get("details").and_then(|d| d.get(k)),
                            want,
                        );
                    }
                }
                for d in diffs {
                    problems.push(Problem {
                        index: Some(index),
                        what: format!("log entry {index} disagrees with {row}: {d}"),
                    });
                }
            }

            if g.json {
                crate::output::json(&serde_json::json!({
                    "origin": v.checkpoint.origin,
                    "size": size,
                    "records": records.len(),
                    "problems": problems,
                }))?;
            } else {
                println!(
                    "{}: recomputed {size} entries; {} registry rows cross-checked",
                    v.checkpoint.origin,
                    records.len()
                );
                for p in &problems {
                    match p.index {
                        Some(i) => eprintln!("PROBLEM at log index {i}: {}", p.what),
                        None => eprintln!("PROBLEM: {}", p.what),
                    }
                }
            }
            if problems.is_empty() {
                if !g.json {
                    println!(
                        "audit passed: the log matches its checkpoint and the registry database"
                    );
                }
                Ok(())
            } else {
                Err(Refused(format!("audit found {} problem(s)", problems.len())).into())
            }
        }
    }
}

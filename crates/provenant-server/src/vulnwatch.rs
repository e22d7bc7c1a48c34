//! Keeps the server's OSV database in sync with a directory or `all.zip`
//! on disk: checked every interval, imported when its listing (names, sizes,
//! modification times) changed, which re-scans every attached SBOM.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use provenant_registry::Registry;
use sha2::{Digest as _, Sha256};

/// A cheap fingerprint of the source: every file's path, size and mtime.
fn fingerprint(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut h = Sha256::new();
    let mut stack = vec![path.to_path_buf()];
    let mut entries = Vec::new();
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p)?;
        if meta.is_dir() {
            for e in std::fs::read_dir(&p)? {
                let e = e?;
                if e.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                stack.push(e.path());
            }
        } else {
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            entries.push((p, meta.len(), mtime));
        }
    }
    entries.sort();
    for (p, len, mtime) in entries {
        h.update(p.as_os_str().as_encoded_bytes());
        h.update(len.to_le_bytes());
        h.update(mtime.to_le_bytes());
    }
    Ok(h.finalize().into())
}

/// Reads the source and imports it as the complete content of its canonical path.
async fn import(registry: &Registry, path: &Path) -> anyhow::Result<()> {
    let p = path.to_path_buf();
    let (source, records, issues) = tokio::task::spawn_blocking(move || {
        let canonical = std::fs::canonicalize(&p)?;
        // Named like `vulndb import --server` names it: by the last path component.
        let source = canonical.file_name().map_or_else(
            || canonical.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let items = provenant_vuln::read_source(&p)?;
        let mut records = Vec::with_capacity(items.len());
        let mut issues = Vec::new();
        for item in items {
            match item.result {
                Ok(r) => records.push(serde_json::to_value(&r)?),
                Err(e) => issues.push(format!("{}: {}: {}", item.file, e.field, e.message)),
            }
        }
        anyhow::Ok((source, records, issues))
    })
    .await??;
    for i in &issues {
        tracing::warn!(issue = %i, "vulnerability source record skipped");
    }
    let report = registry
        .vulndb_import(&source, records, "vulndb-watch")
        .await?;
    tracing::info!(
        source = %report.source,
        added = report.added,
        updated = report.updated,
        removed = report.removed,
        records = report.records,
        rescanned = report.rescanned,
        new_findings = report.new_findings,
        "vulnerability database synchronised"
    );
    Ok(())
}

/// Runs forever: import at start, then whenever the source changes.
pub async fn watch(registry: Registry, path: PathBuf, interval: Duration) {
    let mut last: Option<[u8; 32]> = None;
    loop {
        let p = path.clone();
        match tokio::task::spawn_blocking(move || fingerprint(&p)).await {
            Ok(Ok(fp)) if last != Some(fp) => match import(&registry, &path).await {
                Ok(()) => last = Some(fp),
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %format!("{e:#}"), "vulnerability database import failed");
                }
            },
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!(path = %path.display(), error = %e, "cannot read the vulnerability source");
            }
            Err(e) => tracing::error!(error = %e, "vulnerability watch task failed"),
        }
        tokio::time::sleep(interval).await;
    }
}

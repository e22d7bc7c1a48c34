//! Server-side vulnerability scanning: the OSV database lives in the
//! metadata store, every SBOM attached to a version is scanned when it is
//! attached and again whenever the database changes, and findings are kept
//! per version with the time each was first seen.

use std::sync::Arc;

use provenant_store::{NewFinding, OsvRow, Store, VersionRow};
use provenant_vuln::{Format, Index, IndexEntry, Level, SourceItem};
use serde_json::Value;

use crate::attestations::{AttachmentKind, attestation_statement};
use crate::service::rfc3339;
use crate::{Registry, RegistryError};

/// The in-memory index of the OSV database at one generation.
#[derive(Default)]
pub(crate) struct VulnCache {
    current: tokio::sync::Mutex<Option<(i64, Arc<Index>)>>,
}

pub use provenant_api::{FindingView, FindingsView, VulnDbImport, VulnDbStatus};

/// What one scan of a version found.
#[derive(Clone, Debug, Default)]
pub struct VersionScan {
    pub findings: usize,
    pub new: usize,
    pub resolved: usize,
}

fn severity_rank(level: &str) -> u8 {
    match level {
        "critical" => 5,
        "high" => 4,
        "medium" => 3,
        "low" => 2,
        "none" => 1,
        _ => 0,
    }
}

impl Registry {
    /// The OSV index at the database's current generation, loaded from the
    /// metadata store when another process (or replica) changed it.
    pub(crate) async fn vuln_index(&self) -> Result<(i64, Arc<Index>), RegistryError> {
        let state = self.store.vulndb_state().await?;
        let mut cur = self.vuln.current.lock().await;
        if let Some((g, idx)) = cur.as_ref()
            && *g == state.generation
        {
            return Ok((*g, idx.clone()));
        }
        let index = Arc::new(load_vuln_index(&self.store).await?);
        *cur = Some((state.generation, index.clone()));
        Ok((state.generation, index))
    }

    /// The state of the server's OSV database.
    pub async fn vulndb_status(&self) -> Result<VulnDbStatus, RegistryError> {
        let s = self.store.vulndb_state().await?;
        Ok(VulnDbStatus {
            generation: s.generation,
            records: s.records,
            updated_at: (s.generation > 0).then(|| rfc3339(s.updated_at)),
            updated_by: s.updated_by,
        })
    }

    /// Imports OSV records (JSON objects) as the complete current content of
    /// `source` (same semantics as `vulndb import` locally: newer `modified`
    /// replaces, withdrawn removes, vanished records of the source are
    /// removed), stores the database and re-scans every version with an SBOM.
    pub async fn vulndb_import(
        &self,
        source: &str,
        records: Vec<Value>,
        by: &str,
    ) -> Result<VulnDbImport, RegistryError> {
        if source.trim().is_empty() {
            return Err(RegistryError::InvalidVulnDb {
                reason: "source: empty (name the database the records come from)".into(),
            });
        }
        let _import = self.vuln_import.lock().await;
        let (_, current) = self.vuln_index().await?;
        let source = source.to_owned();
        let (report, rows, count) = tokio::task::spawn_blocking(move || {
            let items = records
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    let file = format!(
                        "records[{i}]{}",
                        v.get("id")
                            .and_then(Value::as_str)
                            .map(|id| format!(" ({id})"))
                            .unwrap_or_default()
                    );
                    let bytes = serde_json::to_vec(&v).unwrap_or_default();
                    SourceItem {
                        result: provenant_vuln::parse_record(&bytes, Format::Json),
                        file,
                    }
                })
                .collect();
            let mut index = Index::clone(&current);
            let report = index.import_items(&source, items);
            let rows = rows_from_index(&index);
            let count = index.len();
            (report, rows, count)
        })
        .await
        .map_err(|e| RegistryError::Internal {
            reason: format!("vulnerability database import task: {e}"),
        })?;
        let rows = rows?;
        let changed = report.added + report.updated + report.removed > 0;
        let generation = if changed {
            let g = self.store.osv_replace(&rows, by).await?;
            tracing::info!(source = %report.source, added = report.added, updated = report.updated, removed = report.removed, generation = g, by, "vulnerability database updated");
            g
        } else {
            self.store.vulndb_state().await?.generation
        };
        let (rescanned, new_findings) = if changed {
            self.rescan_all().await?
        } else {
            (0, 0)
        };
        Ok(VulnDbImport {
            source: report.source,
            added: report.added,
            updated: report.updated,
            removed: report.removed,
            unchanged: report.unchanged,
            skipped: report.skipped,
            withdrawn: report.withdrawn,
            issues: report.issues.iter().map(ToString::to_string).collect(),
            records: count,
            generation,
            rescanned,
            new_findings,
        })
    }

    /// Re-scans every version that has an SBOM attached. Returns the number
    /// of versions scanned and of findings first seen.
    pub async fn rescan_all(&self) -> Result<(usize, usize), RegistryError> {
        let ids = self
            .store
            .versions_with_attachment(AttachmentKind::Sbom.as_str())
            .await?;
        let mut new = 0;
        for id in &ids {
            if let Some(row) = self.store.version_by_id(*id).await? {
                new += self.scan_version(&row).await?.new;
            }
        }
        Ok((ids.len(), new))
    }

    /// Scans a version's attached SBOMs against the database and records the
    /// findings. New critical findings on a version an alias points at are
    /// logged as warnings.
    pub async fn scan_version(&self, row: &VersionRow) -> Result<VersionScan, RegistryError> {
        let (generation, index) = self.vuln_index().await?;
        let atts = self
            .store
            .attachments(row.id, AttachmentKind::Sbom.as_str())
            .await?;
        let mut sboms = Vec::new();
        for a in &atts {
            let st = attestation_statement(&a.body).map_err(|e| RegistryError::Internal {
                reason: format!("stored attestation {}: {e}", a.digest),
            })?;
            let bytes = serde_json::to_vec(&st.predicate).unwrap_or_default();
            sboms.push((a.digest, bytes));
        }
        let (findings, components, warnings) = tokio::task::spawn_blocking(move || {
            let mut findings = Vec::new();
            let mut components = 0usize;
            let mut warnings = Vec::new();
            for (digest, bytes) in sboms {
                match provenant_sbom::parse_sbom(&bytes, &format!("sbom {digest}")) {
                    Ok((_format, sbom)) => {
                        let report = provenant_vuln::scan(&index, &sbom, &Default::default());
                        components += report.components;
                        warnings.extend(report.warnings);
                        findings.extend(report.findings);
                    }
                    Err(e) => warnings.push(e.to_string()),
                }
            }
            (findings, components, warnings)
        })
        .await
        .map_err(|e| RegistryError::Internal {
            reason: format!("vulnerability scan task: {e}"),
        })?;
        let total = findings.len();
        let new_findings = findings
            .iter()
            .map(|f| NewFinding {
                fingerprint: f.fingerprint(),
                advisory_id: f.id.clone(),
                purl: f.purl.clone(),
                severity: f.severity.level.as_str().to_owned(),
                finding: serde_json::to_string(f).unwrap_or_default(),
            })
            .collect();
        let change = self
            .store
            .findings_record(
                row.id,
                generation,
                i64::try_from(components).unwrap_or(i64::MAX),
                &serde_json::to_string(&warnings).unwrap_or_default(),
                new_findings,
            )
            .await?;
        let critical: Vec<&NewFinding> = change
            .new
            .iter()
            .filter(|f| f.severity == Level::Critical.as_str())
            .collect();
        if !critical.is_empty() {
            let aliases = self.store.aliases_of_version(row.id).await?;
            if !aliases.is_empty() {
                for f in &critical {
                    tracing::warn!(
                        version = %format!("{}:{}", row.model, row.number),
                        aliases = %aliases.join(","),
                        advisory = %f.advisory_id,
                        purl = %f.purl,
                        "new critical vulnerability on a version an alias points at"
                    );
                }
            }
        }
        Ok(VersionScan {
            findings: total,
            new: change.new.len(),
            resolved: change.resolved,
        })
    }

    /// Scan after an attachment; a failure is logged, never fails the attach.
    pub(crate) async fn scan_version_logged(&self, row: &VersionRow) {
        if let Err(e) = self.scan_version(row).await {
            tracing::error!(version = %format!("{}:{}", row.model, row.number), error = %e, "vulnerability scan failed");
        }
    }

    /// A version's findings, highest severity first (resolved ones too when asked).
    pub async fn findings(
        &self,
        row: &VersionRow,
        include_resolved: bool,
    ) -> Result<FindingsView, RegistryError> {
        let scan = self.store.vuln_scan(row.id).await?;
        let mut rows = self.store.findings(row.id, include_resolved).await?;
        rows.sort_by(|a, b| {
            a.resolved_at
                .is_some()
                .cmp(&b.resolved_at.is_some())
                .then(severity_rank(&b.severity).cmp(&severity_rank(&a.severity)))
                .then(a.advisory_id.cmp(&b.advisory_id))
                .then(a.purl.cmp(&b.purl))
        });
        Ok(FindingsView {
            reference: format!("{}:{}", row.model, row.number),
            digest: row.digest,
            scanned: scan.is_some(),
            scanned_at: scan.as_ref().map(|s| rfc3339(s.scanned_at)),
            generation: scan.as_ref().map_or(0, |s| s.generation),
            components: scan.as_ref().map_or(0, |s| s.components),
            warnings: scan
                .as_ref()
                .and_then(|s| serde_json::from_str(&s.warnings).ok())
                .unwrap_or_default(),
            findings: rows
                .into_iter()
                .map(|f| FindingView {
                    finding: serde_json::from_str(&f.finding).unwrap_or(Value::Null),
                    first_seen: rfc3339(f.first_seen),
                    last_seen: rfc3339(f.last_seen),
                    resolved_at: f.resolved_at.map(rfc3339),
                })
                .collect(),
        })
    }
}

/// A vulnerability database of its own, outside any registry: the CLI's
/// embedded `osv.db` that `provenant vulndb import` fills and `provenant
/// scan` reads. The same tables and codec as the server's.
pub struct LocalVulnDb {
    store: Store,
}

impl LocalVulnDb {
    /// Opens (creating if needed) the SQLite database at `path`.
    pub async fn open(path: &std::path::Path) -> Result<Self, RegistryError> {
        Ok(Self {
            store: Store::open_sqlite(path).await?,
        })
    }

    /// The whole index, parsed on every core.
    pub async fn load(&self) -> Result<Index, RegistryError> {
        load_vuln_index(&self.store).await
    }

    /// Replaces the database's content with `index`; returns the new generation.
    pub async fn save(&self, index: &Index, by: &str) -> Result<i64, RegistryError> {
        save_vuln_index(&self.store, index, by).await
    }

    pub async fn close(self) {
        self.store.close().await;
    }
}

/// The OSV index kept in a metadata store (the server's, or a
/// [`LocalVulnDb`]).
pub(crate) async fn load_vuln_index(store: &Store) -> Result<Index, RegistryError> {
    let groups = store.osv_records_by_source().await?;
    tokio::task::spawn_blocking(move || index_from_groups(groups))
        .await
        .map_err(|e| RegistryError::Internal {
            reason: format!("loading the vulnerability database: {e}"),
        })?
}

/// Replaces the OSV database in `store` with `index`; returns the new generation.
pub(crate) async fn save_vuln_index(
    store: &Store,
    index: &Index,
    by: &str,
) -> Result<i64, RegistryError> {
    let rows = rows_from_index(index)?;
    Ok(store.osv_replace(&rows, by).await?)
}

/// Parses records (joined by U+001E per source) on every core.
fn index_from_groups(groups: Vec<(String, String)>) -> Result<Index, RegistryError> {
    let records: Vec<(&str, &str)> = groups
        .iter()
        .flat_map(|(source, joined)| {
            joined
                .split('\u{1e}')
                .filter(|r| !r.is_empty())
                .map(move |r| (source.as_str(), r))
        })
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, 8);
    let chunk = records.len().div_ceil(threads).max(1);
    let parsed: Vec<Result<Vec<IndexEntry>, RegistryError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = records
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(source, json)| {
                            let record = serde_json::from_str(json).map_err(|e| {
                                RegistryError::Internal {
                                    reason: format!(
                                        "a stored OSV record of {source} is unreadable: {e}"
                                    ),
                                }
                            })?;
                            Ok(IndexEntry {
                                source: (*source).to_owned(),
                                record,
                            })
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(RegistryError::Internal {
                        reason: "a vulnerability database loader thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    let mut entries = Vec::with_capacity(records.len());
    for part in parsed {
        entries.extend(part?);
    }
    Ok(Index::from_entries(entries))
}

fn rows_from_index(index: &Index) -> Result<Vec<OsvRow>, RegistryError> {
    index
        .entries()
        .map(|e| {
            Ok(OsvRow {
                id: e.record.id.clone(),
                source: e.source.clone(),
                modified: e.record.modified.clone(),
                record: serde_json::to_string(&e.record).map_err(|err| {
                    RegistryError::Internal {
                        reason: format!("serialising OSV record {}: {err}", e.record.id),
                    }
                })?,
            })
        })
        .collect()
}

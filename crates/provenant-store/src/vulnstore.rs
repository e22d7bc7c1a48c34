//! The server's vulnerability data: its OSV database (records as JSON, one
//! row each) and per-version findings from scanning attached SBOMs.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::StoreError;
use crate::meta::{Store, now_millis};

/// A stored OSV record: the id, the source that supplied it, its `modified`
/// time and the record as JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsvRow {
    pub id: String,
    pub source: String,
    pub modified: String,
    pub record: String,
}

/// The state of the server's OSV database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VulnDbState {
    /// Bumped on every change; 0 when nothing was ever imported.
    pub generation: i64,
    pub records: i64,
    pub updated_at: i64,
    pub updated_by: String,
}

/// A finding to record (see [`Store::findings_record`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFinding {
    /// Stable identity across scans (advisory id, purl, installed version).
    pub fingerprint: String,
    pub advisory_id: String,
    pub purl: String,
    /// `critical`, `high`, `medium`, `low`, `none` or `unknown`.
    pub severity: String,
    /// The finding as JSON.
    pub finding: String,
}

/// A recorded finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingRow {
    pub version_id: i64,
    pub fingerprint: String,
    pub advisory_id: String,
    pub purl: String,
    pub severity: String,
    pub finding: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub resolved_at: Option<i64>,
}

/// The last scan of a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanRow {
    pub version_id: i64,
    pub generation: i64,
    pub scanned_at: i64,
    pub components: i64,
    /// JSON array of strings.
    pub warnings: String,
}

/// What recording a scan changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindingsChange {
    /// Findings seen for the first time (or reopened), by fingerprint.
    pub new: Vec<NewFinding>,
    /// Findings that no longer match.
    pub resolved: usize,
    /// Findings still present.
    pub unchanged: usize,
}

const FINDING_COLUMNS: &str = "version_id, fingerprint, advisory_id, purl, severity, finding, first_seen, last_seen, resolved_at";

fn finding_from_row(r: &AnyRow) -> Result<FindingRow, sqlx::Error> {
    Ok(FindingRow {
        version_id: r.try_get(0)?,
        fingerprint: r.try_get(1)?,
        advisory_id: r.try_get(2)?,
        purl: r.try_get(3)?,
        severity: r.try_get(4)?,
        finding: r.try_get(5)?,
        first_seen: r.try_get(6)?,
        last_seen: r.try_get(7)?,
        resolved_at: r.try_get(8)?,
    })
}

impl Store {
    /// Every stored record's JSON, grouped by source: (source, records joined
    /// by U+001E, which serialized JSON never contains unescaped). One row per
    /// source instead of one per record: loading the database is one short
    /// round trip.
    pub async fn osv_records_by_source(&self) -> Result<Vec<(String, String)>, StoreError> {
        let sql = match self.backend() {
            crate::Backend::Sqlite => {
                "SELECT source, group_concat(record, char(30)) FROM osv_records GROUP BY source ORDER BY source"
            }
            crate::Backend::Postgres => {
                "SELECT source, string_agg(record, chr(30) ORDER BY id) FROM osv_records GROUP BY source ORDER BY source"
            }
        };
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// The database's state (generation 0 before the first import).
    pub async fn vulndb_state(&self) -> Result<VulnDbState, StoreError> {
        let row = sqlx::query(
            "SELECT generation, records, updated_at, updated_by FROM vulndb_state WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => VulnDbState {
                generation: r.try_get(0)?,
                records: r.try_get(1)?,
                updated_at: r.try_get(2)?,
                updated_by: r.try_get(3)?,
            },
            None => VulnDbState {
                generation: 0,
                records: 0,
                updated_at: 0,
                updated_by: String::new(),
            },
        })
    }

    /// Replaces the OSV database with `records` in one transaction and bumps
    /// the generation; readers see the old or the new database, never a mix.
    pub async fn osv_replace(&self, records: &[OsvRow], by: &str) -> Result<i64, StoreError> {
        let (mut tx, _writer) = self.begin_write().await?;
        sqlx::query("DELETE FROM osv_records")
            .execute(&mut *tx)
            .await?;
        // Multi-row inserts: 4 parameters a row, well under both backends' limits.
        for chunk in records.chunks(200) {
            let mut sql =
                String::from("INSERT INTO osv_records (id, source, modified, record) VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push_str(", ");
                }
                let b = i * 4;
                sql.push_str(&format!("(${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4));
            }
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for r in chunk {
                q = q
                    .bind(&r.id)
                    .bind(&r.source)
                    .bind(&r.modified)
                    .bind(&r.record);
            }
            q.execute(&mut *tx).await?;
        }
        let count = i64::try_from(records.len()).unwrap_or(i64::MAX);
        let generation: i64 = sqlx::query_scalar(
            "INSERT INTO vulndb_state (id, generation, records, updated_at, updated_by) VALUES (1, 1, $1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET generation = vulndb_state.generation + 1, records = $1, updated_at = $2, updated_by = $3 \
             RETURNING generation",
        )
        .bind(count)
        .bind(now_millis())
        .bind(by)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(generation)
    }

    /// Versions that carry at least one attachment of `kind`, oldest first.
    pub async fn versions_with_attachment(&self, kind: &str) -> Result<Vec<i64>, StoreError> {
        let ids = sqlx::query_scalar(
            "SELECT DISTINCT version_id FROM attachments WHERE kind = $1 ORDER BY version_id",
        )
        .bind(kind)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    /// Records the result of scanning a version: new findings get
    /// `first_seen` now, present ones `last_seen` now, absent ones are marked
    /// resolved; a resolved finding that matches again is reopened (and
    /// reported as new). One transaction.
    pub async fn findings_record(
        &self,
        version_id: i64,
        generation: i64,
        components: i64,
        warnings: &str,
        findings: Vec<NewFinding>,
    ) -> Result<FindingsChange, StoreError> {
        let now = now_millis();
        let (mut tx, _writer) = self.begin_write().await?;
        let existing: Vec<(String, Option<i64>)> =
            sqlx::query("SELECT fingerprint, resolved_at FROM vuln_findings WHERE version_id = $1")
                .bind(version_id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, sqlx::Error>>()?;
        let known: std::collections::HashMap<String, Option<i64>> = existing.into_iter().collect();
        let mut change = FindingsChange::default();
        let mut seen = std::collections::HashSet::new();
        for f in findings {
            if !seen.insert(f.fingerprint.clone()) {
                continue;
            }
            match known.get(&f.fingerprint) {
                None => {
                    sqlx::query(
                        "INSERT INTO vuln_findings (version_id, fingerprint, advisory_id, purl, severity, finding, first_seen, last_seen) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                    )
                    .bind(version_id)
                    .bind(&f.fingerprint)
                    .bind(&f.advisory_id)
                    .bind(&f.purl)
                    .bind(&f.severity)
                    .bind(&f.finding)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    change.new.push(f);
                }
                Some(resolved) => {
                    sqlx::query(
                        "UPDATE vuln_findings SET severity = $3, finding = $4, last_seen = $5, resolved_at = NULL \
                         WHERE version_id = $1 AND fingerprint = $2",
                    )
                    .bind(version_id)
                    .bind(&f.fingerprint)
                    .bind(&f.severity)
                    .bind(&f.finding)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    if resolved.is_some() {
                        change.new.push(f);
                    } else {
                        change.unchanged += 1;
                    }
                }
            }
        }
        for (fp, resolved) in &known {
            if resolved.is_none() && !seen.contains(fp) {
                sqlx::query(
                    "UPDATE vuln_findings SET resolved_at = $3 WHERE version_id = $1 AND fingerprint = $2",
                )
                .bind(version_id)
                .bind(fp)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                change.resolved += 1;
            }
        }
        sqlx::query(
            "INSERT INTO vuln_scans (version_id, generation, scanned_at, components, warnings) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (version_id) DO UPDATE SET generation = $2, scanned_at = $3, components = $4, warnings = $5",
        )
        .bind(version_id)
        .bind(generation)
        .bind(now)
        .bind(components)
        .bind(warnings)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(change)
    }

    /// A version's findings (resolved ones too when `include_resolved`),
    /// in first-seen order.
    pub async fn findings(
        &self,
        version_id: i64,
        include_resolved: bool,
    ) -> Result<Vec<FindingRow>, StoreError> {
        let filter = if include_resolved {
            ""
        } else {
            " AND resolved_at IS NULL"
        };
        let sql = format!(
            "SELECT {FINDING_COLUMNS} FROM vuln_findings WHERE version_id = $1{filter} ORDER BY first_seen, id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(version_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(finding_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// The last scan of a version, if it was ever scanned.
    pub async fn vuln_scan(&self, version_id: i64) -> Result<Option<ScanRow>, StoreError> {
        let r = sqlx::query(
            "SELECT version_id, generation, scanned_at, components, warnings FROM vuln_scans WHERE version_id = $1",
        )
        .bind(version_id)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| {
            Ok(ScanRow {
                version_id: r.try_get(0)?,
                generation: r.try_get(1)?,
                scanned_at: r.try_get(2)?,
                components: r.try_get(3)?,
                warnings: r.try_get(4)?,
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| e.into())
    }
}

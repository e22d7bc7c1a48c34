//! Policy decisions and the policy sets they were made under, each row with
//! its log entry.

use sqlx::{AssertSqlSafe, Row};

use super::{Store, now_millis};
use crate::StoreError;
use crate::log::{Change, LogRecord, LogTarget};

/// A gate decision to store.
#[derive(Clone, Debug)]
pub struct NewDecision<'a> {
    /// `namespace/name` of the model decided about.
    pub model: &'a str,
    /// The version's manifest digest (`sha256:…`).
    pub digest: &'a str,
    /// The version's row, when it exists (a refused push has none).
    pub version_id: Option<i64>,
    /// `ingest`, `promote` or `deploy`.
    pub action: &'a str,
    /// The target environment, empty when none was named.
    pub environment: &'a str,
    pub allowed: bool,
    pub policy_set: &'a str,
    pub input_digest: &'a str,
    /// The decision document (JSON) as it was answered.
    pub decision: &'a str,
    pub decided_by: &'a str,
}

/// A stored gate decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionRow {
    pub id: i64,
    pub model: String,
    pub digest: String,
    pub version_id: Option<i64>,
    pub action: String,
    pub environment: String,
    pub allowed: bool,
    pub policy_set: String,
    pub input_digest: String,
    pub decision: String,
    pub decided_at: i64,
    pub decided_by: String,
    /// The index of its log entry, once the sequencer has assigned one.
    pub log_index: Option<i64>,
}

/// A policy set the server loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySetRow {
    pub id: i64,
    pub digest: String,
    /// What the set holds (JSON: modules with their digests, data digest,
    /// mode overrides).
    pub description: String,
    pub loaded_at: i64,
    pub loaded_by: String,
    pub log_index: Option<i64>,
}

const DECISION_COLUMNS: &str = "d.id, d.model, d.digest, d.version_id, d.action, d.environment, \
     d.allowed, d.policy_set, d.input_digest, d.decision, d.decided_at, d.decided_by, e.log_index";

fn decision_from_row(r: &sqlx::any::AnyRow) -> Result<DecisionRow, sqlx::Error> {
    Ok(DecisionRow {
        id: r.try_get(0)?,
        model: r.try_get(1)?,
        digest: r.try_get(2)?,
        version_id: r.try_get(3)?,
        action: r.try_get(4)?,
        environment: r.try_get(5)?,
        allowed: r.try_get::<i64, _>(6)? != 0,
        policy_set: r.try_get(7)?,
        input_digest: r.try_get(8)?,
        decision: r.try_get(9)?,
        decided_at: r.try_get(10)?,
        decided_by: r.try_get(11)?,
        log_index: r.try_get(12)?,
    })
}

impl Store {
    /// Stores a decision and its log entry together; returns its row id.
    pub async fn policy_decision_insert(&self, d: &NewDecision<'_>) -> Result<i64, StoreError> {
        let now = now_millis();
        let (mut tx, writer) = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO policy_decisions (model, digest, version_id, action, environment, allowed, \
             policy_set, input_digest, decision, decided_at, decided_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(d.model)
        .bind(d.digest)
        .bind(d.version_id)
        .bind(d.action)
        .bind(d.environment)
        .bind(i64::from(d.allowed))
        .bind(d.policy_set)
        .bind(d.input_digest)
        .bind(d.decision)
        .bind(now)
        .bind(d.decided_by)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let rec = LogRecord::new(
            Change::PolicyDecision {
                action: d.action.to_owned(),
                digest: d.digest.to_owned(),
                environment: d.environment.to_owned(),
                allowed: d.allowed,
                policy_set: d.policy_set.to_owned(),
                input_digest: d.input_digest.to_owned(),
                decision: d.decision.to_owned(),
            },
            ("policy_decisions", id),
            d.decided_by,
            now,
            LogTarget::Name(d.model.to_owned()),
        );
        self.commit_logged((tx, writer), [rec]).await?;
        Ok(id)
    }

    /// Decisions about `model` at `digest`, newest first, at most `limit`.
    pub async fn policy_decisions(
        &self,
        model: &str,
        digest: &str,
        limit: i64,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        let sql = format!(
            "SELECT {DECISION_COLUMNS} FROM policy_decisions d \
             LEFT JOIN log_events e ON e.source = 'policy_decisions' AND e.source_id = d.id \
             WHERE d.model = $1 AND d.digest = $2 ORDER BY d.id DESC LIMIT CAST($3 AS BIGINT)"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(model)
            .bind(digest)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(decision_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Records that the server loaded the policy set `digest`, with its log
    /// entry, unless the last set recorded is the same one (a restart on
    /// unchanged policies records nothing). Returns whether it recorded.
    pub async fn policy_set_record(
        &self,
        digest: &str,
        description: &str,
        by: &str,
    ) -> Result<bool, StoreError> {
        let (mut tx, writer) = self.begin_write().await?;
        let last: Option<String> =
            sqlx::query("SELECT digest FROM policy_sets ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
        if last.as_deref() == Some(digest) {
            tx.commit().await?;
            return Ok(false);
        }
        let now = now_millis();
        let id: i64 = sqlx::query(
            "INSERT INTO policy_sets (digest, description, loaded_at, loaded_by) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(digest)
        .bind(description)
        .bind(now)
        .bind(by)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let rec = LogRecord::new(
            Change::PolicySetLoaded {
                digest: digest.to_owned(),
                description: description.to_owned(),
            },
            ("policy_sets", id),
            by,
            now,
            LogTarget::Name("policy".to_owned()),
        );
        self.commit_logged((tx, writer), [rec]).await?;
        Ok(true)
    }

    /// The policy sets loaded, newest first.
    pub async fn policy_sets(&self, limit: i64) -> Result<Vec<PolicySetRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.id, p.digest, p.description, p.loaded_at, p.loaded_by, e.log_index \
             FROM policy_sets p \
             LEFT JOIN log_events e ON e.source = 'policy_sets' AND e.source_id = p.id \
             ORDER BY p.id DESC LIMIT CAST($1 AS BIGINT)",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PolicySetRow {
                    id: r.try_get(0)?,
                    digest: r.try_get(1)?,
                    description: r.try_get(2)?,
                    loaded_at: r.try_get(3)?,
                    loaded_by: r.try_get(4)?,
                    log_index: r.try_get(5)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}

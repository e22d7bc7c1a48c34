//! Lineage edges and the queries over them: recursive CTEs that run in the
//! database on both backends (impact of an input, upstream and downstream of
//! a version), never loading the graph into memory.

use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use super::{AttachmentRow, NewAttachment, Store, now_millis, stored_digest};
use crate::{Digest, StoreError};

/// Longest parent chain followed by lineage queries.
pub const MAX_LINEAGE_DEPTH: i64 = 256;

/// An edge to record for a version (see [`Store::attachment_insert_with_lineage`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLineageEdge {
    /// `dataset`, `commit`, `image` or `parent`.
    pub kind: String,
    /// `sha256:<hex>` (dataset, image), commit id, or `ns/name@sha256:<hex>` (parent).
    /// Text, not a `Digest`: a commit id or a parent reference is not a
    /// content digest, and one column holds every kind.
    pub input: String,
    /// Where the input lives (dataset URI, repository URL), informative.
    pub uri: String,
    /// The parent version, for `parent` edges.
    pub parent_id: Option<i64>,
}

/// A stored edge with the versions it links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineageEdgeRow {
    pub version_id: i64,
    pub model: String,
    pub number: i64,
    /// The version's manifest digest.
    pub digest: Digest,
    pub kind: String,
    /// Text, as in [`NewLineageEdge::input`]: not always a content digest.
    pub input: String,
    pub uri: String,
    pub parent_id: Option<i64>,
    pub parent_model: Option<String>,
    pub parent_number: Option<i64>,
}

/// A version affected by an input, and the aliases pointing at it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImpactRow {
    pub version_id: i64,
    pub model: String,
    pub number: i64,
    /// The version's manifest digest.
    pub digest: Digest,
    pub state: String,
    /// Uses the input itself (else through a parent version).
    pub direct: bool,
    pub aliases: Vec<String>,
}

const EDGE_SELECT: &str = "SELECT e.version_id, m.full_name, v.number, v.digest, e.kind, e.input, e.uri, \
     e.parent_id, pm.full_name, pv.number \
     FROM lineage_edges e \
     JOIN versions v ON v.id = e.version_id JOIN models m ON m.id = v.model_id \
     LEFT JOIN versions pv ON pv.id = e.parent_id LEFT JOIN models pm ON pm.id = pv.model_id";

fn edge_from_row(r: &AnyRow) -> Result<LineageEdgeRow, StoreError> {
    let digest: String = r.try_get(3)?;
    Ok(LineageEdgeRow {
        version_id: r.try_get(0)?,
        model: r.try_get(1)?,
        number: r.try_get(2)?,
        digest: stored_digest("versions", "digest", &digest)?,
        kind: r.try_get(4)?,
        input: r.try_get(5)?,
        uri: r.try_get(6)?,
        parent_id: r.try_get(7)?,
        parent_model: r.try_get(8)?,
        parent_number: r.try_get(9)?,
    })
}

impl Store {
    /// Would linking `parent_id` as a parent of `version_id` close a cycle
    /// (the version itself, or one of the parent's ancestors)?
    async fn lineage_creates_cycle_in_txn(
        tx: &mut Transaction<'static, Any>,
        version_id: i64,
        parent_id: i64,
    ) -> Result<bool, StoreError> {
        if version_id == parent_id {
            return Ok(true);
        }
        let sql = format!(
            "WITH RECURSIVE up(id, depth) AS ( \
               SELECT CAST($1 AS BIGINT), 0 \
               UNION \
               SELECT e.parent_id, up.depth + 1 FROM lineage_edges e JOIN up ON e.version_id = up.id \
               WHERE e.parent_id IS NOT NULL AND up.depth < {MAX_LINEAGE_DEPTH}) \
             SELECT 1 FROM up WHERE id = $2 LIMIT 1"
        );
        let hit = sqlx::query(AssertSqlSafe(sql))
            .bind(parent_id)
            .bind(version_id)
            .fetch_optional(&mut **tx)
            .await?;
        Ok(hit.is_some())
    }

    /// Store an attachment and the lineage edges it establishes in one
    /// transaction. A parent link that would close a cycle fails the whole
    /// transaction ([`StoreError::LineageCycle`]): nothing is stored. The same
    /// bytes on the same version are stored once (`false`); their edges are
    /// then already there.
    pub async fn attachment_insert_with_lineage(
        &self,
        a: &NewAttachment,
        edges: &[NewLineageEdge],
    ) -> Result<(AttachmentRow, bool), StoreError> {
        let (mut tx, writer) = self.begin_write().await?;
        let (row, logged) = Self::attachment_write_in_txn(&mut tx, a).await?;
        let Some(rec) = logged else {
            tx.commit().await?;
            return Ok((row, false));
        };
        let now = row.created_at;
        Self::lineage_insert_in_txn(&mut tx, a.version_id, Some(row.id), edges, now).await?;
        self.commit_logged((tx, writer), [rec]).await?;
        Ok((row, true))
    }

    /// Insert edges for `version_id` (existing identical edges are kept),
    /// refusing parent links that would close a cycle.
    pub(crate) async fn lineage_insert_in_txn(
        tx: &mut Transaction<'static, Any>,
        version_id: i64,
        attachment_id: Option<i64>,
        edges: &[NewLineageEdge],
        now: i64,
    ) -> Result<(), StoreError> {
        for e in edges {
            if let Some(p) = e.parent_id
                && Self::lineage_creates_cycle_in_txn(tx, version_id, p).await?
            {
                return Err(StoreError::LineageCycle {
                    version_id,
                    parent: e.input.clone(),
                });
            }
            sqlx::query(
                "INSERT INTO lineage_edges (version_id, kind, input, uri, parent_id, attachment_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kind, input, version_id) DO NOTHING",
            )
            .bind(version_id)
            .bind(&e.kind)
            .bind(&e.input)
            .bind(&e.uri)
            .bind(e.parent_id)
            .bind(attachment_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Distinct inputs of `kind` that start with `prefix` (lowercase hex),
    /// at most `limit`, in order.
    pub async fn lineage_inputs_by_prefix(
        &self,
        kind: &str,
        prefix: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        // The prefix is checked hex by the caller: no pattern characters.
        let rows = sqlx::query(
            "SELECT DISTINCT input FROM lineage_edges WHERE kind = $1 AND input LIKE $2 \
             ORDER BY input LIMIT $3",
        )
        .bind(kind)
        .bind(format!("{prefix}%"))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(StoreError::from))
            .collect()
    }

    /// Record edges without an attachment (imports, benchmarks).
    pub async fn lineage_insert(
        &self,
        version_id: i64,
        edges: &[NewLineageEdge],
    ) -> Result<(), StoreError> {
        let (mut tx, _writer) = self.begin_write().await?;
        Self::lineage_insert_in_txn(&mut tx, version_id, None, edges, now_millis()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every version that used input (`kind`, `input`) directly, and every
    /// version descending from one of those through parent links, with the
    /// aliases pointing at each now. Ordered by model and number.
    pub async fn lineage_impact(
        &self,
        kind: &str,
        input: &str,
    ) -> Result<Vec<ImpactRow>, StoreError> {
        let sql = format!(
            "WITH RECURSIVE affected(id, depth) AS ( \
               SELECT version_id, 0 FROM lineage_edges WHERE kind = $1 AND input = $2 \
               UNION \
               SELECT e.version_id, a.depth + 1 FROM lineage_edges e JOIN affected a ON e.parent_id = a.id \
               WHERE a.depth < {MAX_LINEAGE_DEPTH}), \
             ids(id, depth) AS (SELECT id, MIN(depth) FROM affected GROUP BY id) \
             SELECT v.id, m.full_name, v.number, v.digest, v.state, \
                    CAST(CASE WHEN ids.depth = 0 THEN 1 ELSE 0 END AS BIGINT), al.name \
             FROM ids JOIN versions v ON v.id = ids.id JOIN models m ON m.id = v.model_id \
             LEFT JOIN aliases al ON al.version_id = v.id \
             ORDER BY m.full_name, v.number, al.name"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(kind)
            .bind(input)
            .fetch_all(&self.pool)
            .await?;
        let mut out: Vec<ImpactRow> = Vec::new();
        for r in &rows {
            let id: i64 = r.try_get(0)?;
            let alias: Option<String> = r.try_get(6)?;
            if let Some(last) = out.last_mut()
                && last.version_id == id
            {
                last.aliases.extend(alias);
                continue;
            }
            let direct: i64 = r.try_get(5)?;
            let digest: String = r.try_get(3)?;
            out.push(ImpactRow {
                version_id: id,
                model: r.try_get(1)?,
                number: r.try_get(2)?,
                digest: stored_digest("versions", "digest", &digest)?,
                state: r.try_get(4)?,
                direct: direct == 1,
                aliases: alias.into_iter().collect(),
            });
        }
        Ok(out)
    }

    /// The edges of `version_id` and of all its ancestors (through parent links).
    pub async fn lineage_upstream(
        &self,
        version_id: i64,
    ) -> Result<Vec<LineageEdgeRow>, StoreError> {
        let sql = format!(
            "WITH RECURSIVE up(id, depth) AS ( \
               SELECT CAST($1 AS BIGINT), 0 \
               UNION \
               SELECT e.parent_id, up.depth + 1 FROM lineage_edges e JOIN up ON e.version_id = up.id \
               WHERE e.parent_id IS NOT NULL AND up.depth < {MAX_LINEAGE_DEPTH}) \
             {EDGE_SELECT} WHERE e.version_id IN (SELECT id FROM up) \
             ORDER BY e.version_id, e.kind, e.input"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(version_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(edge_from_row).collect()
    }

    /// The parent links below `version_id`: its fine-tunes, theirs, and so on.
    pub async fn lineage_downstream(
        &self,
        version_id: i64,
    ) -> Result<Vec<LineageEdgeRow>, StoreError> {
        let sql = format!(
            "WITH RECURSIVE down(id, depth) AS ( \
               SELECT CAST($1 AS BIGINT), 0 \
               UNION \
               SELECT e.version_id, down.depth + 1 FROM lineage_edges e JOIN down ON e.parent_id = down.id \
               WHERE down.depth < {MAX_LINEAGE_DEPTH}) \
             {EDGE_SELECT} WHERE e.parent_id IN (SELECT id FROM down) \
             ORDER BY e.parent_id, m.full_name, v.number"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(version_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(edge_from_row).collect()
    }
}

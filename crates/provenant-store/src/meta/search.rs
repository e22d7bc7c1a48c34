//! Version listings: label filters, state, full-text search, cursors.

use sqlx::{AssertSqlSafe, Row};

use super::{
    Backend, Bind, LIST_COLUMNS, LabelFilter, ListedVersion, ModelKey, Page, Store, VersionRow,
};
use crate::StoreError;

/// A page of versions as one query returning one value (PostgreSQL): a JSON
/// array with an array of [`LIST_COLUMNS`] per version, newest first. One
/// value crosses from the database instead of a row per version (each a
/// message from the driver and a copy of every column). SQLite reads its
/// listings directly, a row per version (`meta/reader.rs`).
pub(super) fn list_page_sql(from: &str, where_clause: &str, id_col: &str, lim: &str) -> String {
    let page = format!(
        "SELECT {LIST_COLUMNS}, {id_col} AS page_key FROM {from} {where_clause} \
         ORDER BY {id_col} DESC LIMIT CAST({lim} AS BIGINT)"
    );
    format!(
        "SELECT json_agg(json_build_array(p.id, p.model_id, p.full_name, p.number, p.digest, \
         p.config_digest, p.metadata, p.metadata_digest, p.size, p.file_count, p.state, \
         p.state_reason, p.state_changed_at, p.state_changed_by, p.created_at, p.created_by, \
         p.labels::json, \
         (SELECT json_agg(name ORDER BY name) FROM aliases WHERE version_id = p.id)) \
         ORDER BY p.page_key DESC)::text FROM ({page}) p"
    )
}

/// Split a free-text query into indexable words (letters, digits, `_`).
pub(super) fn query_terms(query: &str) -> Vec<String> {
    query
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|t| !t.is_empty())
        .take(16)
        .map(str::to_lowercase)
        .collect()
}

impl Store {
    /// Versions, newest first, optionally of one model, filtered by labels,
    /// state and a full-text query; `before` is the cursor (a version id);
    /// only those in the namespaces `only` names, when given.
    #[allow(clippy::too_many_arguments)]
    pub async fn version_list(
        &self,
        model: Option<ModelKey<'_>>,
        labels: &[LabelFilter],
        state: Option<&str>,
        text: Option<&str>,
        before: Option<i64>,
        limit: i64,
        only: Option<&[String]>,
    ) -> Result<Page<VersionRow>, StoreError> {
        if only.is_some_and(<[String]>::is_empty) {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let mut binds: Vec<Bind> = Vec::new();
        let next = |b: Bind, binds: &mut Vec<Bind>| {
            binds.push(b);
            format!("${}", binds.len())
        };
        // Drive the scan from the most selective index available: the first
        // label's, else the model's versions (model_id, id).
        let mut from = "versions v JOIN models m ON m.id = v.model_id".to_owned();
        let mut conds: Vec<String> = Vec::new();
        let mut rest = labels;
        let mut id_col = "v.id";
        let model_expr = match model {
            Some(ModelKey::Id(mid)) => Some(next(Bind::I(mid), &mut binds)),
            Some(ModelKey::Name(name)) => {
                let p = next(Bind::S(name.to_owned()), &mut binds);
                Some(format!("(SELECT id FROM models WHERE full_name = {p})"))
            }
            None => None,
        };
        if let Some((first, others)) = labels.split_first() {
            // The first label's index: (model_id, key, value, version_id)
            // within a model, else (key, value, version_id).
            from = "version_labels l0 JOIN versions v ON v.id = l0.version_id JOIN models m ON m.id = v.model_id"
                .to_owned();
            if let Some(m) = &model_expr {
                conds.push(format!("l0.model_id = {m}"));
            }
            let k = next(Bind::S(first.key.clone()), &mut binds);
            let val = next(Bind::S(first.value.clone()), &mut binds);
            conds.push(format!("l0.key = {k} AND l0.value = {val}"));
            rest = others;
            id_col = "l0.version_id";
        } else if let Some(m) = &model_expr {
            conds.push(format!("v.model_id = {m}"));
        }
        for l in rest {
            let k = next(Bind::S(l.key.clone()), &mut binds);
            let val = next(Bind::S(l.value.clone()), &mut binds);
            conds.push(format!(
                "EXISTS (SELECT 1 FROM version_labels l WHERE l.version_id = v.id AND l.key = {k} AND l.value = {val})"
            ));
        }
        if let Some(state) = state {
            let p = next(Bind::S(state.to_owned()), &mut binds);
            conds.push(format!("v.state = {p}"));
        }
        if let Some(text) = text {
            let terms = query_terms(text);
            if !terms.is_empty() {
                match self.backend {
                    Backend::Sqlite => {
                        let q = terms
                            .iter()
                            .map(|t| format!("\"{t}\"*"))
                            .collect::<Vec<_>>()
                            .join(" AND ");
                        let p = next(Bind::S(q), &mut binds);
                        conds.push(format!(
                            "v.id IN (SELECT rowid FROM version_fts WHERE version_fts MATCH {p})"
                        ));
                    }
                    Backend::Postgres => {
                        let q = terms
                            .iter()
                            .map(|t| format!("{t}:*"))
                            .collect::<Vec<_>>()
                            .join(" & ");
                        let p = next(Bind::S(q), &mut binds);
                        conds.push(format!(
                            "v.id IN (SELECT version_id FROM version_search WHERE tsv @@ to_tsquery('simple', {p}))"
                        ));
                    }
                }
            }
        }
        if let Some(names) = only {
            // Ids resolved once (cached): a probe per row into a short list
            // of integers, not a subquery over the names each time.
            let ids = self.namespace_ids(names).await?;
            if ids.is_empty() {
                return Ok(Page {
                    items: Vec::new(),
                    next: None,
                });
            }
            let list: Vec<String> = ids
                .into_iter()
                .map(|id| next(Bind::I(id), &mut binds))
                .collect();
            conds.push(format!("m.namespace_id IN ({})", list.join(", ")));
        }
        if let Some(before) = before {
            let p = next(Bind::I(before), &mut binds);
            conds.push(format!("{id_col} < {p}"));
        }
        let where_clause = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let lim = next(Bind::I(limit + 1), &mut binds);
        let mut items: Vec<VersionRow> = if let Some(readers) = &self.readers {
            readers.versions(
                &format!(
                    "SELECT {LIST_COLUMNS}, \
                     (SELECT json_group_array(name) FROM aliases WHERE version_id = v.id) \
                     FROM {from} {where_clause} ORDER BY {id_col} DESC LIMIT CAST({lim} AS BIGINT)"
                ),
                &binds,
            )?
        } else {
            let sql = list_page_sql(&from, &where_clause, id_col, &lim);
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for b in &binds {
                q = match b {
                    Bind::I(i) => q.bind(*i),
                    Bind::S(s) => q.bind(s.as_str()),
                };
            }
            let page: Option<String> = q.fetch_one(&self.pool).await?.try_get(0)?;
            match page {
                Some(json) => serde_json::from_str::<Vec<ListedVersion>>(&json)
                    .map_err(|e| StoreError::Corrupt(format!("listing page: {e}")))?
                    .into_iter()
                    .map(VersionRow::try_from)
                    .collect::<Result<_, _>>()?,
                None => Vec::new(),
            }
        };
        let next = if items.len() as i64 > limit {
            items.truncate(usize::try_from(limit).unwrap_or(0));
            items.last().map(|v| v.id)
        } else {
            None
        };
        Ok(Page { items, next })
    }
}

//! Models (namespaces and models are created on first publish: `publish.rs`).

use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use super::{Bind, MODEL_COLUMNS, ModelRow, Store, model_from_row};
use crate::StoreError;

impl Store {
    pub async fn model_get(&self, full_name: &str) -> Result<Option<ModelRow>, StoreError> {
        let sql = format!(
            "SELECT {MODEL_COLUMNS} FROM models m JOIN namespaces n ON n.id = m.namespace_id \
             WHERE m.full_name = $1"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(full_name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(model_from_row).transpose()?)
    }

    /// Models whose full name starts with `prefix`, in name order, after
    /// `after`; only those in the namespaces `only` names, when given.
    pub async fn model_list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: i64,
        only: Option<&[String]>,
    ) -> Result<Vec<ModelRow>, StoreError> {
        // Only the namespaces a name under `prefix` can be in: `ns/…` starts
        // with the prefix, or the prefix starts with `ns/`. A prefix inside
        // one namespace (`team/`) leaves one name to bind instead of the
        // caller's every namespace.
        let narrowed: Option<Vec<i64>> = match only {
            Some(names) => {
                let names: Vec<String> = names
                    .iter()
                    .filter(|n| {
                        let under = format!("{n}/");
                        under.starts_with(prefix) || prefix.starts_with(&under)
                    })
                    .cloned()
                    .collect();
                Some(self.namespace_ids(&names).await?)
            }
            None => None,
        };
        if narrowed.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        // A half-open range on the unique index instead of LIKE, which would
        // need escaping and, on SQLite, a case-insensitive index.
        let upper = format!("{prefix}\u{10FFFF}");
        let lower = after.map_or_else(|| prefix.to_owned(), str::to_owned);
        let op = if after.is_some() { ">" } else { ">=" };
        let mut binds = vec![Bind::S(lower), Bind::S(upper), Bind::I(limit)];
        let scope = narrowed.map_or_else(String::new, |ids| {
            let list: Vec<String> = ids
                .into_iter()
                .map(|id| {
                    binds.push(Bind::I(id));
                    format!("${}", binds.len())
                })
                .collect();
            // Unary plus: the scan stays on the full-name range (the
            // namespace index would read every model of the namespace, then sort).
            format!(" AND +m.namespace_id IN ({})", list.join(", "))
        });
        let sql = format!(
            "SELECT {MODEL_COLUMNS} FROM models m JOIN namespaces n ON n.id = m.namespace_id \
             WHERE m.full_name {op} $1 AND m.full_name < $2{scope} ORDER BY m.full_name LIMIT CAST($3 AS BIGINT)"
        );
        if let Some(readers) = &self.readers {
            return readers.models(&sql, &binds);
        }
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in &binds {
            q = match b {
                Bind::I(i) => q.bind(*i),
                Bind::S(s) => q.bind(s.as_str()),
            };
        }
        let rows = q.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(model_from_row).collect::<Result<_, _>>()?)
    }

    pub async fn model_set_description(
        &self,
        model_id: i64,
        description: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE models SET description = $1 WHERE id = $2")
            .bind(description)
            .bind(model_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

pub(super) async fn model_name_in_txn(
    tx: &mut Transaction<'static, Any>,
    model_id: i64,
) -> Result<String, StoreError> {
    Ok(sqlx::query("SELECT full_name FROM models WHERE id = $1")
        .bind(model_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?)
}

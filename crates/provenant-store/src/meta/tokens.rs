//! Principals, API tokens (stored as hashes), roles per namespace, owned
//! namespaces, and the access events of the audit trail.
//!
//! Roles and kinds are stored as the API's words (`publisher`, `service`);
//! the registry parses them, so a word it does not know is a corrupt record.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, now_millis};
use crate::StoreError;

/// A user or service account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrincipalRow {
    pub id: i64,
    pub name: String,
    /// `user` or `service`.
    pub kind: String,
    /// Global administrator.
    pub admin: bool,
    pub created_at: i64,
    pub created_by: String,
}

/// A stored API token: its hash, never the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    /// Hex SHA-256 of the token.
    pub hash: String,
    /// The principal the token acts as.
    pub principal_id: Option<i64>,
    /// The owner's name (joined in).
    pub owner: String,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A role in a namespace (or `*`): a principal's binding or a token's scope.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GrantRow {
    pub namespace: String,
    pub role: String,
}

/// Who holds which role in a namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleBindingRow {
    pub namespace: String,
    pub principal: String,
    pub role: String,
    pub granted_at: i64,
    pub granted_by: String,
}

/// A namespace with its owner, if it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceRow {
    pub id: i64,
    pub name: String,
    pub owner: Option<String>,
    pub created_at: i64,
}

/// An authentication failure, a permission denial, or a change to
/// identities and roles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessEventRow {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub principal: String,
    pub credential: String,
    pub peer: String,
    pub method: String,
    pub path: String,
    pub code: String,
    pub reason: String,
}

/// A token to store.
#[derive(Clone, Debug)]
pub struct NewToken<'a> {
    pub name: &'a str,
    pub hash: &'a str,
    pub principal_id: i64,
    pub scopes: &'a [GrantRow],
    pub expires_at: Option<i64>,
    pub created_by: &'a str,
}

const PRINCIPAL_COLUMNS: &str = "p.id, p.name, p.kind, p.admin, p.created_at, p.created_by";

fn principal_from_row(r: &AnyRow) -> Result<PrincipalRow, sqlx::Error> {
    Ok(PrincipalRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        kind: r.try_get(2)?,
        admin: r.try_get::<i64, _>(3)? != 0,
        created_at: r.try_get(4)?,
        created_by: r.try_get(5)?,
    })
}

const TOKEN_COLUMNS: &str = "t.id, t.name, t.hash, t.principal_id, COALESCE(p.name, t.name), \
     t.created_at, t.created_by, t.expires_at, t.revoked_at";

fn token_from_row(r: &AnyRow) -> Result<TokenRow, sqlx::Error> {
    Ok(TokenRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        hash: r.try_get(2)?,
        principal_id: r.try_get(3)?,
        owner: r.try_get(4)?,
        created_at: r.try_get(5)?,
        created_by: r.try_get(6)?,
        expires_at: r.try_get(7)?,
        revoked_at: r.try_get(8)?,
    })
}

const ACCESS_COLUMNS: &str =
    "id, at, kind, principal, credential, peer, method, path, code, reason";

fn access_from_row(r: &AnyRow) -> Result<AccessEventRow, sqlx::Error> {
    Ok(AccessEventRow {
        id: r.try_get(0)?,
        at: r.try_get(1)?,
        kind: r.try_get(2)?,
        principal: r.try_get(3)?,
        credential: r.try_get(4)?,
        peer: r.try_get(5)?,
        method: r.try_get(6)?,
        path: r.try_get(7)?,
        code: r.try_get(8)?,
        reason: r.try_get(9)?,
    })
}

fn grant_from_row(r: &AnyRow) -> Result<GrantRow, sqlx::Error> {
    Ok(GrantRow {
        namespace: r.try_get(0)?,
        role: r.try_get(1)?,
    })
}

impl Store {
    /// Creates a principal; `None` if one of that name exists.
    pub async fn principal_insert(
        &self,
        name: &str,
        kind: &str,
        admin: bool,
        by: &str,
    ) -> Result<Option<PrincipalRow>, StoreError> {
        let now = now_millis();
        let id: Option<i64> = sqlx::query(
            "INSERT INTO principals (name, kind, admin, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(name)
        .bind(kind)
        .bind(i64::from(admin))
        .bind(now)
        .bind(by)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        Ok(id.map(|id| PrincipalRow {
            id,
            name: name.to_owned(),
            kind: kind.to_owned(),
            admin,
            created_at: now,
            created_by: by.to_owned(),
        }))
    }

    pub async fn principal_by_name(&self, name: &str) -> Result<Option<PrincipalRow>, StoreError> {
        let sql = format!("SELECT {PRINCIPAL_COLUMNS} FROM principals p WHERE p.name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(principal_from_row).transpose()?)
    }

    pub async fn principal_by_id(&self, id: i64) -> Result<Option<PrincipalRow>, StoreError> {
        let sql = format!("SELECT {PRINCIPAL_COLUMNS} FROM principals p WHERE p.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(principal_from_row).transpose()?)
    }

    /// Every principal, by name.
    pub async fn principals(&self) -> Result<Vec<PrincipalRow>, StoreError> {
        let sql = format!("SELECT {PRINCIPAL_COLUMNS} FROM principals p ORDER BY p.name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(principal_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// The roles a principal holds, by namespace.
    pub async fn principal_grants(&self, principal_id: i64) -> Result<Vec<GrantRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT namespace, role FROM role_bindings WHERE principal_id = $1 ORDER BY namespace",
        )
        .bind(principal_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(grant_from_row).collect::<Result<_, _>>()?)
    }

    /// Gives a principal `role` in `namespace`, replacing the role it held
    /// there. Returns the role replaced, if any.
    pub async fn role_set(
        &self,
        namespace: &str,
        principal_id: i64,
        role: &str,
        by: &str,
    ) -> Result<Option<String>, StoreError> {
        let (mut tx, _writer) = self.begin_write().await?;
        let previous: Option<String> = sqlx::query(
            "SELECT role FROM role_bindings WHERE namespace = $1 AND principal_id = $2",
        )
        .bind(namespace)
        .bind(principal_id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        sqlx::query(
            "INSERT INTO role_bindings (namespace, principal_id, role, granted_at, granted_by) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (namespace, principal_id) \
             DO UPDATE SET role = excluded.role, granted_at = excluded.granted_at, \
             granted_by = excluded.granted_by",
        )
        .bind(namespace)
        .bind(principal_id)
        .bind(role)
        .bind(now_millis())
        .bind(by)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(previous)
    }

    /// Removes a principal's role in a namespace; the role it held, if any.
    pub async fn role_remove(
        &self,
        namespace: &str,
        principal_id: i64,
    ) -> Result<Option<String>, StoreError> {
        let removed: Option<String> = sqlx::query(
            "DELETE FROM role_bindings WHERE namespace = $1 AND principal_id = $2 RETURNING role",
        )
        .bind(namespace)
        .bind(principal_id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        Ok(removed)
    }

    /// Who holds roles in `namespace` (its own grants, not `*`'s), by name.
    pub async fn role_bindings(&self, namespace: &str) -> Result<Vec<RoleBindingRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT b.namespace, p.name, b.role, b.granted_at, b.granted_by \
             FROM role_bindings b JOIN principals p ON p.id = b.principal_id \
             WHERE b.namespace = $1 ORDER BY p.name",
        )
        .bind(namespace)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RoleBindingRow {
                    namespace: r.try_get(0)?,
                    principal: r.try_get(1)?,
                    role: r.try_get(2)?,
                    granted_at: r.try_get(3)?,
                    granted_by: r.try_get(4)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Database)
    }

    /// Stores a token (by its hash) with its scopes; `None` when its owner
    /// already has an unrevoked token of that name.
    pub async fn token_insert(&self, t: &NewToken<'_>) -> Result<Option<i64>, StoreError> {
        let (mut tx, _writer) = self.begin_write().await?;
        let clash = sqlx::query(
            "SELECT 1 FROM tokens WHERE principal_id = $1 AND name = $2 AND revoked_at IS NULL",
        )
        .bind(t.principal_id)
        .bind(t.name)
        .fetch_optional(&mut *tx)
        .await?;
        if clash.is_some() {
            return Ok(None);
        }
        let id: i64 = sqlx::query(
            "INSERT INTO tokens (name, hash, role, created_at, expires_at, principal_id, created_by) \
             VALUES ($1, $2, '', $3, $4, $5, $6) RETURNING id",
        )
        .bind(t.name)
        .bind(t.hash)
        .bind(now_millis())
        .bind(t.expires_at)
        .bind(t.principal_id)
        .bind(t.created_by)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        for s in t.scopes {
            sqlx::query(
                "INSERT INTO token_scopes (token_id, namespace, role) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(&s.namespace)
            .bind(&s.role)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Some(id))
    }

    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRow>, StoreError> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens t LEFT JOIN principals p ON p.id = t.principal_id \
             WHERE t.hash = $1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(token_from_row).transpose()?)
    }

    pub async fn token_by_id(&self, id: i64) -> Result<Option<TokenRow>, StoreError> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens t LEFT JOIN principals p ON p.id = t.principal_id \
             WHERE t.id = $1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(token_from_row).transpose()?)
    }

    /// Tokens of one principal, or of everyone, oldest first.
    pub async fn tokens_of(&self, principal_id: Option<i64>) -> Result<Vec<TokenRow>, StoreError> {
        let filter = if principal_id.is_some() {
            "WHERE t.principal_id = $1"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens t LEFT JOIN principals p ON p.id = t.principal_id \
             {filter} ORDER BY t.id"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(p) = principal_id {
            q = q.bind(p);
        }
        let rows = q.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(token_from_row).collect::<Result<_, _>>()?)
    }

    /// A token's scopes (none: everything its owner may do).
    pub async fn token_scopes(&self, token_id: i64) -> Result<Vec<GrantRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT namespace, role FROM token_scopes WHERE token_id = $1 ORDER BY namespace, role",
        )
        .bind(token_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(grant_from_row).collect::<Result<_, _>>()?)
    }

    /// Revokes a token now; false if it was revoked already.
    pub async fn token_revoke(&self, id: i64) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now_millis())
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn token_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM tokens")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }

    /// Creates a namespace owned by `owner`, who becomes its maintainer;
    /// `None` if it exists.
    pub async fn namespace_create(
        &self,
        name: &str,
        owner: Option<i64>,
        owner_role: &str,
        by: &str,
    ) -> Result<Option<NamespaceRow>, StoreError> {
        let (mut tx, _writer) = self.begin_write().await?;
        let now = now_millis();
        let id: Option<i64> = sqlx::query(
            "INSERT INTO namespaces (name, created_at, owner_id) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(name)
        .bind(now)
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        let Some(id) = id else {
            return Ok(None);
        };
        if let Some(owner) = owner {
            sqlx::query(
                "INSERT INTO role_bindings (namespace, principal_id, role, granted_at, granted_by) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (namespace, principal_id) \
                 DO UPDATE SET role = excluded.role, granted_at = excluded.granted_at, \
                 granted_by = excluded.granted_by",
            )
            .bind(name)
            .bind(owner)
            .bind(owner_role)
            .bind(now)
            .bind(by)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(self
            .namespaces(None)
            .await?
            .into_iter()
            .find(|n| n.id == id))
    }

    /// Namespaces by name: all, or those named in `only`.
    pub async fn namespaces(
        &self,
        only: Option<&[String]>,
    ) -> Result<Vec<NamespaceRow>, StoreError> {
        let mut sql = "SELECT n.id, n.name, p.name, n.created_at FROM namespaces n \
                       LEFT JOIN principals p ON p.id = n.owner_id"
            .to_owned();
        if let Some(only) = only {
            if only.is_empty() {
                return Ok(Vec::new());
            }
            let list = (1..=only.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            sql.push_str(&format!(" WHERE n.name IN ({list})"));
        }
        sql.push_str(" ORDER BY n.name");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for n in only.unwrap_or_default() {
            q = q.bind(n);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(NamespaceRow {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    owner: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Database)
    }

    /// Appends to the access part of the audit trail; the row's id.
    pub async fn access_event_insert(&self, e: &AccessEventRow) -> Result<i64, StoreError> {
        Ok(sqlx::query(
            "INSERT INTO access_events (at, kind, principal, credential, peer, method, path, code, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(if e.at == 0 { now_millis() } else { e.at })
        .bind(&e.kind)
        .bind(&e.principal)
        .bind(&e.credential)
        .bind(&e.peer)
        .bind(&e.method)
        .bind(&e.path)
        .bind(&e.code)
        .bind(&e.reason)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?)
    }

    /// Access events at or after `since` (Unix ms) with id above `after`,
    /// oldest first.
    pub async fn access_events(
        &self,
        since: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AccessEventRow>, StoreError> {
        let sql = format!(
            "SELECT {ACCESS_COLUMNS} FROM access_events WHERE at >= $1 AND id > $2 \
             ORDER BY id LIMIT CAST($3 AS BIGINT)"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(since)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(access_from_row).collect::<Result<_, _>>()?)
    }
}

impl Store {
    /// The namespaces with a published version holding a file of this
    /// digest (who may download the blob).
    pub async fn blob_namespaces(&self, digest: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT n.name FROM version_files f JOIN versions v ON v.id = f.version_id \
             JOIN models m ON m.id = v.model_id JOIN namespaces n ON n.id = m.namespace_id \
             WHERE f.digest = $1",
        )
        .bind(digest)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }
}

impl Store {
    /// Records that `principal` uploaded the content of `digest`.
    pub async fn blob_holder_add(&self, digest: &str, principal: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO blob_holders (digest, principal, at) VALUES ($1, $2, $3) \
             ON CONFLICT (digest, principal) DO NOTHING",
        )
        .bind(digest)
        .bind(principal)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether `principal` uploaded the content of `digest`.
    pub async fn blob_held_by(&self, digest: &str, principal: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT 1 FROM blob_holders WHERE digest = $1 AND principal = $2")
                .bind(digest)
                .bind(principal)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }
}

//! Test support shared by the crates' test suites: a fresh, isolated database
//! per test on either backend. PostgreSQL comes from
//! `PROVENANT_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`);
//! each test gets its own database, dropped when the guard goes. When the
//! variable is unset the PostgreSQL half is skipped, except under `CI`, where
//! that is an error: the PostgreSQL suite must run in CI.

use sqlx::{Connection, Executor};

/// A PostgreSQL database created for one test.
#[derive(Debug)]
pub struct PgTestDb {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgTestDb {
    /// Create a fresh database, or `None` when PostgreSQL tests are not configured.
    ///
    /// # Panics
    /// When `CI` is set but `PROVENANT_TEST_POSTGRES_URL` is not, or the server cannot be reached.
    #[allow(clippy::unwrap_used, clippy::panic)]
    pub async fn create() -> Option<Self> {
        let Ok(admin_url) = std::env::var("PROVENANT_TEST_POSTGRES_URL") else {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "CI is set but PROVENANT_TEST_POSTGRES_URL is not: the PostgreSQL suite must run in CI"
                );
            }
            eprintln!("skipping PostgreSQL half: PROVENANT_TEST_POSTGRES_URL is not set");
            return None;
        };
        sqlx::any::install_default_drivers();
        let name = format!("pvt_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::AnyConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {admin_url}: {e}"));
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        conn.close().await.unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&format!("/{name}"));
        Some(Self {
            url: url.to_string(),
            admin_url,
            name,
        })
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        // Best effort, on a private runtime so that it works from any context.
        let admin = self.admin_url.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut c) = sqlx::AnyConnection::connect(&admin).await {
                    let _ = c
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await;
                    let _ = c.close().await;
                }
            });
        })
        .join();
    }
}

/// Runs one SQL statement against a database URL (`sqlite://PATH` or
/// `postgres://…`), outside any [`crate::Store`]: tests that tamper with
/// stored rows behind the server's back.
///
/// # Panics
/// When the database cannot be reached or the statement fails.
#[allow(clippy::unwrap_used, clippy::panic)]
pub async fn execute(url: &str, sql: &str) -> u64 {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    let done = conn
        .execute(sqlx::AssertSqlSafe(sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.unwrap();
    done.rows_affected()
}

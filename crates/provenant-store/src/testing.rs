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

/// A small filesystem of its own (a tmpfs) mounted on a fresh directory
/// `path`, for tests of a disk that fills up; unmounted when dropped.
/// Mounting takes root: elsewhere [`SmallDisk::mount`] returns `None` and the
/// test says it skipped, except under `CI` as root, where a failed mount is
/// an error.
#[derive(Debug)]
pub struct SmallDisk {
    pub path: std::path::PathBuf,
}

impl SmallDisk {
    /// # Panics
    /// When running as root under `CI` and the mount fails.
    #[allow(clippy::panic)]
    pub fn mount(path: &std::path::Path, mib: u32) -> Option<Self> {
        std::fs::create_dir_all(path).ok()?;
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(path)
            .stderr(std::process::Stdio::null())
            .status();
        if status.is_ok_and(|s| s.success()) {
            return Some(Self {
                path: path.to_path_buf(),
            });
        }
        #[cfg(unix)]
        let root = {
            use std::os::unix::fs::MetadataExt as _;
            std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
        };
        #[cfg(not(unix))]
        let root = false;
        if root && std::env::var_os("CI").is_some() {
            panic!("cannot mount a tmpfs at {} as root", path.display());
        }
        eprintln!("skipping: cannot mount a small filesystem here (needs root)");
        None
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.path)
            .status();
    }
}

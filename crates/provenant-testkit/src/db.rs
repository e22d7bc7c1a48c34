//! Test databases and the both-backends tests.
//!
//! PostgreSQL comes from `PROVENANT_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test gets a database
//! of its own, dropped when its guard goes. When the variable is unset the
//! PostgreSQL half is [`crate::skip`]ped — a failure under `CI`, where the
//! PostgreSQL suite must run.

use std::future::Future;

use provenant_store::Store;
use sqlx::{Connection, Executor};

/// A PostgreSQL database created for one test, dropped with this guard.
#[derive(Debug)]
pub struct PgTestDb {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgTestDb {
    /// Creates a fresh database, or `None` (after [`crate::skip`]) when
    /// `PROVENANT_TEST_POSTGRES_URL` is not set.
    ///
    /// # Panics
    /// When `CI` is set but `PROVENANT_TEST_POSTGRES_URL` is not, or the
    /// server cannot be reached.
    pub async fn create() -> Option<Self> {
        let Ok(admin_url) = std::env::var("PROVENANT_TEST_POSTGRES_URL") else {
            crate::skip(
                "PROVENANT_TEST_POSTGRES_URL is not set, so the PostgreSQL half cannot run",
            );
            return None;
        };
        sqlx::any::install_default_drivers();
        let name = format!("pvt_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::AnyConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {admin_url}: {e}"));
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        conn.close()
            .await
            .unwrap_or_else(|e| panic!("closing {admin_url}: {e}"));
        let mut url = url::Url::parse(&admin_url)
            .unwrap_or_else(|e| panic!("PROVENANT_TEST_POSTGRES_URL={admin_url}: {e}"));
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
/// `postgres://…`), outside any [`Store`]: tests that tamper with stored
/// rows behind the server's back. Returns the rows affected.
///
/// # Panics
/// When the database cannot be reached or the statement fails.
pub async fn execute(url: &str, sql: &str) -> u64 {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    let done = conn
        .execute(sqlx::AssertSqlSafe(sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close()
        .await
        .unwrap_or_else(|e| panic!("closing {url}: {e}"));
    done.rows_affected()
}

/// The metadata backends every storage test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file in a fresh temporary directory.
    Sqlite,
    /// A fresh database on `PROVENANT_TEST_POSTGRES_URL`'s server.
    Postgres,
}

/// What a [`both!`](crate::both) test body is handed: opened fresh on one
/// backend per test, closed after the body.
pub trait Fixture: Sized {
    /// What keeps the fixture's resources (a temporary directory, a test
    /// database) until it is closed.
    type Guard;

    /// A fresh fixture on `backend`, or `None` when that backend cannot run
    /// here (after [`crate::skip`], which fails under `CI`).
    fn open(backend: Backend) -> impl Future<Output = Option<(Self, Self::Guard)>>;

    /// Ends the fixture after a body that passed.
    fn close(self) -> impl Future<Output = ()>;
}

/// A fresh [`Store`] on each backend.
#[derive(Debug)]
pub struct StoreGuard {
    _dir: tempfile::TempDir,
    _pg: Option<PgTestDb>,
}

impl Fixture for Store {
    type Guard = StoreGuard;

    async fn open(backend: Backend) -> Option<(Self, StoreGuard)> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
        let (store, pg) = match backend {
            Backend::Sqlite => (Store::open_sqlite(&dir.path().join("meta.db")).await, None),
            Backend::Postgres => {
                let pg = PgTestDb::create().await?;
                (Store::connect(&pg.url).await, Some(pg))
            }
        };
        let store = store.unwrap_or_else(|e| panic!("opening the {backend:?} store: {e}"));
        Some((store, StoreGuard { _dir: dir, _pg: pg }))
    }

    async fn close(self) {
        Store::close(&self).await;
    }
}

/// Runs `body` on a fresh `F` on `backend`; returns at once when the backend
/// cannot run here (see [`Fixture::open`]). What [`both!`](crate::both) expands to.
pub async fn run_on<F: Fixture>(backend: Backend, body: impl AsyncFnOnce(&F)) {
    run_opened_on(backend, F::open, body).await;
}

/// [`run_on`] with the fixture opened by `open` instead of [`Fixture::open`]:
/// a fixture the test configures (a server with small budgets, say).
/// `open` returns `None` after [`crate::skip`] when `backend` cannot run
/// here, as [`Fixture::open`] does. What
/// [`both!`](crate::both)`(name, open = …, body)` expands to.
pub async fn run_opened_on<F: Fixture>(
    backend: Backend,
    open: impl AsyncFnOnce(Backend) -> Option<(F, F::Guard)>,
    body: impl AsyncFnOnce(&F),
) {
    let Some((fixture, guard)) = open(backend).await else {
        return;
    };
    body(&fixture).await;
    fixture.close().await;
    drop(guard);
}

/// [`run_on`] for a synchronous body — one that runs the `provenant` binary
/// and blocks on it: the fixture is opened and closed on a private runtime,
/// and the body runs outside it (so it may start runtimes of its own). What
/// [`both!`](crate::both)`(sync …)` expands to.
///
/// # Panics
/// When the runtime cannot be built.
pub fn run_sync_on<F: Fixture>(backend: Backend, body: impl FnOnce(&F)) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    let Some((fixture, guard)) = rt.block_on(F::open(backend)) else {
        return;
    };
    body(&fixture);
    rt.block_on(fixture.close());
    drop(guard);
}

/// The database a test of the `provenant` binary serves from, on each
/// backend: on SQLite none is named (`serve` uses its embedded default under
/// its data directory); on PostgreSQL a fresh database, passed as
/// `serve --database-url`.
#[derive(Debug)]
pub struct ServeDatabase {
    url: Option<String>,
}

impl ServeDatabase {
    /// The `--database-url` to serve with; `None` for the embedded SQLite default.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }
}

impl Fixture for ServeDatabase {
    type Guard = Option<PgTestDb>;

    async fn open(backend: Backend) -> Option<(Self, Self::Guard)> {
        match backend {
            Backend::Sqlite => Some((Self { url: None }, None)),
            Backend::Postgres => {
                let pg = PgTestDb::create().await?;
                let url = Some(pg.url.clone());
                Some((Self { url }, Some(pg)))
            }
        }
    }

    async fn close(self) {}
}

/// Defines module `$name` with two tests, `sqlite` and `postgres`, each
/// running `$body` — an `async |x: &F| { … }` closure for a [`Fixture`] `F`
/// — on a fresh fixture on that backend (on a two-worker tokio runtime:
/// the calling crate needs `tokio` with `macros` and `rt-multi-thread`).
///
/// With `sync` first, `$body` is a plain `|x: &F| { … }` closure run by
/// [`run_sync_on`] in a plain `#[test]` (for tests that drive the
/// `provenant` binary and block on it, usually with [`ServeDatabase`]).
///
/// With `open = $open` before the body, the fixture is opened by `$open`
/// (an `async fn(Backend) -> Option<(F, F::Guard)>`, e.g. a server started
/// with the budgets under test) instead of [`Fixture::open`], by
/// [`run_opened_on`]; it is still closed by [`Fixture::close`].
///
/// Either way, a backend that cannot run here is [`crate::skip`]ped (a
/// `SKIPPED` line; a failure under `CI`).
///
/// ```text
/// provenant_testkit::both!(tokens, async |store: &Store| {
///     assert_eq!(store.token_count().await.unwrap(), 0);
/// });
/// provenant_testkit::both!(small_pages, open = with_limits(small), async |s: &TestServer| {
///     assert!(s.limits().page_bytes < 10_000);
/// });
/// provenant_testkit::both!(sync readme_flow, |db: &ServeDatabase| {
///     let server = start(dir.path(), db.url());
/// });
/// ```
#[macro_export]
macro_rules! both {
    (sync $name:ident, $body:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn sqlite() {
                $crate::run_sync_on($crate::Backend::Sqlite, $body);
            }

            #[test]
            fn postgres() {
                $crate::run_sync_on($crate::Backend::Postgres, $body);
            }
        }
    };
    ($name:ident, open = $open:expr, $body:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::run_opened_on($crate::Backend::Sqlite, $open, $body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::run_opened_on($crate::Backend::Postgres, $open, $body).await;
            }
        }
    };
    ($name:ident, $body:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::run_on($crate::Backend::Sqlite, $body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::run_on($crate::Backend::Postgres, $body).await;
            }
        }
    };
}

//! A fresh, empty database per test: a temp-file SQLite, or a newly created PostgreSQL database that
//! is dropped (with FORCE) when the value is dropped, even if the test panicked.
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tempfile::TempDir;

use crate::Backend;

pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    _dir: Option<TempDir>,
    /// (server admin URL, database name) of a database this value created and drops.
    pg: Option<(String, String)>,
}

pub fn mysql_admin_url() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| {
        panic!(
            "TEST_MYSQL_URL is not set: MariaDB/MySQL tests need a server. \
             Run scripts/test.sh, which starts one, or point TEST_MYSQL_URL at a user that may CREATE DATABASE."
        )
    })
}

pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "TEST_POSTGRES_URL is not set: PostgreSQL tests need a server. \
             Run scripts/test.sh, which starts one, or point TEST_POSTGRES_URL at a role that may CREATE DATABASE."
        )
    })
}

/// `postgres://u@h:p/name?x` -> `postgres://u@h:p/<db>?x`
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                TestDb {
                    backend,
                    url,
                    _dir: Some(dir),
                    pg: None,
                }
            }
            Backend::Postgres | Backend::MySql => {
                let admin = match backend {
                    Backend::MySql => mysql_admin_url(),
                    _ => postgres_admin_url(),
                };
                let name = format!("lms_test_{}", uuid::Uuid::new_v4().simple());
                let conn = Database::connect(&admin)
                    .await
                    .expect("connect to the test server");
                let create = match backend {
                    Backend::MySql => format!("CREATE DATABASE `{name}`"),
                    _ => format!("CREATE DATABASE \"{name}\""),
                };
                conn.execute_unprepared(&create)
                    .await
                    .expect("create test database");
                conn.close().await.ok();
                let url = with_database(&admin, &name);
                TestDb {
                    backend,
                    url,
                    _dir: None,
                    pg: Some((admin, name)),
                }
            }
        }
    }

    /// The same database, for a second app instance; only the original drops it.
    pub fn shared(&self) -> TestDb {
        TestDb {
            backend: self.backend,
            url: self.url.clone(),
            _dir: None,
            pg: None,
        }
    }

    /// A plain connection to this database (no migrations run).
    pub async fn connect(&self) -> DatabaseConnection {
        lms_core::db::connect(&self.url, &lms_core::db::PoolOptions::default())
            .await
            .expect("connect to the test database")
    }

    /// A pool like the migration CLI's (`PoolOptions::for_migrations`), for tests that change the schema.
    pub async fn connect_for_migrations(&self) -> DatabaseConnection {
        lms_core::db::connect(
            &self.url,
            &lms_core::db::PoolOptions::for_migrations(&self.url),
        )
        .await
        .expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        // Drop may run inside a runtime; do the async work on a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let conn = Database::connect(&admin).await.ok()?;
                let drop = if admin.starts_with("mysql") {
                    format!("DROP DATABASE IF EXISTS `{name}`")
                } else {
                    format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")
                };
                conn.execute_unprepared(&drop).await.ok()?;
                conn.close().await.ok()
            })
        })
        .join();
    }
}

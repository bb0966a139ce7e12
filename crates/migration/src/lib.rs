//! The LMS schema as numbered migrations, plus the database connection both the API and the CLIs use.
//!
//! Order: create users, courses, enrollments, chat_messages, then one index migration per table;
//! later changes follow as new migrations (9: sessions and the other auth tables; 10: the enrollment audit trail and
//! payment events; 11: the chat's change feed and edit history).
//! Applied migrations are never edited; a change to the schema is a new migration at the end.
pub use sea_orm_migration::prelude::*;

mod helpers;
mod idents;
mod lock;
mod m0001_create_users_table;
mod m0002_create_courses_table;
mod m0003_create_enrollments_table;
mod m0004_create_chat_messages_table;
mod m0005_add_indexes_to_users_table;
mod m0006_add_indexes_to_courses_table;
mod m0007_add_indexes_to_enrollments_table;
mod m0008_add_indexes_to_chat_messages_table;
mod m0009_create_auth_tables;
mod m0010_create_enrollment_events_and_payment_events;
mod m0011_create_chat_events_and_edits;
pub mod runner;
pub mod verify;

pub use lock::with_migration_lock;
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};
use std::time::Duration;

/// The embedded SQLite file used when no `DATABASE_URL` is given, by the API and by both CLIs.
/// `mode=rwc` creates the file on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://lms.db?mode=rwc";

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_create_users_table::Migration),
            Box::new(m0002_create_courses_table::Migration),
            Box::new(m0003_create_enrollments_table::Migration),
            Box::new(m0004_create_chat_messages_table::Migration),
            Box::new(m0005_add_indexes_to_users_table::Migration),
            Box::new(m0006_add_indexes_to_courses_table::Migration),
            Box::new(m0007_add_indexes_to_enrollments_table::Migration),
            Box::new(m0008_add_indexes_to_chat_messages_table::Migration),
            Box::new(m0009_create_auth_tables::Migration),
            Box::new(m0010_create_enrollment_events_and_payment_events::Migration),
            Box::new(m0011_create_chat_events_and_edits::Migration),
        ]
    }
}

/// Options for the pool behind the API and the CLIs.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// Log every statement at debug level (noisy; off by default).
    pub log_statements: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            log_statements: false,
        }
    }
}

impl PoolOptions {
    /// The pool for schema changes (the migration CLI, the verify scratch database, tests of migrations).
    ///
    /// On SQLite this is one connection. Each SQLite connection caches the schema, and a `CREATE INDEX` or
    /// `CREATE TABLE` is checked against that cache when it is prepared, before SQLite notices the schema
    /// changed: a second pooled connection that still remembers an index another connection dropped
    /// refuses to create it again ("index ... already exists"). `down` followed by `up` in one run
    /// (`refresh`, or a test going down and up) would fail now and then, depending on how many
    /// connections the pool happened to open. PostgreSQL has no such cache and keeps the default pool
    /// (the migration lock takes a connection of its own).
    pub fn for_migrations(url: &str) -> Self {
        let sqlite = url.starts_with("sqlite:");
        Self {
            max_connections: if sqlite {
                1
            } else {
                Self::default().max_connections
            },
            ..Self::default()
        }
    }
}

/// Opens a pool on `url` (`sqlite://...` or `postgres://...`).
///
/// SQLite gets WAL (readers do not block the writer), foreign keys on, and a busy timeout so that
/// concurrent writers queue instead of failing at once.
pub async fn connect(url: &str, pool: &PoolOptions) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url);
    opts.max_connections(pool.max_connections)
        .acquire_timeout(pool.acquire_timeout)
        .connect_timeout(pool.acquire_timeout)
        .sqlx_logging(pool.log_statements)
        // sqlx pings on every checkout by default: a round trip per statement. Ping only connections
        // that sat idle long enough to have been dropped by the server or a proxy.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_WAIT)
        });
    let db = connect_when_unlocked(opts).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        // Refuse to run on a connection that would silently ignore our foreign keys.
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA foreign_keys",
            ))
            .await?;
        let on: i32 = row.map(|r| r.try_get_by_index(0)).transpose()?.unwrap_or(0);
        if on != 1 {
            return Err(DbErr::Custom(
                "SQLite foreign keys could not be enabled".into(),
            ));
        }
    }
    Ok(db)
}

/// How long a SQLite connection waits for another process's lock, when opening and on every statement.
const SQLITE_BUSY_WAIT: Duration = Duration::from_secs(10);

/// Connects, waiting out SQLite's "database is locked" while another process opens the same file:
/// switching a new file to WAL takes an exclusive lock that SQLite refuses at once rather than waiting
/// for (so two processes starting together, say the API and the migration CLI, could fail).
async fn connect_when_unlocked(opts: ConnectOptions) -> Result<DatabaseConnection, DbErr> {
    let deadline = std::time::Instant::now() + SQLITE_BUSY_WAIT;
    loop {
        match Database::connect(opts.clone()).await {
            Err(err)
                if err.to_string().contains("database is locked")
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            result => return result,
        }
    }
}

/// A short, password-free description of a database URL for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host_part = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            let host_part = host_part.split('?').next().unwrap_or(host_part);
            format!("{scheme}://{host_part}")
        }
        None => "<unparseable database url>".to_string(),
    }
}

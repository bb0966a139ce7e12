//! The database: opening a pool on any supported backend, the [`Backend`] capabilities that say how
//! each database does what differs, the run lock, and tracking tables.
mod backend;
mod lock;
pub mod tracking;
pub mod upsert;

use std::time::Duration;

pub use backend::{Backend, BulkLoad, Delivery};
pub use lock::with_run_lock;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    TransactionTrait,
};

/// What the domain's functions run on: a pool, or a transaction that the caller holds (then a
/// function's own transaction becomes a savepoint in it, and its work commits with the caller's).
pub trait Db: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction> {}

impl<T: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>> Db for T {}

/// The embedded SQLite file used when no `DATABASE_URL` is given, by the API and by the CLIs.
/// `mode=rwc` creates the file on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://lms.db?mode=rwc";

/// How long a SQLite connection waits for another process's lock, when opening and on every statement.
const SQLITE_BUSY_WAIT: Duration = Duration::from_secs(10);

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
    /// The pool for schema changes (the migration CLI, the verify scratch database, tests of
    /// migrations): see [`Backend::schema_change_pool_size`]. An unsupported URL keeps the default
    /// (opening it fails with a clear message anyway).
    pub fn for_migrations(url: &str) -> Self {
        let size = Backend::from_url(url)
            .ok()
            .and_then(Backend::schema_change_pool_size);
        Self {
            max_connections: size.unwrap_or(Self::default().max_connections),
            ..Self::default()
        }
    }
}

/// Opens a pool on `url` (`sqlite://...` or `postgres://...`).
///
/// SQLite gets WAL (readers do not block the writer), foreign keys on, and a busy timeout so that
/// concurrent writers queue instead of failing at once.
pub async fn connect(url: &str, pool: &PoolOptions) -> Result<DatabaseConnection, DbErr> {
    let backend = Backend::from_url(url)?;
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
    if !backend.reaps_idle_connections() {
        opts.idle_timeout(None::<Duration>)
            .max_lifetime(None::<Duration>);
    }
    let db = connect_when_unlocked(opts).await?;
    backend.check_connection(&db).await?;
    Ok(db)
}

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

/// Whether an error means the database cannot be reached now (refused, timed out, connection lost,
/// pool exhausted), as opposed to a statement it refused: the request may succeed when retried.
pub fn is_unreachable(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => matches!(
            e.as_ref(),
            Sqlx::Io(_)
                | Sqlx::Tls(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::WorkerCrashed
                | Sqlx::Protocol(_)
        ),
        _ => false,
    }
}

/// The error the database itself answered with, if that is what `err` is.
fn database_error(err: &DbErr) -> Option<&dyn sea_orm::sqlx::error::DatabaseError> {
    use sea_orm::RuntimeErr;
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            e.as_database_error()
        }
        _ => None,
    }
}

/// Whether the database gave up on a statement because of concurrent transactions (a deadlock, a
/// serialization failure, a lock wait that timed out, SQLite busy): nothing was written, and the same
/// request may succeed when retried.
pub fn is_contention(err: &DbErr) -> bool {
    let Some(db) = database_error(err) else {
        return false;
    };
    if let Some(mysql) = db.try_downcast_ref::<sea_orm::sqlx::mysql::MySqlDatabaseError>() {
        // 1205 lock wait timeout, 1213 deadlock.
        return matches!(mysql.number(), 1205 | 1213);
    }
    // PostgreSQL serialization failure, deadlock; SQLite SQLITE_BUSY, SQLITE_LOCKED.
    matches!(db.code().as_deref(), Some("40001" | "40P01" | "5" | "6"))
}

/// Whether the database refused a value as such (too long for its column, out of range, not valid
/// text, or failing a CHECK): the request's input was bad, and retrying it cannot help. Validation
/// refuses such input before it gets here; this is the backstop that keeps it a 4xx on every backend.
pub fn is_bad_value(err: &DbErr) -> bool {
    let Some(db) = database_error(err) else {
        return false;
    };
    if let Some(mysql) = db.try_downcast_ref::<sea_orm::sqlx::mysql::MySqlDatabaseError>() {
        // 1264 out of range, 1366 incorrect string value, 1406 data too long, 3819 (MySQL) and
        // 4025 (MariaDB) check constraint violated.
        return matches!(mysql.number(), 1264 | 1366 | 1406 | 3819 | 4025);
    }
    match db.code().as_deref() {
        // PostgreSQL: class 22 (data exception) and 23514 (check violation).
        Some(code) if code.starts_with("22") || code == "23514" => true,
        // SQLite: SQLITE_CONSTRAINT_CHECK.
        Some("275") => true,
        _ => false,
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

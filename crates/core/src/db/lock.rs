//! One schema-changing run at a time, across processes and machines.
//!
//! PostgreSQL: a session advisory lock, taken with `pg_try_advisory_lock` in a poll loop on a
//! connection of its own (a blocking `pg_advisory_lock` can deadlock with `CREATE INDEX CONCURRENTLY`,
//! which waits for every other transaction), held for the whole run and released when it ends (or when
//! the process dies and its session closes).
//! MySQL/MariaDB: a named lock (`GET_LOCK`), taken the same way on a connection of its own and held
//! for the whole run (the server releases it when the session ends).
//! SQLite: an exclusive OS lock on a file next to the database (`<file>.migrate-lock`); SQLite itself
//! serialises writers, but not a whole run of several migrations.
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, DbErr};

use super::Backend;

/// "LMS_MIGR": the advisory lock key of migration runs.
const ADVISORY_KEY: i64 = 0x4C4D_535F_4D49_4752;
/// The MySQL named lock of migration runs (names are per server: the database is part of it).
const NAMED_LOCK_PREFIX: &str = "lms_migrations.";
const POLL: Duration = Duration::from_millis(200);

/// Runs `work` while holding the schema-change lock of `db` (migrations take it), waiting at most
/// `timeout` for it.
pub async fn with_run_lock<T, F, Fut>(
    db: &DatabaseConnection,
    url: &str,
    timeout: Duration,
    work: F,
) -> Result<T, DbErr>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, DbErr>>,
{
    match Backend::of(db)? {
        Backend::Postgres => {
            let mut conn = db
                .get_postgres_connection_pool()
                .acquire()
                .await
                .map_err(|e| {
                    DbErr::Custom(format!(
                        "cannot open a connection for the migration lock: {e}"
                    ))
                })?;
            let started = Instant::now();
            loop {
                let (got,): (bool,) = sea_orm::sqlx::query_as("SELECT pg_try_advisory_lock($1)")
                    .bind(ADVISORY_KEY)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(|e| DbErr::Custom(format!("taking the migration lock failed: {e}")))?;
                if got {
                    break;
                }
                wait_or_give_up(started, timeout).await?;
            }
            let result = work().await;
            let _ = sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(ADVISORY_KEY)
                .execute(&mut *conn)
                .await;
            result
        }
        Backend::MySql => {
            let mut conn = db
                .get_mysql_connection_pool()
                .acquire()
                .await
                .map_err(|e| {
                    DbErr::Custom(format!(
                        "cannot open a connection for the migration lock: {e}"
                    ))
                })?;
            let (schema,): (Option<String>,) = sea_orm::sqlx::query_as("SELECT DATABASE()")
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| DbErr::Custom(format!("taking the migration lock failed: {e}")))?;
            let name = format!("{NAMED_LOCK_PREFIX}{}", schema.unwrap_or_default());
            let started = Instant::now();
            loop {
                let (got,): (Option<i64>,) = sea_orm::sqlx::query_as("SELECT GET_LOCK(?, 0)")
                    .bind(&name)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(|e| DbErr::Custom(format!("taking the migration lock failed: {e}")))?;
                if got == Some(1) {
                    break;
                }
                wait_or_give_up(started, timeout).await?;
            }
            let result = work().await;
            let _ = sea_orm::sqlx::query("SELECT RELEASE_LOCK(?)")
                .bind(&name)
                .execute(&mut *conn)
                .await;
            result
        }
        Backend::Sqlite => match sqlite_path(url) {
            Some(path) => {
                let lock_path = PathBuf::from(format!("{}.migrate-lock", path.display()));
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)
                    .map_err(|e| {
                        DbErr::Custom(format!("cannot open {}: {e}", lock_path.display()))
                    })?;
                let started = Instant::now();
                while file.try_lock().is_err() {
                    if started.elapsed() >= timeout {
                        return Err(DbErr::Custom(format!(
                            "another migration run holds {}; gave up after {} s",
                            lock_path.display(),
                            timeout.as_secs()
                        )));
                    }
                    tokio::time::sleep(POLL).await;
                }
                let result = work().await;
                let _ = file.unlock();
                result
            }
            // In-memory databases belong to one process.
            None => work().await,
        },
    }
}

/// Between two tries for a lock held by another run: waits a little, or gives up after `timeout`.
async fn wait_or_give_up(started: Instant, timeout: Duration) -> Result<(), DbErr> {
    if started.elapsed() >= timeout {
        return Err(DbErr::Custom(format!(
            "another migration run holds the lock; gave up after {} s (the wait is set with --lock-timeout)",
            timeout.as_secs()
        )));
    }
    tracing::info!("waiting for another migration run to finish");
    tokio::time::sleep(POLL).await;
    Ok(())
}

/// The file behind a `sqlite://` URL, if it is a file.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

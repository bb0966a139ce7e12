//! Applying migrations the way production teams want it: one at a time under the migration lock, each
//! with a checksum of the SQL it runs on this backend and how long it took (`seaql_migration_checksums`),
//! refusing to go on when an applied migration was edited afterwards, and able to show the SQL without
//! running it (dry run).
//!
//! The SQL of a migration is captured by running its `up()` / `down()` against SeaORM's MockDatabase,
//! which records statements instead of executing them. Migrations here only issue statements (no
//! queries), so what is recorded is exactly what would run.
use std::collections::HashMap;
use std::time::Instant;

use lms_core::db::Backend;
use lms_core::db::tracking::{Checksum, Entry, TrackingTable};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, MockDatabase, MockExecResult,
};
use sea_orm_migration::{MigrationTrait, MigratorTrait, SchemaManager};

use crate::Migrator;

pub const CHECKSUM_TABLE: &str = "seaql_migration_checksums";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// The statements `migration` runs in `direction` on `backend`, in order.
pub async fn planned_sql(
    migration: &dyn MigrationTrait,
    backend: DbBackend,
    direction: Direction,
) -> Result<Vec<String>, DbErr> {
    let results = (0..10_000).map(|_| MockExecResult {
        last_insert_id: 0,
        rows_affected: 0,
    });
    let conn = MockDatabase::new(backend)
        .append_exec_results(results)
        .into_connection();
    {
        let manager = SchemaManager::new(&conn);
        match direction {
            Direction::Up => migration.up(&manager).await?,
            Direction::Down => migration.down(&manager).await?,
        }
    }
    Ok(conn
        .into_transaction_log()
        .iter()
        .flat_map(|t| {
            t.statements()
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        })
        .collect())
}

/// SHA-256 (hex) of the SQL a migration's `up()` runs on `backend`.
pub async fn checksum(migration: &dyn MigrationTrait, backend: DbBackend) -> Result<String, DbErr> {
    let mut hash = Checksum::default();
    for statement in planned_sql(migration, backend, Direction::Up).await? {
        hash.update(statement).update(";\n");
    }
    Ok(hash.finish())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Applied,
    Pending,
    /// Applied, but its SQL is not what was applied any more.
    Changed,
    /// Recorded as applied, but this build has no such migration.
    Missing,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub state: State,
    pub applied_at: Option<i64>,
    pub duration_ms: Option<i64>,
    /// A pending migration that failed half-way where DDL is not transactional (MySQL): which
    /// statement failed and why. The next `up` resumes after the statements that succeeded.
    pub failure: Option<String>,
}

/// Checksums and durations of applied migrations (their time is in SeaORM's `seaql_migrations`).
const CHECKSUMS: TrackingTable = TrackingTable {
    table: CHECKSUM_TABLE,
    name_column: "version",
    name_len: None,
    rows_and_time: false,
};

/// version -> (checksum, duration)
async fn recorded(
    db: &impl ConnectionTrait,
) -> Result<HashMap<String, (String, Option<i64>)>, DbErr> {
    Ok(CHECKSUMS
        .entries(db)
        .await?
        .into_iter()
        .map(|e| (e.name, (e.checksum, e.duration_ms)))
        .collect())
}

async fn record(
    db: &impl ConnectionTrait,
    version: &str,
    checksum: &str,
    duration_ms: Option<i64>,
) -> Result<(), DbErr> {
    CHECKSUMS
        .record(
            db,
            &Entry {
                name: version.to_string(),
                checksum: checksum.to_string(),
                duration_ms,
                rows: None,
                ran_at: None,
            },
        )
        .await
}

/// Every migration in order with its state, then the applied ones this build does not know.
/// Applied migrations recorded before checksums existed get today's checksum (trusted as they are).
pub async fn status(db: &DatabaseConnection) -> Result<Vec<Row>, DbErr> {
    let backend = db.get_database_backend();
    Migrator::install(db).await?;
    let applied: HashMap<String, i64> = Migrator::get_migration_models(db)
        .await?
        .into_iter()
        .map(|m| (m.version, m.applied_at))
        .collect();
    let mut recorded = recorded(db).await?;
    let failures = failures(db).await?;
    let mut rows = Vec::new();
    for migration in Migrator::migrations() {
        let name = migration.name().to_string();
        let Some(applied_at) = applied.get(&name).copied() else {
            rows.push(Row {
                failure: failures.get(&name).cloned(),
                name,
                state: State::Pending,
                applied_at: None,
                duration_ms: None,
            });
            continue;
        };
        let current = checksum(migration.as_ref(), backend).await?;
        let (state, duration_ms) = match recorded.get(&name) {
            Some((stored, duration)) if *stored == current => (State::Applied, *duration),
            Some((_, duration)) => (State::Changed, *duration),
            None => {
                record(db, &name, &current, None).await?;
                recorded.insert(name.clone(), (current, None));
                (State::Applied, None)
            }
        };
        rows.push(Row {
            failure: failures.get(&name).cloned(),
            name,
            state,
            applied_at: Some(applied_at),
            duration_ms,
        });
    }
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    let mut missing: Vec<_> = applied.iter().filter(|(v, _)| !known.contains(v)).collect();
    missing.sort();
    for (name, applied_at) in missing {
        rows.push(Row {
            name: name.clone(),
            state: State::Missing,
            applied_at: Some(*applied_at),
            duration_ms: None,
            failure: None,
        });
    }
    Ok(rows)
}

/// Applies up to `steps` pending migrations (all when None), one at a time, recording checksum and
/// duration of each. Refuses, naming them, when applied migrations are missing from this build, or
/// changed since they ran (unless `allow_changed`). Call it under the migration lock. Returns the names
/// applied.
pub async fn up(
    db: &DatabaseConnection,
    steps: Option<u32>,
    allow_changed: bool,
) -> Result<Vec<String>, DbErr> {
    let rows = status(db).await?;
    let named = |state: State| {
        rows.iter()
            .filter(|r| r.state == state)
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let missing = named(State::Missing);
    if !missing.is_empty() {
        return Err(DbErr::Migration(format!(
            "applied migrations are missing from this build: {missing} (a newer build applied them); refusing to migrate"
        )));
    }
    let changed = named(State::Changed);
    if !changed.is_empty() && !allow_changed {
        return Err(DbErr::Migration(format!(
            "applied migrations changed since they ran: {changed}; refusing to migrate (--allow-changed overrides)"
        )));
    }
    let backend = db.get_database_backend();
    if Backend::of(db)?.builds_indexes_concurrently() {
        drop_invalid_indexes(db).await?;
    }
    let pending: Vec<String> = rows
        .iter()
        .filter(|r| r.state == State::Pending)
        .map(|r| r.name.clone())
        .collect();
    let take = steps
        .map_or(pending.len(), |n| n as usize)
        .min(pending.len());
    let mut applied = Vec::new();
    for name in &pending[..take] {
        let migration = migration_named(name)?;
        let started = Instant::now();
        apply(db, migration.as_ref()).await?;
        let sum = checksum(migration.as_ref(), backend).await?;
        record(db, name, &sum, Some(started.elapsed().as_millis() as i64)).await?;
        applied.push(name.clone());
    }
    Ok(applied)
}

/// Drops INVALID indexes: what an interrupted `CREATE INDEX CONCURRENTLY` leaves behind. Safe here because
/// the caller holds the migration lock, so no concurrent build of ours is in progress.
async fn drop_invalid_indexes(db: &DatabaseConnection) -> Result<(), DbErr> {
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            DbBackend::Postgres,
            "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid AND n.nspname = current_schema()",
        ))
        .await?;
    for row in rows {
        let name: String = row.try_get_by_index(0)?;
        tracing::warn!(index = %name, "dropping an invalid index left by an interrupted build");
        db.execute_unprepared(&format!("DROP INDEX CONCURRENTLY IF EXISTS \"{name}\""))
            .await?;
    }
    Ok(())
}

/// The migration of this build called `name`.
pub fn migration_named(name: &str) -> Result<Box<dyn MigrationTrait>, DbErr> {
    Migrator::migrations()
        .into_iter()
        .find(|m| m.name() == name)
        .ok_or_else(|| DbErr::Migration(format!("{name} is not in this build")))
}

/// Rolls back the newest `steps` applied migrations, newest first, each the way `apply` applies one: its
/// `down()` statements and the removal of its `seaql_migrations` and checksum rows in one transaction
/// (unless it opts out), so a failure half-way leaves the migration fully applied. SeaORM's own `down`
/// runs SQLite migrations outside any transaction. Call it under the migration lock. Returns the names
/// rolled back.
pub async fn down(db: &DatabaseConnection, steps: u32) -> Result<Vec<String>, DbErr> {
    CHECKSUMS.ensure(db).await?;
    let applied = Migrator::get_applied_migrations(db).await?;
    let mut rolled_back = Vec::new();
    for newest in applied.iter().rev().take(steps as usize) {
        let name = newest.name();
        let migration = migration_named(name)?;
        let forget = [
            Query::delete()
                .from_table(Migrator::migration_table_name())
                .and_where(Expr::col(Alias::new("version")).eq(name))
                .to_owned(),
            CHECKSUMS.delete(name),
        ];
        run(db, migration.as_ref(), Direction::Down, &forget).await?;
        rolled_back.push(name.to_string());
    }
    Ok(rolled_back)
}

/// Runs one migration's `up()` statements (as recorded by `planned_sql`) and writes its
/// `seaql_migrations` row.
async fn apply(db: &DatabaseConnection, migration: &dyn MigrationTrait) -> Result<(), DbErr> {
    let tracking = Query::insert()
        .into_table(Migrator::migration_table_name())
        .columns([Alias::new("version"), Alias::new("applied_at")])
        .values_panic([
            migration.name().into(),
            chrono::Utc::now().timestamp().into(),
        ])
        .to_owned();
    run(db, migration, Direction::Up, &[tracking]).await
}

/// Runs one migration's statements in `direction`, then the `tracking` statements.
///
/// Unless the migration opts out (`use_transaction` -> `Some(false)`, for `CREATE INDEX CONCURRENTLY`),
/// statements and tracking share one transaction, on PostgreSQL and on SQLite (whose DDL is
/// transactional too): a failure half-way leaves no partial change and no tracking change. The error
/// names the migration and the statement.
async fn run<S: sea_orm::StatementBuilder>(
    db: &DatabaseConnection,
    migration: &dyn MigrationTrait,
    direction: Direction,
    tracking: &[S],
) -> Result<(), DbErr> {
    use sea_orm::TransactionTrait;
    let name = migration.name();
    let statements = planned_sql(migration, db.get_database_backend(), direction).await?;
    let total = statements.len();
    let failed = |i: usize, sql: &str, e: DbErr| {
        let shown: String = sql.chars().take(300).collect();
        let which = match direction {
            Direction::Up => "",
            Direction::Down => " (down)",
        };
        DbErr::Migration(format!(
            "migration {name}{which} failed at statement {} of {total}: {shown}: {e}",
            i + 1
        ))
    };
    if !Backend::of(db)?.transactional_ddl() {
        return run_resumable(db, name, direction, &statements, tracking, failed).await;
    }
    if migration.use_transaction() == Some(false) {
        for (i, sql) in statements.iter().enumerate() {
            db.execute_unprepared(sql)
                .await
                .map_err(|e| failed(i, sql, e))?;
        }
        for statement in tracking {
            db.execute(statement).await?;
        }
        return Ok(());
    }
    let txn = db.begin().await?;
    for (i, sql) in statements.iter().enumerate() {
        if let Err(e) = txn.execute_unprepared(sql).await {
            txn.rollback().await.ok();
            return Err(failed(i, sql, e));
        }
    }
    for statement in tracking {
        txn.execute(statement).await?;
    }
    txn.commit().await
}

/// Where DDL is not transactional (MySQL commits each statement by itself): runs the statements one
/// by one, recording after each how many succeeded (`seaql_migration_progress`). A failure leaves the
/// migration unrecorded (pending) with the failed statement and the error kept for `status`; the next
/// run of the same migration in the same direction skips the statements that succeeded and goes on
/// from the failed one, so fixing the cause and running again completes it without hand-written SQL.
/// If the migration's statements changed in between, it refuses rather than guess.
async fn run_resumable<S: sea_orm::StatementBuilder>(
    db: &DatabaseConnection,
    name: &str,
    direction: Direction,
    statements: &[String],
    tracking: &[S],
    failed: impl Fn(usize, &str, DbErr) -> DbErr,
) -> Result<(), DbErr> {
    let way = match direction {
        Direction::Up => "up",
        Direction::Down => "down",
    };
    let mut plan = Checksum::default();
    for statement in statements {
        plan.update(statement).update(";\n");
    }
    let plan = plan.finish();
    let start = match progress(db, name).await? {
        None => 0,
        Some(p) if p.direction == way && p.plan == plan => p.done,
        Some(p) => {
            return Err(DbErr::Migration(format!(
                "migration {name} failed half-way earlier ({}, {} statements done) and its statements have changed since; \
                 bring the schema to where it was by hand, then delete its row from {PROGRESS_TABLE}",
                p.direction, p.done
            )));
        }
    };
    for (i, sql) in statements.iter().enumerate().skip(start) {
        match db.execute_unprepared(sql).await {
            Ok(_) => save_progress(db, name, way, &plan, i + 1, None).await?,
            Err(e) => {
                let error = failed(i, sql, e);
                let shown: String = sql.chars().take(300).collect();
                let note = format!(
                    "failed at statement {} of {} ({way}): {shown}: {error}",
                    i + 1,
                    statements.len()
                );
                save_progress(db, name, way, &plan, i, Some(&note)).await?;
                return Err(error);
            }
        }
    }
    for statement in tracking {
        db.execute(statement).await?;
    }
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        format!("DELETE FROM {PROGRESS_TABLE} WHERE version = ?"),
        [name.into()],
    ))
    .await?;
    Ok(())
}

/// Progress of migrations run statement by statement (see [`run_resumable`]).
const PROGRESS_TABLE: &str = "seaql_migration_progress";

struct Progress {
    direction: String,
    plan: String,
    done: usize,
}

async fn ensure_progress(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared(&format!(
        "CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} (version VARCHAR(255) NOT NULL PRIMARY KEY, \
         direction VARCHAR(8) NOT NULL, plan VARCHAR(64) NOT NULL, done INT NOT NULL, failure TEXT NULL)"
    ))
    .await?;
    Ok(())
}

async fn progress(db: &DatabaseConnection, name: &str) -> Result<Option<Progress>, DbErr> {
    ensure_progress(db).await?;
    let row = db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            format!("SELECT direction, plan, done FROM {PROGRESS_TABLE} WHERE version = ?"),
            [name.into()],
        ))
        .await?;
    row.map(|r| {
        Ok(Progress {
            direction: r.try_get_by_index(0)?,
            plan: r.try_get_by_index(1)?,
            done: usize::try_from(r.try_get_by_index::<i32>(2)?).unwrap_or(0),
        })
    })
    .transpose()
}

async fn save_progress(
    db: &DatabaseConnection,
    name: &str,
    direction: &str,
    plan: &str,
    done: usize,
    failure: Option<&str>,
) -> Result<(), DbErr> {
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        format!("REPLACE INTO {PROGRESS_TABLE} (version, direction, plan, done, failure) VALUES (?, ?, ?, ?, ?)"),
        [
            name.into(),
            direction.into(),
            plan.into(),
            i32::try_from(done).unwrap_or(i32::MAX).into(),
            failure.map(str::to_string).into(),
        ],
    ))
    .await?;
    Ok(())
}

/// version -> what failed, for migrations left half-way (only where DDL is not transactional).
async fn failures(db: &DatabaseConnection) -> Result<HashMap<String, String>, DbErr> {
    if Backend::of(db)?.transactional_ddl() {
        return Ok(HashMap::new());
    }
    ensure_progress(db).await?;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT version, failure FROM {PROGRESS_TABLE} WHERE failure IS NOT NULL"),
        ))
        .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
        .collect()
}

/// Forgets checksums of migrations that are no longer applied (after down, fresh, reset).
pub async fn forget_unapplied(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::install(db).await?;
    let applied: Vec<String> = Migrator::get_migration_models(db)
        .await?
        .into_iter()
        .map(|m| m.version)
        .collect();
    for (version, _) in recorded(db).await? {
        if !applied.contains(&version) {
            db.execute(&CHECKSUMS.delete(&version)).await?;
        }
    }
    Ok(())
}

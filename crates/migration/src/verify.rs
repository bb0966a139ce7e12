//! `verify`: does the live schema match what the applied migrations define?
//!
//! The expected schema is built for real: the same applied migrations are run on a scratch copy (a
//! temporary SQLite file, or a temporary schema in the same PostgreSQL database, so no CREATE DATABASE
//! privilege is needed), then both are introspected the same way (tables, columns with type and
//! nullability, primary keys, foreign keys with their actions, checks, unique and other indexes) and
//! compared line by line.
use std::collections::BTreeSet;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, Statement};
use sea_orm_migration::MigratorTrait;

use crate::Migrator;
use lms_core::db::Backend;

/// Differences between the live schema and the migrations' (empty when they match), and how many
/// applied migrations were compared.
pub async fn verify(db: &DatabaseConnection, url: &str) -> Result<(Vec<String>, usize), DbErr> {
    let applied = Migrator::get_applied_migrations(db).await?.len();
    let live_schema = match Backend::of(db)? {
        Backend::MySql => current_database(db).await?,
        Backend::Sqlite | Backend::Postgres => "public".to_string(),
    };
    let live = describe(db, &live_schema).await?;
    let expected = match Backend::of(db)? {
        Backend::Sqlite => {
            let dir =
                std::env::temp_dir().join(format!("lms-verify-{}-{}", std::process::id(), applied));
            std::fs::create_dir_all(&dir).map_err(|e| DbErr::Custom(e.to_string()))?;
            let scratch_url = format!("sqlite://{}?mode=rwc", dir.join("expected.db").display());
            let scratch = crate::connect(
                &scratch_url,
                &crate::PoolOptions::for_migrations(&scratch_url),
            )
            .await?;
            let result = async {
                crate::runner::up(&scratch, Some(applied as u32), false).await?;
                describe(&scratch, "public").await
            }
            .await;
            scratch.close().await.ok();
            let _ = std::fs::remove_dir_all(&dir);
            result?
        }
        Backend::Postgres => {
            let schema = format!("lms_verify_{}", std::process::id());
            db.execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                .await?;
            let result = async {
                let mut options = ConnectOptions::new(url);
                options
                    .set_schema_search_path(schema.clone())
                    .max_connections(2)
                    .sqlx_logging(false);
                let scratch = Database::connect(options).await?;
                let outcome = async {
                    crate::runner::up(&scratch, Some(applied as u32), false).await?;
                    describe(&scratch, &schema).await
                }
                .await;
                scratch.close().await.ok();
                outcome
            }
            .await;
            db.execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .await?;
            result?
        }
        Backend::MySql => {
            // A scratch database next to the live one (the migration user needs CREATE and DROP on
            // it; MySQL has no schemas inside a database).
            let scratch_name = format!("lms_verify_{}", std::process::id());
            db.execute_unprepared(&format!("CREATE DATABASE `{scratch_name}`"))
                .await?;
            let result = async {
                let scratch_url = with_database(url, &scratch_name);
                let scratch = crate::connect(
                    &scratch_url,
                    &crate::PoolOptions::for_migrations(&scratch_url),
                )
                .await?;
                let outcome = async {
                    crate::runner::up(&scratch, Some(applied as u32), false).await?;
                    describe(&scratch, &scratch_name).await
                }
                .await;
                scratch.close().await.ok();
                outcome
            }
            .await;
            db.execute_unprepared(&format!("DROP DATABASE `{scratch_name}`"))
                .await?;
            result?
        }
    };
    let mut differences: Vec<String> = expected
        .difference(&live)
        .map(|l| format!("missing:    {l}"))
        .collect();
    differences.extend(
        live.difference(&expected)
            .map(|l| format!("unexpected: {l}")),
    );
    Ok((differences, applied))
}

/// One line per schema fact, schema names stripped so two schemas compare equal.
async fn describe(db: &impl ConnectionTrait, schema: &str) -> Result<BTreeSet<String>, DbErr> {
    let backend = Backend::of(db)?;
    let queries: Vec<String> = match backend {
        Backend::Sqlite => vec![
            "SELECT type || ' ' || name || ' on ' || tbl_name || ': ' || COALESCE(sql, '') FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite_%' AND tbl_name NOT LIKE 'seaql_%'"
                .into(),
        ],
        Backend::Postgres => vec![
            format!(
                "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || \
                 COALESCE('(' || character_maximum_length::text || ')', '') || CASE WHEN is_nullable = 'YES' THEN ' null' ELSE ' not null' END \
                 || COALESCE(' default ' || column_default, '') \
                 FROM information_schema.columns WHERE table_schema = '{schema}' AND table_name NOT LIKE 'seaql_%'"
            ),
            format!(
                "SELECT 'constraint ' || cl.relname || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid) \
                 FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace \
                 WHERE n.nspname = '{schema}' AND cl.relname NOT LIKE 'seaql_%'"
            ),
            format!(
                "SELECT 'index ' || tablename || ' ' || indexname || ' ' || indexdef FROM pg_indexes \
                 WHERE schemaname = '{schema}' AND tablename NOT LIKE 'seaql_%'"
            ),
        ],
        Backend::MySql => vec![
            format!(
                "SELECT CONCAT('column ', table_name, '.', column_name, ' ', column_type, \
                 CASE WHEN is_nullable = 'YES' THEN ' null' ELSE ' not null' END, \
                 COALESCE(CONCAT(' default ', column_default), ''), COALESCE(CONCAT(' ', collation_name), '')) \
                 FROM information_schema.columns WHERE table_schema = '{schema}' AND table_name NOT LIKE 'seaql%'"
            ),
            format!(
                "SELECT CONCAT('check ', t.table_name, ' ', t.constraint_name, ' ', c.check_clause) \
                 FROM information_schema.table_constraints t JOIN information_schema.check_constraints c \
                 ON c.constraint_schema = t.constraint_schema AND c.constraint_name = t.constraint_name \
                 WHERE t.constraint_schema = '{schema}' AND t.constraint_type = 'CHECK'"
            ),
            format!(
                "SELECT CONCAT('foreign key ', k.table_name, '.', k.column_name, ' -> ', k.referenced_table_name, '.', \
                 k.referenced_column_name, ' on delete ', r.delete_rule, ' on update ', r.update_rule, ' ', k.constraint_name) \
                 FROM information_schema.key_column_usage k JOIN information_schema.referential_constraints r \
                 ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name \
                 WHERE k.table_schema = '{schema}' AND k.referenced_table_name IS NOT NULL"
            ),
            format!(
                "SELECT CONCAT('index ', table_name, ' ', index_name, CASE WHEN non_unique = 0 THEN ' unique ' ELSE ' ' END, \
                 GROUP_CONCAT(column_name ORDER BY seq_in_index)) FROM information_schema.statistics \
                 WHERE table_schema = '{schema}' AND table_name NOT LIKE 'seaql%' GROUP BY table_name, index_name, non_unique"
            ),
            format!(
                "SELECT CONCAT('table ', table_name, ' ', engine, ' ', table_collation) FROM information_schema.tables \
                 WHERE table_schema = '{schema}' AND table_name NOT LIKE 'seaql%'"
            ),
        ],
    };
    let mut lines = BTreeSet::new();
    for sql in queries {
        for row in db
            .query_all_raw(Statement::from_string(backend.db_backend(), sql))
            .await?
        {
            let line: String = row.try_get_by_index(0)?;
            lines.insert(
                line.replace(&format!("{schema}."), "")
                    .replace(&format!("\"{schema}\"."), ""),
            );
        }
    }
    Ok(lines)
}

/// The database a MySQL connection is using.
async fn current_database(db: &impl ConnectionTrait) -> Result<String, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::MySql,
            "SELECT DATABASE()",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("no current database".into()))?;
    let name: Option<String> = row.try_get_by_index(0)?;
    name.ok_or_else(|| DbErr::Custom("the URL names no database".into()))
}

/// `url` with its database (the path) replaced by `database`, query string kept.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find('/').map(|j| start + j))
        .unwrap_or(base.len());
    let root = &base[..authority_end];
    match query {
        Some(q) => format!("{root}/{database}?{q}"),
        None => format!("{root}/{database}"),
    }
}

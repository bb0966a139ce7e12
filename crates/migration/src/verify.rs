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
    let live = describe(db, "public").await?;
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

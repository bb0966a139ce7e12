//! A textual snapshot of a database's schema (tables, columns, constraints, indexes), to prove that
//! migrating up, down and up again leaves exactly the same schema.
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

pub async fn snapshot(db: &DatabaseConnection) -> Vec<String> {
    let backend = db.get_database_backend();
    let queries: &[&str] = match backend {
        DbBackend::Sqlite => &[
            "SELECT type || ' ' || name || ' ON ' || tbl_name || ': ' || COALESCE(sql, '') FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite_%'",
        ],
        DbBackend::Postgres => &[
            "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || \
             COALESCE(character_maximum_length::text, '') || ' nullable=' || is_nullable || ' default=' || \
             COALESCE(column_default, '') FROM information_schema.columns WHERE table_schema = 'public'",
            "SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
            "SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public'",
        ],
        DbBackend::MySql => &[
            "SELECT CONCAT('column ', table_name, '.', column_name, ' ', column_type, ' nullable=', is_nullable, \
             ' default=', COALESCE(column_default, '')) FROM information_schema.columns WHERE table_schema = DATABASE()",
            "SELECT CONCAT('constraint ', table_name, ' ', constraint_name, ' ', constraint_type) \
             FROM information_schema.table_constraints WHERE constraint_schema = DATABASE()",
            "SELECT CONCAT('check ', constraint_name, ' ', check_clause) FROM information_schema.check_constraints \
             WHERE constraint_schema = DATABASE()",
            "SELECT CONCAT('index ', table_name, ' ', index_name, ' ', GROUP_CONCAT(column_name ORDER BY seq_in_index)) \
             FROM information_schema.statistics WHERE table_schema = DATABASE() GROUP BY table_name, index_name",
        ],
        other => panic!("unsupported backend {other:?}"),
    };
    let mut rows = Vec::new();
    for sql in queries {
        for row in db
            .query_all_raw(Statement::from_string(backend, *sql))
            .await
            .expect("schema query")
        {
            rows.push(row.try_get_by_index::<String>(0).expect("text column"));
        }
    }
    rows.sort();
    rows
}

/// Names of the application's tables (everything but the migration bookkeeping, `seaql_*`).
pub async fn tables(db: &DatabaseConnection) -> Vec<String> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        DbBackend::MySql => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name"
        }
        _ => "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    };
    db.query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("table query")
        .into_iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("name"))
        .filter(|name| !name.starts_with("seaql_"))
        .collect()
}

/// The single integer a query returns (e.g. a COUNT).
pub async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("query")
        .expect("one row");
    row.try_get_by_index::<i64>(0).expect("an integer")
}

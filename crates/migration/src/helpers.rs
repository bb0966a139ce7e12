//! Small builders the migrations share, so every table spells constraints the same way.
use lms_core::db::Backend;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// A `CHECK (col IN (...))` constraint named `ck_<table>_<column>`.
///
/// Enumerated columns are plain strings checked by the database, which reads the same on SQLite and
/// PostgreSQL (a native PostgreSQL enum has no SQLite counterpart and cannot drop a value later).
/// A NULL passes the check, so it also serves nullable columns.
pub fn one_of<C: IntoIden + Copy + 'static>(table: &str, col: C, values: &[&str]) -> Check {
    let name = format!("ck_{table}_{}", col.into_iden());
    Check::named(
        Alias::new(name),
        Expr::col(col).is_in(values.iter().copied()),
    )
}

/// A named CHECK constraint with an arbitrary expression.
pub fn check(name: &str, expr: impl Into<Expr>) -> Check {
    Check::named(Alias::new(name), expr)
}

/// `fk_<table>_<column>` referencing `to.id`, with the given delete action.
pub fn fk<T, C, R>(
    table: T,
    col: C,
    to: R,
    to_id: impl IntoIden,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement
where
    T: IntoIden + Copy + 'static,
    C: IntoIden + Copy + 'static,
    R: IntoIden + 'static,
{
    let name = format!("fk_{}_{}", table.into_iden(), col.into_iden());
    ForeignKey::create()
        .name(name)
        .from(table, col)
        .to(to, to_id)
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::Cascade)
        .to_owned()
}

/// One index of an index migration: enough to create it and to drop it again.
pub struct IndexDef {
    pub name: String,
    pub table: DynIden,
    pub create: IndexCreateStatement,
}

/// An index `idx_<table>_<cols>` (or `uq_<table>_<cols>` when unique) on the given columns.
pub fn index<T, C>(table: T, cols: &[C], unique: bool) -> IndexDef
where
    T: IntoIden + Copy + 'static,
    C: IntoIden + Copy + 'static,
{
    let table_iden = table.into_iden();
    let mut name = format!("{}_{}", if unique { "uq" } else { "idx" }, table_iden);
    let mut create = Index::create();
    create.table(table);
    for col in cols {
        name.push('_');
        name.push_str(&col.into_iden().to_string());
        create.col(*col);
    }
    create.name(&name);
    if unique {
        create.unique();
    }
    IndexDef {
        name,
        table: table_iden,
        create: create.to_owned(),
    }
}

/// Creates every index of a list, in order.
pub async fn create_indexes(
    manager: &SchemaManager<'_>,
    indexes: Vec<IndexDef>,
) -> Result<(), DbErr> {
    for index in indexes {
        manager.create_index(index.create).await?;
    }
    Ok(())
}

/// Creates every index of a list without blocking writes: on PostgreSQL `CREATE INDEX CONCURRENTLY IF NOT
/// EXISTS` (the migration must opt out of the transaction: `use_transaction` -> `Some(false)`), so inserts
/// and updates keep going while a large table is indexed; `IF NOT EXISTS` lets an interrupted run resume.
/// An INVALID index left by an interrupted build is dropped by the runner before it migrates. MySQL:
/// InnoDB's online DDL, asked for explicitly (`ALGORITHM=INPLACE LOCK=NONE`), so that a build that would
/// lock the table fails instead of blocking writes. SQLite builds the index as usual.
pub async fn create_indexes_concurrently(
    manager: &SchemaManager<'_>,
    indexes: Vec<IndexDef>,
) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::MySql {
        for index in indexes {
            let sql = index.create.to_string(MysqlQueryBuilder);
            manager
                .get_connection()
                .execute_unprepared(&format!("{sql} ALGORITHM=INPLACE LOCK=NONE"))
                .await?;
        }
        return Ok(());
    }
    if !Backend::of(manager.get_connection())?.builds_indexes_concurrently() {
        return create_indexes(manager, indexes).await;
    }
    for index in indexes {
        let sql = index.create.to_string(PostgresQueryBuilder);
        let sql = sql.replacen("INDEX ", "INDEX CONCURRENTLY IF NOT EXISTS ", 1);
        manager.get_connection().execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// Drops every index of a list, newest first; on PostgreSQL `DROP INDEX CONCURRENTLY IF EXISTS`.
pub async fn drop_indexes_concurrently(
    manager: &SchemaManager<'_>,
    indexes: Vec<IndexDef>,
) -> Result<(), DbErr> {
    if !Backend::of(manager.get_connection())?.builds_indexes_concurrently() {
        return drop_indexes(manager, indexes).await;
    }
    for index in indexes.into_iter().rev() {
        let sql = format!("DROP INDEX CONCURRENTLY IF EXISTS \"{}\"", index.name);
        manager.get_connection().execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// Drops every index of a list, in reverse order.
pub async fn drop_indexes(
    manager: &SchemaManager<'_>,
    indexes: Vec<IndexDef>,
) -> Result<(), DbErr> {
    for index in indexes.into_iter().rev() {
        manager
            .drop_index(Index::drop().name(index.name).table(index.table).to_owned())
            .await?;
    }
    Ok(())
}

/// An instant, kept in UTC: `timestamptz` on PostgreSQL, sea-query's timestamp-with-time-zone text on
/// SQLite, `DATETIME(6)` on MySQL (its `TIMESTAMP` ends in 2038 and keeps whole seconds by default;
/// connections there run in UTC, see `Backend::check_connection`). Not null.
pub fn instant<C: IntoIden>(backend: DbBackend, col: C) -> ColumnDef {
    instant_type(backend, col).not_null().take()
}

/// [`instant`], nullable.
pub fn instant_null<C: IntoIden>(backend: DbBackend, col: C) -> ColumnDef {
    instant_type(backend, col).null().take()
}

/// [`instant`] with the current time as its default.
pub fn instant_default_now<C: IntoIden>(backend: DbBackend, col: C) -> ColumnDef {
    let now = match backend {
        DbBackend::MySql => Expr::cust("CURRENT_TIMESTAMP(6)"),
        _ => Expr::current_timestamp(),
    };
    instant(backend, col).default(now).take()
}

fn instant_type<C: IntoIden>(backend: DbBackend, col: C) -> ColumnDef {
    let mut def = ColumnDef::new(col);
    match backend {
        DbBackend::MySql => def.custom(Alias::new("DATETIME(6)")),
        _ => def.timestamp_with_time_zone(),
    };
    def
}

/// Creates `table`. On MySQL each foreign key also gets an explicit index on its columns, named after
/// the constraint: what InnoDB makes by itself, except that InnoDB silently drops its own such index
/// once a later index starts with the same column, and then refuses to drop that later index (error
/// 1553), so the index migration's `down` could not run. A foreign key whose column already leads the
/// primary key, a unique column or an index of the table needs none. Other backends: unchanged.
pub async fn create_table(
    manager: &SchemaManager<'_>,
    mut table: TableCreateStatement,
) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::MySql {
        // The table says what it needs, whatever the server's defaults (latin1 is common): InnoDB
        // for foreign keys and transactions, utf8mb4 for all of Unicode, case-insensitive
        // comparison (unique emails and usernames ignore case); emoji columns are binary, see
        // [`emoji_collation`].
        table
            .engine("InnoDB")
            .character_set("utf8mb4")
            .collate("utf8mb4_unicode_ci");
        let mut leading: std::collections::HashSet<String> = table
            .get_columns()
            .iter()
            .filter(|c| c.get_column_spec().primary_key || c.get_column_spec().unique)
            .map(|c| c.get_column_name())
            .collect();
        for index in table.get_indexes() {
            if let Some(first) = index.get_index_spec().get_column_names().first() {
                leading.insert(first.clone());
            }
        }
        let keys: Vec<(String, Vec<String>)> = table
            .get_foreign_key_create_stmts()
            .iter()
            .map(|fk| {
                let key = fk.get_foreign_key();
                (
                    key.get_name().unwrap_or_default().to_string(),
                    key.get_columns(),
                )
            })
            .collect();
        for (name, columns) in keys {
            if columns.first().is_none_or(|c| leading.contains(c)) {
                continue;
            }
            let mut index = Index::create();
            index.name(&name);
            for column in &columns {
                index.col(Alias::new(column.as_str()));
            }
            table.index(&mut index);
        }
    }
    manager.create_table(table).await
}

/// An emoji column (`VARCHAR(32)`) compares by its bytes on MySQL: the usual utf8mb4 collations treat
/// many different emoji as equal (👍 and 👍🏽 would be one reaction). Other backends compare bytes
/// already, and keep the column as given.
pub fn emoji_collation(backend: DbBackend, mut column: ColumnDef) -> ColumnDef {
    if backend == DbBackend::MySql {
        column.custom(Alias::new(
            "VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        ));
    }
    column
}

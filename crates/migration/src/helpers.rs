//! Small builders the migrations share, so every table spells constraints the same way.
use lms_core::db::Backend;
use sea_orm_migration::prelude::*;

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
/// An INVALID index left by an interrupted build is dropped by the runner before it migrates. Other
/// backends build the index as usual.
pub async fn create_indexes_concurrently(
    manager: &SchemaManager<'_>,
    indexes: Vec<IndexDef>,
) -> Result<(), DbErr> {
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

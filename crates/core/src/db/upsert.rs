//! Upserts that hand back the rows they wrote, on every backend. PostgreSQL and SQLite say
//! `RETURNING`; MySQL has no `RETURNING` for an upsert, so there the rows are read back with a
//! locking read in the same transaction (the upsert holds their locks until commit, so the read sees
//! exactly what this transaction wrote).
use sea_orm::sea_query::{
    Alias, DynIden, Expr, ExprTrait, InsertStatement, IntoIden, OnConflict, Query, SimpleExpr,
};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbErr, QueryResult, SqlErr, TryInsertResult, Value,
};

use super::Backend;

/// The value the upsert tried to insert into `column`, for `ON CONFLICT` / `ON DUPLICATE KEY`
/// expressions: `excluded.column`, or `VALUES(column)` on MySQL.
pub fn inserted(backend: Backend, column: impl IntoIden) -> SimpleExpr {
    let column = column.into_iden();
    match backend {
        Backend::MySql => Expr::cust(format!("VALUES(`{column}`)")),
        _ => Expr::col((Alias::new("excluded"), column)),
    }
}

/// Runs `upsert` (inside a transaction) and returns `columns` of the rows of `table` whose `key` is
/// one of `keys`: the rows it inserted or updated.
pub async fn upsert_returning(
    txn: &impl ConnectionTrait,
    mut upsert: InsertStatement,
    table: impl IntoIden,
    key: impl IntoIden,
    keys: Vec<Value>,
    columns: Vec<DynIden>,
) -> Result<Vec<QueryResult>, DbErr> {
    if !matches!(Backend::of(txn)?, Backend::MySql) {
        upsert.returning(Query::returning().columns(columns));
        return txn.query_all(&upsert).await;
    }
    txn.execute(&upsert).await?;
    let read = Query::select()
        .columns(columns)
        .from(table.into_iden())
        .and_where(Expr::col(key.into_iden()).is_in(keys))
        .lock_exclusive()
        .to_owned();
    txn.query_all(&read).await
}

/// Inserts the row unless a row with the same `unique` columns exists: whether it inserted. A
/// conflict is `ON CONFLICT DO NOTHING` on PostgreSQL and SQLite; on MySQL it is the duplicate-key
/// error, which InnoDB turns into a no-op of the statement alone (its emulations do not do: `INSERT
/// IGNORE` would also silence foreign-key and truncation errors, and `ON DUPLICATE KEY UPDATE k = k`
/// reports a found row as written).
pub async fn insert_if_absent<A, C, I>(
    db: &impl ConnectionTrait,
    insert: sea_orm::Insert<A>,
    unique: I,
) -> Result<bool, DbErr>
where
    A: ActiveModelTrait,
    C: IntoIden,
    I: IntoIterator<Item = C>,
{
    if matches!(Backend::of(db)?, Backend::MySql) {
        return match insert.exec_without_returning(db).await {
            Ok(n) => Ok(n == 1),
            Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                Ok(false)
            }
            Err(err) => Err(err),
        };
    }
    let inserted = insert
        .on_conflict(OnConflict::columns(unique).do_nothing().to_owned())
        .try_insert()
        .exec_without_returning(db)
        .await?;
    Ok(matches!(inserted, TryInsertResult::Inserted(1)))
}

//! Tracking tables: which named steps ran (migrations, seeders), with a checksum of what ran, how long
//! it took and, where kept, when and how many rows. The migration runner and the seeder share this one
//! implementation; each names its table and which optional columns it keeps.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Alias, ColumnDef, DeleteStatement, Expr, ExprTrait, InsertStatement, Query, SimpleExpr, Table,
};
use sea_orm::{ConnectionTrait, DbErr};
use sha2::{Digest, Sha256};

/// One step's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// SHA-256 (hex) of what defines the step (see [`Checksum`]).
    pub checksum: String,
    pub duration_ms: Option<i64>,
    /// Rows the step wrote (tables that keep them).
    pub rows: Option<i64>,
    /// When it ran (tables that keep it).
    pub ran_at: Option<DateTime<Utc>>,
}

/// The layout of one tracking table.
#[derive(Debug, Clone, Copy)]
pub struct TrackingTable {
    pub table: &'static str,
    /// The column naming the step (`version` for migrations, as SeaORM names them).
    pub name_column: &'static str,
    /// Longest name, when the column is bounded.
    pub name_len: Option<u32>,
    /// Keep `rows_inserted` and `ran_at` (migrations keep their time in SeaORM's own table).
    pub rows_and_time: bool,
}

const CHECKSUM: &str = "checksum";
const DURATION: &str = "duration_ms";
const ROWS: &str = "rows_inserted";
const RAN_AT: &str = "ran_at";

impl TrackingTable {
    fn columns(&self) -> Vec<&'static str> {
        let mut columns = vec![self.name_column, CHECKSUM, DURATION];
        if self.rows_and_time {
            columns.extend([ROWS, RAN_AT]);
        }
        columns
    }

    /// Creates the table if it does not exist.
    pub async fn ensure(&self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let mut name = ColumnDef::new(Alias::new(self.name_column));
        match self.name_len {
            Some(len) => name.string_len(len),
            None => name.string(),
        };
        name.not_null().primary_key();
        let mut create = Table::create();
        create
            .table(Alias::new(self.table))
            .if_not_exists()
            .col(name)
            .col(
                ColumnDef::new(Alias::new(CHECKSUM))
                    .string_len(64)
                    .not_null(),
            );
        if self.rows_and_time {
            create
                .col(ColumnDef::new(Alias::new(ROWS)).big_integer().not_null())
                .col(
                    ColumnDef::new(Alias::new(DURATION))
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Alias::new(RAN_AT))
                        .timestamp_with_time_zone()
                        .not_null(),
                );
        } else {
            create.col(ColumnDef::new(Alias::new(DURATION)).big_integer().null());
        }
        db.execute(&create.to_owned()).await?;
        Ok(())
    }

    /// Every row, in no particular order (creates the table first if needed).
    pub async fn entries(&self, db: &impl ConnectionTrait) -> Result<Vec<Entry>, DbErr> {
        self.ensure(db).await?;
        let select = Query::select()
            .columns(self.columns().into_iter().map(Alias::new))
            .from(Alias::new(self.table))
            .to_owned();
        let mut out = Vec::new();
        for row in db.query_all(&select).await? {
            let (rows, ran_at) = if self.rows_and_time {
                (row.try_get("", ROWS)?, row.try_get("", RAN_AT)?)
            } else {
                (None, None)
            };
            out.push(Entry {
                name: row.try_get("", self.name_column)?,
                checksum: row.try_get("", CHECKSUM)?,
                duration_ms: row.try_get("", DURATION)?,
                rows,
                ran_at,
            });
        }
        Ok(out)
    }

    /// The statement that records `entry` (run it in the step's own transaction where there is one).
    pub fn insert(&self, entry: &Entry) -> InsertStatement {
        let mut values: Vec<SimpleExpr> = vec![
            entry.name.clone().into(),
            entry.checksum.clone().into(),
            entry.duration_ms.into(),
        ];
        if self.rows_and_time {
            values.push(entry.rows.unwrap_or(0).into());
            values.push(entry.ran_at.unwrap_or_else(Utc::now).into());
        }
        Query::insert()
            .into_table(Alias::new(self.table))
            .columns(self.columns().into_iter().map(Alias::new))
            .values_panic(values)
            .to_owned()
    }

    /// The statement that forgets step `name`.
    pub fn delete(&self, name: &str) -> DeleteStatement {
        Query::delete()
            .from_table(Alias::new(self.table))
            .and_where(Expr::col(Alias::new(self.name_column)).eq(name))
            .to_owned()
    }

    /// The statement that forgets every step.
    pub fn delete_all(&self) -> DeleteStatement {
        Query::delete()
            .from_table(Alias::new(self.table))
            .to_owned()
    }

    /// Replaces the row of `entry.name` with `entry`.
    pub async fn record(&self, db: &impl ConnectionTrait, entry: &Entry) -> Result<(), DbErr> {
        db.execute(&self.delete(&entry.name)).await?;
        db.execute(&self.insert(entry)).await?;
        Ok(())
    }
}

/// SHA-256 over the parts that define a step, as lowercase hex.
#[derive(Default)]
pub struct Checksum(Sha256);

impl Checksum {
    pub fn update(&mut self, part: impl AsRef<[u8]>) -> &mut Self {
        self.0.update(part.as_ref());
        self
    }

    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

//! `access_signals`: how an access change (a session revoked, an account suspended, an enrollment
//! ended) reaches the other API instances where the database has no LISTEN/NOTIFY (MySQL/MariaDB).
//! Each change is a row; every instance reads the rows after the last one it saw, every few tens of
//! milliseconds, and forgets what it cached for that scope. Old rows are pruned by housekeeping.
//! PostgreSQL sends `NOTIFY lms_access` instead and SQLite serves one instance: the table stays empty
//! there.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{create_table, instant_default_now};
use crate::idents::AccessSignals;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(AccessSignals::Table)
                .col(big_pk_auto(AccessSignals::Id))
                // `<user id>` or `*` (everyone), as the PostgreSQL payload.
                .col(string_len(AccessSignals::Scope, 20))
                .col(instant_default_now(b, AccessSignals::CreatedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccessSignals::Table).to_owned())
            .await
    }
}

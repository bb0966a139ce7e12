//! Safe retries: a create request sent with an `Idempotency-Key` header is remembered here with its
//! fingerprint and, once answered, its response, so a retry (on any instance) gets the first answer
//! instead of creating again. Keyed by (caller, key); rows older than a day are deleted by
//! housekeeping (`idx_idempotency_keys_created_at`).
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{create_indexes, create_table, drop_indexes, index, instant};
use crate::idents::IdempotencyKeys;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn indexes() -> Vec<crate::helpers::IndexDef> {
    vec![index(
        IdempotencyKeys::Table,
        &[IdempotencyKeys::CreatedAt],
        false,
    )]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(string_len(IdempotencyKeys::Caller, 100))
                .col(string_len(IdempotencyKeys::Key, 255))
                .col(string_len(IdempotencyKeys::Fingerprint, 64))
                .col(small_integer_null(IdempotencyKeys::ResponseStatus))
                .col(string_len_null(IdempotencyKeys::ResponseContentType, 100))
                .col(text_null(IdempotencyKeys::ResponseBody))
                .col(instant(b, IdempotencyKeys::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(IdempotencyKeys::Caller)
                        .col(IdempotencyKeys::Key),
                )
                .to_owned(),
        )
        .await?;
        create_indexes(manager, indexes()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_indexes(manager, indexes()).await?;
        manager
            .drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await
    }
}

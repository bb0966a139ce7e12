//! `import_map`: what the importer (`importer run --from <legacy database>`) did with each row of the
//! legacy database: the row it created or merged into (`target_id`), or why it skipped it, and a
//! checksum of the source row, so that a later run imports only what is new or changed. One row per
//! legacy `(source_table, source_id)`, written in the same transaction as the rows it describes.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{create_table, instant};
use crate::idents::ImportMap;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(ImportMap::Table)
                // The legacy table (`users`, `courses`, `enrollments`, `chat_messages`) and its id.
                .col(string_len(ImportMap::SourceTable, 32))
                .col(big_integer(ImportMap::SourceId))
                // The row created, or merged into; null for a skipped row.
                .col(big_integer_null(ImportMap::TargetId))
                // `created`, `merged` or `skipped`.
                .col(string_len(ImportMap::Outcome, 16))
                .col(text_null(ImportMap::Reason))
                // SHA-256 (hex) of the source row as the importer read it.
                .col(string_len(ImportMap::Checksum, 64))
                .col(instant(b, ImportMap::ImportedAt))
                .col(instant(b, ImportMap::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(ImportMap::SourceTable)
                        .col(ImportMap::SourceId),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ImportMap::Table).to_owned())
            .await
    }
}

//! `chat_sequences.authors_version`: a history page shows its messages (every change to them bumps
//! `last_seq`) and their authors' names; renaming an author bumps this in every course they wrote in.
//! The pair is the version of the course's pages: the API revalidates cached pages and `ETag`s against
//! it with one primary-key read.
use sea_orm_migration::{prelude::*, schema::*};

use crate::idents::ChatSequences;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ChatSequences::Table)
                    .add_column(big_integer(ChatSequences::AuthorsVersion).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ChatSequences::Table)
                    .drop_column(ChatSequences::AuthorsVersion)
                    .to_owned(),
            )
            .await
    }
}

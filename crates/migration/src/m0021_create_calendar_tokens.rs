//! Each user's calendar-feed token (its SHA-256; the token itself is shown once): calendar apps
//! subscribe to `/courses/{id}/live-sessions.ics?token=...` without a sign-in. One per user: issuing a
//! new one replaces (revokes) the old.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{create_table, fk, instant_default_now};
use crate::idents::{CalendarTokens, Users};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(CalendarTokens::Table)
                .col(big_integer(CalendarTokens::UserId).primary_key())
                .col(string_len_uniq(CalendarTokens::TokenHash, 64))
                .col(instant_default_now(b, CalendarTokens::CreatedAt))
                .foreign_key(&mut fk(
                    CalendarTokens::Table,
                    CalendarTokens::UserId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CalendarTokens::Table).to_owned())
            .await
    }
}

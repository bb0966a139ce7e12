//! The course chat's change feed and edit history.
//!
//! - `chat_sequences`: one row per course holding the last sequence number handed out. A change takes
//!   the next number with `INSERT .. ON CONFLICT DO UPDATE .. RETURNING`, which locks the row until the
//!   change commits, so numbers are gapless and in commit order per course.
//! - `chat_events`: one row per change (message created, edited, deleted, pinned, unpinned, reaction
//!   added or removed), unique per (course, seq). It names the message and the actor; readers render the
//!   message as it is now, so a deleted message's content is gone from the feed too.
//! - `chat_message_edits`: the previous content of every edit, readable by the author and course staff;
//!   emptied when the message is deleted.
//!
//! Delete actions: everything CASCADEs from the course and the message (it belongs to them); `actor_id`
//! and `edited_by` are SET NULL so the feed outlives the accounts of whoever acted.
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{
    IndexDef, create_indexes, create_table, drop_indexes, emoji_collation, fk, index,
    instant_default_now, one_of,
};
use crate::idents::{ChatEvents, ChatMessageEdits, ChatMessages, ChatSequences, Courses, Users};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every kind of change the feed records.
pub const EVENT_KINDS: &[&str] = &[
    "message.created",
    "message.edited",
    "message.deleted",
    "message.pinned",
    "message.unpinned",
    "reaction.added",
    "reaction.removed",
];

/// The `chat_events` table as this migration creates it, under `name` with the given kinds allowed
/// (m0022 rebuilds it on SQLite, which cannot change a CHECK in place).
pub(crate) fn events_table(
    b: DbBackend,
    name: impl IntoIden,
    kinds: &[&str],
) -> TableCreateStatement {
    Table::create()
        .table(name)
        .col(big_pk_auto(ChatEvents::Id))
        .col(big_integer(ChatEvents::CourseId))
        .col(big_integer(ChatEvents::Seq))
        .col(string_len(ChatEvents::Kind, 32))
        .col(big_integer_null(ChatEvents::MessageId))
        .col(big_integer_null(ChatEvents::ActorId))
        .col(emoji_collation(b, string_len_null(ChatEvents::Emoji, 32)))
        .col(instant_default_now(b, ChatEvents::CreatedAt))
        .foreign_key(&mut fk(
            ChatEvents::Table,
            ChatEvents::CourseId,
            Courses::Table,
            Courses::Id,
            ForeignKeyAction::Cascade,
        ))
        .foreign_key(&mut fk(
            ChatEvents::Table,
            ChatEvents::MessageId,
            ChatMessages::Table,
            ChatMessages::Id,
            ForeignKeyAction::Cascade,
        ))
        .foreign_key(&mut fk(
            ChatEvents::Table,
            ChatEvents::ActorId,
            Users::Table,
            Users::Id,
            ForeignKeyAction::SetNull,
        ))
        .check(one_of("chat_events", ChatEvents::Kind, kinds))
        .to_owned()
}

/// The indexes of `chat_events` and `chat_message_edits`.
pub(crate) fn indexes() -> Vec<IndexDef> {
    vec![
        index(
            ChatEvents::Table,
            &[ChatEvents::CourseId, ChatEvents::Seq],
            true,
        ),
        index(ChatEvents::Table, &[ChatEvents::MessageId], false),
        index(
            ChatMessageEdits::Table,
            &[ChatMessageEdits::MessageId, ChatMessageEdits::Id],
            false,
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(ChatSequences::Table)
                .col(big_integer(ChatSequences::CourseId).primary_key())
                .col(big_integer(ChatSequences::LastSeq).default(0))
                .foreign_key(&mut fk(
                    ChatSequences::Table,
                    ChatSequences::CourseId,
                    Courses::Table,
                    Courses::Id,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        create_table(manager, events_table(b, ChatEvents::Table, EVENT_KINDS)).await?;
        create_table(
            manager,
            Table::create()
                .table(ChatMessageEdits::Table)
                .col(big_pk_auto(ChatMessageEdits::Id))
                .col(big_integer(ChatMessageEdits::MessageId))
                .col(text(ChatMessageEdits::Content))
                .col(big_integer_null(ChatMessageEdits::EditedBy))
                .col(instant_default_now(b, ChatMessageEdits::EditedAt))
                .foreign_key(&mut fk(
                    ChatMessageEdits::Table,
                    ChatMessageEdits::MessageId,
                    ChatMessages::Table,
                    ChatMessages::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    ChatMessageEdits::Table,
                    ChatMessageEdits::EditedBy,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;
        create_indexes(manager, indexes()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_indexes(manager, indexes()).await?;
        for table in [
            ChatMessageEdits::Table.into_iden(),
            ChatEvents::Table.into_iden(),
            ChatSequences::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

//! Course chat: messages (with reply threads, edits, soft deletion and pins) and their reactions.
//!
//! Delete actions, and why:
//! - `course_id` CASCADE: the chat belongs to the course; a course that can be deleted (a draft with no
//!   enrollments) takes its chat with it.
//! - `parent_id` CASCADE: replies belong to their thread. Moderation soft-deletes (`deleted_at`), so a
//!   hard delete only happens when the whole course goes.
//! - `user_id` (author), `deleted_by`, `pinned_by` SET NULL: erasing an account must not tear holes in
//!   other people's threads; the messages stay, attributed to a deleted user.
//!
//! Reactions are a child table (one row per message, user and emoji) rather than a JSON column, so
//! adding one is an idempotent insert and "did I react" is an index lookup.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{
    check, create_table, emoji_collation, fk, instant_default_now, instant_null, one_of,
};
use crate::idents::{ChatMessageReactions, ChatMessages, Courses, Users};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(ChatMessages::Table)
                .col(big_pk_auto(ChatMessages::Id))
                .col(big_integer(ChatMessages::CourseId))
                .col(big_integer_null(ChatMessages::UserId))
                .col(big_integer_null(ChatMessages::ParentId))
                .col(string_len(ChatMessages::MessageType, 16).default("text"))
                .col(text(ChatMessages::Content))
                .col(instant_null(b, ChatMessages::EditedAt))
                .col(integer(ChatMessages::EditCount).default(0))
                .col(instant_null(b, ChatMessages::DeletedAt))
                .col(big_integer_null(ChatMessages::DeletedBy))
                .col(instant_null(b, ChatMessages::PinnedAt))
                .col(big_integer_null(ChatMessages::PinnedBy))
                .col(json_binary(ChatMessages::Metadata).default("{}"))
                .col(instant_default_now(b, ChatMessages::CreatedAt))
                .col(instant_default_now(b, ChatMessages::UpdatedAt))
                .foreign_key(&mut fk(
                    ChatMessages::Table,
                    ChatMessages::CourseId,
                    Courses::Table,
                    Courses::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    ChatMessages::Table,
                    ChatMessages::UserId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::SetNull,
                ))
                .foreign_key(&mut fk(
                    ChatMessages::Table,
                    ChatMessages::ParentId,
                    ChatMessages::Table,
                    ChatMessages::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    ChatMessages::Table,
                    ChatMessages::DeletedBy,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::SetNull,
                ))
                .foreign_key(&mut fk(
                    ChatMessages::Table,
                    ChatMessages::PinnedBy,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::SetNull,
                ))
                .check(one_of(
                    "chat_messages",
                    ChatMessages::MessageType,
                    &["text", "question", "answer", "announcement", "system"],
                ))
                .check(check(
                    "ck_chat_messages_edit_count",
                    Expr::col(ChatMessages::EditCount).gte(0),
                ))
                .to_owned(),
        )
        .await?;

        create_table(
            manager,
            Table::create()
                .table(ChatMessageReactions::Table)
                .col(big_integer(ChatMessageReactions::MessageId))
                .col(big_integer(ChatMessageReactions::UserId))
                .col(emoji_collation(
                    b,
                    string_len(ChatMessageReactions::Emoji, 32),
                ))
                .col(instant_default_now(b, ChatMessageReactions::CreatedAt))
                .primary_key(
                    Index::create()
                        .name("pk_chat_message_reactions")
                        .col(ChatMessageReactions::MessageId)
                        .col(ChatMessageReactions::UserId)
                        .col(ChatMessageReactions::Emoji),
                )
                .foreign_key(&mut fk(
                    ChatMessageReactions::Table,
                    ChatMessageReactions::MessageId,
                    ChatMessages::Table,
                    ChatMessages::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    ChatMessageReactions::Table,
                    ChatMessageReactions::UserId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Cascade,
                ))
                .check(check(
                    "ck_chat_message_reactions_emoji",
                    Expr::cust("length(emoji) >= 1"),
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ChatMessageReactions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ChatMessages::Table).to_owned())
            .await
    }
}

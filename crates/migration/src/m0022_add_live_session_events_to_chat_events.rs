//! Live-session status changes in the course's change feed: `chat_events` gains the kinds
//! `live_session.scheduled`, `.started`, `.ended`, `.cancelled` and `.rescheduled`, and a
//! `live_session_id` naming the session (SET NULL if the session row goes, so the feed stays gapless).
//! No index on it: nothing looks events up by session, and sessions go only with their course, whose
//! events CASCADE anyway.
//!
//! PostgreSQL changes the table in place (the CHECK is dropped and added again with the longer list;
//! the new column is NULL everywhere, so the foreign key validates at once). SQLite cannot change a
//! CHECK: it builds the new table, copies every row, drops the old one and renames, then recreates its
//! indexes, all inside the migration's transaction. `down` forgets the live-session events (the old
//! CHECK cannot hold them) and restores the table of m0011.
use sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{create_indexes, create_table, fk};
use crate::idents::{ChatEvents, LiveSessions};
use crate::m0011_create_chat_events_and_edits::{EVENT_KINDS, events_table, indexes};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The kinds this migration adds.
pub const LIVE_EVENT_KINDS: &[&str] = &[
    "live_session.scheduled",
    "live_session.started",
    "live_session.ended",
    "live_session.cancelled",
    "live_session.rescheduled",
];

/// Where SQLite builds the table before it takes the old one's name.
const NEXT: &str = "chat_events_next";

/// The columns both shapes share, in m0011's order.
const COLUMNS: &str = "id, course_id, seq, kind, message_id, actor_id, emoji, created_at";

fn all_kinds() -> Vec<&'static str> {
    EVENT_KINDS
        .iter()
        .chain(LIVE_EVENT_KINDS)
        .copied()
        .collect()
}

fn in_list(kinds: &[&str]) -> String {
    kinds
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A portable statement that deletes the live-session events (before `down`).
fn forget_live_events() -> String {
    format!(
        "DELETE FROM chat_events WHERE kind IN ({})",
        in_list(LIVE_EVENT_KINDS)
    )
}

/// SQLite: rebuilds `chat_events` with `kinds` allowed, with or without the session column, keeping
/// every row and the indexes.
async fn rebuild(manager: &SchemaManager<'_>, kinds: &[&str], live: bool) -> Result<(), DbErr> {
    let mut table = events_table(manager.get_database_backend(), Alias::new(NEXT), kinds);
    if live {
        table
            .col(big_integer_null(ChatEvents::LiveSessionId))
            .foreign_key(&mut fk(
                ChatEvents::Table,
                ChatEvents::LiveSessionId,
                LiveSessions::Table,
                LiveSessions::Id,
                ForeignKeyAction::SetNull,
            ));
    }
    create_table(manager, table).await?;
    let db = manager.get_connection();
    db.execute_unprepared(&format!(
        "INSERT INTO {NEXT} ({COLUMNS}) SELECT {COLUMNS} FROM chat_events"
    ))
    .await?;
    db.execute_unprepared("DROP TABLE chat_events").await?;
    db.execute_unprepared(&format!("ALTER TABLE {NEXT} RENAME TO chat_events"))
        .await?;
    let own = indexes()
        .into_iter()
        .filter(|i| i.table.to_string() == "chat_events")
        .collect();
    create_indexes(manager, own).await
}

/// PostgreSQL and MySQL: the CHECK replaced in place.
async fn replace_check(manager: &SchemaManager<'_>, kinds: &[&str]) -> Result<(), DbErr> {
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "ALTER TABLE chat_events DROP CONSTRAINT ck_chat_events_kind, \
             ADD CONSTRAINT ck_chat_events_kind CHECK (kind IN ({}))",
            in_list(kinds)
        ))
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on every backend (SeaORM's own runner would not open one on SQLite): the
    /// rebuild must not be seen half-done.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Sqlite {
            return rebuild(manager, &all_kinds(), true).await;
        }
        replace_check(manager, &all_kinds()).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ChatEvents::Table)
                    .add_column(big_integer_null(ChatEvents::LiveSessionId))
                    .add_foreign_key(
                        TableForeignKey::new()
                            .name("fk_chat_events_live_session_id")
                            .from_tbl(ChatEvents::Table)
                            .from_col(ChatEvents::LiveSessionId)
                            .to_tbl(LiveSessions::Table)
                            .to_col(LiveSessions::Id)
                            .on_delete(ForeignKeyAction::SetNull)
                            .on_update(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(&forget_live_events())
            .await?;
        if manager.get_database_backend() == DbBackend::Sqlite {
            return rebuild(manager, EVENT_KINDS, false).await;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(ChatEvents::Table)
                    .drop_foreign_key(Alias::new("fk_chat_events_live_session_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ChatEvents::Table)
                    .drop_column(ChatEvents::LiveSessionId)
                    .to_owned(),
            )
            .await?;
        replace_check(manager, EVENT_KINDS).await
    }
}

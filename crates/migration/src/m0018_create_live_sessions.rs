//! Live sessions: scheduled video lessons of a course (optionally one of its lessons, of kind `live`),
//! with a join window (`join_early_minutes` before the start to `join_late_minutes` after the scheduled
//! end), a status (`scheduled -> live -> ended`, `scheduled -> cancelled`), a unique unguessable room
//! for the video service, and settings. The instructor is the course's instructor (`created_by` keeps
//! who scheduled it). `reminder_sent_at` makes the reminder email go out once across instances.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{check, create_table, fk, instant, instant_default_now, instant_null, one_of};
use crate::idents::{Courses, Lessons, LiveSessions, Users};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(LiveSessions::Table)
                .col(big_pk_auto(LiveSessions::Id))
                .col(big_integer(LiveSessions::CourseId))
                .col(big_integer_null(LiveSessions::LessonId))
                .col(string_len(LiveSessions::Title, 200))
                .col(text_null(LiveSessions::Description))
                .col(instant(b, LiveSessions::StartsAt))
                .col(integer(LiveSessions::DurationMinutes))
                .col(integer(LiveSessions::JoinEarlyMinutes).default(10))
                .col(integer(LiveSessions::JoinLateMinutes).default(10))
                .col(string_len(LiveSessions::Status, 10).default("scheduled"))
                .col(string_len_uniq(LiveSessions::RoomId, 64))
                .col(boolean(LiveSessions::RecordingEnabled).default(false))
                .col(boolean(LiveSessions::ChatEnabled).default(true))
                .col(boolean(LiveSessions::ScreenShareEnabled).default(true))
                .col(integer_null(LiveSessions::MaxParticipants))
                .col(small_integer(LiveSessions::AttendanceThresholdPercent).default(75))
                .col(instant_null(b, LiveSessions::StartedAt))
                .col(instant_null(b, LiveSessions::EndedAt))
                .col(instant_null(b, LiveSessions::CancelledAt))
                .col(instant_null(b, LiveSessions::ReminderSentAt))
                .col(big_integer_null(LiveSessions::CreatedBy))
                .col(instant_default_now(b, LiveSessions::CreatedAt))
                .col(instant_default_now(b, LiveSessions::UpdatedAt))
                .foreign_key(&mut fk(
                    LiveSessions::Table,
                    LiveSessions::CourseId,
                    Courses::Table,
                    Courses::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    LiveSessions::Table,
                    LiveSessions::LessonId,
                    Lessons::Table,
                    Lessons::Id,
                    ForeignKeyAction::SetNull,
                ))
                .foreign_key(&mut fk(
                    LiveSessions::Table,
                    LiveSessions::CreatedBy,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::SetNull,
                ))
                .check(one_of(
                    "live_sessions",
                    LiveSessions::Status,
                    &["scheduled", "live", "ended", "cancelled"],
                ))
                .check(check(
                    "ck_live_sessions_duration",
                    Expr::col(LiveSessions::DurationMinutes)
                        .gt(0)
                        .and(Expr::col(LiveSessions::DurationMinutes).lte(720)),
                ))
                .check(check(
                    "ck_live_sessions_buffers",
                    Expr::col(LiveSessions::JoinEarlyMinutes)
                        .gte(0)
                        .and(Expr::col(LiveSessions::JoinLateMinutes).gte(0)),
                ))
                .check(check(
                    "ck_live_sessions_max_participants",
                    Expr::col(LiveSessions::MaxParticipants).gt(0),
                ))
                .check(check(
                    "ck_live_sessions_threshold",
                    Expr::col(LiveSessions::AttendanceThresholdPercent)
                        .gte(0)
                        .and(Expr::col(LiveSessions::AttendanceThresholdPercent).lte(100)),
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LiveSessions::Table).to_owned())
            .await
    }
}

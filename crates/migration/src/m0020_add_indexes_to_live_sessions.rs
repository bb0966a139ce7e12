//! Live sessions' lookups: sessions by status and time (what is live, what starts soon: reminders),
//! a course's sessions in time order, attendance by user and session, a session's attendance.
use sea_orm_migration::prelude::*;

use crate::helpers::{IndexDef, create_indexes_concurrently, drop_indexes_concurrently, index};
use crate::idents::{LiveSessionAttendance, LiveSessions};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn indexes() -> Vec<IndexDef> {
    vec![
        index(
            LiveSessions::Table,
            &[LiveSessions::Status, LiveSessions::StartsAt],
            false,
        ),
        index(
            LiveSessions::Table,
            &[LiveSessions::CourseId, LiveSessions::StartsAt],
            false,
        ),
        index(
            LiveSessionAttendance::Table,
            &[
                LiveSessionAttendance::UserId,
                LiveSessionAttendance::SessionId,
            ],
            false,
        ),
        index(
            LiveSessionAttendance::Table,
            &[
                LiveSessionAttendance::SessionId,
                LiveSessionAttendance::LeftAt,
            ],
            false,
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// `CREATE INDEX CONCURRENTLY` cannot run inside a transaction (PostgreSQL).
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_indexes_concurrently(manager, indexes()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_indexes_concurrently(manager, indexes()).await
    }
}

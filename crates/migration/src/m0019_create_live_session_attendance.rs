//! Attendance as intervals: one row per join .. leave of a participant (a rejoin is a new row, so no
//! time is lost; overlapping intervals are merged when durations are computed). An interval nobody
//! closes ends at its last heartbeat plus a grace period. `is_moderator`: course staff.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{create_table, fk, instant, instant_null};
use crate::idents::{LiveSessionAttendance, LiveSessions, Users};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(LiveSessionAttendance::Table)
                .col(big_pk_auto(LiveSessionAttendance::Id))
                .col(big_integer(LiveSessionAttendance::SessionId))
                .col(big_integer(LiveSessionAttendance::UserId))
                .col(instant(b, LiveSessionAttendance::JoinedAt))
                .col(instant(b, LiveSessionAttendance::LastHeartbeatAt))
                .col(instant_null(b, LiveSessionAttendance::LeftAt))
                .col(boolean(LiveSessionAttendance::IsModerator).default(false))
                .foreign_key(&mut fk(
                    LiveSessionAttendance::Table,
                    LiveSessionAttendance::SessionId,
                    LiveSessions::Table,
                    LiveSessions::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    LiveSessionAttendance::Table,
                    LiveSessionAttendance::UserId,
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
            .drop_table(Table::drop().table(LiveSessionAttendance::Table).to_owned())
            .await
    }
}

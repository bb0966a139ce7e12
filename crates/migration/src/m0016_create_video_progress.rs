//! How much of a video lesson each enrollment has watched: the covered intervals (JSON array of
//! `[start, end]` seconds, merged), their total, and the last reported position, from which the next
//! report's span is measured.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{check, create_table, fk, instant_default_now};
use crate::idents::{Enrollments, Lessons, VideoProgress};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(VideoProgress::Table)
                .col(big_integer(VideoProgress::EnrollmentId))
                .col(big_integer(VideoProgress::LessonId))
                .col(integer(VideoProgress::LastPositionSeconds))
                .col(integer(VideoProgress::CoveredSeconds).default(0))
                .col(text(VideoProgress::Intervals))
                .col(instant_default_now(b, VideoProgress::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(VideoProgress::EnrollmentId)
                        .col(VideoProgress::LessonId),
                )
                .foreign_key(&mut fk(
                    VideoProgress::Table,
                    VideoProgress::EnrollmentId,
                    Enrollments::Table,
                    Enrollments::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    VideoProgress::Table,
                    VideoProgress::LessonId,
                    Lessons::Table,
                    Lessons::Id,
                    ForeignKeyAction::Cascade,
                ))
                .check(check(
                    "ck_video_progress_seconds",
                    Expr::col(VideoProgress::LastPositionSeconds)
                        .gte(0)
                        .and(Expr::col(VideoProgress::CoveredSeconds).gte(0)),
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(VideoProgress::Table).to_owned())
            .await
    }
}

//! Lessons: ordered within their section (dense `position`), of a kind: `text` (Markdown `body`),
//! `video` (`url`, `duration_seconds`), `link` (`url`), `live` (a live session of the course, which
//! refers to its lesson). `course_id` is the section's course, kept on the lesson so a course's
//! lessons are one index lookup. A deleted lesson keeps its row (`deleted_at`) so the completions
//! students earned stay in their history.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{check, create_table, fk, instant_default_now, instant_null, one_of};
use crate::idents::{CourseSections, Courses, Lessons};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(Lessons::Table)
                .col(big_pk_auto(Lessons::Id))
                .col(big_integer(Lessons::CourseId))
                .col(big_integer(Lessons::SectionId))
                .col(integer(Lessons::Position))
                .col(string_len(Lessons::Kind, 10))
                .col(string_len(Lessons::Title, 200))
                .col(text_null(Lessons::Body))
                .col(string_len_null(Lessons::Url, 2048))
                .col(integer_null(Lessons::DurationSeconds))
                .col(integer(Lessons::EstimatedMinutes).default(0))
                .col(boolean(Lessons::Required).default(true))
                .col(boolean(Lessons::Published).default(false))
                .col(boolean(Lessons::Preview).default(false))
                .col(instant_default_now(b, Lessons::CreatedAt))
                .col(instant_default_now(b, Lessons::UpdatedAt))
                .col(instant_null(b, Lessons::DeletedAt))
                .foreign_key(&mut fk(
                    Lessons::Table,
                    Lessons::CourseId,
                    Courses::Table,
                    Courses::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    Lessons::Table,
                    Lessons::SectionId,
                    CourseSections::Table,
                    CourseSections::Id,
                    ForeignKeyAction::Cascade,
                ))
                .check(one_of(
                    "lessons",
                    Lessons::Kind,
                    &["text", "video", "link", "live"],
                ))
                .check(check(
                    "ck_lessons_position",
                    Expr::col(Lessons::Position).gte(0),
                ))
                .check(check(
                    "ck_lessons_duration_seconds",
                    Expr::col(Lessons::DurationSeconds).gt(0),
                ))
                .check(check(
                    "ck_lessons_estimated_minutes",
                    Expr::col(Lessons::EstimatedMinutes).gte(0),
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Lessons::Table).to_owned())
            .await
    }
}

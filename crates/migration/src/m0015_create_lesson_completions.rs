//! Which lessons each enrollment completed, when, and how (`student`: marked done; `video`: watched
//! 90%; `live`: attended the session). One row per enrollment and lesson: completing twice is a no-op.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{create_table, fk, instant_default_now, one_of};
use crate::idents::{Enrollments, LessonCompletions, Lessons};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(LessonCompletions::Table)
                .col(big_integer(LessonCompletions::EnrollmentId))
                .col(big_integer(LessonCompletions::LessonId))
                .col(string_len(LessonCompletions::Via, 10))
                .col(instant_default_now(b, LessonCompletions::CompletedAt))
                .primary_key(
                    Index::create()
                        .col(LessonCompletions::EnrollmentId)
                        .col(LessonCompletions::LessonId),
                )
                .foreign_key(&mut fk(
                    LessonCompletions::Table,
                    LessonCompletions::EnrollmentId,
                    Enrollments::Table,
                    Enrollments::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    LessonCompletions::Table,
                    LessonCompletions::LessonId,
                    Lessons::Table,
                    Lessons::Id,
                    ForeignKeyAction::Cascade,
                ))
                .check(one_of(
                    "lesson_completions",
                    LessonCompletions::Via,
                    &["student", "video", "live"],
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LessonCompletions::Table).to_owned())
            .await
    }
}

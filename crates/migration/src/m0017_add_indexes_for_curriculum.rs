//! The curriculum's lookups: a course's sections in order, a section's lessons in order, a course's
//! lessons (the outline, progress), and a lesson's completions (recomputing progress when it changes).
use sea_orm_migration::prelude::*;

use crate::helpers::{IndexDef, create_indexes_concurrently, drop_indexes_concurrently, index};
use crate::idents::{CourseSections, LessonCompletions, Lessons};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn indexes() -> Vec<IndexDef> {
    vec![
        index(
            CourseSections::Table,
            &[CourseSections::CourseId, CourseSections::Position],
            false,
        ),
        index(
            Lessons::Table,
            &[Lessons::SectionId, Lessons::Position],
            false,
        ),
        index(Lessons::Table, &[Lessons::CourseId], false),
        index(
            LessonCompletions::Table,
            &[LessonCompletions::LessonId],
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

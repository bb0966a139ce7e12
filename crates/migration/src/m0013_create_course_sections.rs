//! A course's curriculum is ordered sections of ordered lessons. `position` is dense (0, 1, 2, ...)
//! within a course: every reorder renumbers the course's sections under the course row's lock.
//! Deleting a course deletes its sections (CASCADE).
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{check, create_table, fk, instant_default_now};
use crate::idents::{CourseSections, Courses};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(CourseSections::Table)
                .col(big_pk_auto(CourseSections::Id))
                .col(big_integer(CourseSections::CourseId))
                .col(integer(CourseSections::Position))
                .col(string_len(CourseSections::Title, 200))
                .col(instant_default_now(b, CourseSections::CreatedAt))
                .col(instant_default_now(b, CourseSections::UpdatedAt))
                .foreign_key(&mut fk(
                    CourseSections::Table,
                    CourseSections::CourseId,
                    Courses::Table,
                    Courses::Id,
                    ForeignKeyAction::Cascade,
                ))
                .check(check(
                    "ck_course_sections_position",
                    Expr::col(CourseSections::Position).gte(0),
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CourseSections::Table).to_owned())
            .await
    }
}

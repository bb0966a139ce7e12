//! Courses. Money is integer minor units (cents) plus an ISO 4217 code: never floating point.
//! The rating average is derived from `rating_sum / rating_count`, which are the exact figures;
//! it is stored only so the catalog can sort and index on it.
//!
//! `instructor_id` is ON DELETE RESTRICT: deleting a user who teaches would otherwise take the course,
//! and through it the students' enrollments and payment history, with it. Suspend the instructor or
//! hand the course over instead.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{check, create_table, fk, instant_default_now, instant_null, one_of};
use crate::idents::{Courses, Users};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(Courses::Table)
                .col(big_pk_auto(Courses::Id))
                .col(big_integer(Courses::InstructorId))
                .col(string_len(Courses::Title, 200))
                .col(string_len(Courses::Slug, 200))
                .col(string_len_null(Courses::ShortDescription, 500))
                .col(text_null(Courses::Description))
                .col(string_len_null(Courses::Category, 100))
                .col(string_len(Courses::Level, 16).default("all_levels"))
                .col(string_len(Courses::Language, 16).default("en"))
                .col(big_integer(Courses::PriceCents).default(0))
                .col(string_len(Courses::Currency, 3).default("USD"))
                .col(big_integer_null(Courses::DiscountPriceCents))
                .col(instant_null(b, Courses::DiscountEndsAt))
                .col(string_len(Courses::Status, 16).default("draft"))
                .col(string_len(Courses::Visibility, 16).default("public"))
                .col(boolean(Courses::IsFeatured).default(false))
                .col(double(Courses::RatingAverage).default(0.0))
                .col(big_integer(Courses::RatingSum).default(0))
                .col(integer(Courses::RatingCount).default(0))
                .col(integer(Courses::StudentCount).default(0))
                .col(integer(Courses::DurationMinutes).default(0))
                .col(instant_null(b, Courses::PublishedAt))
                .col(string_len_null(Courses::ThumbnailUrl, 2048))
                .col(json_binary(Courses::Metadata).default("{}"))
                .col(instant_default_now(b, Courses::CreatedAt))
                .col(instant_default_now(b, Courses::UpdatedAt))
                .foreign_key(&mut fk(
                    Courses::Table,
                    Courses::InstructorId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Restrict,
                ))
                .check(one_of(
                    "courses",
                    Courses::Level,
                    &["beginner", "intermediate", "advanced", "all_levels"],
                ))
                .check(one_of(
                    "courses",
                    Courses::Status,
                    &["draft", "published", "archived"],
                ))
                .check(one_of(
                    "courses",
                    Courses::Visibility,
                    &["public", "unlisted", "private"],
                ))
                .check(check(
                    "ck_courses_price_cents",
                    Expr::col(Courses::PriceCents).gte(0),
                ))
                .check(check(
                    "ck_courses_discount_price_cents",
                    Expr::col(Courses::DiscountPriceCents).gte(0).and(
                        Expr::col(Courses::DiscountPriceCents).lt(Expr::col(Courses::PriceCents)),
                    ),
                ))
                .check(check(
                    "ck_courses_currency",
                    Expr::cust("length(currency) = 3"),
                ))
                .check(check(
                    "ck_courses_rating",
                    Expr::col(Courses::RatingCount)
                        .gte(0)
                        .and(Expr::col(Courses::RatingSum).gte(0))
                        .and(Expr::col(Courses::RatingAverage).between(0.0, 5.0)),
                ))
                .check(check(
                    "ck_courses_counts",
                    Expr::col(Courses::StudentCount)
                        .gte(0)
                        .and(Expr::col(Courses::DurationMinutes).gte(0)),
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Courses::Table).to_owned())
            .await
    }
}

//! Enrollments: one row per student and course, carrying payment, progress, certificate and review.
//!
//! `user_id` is ON DELETE CASCADE: the enrollment belongs to the student, and erasing an account erases
//! its enrollments. `course_id` is ON DELETE RESTRICT: a course with enrollments holds payment history
//! and certificates that must stay verifiable, so it is archived, never deleted.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{check, create_table, fk, instant_default_now, instant_null, one_of};
use crate::idents::{Courses, Enrollments, Users};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(Enrollments::Table)
                .col(big_pk_auto(Enrollments::Id))
                .col(big_integer(Enrollments::UserId))
                .col(big_integer(Enrollments::CourseId))
                .col(string_len(Enrollments::Status, 20).default("pending_payment"))
                .col(big_integer(Enrollments::AmountCents).default(0))
                .col(string_len(Enrollments::Currency, 3).default("USD"))
                .col(string_len_null(Enrollments::PaymentMethod, 20))
                .col(string_len(Enrollments::PaymentStatus, 16).default("none"))
                .col(string_len_null(Enrollments::PaymentReference, 255))
                .col(instant_null(b, Enrollments::PaidAt))
                .col(small_integer(Enrollments::ProgressPercent).default(0))
                .col(instant_null(b, Enrollments::LastAccessedAt))
                .col(instant_null(b, Enrollments::CompletedAt))
                .col(string_len_null(Enrollments::CertificateCode, 64))
                .col(instant_null(b, Enrollments::CertificateIssuedAt))
                .col(small_integer_null(Enrollments::Rating))
                .col(text_null(Enrollments::ReviewComment))
                .col(instant_null(b, Enrollments::ReviewedAt))
                .col(instant_default_now(b, Enrollments::EnrolledAt))
                .col(instant_default_now(b, Enrollments::CreatedAt))
                .col(instant_default_now(b, Enrollments::UpdatedAt))
                .foreign_key(&mut fk(
                    Enrollments::Table,
                    Enrollments::UserId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    Enrollments::Table,
                    Enrollments::CourseId,
                    Courses::Table,
                    Courses::Id,
                    ForeignKeyAction::Restrict,
                ))
                .check(one_of(
                    "enrollments",
                    Enrollments::Status,
                    &[
                        "pending_payment",
                        "active",
                        "completed",
                        "cancelled",
                        "refunded",
                    ],
                ))
                .check(one_of(
                    "enrollments",
                    Enrollments::PaymentMethod,
                    &["free", "card", "paypal", "bank_transfer", "voucher"],
                ))
                .check(one_of(
                    "enrollments",
                    Enrollments::PaymentStatus,
                    &["none", "pending", "paid", "failed", "refunded"],
                ))
                .check(check(
                    "ck_enrollments_amount_cents",
                    Expr::col(Enrollments::AmountCents).gte(0),
                ))
                .check(check(
                    "ck_enrollments_currency",
                    Expr::cust("length(currency) = 3"),
                ))
                .check(check(
                    "ck_enrollments_progress_percent",
                    Expr::col(Enrollments::ProgressPercent).between(0, 100),
                ))
                .check(check(
                    "ck_enrollments_rating",
                    Expr::col(Enrollments::Rating).between(1, 5),
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Enrollments::Table).to_owned())
            .await
    }
}

//! The audit trail of enrollments (every status transition, with who and when) and the log of payment
//! provider webhooks, whose unique provider event id makes a delivery apply at most once.
//!
//! `enrollment_events.enrollment_id` CASCADE: the trail belongs to its enrollment. `actor_id` SET NULL:
//! the trail outlives the account of whoever acted. `payment_events.enrollment_id` SET NULL: the log of
//! what the provider sent is kept even if the enrollment goes.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{
    create_indexes, create_table, drop_indexes, fk, index, instant_default_now, one_of,
};
use crate::idents::{EnrollmentEvents, Enrollments, PaymentEvents, Users};

#[derive(DeriveMigrationName)]
pub struct Migration;

const STATUSES: &[&str] = &[
    "pending_payment",
    "active",
    "completed",
    "cancelled",
    "refunded",
];

fn indexes() -> Vec<crate::helpers::IndexDef> {
    vec![
        index(
            EnrollmentEvents::Table,
            &[EnrollmentEvents::EnrollmentId, EnrollmentEvents::Id],
            false,
        ),
        index(
            PaymentEvents::Table,
            &[PaymentEvents::ProviderEventId],
            true,
        ),
        index(
            PaymentEvents::Table,
            &[PaymentEvents::PaymentReference],
            false,
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(EnrollmentEvents::Table)
                .col(big_pk_auto(EnrollmentEvents::Id))
                .col(big_integer(EnrollmentEvents::EnrollmentId))
                .col(string_len_null(EnrollmentEvents::FromStatus, 20))
                .col(string_len(EnrollmentEvents::ToStatus, 20))
                .col(big_integer_null(EnrollmentEvents::ActorId))
                .col(string_len(EnrollmentEvents::ActorKind, 20))
                .col(string_len_null(EnrollmentEvents::Note, 500))
                .col(instant_default_now(b, EnrollmentEvents::CreatedAt))
                .foreign_key(&mut fk(
                    EnrollmentEvents::Table,
                    EnrollmentEvents::EnrollmentId,
                    Enrollments::Table,
                    Enrollments::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    EnrollmentEvents::Table,
                    EnrollmentEvents::ActorId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::SetNull,
                ))
                .check(one_of(
                    "enrollment_events",
                    EnrollmentEvents::FromStatus,
                    STATUSES,
                ))
                .check(one_of(
                    "enrollment_events",
                    EnrollmentEvents::ToStatus,
                    STATUSES,
                ))
                .check(one_of(
                    "enrollment_events",
                    EnrollmentEvents::ActorKind,
                    &["user", "payment_provider", "system"],
                ))
                .to_owned(),
        )
        .await?;
        create_table(
            manager,
            Table::create()
                .table(PaymentEvents::Table)
                .col(big_pk_auto(PaymentEvents::Id))
                .col(string_len(PaymentEvents::ProviderEventId, 255))
                .col(string_len(PaymentEvents::EventType, 64))
                .col(string_len_null(PaymentEvents::PaymentReference, 255))
                .col(big_integer_null(PaymentEvents::EnrollmentId))
                .col(string_len(PaymentEvents::Outcome, 16))
                .col(text_null(PaymentEvents::Detail))
                .col(instant_default_now(b, PaymentEvents::ReceivedAt))
                .foreign_key(&mut fk(
                    PaymentEvents::Table,
                    PaymentEvents::EnrollmentId,
                    Enrollments::Table,
                    Enrollments::Id,
                    ForeignKeyAction::SetNull,
                ))
                .check(one_of(
                    "payment_events",
                    PaymentEvents::Outcome,
                    &["applied", "ignored", "rejected"],
                ))
                .to_owned(),
        )
        .await?;
        create_indexes(manager, indexes()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_indexes(manager, indexes()).await?;
        manager
            .drop_table(Table::drop().table(PaymentEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(EnrollmentEvents::Table).to_owned())
            .await
    }
}

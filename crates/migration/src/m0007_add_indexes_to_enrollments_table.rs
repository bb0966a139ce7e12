//! Enrollments: one per student and course (enforced here, not by a check-then-insert), unique certificate codes and payment references, and the roster and "my courses" lookups.
use sea_orm_migration::prelude::*;

use crate::helpers::{IndexDef, create_indexes_concurrently, drop_indexes_concurrently, index};
use crate::idents::Enrollments;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn indexes() -> Vec<IndexDef> {
    use Enrollments as E;
    vec![
        index(E::Table, &[E::UserId, E::CourseId], true),
        index(E::Table, &[E::CertificateCode], true),
        index(E::Table, &[E::PaymentReference], true),
        index(E::Table, &[E::CourseId, E::Status], false),
        index(E::Table, &[E::UserId, E::Status], false),
        index(E::Table, &[E::Status], false),
        index(E::Table, &[E::ProgressPercent], false),
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

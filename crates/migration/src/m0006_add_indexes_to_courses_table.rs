//! Courses: unique slug, and the catalog's filters and sort orders (each sort is on published courses).
use sea_orm_migration::prelude::*;

use crate::helpers::{IndexDef, create_indexes_concurrently, drop_indexes_concurrently, index};
use crate::idents::Courses;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn indexes() -> Vec<IndexDef> {
    use Courses as C;
    vec![
        index(C::Table, &[C::Slug], true),
        index(C::Table, &[C::InstructorId], false),
        index(C::Table, &[C::Category], false),
        index(C::Table, &[C::Status, C::RatingAverage], false),
        index(C::Table, &[C::Status, C::PublishedAt], false),
        index(C::Table, &[C::Status, C::StudentCount], false),
        index(C::Table, &[C::Status, C::PriceCents], false),
        index(C::Table, &[C::IsFeatured, C::Status], false),
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

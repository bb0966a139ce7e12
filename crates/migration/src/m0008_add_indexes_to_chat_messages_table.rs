//! Chat: history per course by id (keyset paging), reply threads, pinned messages per course, and the author and reaction lookups that deleting a user needs.
use sea_orm_migration::prelude::*;

use crate::helpers::{IndexDef, create_indexes_concurrently, drop_indexes_concurrently, index};
use crate::idents::{ChatMessageReactions, ChatMessages};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn indexes() -> Vec<IndexDef> {
    use ChatMessageReactions as R;
    use ChatMessages as M;
    vec![
        index(M::Table, &[M::CourseId, M::Id], false),
        index(M::Table, &[M::ParentId, M::Id], false),
        index(M::Table, &[M::CourseId, M::PinnedAt], false),
        index(M::Table, &[M::UserId], false),
        index(R::Table, &[R::UserId], false),
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

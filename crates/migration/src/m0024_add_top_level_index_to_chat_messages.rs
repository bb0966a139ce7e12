//! The newest top-level messages of a course, newest first (a history page), from an index that holds
//! only top-level messages: `(course_id, id) WHERE parent_id IS NULL`. The plain `(course_id, id)` index
//! of m0008 also walks the course's replies and reads their rows only to discard them. Built
//! concurrently on PostgreSQL.
use sea_orm_migration::prelude::*;

use crate::helpers::{IndexDef, create_indexes_concurrently, drop_indexes_concurrently, index};
use crate::idents::ChatMessages;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn indexes() -> Vec<IndexDef> {
    let mut top_level = index(
        ChatMessages::Table,
        &[ChatMessages::CourseId, ChatMessages::Id],
        false,
    );
    top_level.name = "idx_chat_messages_top_level".into();
    top_level
        .create
        .name(&top_level.name)
        .and_where(Expr::col(ChatMessages::ParentId).is_null());
    vec![top_level]
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

//! The newest top-level messages of a course, newest first (a history page), from an index that holds
//! only top-level messages: `(course_id, id) WHERE parent_id IS NULL`. The plain `(course_id, id)` index
//! of m0008 also walks the course's replies and reads their rows only to discard them. Built
//! concurrently on PostgreSQL. MySQL, without partial indexes, gets `(course_id, parent_id, id)`.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::helpers::{IndexDef, create_indexes_concurrently, drop_indexes_concurrently, index};
use crate::idents::ChatMessages;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "idx_chat_messages_top_level";

fn indexes(backend: DbBackend) -> Vec<IndexDef> {
    use ChatMessages as M;
    // MySQL has no partial indexes: `(course_id, parent_id, id)` serves the same query there
    // (`parent_id IS NULL` is looked up like an equality, then ids walk newest first).
    let mut top_level = match backend {
        DbBackend::MySql => index(M::Table, &[M::CourseId, M::ParentId, M::Id], false),
        _ => index(M::Table, &[M::CourseId, M::Id], false),
    };
    top_level.name = NAME.into();
    top_level.create.name(NAME);
    if backend != DbBackend::MySql {
        top_level.create.and_where(Expr::col(M::ParentId).is_null());
    }
    vec![top_level]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// `CREATE INDEX CONCURRENTLY` cannot run inside a transaction (PostgreSQL).
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_indexes_concurrently(manager, indexes(manager.get_database_backend())).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_indexes_concurrently(manager, indexes(manager.get_database_backend())).await
    }
}

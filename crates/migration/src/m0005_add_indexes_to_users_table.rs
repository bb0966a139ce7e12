//! Users: uniqueness of the identities (email, username, phone, social account) and lookups by role, status and token hash.
use sea_orm_migration::prelude::*;

use crate::helpers::{IndexDef, create_indexes_concurrently, drop_indexes_concurrently, index};
use crate::idents::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn indexes() -> Vec<IndexDef> {
    use Users as U;
    vec![
        index(U::Table, &[U::Email], true),
        index(U::Table, &[U::Username], true),
        index(U::Table, &[U::Phone], true),
        index(U::Table, &[U::SocialProvider, U::SocialProviderId], true),
        index(U::Table, &[U::Role], false),
        index(U::Table, &[U::Status], false),
        index(U::Table, &[U::EmailVerificationTokenHash], false),
        index(U::Table, &[U::PasswordResetTokenHash], false),
        index(U::Table, &[U::CreatedAt], false),
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

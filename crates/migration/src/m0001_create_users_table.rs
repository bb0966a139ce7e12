//! Users: identity, role and status, email verification, password reset, TOTP two-factor auth, social
//! login, preferences and login bookkeeping. Token columns hold SHA-256 hashes, never the tokens; the
//! TOTP secrets are encrypted by the API before they reach this table.
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{check, create_table, instant_default_now, instant_null, one_of};
use crate::idents::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(Users::Table)
                .col(big_pk_auto(Users::Id))
                .col(string_len(Users::Email, 254))
                .col(string_len(Users::Username, 50))
                .col(string_len_null(Users::PasswordHash, 255))
                .col(string_len(Users::FirstName, 100))
                .col(string_len(Users::LastName, 100))
                .col(string_len_null(Users::Phone, 32))
                .col(string_len_null(Users::AvatarUrl, 2048))
                .col(text_null(Users::Bio))
                .col(string_len(Users::Role, 16).default("student"))
                .col(string_len(Users::Status, 16).default("active"))
                .col(instant_null(b, Users::EmailVerifiedAt))
                .col(string_len_null(Users::EmailVerificationTokenHash, 64))
                .col(instant_null(b, Users::EmailVerificationExpiresAt))
                .col(string_len_null(Users::PasswordResetTokenHash, 64))
                .col(instant_null(b, Users::PasswordResetExpiresAt))
                .col(boolean(Users::TwoFactorEnabled).default(false))
                .col(text_null(Users::TwoFactorSecretEnc))
                .col(big_integer_null(Users::TwoFactorLastStep))
                .col(text_null(Users::TwoFactorPendingSecretEnc))
                .col(string_len_null(Users::SocialProvider, 32))
                .col(string_len_null(Users::SocialProviderId, 255))
                .col(json_binary(Users::Preferences).default("{}"))
                .col(json_binary(Users::Metadata).default("{}"))
                .col(instant_null(b, Users::LastLoginAt))
                .col(integer(Users::FailedLoginAttempts).default(0))
                .col(instant_null(b, Users::LockedUntil))
                .col(instant_default_now(b, Users::CreatedAt))
                .col(instant_default_now(b, Users::UpdatedAt))
                .check(one_of(
                    "users",
                    Users::Role,
                    &["student", "instructor", "admin"],
                ))
                .check(one_of(
                    "users",
                    Users::Status,
                    &["active", "suspended", "deactivated"],
                ))
                .check(one_of(
                    "users",
                    Users::SocialProvider,
                    &["google", "github", "microsoft", "apple", "facebook"],
                ))
                .check(check(
                    "ck_users_failed_login_attempts",
                    Expr::col(Users::FailedLoginAttempts).gte(0),
                ))
                // Both halves of a social identity, or neither.
                .check(check(
                    "ck_users_social_identity",
                    Expr::col(Users::SocialProvider)
                        .is_null()
                        .eq(Expr::col(Users::SocialProviderId).is_null()),
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

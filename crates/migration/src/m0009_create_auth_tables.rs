//! Sessions and what signing in needs: sessions (one per login, the refresh-token family), refresh
//! tokens (SHA-256 only; a rotated one is kept so its reuse can be detected), 2FA recovery codes
//! (SHA-256 of 120-bit codes), pending 2FA logins (`mfa_challenges`), and `rate_limits`, the throttle
//! counters shared by every API instance.
//!
//! Everything here belongs to a user or a session and goes with it (ON DELETE CASCADE).
use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{
    check, create_indexes, create_table, drop_indexes, fk, index, instant, instant_default_now,
    instant_null, one_of,
};
use crate::idents::{MfaChallenges, RateLimits, RecoveryCodes, RefreshTokens, Sessions, Users};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn indexes() -> Vec<crate::helpers::IndexDef> {
    vec![
        index(Sessions::Table, &[Sessions::PublicId], true),
        index(
            Sessions::Table,
            &[Sessions::UserId, Sessions::RevokedAt],
            false,
        ),
        index(RefreshTokens::Table, &[RefreshTokens::SessionId], false),
        index(RecoveryCodes::Table, &[RecoveryCodes::CodeHash], true),
        index(RecoveryCodes::Table, &[RecoveryCodes::UserId], false),
        index(MfaChallenges::Table, &[MfaChallenges::UserId], false),
        index(MfaChallenges::Table, &[MfaChallenges::ExpiresAt], false),
        index(RateLimits::Table, &[RateLimits::WindowStart], false),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let b = manager.get_database_backend();
        create_table(
            manager,
            Table::create()
                .table(Sessions::Table)
                .col(big_pk_auto(Sessions::Id))
                .col(string_len(Sessions::PublicId, 36))
                .col(big_integer(Sessions::UserId))
                .col(string_len_null(Sessions::UserAgent, 512))
                .col(string_len_null(Sessions::IpAddress, 64))
                .col(instant_default_now(b, Sessions::CreatedAt))
                .col(instant_default_now(b, Sessions::LastUsedAt))
                .col(instant(b, Sessions::ExpiresAt))
                .col(instant_null(b, Sessions::RevokedAt))
                .col(string_len_null(Sessions::RevokedReason, 32))
                .foreign_key(&mut fk(
                    Sessions::Table,
                    Sessions::UserId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Cascade,
                ))
                .check(one_of(
                    "sessions",
                    Sessions::RevokedReason,
                    &[
                        "logout",
                        "revoked",
                        "password_changed",
                        "password_reset",
                        "suspended",
                        "refresh_token_reuse",
                    ],
                ))
                .to_owned(),
        )
        .await?;
        create_table(
            manager,
            Table::create()
                .table(RefreshTokens::Table)
                .col(string_len(RefreshTokens::TokenHash, 64).primary_key())
                .col(big_integer(RefreshTokens::SessionId))
                .col(instant_default_now(b, RefreshTokens::CreatedAt))
                .col(instant_null(b, RefreshTokens::RotatedAt))
                .foreign_key(&mut fk(
                    RefreshTokens::Table,
                    RefreshTokens::SessionId,
                    Sessions::Table,
                    Sessions::Id,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        create_table(
            manager,
            Table::create()
                .table(RecoveryCodes::Table)
                .col(big_pk_auto(RecoveryCodes::Id))
                .col(big_integer(RecoveryCodes::UserId))
                .col(string_len(RecoveryCodes::CodeHash, 64))
                .col(instant_null(b, RecoveryCodes::UsedAt))
                .col(instant_default_now(b, RecoveryCodes::CreatedAt))
                .foreign_key(&mut fk(
                    RecoveryCodes::Table,
                    RecoveryCodes::UserId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        create_table(
            manager,
            Table::create()
                .table(MfaChallenges::Table)
                .col(string_len(MfaChallenges::TokenHash, 64).primary_key())
                .col(big_integer(MfaChallenges::UserId))
                .col(integer(MfaChallenges::FailedAttempts).default(0))
                .col(string_len_null(MfaChallenges::UserAgent, 512))
                .col(string_len_null(MfaChallenges::IpAddress, 64))
                .col(instant(b, MfaChallenges::ExpiresAt))
                .col(instant_null(b, MfaChallenges::ConsumedAt))
                .col(instant_default_now(b, MfaChallenges::CreatedAt))
                .foreign_key(&mut fk(
                    MfaChallenges::Table,
                    MfaChallenges::UserId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Cascade,
                ))
                .check(check(
                    "ck_mfa_challenges_failed_attempts",
                    Expr::col(MfaChallenges::FailedAttempts).gte(0),
                ))
                .to_owned(),
        )
        .await?;
        create_table(
            manager,
            Table::create()
                .table(RateLimits::Table)
                .col(string_len(RateLimits::Key, 200).primary_key())
                .col(integer(RateLimits::Hits).default(0))
                // Unix seconds: the same arithmetic on both backends.
                .col(big_integer(RateLimits::WindowStart))
                .col(big_integer_null(RateLimits::BlockedUntil))
                .to_owned(),
        )
        .await?;
        create_indexes(manager, indexes()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_indexes(manager, indexes()).await?;
        for table in [
            RateLimits::Table.into_iden(),
            MfaChallenges::Table.into_iden(),
            RecoveryCodes::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Sessions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

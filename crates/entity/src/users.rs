use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Stored lower-cased; unique.
    pub email: String,
    pub username: String,
    /// argon2id PHC string; None for accounts that only sign in through a social provider.
    pub password_hash: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub avatar_url: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub bio: Option<String>,
    pub role: UserRole,
    pub status: UserStatus,
    pub email_verified_at: Option<DateTimeUtc>,
    /// SHA-256 (hex) of the outstanding verification token.
    pub email_verification_token_hash: Option<String>,
    pub email_verification_expires_at: Option<DateTimeUtc>,
    /// SHA-256 (hex) of the outstanding password-reset token.
    pub password_reset_token_hash: Option<String>,
    pub password_reset_expires_at: Option<DateTimeUtc>,
    pub two_factor_enabled: bool,
    /// The confirmed TOTP secret, encrypted with the server key.
    #[sea_orm(column_type = "Text", nullable)]
    pub two_factor_secret_enc: Option<String>,
    /// The last accepted TOTP time step: a code is only accepted for a later step (no replay).
    pub two_factor_last_step: Option<i64>,
    /// A secret from 2FA setup, encrypted, waiting for its first code.
    #[sea_orm(column_type = "Text", nullable)]
    pub two_factor_pending_secret_enc: Option<String>,
    pub social_provider: Option<SocialProvider>,
    pub social_provider_id: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub preferences: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Json,
    pub last_login_at: Option<DateTimeUtc>,
    pub failed_login_attempts: i32,
    pub locked_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    Student,
    Instructor,
    Admin,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Suspended,
    Deactivated,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(32))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum SocialProvider {
    Google,
    Github,
    Microsoft,
    Apple,
    Facebook,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::courses::Entity")]
    Courses,
    #[sea_orm(has_many = "super::enrollments::Entity")]
    Enrollments,
}

impl Related<super::courses::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Courses.def()
    }
}

impl Related<super::enrollments::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Enrollments.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

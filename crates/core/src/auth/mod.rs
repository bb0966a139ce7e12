//! Accounts and sessions: registration, sign-in with optional TOTP second factor, refresh-token
//! rotation with reuse detection, email verification, password reset and change, 2FA management.
use chrono::Duration;
use entity::users::{self, UserRole, UserStatus};
use entity::{mfa_challenges, recovery_codes, refresh_tokens, sessions};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, SqlErr,
    TransactionTrait,
};

use crate::domain::{
    Email, Errors, NewPassword, PersonName, Username, email_local_part, presented_password,
};
use crate::error::{Error, Result};
use crate::events::Events;
use crate::mail::Email as Mail;
use crate::security::Auth;
use crate::security::throttle::{self, LOGIN_ACCOUNT, LOGIN_ADDRESS, SECOND_FACTOR};
use crate::security::tokens::{AccessClaims, random_token, sha256_hex};
use crate::security::totp;
use crate::{Client, now};

mod accounts;
mod login;
mod passwords;
mod session;
mod two_factor;
pub use accounts::*;
pub use login::*;
pub use passwords::*;
pub use session::*;
pub use two_factor::*;

const VERIFY_EMAIL_TTL: Duration = Duration::hours(24);
const RESET_PASSWORD_TTL: Duration = Duration::minutes(30);
pub const MFA_TOKEN_TTL_SECS: i64 = 300;
const MFA_MAX_ATTEMPTS: i32 = 5;
pub const RECOVERY_CODE_COUNT: usize = 10;

const BAD_CREDENTIALS: &str = "the email, username or password is incorrect";
const BAD_CODE: &str = "the code is incorrect or was already used";

pub struct Registration {
    pub email: String,
    pub username: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
}

/// A new or refreshed session's tokens. The refresh token exists only here and in the response.
pub struct Tokens {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
    pub session: sessions::Model,
    pub user: users::Model,
    pub recovery_codes_remaining: Option<u64>,
}

pub enum LoginOutcome {
    SignedIn(Box<Tokens>),
    SecondFactorRequired { mfa_token: String, expires_in: i64 },
}

pub enum SecondFactor {
    Code(String),
    RecoveryCode(String),
}

fn unauthorized(message: &str) -> Error {
    Error::Unauthorized(message.to_string())
}

fn too_many(retry_after_secs: u64) -> Error {
    Error::TooManyRequests { retry_after_secs }
}

/// Maps a unique violation on `users` to the field it concerns.
fn taken(err: sea_orm::DbErr) -> Error {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(detail)) => {
            let field = if detail.contains("email") {
                "email"
            } else if detail.contains("username") {
                "username"
            } else {
                "account"
            };
            Error::Conflict(format!("this {field} is already registered"))
        }
        _ => Error::Database(err),
    }
}

/// The bucket of sign-in failures against one account: the account itself when the identifier names
/// one (so its email and its username share one count), else the identifier as typed (an unknown
/// name is throttled exactly like a known one, so the throttle tells nothing about which exist).
fn account_key(identifier: &str, account: Option<&users::Model>) -> String {
    match account {
        Some(user) => format!("login:user:{}", user.id),
        // Hashed: any length fits the key column, and typed addresses of nobody are not kept.
        None => format!(
            "login:account:{}",
            crate::security::tokens::sha256_hex(&identifier.trim().to_lowercase())
        ),
    }
}

fn address_key(client: &Client) -> String {
    format!(
        "login:address:{}",
        client.ip.as_deref().unwrap_or("unknown")
    )
}

fn second_factor_key(user_id: i64) -> String {
    format!("2fa:user:{user_id}")
}

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

use super::{Client, now};
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

#[tracing::instrument(skip_all)]
pub async fn register(
    db: &DatabaseConnection,
    auth: &Auth,
    input: Registration,
) -> Result<users::Model> {
    let user = create_user(db, auth, input, UserRole::Student).await?;
    send_verification(auth, &user, &issue_verification_token(db, &user).await?);
    tracing::info!(user_id = user.id, "registered");
    Ok(user)
}

/// Creates an account after checking every field (all problems reported at once). Used by
/// registration and by the `create-admin` command.
pub async fn create_user(
    db: &DatabaseConnection,
    auth: &Auth,
    input: Registration,
    role: UserRole,
) -> Result<users::Model> {
    let mut errors = Errors::default();
    let email = errors.check("email", Email::parse(&input.email));
    let username = errors.check("username", Username::parse(&input.username));
    let first_name = errors.check("first_name", PersonName::parse(&input.first_name));
    let last_name = errors.check("last_name", PersonName::parse(&input.last_name));
    let personal = [
        email_local_part(&input.email),
        input.username.as_str(),
        input.first_name.as_str(),
        input.last_name.as_str(),
    ];
    let password = errors.check("password", NewPassword::parse(&input.password, &personal));
    errors.finish()?;
    let (Some(email), Some(username), Some(first_name), Some(last_name), Some(password)) =
        (email, username, first_name, last_name, password)
    else {
        unreachable!("finish() returned the errors of every missing value")
    };

    let hash = auth
        .hasher
        .hash(password.expose())
        .await
        .map_err(anyhow::Error::from)?;
    let at = now();
    users::ActiveModel {
        email: Set(email.as_str().to_string()),
        username: Set(username.as_str().to_string()),
        password_hash: Set(Some(hash)),
        first_name: Set(first_name.into_inner()),
        last_name: Set(last_name.into_inner()),
        role: Set(role),
        status: Set(UserStatus::Active),
        two_factor_enabled: Set(false),
        preferences: Set(serde_json::json!({})),
        metadata: Set(serde_json::json!({})),
        failed_login_attempts: Set(0),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(taken)
}

async fn issue_verification_token(
    db: &impl ConnectionTrait,
    user: &users::Model,
) -> Result<String> {
    let token = random_token();
    let mut active = user.clone().into_active_model();
    active.email_verification_token_hash = Set(Some(sha256_hex(&token)));
    active.email_verification_expires_at = Set(Some(now() + VERIFY_EMAIL_TTL));
    active.updated_at = Set(now());
    active.update(db).await?;
    Ok(token)
}

fn send_verification(auth: &Auth, user: &users::Model, token: &str) {
    auth.mailer.send_later(Mail {
        to: user.email.clone(),
        subject: "Confirm your email address".into(),
        body: format!(
            "Hello {},\n\nconfirm your email address by opening this link within 24 hours:\n\n{}/verify-email?token={token}\n\n\
             If you did not create an account, ignore this message.\n",
            user.first_name, auth.public_url
        ),
    });
}

fn account_key(identifier: &str) -> String {
    format!("login:account:{}", identifier.trim().to_lowercase())
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

async fn find_by_login(db: &impl ConnectionTrait, login: &str) -> Result<Option<users::Model>> {
    let login = login.trim().to_lowercase();
    let column = if login.contains('@') {
        users::Column::Email
    } else {
        users::Column::Username
    };
    Ok(users::Entity::find()
        .filter(column.eq(login))
        .one(db)
        .await?)
}

#[tracing::instrument(skip_all)]
pub async fn login(
    db: &DatabaseConnection,
    auth: &Auth,
    login: &str,
    password: &str,
    client: &Client,
) -> Result<LoginOutcome> {
    let mut errors = Errors::default();
    if login.trim().is_empty() || login.len() > 254 {
        errors.add("login", "must be your email or username");
    }
    errors.check("password", presented_password(password));
    errors.finish()?;

    let at = now().timestamp();
    let (account, address) = (account_key(login), address_key(client));
    let buckets = throttle::lookup(db, &[&account, &address]).await?;
    if let Some(wait) = throttle::longest_wait(&buckets, at) {
        return Err(too_many(wait));
    }

    let user = find_by_login(db, login).await?;
    // Unknown users are verified against a dummy hash: the same work, the same answer.
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let matched = auth
        .hasher
        .verify(password, stored)
        .await
        .map_err(anyhow::Error::from)?;
    let known_id = user.as_ref().map(|u| u.id);
    let Some(user) = user.filter(|_| matched) else {
        // The clock after hashing (which may have queued): a block starts when the failure is known.
        let at = now().timestamp();
        throttle::record_failure(db, &account, LOGIN_ACCOUNT, at).await?;
        throttle::record_failure(db, &address, LOGIN_ADDRESS, at).await?;
        if let Some(id) = known_id {
            users::Entity::update_many()
                .col_expr(
                    users::Column::FailedLoginAttempts,
                    Expr::col(users::Column::FailedLoginAttempts).add(1),
                )
                .filter(users::Column::Id.eq(id))
                .exec(db)
                .await?;
        }
        tracing::info!("sign-in failed");
        return Err(unauthorized(BAD_CREDENTIALS));
    };
    if user.status != UserStatus::Active {
        return Err(Error::Forbidden(
            "this account is suspended or deactivated".into(),
        ));
    }
    if buckets.iter().any(|b| b.key == account) {
        throttle::clear(db, &account).await?;
    }

    let mut active = user.clone().into_active_model();
    active.failed_login_attempts = Set(0);
    active.last_login_at = Set(Some(now()));
    if let Some(hash) = user
        .password_hash
        .as_deref()
        .filter(|h| crate::security::passwords::needs_rehash(h))
    {
        tracing::info!(user_id = user.id, old = %hash.split('$').nth(3).unwrap_or(""), "rehashing password with current parameters");
        active.password_hash = Set(Some(
            auth.hasher
                .hash(password)
                .await
                .map_err(anyhow::Error::from)?,
        ));
    }
    let user = active.update(db).await?;

    if user.two_factor_enabled {
        let mfa_token = random_token();
        mfa_challenges::ActiveModel {
            token_hash: Set(sha256_hex(&mfa_token)),
            user_id: Set(user.id),
            failed_attempts: Set(0),
            user_agent: Set(client.user_agent.clone()),
            ip_address: Set(client.ip.clone()),
            expires_at: Set(now() + Duration::seconds(MFA_TOKEN_TTL_SECS)),
            consumed_at: Set(None),
            created_at: Set(now()),
        }
        .insert(db)
        .await?;
        return Ok(LoginOutcome::SecondFactorRequired {
            mfa_token,
            expires_in: MFA_TOKEN_TTL_SECS,
        });
    }
    let tokens = start_session(db, auth, user, client).await?;
    Ok(LoginOutcome::SignedIn(Box::new(tokens)))
}

/// A new session (a new refresh-token family) with its first tokens.
async fn start_session(
    db: &impl ConnectionTrait,
    auth: &Auth,
    user: users::Model,
    client: &Client,
) -> Result<Tokens> {
    let at = now();
    let session = sessions::ActiveModel {
        public_id: Set(uuid::Uuid::new_v4().to_string()),
        user_id: Set(user.id),
        user_agent: Set(client.user_agent.clone()),
        ip_address: Set(client.ip.clone()),
        created_at: Set(at),
        last_used_at: Set(at),
        expires_at: Set(at + Duration::seconds(auth.session_ttl_secs)),
        revoked_at: Set(None),
        revoked_reason: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    issue_tokens(db, auth, user, session).await
}

async fn issue_tokens(
    db: &impl ConnectionTrait,
    auth: &Auth,
    user: users::Model,
    session: sessions::Model,
) -> Result<Tokens> {
    let refresh_token = random_token();
    refresh_tokens::ActiveModel {
        token_hash: Set(sha256_hex(&refresh_token)),
        session_id: Set(session.id),
        created_at: Set(now()),
        rotated_at: Set(None),
    }
    .insert(db)
    .await?;
    let access_token = auth.jwt.issue(
        user.id,
        &session.public_id,
        now().timestamp(),
        auth.access_ttl_secs,
    )?;
    Ok(Tokens {
        access_token,
        expires_in: auth.access_ttl_secs,
        refresh_token,
        session,
        user,
        recovery_codes_remaining: None,
    })
}

#[tracing::instrument(skip_all)]
pub async fn login_second_factor(
    db: &DatabaseConnection,
    auth: &Auth,
    mfa_token: &str,
    factor: SecondFactor,
    client: &Client,
) -> Result<Tokens> {
    const EXPIRED: &str = "this sign-in attempt is invalid or has expired; sign in again";
    let token_hash = sha256_hex(mfa_token.trim());
    let challenge = mfa_challenges::Entity::find_by_id(token_hash.clone())
        .one(db)
        .await?
        .filter(|c| {
            c.consumed_at.is_none() && c.expires_at > now() && c.failed_attempts < MFA_MAX_ATTEMPTS
        })
        .ok_or_else(|| unauthorized(EXPIRED))?;
    let user = users::Entity::find_by_id(challenge.user_id)
        .one(db)
        .await?
        .filter(|u| u.status == UserStatus::Active && u.two_factor_enabled)
        .ok_or_else(|| unauthorized(EXPIRED))?;

    let key = second_factor_key(user.id);
    let at = now().timestamp();
    if let Some(wait) = throttle::blocked_for(db, &key, at).await? {
        return Err(too_many(wait));
    }
    let accepted = match &factor {
        SecondFactor::Code(code) => accept_totp(db, auth, &user, code).await?,
        SecondFactor::RecoveryCode(code) => use_recovery_code(db, user.id, code).await?,
    };
    if !accepted {
        mfa_challenges::Entity::update_many()
            .col_expr(
                mfa_challenges::Column::FailedAttempts,
                Expr::col(mfa_challenges::Column::FailedAttempts).add(1),
            )
            .filter(mfa_challenges::Column::TokenHash.eq(token_hash))
            .exec(db)
            .await?;
        throttle::record_failure(db, &key, SECOND_FACTOR, at).await?;
        tracing::warn!(user_id = user.id, "second factor rejected");
        return Err(unauthorized(BAD_CODE));
    }
    // Single use: of two requests holding the same token, only one consumes it.
    let consumed = mfa_challenges::Entity::update_many()
        .col_expr(mfa_challenges::Column::ConsumedAt, Expr::value(now()))
        .filter(mfa_challenges::Column::TokenHash.eq(token_hash))
        .filter(mfa_challenges::Column::ConsumedAt.is_null())
        .exec(db)
        .await?;
    if consumed.rows_affected != 1 {
        return Err(unauthorized(EXPIRED));
    }
    throttle::clear(db, &key).await?;
    let mut tokens = start_session(db, auth, user.clone(), client).await?;
    if matches!(factor, SecondFactor::RecoveryCode(_)) {
        tokens.recovery_codes_remaining = Some(remaining_recovery_codes(db, user.id).await?);
    }
    Ok(tokens)
}

/// True when `code` is valid for the user's confirmed secret at a time step later than any accepted
/// before. The step is claimed with one conditional UPDATE, so of two requests carrying the same code
/// exactly one wins.
async fn accept_totp(
    db: &impl ConnectionTrait,
    auth: &Auth,
    user: &users::Model,
    code: &str,
) -> Result<bool> {
    let Some(sealed) = user.two_factor_secret_enc.as_deref() else {
        return Ok(false);
    };
    let secret = auth
        .secrets
        .open(sealed, &totp_context(user.id))
        .map_err(anyhow::Error::from)?;
    let Some(step) = totp::matching_step(&secret, &user.email, code, now().timestamp() as u64)?
    else {
        return Ok(false);
    };
    let step = step as i64;
    let claimed = users::Entity::update_many()
        .col_expr(users::Column::TwoFactorLastStep, Expr::value(step))
        .filter(users::Column::Id.eq(user.id))
        .filter(
            users::Column::TwoFactorLastStep
                .is_null()
                .or(users::Column::TwoFactorLastStep.lt(step)),
        )
        .exec(db)
        .await?;
    if claimed.rows_affected != 1 {
        tracing::warn!(user_id = user.id, "replayed TOTP code rejected");
    }
    Ok(claimed.rows_affected == 1)
}

fn totp_context(user_id: i64) -> String {
    format!("totp:{user_id}")
}

/// Recovery codes are 120 random bits, shown as 6 groups of 4 base32 characters.
fn new_recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let bytes = crate::security::tokens::random_bytes::<15>();
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(b);
    }
    let chars: Vec<char> = (0..24)
        .map(|i| ALPHABET[((bits >> (115 - 5 * i)) & 31) as usize] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

fn normalize_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

async fn use_recovery_code(db: &impl ConnectionTrait, user_id: i64, code: &str) -> Result<bool> {
    let hash = sha256_hex(&normalize_recovery_code(code));
    let used = recovery_codes::Entity::update_many()
        .col_expr(recovery_codes::Column::UsedAt, Expr::value(now()))
        .filter(recovery_codes::Column::UserId.eq(user_id))
        .filter(recovery_codes::Column::CodeHash.eq(hash))
        .filter(recovery_codes::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(used.rows_affected == 1)
}

async fn remaining_recovery_codes(db: &impl ConnectionTrait, user_id: i64) -> Result<u64> {
    Ok(recovery_codes::Entity::find()
        .filter(recovery_codes::Column::UserId.eq(user_id))
        .filter(recovery_codes::Column::UsedAt.is_null())
        .count(db)
        .await?)
}

/// Replaces the user's recovery codes with a new set and returns it (shown once).
async fn replace_recovery_codes(db: &impl ConnectionTrait, user_id: i64) -> Result<Vec<String>> {
    recovery_codes::Entity::delete_many()
        .filter(recovery_codes::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    let codes: Vec<String> = (0..RECOVERY_CODE_COUNT)
        .map(|_| new_recovery_code())
        .collect();
    let rows = codes.iter().map(|code| recovery_codes::ActiveModel {
        user_id: Set(user_id),
        code_hash: Set(sha256_hex(&normalize_recovery_code(code))),
        used_at: Set(None),
        created_at: Set(now()),
        ..Default::default()
    });
    recovery_codes::Entity::insert_many(rows).exec(db).await?;
    Ok(codes)
}

/// Rotates a refresh token: the presented one dies, a new one is returned. Presenting a token that was
/// already rotated means it leaked (or a client retried with a stale one): the whole session ends.
#[tracing::instrument(skip_all)]
pub async fn refresh(
    db: &DatabaseConnection,
    events: &Events,
    auth: &Auth,
    refresh_token: &str,
) -> Result<Tokens> {
    const INVALID: &str = "the refresh token is invalid, expired or revoked";
    let hash = sha256_hex(refresh_token.trim());
    let stored = refresh_tokens::Entity::find_by_id(hash.clone())
        .one(db)
        .await?
        .ok_or_else(|| unauthorized(INVALID))?;
    if stored.rotated_at.is_some() {
        revoke_session_by_id(db, stored.session_id, "refresh_token_reuse").await?;
        if let Some(s) = sessions::Entity::find_by_id(stored.session_id)
            .one(db)
            .await?
        {
            events.access_changed(s.user_id).await;
        }
        tracing::warn!(
            session_id = stored.session_id,
            "refresh token reused: session revoked"
        );
        return Err(unauthorized(INVALID));
    }
    let (session, user) = sessions::Entity::find_by_id(stored.session_id)
        .find_also_related(users::Entity)
        .one(db)
        .await?
        .and_then(|(s, u)| Some((s, u?)))
        .filter(|(s, u)| session_is_live(s, u))
        .ok_or_else(|| unauthorized(INVALID))?;

    let txn = db.begin().await?;
    let rotated = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RotatedAt, Expr::value(now()))
        .filter(refresh_tokens::Column::TokenHash.eq(hash))
        .filter(refresh_tokens::Column::RotatedAt.is_null())
        .exec(&txn)
        .await?;
    if rotated.rows_affected != 1 {
        txn.rollback().await?;
        revoke_session_by_id(db, session.id, "refresh_token_reuse").await?;
        events.access_changed(user.id).await;
        return Err(unauthorized(INVALID));
    }
    let mut active = session.into_active_model();
    active.last_used_at = Set(now());
    let session = active.update(&txn).await?;
    let tokens = issue_tokens(&txn, auth, user, session).await?;
    txn.commit().await?;
    Ok(tokens)
}

async fn revoke_session_by_id(
    db: &impl ConnectionTrait,
    session_id: i64,
    reason: &str,
) -> Result<u64> {
    let result = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(now()))
        .col_expr(sessions::Column::RevokedReason, Expr::value(reason))
        .filter(sessions::Column::Id.eq(session_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Whether a session still signs its user in: not revoked, not expired, and the account active. The one
/// rule behind access tokens, refresh tokens and open chat connections.
pub fn session_is_live(session: &sessions::Model, user: &users::Model) -> bool {
    session.revoked_at.is_none() && session.expires_at > now() && user.status == UserStatus::Active
}

const INVALID_TOKEN: &str = "a valid access token is required (Authorization: Bearer <token>)";

/// Reads a verified access token's session and user and checks that the session is live (so logout,
/// suspension and password changes take effect at once). 401 otherwise.
pub async fn load_session(
    db: &impl ConnectionTrait,
    claims: &AccessClaims,
) -> Result<(sessions::Model, users::Model)> {
    let (session, user) = sessions::Entity::find()
        .filter(sessions::Column::PublicId.eq(&claims.sid))
        .find_also_related(users::Entity)
        .one(db)
        .await?
        .and_then(|(s, u)| Some((s, u?)))
        .ok_or_else(|| Error::Unauthorized(INVALID_TOKEN.into()))?;
    check_live(claims, &session, &user)?;
    Ok((session, user))
}

/// 401 unless the session is live and belongs to the token's user.
pub fn check_live(
    claims: &AccessClaims,
    session: &sessions::Model,
    user: &users::Model,
) -> Result<()> {
    if session_is_live(session, user) && claims.sub == user.id.to_string() {
        Ok(())
    } else {
        Err(Error::Unauthorized(
            "the session has ended; sign in again".into(),
        ))
    }
}

/// Ends every live session of a user, except `keep` if given.
pub async fn revoke_all_sessions(
    db: &impl ConnectionTrait,
    user_id: i64,
    keep: Option<i64>,
    reason: &str,
) -> Result<u64> {
    let mut update = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(now()))
        .col_expr(sessions::Column::RevokedReason, Expr::value(reason))
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        update = update.filter(sessions::Column::Id.ne(keep));
    }
    Ok(update.exec(db).await?.rows_affected)
}

pub async fn logout(
    db: &DatabaseConnection,
    events: &Events,
    session: &sessions::Model,
) -> Result<()> {
    revoke_session_by_id(db, session.id, "logout").await?;
    events.access_changed(session.user_id).await;
    Ok(())
}

pub async fn list_sessions(db: &DatabaseConnection, user_id: i64) -> Result<Vec<sessions::Model>> {
    Ok(sessions::Entity::find()
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(sessions::Column::ExpiresAt.gt(now()))
        .order_by_desc(sessions::Column::LastUsedAt)
        .all(db)
        .await?)
}

/// Revokes one of the user's own sessions; someone else's is "not found".
pub async fn revoke_own_session(
    db: &DatabaseConnection,
    events: &Events,
    user_id: i64,
    public_id: &str,
) -> Result<()> {
    let result = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(now()))
        .col_expr(sessions::Column::RevokedReason, Expr::value("revoked"))
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::PublicId.eq(public_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(Error::NotFound("no such active session".into()));
    }
    events.access_changed(user_id).await;
    Ok(())
}

pub async fn verify_email(db: &DatabaseConnection, token: &str) -> Result<()> {
    let verified = users::Entity::update_many()
        .col_expr(users::Column::EmailVerifiedAt, Expr::value(now()))
        .col_expr(
            users::Column::EmailVerificationTokenHash,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            users::Column::EmailVerificationExpiresAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .col_expr(users::Column::UpdatedAt, Expr::value(now()))
        .filter(users::Column::EmailVerificationTokenHash.eq(sha256_hex(token.trim())))
        .filter(users::Column::EmailVerificationExpiresAt.gt(now()))
        .exec(db)
        .await?;
    if verified.rows_affected != 1 {
        return Err(Error::BadRequest(
            "the verification link is invalid, used or expired".into(),
        ));
    }
    Ok(())
}

pub async fn resend_verification(
    db: &DatabaseConnection,
    auth: &Auth,
    user: &users::Model,
) -> Result<()> {
    if user.email_verified_at.is_some() {
        return Err(Error::Conflict(
            "the email address is already verified".into(),
        ));
    }
    let token = issue_verification_token(db, user).await?;
    send_verification(auth, user, &token);
    Ok(())
}

/// Always succeeds the same way: whether the address is known is not revealed.
#[tracing::instrument(skip_all)]
pub async fn forgot_password(db: &DatabaseConnection, auth: &Auth, email: &str) -> Result<()> {
    let email = Email::parse(email).map_err(|m| Error::invalid("email", m))?;
    let user = users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(db)
        .await?
        .filter(|u| u.status == UserStatus::Active);
    let Some(user) = user else { return Ok(()) };
    let token = random_token();
    let mut active = user.clone().into_active_model();
    active.password_reset_token_hash = Set(Some(sha256_hex(&token)));
    active.password_reset_expires_at = Set(Some(now() + RESET_PASSWORD_TTL));
    active.update(db).await?;
    auth.mailer.send_later(Mail {
        to: user.email.clone(),
        subject: "Reset your password".into(),
        body: format!(
            "Hello {},\n\nset a new password within 30 minutes by opening this link:\n\n{}/reset-password?token={token}\n\n\
             If you did not ask for this, ignore this message: your password stays as it is.\n",
            user.first_name, auth.public_url
        ),
    });
    Ok(())
}

/// Sets a new password with a reset token, ends every session, and signs nobody in (2FA still applies
/// at the next sign-in).
#[tracing::instrument(skip_all)]
pub async fn reset_password(
    db: &DatabaseConnection,
    events: &Events,
    auth: &Auth,
    token: &str,
    new_password: &str,
) -> Result<()> {
    const INVALID: &str = "the reset link is invalid, used or expired";
    let hash = sha256_hex(token.trim());
    let user = users::Entity::find()
        .filter(users::Column::PasswordResetTokenHash.eq(hash.clone()))
        .filter(users::Column::PasswordResetExpiresAt.gt(now()))
        .one(db)
        .await?
        .ok_or_else(|| Error::BadRequest(INVALID.into()))?;
    let password = new_password_for(&user, new_password)?;
    let password_hash = auth
        .hasher
        .hash(password.expose())
        .await
        .map_err(anyhow::Error::from)?;

    let txn = db.begin().await?;
    let updated = users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(password_hash))
        .col_expr(
            users::Column::PasswordResetTokenHash,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            users::Column::PasswordResetExpiresAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .col_expr(users::Column::FailedLoginAttempts, Expr::value(0))
        .col_expr(users::Column::UpdatedAt, Expr::value(now()))
        .filter(users::Column::Id.eq(user.id))
        .filter(users::Column::PasswordResetTokenHash.eq(hash))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(Error::BadRequest(INVALID.into()));
    }
    revoke_all_sessions(&txn, user.id, None, "password_reset").await?;
    txn.commit().await?;
    events.access_changed(user.id).await;
    tracing::info!(user_id = user.id, "password reset; all sessions ended");
    Ok(())
}

fn new_password_for(user: &users::Model, raw: &str) -> Result<NewPassword> {
    let personal = [
        email_local_part(&user.email),
        &user.username,
        &user.first_name,
        &user.last_name,
    ];
    NewPassword::parse(raw, &personal).map_err(|m| Error::invalid("new_password", m))
}

/// Checks the signed-in user's current password, throttled like sign-in.
async fn confirm_password(
    db: &DatabaseConnection,
    auth: &Auth,
    user: &users::Model,
    password: &str,
) -> Result<()> {
    presented_password(password).map_err(|m| Error::invalid("password", m))?;
    let key = format!("password:user:{}", user.id);
    let at = now().timestamp();
    if let Some(wait) = throttle::blocked_for(db, &key, at).await? {
        return Err(too_many(wait));
    }
    let matched = auth
        .hasher
        .verify(password, user.password_hash.as_deref())
        .await
        .map_err(anyhow::Error::from)?;
    if !matched {
        throttle::record_failure(db, &key, LOGIN_ACCOUNT, now().timestamp()).await?;
        return Err(Error::Forbidden("the current password is incorrect".into()));
    }
    throttle::clear(db, &key).await?;
    Ok(())
}

pub async fn change_password(
    db: &DatabaseConnection,
    events: &Events,
    auth: &Auth,
    user: &users::Model,
    session: &sessions::Model,
    current: &str,
    new_password: &str,
) -> Result<()> {
    let password = new_password_for(user, new_password)?;
    confirm_password(db, auth, user, current).await?;
    let hash = auth
        .hasher
        .hash(password.expose())
        .await
        .map_err(anyhow::Error::from)?;
    let txn = db.begin().await?;
    let mut active = user.clone().into_active_model();
    active.password_hash = Set(Some(hash));
    active.updated_at = Set(now());
    active.update(&txn).await?;
    revoke_all_sessions(&txn, user.id, Some(session.id), "password_changed").await?;
    txn.commit().await?;
    events.access_changed(user.id).await;
    Ok(())
}

pub async fn setup_two_factor(
    db: &DatabaseConnection,
    auth: &Auth,
    user: &users::Model,
) -> Result<totp::Enrollment> {
    if user.two_factor_enabled {
        return Err(Error::Conflict(
            "two-factor authentication is already on; disable it first".into(),
        ));
    }
    let secret = totp::new_secret();
    let enrollment = totp::enrollment(&secret, &user.email)?;
    let mut active = user.clone().into_active_model();
    active.two_factor_pending_secret_enc =
        Set(Some(auth.secrets.seal(&secret, &totp_context(user.id))));
    active.updated_at = Set(now());
    active.update(db).await?;
    Ok(enrollment)
}

/// Confirms the pending secret with its first code; returns the recovery codes (shown once).
pub async fn enable_two_factor(
    db: &DatabaseConnection,
    auth: &Auth,
    user: &users::Model,
    code: &str,
) -> Result<Vec<String>> {
    if user.two_factor_enabled {
        return Err(Error::Conflict(
            "two-factor authentication is already on".into(),
        ));
    }
    let Some(pending) = user.two_factor_pending_secret_enc.clone() else {
        return Err(Error::Conflict(
            "no pending secret: call POST /api/v1/auth/2fa/setup first".into(),
        ));
    };
    let key = second_factor_key(user.id);
    let at = now().timestamp();
    if let Some(wait) = throttle::blocked_for(db, &key, at).await? {
        return Err(too_many(wait));
    }
    let secret = auth
        .secrets
        .open(&pending, &totp_context(user.id))
        .map_err(anyhow::Error::from)?;
    let Some(step) = totp::matching_step(&secret, &user.email, code, at as u64)? else {
        throttle::record_failure(db, &key, SECOND_FACTOR, at).await?;
        return Err(Error::invalid(
            "code",
            "the code does not match the secret; check the authenticator's clock",
        ));
    };
    let txn = db.begin().await?;
    let enabled = users::Entity::update_many()
        .col_expr(users::Column::TwoFactorEnabled, Expr::value(true))
        .col_expr(
            users::Column::TwoFactorSecretEnc,
            Expr::value(pending.clone()),
        )
        .col_expr(
            users::Column::TwoFactorPendingSecretEnc,
            Expr::value(Option::<String>::None),
        )
        .col_expr(users::Column::TwoFactorLastStep, Expr::value(step as i64))
        .col_expr(users::Column::UpdatedAt, Expr::value(now()))
        .filter(users::Column::Id.eq(user.id))
        .filter(users::Column::TwoFactorEnabled.eq(false))
        .filter(users::Column::TwoFactorPendingSecretEnc.eq(pending))
        .exec(&txn)
        .await?;
    if enabled.rows_affected != 1 {
        return Err(Error::Conflict(
            "two-factor setup changed meanwhile; start again".into(),
        ));
    }
    let codes = replace_recovery_codes(&txn, user.id).await?;
    txn.commit().await?;
    throttle::clear(db, &key).await?;
    Ok(codes)
}

/// Password and a current code, for turning 2FA off or replacing recovery codes.
async fn confirm_password_and_code(
    db: &DatabaseConnection,
    auth: &Auth,
    user: &users::Model,
    password: &str,
    code: &str,
) -> Result<()> {
    if !user.two_factor_enabled {
        return Err(Error::Conflict("two-factor authentication is off".into()));
    }
    confirm_password(db, auth, user, password).await?;
    let key = second_factor_key(user.id);
    let at = now().timestamp();
    if let Some(wait) = throttle::blocked_for(db, &key, at).await? {
        return Err(too_many(wait));
    }
    if !accept_totp(db, auth, user, code).await? {
        throttle::record_failure(db, &key, SECOND_FACTOR, at).await?;
        return Err(Error::Forbidden(BAD_CODE.into()));
    }
    throttle::clear(db, &key).await?;
    Ok(())
}

pub async fn disable_two_factor(
    db: &DatabaseConnection,
    auth: &Auth,
    user: &users::Model,
    password: &str,
    code: &str,
) -> Result<()> {
    confirm_password_and_code(db, auth, user, password, code).await?;
    let txn = db.begin().await?;
    let mut active = user.clone().into_active_model();
    active.two_factor_enabled = Set(false);
    active.two_factor_secret_enc = Set(None);
    active.two_factor_pending_secret_enc = Set(None);
    active.two_factor_last_step = Set(None);
    active.updated_at = Set(now());
    active.update(&txn).await?;
    recovery_codes::Entity::delete_many()
        .filter(recovery_codes::Column::UserId.eq(user.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn regenerate_recovery_codes(
    db: &DatabaseConnection,
    auth: &Auth,
    user: &users::Model,
    password: &str,
    code: &str,
) -> Result<Vec<String>> {
    confirm_password_and_code(db, auth, user, password, code).await?;
    let txn = db.begin().await?;
    let codes = replace_recovery_codes(&txn, user.id).await?;
    txn.commit().await?;
    Ok(codes)
}

use std::sync::Arc;

use super::*;

/// Requests of one email address for a reset link, per hour.
const FORGOT_PER_EMAIL: i32 = 3;
/// Requests for reset links from one client address, per hour (whatever the addresses asked for).
const FORGOT_PER_CLIENT: i32 = 10;
const FORGOT_WINDOW_SECS: i64 = 3600;

/// "Forgot password": always 202 with no hint whether the address has an account. The answer is
/// given before the address is even looked up: the lookup, the token and the mail happen after, in
/// the background, so known and unknown addresses take the same time by construction. Limited per
/// address as typed and per client (429 alike for known and unknown addresses).
pub async fn forgot_password(
    db: &DatabaseConnection,
    auth: &Arc<Auth>,
    email: &str,
    client: &Client,
) -> Result<()> {
    let email = Email::parse(email).map_err(|m| Error::invalid("email", m))?;
    let per_email = format!(
        "forgot:email:{}",
        crate::security::tokens::sha256_hex(email.as_str())
    );
    let per_client = format!(
        "forgot:address:{}",
        client.ip.as_deref().unwrap_or("unknown")
    );
    let limits = [
        (per_email.as_str(), FORGOT_PER_EMAIL),
        (per_client.as_str(), FORGOT_PER_CLIENT),
    ];
    let at = now().timestamp();
    if let Some(wait) = throttle::take_all(db, &limits, FORGOT_WINDOW_SECS, at).await? {
        return Err(too_many(wait));
    }
    let (db, auth) = (db.clone(), auth.clone());
    tokio::spawn(async move {
        if let Err(error) = send_reset_link(&db, &auth, &email).await {
            tracing::error!(%error, "a password reset link could not be issued");
        }
    });
    Ok(())
}

/// Issues a reset token for the active account of `email`, if there is one, and mails its link.
async fn send_reset_link(db: &DatabaseConnection, auth: &Auth, email: &Email) -> Result<()> {
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
    let password_hash = auth.hasher.hash(password.expose()).await?;

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

pub(super) fn new_password_for(user: &users::Model, raw: &str) -> Result<NewPassword> {
    let personal = [
        email_local_part(&user.email),
        &user.username,
        &user.first_name,
        &user.last_name,
    ];
    NewPassword::parse(raw, &personal).map_err(|m| Error::invalid("new_password", m))
}

/// Checks the signed-in user's current password, throttled like sign-in.
pub(super) async fn confirm_password(
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
        .await?;
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
    let hash = auth.hasher.hash(password.expose()).await?;
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

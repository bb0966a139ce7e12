use super::*;

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

    let hash = auth.hasher.hash(password.expose()).await?;
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

pub(super) async fn issue_verification_token(
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

pub(super) fn send_verification(auth: &Auth, user: &users::Model, token: &str) {
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

/// Verification emails one account may ask for again, per hour.
const RESENDS_PER_HOUR: i32 = 3;

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
    let key = format!("verify-resend:user:{}", user.id);
    let limit = [(key.as_str(), RESENDS_PER_HOUR)];
    if let Some(wait) = throttle::take_all(db, &limit, 3600, now().timestamp()).await? {
        return Err(too_many(wait));
    }
    let token = issue_verification_token(db, user).await?;
    send_verification(auth, user, &token);
    Ok(())
}

use super::*;
use crate::rules::Text;

/// What /auth/login takes as `login`: an email or a username.
pub const LOGIN: Text = Text::between(1, 254);
/// A recovery code as typed (only letters and digits count; case, spaces and dashes are ignored).
pub const RECOVERY_CODE: Text = Text::between(1, 64);

crate::rule_schemas! {
    login_schema => LOGIN;
    recovery_code_schema => RECOVERY_CODE;
}

pub(super) async fn find_by_login(
    db: &impl ConnectionTrait,
    login: &str,
) -> Result<Option<users::Model>> {
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
    if LOGIN.check(login).is_err() {
        errors.add("login", "must be your email or username");
    }
    errors.check("password", presented_password(password));
    errors.finish()?;

    let user = find_by_login(db, login).await?;
    let at = now().timestamp();
    let (account, address) = (account_key(login, user.as_ref()), address_key(client));
    let buckets = throttle::lookup(db, &[&account, &address]).await?;
    if let Some(wait) = throttle::longest_wait(&buckets, at) {
        return Err(too_many(wait));
    }

    // Unknown users are verified against a dummy hash: the same work, the same answer.
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let matched = auth.hasher.verify(password, stored).await?;
    let known_id = user.as_ref().map(|u| u.id);
    let Some(user) = user.filter(|_| matched) else {
        return Err(failed_sign_in(db, &account, &address, known_id).await);
    };
    if user.status != UserStatus::Active {
        return Err(Error::Forbidden(
            "this account is suspended or deactivated".into(),
        ));
    }
    if buckets.iter().any(|b| b.key == account) {
        throttle::clear(db, &account).await?;
    }

    let user = signed_in(db, auth, user, password).await?;
    if user.two_factor_enabled {
        return second_factor_challenge(db, &user, client).await;
    }
    let tokens = start_session(db, auth, user, client).await?;
    Ok(LoginOutcome::SignedIn(Box::new(tokens)))
}

/// Counts a failed sign-in against the account identifier, the client address and (when known) the
/// account; the error to answer with.
async fn failed_sign_in(
    db: &DatabaseConnection,
    account: &str,
    address: &str,
    known_id: Option<i64>,
) -> Error {
    let counted = async {
        // The clock after hashing (which may have queued): a block starts when the failure is known.
        let at = now().timestamp();
        throttle::record_failure(db, account, LOGIN_ACCOUNT, at).await?;
        throttle::record_failure(db, address, LOGIN_ADDRESS, at).await?;
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
        Ok::<(), sea_orm::DbErr>(())
    };
    if let Err(err) = counted.await {
        return err.into();
    }
    tracing::info!("sign-in failed");
    unauthorized(BAD_CREDENTIALS)
}

/// Records a successful password check: failures reset, last sign-in now, and the hash upgraded to
/// the current parameters when it was made with older ones.
async fn signed_in(
    db: &DatabaseConnection,
    auth: &Auth,
    user: users::Model,
    password: &str,
) -> Result<users::Model> {
    let mut active = user.clone().into_active_model();
    active.failed_login_attempts = Set(0);
    active.last_login_at = Set(Some(now()));
    if let Some(hash) = user
        .password_hash
        .as_deref()
        .filter(|h| crate::security::passwords::needs_rehash(h))
    {
        tracing::info!(user_id = user.id, old = %crate::security::passwords::describe(hash), "rehashing password with current parameters");
        active.password_hash = Set(Some(auth.hasher.hash(password).await?));
    }
    Ok(active.update(db).await?)
}

/// A pending second-factor challenge for `user`; its token is returned once, only its hash stored.
async fn second_factor_challenge(
    db: &DatabaseConnection,
    user: &users::Model,
    client: &Client,
) -> Result<LoginOutcome> {
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
    Ok(LoginOutcome::SecondFactorRequired {
        mfa_token,
        expires_in: MFA_TOKEN_TTL_SECS,
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
        SecondFactor::RecoveryCode(code) => {
            RECOVERY_CODE.check(code).is_ok() && use_recovery_code(db, user.id, code).await?
        }
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

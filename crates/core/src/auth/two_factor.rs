use super::*;

/// Recovery codes are 120 random bits, shown as 6 groups of 4 base32 characters.
pub(super) fn new_recovery_code() -> String {
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

pub(super) fn normalize_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

pub(super) async fn use_recovery_code(
    db: &impl ConnectionTrait,
    user_id: i64,
    code: &str,
) -> Result<bool> {
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

pub(super) async fn remaining_recovery_codes(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<u64> {
    Ok(recovery_codes::Entity::find()
        .filter(recovery_codes::Column::UserId.eq(user_id))
        .filter(recovery_codes::Column::UsedAt.is_null())
        .count(db)
        .await?)
}

/// Replaces the user's recovery codes with a new set and returns it (shown once).
pub(super) async fn replace_recovery_codes(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Vec<String>> {
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
pub(super) async fn confirm_password_and_code(
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

/// True when `code` is valid for the user's confirmed secret at a time step later than any accepted
/// before. The step is claimed with one conditional UPDATE, so of two requests carrying the same code
/// exactly one wins.
pub(super) async fn accept_totp(
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

pub(super) fn totp_context(user_id: i64) -> String {
    format!("totp:{user_id}")
}

/// A TOTP secret sealed for `user_id` the way this module reads it back: for accounts brought over
/// from another system (the importer), whose authenticator apps must keep working.
pub fn seal_totp_secret(
    secrets: &crate::security::crypto::SecretBox,
    user_id: i64,
    secret: &[u8],
) -> String {
    secrets.seal(secret, &totp_context(user_id))
}

/// How a recovery code is stored (its SHA-256 once spaces, dashes and case are dropped): for codes
/// brought over from another system (the importer), usable once like this module's own.
pub fn recovery_code_hash(code: &str) -> String {
    sha256_hex(&normalize_recovery_code(code))
}

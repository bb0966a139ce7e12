use super::*;

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

pub(super) async fn revoke_session_by_id(
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

pub(super) const INVALID_TOKEN: &str =
    "a valid access token is required (Authorization: Bearer <token>)";

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

/// A new session (a new refresh-token family) with its first tokens.
pub(super) async fn start_session(
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

pub(super) async fn issue_tokens(
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

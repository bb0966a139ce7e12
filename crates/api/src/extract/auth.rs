//! Who is calling: the bearer token's user and session, checked against the database on every request
//! (so logout, suspension and password changes take effect immediately), and the client's address.
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use entity::sessions;
use entity::users::{self, UserRole};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::error::AppError;
use crate::security::tokens::AccessClaims;
use crate::service::Client;
use crate::service::auth::session_is_live;
use crate::state::AppState;

/// A signed-in user with a live session.
pub struct AuthUser {
    pub user: users::Model,
    pub session: sessions::Model,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let BearerClaims(claims) = BearerClaims::from_request_parts(parts, state).await?;
        load_session(state, &claims).await
    }
}

const INVALID_TOKEN: &str = "a valid access token is required (Authorization: Bearer <token>)";

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Checks an access token and its session (live, not revoked, user active).
pub async fn authenticate(state: &AppState, token: &str) -> Result<AuthUser, AppError> {
    load_session(state, &verify(state, token)?).await
}

/// Checks an access token's signature, audience and expiry (not its session).
pub fn verify(state: &AppState, token: &str) -> Result<AccessClaims, AppError> {
    state
        .auth
        .jwt
        .verify(token)
        .ok_or_else(|| AppError::Unauthorized(INVALID_TOKEN.into()))
}

/// Reads a verified token's session and user from the database and checks that the session is live.
pub async fn load_session(state: &AppState, claims: &AccessClaims) -> Result<AuthUser, AppError> {
    let (session, user) = sessions::Entity::find()
        .filter(sessions::Column::PublicId.eq(&claims.sid))
        .find_also_related(users::Entity)
        .one(&state.db)
        .await?
        .and_then(|(s, u)| Some((s, u?)))
        .ok_or_else(|| AppError::Unauthorized(INVALID_TOKEN.into()))?;
    check_live(claims, &session, &user)?;
    Ok(AuthUser { user, session })
}

/// 401 unless the session is live and belongs to the token's user.
pub fn check_live(
    claims: &AccessClaims,
    session: &sessions::Model,
    user: &users::Model,
) -> Result<(), AppError> {
    if session_is_live(session, user) && claims.sub == user.id.to_string() {
        Ok(())
    } else {
        Err(AppError::Unauthorized(
            "the session has ended; sign in again".into(),
        ))
    }
}

/// A bearer token whose signature and expiry are checked but whose session is not read yet: for the
/// course chat, which checks the session through [`crate::access_cache`].
pub struct BearerClaims(pub AccessClaims);

impl FromRequestParts<AppState> for BearerClaims {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers)
            .ok_or_else(|| AppError::Unauthorized(INVALID_TOKEN.into()))?;
        Ok(BearerClaims(verify(state, token)?))
    }
}

/// The signed-in user if there is an Authorization header (which must then be valid), else nobody.
pub struct MaybeUser(pub Option<AuthUser>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            Ok(MaybeUser(Some(
                AuthUser::from_request_parts(parts, state).await?,
            )))
        } else {
            Ok(MaybeUser(None))
        }
    }
}

/// A signed-in admin; anyone else signed in gets 403.
pub struct AdminUser(pub AuthUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = AuthUser::from_request_parts(parts, state).await?;
        if auth.user.role != UserRole::Admin {
            return Err(AppError::Forbidden("this needs the admin role".into()));
        }
        Ok(AdminUser(auth))
    }
}

/// The client's address (the peer, or X-Forwarded-For behind a trusted proxy) and user agent.
pub struct ClientInfo(pub Client);

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let forwarded = state
            .config
            .trust_forwarded_for
            .then(|| parts.headers.get("x-forwarded-for"))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|ip| ip.trim().to_string())
            .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok());
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect());
        Ok(ClientInfo(Client {
            ip: forwarded.or(peer),
            user_agent,
        }))
    }
}

//! Who is calling: the bearer token's user and session, checked against the database on every request
//! (so logout, suspension and password changes take effect immediately), and the client's address.
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use entity::sessions;
use entity::users::{self, UserRole};
use lms_core::Client;
use lms_core::auth::load_session;
use lms_core::chat::Member;
use lms_core::security::tokens::AccessClaims;
use serde::Deserialize;

use crate::error::{AppError, Error};
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
        let (session, user) = load_session(&state.db, &claims).await?;
        Ok(AuthUser { user, session })
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

/// Checks an access token's signature, audience and expiry (not its session).
pub fn verify(state: &AppState, token: &str) -> Result<AccessClaims, AppError> {
    state
        .auth
        .jwt
        .verify(token)
        .ok_or_else(|| Error::Unauthorized(INVALID_TOKEN.into()).into())
}

/// A bearer token whose signature and expiry are checked but whose session is not read yet: for the
/// course chat, which checks the session through the access cache ([`ChatMember`]).
pub struct BearerClaims(pub AccessClaims);

impl FromRequestParts<AppState> for BearerClaims {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers)
            .ok_or_else(|| Error::Unauthorized(INVALID_TOKEN.into()))?;
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
            return Err(Error::Forbidden("this needs the admin role".into()).into());
        }
        Ok(AdminUser(auth))
    }
}

/// The address your own proxies saw: the entry `hops` places from the right of X-Forwarded-For (each
/// proxy appends the address it received from). Entries to its left come from the client.
fn appended_by_proxy(header: &str, hops: usize) -> Option<String> {
    let entries: Vec<&str> = header.split(',').map(str::trim).collect();
    let index = entries.len().checked_sub(hops.max(1))?;
    let ip = entries[index];
    ip.parse::<std::net::IpAddr>()
        .is_ok()
        .then(|| ip.to_string())
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
            .and_then(|v| appended_by_proxy(v, state.config.trusted_proxy_hops));
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

/// The caller as a member of the chat of the course in the path (`/courses/{id}/...`): a live
/// session and an active or completed enrollment, or course staff. HTTP endpoints and the WebSocket
/// reach it the same way, through the instance's access cache. 401, 404 or 403 otherwise.
pub struct ChatMember(pub Member);

#[derive(Deserialize)]
struct CoursePath {
    id: i64,
}

impl ChatMember {
    /// The member for a verified token and course (what the extractor and the WebSocket share).
    pub async fn resolve(
        state: &AppState,
        claims: &AccessClaims,
        course_id: i64,
    ) -> Result<Self, AppError> {
        let member = state
            .chat_access
            .chat_member(&state.db, claims, course_id)
            .await?;
        Ok(ChatMember(member))
    }
}

impl FromRequestParts<AppState> for ChatMember {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let BearerClaims(claims) = BearerClaims::from_request_parts(parts, state).await?;
        let super::Path(CoursePath { id }) =
            super::Path::<CoursePath>::from_request_parts(parts, state).await?;
        Self::resolve(state, &claims, id).await
    }
}

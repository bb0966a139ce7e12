//! The `Idempotency-Key` request header on the endpoints that create something: a retry with the same
//! key and request gets the first answer (status and body, marked `Idempotent-Replayed: true`) and
//! creates nothing, on any instance; the same key with a different request is 422; a retry while the
//! first is still running is 409. The store and its rules are `lms_core::idempotency`; this is the
//! HTTP side.
//!
//! Once claimed, a request runs to its end even when its client is gone or the time limit answered
//! 503 first, so its outcome is always recorded: a retry then gets it instead of creating twice.
use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lms_core::idempotency::{self, Answer, Claim, MAX_KEY_CHARS};
use lms_core::rules::Text;

use crate::error::{AppError, Error};
use crate::extract::auth::verify;
use crate::extract::bearer_token;
use crate::state::AppState;

/// The key: 1 to 255 visible ASCII characters (spaces and tabs inside; HTTP trims them around it).
pub const KEY: Text = Text::between(1, MAX_KEY_CHARS).pattern("^[!-~](?:[\\t -~]*[!-~])?$");

pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The create endpoints that honour the header (as routed). Documented on each of them.
pub const CREATES: &[&str] = &[
    "/api/v1/auth/register",
    "/api/v1/courses",
    "/api/v1/courses/{id}/enrollments",
    "/api/v1/courses/{id}/messages",
];

/// The one create endpoint open to callers without a token.
const ANONYMOUS_CREATE: &str = "/api/v1/auth/register";

/// The middleware (on every route; it acts on POSTs to [`CREATES`] that carry the header).
pub async fn layer(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let creates =
        request.method() == Method::POST && matched.is_some_and(|m| CREATES.contains(&m.as_str()));
    let key = request.headers().get(&HEADER).cloned();
    match (creates, key) {
        (true, Some(key)) => once(state, key, request, next)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        _ => next.run(request).await,
    }
}

async fn once(
    state: AppState,
    key: HeaderValue,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    // Whose key it is: the signed-in user, or nobody in particular (registration).
    let caller = bearer_token(request.headers())
        .and_then(|token| verify(&state, token).ok())
        .map(|claims| format!("user:{}", claims.sub));
    let caller = match caller {
        Some(user) => user,
        None if request.uri().path() == ANONYMOUS_CREATE => "anonymous".to_string(),
        // Not signed in where that is required: the handler answers 401, before the key matters.
        None => return Ok(next.run(request).await),
    };
    let key = key
        .to_str()
        .ok()
        .filter(|k| KEY.check(k).is_ok())
        .ok_or_else(|| {
            Error::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters"
            ))
        })?
        .to_string();
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, state.config.max_body_bytes)
        .await
        .map_err(|_| AppError::body_too_large())?;
    let fingerprint = idempotency::fingerprint(parts.method.as_str(), parts.uri.path(), &body);
    let request = Request::from_parts(parts, Body::from(body));
    // From the claim on, nothing may be cut short by the client going away or the time limit: a
    // claim without its outcome would answer 409 to every retry.
    let run = tokio::spawn(claim_and_run(
        state,
        caller,
        key,
        fingerprint,
        request,
        next,
    ));
    run.await.map_err(|e| {
        AppError::from(Error::Internal(anyhow::anyhow!(
            "an idempotent request did not finish: {e}"
        )))
    })?
}

async fn claim_and_run(
    state: AppState,
    caller: String,
    key: String,
    fingerprint: String,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    match idempotency::claim(&state.db, &caller, &key, &fingerprint).await? {
        Claim::Replay(answer) => Ok(replay(answer)),
        Claim::InProgress => Err(Error::Conflict(
            "a request with this Idempotency-Key is still being processed; retry shortly".into(),
        )
        .into()),
        Claim::Mismatch => Err(AppError::invalid(
            "Idempotency-Key",
            "was already used with a different request",
        )),
        Claim::Fresh => Ok(run_and_record(state, caller, key, request, next).await),
    }
}

/// Runs the claimed request and records its answer; a server-side failure releases the key instead.
async fn run_and_record(
    state: AppState,
    caller: String,
    key: String,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let recorded = if parts.status.is_server_error() {
        idempotency::release(&state.db, &caller, &key).await
    } else {
        let answer = Answer {
            status: parts.status.as_u16(),
            content_type: parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        idempotency::complete(&state.db, &caller, &key, &answer).await
    };
    if let Err(error) = recorded {
        tracing::error!(%error, "the outcome of an idempotent request could not be recorded");
    }
    Response::from_parts(parts, Body::from(body))
}

fn replay(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    if let Some(value) = answer
        .content_type
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

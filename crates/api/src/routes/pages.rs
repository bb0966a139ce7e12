//! The pages the links in emails open. A link must work when it is clicked, in a plain browser, with
//! no web app in front: the verification link verifies and says so.
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use lms_core::auth as service;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::AppError;
use crate::extract::Query;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(verify_email_page))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// The token from the emailed link.
    pub token: Option<String>,
}

/// The emailed verification link (`LMS_PUBLIC_URL/verify-email?token=...`): verifies the address and
/// answers a short HTML page (200), or a page saying the link is invalid, used or expired (400).
/// Apps that show their own page call `POST /api/v1/auth/verify-email` instead.
#[utoipa::path(get, path = "/verify-email", tag = "pages", params(LinkQuery),
    responses((status = 200, description = "Verified", content_type = "text/html", body = String),
        (status = 400, description = "Invalid, used or expired link", content_type = "text/html", body = String)))]
async fn verify_email_page(State(state): State<AppState>, Query(q): Query<LinkQuery>) -> Response {
    let token = q.token.unwrap_or_default();
    match service::verify_email(&state.db, &token).await {
        Ok(()) => page(
            StatusCode::OK,
            "Email address verified",
            "Your email address is verified. You can close this page and sign in.",
        ),
        Err(lms_core::Error::BadRequest(_)) => page(
            StatusCode::BAD_REQUEST,
            "Link not valid",
            "This verification link is invalid, was already used or has expired. Sign in and ask for a new one.",
        ),
        Err(other) => AppError::from(other).into_response(),
    }
}

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body><main><h1>{title}</h1><p>{message}</p></main></body></html>"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

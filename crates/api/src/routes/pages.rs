//! The pages the links in emails open. A link must work when it is clicked, in a plain browser, with
//! no web app in front: the verification link verifies and says so; the reset link shows a form for
//! the new password.
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use lms_core::auth as service;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{AppError, Problem};
use crate::extract::Query;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(verify_email_page))
        .routes(routes!(reset_password_page, reset_password_form))
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
#[utoipa::path(get, operation_id = "showVerifyEmailPage", path = "/verify-email", tag = "pages", params(LinkQuery),
    responses((status = 200, description = "Verified", content_type = "text/html", body = String),
        (status = 400, description = "Invalid, used or expired link (HTML), or a malformed request (problem+json)", content((String = "text/html"), (Problem = "application/problem+json")))))]
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

/// The emailed reset link (`LMS_PUBLIC_URL/reset-password?token=...`): a form for the new password,
/// which posts to the same path. Works without JavaScript.
#[utoipa::path(get, operation_id = "showResetPasswordPage", path = "/reset-password", tag = "pages", params(LinkQuery),
    responses((status = 200, description = "The form", content_type = "text/html", body = String)))]
async fn reset_password_page(Query(q): Query<LinkQuery>) -> Response {
    let token = escape(&q.token.unwrap_or_default());
    let form = format!(
        "<form method=\"post\" action=\"/reset-password\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label>New password (at least 12 characters) \
         <input type=\"password\" name=\"new_password\" minlength=\"12\" maxlength=\"128\" required \
         autocomplete=\"new-password\"></label> <button type=\"submit\">Set password</button></form>"
    );
    page_with(StatusCode::OK, "Choose a new password", "", &form)
}

/// What the reset form posts (urlencoded; read field by field, this type documents it).
#[derive(utoipa::ToSchema)]
pub struct ResetForm {
    /// The token from the emailed link.
    pub token: String,
    /// 12 to 128 characters; not a common password, not containing your email, username or name.
    pub new_password: String,
}

/// The reset form's submission (`token`, `new_password`, urlencoded): sets the password (every
/// session ends; nobody is signed in) and says so, or says why not (400 link, 422 password).
#[utoipa::path(post, operation_id = "submitResetPasswordForm", path = "/reset-password", tag = "pages",
    request_body(content = ResetForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Password set", content_type = "text/html", body = String),
        (status = 400, description = "Invalid, used or expired link (HTML), or a malformed request (problem+json)", content((String = "text/html"), (Problem = "application/problem+json"))),
        (status = 422, description = "The password does not follow the policy", content_type = "text/html", body = String)))]
async fn reset_password_form(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let raw = String::from_utf8_lossy(&body);
    let pairs = match crate::extract::text::form_pairs(&raw) {
        Ok(pairs) => pairs,
        Err(error) => return error.into_response(),
    };
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (token, password) = (field("token"), field("new_password"));
    let result =
        service::reset_password(&state.db, &state.events, &state.auth, &token, &password).await;
    match result {
        Ok(()) => page(
            StatusCode::OK,
            "Password changed",
            "Your password is changed and every session has ended. Sign in with the new password.",
        ),
        Err(lms_core::Error::BadRequest(_)) => page(
            StatusCode::BAD_REQUEST,
            "Link not valid",
            "This reset link is invalid, was already used or has expired. Ask for a new one.",
        ),
        Err(lms_core::Error::Validation(errors)) => {
            let why: Vec<String> = errors.values().flatten().cloned().collect();
            let retry = format!(
                "<p><a href=\"/reset-password?token={}\">Try another password</a></p>",
                escape(&token)
            );
            page_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Password not accepted",
                &format!("The password {}.", why.join("; ")),
                &retry,
            )
        }
        Err(other) => AppError::from(other).into_response(),
    }
}

/// Text for HTML: the characters that could open markup are escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    page_with(status, title, message, "")
}

/// A page; `message` is text (escaped here), `extra` is markup made by this module.
fn page_with(status: StatusCode, title: &str, message: &str, extra: &str) -> Response {
    let message = escape(message);
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body><main><h1>{title}</h1><p>{message}</p>{extra}</main></body></html>"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

//! The error of the HTTP layer, rendered as RFC 9457 `application/problem+json`: the domain's
//! [`Error`] plus what only HTTP can get wrong (body size, content type).
//!
//! This is the only place that chooses HTTP statuses for errors. 5xx bodies say nothing internal; the
//! cause is logged once, inside the request's span (which carries the request id).
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use lms_core::error::{Error, FieldErrors};
use sea_orm::{DbErr, SqlErr};
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";
/// `Retry-After` of a 503: when the database (or another dependency) may be back.
pub const UNAVAILABLE_RETRY_SECS: u64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Domain(#[from] Error),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        AppError::Domain(err.into())
    }
}

/// RFC 9457 problem details, as every error response carries them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem, e.g. `urn:lms:problem:validation`.
    #[serde(rename = "type")]
    #[schema(example = "urn:lms:problem:validation")]
    pub kind: String,
    /// Short summary of the kind of problem.
    #[schema(example = "Unprocessable Entity")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 422)]
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// Field name -> messages, for validation problems; null otherwise.
    #[schema(value_type = Option<std::collections::HashMap<String, Vec<String>>>)]
    pub errors: Option<FieldErrors>,
}

/// The detail of every 413, whichever layer refuses the body.
pub const BODY_TOO_LARGE: &str = "the request body is larger than the server accepts";

impl AppError {
    pub fn body_too_large() -> Self {
        AppError::PayloadTooLarge(BODY_TOO_LARGE.into())
    }

    /// A validation error on one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Domain(Error::invalid(field, message))
    }

    pub fn status(&self) -> StatusCode {
        let domain = match self {
            AppError::PayloadTooLarge(_) => return StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => return StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Domain(domain) => domain,
        };
        match domain {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) | Error::NotReady(..) => StatusCode::CONFLICT,
            Error::Gone(_) => StatusCode::GONE,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Database(err) if lms_core::db::is_unreachable(err) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::Database(err) if lms_core::db::is_contention(err) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::Database(err) if lms_core::db::is_bad_value(err) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Error::Database(err) => match err.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => StatusCode::CONFLICT,
                Some(SqlErr::ForeignKeyConstraintViolation(_)) => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn detail(&self) -> String {
        match self {
            AppError::Domain(Error::Database(err)) if lms_core::db::is_unreachable(err) => {
                "the database cannot be reached right now; retry shortly".into()
            }
            AppError::Domain(Error::Database(err)) if lms_core::db::is_contention(err) => {
                "the database was busy with conflicting changes and wrote nothing; retry shortly".into()
            }
            AppError::Domain(Error::Database(err)) if lms_core::db::is_bad_value(err) => {
                "a value does not fit what the database stores (too long, out of range, or not allowed)"
                    .into()
            }
            AppError::Domain(Error::Database(err)) => match err.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => {
                    "a resource with these unique values already exists".into()
                }
                Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                    "the request refers to something that does not exist".into()
                }
                _ => "an internal error occurred; it has been logged".into(),
            },
            AppError::Domain(Error::Internal(_)) => {
                "an internal error occurred; it has been logged".into()
            }
            other => other.to_string(),
        }
    }
}

/// The `type` URI of problems with a given status.
pub fn problem_type(status: StatusCode) -> String {
    let slug = match status {
        StatusCode::UNPROCESSABLE_ENTITY => "validation".to_string(),
        other => other
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
            .replace([' ', '\''], "-"),
    };
    format!("urn:lms:problem:{slug}")
}

/// A problem+json response for a status and detail (also used for errors that never were an AppError,
/// such as axum's own 405).
pub fn problem_response(
    status: StatusCode,
    detail: String,
    errors: Option<FieldErrors>,
) -> Response {
    let problem = Problem {
        kind: problem_type(status),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail,
        errors,
    };
    let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let detail = self.detail();
        let retry_after = match &self {
            AppError::Domain(Error::TooManyRequests { retry_after_secs }) => {
                Some(*retry_after_secs)
            }
            _ if status == StatusCode::SERVICE_UNAVAILABLE => Some(UNAVAILABLE_RETRY_SECS),
            _ => None,
        };
        let unauthorized = matches!(self, AppError::Domain(Error::Unauthorized(_)));
        let errors = match self {
            AppError::Domain(Error::Validation(errors) | Error::NotReady(_, errors)) => {
                Some(errors)
            }
            _ => None,
        };
        let mut response = problem_response(status, detail, errors);
        let headers = response.headers_mut();
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if unauthorized {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="lms""#),
            );
        }
        response
    }
}

pub type AppResult<T> = Result<T, AppError>;

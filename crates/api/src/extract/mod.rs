//! Axum's extractors, wrapped so that every rejection becomes the same problem+json as other errors.
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub mod auth;
pub mod text;
pub use auth::{
    AdminUser, AuthUser, BearerClaims, ChatMember, ClientInfo, MaybeUser, bearer_token,
};

use crate::error::{AppError, Error};

/// JSON body in, JSON body out.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(mut value) = axum::Json::<serde_json::Value>::from_request(req, state)
            .await
            .map_err(json_rejection)?;
        text::check_body(&value)?;
        integral_numbers_as_integers(&mut value);
        serde_path_to_error::deserialize(value)
            .map(Json)
            .map_err(|e| {
                AppError::invalid(
                    "body",
                    format!("the JSON does not fit the expected shape: {e}"),
                )
            })
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// JSON (and JSON Schema's `integer`) do not tell `1.0` from `1`: a number with no fraction is read as
/// the integer it is, so `{"rating": 1.0}` is `{"rating": 1}` to every field typed as an integer.
fn integral_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
            {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(integral_numbers_as_integers),
        _ => {}
    }
}

fn json_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::JsonDataError(e) => AppError::invalid(
            "body",
            format!(
                "the JSON does not fit the expected shape: {}",
                e.body_text()
            ),
        ),
        JsonRejection::JsonSyntaxError(e) => {
            Error::BadRequest(format!("malformed JSON: {}", e.body_text())).into()
        }
        JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType(
            "expected a body with Content-Type: application/json".into(),
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => AppError::body_too_large(),
        other => Error::BadRequest(other.body_text()).into(),
    }
}

/// Path parameters.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                Error::BadRequest(format!("invalid path: {}", rejection.body_text()))
            })?;
        text::check_path_params(raw.iter())?;
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection: PathRejection| {
                Error::BadRequest(format!("invalid path: {}", rejection.body_text())).into()
            })
    }
}

/// Query string parameters.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        text::check_query(parts.uri.query().unwrap_or_default())?;
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection: QueryRejection| {
                Error::BadRequest(format!("invalid query string: {}", rejection.body_text())).into()
            })
    }
}

//! The one error type of the domain. It says what went wrong in the domain's words; the HTTP layer
//! (`api::error`) is the only place that turns it into a status.
use std::collections::BTreeMap;

use sea_orm::DbErr;

/// Field name -> messages, for validation failures.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request as a whole makes no sense (malformed input that is not one field's fault).
    #[error("{0}")]
    BadRequest(String),
    #[error("the request has invalid fields")]
    Validation(FieldErrors),
    /// No valid credentials, or the session behind them has ended.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts the current state (a state machine refused, a duplicate).
    #[error("{0}")]
    Conflict(String),
    /// The resource's stored fields do not allow this yet (publishing a course without a
    /// description): what is missing, by field. A conflict with its state, not a bad request.
    #[error("{0}")]
    NotReady(String, FieldErrors),
    /// The operation is no more; the message names what replaces it.
    #[error("{0}")]
    Gone(String),
    #[error("too many requests; retry in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// A dependency (the database, a mail server, an unconfigured integration) cannot serve now.
    #[error("{0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(DbErr),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// A validation error on one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field.to_string(), vec![message.into()]);
        Error::Validation(errors)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<DbErr> for Error {
    /// An update that found no row: what it changes was deleted meanwhile (by another request).
    fn from(err: DbErr) -> Self {
        match err {
            DbErr::RecordNotUpdated => {
                Error::NotFound("it was deleted while this request ran".into())
            }
            other => Error::Database(other),
        }
    }
}

impl From<crate::security::passwords::HashError> for Error {
    fn from(err: crate::security::passwords::HashError) -> Self {
        use crate::security::passwords::HashError;
        match err {
            HashError::Busy => Error::Unavailable(
                "too many sign-ins are being checked right now; retry shortly".into(),
            ),
            other => Error::Internal(other.into()),
        }
    }
}

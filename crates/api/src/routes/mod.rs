//! One module per resource; handlers stay thin.
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub mod auth;
pub mod chat;
pub mod courses;
pub mod curriculum;
pub mod enrollments;
pub mod health;
pub mod live;
pub mod pages;
pub mod users;

/// Everything under `/api/v1`.
pub fn api_v1() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(courses::router())
        .merge(curriculum::router())
        .merge(enrollments::router())
        .merge(chat::router())
        .merge(live::router())
}

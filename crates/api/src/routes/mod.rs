//! One module per resource; handlers stay thin.
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub mod health;

/// Everything under `/api/v1`.
pub fn api_v1() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}

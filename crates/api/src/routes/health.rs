//! Liveness and readiness probes (outside /api/v1: they are for the platform, not for clients).
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{AppResult, Error};

/// `/health/ready` answers within this long, database or not.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
use crate::extract::Json;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ok")]
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    #[schema(example = "postgres")]
    pub database: &'static str,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
}

/// The process is up and serving HTTP.
#[utoipa::path(get, operation_id = "checkLiveness", path = "/health/live", tag = "health",
    responses((status = 200, description = "Alive", body = Health)))]
async fn live() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The service can reach its database and take traffic.
#[utoipa::path(get, operation_id = "checkReadiness", path = "/health/ready", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "The database cannot be reached", body = crate::error::Problem,
            content_type = "application/problem+json"),
    ))]
async fn ready(State(state): State<AppState>) -> AppResult<Json<Readiness>> {
    let unreachable = || Error::Unavailable("the database cannot be reached".into());
    match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check: database unreachable");
            return Err(unreachable().into());
        }
        Err(_) => {
            tracing::warn!("readiness check: the database did not answer within a second");
            return Err(unreachable().into());
        }
    }
    Ok(Json(Readiness {
        status: "ok",
        database: state.backend.name(),
    }))
}

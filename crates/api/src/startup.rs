//! Builds the application from a `Config`: database, migrations, router, listener.
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use lms_core::chat::PostWriter;
use lms_core::chat::access::AccessCache;
use lms_core::chat::feed::Hub;
use lms_core::chat::pages::PageCache;
use lms_core::db::{Backend, redact_url};
use lms_core::events::Events;
use lms_core::mail::Mailer;
use lms_core::security::Auth;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::error::{AppError, Error, UNAVAILABLE_RETRY_SECS, problem_response};
use crate::openapi::ApiDoc;
use crate::routes;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    /// Opens the database, applies pending migrations (unless disabled), binds the listener.
    /// Fails, with a message naming what went wrong, instead of starting half-ready.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let mailer = match &config.smtp_url {
            Some(url) => Mailer::smtp(url, &config.mail_from)?,
            None => Mailer::Log,
        };
        Self::build_with_mailer(config, mailer).await
    }

    /// As `build`, sending mail through `mailer` (tests pass `Mailer::memory()` to read what was sent).
    pub async fn build_with_mailer(config: Config, mailer: Mailer) -> anyhow::Result<Self> {
        let secret = config.load_secret()?;
        let auth = Arc::new(Auth::new(&config.auth_settings(), &secret, mailer)?);
        let db = config.open_database().await?;
        let backend = Backend::of(&db)?;
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let chat_writer = Arc::new(PostWriter::for_backend(
            db.clone(),
            backend,
            config.chat_posts_per_minute,
        ));
        let chat_access = Arc::new(AccessCache::new(Duration::from_secs(
            config.chat_access_cache_secs,
        )));
        let hub = Hub::start(db.clone(), backend, chat_access.clone());
        let state = AppState {
            events: Events::new(db.clone(), backend, hub.clone()),
            hub,
            chat_access,
            chat_writer,
            pages: Arc::new(PageCache::new(config.chat_page_cache_bytes())),
            db,
            backend,
            config: Arc::new(config),
            auth,
            cursors: secret.cursors(),
        };
        let router = router(state.clone());
        lms_core::housekeeping::spawn(state.db.clone());
        lms_core::live::reminders::spawn(
            state.db.clone(),
            state.events.clone(),
            state.auth.mailer.clone(),
            (state.config.live_reminder_minutes > 0)
                .then(|| chrono::Duration::minutes(state.config.live_reminder_minutes.into())),
            state.config.live_grace(),
        );
        let target = redact_url(&state.config.database_url);
        tracing::info!(database = %target, address = %listener.local_addr()?, "LMS API ready");
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.state.config.bind)
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await?;
        self.state.db.clone().close().await.ok();
        Ok(())
    }
}

/// The whole HTTP surface: `/api/v1/...`, health probes, the OpenAPI document and Swagger UI.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", routes::api_v1())
        .merge(routes::health::router())
        .merge(routes::pages::router())
        .split_for_parts();
    let openapi = crate::openapi::complete(
        openapi,
        lms_core::chat::Limits {
            max_chars: state.config.chat_max_message_chars,
        },
    );
    let config = state.config.clone();
    let app = api
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::idempotency::layer,
        ))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    with_http_layers(app, &config)
}

/// What every request goes through: a request id (in every log line and the response), tracing, the
/// problem+json shape for errors made by layers, a panic turned into a 500, the time limit and the
/// body limit.
fn with_http_layers(app: Router, config: &Config) -> Router {
    let http = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let request_id = request
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %request.method(), uri = %request.uri().path(), request_id)
            })
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(middleware::from_fn(problem_for_bare_errors))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout(),
        ))
        .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
        .layer(DefaultBodyLimit::max(config.max_body_bytes));
    app.layer(http)
}

/// A handler that panicked: 500 problem+json, and the panic logged once inside the request's span
/// (with its request id). The connection stays usable.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    tracing::error!(panic = %message, "request handler panicked");
    problem_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "an internal error occurred; it has been logged".into(),
        None,
    )
}

async fn not_found() -> AppError {
    Error::NotFound("no route matches this path".into()).into()
}

async fn method_not_allowed() -> Response {
    problem_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "this path does not support this method".into(),
        None,
    )
}

/// Errors produced by layers rather than handlers (body limit, timeout, ...) come with a plain-text
/// or empty body; give them the problem+json shape every client expects. Headers such as `Allow` stay.
async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    // Bare: no body type, or plain text. Problems, and pages made for people (HTML), stay as they are.
    let bare = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !bare {
        return response;
    }
    let detail = match status {
        StatusCode::PAYLOAD_TOO_LARGE => crate::error::BODY_TOO_LARGE,
        StatusCode::SERVICE_UNAVAILABLE => {
            "the request took too long or the service is unavailable"
        }
        StatusCode::METHOD_NOT_ALLOWED => "this path does not support this method",
        _ => status.canonical_reason().unwrap_or("error"),
    };
    let (parts, _) = response.into_parts();
    let mut problem = problem_response(status, detail.to_string(), None);
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        problem
            .headers_mut()
            .entry(header::RETRY_AFTER)
            .or_insert(UNAVAILABLE_RETRY_SECS.into());
    }
    problem
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_problem_json_with_a_request_id() {
        async fn boom() -> &'static str {
            panic!("boom")
        }
        let app = with_http_layers(
            Router::new().route("/boom", get(boom)),
            &Config::new("sqlite::memory:"),
        );
        let request = axum::http::Request::get("/boom")
            .body(Body::empty())
            .unwrap_or_default();
        let response = app.oneshot(request).await.unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let content_type = response.headers().get(header::CONTENT_TYPE);
        assert_eq!(
            content_type.and_then(|v| v.to_str().ok()),
            Some(crate::error::PROBLEM_JSON)
        );
        assert!(response.headers().contains_key(&REQUEST_ID));
    }
}

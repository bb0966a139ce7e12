//! The OpenAPI document, generated from the handlers' annotations.
use axum::http::StatusCode;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::{Modify, OpenApi};

use crate::error::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "LMS API",
        description = "Learning management system: accounts with TOTP two-factor auth, courses and \
            enrollments, course chat. Every error is RFC 9457 `application/problem+json` (schema `Problem`).",
        license(name = "MIT OR Apache-2.0"),
    ),
    components(schemas(Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness and readiness probes"),
        (name = "auth", description = "Accounts, sign-in, tokens and sessions"),
        (name = "2fa", description = "TOTP two-factor authentication"),
        (name = "users", description = "Your profile"),
        (name = "admin", description = "User administration (admins only)"),
        (name = "courses", description = "The catalog and course management"),
        (name = "enrollments", description = "Enrolling, progress, certificates, reviews"),
        (name = "payments", description = "The payment provider's webhook"),
        (name = "chat", description = "Course chat: messages, threads, moderation, reactions, the change feed and its WebSocket"),
        (name = "pages", description = "The pages the links in emails open (HTML, outside /api/v1)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// What every operation of the finished document must say, done once for all of them (run on the
/// document after the routes are merged into it): a description on every response (OpenAPI 3.1
/// requires one; the status's reason phrase unless the annotation gave one), `security: []` on
/// operations that need no token (so they do not inherit one), and the server the paths are relative
/// to.
pub fn complete(openapi: &mut utoipa::openapi::OpenApi) {
    openapi.servers = Some(vec![Server::new("/")]);
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
        ];
        for operation in operations.into_iter().flatten() {
            describe_responses(operation);
            operation.security.get_or_insert_with(Vec::new);
        }
    }
}

fn describe_responses(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        if let RefOr::T(response) = response
            && response.description.is_empty()
        {
            response.description = status
                .parse::<u16>()
                .ok()
                .and_then(|code| StatusCode::from_u16(code).ok())
                .and_then(|code| code.canonical_reason())
                .unwrap_or("Response")
                .to_string();
        }
    }
}

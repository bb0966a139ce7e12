//! The OpenAPI document, generated from the handlers' annotations.
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
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

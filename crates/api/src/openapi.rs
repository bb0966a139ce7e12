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
    components(schemas(Problem, lms_core::courses::Sort)),
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
    let components = openapi.components.get_or_insert_with(Default::default);
    for (status, what) in SHARED_ERRORS {
        components
            .responses
            .insert(shared_name(*status), RefOr::T(problem(what, *status)));
    }
    require_what_responses_always_send(openapi);
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
            declare_shared_errors(operation);
            describe_responses(operation);
            operation.security.get_or_insert_with(Vec::new);
        }
    }
}

/// Answers any operation may give, besides its own: declared once (components.responses) and referred
/// to where they apply, unless the operation declares the status itself.
const SHARED_ERRORS: &[(u16, &str)] = &[
    (
        400,
        "Malformed request: a path or query parameter, or JSON that does not parse",
    ),
    (401, "A valid access token is required"),
    (413, "The request body is larger than the server accepts"),
    (415, "The body must be application/json"),
    (
        422,
        "The request has invalid fields (errors: field -> messages)",
    ),
    (
        500,
        "An internal error; it has been logged with the request id",
    ),
    (
        503,
        "The database cannot be reached right now, or the request took too long; retry after Retry-After seconds",
    ),
];

fn shared_name(status: u16) -> String {
    format!("Error{status}")
}

fn problem(description: &str, status: u16) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, HeaderBuilder, ResponseBuilder};
    let mut response = ResponseBuilder::new().description(description).content(
        crate::error::PROBLEM_JSON,
        ContentBuilder::new()
            .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
            .build(),
    );
    if status == 503 || status == 429 {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::Type::Integer),
                ))
                .description(Some("Seconds to wait before retrying"))
                .build(),
        );
    }
    response.build()
}

fn declare_shared_errors(operation: &mut Operation) {
    let protected = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let has_body = operation.request_body.is_some();
    let applies = |status: u16| match status {
        400 => has_parameters || has_body,
        401 => protected,
        413 | 415 | 422 => has_body,
        _ => true,
    };
    for (status, _) in SHARED_ERRORS {
        let key = status.to_string();
        if applies(*status) && !operation.responses.responses.contains_key(&key) {
            let shared = utoipa::openapi::Ref::new(format!(
                "#/components/responses/{}",
                shared_name(*status)
            ));
            operation
                .responses
                .responses
                .insert(key, RefOr::Ref(shared));
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

/// The schema of a stored enumeration: a string with exactly the values the type stores, so the
/// document states the rule the code enforces from the type that enforces it.
pub fn enum_of<E>() -> utoipa::openapi::Object
where
    E: sea_orm::ActiveEnum<Value = String> + sea_orm::Iterable,
{
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(E::iter().map(|value| value.to_value())))
        .build()
}

/// Every field of every schema the API answers with is sent, `null` when empty (no response skips a
/// field): mark them all required, so generated clients get `field: T | null`, not `field?: T`.
fn require_what_responses_always_send(openapi: &mut utoipa::openapi::OpenApi) {
    use std::collections::BTreeSet;
    use utoipa::openapi::schema::Schema;
    let refs_in = |value: serde_json::Value, into: &mut BTreeSet<String>| {
        let text = value.to_string();
        for part in text.split("\"#/components/schemas/").skip(1) {
            if let Some(name) = part.split('"').next() {
                into.insert(name.to_string());
            }
        }
    };
    let mut names = BTreeSet::new();
    for item in openapi.paths.paths.values() {
        for operation in [&item.get, &item.put, &item.post, &item.delete, &item.patch]
            .into_iter()
            .flatten()
        {
            refs_in(
                serde_json::to_value(&operation.responses).unwrap_or_default(),
                &mut names,
            );
        }
    }
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    // Follow references to the schemas inside them.
    let mut todo: Vec<String> = names.iter().cloned().collect();
    while let Some(name) = todo.pop() {
        let mut found = BTreeSet::new();
        if let Some(schema) = components.schemas.get(&name) {
            refs_in(serde_json::to_value(schema).unwrap_or_default(), &mut found);
        }
        for next in found {
            if names.insert(next.clone()) {
                todo.push(next);
            }
        }
    }
    let require_all = |schema: &mut Schema| {
        if let Schema::Object(object) = schema {
            object.required = object.properties.keys().cloned().collect();
        }
    };
    for name in &names {
        match components.schemas.get_mut(name) {
            Some(RefOr::T(Schema::AllOf(all))) => {
                for part in all.items.iter_mut() {
                    if let RefOr::T(schema) = part {
                        require_all(schema);
                    }
                }
            }
            Some(RefOr::T(schema)) => require_all(schema),
            _ => {}
        }
    }
}

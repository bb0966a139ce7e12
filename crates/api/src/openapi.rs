//! The OpenAPI document, generated from the handlers' annotations.
use axum::http::StatusCode;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::{Modify, OpenApi};

use serde_json::{Value, json};

use crate::error::Problem;
use lms_core::chat::Limits as ChatLimits;

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
        (name = "two-factor", description = "TOTP two-factor authentication"),
        (name = "users", description = "Your profile"),
        (name = "admin", description = "User administration (admins only)"),
        (name = "courses", description = "The catalog and course management"),
        (name = "curriculum", description = "Sections and lessons, and progress earned by completing them"),
        (name = "enrollments", description = "Enrolling, progress, certificates, reviews"),
        (name = "live", description = "Live sessions: scheduling, the join window, the state machine"),
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
/// requires one; the status's reason phrase unless the annotation gave one), the shared error
/// answers, `security: []` on operations that need no token (so they do not inherit one), the
/// `Idempotency-Key` header where the middleware honours it, the `x-request-id` header on every
/// answer, the NUL rule on every string, the configured chat message length, and the server the
/// paths are relative to.
pub fn complete(
    mut openapi: utoipa::openapi::OpenApi,
    chat: ChatLimits,
) -> utoipa::openapi::OpenApi {
    openapi.servers = Some(vec![Server::new("/")]);
    let components = openapi.components.get_or_insert_with(Default::default);
    for (status, what) in SHARED_ERRORS {
        components
            .responses
            .insert(shared_name(*status), RefOr::T(problem(what, *status)));
    }
    require_what_responses_always_send(&mut openapi);
    for (path, item) in openapi.paths.paths.iter_mut() {
        if crate::idempotency::CREATES.contains(&path.as_str())
            && let Some(post) = item.post.as_mut()
        {
            declare_idempotency_key(post);
        }
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
    let mut doc = serde_json::to_value(&openapi).expect("the document serializes");
    for_each_response(&mut doc, &mut |response| {
        let headers = response
            .as_object_mut()
            .map(|r| r.entry("headers").or_insert_with(|| json!({})));
        if let Some(headers) = headers {
            headers["x-request-id"] = json!({
                "description": "The request's id (the caller's own x-request-id when it sent a valid one); \
                    the server's logs carry it",
                "schema": {"type": "string"},
            });
        }
    });
    no_nul_in_strings(&mut doc);
    for schema in ["NewMessage", "EditMessage"] {
        let content = &mut doc["components"]["schemas"][schema]["properties"]["content"];
        if content.is_object() {
            *content = serde_json::to_value(chat.content().schema()).expect("a schema");
        }
    }
    serde_json::from_value(doc).expect("the completed document is still a document")
}

/// Calls `f` on every response object: those of operations that are not references, and the shared
/// ones under components.responses.
fn for_each_response(doc: &mut Value, f: &mut impl FnMut(&mut Value)) {
    if let Some(paths) = doc["paths"].as_object_mut() {
        for item in paths.values_mut() {
            for operation in item
                .as_object_mut()
                .into_iter()
                .flat_map(|i| i.values_mut())
            {
                if let Some(responses) = operation["responses"].as_object_mut() {
                    responses
                        .values_mut()
                        .filter(|r| r.get("$ref").is_none())
                        .for_each(&mut *f);
                }
            }
        }
    }
    if let Some(shared) = doc["components"]["responses"].as_object_mut() {
        shared.values_mut().for_each(f);
    }
}

/// No text may hold NUL (`crate::extract::text` refuses it everywhere): every plain string schema
/// (no pattern, format or enum of its own) says so with `rules::NO_NUL`.
fn no_nul_in_strings(value: &mut Value) {
    match value {
        Value::Object(object) => {
            let is_string = match object.get("type") {
                Some(Value::String(t)) => t == "string",
                Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
                _ => false,
            };
            let plain = ["pattern", "format", "enum", "const", "contentEncoding"]
                .iter()
                .all(|k| !object.contains_key(*k));
            if is_string && plain {
                object.insert("pattern".into(), json!(lms_core::rules::NO_NUL));
            }
            for (key, child) in object.iter_mut() {
                // Examples are data, not schemas.
                if key != "example" && key != "examples" {
                    no_nul_in_strings(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(no_nul_in_strings),
        _ => {}
    }
}

/// The `Idempotency-Key` request header, and the answers it adds, on a create endpoint.
fn declare_idempotency_key(operation: &mut Operation) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    let parameter = ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(utoipa::openapi::Required::False)
        .description(Some(
            "Makes a retry safe: the same key and request within 24 h get the first answer \
             (header Idempotent-Replayed: true) and create nothing; the same key with another \
             request is 422; a retry while the first still runs is 409",
        ))
        .schema(Some(crate::idempotency::KEY.schema()))
        .build();
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .push(RefOr::T(parameter));
    let responses = &mut operation.responses.responses;
    responses.entry("409".into()).or_insert_with(|| {
        RefOr::T(problem(
            "A request with this Idempotency-Key is still running (or the operation's own conflict)",
            409,
        ))
    });
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
        429,
        "Too many requests or failed attempts; retry after Retry-After seconds",
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
    let has_query = operation.parameters.as_ref().is_some_and(|p| {
        p.iter()
            .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == utoipa::openapi::path::ParameterIn::Query))
    });
    let has_body = operation.request_body.is_some();
    let limited = operation.responses.responses.contains_key("429");
    let applies = |status: u16| match status {
        400 => has_parameters || has_body,
        401 => protected,
        413 | 415 => has_body,
        422 => has_body || has_query,
        // Only where the operation declares it (its rate limits); the shared answer replaces its own.
        429 => limited,
        _ => true,
    };
    for (status, _) in SHARED_ERRORS {
        let key = status.to_string();
        let declared = operation.responses.responses.contains_key(&key);
        if applies(*status) && (!declared || *status == 429) {
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

pub use lms_core::rules::enum_of;

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

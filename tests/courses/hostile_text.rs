//! Text a database cannot store never reaches it: a NUL character in any string the API reads (a JSON
//! field at any depth, a path or a query parameter) is a client error naming where it was, on every
//! operation of the published document, on every backend.
use entity::users::UserRole;
use lms_e2e::backend_tests;
use reqwest::Method;
use serde_json::{Value, json};

use crate::world::{call, person, published_course, spawn};

backend_tests!(
    a_nul_in_any_string_parameter_of_any_operation_is_a_400_naming_it,
    a_nul_in_any_string_field_of_any_request_body_is_a_422_naming_it,
    invalid_utf8_in_a_query_is_a_400
);

const NUL: &str = "a%00b";

/// Every operation of the document: (method, path template, operation).
fn operations(doc: &Value) -> Vec<(Method, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            out.push((method, path.clone(), operation.clone()));
        }
    }
    out
}

fn is_string(schema: &Value, doc: &Value) -> bool {
    let schema = resolve(schema, doc);
    match &schema["type"] {
        Value::String(t) => t == "string",
        Value::Array(types) => types.iter().any(|t| t == "string"),
        _ => ["oneOf", "anyOf"]
            .iter()
            .filter_map(|k| schema[*k].as_array())
            .flatten()
            .any(|s| is_string(s, doc)),
    }
}

fn resolve<'a>(schema: &'a Value, doc: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// The path with every parameter filled in: `nul_in` gets a NUL, the others a harmless value.
fn fill(template: &str, course_id: i64, nul_in: Option<&str>) -> String {
    let mut path = template.to_string();
    while let Some(start) = path.find('{') {
        let end = path[start..].find('}').unwrap() + start;
        let name = path[start + 1..end].to_string();
        let value = if Some(name.as_str()) == nul_in {
            NUL.to_string()
        } else if name == "id" {
            course_id.to_string()
        } else {
            "1".to_string()
        };
        path.replace_range(start..=end, &value);
    }
    path
}

/// An app with an admin, a published course and its published document.
async fn setup(backend: lms_e2e::Backend) -> (lms_e2e::TestApp, crate::world::Person, i64, Value) {
    let app = spawn(backend).await;
    let admin = person(&app, "root", UserRole::Admin).await;
    let course = published_course(&app, &admin, "Hostile text", 0).await;
    let course_id = course["id"].as_i64().unwrap();
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    (app, admin, course_id, doc)
}

/// Operations whose input is not read by the extractors: the WebSocket upgrade (it has no string
/// parameter) and the signed webhook (its body is checked after the signature; tested on its own).
fn skipped(path: &str) -> bool {
    path.ends_with("/chat/ws") || path.ends_with("/payments/webhook")
}

async fn a_nul_in_any_string_parameter_of_any_operation_is_a_400_naming_it(
    backend: lms_e2e::Backend,
) {
    let (app, admin, course_id, doc) = setup(backend).await;
    let mut checked = 0;
    for (method, template, operation) in operations(&doc) {
        if skipped(&template) {
            continue;
        }
        let parameters = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for parameter in parameters {
            let name = parameter["name"].as_str().unwrap();
            let place = parameter["in"].as_str().unwrap();
            if !is_string(&parameter["schema"], &doc) || !matches!(place, "path" | "query") {
                continue;
            }
            let path = match place {
                "path" => fill(&template, course_id, Some(name)),
                _ => format!("{}?{name}={NUL}", fill(&template, course_id, None)),
            };
            let body = operation["requestBody"].is_object().then(|| json!({}));
            let response = call(&app, method.clone(), &path, Some(&admin.token), body).await;
            let status = response.status().as_u16();
            let problem: Value = response.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 400, "{method} {path}: {problem}");
            let detail = problem["detail"].as_str().unwrap_or_default();
            assert!(detail.contains(name), "{method} {path}: {detail}");
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} string parameters found");
}

async fn a_nul_in_any_string_field_of_any_request_body_is_a_422_naming_it(
    backend: lms_e2e::Backend,
) {
    let (app, admin, course_id, doc) = setup(backend).await;
    let mut checked = 0;
    for (method, template, operation) in operations(&doc) {
        let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
        if skipped(&template) || !schema.is_object() {
            continue;
        }
        let path = fill(&template, course_id, None);
        let properties = resolve(schema, &doc)["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (field, property) in properties {
            let (body, named) = if is_string(&property, &doc) {
                (json!({ field.clone(): "a\u{0}b" }), field.clone())
            } else if resolve(&property, &doc)["type"] == "object"
                || resolve(&property, &doc)["additionalProperties"].is_object()
            {
                // A map (say, preferences): a NUL in a nested value is named by its path.
                (
                    json!({ field.clone(): {"k": "a\u{0}b"} }),
                    format!("{field}.k"),
                )
            } else {
                continue;
            };
            let response = call(&app, method.clone(), &path, Some(&admin.token), Some(body)).await;
            let status = response.status().as_u16();
            let problem: Value = response.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 422, "{method} {path} {named}: {problem}");
            assert!(
                problem["errors"][&named].is_array(),
                "{method} {path}: {problem}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} string fields found");

    // The webhook reads its body itself (after checking the signature): the same rule.
    let event = json!({"id": "evt\u{0}1", "type": "payment.succeeded",
        "data": {"enrollment_id": 1, "reference": "pi_1", "amount_cents": 0, "currency": "USD"}});
    let response = crate::world::webhook(&app, &event).await;
    let problem = lms_e2e::app::assert_problem(response, 422).await;
    assert!(problem["errors"]["id"].is_array(), "{problem}");
}

async fn invalid_utf8_in_a_query_is_a_400(backend: lms_e2e::Backend) {
    let app = spawn(backend).await;
    let response = call(&app, Method::GET, "/api/v1/courses?q=%FF", None, None).await;
    let problem = lms_e2e::app::assert_problem(response, 400).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("UTF-8"),
        "{problem}"
    );
}

use lms_e2e::{Backend, TestApp, backend_tests};
use serde_json::Value;

backend_tests!(
    the_openapi_document_describes_every_endpoint_and_its_errors,
    the_openapi_document_is_valid_openapi_3_1
);

const ENDPOINTS: &[(&str, &str, bool)] = &[
    // (method, path, has a JSON request body)
    ("post", "/api/v1/auth/register", true),
    ("post", "/api/v1/auth/login", true),
    ("post", "/api/v1/auth/login/2fa", true),
    ("post", "/api/v1/auth/refresh", true),
    ("post", "/api/v1/auth/logout", false),
    ("get", "/api/v1/auth/sessions", false),
    ("delete", "/api/v1/auth/sessions/{id}", false),
    ("post", "/api/v1/auth/verify-email", true),
    ("post", "/api/v1/auth/verify-email/resend", false),
    ("post", "/api/v1/auth/password/forgot", true),
    ("post", "/api/v1/auth/password/reset", true),
    ("post", "/api/v1/auth/password/change", true),
    ("post", "/api/v1/auth/2fa/setup", false),
    ("post", "/api/v1/auth/2fa/enable", true),
    ("post", "/api/v1/auth/2fa/disable", true),
    ("post", "/api/v1/auth/2fa/recovery-codes", true),
    ("get", "/api/v1/users/me", false),
    ("patch", "/api/v1/users/me", true),
    ("get", "/api/v1/admin/users", false),
    ("patch", "/api/v1/admin/users/{id}", true),
    ("get", "/api/v1/courses", false),
    ("post", "/api/v1/courses", true),
    ("get", "/api/v1/courses/{id}", false),
    ("patch", "/api/v1/courses/{id}", true),
    ("delete", "/api/v1/courses/{id}", false),
    ("post", "/api/v1/courses/{id}/publish", false),
    ("post", "/api/v1/courses/{id}/archive", false),
    ("post", "/api/v1/courses/{id}/enrollments", false),
    ("get", "/api/v1/courses/{id}/enrollments", false),
    ("get", "/api/v1/courses/{id}/reviews", false),
    ("get", "/api/v1/users/me/enrollments", false),
    ("get", "/api/v1/enrollments/{id}", false),
    ("put", "/api/v1/enrollments/{id}/progress", false),
    ("post", "/api/v1/enrollments/{id}/complete", true),
    ("get", "/api/v1/enrollments/{id}/events", false),
    ("get", "/api/v1/courses/{id}/curriculum", false),
    ("post", "/api/v1/courses/{id}/sections", true),
    ("patch", "/api/v1/sections/{id}", true),
    ("delete", "/api/v1/sections/{id}", false),
    ("post", "/api/v1/sections/{id}/move", true),
    ("post", "/api/v1/sections/{id}/lessons", true),
    ("get", "/api/v1/lessons/{id}", false),
    ("patch", "/api/v1/lessons/{id}", true),
    ("delete", "/api/v1/lessons/{id}", false),
    ("post", "/api/v1/lessons/{id}/move", true),
    ("post", "/api/v1/lessons/{id}/complete", false),
    ("delete", "/api/v1/lessons/{id}/complete", false),
    ("put", "/api/v1/lessons/{id}/position", true),
    ("post", "/api/v1/courses/{id}/live-sessions", true),
    ("get", "/api/v1/courses/{id}/live-sessions", false),
    ("get", "/api/v1/live-sessions/{id}", false),
    ("patch", "/api/v1/live-sessions/{id}", true),
    ("post", "/api/v1/live-sessions/{id}/start", false),
    ("post", "/api/v1/live-sessions/{id}/end", false),
    ("post", "/api/v1/live-sessions/{id}/cancel", false),
    ("post", "/api/v1/live-sessions/{id}/join", false),
    ("post", "/api/v1/live-sessions/{id}/heartbeat", false),
    ("post", "/api/v1/live-sessions/{id}/leave", false),
    ("get", "/api/v1/live-sessions/{id}/attendance", false),
    ("get", "/api/v1/users/me/live-sessions", false),
    ("post", "/api/v1/users/me/calendar-token", false),
    ("get", "/api/v1/courses/{id}/live-sessions.ics", false),
    ("post", "/api/v1/enrollments/{id}/cancel", false),
    ("put", "/api/v1/enrollments/{id}/review", true),
    ("get", "/api/v1/certificates/{code}", false),
    ("post", "/api/v1/payments/webhook", false),
    ("get", "/api/v1/courses/{id}/messages", false),
    ("post", "/api/v1/courses/{id}/messages", true),
    ("get", "/api/v1/courses/{id}/messages/pinned", false),
    ("get", "/api/v1/courses/{id}/messages/{mid}", false),
    ("patch", "/api/v1/courses/{id}/messages/{mid}", true),
    ("delete", "/api/v1/courses/{id}/messages/{mid}", false),
    ("get", "/api/v1/courses/{id}/messages/{mid}/replies", false),
    ("get", "/api/v1/courses/{id}/messages/{mid}/edits", false),
    ("post", "/api/v1/courses/{id}/messages/{mid}/pin", false),
    ("delete", "/api/v1/courses/{id}/messages/{mid}/pin", false),
    (
        "put",
        "/api/v1/courses/{id}/messages/{mid}/reactions/{emoji}",
        false,
    ),
    (
        "delete",
        "/api/v1/courses/{id}/messages/{mid}/reactions/{emoji}",
        false,
    ),
    ("get", "/api/v1/courses/{id}/events", false),
    ("get", "/api/v1/courses/{id}/chat/ws", false),
];

async fn the_openapi_document_describes_every_endpoint_and_its_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    for (method, path, has_body) in ENDPOINTS {
        let operation = &doc["paths"][*path][*method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        assert!(
            operation["summary"].is_string() || operation["description"].is_string(),
            "{method} {path}"
        );
        if *has_body {
            assert!(
                operation["requestBody"]["content"]["application/json"]["schema"].is_object(),
                "{method} {path} body"
            );
        }
        let responses = operation["responses"].as_object().unwrap();
        // 101 Switching Protocols is the WebSocket endpoint's success; a retired operation is
        // marked deprecated and answers 410 only.
        if operation["deprecated"] == true {
            assert!(responses.contains_key("410"), "{method} {path} is retired");
        } else {
            assert!(
                responses.keys().any(|s| s.starts_with('2') || s == "101"),
                "{method} {path} has no success response"
            );
        }
        let errors: Vec<_> = responses
            .iter()
            .filter(|(s, _)| s.starts_with('4') || s.starts_with('5'))
            .collect();
        assert!(!errors.is_empty(), "{method} {path} documents no error");
        for (status, response) in errors {
            // Shared answers are declared once under components.responses and referred to.
            let response = match response["$ref"].as_str() {
                Some(shared) => {
                    let name = shared.trim_start_matches("#/components/responses/");
                    &doc["components"]["responses"][name]
                }
                None => response,
            };
            let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
            assert_eq!(
                schema, "#/components/schemas/Problem",
                "{method} {path} {status}"
            );
        }
    }
    operation_ids_are_unique_and_descriptive(&doc);
    for schema in [
        "RegisterRequest",
        "LoginResponse",
        "TokenResponse",
        "MfaRequiredResponse",
        "UserResponse",
        "TwoFactorSetupResponse",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema}"
        );
    }
}

/// The served document passes a real OpenAPI 3.1 validator (`openapi-spec-validator`, from PyPI;
/// `scripts/test.sh` installs it when missing): generators that refuse invalid documents accept it.
async fn the_openapi_document_is_valid_openapi_3_1(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = app.get("/openapi.json").await.text().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, doc).unwrap();
    let output = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3");
    let said: String = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
    .chars()
    .take(2000)
    .collect();
    assert!(
        output.status.success(),
        "the document is not valid OpenAPI (pip install openapi-spec-validator if it is missing):\n{said}"
    );
    let parsed: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(parsed["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
    assert_eq!(parsed["servers"][0]["url"], "/");
    let login = &parsed["paths"]["/api/v1/auth/login"]["post"];
    assert_eq!(
        login["security"],
        serde_json::json!([]),
        "public operations say so"
    );
}

/// Client generators name their functions after operation ids: each one is unique, camelCase, and
/// says what it acts on (no bare `create` or `delete`).
fn operation_ids_are_unique_and_descriptive(doc: &Value) {
    const GENERIC: &[&str] = &[
        "create", "delete", "update", "get", "list", "events", "history",
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(id) = operation["operationId"].as_str() else {
                panic!("{method} {path} has no operationId");
            };
            assert!(
                id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && id.chars().all(|c| c.is_ascii_alphanumeric()),
                "{method} {path}: operationId {id} is not camelCase"
            );
            assert!(
                !GENERIC.contains(&id),
                "{method} {path}: operationId {id} is too generic"
            );
            assert!(
                seen.insert(id.to_string()),
                "operationId {id} is used twice"
            );
        }
    }
}

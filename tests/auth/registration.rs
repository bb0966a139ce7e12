use lms_e2e::app::assert_problem;
use lms_e2e::{Backend, TestApp, backend_tests};
use serde_json::{Value, json};

use crate::common::{PASSWORD, register};

backend_tests!(
    registering_returns_the_user_without_any_secret,
    duplicate_email_or_username_is_409,
    bad_registrations_are_422_with_every_field_named,
    malformed_or_mistyped_bodies_are_problems,
    passwords_are_stored_as_argon2id,
);

async fn registering_returns_the_user_without_any_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = register(&app, "ada").await;
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["role"], "student");
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["two_factor_enabled"], false);
    let text = user.to_string().to_lowercase();
    for secret in ["hash", "token", "secret", "password"] {
        assert!(!text.contains(secret), "{secret} leaked in {user}");
    }
}

async fn duplicate_email_or_username_is_409(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app, "ada").await;
    let body = |email: &str, username: &str| json!({"email": email, "username": username, "password": PASSWORD, "first_name": "A", "last_name": "B"});
    // Email comparison ignores case; so does username.
    let dup_email = app
        .post_json("/api/v1/auth/register", &body("ADA@example.com", "other"))
        .await;
    let problem = assert_problem(dup_email, 409).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("email"),
        "{problem}"
    );
    let dup_name = app
        .post_json("/api/v1/auth/register", &body("other@example.com", "ADA"))
        .await;
    let problem = assert_problem(dup_name, 409).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("username"),
        "{problem}"
    );
}

async fn bad_registrations_are_422_with_every_field_named(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let base = json!({"email": "ada@example.com", "username": "ada", "password": PASSWORD, "first_name": "Ada", "last_name": "Lovelace"});
    let cases: &[(&str, Value, &str)] = &[
        ("password", json!("short"), "at least 12"),
        ("password", json!("x".repeat(129)), "at most 128"),
        ("password", json!("password1234"), "too common"),
        ("password", json!("QWERTY123456"), "too common"),
        (
            "password",
            json!("my name is lovelace!"),
            "must not contain",
        ),
        ("password", json!("ada-is-my-handle-ok"), "must not contain"),
        ("email", json!("not-an-email"), "valid email"),
        ("username", json!("a"), "3 to 30"),
        ("username", json!("has space"), "3 to 30"),
        ("first_name", json!(""), "must not be empty"),
        ("first_name", json!("   "), "must not be blank"),
        ("last_name", json!("x".repeat(101)), "at most 100"),
    ];
    for (field, value, message) in cases {
        let mut body = base.clone();
        body[*field] = value.clone();
        let problem =
            assert_problem(app.post_json("/api/v1/auth/register", &body).await, 422).await;
        let messages = problem["errors"][*field].to_string();
        assert!(messages.contains(message), "{field}={value}: {problem}");
    }
    // Several bad fields: all reported at once; nothing created.
    let problem = assert_problem(
        app.post_json("/api/v1/auth/register", &json!({"email": "x", "username": "!", "password": "1", "first_name": "A", "last_name": "B"}))
            .await,
        422,
    )
    .await;
    for field in ["email", "username", "password"] {
        assert!(problem["errors"][field].is_array(), "{problem}");
    }
    register(&app, "ada").await;
}

async fn malformed_or_mistyped_bodies_are_problems(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = app.url("/api/v1/auth/register");
    let send = |body: &'static str, content_type: Option<&'static str>| {
        let mut request = app.client.post(&url).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        request.send()
    };
    assert_problem(
        send("{\"email\": ", Some("application/json"))
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_problem(
        send("{\"email\": 5}", Some("application/json"))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_problem(send("{}", Some("application/json")).await.unwrap(), 422).await;
    assert_problem(send("{\"email\":\"a@b.co\"}", None).await.unwrap(), 415).await;
    assert_problem(
        send("{\"email\":\"a@b.co\"}", Some("text/plain"))
            .await
            .unwrap(),
        415,
    )
    .await;
    let unknown_field = json!({"email": "a@b.co", "username": "abc", "password": PASSWORD, "first_name": "A", "last_name": "B", "role": "admin"});
    assert_problem(
        app.post_json("/api/v1/auth/register", &unknown_field).await,
        422,
    )
    .await;
    // Wrong path parameter types are problems too.
    assert_problem(
        app.client
            .patch(app.url("/api/v1/admin/users/abc"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
}

async fn passwords_are_stored_as_argon2id(backend: Backend) {
    use sea_orm::EntityTrait;
    let app = TestApp::spawn(backend).await;
    let user = register(&app, "ada").await;
    let row = entity::users::Entity::find_by_id(user["id"].as_i64().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let hash = row.password_hash.unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
    // A verification token is stored only as its SHA-256.
    let token = crate::common::emailed_token(&app, "ada@example.com", "verify-email");
    let stored = row.email_verification_token_hash.unwrap();
    assert_eq!(stored.len(), 64);
    assert_ne!(stored, token);
}

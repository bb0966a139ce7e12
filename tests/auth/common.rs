//! Helpers for the auth tests (TOTP codes come from the support library's own RFC 6238).
use lms_e2e::TestApp;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "velvet thunder 42 kite";

pub async fn register(app: &TestApp, username: &str) -> Value {
    let response = app
        .post_json(
            "/api/v1/auth/register",
            &json!({
                "email": format!("{username}@example.com"),
                "username": username,
                "password": PASSWORD,
                "first_name": "Test",
                "last_name": "Person",
            }),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "register {username}"
    );
    response.json().await.unwrap()
}

pub async fn login_raw(app: &TestApp, login: &str, password: &str) -> Response {
    app.post_json(
        "/api/v1/auth/login",
        &json!({"login": login, "password": password}),
    )
    .await
}

/// Signs in (no 2FA) and returns the token response.
pub async fn login(app: &TestApp, login: &str) -> Value {
    let response = login_raw(app, login, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK, "login {login}");
    let body: Value = response.json().await.unwrap();
    assert!(body["access_token"].is_string(), "{body}");
    body
}

pub async fn signed_up(app: &TestApp, username: &str) -> (Value, String) {
    register(app, username).await;
    let tokens = login(app, username).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    (tokens, access)
}

pub async fn get(app: &TestApp, path: &str, token: &str) -> Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

pub async fn post(app: &TestApp, path: &str, token: &str, body: &Value) -> Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

pub async fn patch(app: &TestApp, path: &str, token: &str, body: &Value) -> Response {
    app.client
        .patch(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The token in the last link emailed to `to` whose path contains `path`.
pub fn emailed_token(app: &TestApp, to: &str, path: &str) -> String {
    let emails = app.emails_to(to);
    let body = &emails
        .iter()
        .rev()
        .find(|e| e.body.contains(path))
        .expect("an email with the link")
        .body;
    let start = body.find("token=").expect("a token in the link") + "token=".len();
    body[start..].split_whitespace().next().unwrap().to_string()
}

/// The token of the `n`th email to `to` whose link contains `path` (1 = the first), waiting for it:
/// reset links are issued in the background, after the 202.
pub async fn nth_emailed_token(app: &TestApp, to: &str, path: &str, n: usize) -> String {
    for _ in 0..100 {
        let emails: Vec<_> = app
            .emails_to(to)
            .into_iter()
            .filter(|e| e.body.contains(path))
            .collect();
        if let Some(email) = emails.get(n - 1) {
            let start = email.body.find("token=").expect("a token in the link") + "token=".len();
            return email.body[start..]
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no email number {n} to {to} with {path}");
}

pub use lms_e2e::totp::{base32_decode, totp_code};

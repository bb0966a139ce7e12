//! Helpers for the auth tests, and an RFC 6238 implementation of our own (not totp-rs) to prove that
//! the codes an authenticator app computes are the codes the API accepts.
use hmac::{Hmac, KeyInit, Mac};
use lms_e2e::TestApp;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sha1::Sha1;

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

// --- RFC 6238 / RFC 4226, written out by hand ---

pub fn base32_decode(input: &str) -> Vec<u8> {
    let mut bits: u64 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for c in input.trim_end_matches('=').chars() {
        let value = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
            .find(c.to_ascii_uppercase())
            .expect("base32") as u64;
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}

/// HOTP(K, C) = Truncate(HMAC-SHA1(K, C)) mod 10^6.
pub fn hotp(secret: &[u8], counter: u64) -> String {
    let mut mac = <Hmac<Sha1>>::new_from_slice(secret).unwrap();
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let binary = (u32::from(digest[offset] & 0x7f) << 24)
        | (u32::from(digest[offset + 1]) << 16)
        | (u32::from(digest[offset + 2]) << 8)
        | u32::from(digest[offset + 3]);
    format!("{:06}", binary % 1_000_000)
}

pub fn current_step() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 30
}

/// The code for the current time step plus `offset` (-1, 0 or +1 are within the accepted skew).
pub fn totp_code(secret_base32: &str, offset: i64) -> String {
    hotp(
        &base32_decode(secret_base32),
        (current_step() as i64 + offset) as u64,
    )
}

#[test]
fn the_hand_written_totp_matches_the_rfc_6238_test_vectors() {
    // RFC 6238 appendix B, SHA1, 8 digits there; the last 6 digits are the 6-digit codes.
    let secret = b"12345678901234567890";
    assert_eq!(hotp(secret, 59 / 30), "287082");
    assert_eq!(hotp(secret, 1_111_111_109 / 30), "081804");
    assert_eq!(hotp(secret, 1_234_567_890 / 30), "005924");
    assert_eq!(hotp(secret, 20_000_000_000 / 30), "353130");
}

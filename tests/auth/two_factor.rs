use lms_e2e::app::assert_problem;
use lms_e2e::{Backend, TestApp, backend_tests};
use serde_json::{Value, json};

use crate::common::{PASSWORD, get, login_raw, post, signed_up, totp_code};

backend_tests!(
    setup_gives_a_secret_an_otpauth_uri_and_a_qr_code,
    enabling_needs_a_valid_code_and_returns_ten_recovery_codes,
    login_with_2fa_needs_a_second_step_and_the_mfa_token_is_no_access_token,
    a_totp_code_is_accepted_only_once_even_in_parallel,
    recovery_codes_work_once_and_say_how_many_remain,
    the_mfa_token_is_single_use_expires_and_is_throttled,
    disabling_and_regenerating_need_password_and_code,
    the_totp_secret_is_encrypted_at_rest,
);

/// A user with 2FA on: (access token, base32 secret, recovery codes). Enabled with the previous step's
/// code, so the current and next steps remain for the test.
async fn with_2fa(app: &TestApp, username: &str) -> (String, String, Vec<String>) {
    let (_, access) = signed_up(app, username).await;
    let setup: Value = post(app, "/api/v1/auth/2fa/setup", &access, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let secret = setup["secret"].as_str().unwrap().to_string();
    let enable = post(
        app,
        "/api/v1/auth/2fa/enable",
        &access,
        &json!({"code": totp_code(&secret, -1)}),
    )
    .await;
    assert_eq!(enable.status(), 200);
    let body: Value = enable.json().await.unwrap();
    let codes = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (access, secret, codes)
}

async fn mfa_token(app: &TestApp, username: &str) -> String {
    let response = login_raw(app, username, PASSWORD).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["mfa_required"], true, "{body}");
    assert!(
        body.get("access_token").is_none() && body.get("refresh_token").is_none(),
        "no tokens before 2FA: {body}"
    );
    body["mfa_token"].as_str().unwrap().to_string()
}

async fn second_step(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/api/v1/auth/login/2fa", &body).await
}

async fn setup_gives_a_secret_an_otpauth_uri_and_a_qr_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = signed_up(&app, "ada").await;
    let response = post(&app, "/api/v1/auth/2fa/setup", &access, &json!({})).await;
    assert_eq!(response.status(), 200);
    let setup: Value = response.json().await.unwrap();
    let secret = setup["secret"].as_str().unwrap();
    assert_eq!(
        crate::common::base32_decode(secret).len(),
        20,
        "160-bit secret"
    );
    let uri = setup["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/LMS:ada%40example.com?"),
        "{uri}"
    );
    assert!(
        uri.contains(&format!("secret={secret}")) && uri.contains("issuer=LMS"),
        "{uri}"
    );
    assert!(
        !uri.contains("algorithm=") || uri.contains("algorithm=SHA1"),
        "{uri}"
    );
    assert!(
        setup["qr_code"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,iVBOR")
    );
    // Pending until confirmed: sign-in still needs no code.
    let me: Value = get(&app, "/api/v1/users/me", &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["two_factor_enabled"], false);
    assert!(
        login_raw(&app, "ada", PASSWORD)
            .await
            .json::<Value>()
            .await
            .unwrap()["access_token"]
            .is_string()
    );
}

async fn enabling_needs_a_valid_code_and_returns_ten_recovery_codes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = signed_up(&app, "ada").await;
    assert_problem(
        post(
            &app,
            "/api/v1/auth/2fa/enable",
            &access,
            &json!({"code": "123456"}),
        )
        .await,
        409,
    )
    .await;
    let setup: Value = post(&app, "/api/v1/auth/2fa/setup", &access, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let secret = setup["secret"].as_str().unwrap();
    let wrong = format!(
        "{:06}",
        (totp_code(secret, 0).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    assert_problem(
        post(
            &app,
            "/api/v1/auth/2fa/enable",
            &access,
            &json!({"code": wrong}),
        )
        .await,
        422,
    )
    .await;
    assert_problem(
        post(
            &app,
            "/api/v1/auth/2fa/enable",
            &access,
            &json!({"code": "abc"}),
        )
        .await,
        422,
    )
    .await;
    // Codes as apps show them ("123 456") are accepted.
    let code = totp_code(secret, 0);
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let enabled = post(
        &app,
        "/api/v1/auth/2fa/enable",
        &access,
        &json!({"code": spaced}),
    )
    .await;
    assert_eq!(enabled.status(), 200);
    let body: Value = enabled.json().await.unwrap();
    let codes = body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let unique: std::collections::HashSet<_> = codes.iter().collect();
    assert_eq!(unique.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| c.as_str().unwrap().replace('-', "").len() == 24),
        "120-bit codes"
    );
    let me: Value = get(&app, "/api/v1/users/me", &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["two_factor_enabled"], true);
    assert_problem(
        post(&app, "/api/v1/auth/2fa/setup", &access, &json!({})).await,
        409,
    )
    .await;
}

async fn login_with_2fa_needs_a_second_step_and_the_mfa_token_is_no_access_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, secret, _) = with_2fa(&app, "ada").await;
    let token = mfa_token(&app, "ada").await;
    assert_problem(get(&app, "/api/v1/users/me", &token).await, 401).await;
    assert_problem(second_step(&app, json!({"mfa_token": token})).await, 422).await;
    let response = second_step(
        &app,
        json!({"mfa_token": token, "code": totp_code(&secret, 0)}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(
        get(
            &app,
            "/api/v1/users/me",
            tokens["access_token"].as_str().unwrap()
        )
        .await
        .status(),
        200
    );
}

async fn a_totp_code_is_accepted_only_once_even_in_parallel(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, secret, _) = with_2fa(&app, "ada").await;
    let (first, second) = (mfa_token(&app, "ada").await, mfa_token(&app, "ada").await);
    let code = totp_code(&secret, 0);
    let (a, b) = tokio::join!(
        second_step(&app, json!({"mfa_token": first, "code": code})),
        second_step(&app, json!({"mfa_token": second, "code": code})),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 401], "one winner, one replay");
    // The same code again, sequentially: refused.
    let third = mfa_token(&app, "ada").await;
    assert_problem(
        second_step(&app, json!({"mfa_token": third, "code": code})).await,
        401,
    )
    .await;
    // A later step is fine.
    let fourth = mfa_token(&app, "ada").await;
    assert_eq!(
        second_step(
            &app,
            json!({"mfa_token": fourth, "code": totp_code(&secret, 1)})
        )
        .await
        .status(),
        200
    );
}

async fn recovery_codes_work_once_and_say_how_many_remain(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, _, codes) = with_2fa(&app, "ada").await;
    let token = mfa_token(&app, "ada").await;
    // Case and dashes do not matter.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let response = second_step(&app, json!({"mfa_token": token, "recovery_code": typed})).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["recovery_codes_remaining"], 9);
    let again = mfa_token(&app, "ada").await;
    assert_problem(
        second_step(&app, json!({"mfa_token": again, "recovery_code": codes[0]})).await,
        401,
    )
    .await;
    let body: Value = second_step(&app, json!({"mfa_token": again, "recovery_code": codes[1]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["recovery_codes_remaining"], 8);
}

async fn the_mfa_token_is_single_use_expires_and_is_throttled(backend: Backend) {
    use sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::spawn(backend).await;
    let (_, _, codes) = with_2fa(&app, "ada").await;
    let token = mfa_token(&app, "ada").await;
    assert_eq!(
        second_step(&app, json!({"mfa_token": token, "recovery_code": codes[0]}))
            .await
            .status(),
        200
    );
    assert_problem(
        second_step(&app, json!({"mfa_token": token, "recovery_code": codes[1]})).await,
        401,
    )
    .await;

    // Expired (about 5 minutes): moved into the past directly in the database.
    let token = mfa_token(&app, "ada").await;
    let past = match backend {
        Backend::Sqlite => "UPDATE mfa_challenges SET expires_at = '2000-01-01T00:00:00+00:00'",
        Backend::Postgres => "UPDATE mfa_challenges SET expires_at = now() - interval '1 second'",
        Backend::MySql => "UPDATE mfa_challenges SET expires_at = NOW(6) - INTERVAL 1 SECOND",
    };
    app.db
        .execute_raw(Statement::from_string(app.db.get_database_backend(), past))
        .await
        .unwrap();
    assert_problem(
        second_step(&app, json!({"mfa_token": token, "recovery_code": codes[1]})).await,
        401,
    )
    .await;

    // Wrong codes: 5 per token, then the token is dead; the user is throttled across tokens.
    let token = mfa_token(&app, "ada").await;
    for _ in 0..5 {
        assert_problem(
            second_step(&app, json!({"mfa_token": token, "code": "000000"})).await,
            401,
        )
        .await;
    }
    let dead = assert_problem(
        second_step(&app, json!({"mfa_token": token, "recovery_code": codes[1]})).await,
        401,
    )
    .await;
    assert!(
        dead["detail"].as_str().unwrap().contains("sign in again"),
        "{dead}"
    );
    let token = mfa_token(&app, "ada").await;
    assert_problem(
        second_step(&app, json!({"mfa_token": token, "code": "000000"})).await,
        401,
    )
    .await;
    let throttled = second_step(&app, json!({"mfa_token": token, "recovery_code": codes[1]})).await;
    assert!(throttled.headers().contains_key("retry-after"));
    assert_problem(throttled, 429).await;
}

async fn disabling_and_regenerating_need_password_and_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, secret, old_codes) = with_2fa(&app, "ada").await;
    let body = |password: &str, code: String| json!({"password": password, "code": code});
    assert_problem(
        post(
            &app,
            "/api/v1/auth/2fa/recovery-codes",
            &access,
            &body("wrong password!", totp_code(&secret, 0)),
        )
        .await,
        403,
    )
    .await;
    assert_problem(
        post(
            &app,
            "/api/v1/auth/2fa/recovery-codes",
            &access,
            &body(PASSWORD, "000000".into()),
        )
        .await,
        403,
    )
    .await;
    let regenerated = post(
        &app,
        "/api/v1/auth/2fa/recovery-codes",
        &access,
        &body(PASSWORD, totp_code(&secret, 0)),
    )
    .await;
    assert_eq!(regenerated.status(), 200);
    let new_codes: Value = regenerated.json().await.unwrap();
    let token = mfa_token(&app, "ada").await;
    assert_problem(
        second_step(
            &app,
            json!({"mfa_token": token, "recovery_code": old_codes[0]}),
        )
        .await,
        401,
    )
    .await;
    let response = second_step(
        &app,
        json!({"mfa_token": token, "recovery_code": new_codes["recovery_codes"][0]}),
    )
    .await;
    assert_eq!(response.status(), 200);

    let disabled = post(
        &app,
        "/api/v1/auth/2fa/disable",
        &access,
        &body(PASSWORD, totp_code(&secret, 1)),
    )
    .await;
    assert_eq!(disabled.status(), 204);
    let tokens: Value = login_raw(&app, "ada", PASSWORD).await.json().await.unwrap();
    assert!(tokens["access_token"].is_string(), "2FA is off: {tokens}");
    assert_problem(
        post(
            &app,
            "/api/v1/auth/2fa/disable",
            &access,
            &body(PASSWORD, totp_code(&secret, 1)),
        )
        .await,
        409,
    )
    .await;
}

async fn the_totp_secret_is_encrypted_at_rest(backend: Backend) {
    use sea_orm::EntityTrait;
    let app = TestApp::spawn(backend).await;
    let (_, secret, codes) = with_2fa(&app, "ada").await;
    let user = entity::users::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let stored = user.two_factor_secret_enc.unwrap();
    assert!(stored.starts_with("v1."));
    let raw = crate::common::base32_decode(&secret);
    assert!(!stored.contains(&secret) && !stored.contains(&hex::encode(&raw)));
    assert!(user.two_factor_pending_secret_enc.is_none());
    let hashes: Vec<String> = entity::recovery_codes::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.code_hash)
        .collect();
    assert_eq!(hashes.len(), 10);
    assert!(codes.iter().all(|c| !hashes.contains(c)));
}

use lms_e2e::app::assert_problem;
use lms_e2e::{Backend, TestApp, backend_tests};
use serde_json::{Value, json};

use crate::common::{PASSWORD, get, login, login_raw, register};

backend_tests!(
    login_by_email_or_username_returns_tokens_and_the_user,
    unknown_email_and_wrong_password_get_the_same_401,
    protected_routes_need_a_valid_bearer_token,
    repeated_failures_on_one_account_are_throttled_briefly,
    repeated_failures_from_one_address_are_throttled,
    behind_a_proxy_the_address_it_appended_is_throttled_not_what_the_client_wrote,
    failures_by_email_and_by_username_count_against_one_account,
    when_password_checks_queue_up_past_the_limit_the_rest_get_503,
    a_legacy_bcrypt_password_signs_in_once_and_is_rehashed_to_argon2id,
);

/// Accounts brought over from the legacy Node LMS keep their bcrypt hashes: the old password signs in,
/// and that first sign-in replaces the hash with argon2id (the old password keeps working).
async fn a_legacy_bcrypt_password_signs_in_once_and_is_rehashed_to_argon2id(backend: Backend) {
    use entity::users;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel};
    let app = TestApp::spawn(backend).await;
    let user = register(&app, "olivia").await;
    let id = user["id"].as_i64().unwrap();
    // bcryptjs, cost 10, of "Admin-since-2019!" (legacy user 1 of shared/legacy/sample.sql).
    let legacy = "$2b$10$SHRgy/ndN/WXGKkj5r8UxO5n2iJAynCISc9vwyZJcsvmljIh6uaPW";
    let row = users::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut row = row.into_active_model();
    row.password_hash = Set(Some(legacy.into()));
    row.update(&app.db).await.unwrap();

    assert_eq!(
        login_raw(&app, "olivia", "admin-since-2019!")
            .await
            .status(),
        401
    );
    let stored = || async {
        users::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .unwrap()
    };
    assert_eq!(stored().await, legacy, "a failed sign-in changes nothing");
    assert_eq!(
        login_raw(&app, "olivia", "Admin-since-2019!")
            .await
            .status(),
        200
    );
    let upgraded = stored().await;
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{upgraded}"
    );
    assert_eq!(
        login_raw(&app, "olivia", "Admin-since-2019!")
            .await
            .status(),
        200
    );
    assert_eq!(stored().await, upgraded, "rehashed once");
}

async fn login_by_email_or_username_returns_tokens_and_the_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app, "ada").await;
    for login_name in ["ada@example.com", "ADA@Example.com", "ada"] {
        let tokens = login(&app, login_name).await;
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["user"]["username"], "ada");
        let expires_in = tokens["expires_in"].as_i64().unwrap();
        assert!(
            (60..=900).contains(&expires_in),
            "access tokens live minutes: {expires_in}"
        );
        assert!(tokens["refresh_token"].as_str().unwrap().len() >= 43);
        let me = get(
            &app,
            "/api/v1/users/me",
            tokens["access_token"].as_str().unwrap(),
        )
        .await;
        assert_eq!(me.status(), 200);
        let me: Value = me.json().await.unwrap();
        assert_eq!(me["username"], "ada");
        assert!(me["last_login_at"].is_string());
    }
    // `email` and `username` are accepted as names of the login field.
    let by_field = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(by_field.status(), 200);
}

async fn unknown_email_and_wrong_password_get_the_same_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app, "ada").await;
    let wrong_password = assert_problem(
        login_raw(&app, "ada@example.com", "not the password").await,
        401,
    )
    .await;
    let unknown_user = assert_problem(
        login_raw(&app, "nobody@example.com", "not the password").await,
        401,
    )
    .await;
    assert_eq!(wrong_password, unknown_user);
    // The longest login the document allows (254 characters) is an ordinary unknown account, on every
    // backend (its throttle key is hashed, so it fits the key column), and so is its forgotten password.
    let label = |c: &str, n: usize| c.repeat(n);
    let longest = format!(
        "a@{}.{}.{}.{}.com",
        label("b", 63),
        label("c", 63),
        label("d", 63),
        label("e", 56)
    );
    assert_eq!(longest.len(), 254);
    assert_problem(login_raw(&app, &longest, "not the password").await, 401).await;
    let forgot = app
        .post_json(
            "/api/v1/auth/password/forgot",
            &serde_json::json!({ "email": longest }),
        )
        .await;
    assert_eq!(forgot.status(), 202);
}

async fn protected_routes_need_a_valid_bearer_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (tokens, _) = crate::common::signed_up(&app, "ada").await;
    let missing = app.get("/api/v1/users/me").await;
    assert_eq!(
        missing.headers()["www-authenticate"],
        "Bearer realm=\"lms\""
    );
    assert_problem(missing, 401).await;
    for bad in [
        "garbage",
        "eyJhbGciOiJIUzI1NiJ9.e30.x",
        tokens["refresh_token"].as_str().unwrap(),
    ] {
        let response = get(&app, "/api/v1/users/me", bad).await;
        assert!(response.headers().contains_key("www-authenticate"));
        assert_problem(response, 401).await;
    }
    // A token signed with another server's key is refused.
    let other = TestApp::spawn(backend).await;
    let (_, foreign) = crate::common::signed_up(&other, "ada").await;
    assert_problem(get(&app, "/api/v1/users/me", &foreign).await, 401).await;
}

async fn repeated_failures_on_one_account_are_throttled_briefly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app, "ada").await;
    for _ in 0..5 {
        assert_problem(login_raw(&app, "ada", "wrong password").await, 401).await;
    }
    // The sixth failure starts a short block: even the right password waits.
    assert_problem(login_raw(&app, "ada", "wrong password").await, 401).await;
    let blocked = login_raw(&app, "ada", PASSWORD).await;
    let retry_after: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=120).contains(&retry_after),
        "a real user is never locked out for long: {retry_after}"
    );
    assert_problem(blocked, 429).await;
    // Unknown accounts are throttled identically, so the throttle reveals nothing.
    for _ in 0..6 {
        assert_problem(login_raw(&app, "ghost", "wrong password").await, 401).await;
    }
    assert_problem(login_raw(&app, "ghost", "wrong password").await, 429).await;
    // After the wait, the right password works and clears the count.
    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    login(&app, "ada").await;
}

async fn repeated_failures_from_one_address_are_throttled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app, "ada").await;
    // Spread over many accounts so that no single account is blocked.
    for i in 0..51 {
        assert_problem(
            login_raw(&app, &format!("user{}", i % 25), "wrong password").await,
            401,
        )
        .await;
    }
    let blocked = login_raw(&app, "ada", PASSWORD).await;
    assert!(blocked.headers().contains_key("retry-after"));
    assert_problem(blocked, 429).await;
}

/// Behind a trusted proxy the client address is the entry the proxy appended to X-Forwarded-For: a
/// client that rotates what it writes to the left of it is still one address to the throttle.
async fn behind_a_proxy_the_address_it_appended_is_throttled_not_what_the_client_wrote(
    backend: Backend,
) {
    let app = TestApp::spawn_with(backend, |c| c.trust_forwarded_for = true).await;
    register(&app, "ada").await;
    let attempt = |forged: String, login: String, password: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/auth/login"))
                .header("x-forwarded-for", format!("{forged}, 203.0.113.7"))
                .json(&json!({"login": login, "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    for i in 0..51 {
        let forged = format!("10.0.{}.{}", i / 200, i % 200);
        let response = attempt(forged, format!("user{}", i % 25), "wrong password").await;
        assert_problem(response, 401).await;
    }
    let blocked = attempt("10.9.9.9".into(), "ada".into(), PASSWORD).await;
    assert_problem(blocked, 429).await;
    // Another address behind the same proxy is not affected.
    let other = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "203.0.113.8")
        .json(&json!({"login": "ada", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
}

/// An account's email and username are one account to the throttle: alternating them does not double
/// the free failures.
async fn failures_by_email_and_by_username_count_against_one_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app, "ada").await;
    for i in 0..6 {
        let name = if i % 2 == 0 { "ada" } else { "ADA@example.com" };
        assert_problem(login_raw(&app, name, "wrong password").await, 401).await;
    }
    assert_problem(login_raw(&app, "ada@example.com", PASSWORD).await, 429).await;
    assert_problem(login_raw(&app, "ada", PASSWORD).await, 429).await;
}

/// The password-hashing queue is bounded: a burst beyond it is told to retry (503 + Retry-After) at
/// once instead of waiting behind minutes of hashing; nothing fails with a 500.
async fn when_password_checks_queue_up_past_the_limit_the_rest_get_503(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.password_hash_concurrency = Some(1);
        c.password_hash_queue = 1;
    })
    .await;
    register(&app, "ada").await;
    let attempts = (0..12).map(|_| login_raw(&app, "ada", PASSWORD));
    let answers = futures_util::future::join_all(attempts).await;
    let mut statuses = Vec::new();
    for answer in answers {
        let status = answer.status().as_u16();
        if status == 503 {
            assert!(answer.headers().contains_key("retry-after"));
            assert_problem(answer, 503).await;
        }
        statuses.push(status);
    }
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&200) && statuses.contains(&503),
        "{statuses:?}"
    );
}

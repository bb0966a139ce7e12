use lms_e2e::app::assert_problem;
use lms_e2e::{Backend, TestApp, backend_tests};
use serde_json::{Value, json};

use crate::common::{
    PASSWORD, emailed_token, get, login, login_raw, nth_emailed_token, post, register, signed_up,
};

backend_tests!(
    the_emailed_verification_token_verifies_once,
    a_resent_verification_link_replaces_the_old_one,
    forgot_password_answers_the_same_for_unknown_addresses,
    a_password_reset_sets_the_password_and_ends_every_session,
    changing_the_password_needs_the_current_one_and_ends_other_sessions,
    the_profile_can_be_edited_within_limits,
    reset_and_verification_mails_are_limited_without_revealing_accounts,
    the_emailed_verification_link_works_when_clicked,
    the_emailed_reset_link_opens_a_form_that_sets_the_password,
);

async fn the_emailed_verification_token_verifies_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app, "ada").await;
    let emails = app.emails_to("ada@example.com");
    assert_eq!(emails.len(), 1);
    assert!(emails[0].subject.contains("Confirm"));
    let token = emailed_token(&app, "ada@example.com", "/verify-email?token=");
    let verify = app
        .post_json("/api/v1/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(verify.status(), 204);
    let tokens = login(&app, "ada").await;
    assert_eq!(tokens["user"]["email_verified"], true);
    assert_problem(
        app.post_json("/api/v1/auth/verify-email", &json!({"token": token}))
            .await,
        400,
    )
    .await;
    // Already verified: nothing to resend.
    let access = tokens["access_token"].as_str().unwrap();
    assert_problem(
        post(&app, "/api/v1/auth/verify-email/resend", access, &json!({})).await,
        409,
    )
    .await;
}

async fn a_resent_verification_link_replaces_the_old_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = signed_up(&app, "ada").await;
    let first = emailed_token(&app, "ada@example.com", "/verify-email?token=");
    assert_eq!(
        post(
            &app,
            "/api/v1/auth/verify-email/resend",
            &access,
            &json!({})
        )
        .await
        .status(),
        202
    );
    let second = emailed_token(&app, "ada@example.com", "/verify-email?token=");
    assert_ne!(first, second);
    assert_problem(
        app.post_json("/api/v1/auth/verify-email", &json!({"token": first}))
            .await,
        400,
    )
    .await;
    assert_eq!(
        app.post_json("/api/v1/auth/verify-email", &json!({"token": second}))
            .await
            .status(),
        204
    );
}

async fn forgot_password_answers_the_same_for_unknown_addresses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app, "ada").await;
    let known = app
        .post_json(
            "/api/v1/auth/password/forgot",
            &json!({"email": "ada@example.com"}),
        )
        .await;
    let unknown = app
        .post_json(
            "/api/v1/auth/password/forgot",
            &json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(known.status(), 202);
    assert_eq!(unknown.status(), 202);
    assert_eq!(
        known.json::<Value>().await.unwrap(),
        unknown.json::<Value>().await.unwrap()
    );
    nth_emailed_token(&app, "ada@example.com", "/reset-password?token=", 1).await;
    assert!(app.emails_to("nobody@example.com").is_empty());
}

async fn a_password_reset_sets_the_password_and_ends_every_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (tokens, access) = signed_up(&app, "ada").await;
    app.post_json(
        "/api/v1/auth/password/forgot",
        &json!({"email": "ada@example.com"}),
    )
    .await;
    let first = nth_emailed_token(&app, "ada@example.com", "/reset-password?token=", 1).await;
    app.post_json(
        "/api/v1/auth/password/forgot",
        &json!({"email": "ada@example.com"}),
    )
    .await;
    let token = nth_emailed_token(&app, "ada@example.com", "/reset-password?token=", 2).await;
    let new_password = "a brand new passphrase 7";

    // A newer token invalidates the older one; a weak password is refused and changes nothing.
    let app = &app;
    let reset = |token: String, password: &'static str| {
        let body = json!({"token": token, "new_password": password});
        async move { app.post_json("/api/v1/auth/password/reset", &body).await }
    };
    assert_problem(reset(first, new_password).await, 400).await;
    assert_problem(reset(token.clone(), "1q2w3e4r5t6y").await, 422).await;
    let done = reset(token.clone(), new_password).await;
    assert_eq!(done.status(), 204);
    assert!(
        done.bytes().await.unwrap().is_empty(),
        "a reset does not sign in"
    );
    assert_problem(reset(token, "another new passphrase 8").await, 400).await;

    assert_problem(get(app, "/api/v1/users/me", &access).await, 401).await;
    let refresh = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await;
    assert_problem(refresh, 401).await;
    assert_problem(login_raw(app, "ada", PASSWORD).await, 401).await;
    assert_eq!(login_raw(app, "ada", new_password).await.status(), 200);
}

async fn changing_the_password_needs_the_current_one_and_ends_other_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, this) = signed_up(&app, "ada").await;
    let other = login(&app, "ada").await;
    let (app, this) = (&app, &this);
    let change = |current: &'static str, new: &'static str| {
        let body = json!({"current_password": current, "new_password": new});
        async move { post(app, "/api/v1/auth/password/change", this, &body).await }
    };
    assert_problem(
        change("not my password", "a brand new passphrase 7").await,
        403,
    )
    .await;
    assert_problem(change(PASSWORD, "short").await, 422).await;
    assert_eq!(
        change(PASSWORD, "a brand new passphrase 7").await.status(),
        204
    );
    assert_eq!(
        get(app, "/api/v1/users/me", this).await.status(),
        200,
        "this session stays"
    );
    assert_problem(
        get(
            app,
            "/api/v1/users/me",
            other["access_token"].as_str().unwrap(),
        )
        .await,
        401,
    )
    .await;
    assert_eq!(
        login_raw(app, "ada", "a brand new passphrase 7")
            .await
            .status(),
        200
    );
}

async fn the_profile_can_be_edited_within_limits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = signed_up(&app, "ada").await;
    let (app, access) = (&app, &access);
    let update = |body: Value| async move {
        crate::common::patch(app, "/api/v1/users/me", access, &body).await
    };
    let response = update(json!({"first_name": " Augusta ", "bio": "Poet of science", "avatar_url": "https://example.com/a.png",
        "preferences": {"theme": "dark", "emails.digest": false, "volume": 0.5, "nick": null}}))
    .await;
    assert_eq!(response.status(), 200);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["first_name"], "Augusta");
    assert_eq!(me["bio"], "Poet of science");
    assert_eq!(me["preferences"]["theme"], "dark");
    // null clears; absent keeps.
    let me: Value = update(json!({"bio": null})).await.json().await.unwrap();
    assert_eq!(me["bio"], Value::Null);
    assert_eq!(me["avatar_url"], "https://example.com/a.png");

    for (field, value) in [
        ("avatar_url", json!("javascript:alert(1)")),
        ("bio", json!("x".repeat(2001))),
        ("preferences", json!([1, 2])),
        // Settings are flat: a nested object or array is not one; at most 50 of them.
        ("preferences", json!({"emails": {"digest": false}})),
        ("preferences", json!({"tags": ["a"]})),
        (
            "preferences",
            Value::Object((0..51).map(|i| (format!("k{i}"), json!(i))).collect()),
        ),
        ("first_name", json!("")),
    ] {
        let problem = assert_problem(update(json!({field: value})).await, 422).await;
        assert!(problem["errors"][field].is_array(), "{problem}");
    }
    // Nobody raises their own role through their profile.
    assert_problem(update(json!({"role": "admin"})).await, 422).await;
    let me: Value = get(app, "/api/v1/users/me", access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "student");
    assert_eq!(me["first_name"], "Augusta");
}

/// Mail-sending endpoints cannot be used to flood an inbox: 3 reset links per address an hour (known
/// or not: the same answers), 10 per client whatever the addresses, 3 verification mails per account.
async fn reset_and_verification_mails_are_limited_without_revealing_accounts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = signed_up(&app, "ada").await;
    let forgot = |email: String| {
        let app = &app;
        async move {
            app.post_json("/api/v1/auth/password/forgot", &json!({ "email": email }))
                .await
        }
    };
    for email in ["ada@example.com", "nobody@example.com"] {
        for _ in 0..3 {
            assert_eq!(forgot(email.into()).await.status(), 202);
        }
        let refused = forgot(email.into()).await;
        assert!(refused.headers().contains_key("retry-after"));
        assert_problem(refused, 429).await;
    }
    // 6 so far from this client: 4 more addresses pass, the next is refused.
    for i in 0..4 {
        assert_eq!(
            forgot(format!("someone{i}@example.com")).await.status(),
            202
        );
    }
    assert_problem(forgot("someone9@example.com".into()).await, 429).await;
    nth_emailed_token(&app, "ada@example.com", "/reset-password?token=", 3).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let resets = app
        .emails_to("ada@example.com")
        .into_iter()
        .filter(|e| e.body.contains("/reset-password?token="))
        .count();
    assert_eq!(resets, 3, "refused requests send nothing");

    for _ in 0..3 {
        let resent = post(
            &app,
            "/api/v1/auth/verify-email/resend",
            &access,
            &json!({}),
        )
        .await;
        assert_eq!(resent.status(), 202);
    }
    let refused = post(
        &app,
        "/api/v1/auth/verify-email/resend",
        &access,
        &json!({}),
    )
    .await;
    assert_problem(refused, 429).await;
}

/// The link in the verification email is a page a browser can open: it verifies and says so, once.
async fn the_emailed_verification_link_works_when_clicked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app, "ada").await;
    let body = &app.emails_to("ada@example.com")[0].body;
    let start = body
        .find("/verify-email?token=")
        .expect("a verification link");
    let path = body[start..].split_whitespace().next().unwrap().to_string();
    let clicked = app.get(&path).await;
    assert_eq!(clicked.status(), 200);
    assert!(
        clicked.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(clicked.text().await.unwrap().contains("verified"));
    let tokens = login(&app, "ada").await;
    assert_eq!(tokens["user"]["email_verified"], true);
    let again = app.get(&path).await;
    assert_eq!(again.status(), 400);
    let page = again.text().await.unwrap();
    assert!(page.contains("not valid"), "{page}");
}

/// The reset link in the mail opens a form (no JavaScript needed) that sets the new password, says so,
/// and refuses a weak password or a used link with a page that says why.
async fn the_emailed_reset_link_opens_a_form_that_sets_the_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app, "ada").await;
    app.post_json(
        "/api/v1/auth/password/forgot",
        &json!({"email": "ada@example.com"}),
    )
    .await;
    let token = nth_emailed_token(&app, "ada@example.com", "/reset-password?token=", 1).await;
    let form = app.get(&format!("/reset-password?token={token}")).await;
    assert_eq!(form.status(), 200);
    let html = form.text().await.unwrap();
    assert!(html.contains("<form") && html.contains(&token), "{html}");
    let submit = |password: &str| {
        let body = format!("token={token}&new_password={}", password.replace(' ', "+"));
        let app = &app;
        async move {
            app.client
                .post(app.url("/reset-password"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let weak = submit("short").await;
    assert_eq!(weak.status(), 422);
    assert!(weak.text().await.unwrap().contains("at least 12"));
    let done = submit("a brand new passphrase 7").await;
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("changed"));
    assert_eq!(
        login_raw(&app, "ada", "a brand new passphrase 7")
            .await
            .status(),
        200
    );
    let again = submit("another new passphrase 8").await;
    assert_eq!(again.status(), 400);
}

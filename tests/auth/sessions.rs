use lms_e2e::app::assert_problem;
use lms_e2e::{Backend, TestApp, backend_tests};
use serde_json::{Value, json};

use crate::common::{get, login, post, register, signed_up};

backend_tests!(
    refresh_rotates_and_the_old_token_dies,
    reusing_a_rotated_refresh_token_revokes_the_whole_session,
    logout_ends_the_session_at_once,
    sessions_can_be_listed_and_revoked_one_by_one,
);

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": token}))
        .await
}

async fn refresh_rotates_and_the_old_token_dies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = signed_up(&app, "ada").await;
    let old = first["refresh_token"].as_str().unwrap();
    let response = refresh(&app, old).await;
    assert_eq!(response.status(), 200);
    let second: Value = response.json().await.unwrap();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(
        second["session_id"], first["session_id"],
        "the same session, a new token"
    );
    assert_eq!(
        get(
            &app,
            "/api/v1/users/me",
            second["access_token"].as_str().unwrap()
        )
        .await
        .status(),
        200
    );
    let third = refresh(&app, second["refresh_token"].as_str().unwrap()).await;
    assert_eq!(third.status(), 200);
    assert_problem(refresh(&app, "not-a-token").await, 401).await;
}

async fn reusing_a_rotated_refresh_token_revokes_the_whole_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = signed_up(&app, "ada").await;
    let stolen = first["refresh_token"].as_str().unwrap();
    let rotated: Value = refresh(&app, stolen).await.json().await.unwrap();
    // The thief (or a confused client) presents the old token: refused, and the family dies.
    assert_problem(refresh(&app, stolen).await, 401).await;
    assert_problem(
        refresh(&app, rotated["refresh_token"].as_str().unwrap()).await,
        401,
    )
    .await;
    assert_problem(
        get(
            &app,
            "/api/v1/users/me",
            rotated["access_token"].as_str().unwrap(),
        )
        .await,
        401,
    )
    .await;
    // Other sessions of the same user are untouched.
    let other = login(&app, "ada").await;
    assert_eq!(
        get(
            &app,
            "/api/v1/users/me",
            other["access_token"].as_str().unwrap()
        )
        .await
        .status(),
        200
    );
}

async fn logout_ends_the_session_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (tokens, access) = signed_up(&app, "ada").await;
    let response = post(&app, "/api/v1/auth/logout", &access, &json!({})).await;
    assert_eq!(response.status(), 204);
    assert_problem(get(&app, "/api/v1/users/me", &access).await, 401).await;
    assert_problem(
        refresh(&app, tokens["refresh_token"].as_str().unwrap()).await,
        401,
    )
    .await;
}

async fn sessions_can_be_listed_and_revoked_one_by_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app, "ada").await;
    let laptop = login(&app, "ada").await;
    let phone = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("user-agent", "LMS-iOS/1.0")
        .json(&json!({"login": "ada", "password": crate::common::PASSWORD}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let laptop_access = laptop["access_token"].as_str().unwrap();
    let list: Vec<Value> = get(&app, "/api/v1/auth/sessions", laptop_access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 2);
    let current: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], laptop["session_id"]);
    let phone_entry = list
        .iter()
        .find(|s| s["id"] == phone["session_id"])
        .unwrap();
    assert_eq!(phone_entry["user_agent"], "LMS-iOS/1.0");
    assert_eq!(phone_entry["ip_address"], "127.0.0.1");
    for key in ["created_at", "last_used_at", "expires_at"] {
        assert!(phone_entry[key].is_string());
    }

    let phone_id = phone["session_id"].as_str().unwrap();
    let revoke = app
        .client
        .delete(app.url(&format!("/api/v1/auth/sessions/{phone_id}")))
        .bearer_auth(laptop_access)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    assert_problem(
        get(
            &app,
            "/api/v1/users/me",
            phone["access_token"].as_str().unwrap(),
        )
        .await,
        401,
    )
    .await;
    assert_eq!(
        get(&app, "/api/v1/users/me", laptop_access).await.status(),
        200
    );

    // Someone else's session is not found, not revoked.
    let (_, other_access) = signed_up(&app, "bob").await;
    let laptop_id = laptop["session_id"].as_str().unwrap();
    let foreign = app
        .client
        .delete(app.url(&format!("/api/v1/auth/sessions/{laptop_id}")))
        .bearer_auth(&other_access)
        .send()
        .await
        .unwrap();
    assert_problem(foreign, 404).await;
    assert_eq!(
        get(&app, "/api/v1/users/me", laptop_access).await.status(),
        200
    );
}

use std::io::Write;
use std::process::{Command, Stdio};

use lms_e2e::app::assert_problem;
use lms_e2e::{Backend, TestApp, backend_tests, bin};
use serde_json::{Value, json};

use crate::common::{PASSWORD, get, login, login_raw, patch, register, signed_up};

backend_tests!(
    create_admin_makes_an_admin_from_the_command_line,
    admin_endpoints_refuse_anonymous_and_non_admins,
    admins_list_and_filter_users_with_keyset_paging,
    suspending_a_user_ends_their_sessions_and_stops_sign_in,
);

/// Runs `api create-admin` against the test database with the password on stdin.
fn create_admin(app: &TestApp, username: &str, password: &str) -> std::process::Output {
    let mut child = Command::new(bin("api"))
        .args([
            "create-admin",
            "--email",
            &format!("{username}@example.com"),
            "--username",
            username,
        ])
        .env("DATABASE_URL", &app.test_db.url)
        .env(
            "LMS_SECRET_KEY",
            "a-test-secret-that-is-long-enough-0123456789",
        )
        .env_remove("LMS_ADMIN_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

async fn admin(app: &TestApp) -> String {
    let output = create_admin(app, "root", PASSWORD);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    login(app, "root").await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn create_admin_makes_an_admin_from_the_command_line(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let output = create_admin(&app, "root", PASSWORD);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("created admin root"));
    let tokens = login(&app, "root").await;
    assert_eq!(tokens["user"]["role"], "admin");
    // The password policy applies, and duplicates are refused, with a non-zero exit.
    let weak = create_admin(&app, "root2", "password");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"));
    let duplicate = create_admin(&app, "root", PASSWORD);
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already registered"));
}

async fn admin_endpoints_refuse_anonymous_and_non_admins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (tokens, student) = signed_up(&app, "stu").await;
    let id = tokens["user"]["id"].as_i64().unwrap();
    assert_problem(app.get("/api/v1/admin/users").await, 401).await;
    assert_problem(get(&app, "/api/v1/admin/users", &student).await, 403).await;
    // A student can never raise their own role.
    let raise = patch(
        &app,
        &format!("/api/v1/admin/users/{id}"),
        &student,
        &json!({"role": "admin"}),
    )
    .await;
    assert_problem(raise, 403).await;
    let me: Value = get(&app, "/api/v1/users/me", &student)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "student");
    // Admins cannot lock themselves out either.
    let root = admin(&app).await;
    let root_id = get(&app, "/api/v1/users/me", &root)
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_problem(
        patch(
            &app,
            &format!("/api/v1/admin/users/{root_id}"),
            &root,
            &json!({"status": "suspended"}),
        )
        .await,
        409,
    )
    .await;
    assert_problem(
        patch(
            &app,
            "/api/v1/admin/users/999999",
            &root,
            &json!({"role": "instructor"}),
        )
        .await,
        404,
    )
    .await;
    assert_problem(
        patch(
            &app,
            &format!("/api/v1/admin/users/{id}"),
            &root,
            &json!({"role": "owner"}),
        )
        .await,
        422,
    )
    .await;
}

async fn admins_list_and_filter_users_with_keyset_paging(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for name in ["amy", "bob", "cat", "dan", "eve"] {
        register(&app, name).await;
    }
    let root = admin(&app).await;
    let bob = get(&app, "/api/v1/admin/users?q=BOB", &root)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(bob["items"].as_array().unwrap().len(), 1);
    let bob_id = bob["items"][0]["id"].as_i64().unwrap();
    let promoted = patch(
        &app,
        &format!("/api/v1/admin/users/{bob_id}"),
        &root,
        &json!({"role": "instructor"}),
    )
    .await;
    assert_eq!(
        promoted.json::<Value>().await.unwrap()["role"],
        "instructor"
    );
    let instructors: Value = get(&app, "/api/v1/admin/users?role=instructor", &root)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(instructors["items"].as_array().unwrap().len(), 1);

    let mut seen = Vec::new();
    let mut path = "/api/v1/admin/users?role=student&limit=2".to_string();
    loop {
        let page: Value = get(&app, &path, &root).await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/admin/users?role=student&limit=2&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(seen, ["amy", "cat", "dan", "eve"]);
    assert_problem(get(&app, "/api/v1/admin/users?limit=101", &root).await, 422).await;
    assert_problem(get(&app, "/api/v1/admin/users?role=king", &root).await, 400).await;
}

async fn suspending_a_user_ends_their_sessions_and_stops_sign_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (tokens, student) = signed_up(&app, "stu").await;
    let id = tokens["user"]["id"].as_i64().unwrap();
    let root = admin(&app).await;
    let suspended = patch(
        &app,
        &format!("/api/v1/admin/users/{id}"),
        &root,
        &json!({"status": "suspended"}),
    )
    .await;
    assert_eq!(suspended.status(), 200);
    assert_problem(get(&app, "/api/v1/users/me", &student).await, 401).await;
    let refresh = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await;
    assert_problem(refresh, 401).await;
    assert_problem(login_raw(&app, "stu", PASSWORD).await, 403).await;
    patch(
        &app,
        &format!("/api/v1/admin/users/{id}"),
        &root,
        &json!({"status": "active"}),
    )
    .await;
    login(&app, "stu").await;
}

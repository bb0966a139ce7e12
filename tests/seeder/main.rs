//! The data tools on every backend: the real `seeder` binary (tracking, idempotence, --only, fresh,
//! the production guard, kill -9 in the middle, derived counters, and the API working on what it
//! seeded), and the real `importer` (module `importer`).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod importer;

use lms_e2e::{Backend, TestApp, TestDb, backend_tests, bin, succeeded as ok};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

backend_tests!(
    a_second_run_does_nothing_and_says_so,
    status_shows_pending_ran_and_changed_seeders,
    only_runs_the_named_seeder,
    fresh_reseeds_and_leaves_other_data_alone,
    destructive_commands_refuse_in_production_without_force,
    a_run_killed_midway_is_finished_by_the_next_without_duplicates,
    volume_data_is_deterministic_and_its_counters_match_the_rows,
    the_api_works_on_seeded_data,
    demo_rows_that_would_collide_with_your_data_are_skipped_and_said,
);

const SECRET: &str = "seeder-test-secret-0123456789abcdefghijkl";
const DEMO_PASSWORD: &str = "learn-with-lms-2026";

fn seeder_command(db: &TestDb, cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("seeder"));
    cmd.args(args)
        .current_dir(cwd)
        .env("DATABASE_URL", &db.url)
        .env("LMS_SECRET_KEY", SECRET)
        .env_remove("LMS_ENV");
    cmd
}

fn seeder(db: &TestDb, cwd: &Path, args: &[&str]) -> Output {
    seeder_command(db, cwd, args).output().unwrap()
}

use lms_e2e::schema::scalar as count;

/// (seeder, state) rows of `seeder status`.
fn states(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .skip(1)
        .map(|l| {
            let mut cols = l.split_whitespace();
            (
                cols.next().unwrap().to_string(),
                cols.next().unwrap().to_string(),
            )
        })
        .collect()
}

async fn a_second_run_does_nothing_and_says_so(backend: Backend) {
    let db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let first = ok(seeder(&db, cwd.path(), &[]));
    assert!(
        first.contains("demo_users") && first.contains("seeded"),
        "{first}"
    );
    let conn = db.connect().await;
    let users = count(&conn, "SELECT COUNT(*) FROM users").await;
    let second = ok(seeder(&db, cwd.path(), &["run"]));
    assert!(second.contains("nothing to do"), "{second}");
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM users").await, users);
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM seaql_seeders").await, 5);
}

async fn status_shows_pending_ran_and_changed_seeders(backend: Backend) {
    let db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let before = states(&ok(seeder(&db, cwd.path(), &["status"])));
    assert_eq!(
        before.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        [
            "demo_users",
            "demo_courses",
            "demo_enrollments",
            "demo_chat",
            "demo_live_sessions"
        ]
    );
    assert!(before.iter().all(|(_, s)| s == "pending"));
    let with_scale = states(&ok(seeder(&db, cwd.path(), &["status", "--scale", "2"])));
    assert_eq!(with_scale.len(), 11);

    ok(seeder(&db, cwd.path(), &[]));
    assert!(
        states(&ok(seeder(&db, cwd.path(), &["status"])))
            .iter()
            .all(|(_, s)| s == "ran")
    );
    // A seeder whose definition changed since it ran is reported, and not re-run.
    let conn = db.connect().await;
    conn.execute_unprepared(
        "UPDATE seaql_seeders SET checksum = 'old' WHERE name = 'demo_courses'",
    )
    .await
    .unwrap();
    let status = states(&ok(seeder(&db, cwd.path(), &["status"])));
    assert_eq!(
        status[1],
        ("demo_courses".to_string(), "changed".to_string())
    );
    let run = ok(seeder(&db, cwd.path(), &[]));
    assert!(
        run.contains("demo_courses") && run.contains("CHANGED"),
        "{run}"
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM courses").await, 4);
}

async fn only_runs_the_named_seeder(backend: Backend) {
    let db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    ok(seeder(&db, cwd.path(), &["run", "--only", "demo_users"]));
    let status = states(&ok(seeder(&db, cwd.path(), &["status"])));
    assert_eq!(status[0].1, "ran");
    assert!(
        status[1..].iter().all(|(_, s)| s == "pending"),
        "{status:?}"
    );
    let unknown = seeder(&db, cwd.path(), &["run", "--only", "nope"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no seeder named"));
    ok(seeder(&db, cwd.path(), &[]));
    assert!(
        states(&ok(seeder(&db, cwd.path(), &["status"])))
            .iter()
            .all(|(_, s)| s == "ran")
    );
}

async fn fresh_reseeds_and_leaves_other_data_alone(backend: Backend) {
    let db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    ok(seeder(&db, cwd.path(), &[]));
    let conn = db.connect().await;
    conn.execute_unprepared(
        "INSERT INTO users (email, username, first_name, last_name) VALUES ('real@example.com', 'real', 'Real', 'Person')",
    )
    .await
    .unwrap();
    let before = count(&conn, "SELECT COUNT(*) FROM users").await;
    let out = ok(seeder(&db, cwd.path(), &["fresh"]));
    assert!(out.contains("removed seeded data"), "{out}");
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM users").await, before);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM users WHERE email = 'real@example.com'"
        )
        .await,
        1
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM seaql_seeders").await, 5);
}

async fn destructive_commands_refuse_in_production_without_force(backend: Backend) {
    let db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    ok(seeder(&db, cwd.path(), &[]));
    let refused = seeder_command(&db, cwd.path(), &["fresh"])
        .env("LMS_ENV", "production")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("production") && stderr.contains("--force"),
        "{stderr}"
    );
    let conn = db.connect().await;
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM seaql_seeders").await,
        5,
        "nothing was removed"
    );
    ok(seeder_command(&db, cwd.path(), &["fresh", "--force"])
        .env("LMS_ENV", "production")
        .output()
        .unwrap());
}

async fn a_run_killed_midway_is_finished_by_the_next_without_duplicates(backend: Backend) {
    let db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let conn = db.connect().await;
    let scale = "40";
    let mut child = seeder_command(&db, cwd.path(), &["run", "--scale", scale])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it while the chat messages (the biggest seeder) are going in.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let done = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                "SELECT COUNT(*) FROM seaql_seeders WHERE name = 'volume_enrollments'",
            ))
            .await
            .ok()
            .flatten()
            .and_then(|r| r.try_get_by_index::<i64>(0).ok())
            .unwrap_or(0);
        if done == 1 || std::time::Instant::now() > deadline || child.try_wait().unwrap().is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    let tracked_after_kill = count(&conn, "SELECT COUNT(*) FROM seaql_seeders").await;
    let messages_after_kill = count(&conn, "SELECT COUNT(*) FROM chat_messages").await;
    // The tracking table tells the truth: a seeder's rows are there exactly when its row is.
    if tracked_after_kill < 11 {
        assert_eq!(
            messages_after_kill, 7,
            "the interrupted seeder left no rows"
        );
    }

    ok(seeder(&db, cwd.path(), &["run", "--scale", scale]));
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM seaql_seeders").await, 11);
    // Live sessions: 4 demo, 2 per volume course.
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM live_sessions").await,
        4 + 40 * 2
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM users").await, 8 + 4000);
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM courses").await, 4 + 40);
    // Curricula: 8 lessons in 3 sections per demo course, 20 in 4 per volume course.
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM course_sections").await,
        4 * 3 + 40 * 4
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM lessons").await,
        4 * 8 + 40 * 20
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM chat_messages").await,
        7 + 40_000
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM (SELECT user_id, course_id FROM enrollments GROUP BY user_id, course_id HAVING COUNT(*) > 1) d").await, 0);
    assert!(ok(seeder(&db, cwd.path(), &["run", "--scale", scale])).contains("nothing to do"));
}

async fn volume_data_is_deterministic_and_its_counters_match_the_rows(backend: Backend) {
    let mut fingerprints = Vec::new();
    for _ in 0..2 {
        let db = TestDb::new(backend).await;
        let cwd = tempfile::tempdir().unwrap();
        ok(seeder(&db, cwd.path(), &["run", "--scale", "3"]));
        let conn = db.connect().await;
        let mismatched = count(
            &conn,
            "SELECT COUNT(*) FROM courses c WHERE c.student_count <> (SELECT COUNT(*) FROM enrollments e WHERE e.course_id = c.id \
             AND e.status IN ('active', 'completed')) OR c.rating_sum <> (SELECT COALESCE(SUM(rating), 0) FROM enrollments e \
             WHERE e.course_id = c.id) OR c.rating_count <> (SELECT COUNT(rating) FROM enrollments e WHERE e.course_id = c.id)",
        )
        .await;
        assert_eq!(mismatched, 0);
        let rows = conn
            .query_all_raw(Statement::from_string(
                conn.get_database_backend(),
                "SELECT e.status || ':' || u.email || ':' || c.slug || ':' || e.amount_cents FROM enrollments e \
                 JOIN users u ON u.id = e.user_id JOIN courses c ON c.id = e.course_id ORDER BY e.id",
            ))
            .await
            .unwrap();
        fingerprints.push(
            rows.iter()
                .map(|r| r.try_get_by_index::<String>(0).unwrap())
                .collect::<Vec<_>>(),
        );
    }
    assert!(fingerprints[0].len() > 500);
    assert_eq!(
        fingerprints[0], fingerprints[1],
        "the same scale gives the same rows"
    );
}

async fn the_api_works_on_seeded_data(backend: Backend) {
    let db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    ok(seeder(&db, cwd.path(), &["run", "--scale", "1"]));
    let app = TestApp::spawn_on(db, |c| c.secret_key = Some(SECRET.into())).await;
    let app = &app;
    let login = |who: &str| {
        let body = json!({"login": who, "password": DEMO_PASSWORD});
        async move { app.post_json("/api/v1/auth/login", &body).await }
    };
    let alice: Value = login("alice@demo.lms.test").await.json().await.unwrap();
    let token = alice["access_token"].as_str().unwrap().to_string();
    let mine: Value = app
        .client
        .get(app.url("/api/v1/users/me/enrollments"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = mine["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    // Alice completed Rust from Zero through the state machine: her certificate is verifiable.
    let code = items
        .iter()
        .find_map(|e| e["certificate_code"].as_str())
        .expect("alice's completed enrollment has a certificate");
    let certificate = app.get(&format!("/api/v1/certificates/{code}")).await;
    assert_eq!(certificate.status(), 200);
    // Her progress in the other course was earned through its lessons, as the outline shows.
    let active = items.iter().find(|e| e["status"] == "active").unwrap();
    let outline: Value = app
        .client
        .get(app.url(&format!(
            "/api/v1/courses/{}/curriculum",
            active["course"]["id"]
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let percent = outline["progress"]["percent"].as_i64().unwrap();
    assert!(percent > 0 && percent < 100, "{outline}");
    assert_eq!(active["progress_percent"], percent);
    let done = outline["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["lessons"].as_array().unwrap())
        .filter(|l| l["completed"] == true)
        .count();
    assert!(done > 0, "{outline}");
    // Demo live sessions around the time of seeding: one live now, one upcoming (the ended and the
    // cancelled ones are not listed).
    let live: Value = app
        .client
        .get(app.url("/api/v1/users/me/live-sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let titles: Vec<&str> = live["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        vec!["Live coding: ownership", "Office hours"],
        "{live}"
    );
    assert_eq!(live["items"][0]["status"], "live");
    assert_eq!(live["items"][0]["live_attendees"], 2);
    let catalog: Value = app
        .get("/api/v1/courses?q=rust%20from%20zero")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(catalog["items"][0]["slug"], "rust-from-zero");
    assert_eq!(
        catalog["items"][0]["student_count"], 3,
        "alice (completed), bob and erin (active)"
    );
    assert_eq!(catalog["items"][0]["rating_count"], 2);

    // The 2FA demo account signs in with the documented secret.
    let erin: Value = login("erin").await.json().await.unwrap();
    assert_eq!(erin["mfa_required"], true);
    let code = lms_e2e::totp::totp_code("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", 0);
    let second = app
        .post_json(
            "/api/v1/auth/login/2fa",
            &json!({"mfa_token": erin["mfa_token"], "code": code}),
        )
        .await;
    assert_eq!(second.status(), 200);

    // New rows through the API do not collide with seeded ids (PostgreSQL sequences were moved on).
    let registered = app
        .post_json("/api/v1/auth/register", &json!({"email": "new@example.com", "username": "newcomer", "password": "a fresh passphrase 9",
            "first_name": "New", "last_name": "Comer"}))
        .await;
    assert_eq!(registered.status(), 201);
    let compilers: Value = app
        .get("/api/v1/courses/compilers-by-hand")
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/v1/courses/{}/enrollments", compilers["id"]);
    let enrolled = app
        .client
        .post(app.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(enrolled.status(), 201, "a new enrollment gets a fresh id");
}

/// The demo seeder never fails on (or touches) what users created: a user who registered `ada` (a
/// demo name) keeps their account, the seeder skips that demo person and what depends on them, says
/// so, and seeds the rest.
async fn demo_rows_that_would_collide_with_your_data_are_skipped_and_said(backend: Backend) {
    let db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_on(db, |c| c.secret_key = Some(SECRET.into())).await;
    let registered = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": "ada@example.com", "username": "ada", "password": "velvet thunder 42 kite",
                "first_name": "Ada", "last_name": "Mine"}),
        )
        .await;
    assert_eq!(registered.status(), 201);
    let out = ok(seeder(&app.test_db, cwd.path(), &[]));
    assert!(out.contains("skipped demo user ada"), "{out}");
    assert!(out.contains("skipped demo course rust-from-zero"), "{out}");
    let mine = "SELECT COUNT(*) FROM users WHERE username = 'ada' AND email = 'ada@example.com'";
    assert_eq!(
        count(&app.db, mine).await,
        1,
        "the user's own account is untouched"
    );
    let demo = "SELECT COUNT(*) FROM users WHERE email LIKE '%@demo.lms.test'";
    assert_eq!(
        count(&app.db, demo).await,
        7,
        "the other demo people are there"
    );
    // Running again is still a no-op, and `fresh` works around the user's account too.
    ok(seeder(&app.test_db, cwd.path(), &[]));
    ok(seeder(&app.test_db, cwd.path(), &["fresh"]));
    assert_eq!(count(&app.db, mine).await, 1);
}

//! The real `importer` binary: the legacy Node LMS database (tests/fixtures/legacy, on a throwaway
//! PostgreSQL database) into this LMS on each backend.
use std::path::Path;
use std::process::{Command, Output};

use lms_e2e::totp::totp_code;
use lms_e2e::{Backend, TestApp, TestDb, backend_tests, bin, schema};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};

backend_tests!(
    plan_reports_every_merge_skip_and_rename_and_writes_nothing,
    run_imports_users_and_courses_who_then_sign_in_as_before,
    a_second_run_changes_only_what_changed_in_the_legacy_database,
    verify_passes_after_a_run_and_names_every_difference,
    run_backs_up_the_target_first_and_stops_if_it_cannot,
    a_run_killed_midway_is_completed_by_the_next_without_duplicates,
);

const SECRET: &str = "importer-test-secret-0123456789abcdefghij";

/// A fresh PostgreSQL database holding the legacy schema and its sample data (dropped with the value).
async fn legacy_database() -> (TestDb, DatabaseConnection) {
    let legacy = TestDb::new(Backend::Postgres).await;
    let db = Database::connect(&legacy.url).await.unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy");
    for file in ["schema.sql", "sample.sql"] {
        let sql = std::fs::read_to_string(root.join(file)).unwrap();
        db.execute_unprepared(&sql)
            .await
            .unwrap_or_else(|e| panic!("loading {file}: {e}"));
    }
    (legacy, db)
}

fn importer_command(target: &TestDb, legacy: &TestDb, cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(bin("importer"));
    command
        .args(args)
        .args(["--from", &legacy.url])
        .current_dir(cwd)
        .env("DATABASE_URL", &target.url)
        .env("LMS_SECRET_KEY", SECRET)
        .env_remove("LMS_ENV");
    command
}

fn importer(target: &TestDb, legacy: &TestDb, cwd: &Path, args: &[&str]) -> Output {
    importer_command(target, legacy, cwd, args)
        .output()
        .unwrap()
}

/// The `--json` report of a successful command.
fn report(output: Output) -> Value {
    let stdout = lms_e2e::succeeded(output);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn counts(report: &Value, table: &str) -> [u64; 6] {
    let t = &report["tables"][table];
    [
        "found",
        "created",
        "updated",
        "unchanged",
        "merged",
        "skipped",
    ]
    .map(|k| {
        t[k].as_u64()
            .unwrap_or_else(|| panic!("{table}.{k} in {report}"))
    })
}

fn ids_with_reason(report: &Value, table: &str, list: &str, reason: &str) -> Vec<i64> {
    report["tables"][table][list]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["reason"].as_str().unwrap().contains(reason))
        .map(|n| n["legacy_id"].as_i64().unwrap())
        .collect()
}

async fn plan_reports_every_merge_skip_and_rename_and_writes_nothing(backend: Backend) {
    let (legacy, legacy_db) = legacy_database().await;
    let target = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let plan = report(importer(&target, &legacy, cwd.path(), &["plan", "--json"]));
    assert_eq!(plan["mode"], "plan");
    // 15 users: 5 is 4's account again (email differs in case); nobody skipped.
    assert_eq!(counts(&plan, "users"), [15, 14, 0, 0, 1, 0], "{plan}");
    assert_eq!(
        ids_with_reason(&plan, "users", "merges", "older legacy user 4"),
        vec![5]
    );
    assert_eq!(
        ids_with_reason(&plan, "users", "renames", "taken"),
        vec![7],
        "ana_lima is user 6's"
    );
    let mappings = &plan["tables"]["users"]["mappings"];
    assert_eq!(mappings["status banned -> suspended"], 1, "{mappings}");
    assert_eq!(
        mappings["soft-deleted (deletedAt) -> deactivated: cannot sign in, keeps its history"], 1,
        "user 9 (8 was already inactive): {mappings}"
    );
    assert_eq!(counts(&plan, "courses"), [5, 5, 0, 0, 0, 0], "{plan}");
    let course_mappings = &plan["tables"]["courses"]["mappings"];
    assert_eq!(
        course_mappings["discount price not below the price -> no discount"], 1,
        "{course_mappings}"
    );
    assert_eq!(course_mappings["level all -> all_levels"], 1);
    // 31 enrollments: 16 ('on_hold'), 21 (course 6 destroyed), 22 (user 16 destroyed) skipped; 2 and 4
    // are user 5's, merged into user 4's enrollments in the same courses (1 and 31 got further).
    assert_eq!(counts(&plan, "enrollments"), [31, 26, 0, 0, 2, 3], "{plan}");
    assert_eq!(
        ids_with_reason(&plan, "enrollments", "skips", "on_hold"),
        vec![16]
    );
    assert_eq!(
        ids_with_reason(&plan, "enrollments", "skips", "legacy course 6"),
        vec![21]
    );
    assert_eq!(
        ids_with_reason(&plan, "enrollments", "skips", "legacy user 16"),
        vec![22]
    );
    assert_eq!(
        ids_with_reason(&plan, "enrollments", "merges", "legacy enrollment 1,"),
        vec![2]
    );
    assert_eq!(
        ids_with_reason(&plan, "enrollments", "merges", "legacy enrollment 31,"),
        vec![4]
    );
    assert_eq!(
        plan["tables"]["enrollments"]["mappings"]["review rating outside 1-5 -> no rating (the review text is kept)"],
        2
    );
    assert_eq!(
        counts(&plan, "chat_messages"),
        [81, 81, 0, 0, 0, 0],
        "{plan}"
    );
    let chat = &plan["tables"]["chat_messages"]["mappings"];
    assert_eq!(
        chat["reply to a message of another course -> a message of its own"], 1,
        "{chat}"
    );
    assert_eq!(
        chat["reply to a reply -> reply to its thread's first message"],
        1
    );
    assert_eq!(chat["the same reaction by merged accounts -> one"], 1);
    assert_eq!(plan["tables"]["migrations"]["found"], 8);
    assert!(plan["tables"]["migrations"]["reported_only"].is_string());
    // Nothing written: not even the target's schema (run migrates), and the legacy data as it was.
    assert!(schema::tables(&target.connect().await).await.is_empty());
    assert_eq!(
        schema::scalar(&legacy_db, "SELECT COUNT(*) FROM users").await,
        15
    );
    // On screen: counts and reasons, without --json.
    let text = lms_e2e::succeeded(importer(&target, &legacy, cwd.path(), &["plan"]));
    assert!(
        text.contains("users: 15 found, 14 created, 0 updated, 0 unchanged, 1 merged, 0 skipped"),
        "{text}"
    );
    assert!(text.contains("(legacy ids 5)"), "{text}");
}

async fn login(app: &TestApp, login: &str, password: &str) -> (u16, Value) {
    let response = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"login": login, "password": password}),
        )
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn run_imports_users_and_courses_who_then_sign_in_as_before(backend: Backend) {
    let (legacy, _legacy_db) = legacy_database().await;
    let target = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let run = report(importer(&target, &legacy, cwd.path(), &["run", "--json"]));
    assert_eq!(run["mode"], "run");
    assert_eq!(counts(&run, "users"), [15, 14, 0, 0, 1, 0], "{run}");
    assert_eq!(counts(&run, "courses"), [5, 5, 0, 0, 0, 0], "{run}");
    assert_eq!(counts(&run, "enrollments"), [31, 26, 0, 0, 2, 3], "{run}");
    assert_eq!(counts(&run, "chat_messages"), [81, 81, 0, 0, 0, 0], "{run}");
    let db = target.connect().await;
    assert_eq!(schema::scalar(&db, "SELECT COUNT(*) FROM users").await, 14);
    assert_eq!(
        schema::scalar(&db, "SELECT COUNT(*) FROM import_map").await,
        132
    );
    // Replies point at a first message of the same course, whatever the legacy chain was.
    assert_eq!(
        schema::scalar(
            &db,
            "SELECT COUNT(*) FROM chat_messages m JOIN chat_messages p ON p.id = m.parent_id \
             WHERE p.parent_id IS NOT NULL OR p.course_id <> m.course_id"
        )
        .await,
        0
    );
    let app = TestApp::spawn_on(target, |c| c.secret_key = Some(SECRET.into())).await;

    // The merged pair signs in with the older account's password, by either spelling of the email.
    let (status, body) = login(&app, "maria.silva@example.com", "samba-2019").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        login(&app, "Maria.Silva@Example.com", "Samba-2021-new")
            .await
            .0,
        401
    );
    // Renamed on a collision; a soft-deleted user cannot sign in; a social-only user has no password.
    assert_eq!(login(&app, "ana_lima-7", "ana88-rocks").await.0, 200);
    assert_eq!(login(&app, "ana_lima", "lima-beans-42").await.0, 200);
    assert_ne!(
        login(&app, "lena.k@mail.test", "lena-loves-latex").await.0,
        200
    );
    assert_ne!(
        login(&app, "spam.bot@mail.test", "buy-cheap-watches")
            .await
            .0,
        200
    );
    // Two-factor: the legacy secret (as displayed, lowercase with spaces) keeps working, and a
    // legacy backup code works once.
    let (status, body) = login(&app, "sofia.rossi@acme-lms.test", "pasta-and-python!").await;
    assert_eq!(status, 200);
    assert_eq!(body["mfa_required"], true, "{body}");
    let code = totp_code("J56P4UT5P6RJLU3223VCJJAQX2723CTI", 0);
    let second = app
        .post_json(
            "/api/v1/auth/login/2fa",
            &json!({"mfa_token": body["mfa_token"], "code": code}),
        )
        .await;
    assert_eq!(second.status(), 200);
    for expected in [200, 401] {
        let (_, body) = login(&app, "sofia.rossi", "pasta-and-python!").await;
        let answer = app
            .post_json(
                "/api/v1/auth/login/2fa",
                &json!({"mfa_token": body["mfa_token"], "recovery_code": "7bec052c"}),
            )
            .await;
        assert_eq!(answer.status(), expected);
    }

    // Courses: exact money in its currency, mapped level, status and visibility.
    let course = |slug: &'static str| {
        let app = &app;
        async move {
            let response = app.get(&format!("/api/v1/courses/{slug}")).await;
            assert_eq!(response.status(), 200, "{slug}");
            response.json::<Value>().await.unwrap()
        }
    };
    let rust = course("async-rust-in-production").await;
    assert_eq!(rust["price_cents"], 4900);
    assert_eq!(rust["discount_price_cents"], 2900);
    assert_eq!(rust["currency"], "USD");
    assert_eq!(rust["instructor"]["name"], "Rahul Mehta", "{rust}");
    // Counters recomputed from what was imported (legacy cached 4.50 from 2 reviews): 11 students
    // with access (12 enrollments, one cancelled), one review in 1-5 (the other said 6).
    let first = course("rust-from-scratch").await;
    assert_eq!(first["student_count"], 11, "{first}");
    assert_eq!(first["rating_count"], 1);
    assert_eq!(first["rating_average"], 4.0);
    // The chat's change feed: one message.created per message, numbered 1..n in the original order.
    let (_, tokens) = login(&app, "rahul.mehta@acme-lms.test", "teach rust 2020").await;
    let token = tokens["access_token"].as_str().unwrap().to_string();
    let feed = app
        .client
        .get(app.url(&format!(
            "/api/v1/courses/{}/events?since_seq=0&limit=100",
            first["id"]
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let events = feed["events"].as_array().unwrap();
    assert_eq!(events.len(), 35, "{feed}");
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=35).collect::<Vec<_>>());
    let times: Vec<&str> = events.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "original order: {times:?}"
    );
    assert!(events.iter().all(|e| e["type"] == "message.created"));
    let data = course("data-science-with-python").await;
    assert_eq!(data["price_cents"], 7999);
    assert!(data["discount_price_cents"].is_null(), "99.00 above 79.99");
}

async fn a_second_run_changes_only_what_changed_in_the_legacy_database(backend: Backend) {
    let (legacy, legacy_db) = legacy_database().await;
    let target = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    report(importer(&target, &legacy, cwd.path(), &["run", "--json"]));
    let again = report(importer(&target, &legacy, cwd.path(), &["run", "--json"]));
    assert_eq!(counts(&again, "users"), [15, 0, 0, 14, 1, 0], "{again}");
    assert_eq!(counts(&again, "courses"), [5, 0, 0, 5, 0, 0], "{again}");
    assert_eq!(
        counts(&again, "enrollments"),
        [31, 0, 0, 26, 2, 3],
        "{again}"
    );
    // The legacy app kept running during the cut-over: one rename, one new user, one new course.
    legacy_db
        .execute_unprepared(
            r#"UPDATE users SET "lastName" = 'Grant-Hale', "updatedAt" = now() WHERE id = 1;
               INSERT INTO users (id, email, username, password, role, status, "isEmailVerified", "createdAt", "updatedAt")
                 VALUES (17, 'new.person@mail.test', 'new_person', NULL, 'student', 'active', true, now(), now());
               UPDATE chat_messages SET content = 'Edited after the first import', "isEdited" = true, "editedAt" = now(), "updatedAt" = now() WHERE id = 1;
               INSERT INTO courses (id, title, slug, "instructorId", price, currency, level, language, status, "createdAt", "updatedAt")
                 VALUES (7, 'Late Course', 'late-course', 17, '10.50', 'GBP', 'beginner', 'en', 'published', now(), now());"#,
        )
        .await
        .unwrap();
    let plan = report(importer(&target, &legacy, cwd.path(), &["plan", "--json"]));
    assert_eq!(counts(&plan, "users"), [16, 1, 1, 13, 1, 0], "{plan}");
    assert_eq!(counts(&plan, "enrollments"), [31, 0, 0, 26, 2, 3], "{plan}");
    assert_eq!(
        counts(&plan, "chat_messages"),
        [81, 0, 1, 80, 0, 0],
        "{plan}"
    );
    assert_eq!(counts(&plan, "courses"), [6, 1, 0, 5, 0, 0], "{plan}");
    let third = report(importer(&target, &legacy, cwd.path(), &["run", "--json"]));
    assert_eq!(counts(&third, "users"), [16, 1, 1, 13, 1, 0], "{third}");
    assert_eq!(counts(&third, "courses"), [6, 1, 0, 5, 0, 0], "{third}");
    assert_eq!(
        counts(&third, "chat_messages"),
        [81, 0, 1, 80, 0, 0],
        "{third}"
    );
    let db = target.connect().await;
    // The edit is the next event of its course: the feed stays gapless.
    assert_eq!(
        schema::scalar(
            &db,
            "SELECT COUNT(*) FROM chat_events e JOIN chat_sequences s ON s.course_id = e.course_id \
             WHERE e.kind = 'message.edited' AND e.seq = s.last_seq"
        )
        .await,
        1
    );
    assert_eq!(
        schema::scalar(
            &db,
            "SELECT COUNT(*) FROM chat_messages WHERE content = 'Edited after the first import' AND edit_count = 1"
        )
        .await,
        1
    );
    assert_eq!(schema::scalar(&db, "SELECT COUNT(*) FROM users").await, 15);
    assert_eq!(
        schema::scalar(
            &db,
            "SELECT COUNT(*) FROM users WHERE last_name = 'Grant-Hale' AND username = 'olivia.admin'"
        )
        .await,
        1
    );
    assert_eq!(
        schema::scalar(
            &db,
            "SELECT price_cents FROM courses WHERE slug = 'late-course' AND currency = 'GBP'"
        )
        .await,
        1050
    );
}

async fn verify_passes_after_a_run_and_names_every_difference(backend: Backend) {
    let (legacy, legacy_db) = legacy_database().await;
    let target = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    // Before any run: nothing reconciles.
    assert!(
        !importer(&target, &legacy, cwd.path(), &["verify"])
            .status
            .success()
    );
    report(importer(&target, &legacy, cwd.path(), &["run", "--json"]));
    let verified = report(importer(
        &target,
        &legacy,
        cwd.path(),
        &["verify", "--json"],
    ));
    assert_eq!(verified["differences"], json!([]), "{verified}");
    let tables = verified["tables"].as_array().unwrap();
    let line = |name: &str| tables.iter().find(|t| t["table"] == name).unwrap().clone();
    assert_eq!(line("enrollments")["skipped"], 3);
    assert_eq!(line("chat_messages")["compared"], 81);
    assert_eq!(line("users")["compared"], 14);

    // A message lost here, a stale rating, and a legacy row that arrived after the run.
    let db = target.connect().await;
    db.execute_unprepared(
        "DELETE FROM chat_messages WHERE id = (SELECT MAX(id) FROM chat_messages)",
    )
    .await
    .unwrap();
    db.execute_unprepared(
        "UPDATE courses SET rating_sum = rating_sum + 5, rating_count = rating_count + 1",
    )
    .await
    .unwrap();
    legacy_db
        .execute_unprepared(
            r#"INSERT INTO enrollments (id, "userId", "courseId", status, "enrolledAt", "createdAt", "updatedAt")
               VALUES (40, 13, 5, 'active', now(), now(), now())"#,
        )
        .await
        .unwrap();
    let failed = importer(&target, &legacy, cwd.path(), &["verify"]);
    assert!(!failed.status.success());
    let text = String::from_utf8_lossy(&failed.stdout);
    assert!(
        text.contains("enrollments 40: in the legacy database, not imported"),
        "{text}"
    );
    assert!(text.contains("is gone (orphan record)"), "{text}");
    assert!(text.contains("imported from the legacy database"), "{text}");
    assert!(text.contains("but its reviews give"), "{text}");
}

async fn run_backs_up_the_target_first_and_stops_if_it_cannot(backend: Backend) {
    let (legacy, _legacy_db) = legacy_database().await;
    let target = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    // Without the dump tool (an empty PATH), PostgreSQL and MariaDB targets refuse to import;
    // SQLite needs no tool.
    let without_tools = importer_command(&target, &legacy, cwd.path(), &["run", "--json"])
        .env("PATH", "")
        .output()
        .unwrap();
    let db = target.connect().await;
    if backend == Backend::Sqlite {
        assert!(without_tools.status.success());
    } else {
        assert!(!without_tools.status.success());
        let stderr = String::from_utf8_lossy(&without_tools.stderr);
        assert!(
            stderr.contains("--no-backup") && stderr.contains("dump"),
            "{stderr}"
        );
        assert!(schema::tables(&db).await.is_empty(), "nothing changed");
    }
    let run = report(importer(
        &target,
        &legacy,
        cwd.path(),
        &["run", "--json", "--backup-dir", "backups"],
    ));
    let path = Path::new(run["backup"].as_str().unwrap()).to_path_buf();
    let path = if path.is_absolute() {
        path
    } else {
        cwd.path().join(path)
    };
    let head = std::fs::read(&path).unwrap();
    let whole = match backend {
        Backend::Sqlite => head.starts_with(b"SQLite format 3"),
        Backend::Postgres => head.starts_with(b"PGDMP"),
        // The target was still empty then (the backup comes before any change): a finished dump.
        Backend::MySql => head.windows(17).any(|w| w == b"-- Dump completed"),
    };
    assert!(
        whole,
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&head)
    );
    let skipped = report(importer(
        &target,
        &legacy,
        cwd.path(),
        &["run", "--json", "--no-backup"],
    ));
    assert!(skipped["backup"].is_null());
}

async fn a_run_killed_midway_is_completed_by_the_next_without_duplicates(backend: Backend) {
    let (legacy, legacy_db) = legacy_database().await;
    legacy_db
        .execute_unprepared(
            r#"INSERT INTO users (id, email, username, role, status, "isEmailVerified", "createdAt", "updatedAt")
                 SELECT 1000 + g, 'volume' || g || '@mail.test', 'volume' || g, 'student', 'active', true,
                        now() - interval '1 day' + g * interval '1 second', now()
                 FROM generate_series(1, 2000) g;
               INSERT INTO chat_messages ("courseId", "userId", content, "createdAt", "updatedAt")
                 SELECT 1 + g % 4, 1001 + g % 2000, 'volume message ' || g,
                        now() - interval '1 hour' + g * interval '1 millisecond', now()
                 FROM generate_series(1, 6000) g;"#,
        )
        .await
        .unwrap();
    let target = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let mut child = importer_command(&target, &legacy, cwd.path(), &["run", "--no-backup"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let db = target.connect().await;
    let recorded = |db: &DatabaseConnection| {
        let db = db.clone();
        async move {
            if schema::tables(&db).await.iter().any(|t| t == "import_map") {
                schema::scalar(&db, "SELECT COUNT(*) FROM import_map").await
            } else {
                0
            }
        }
    };
    // Kill it (SIGKILL) once a few pages are in.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while recorded(&db).await < 1500
        && std::time::Instant::now() < deadline
        && child.try_wait().unwrap().is_none()
    {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before it could be killed midway"
    );
    let _ = child.kill();
    let _ = child.wait();
    // What a killed run left is whole: every row here has its record, every record its row.
    for (table, source) in [("users", "users"), ("chat_messages", "chat_messages")] {
        let rows = schema::scalar(&db, &format!("SELECT COUNT(*) FROM {table}")).await;
        let records = schema::scalar(
            &db,
            &format!("SELECT COUNT(*) FROM import_map WHERE source_table = '{source}' AND outcome = 'created'"),
        )
        .await;
        assert_eq!(rows, records, "{table} after the kill");
    }
    let finished = report(importer(
        &target,
        &legacy,
        cwd.path(),
        &["run", "--json", "--no-backup"],
    ));
    assert_eq!(counts(&finished, "users")[0], 2015);
    let verified = report(importer(
        &target,
        &legacy,
        cwd.path(),
        &["verify", "--json"],
    ));
    assert_eq!(verified["differences"], json!([]), "{verified}");
    assert_eq!(
        schema::scalar(&db, "SELECT COUNT(*) FROM users").await,
        2014
    );
    assert_eq!(
        schema::scalar(&db, "SELECT COUNT(*) FROM chat_messages").await,
        6081
    );
    // Still gapless per course after the interruption.
    assert_eq!(
        schema::scalar(
            &db,
            "SELECT COUNT(*) FROM chat_sequences s WHERE s.last_seq <> \
             (SELECT COUNT(*) FROM chat_events e WHERE e.course_id = s.course_id) \
             OR s.last_seq <> (SELECT MAX(seq) FROM chat_events e WHERE e.course_id = s.course_id)"
        )
        .await,
        0
    );
}

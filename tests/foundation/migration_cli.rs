//! The real `migration` binary against real databases.
use std::path::Path;
use std::process::{Command, Output};

use lms_e2e::{Backend, TestDb, backend_tests, bin, schema, succeeded as ok};
use migration::{Migrator, MigratorTrait};

backend_tests!(
    up_status_down_all_but_the_first_three_and_up_again,
    status_lists_every_migration_in_order_with_its_state,
    two_up_runs_started_together_apply_each_migration_once,
    status_check_fails_while_anything_is_pending,
    up_to_and_down_to_stop_at_the_named_migration,
    up_records_checksums_and_refuses_when_an_applied_migration_changed,
    dry_runs_print_the_sql_in_order_and_change_nothing,
    verify_passes_on_a_migrated_database_and_reports_drift,
);

// A failing migration leaves nothing behind where DDL is transactional. MySQL commits DDL statement by
// statement: there the runner resumes instead (the mysql_ test).
lms_e2e::transactional_ddl_tests!(
    a_migration_failing_half_way_leaves_nothing_behind_and_names_the_statement,
    a_down_failing_half_way_leaves_the_migration_applied,
);
lms_e2e::mysql_tests!(mysql_a_migration_failing_half_way_is_shown_failed_and_resumed_after_the_fix);
lms_e2e::server_database_tests!(the_readmes_grants_are_enough_to_migrate_verify_and_roll_back);

fn migration(args: &[&str], database_url: Option<&str>, cwd: &Path) -> Output {
    let mut cmd = Command::new(bin("migration"));
    cmd.args(args).current_dir(cwd).env_remove("DATABASE_URL");
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    cmd.output().expect("run the migration binary")
}

/// (name, state) rows of `migration status`.
fn status_rows(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter(|line| line.starts_with('m') && !line.starts_with("migration "))
        .map(|line| {
            let mut cols = line.split_whitespace();
            (
                cols.next().unwrap().to_string(),
                cols.next().unwrap().to_string(),
            )
        })
        .collect()
}

fn names() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect()
}

async fn up_status_down_all_but_the_first_three_and_up_again(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let url = Some(test_db.url.as_str());

    ok(migration(&["up"], url, cwd.path()));
    let rows = status_rows(&ok(migration(&["status"], url, cwd.path())));
    assert!(rows.iter().all(|(_, state)| state == "applied"), "{rows:?}");
    let db = test_db.connect().await;
    let all_tables = schema::tables(&db).await;

    // `down -n N` undoes the N newest: all but the first three (users, courses, enrollments) here.
    let undo = names().len() - 3;
    ok(migration(
        &["down", "-n", &undo.to_string()],
        url,
        cwd.path(),
    ));
    let rows = status_rows(&ok(migration(&["status"], url, cwd.path())));
    let applied = rows.len() - undo;
    assert!(
        rows[..applied].iter().all(|(_, state)| state == "applied"),
        "{rows:?}"
    );
    assert!(
        rows[applied..].iter().all(|(_, state)| state == "pending"),
        "{rows:?}"
    );
    assert!(
        !schema::tables(&db)
            .await
            .iter()
            .any(|t| t == "chat_messages")
    );

    ok(migration(
        &["down", "-n", &rows.len().to_string()],
        url,
        cwd.path(),
    ));
    assert!(schema::tables(&db).await.is_empty());

    ok(migration(&["up"], url, cwd.path()));
    assert_eq!(schema::tables(&db).await, all_tables);
    // Running `up` with nothing pending is fine.
    let out = ok(migration(&["up"], url, cwd.path()));
    assert!(out.contains("No pending migrations"), "{out}");
}

async fn status_lists_every_migration_in_order_with_its_state(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let url = Some(test_db.url.as_str());

    let out = ok(migration(&["status"], url, cwd.path()));
    let rows = status_rows(&out);
    assert_eq!(
        rows.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        names()
    );
    assert!(rows.iter().all(|(_, s)| s == "pending"));
    let total = names().len();
    assert!(
        out.contains(&format!("{total} migrations: 0 applied, {total} pending")),
        "{out}"
    );

    ok(migration(&["up", "-n", "3"], url, cwd.path()));
    let rows = status_rows(&ok(migration(&["status"], url, cwd.path())));
    let states: Vec<&str> = rows.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(states[..3], ["applied"; 3]);
    assert!(states[3..].iter().all(|s| *s == "pending"), "{states:?}");

    ok(migration(&["down"], url, cwd.path()));
    let rows = status_rows(&ok(migration(&["status"], url, cwd.path())));
    assert_eq!(rows[1].1, "applied");
    assert_eq!(rows[2].1, "pending");
}

#[test]
fn without_database_url_it_uses_the_embedded_sqlite_file() {
    let cwd = tempfile::tempdir().unwrap();
    ok(migration(&["up"], None, cwd.path()));
    assert!(cwd.path().join("lms.db").exists());
    let rows = status_rows(&ok(migration(&["status"], None, cwd.path())));
    assert_eq!(rows.len(), names().len());
    assert!(rows.iter().all(|(_, s)| s == "applied"));
}

#[test]
fn an_unreachable_database_exits_non_zero_with_a_clear_message() {
    let cwd = tempfile::tempdir().unwrap();
    let output = migration(
        &["status"],
        Some("postgres://nobody:secret@127.0.0.1:1/lms"),
        cwd.path(),
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: cannot connect to postgres://127.0.0.1:1/lms"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "the password leaked: {stderr}");
}

#[test]
fn help_explains_every_command() {
    let cwd = tempfile::tempdir().unwrap();
    let out = ok(migration(&["--help"], None, cwd.path()));
    for command in [
        "up", "down", "status", "fresh", "refresh", "reset", "generate",
    ] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(command)),
            "{command} missing in:\n{out}"
        );
    }
    assert!(out.contains("DATABASE_URL"));
}

#[test]
fn generate_writes_the_next_numbered_migration_and_registers_it() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(src.join("m0001_first.rs"), "").unwrap();
    std::fs::write(src.join("m0002_second.rs"), "").unwrap();
    std::fs::write(
        src.join("lib.rs"),
        "mod m0001_first;\nmod m0002_second;\n\nfn migrations() {\n    vec![\n        Box::new(m0001_first::Migration),\n        Box::new(m0002_second::Migration),\n    ]\n}\n",
    )
    .unwrap();
    let dir_arg = src.to_str().unwrap();
    let out = ok(migration(
        &["generate", "add_timezone_to_users", "--dir", dir_arg],
        None,
        src,
    ));
    assert!(out.contains("m0003_add_timezone_to_users.rs"), "{out}");
    let file = std::fs::read_to_string(src.join("m0003_add_timezone_to_users.rs")).unwrap();
    assert!(file.contains("impl MigrationTrait for Migration"));
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    assert!(
        lib.contains("mod m0002_second;\nmod m0003_add_timezone_to_users;\n"),
        "{lib}"
    );
    assert!(
        lib.contains("        Box::new(m0003_add_timezone_to_users::Migration),\n    ]"),
        "{lib}"
    );

    let bad = migration(&["generate", "Bad Name", "--dir", dir_arg], None, src);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("snake_case"));
}

async fn two_up_runs_started_together_apply_each_migration_once(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let spawn = || {
        Command::new(bin("migration"))
            .arg("up")
            .current_dir(cwd.path())
            .env("DATABASE_URL", &test_db.url)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        ok(child.wait_with_output().unwrap());
    }
    let db = test_db.connect().await;
    use sea_orm::ConnectionTrait;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM seaql_migrations",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.try_get_by_index::<i64>(0).unwrap() as usize,
        names().len()
    );
}

async fn status_check_fails_while_anything_is_pending(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let url = Some(test_db.url.as_str());
    let pending = migration(&["status", "--check"], url, cwd.path());
    assert!(!pending.status.success());
    assert!(String::from_utf8_lossy(&pending.stderr).contains("pending"));
    ok(migration(&["up"], url, cwd.path()));
    ok(migration(&["status", "--check"], url, cwd.path()));
}

async fn up_to_and_down_to_stop_at_the_named_migration(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let url = Some(test_db.url.as_str());
    let all = names();
    ok(migration(&["up", "--to", &all[2]], url, cwd.path()));
    let applied = |rows: Vec<(String, String)>| rows.iter().filter(|(_, s)| s == "applied").count();
    assert_eq!(
        applied(status_rows(&ok(migration(&["status"], url, cwd.path())))),
        3
    );
    ok(migration(&["up"], url, cwd.path()));
    ok(migration(&["down", "--to", &all[4]], url, cwd.path()));
    let rows = status_rows(&ok(migration(&["status"], url, cwd.path())));
    assert_eq!(applied(rows.clone()), 5);
    assert_eq!(rows[4].1, "applied");
    assert_eq!(rows[5].1, "pending");
    let unknown = migration(&["up", "--to", "m9999_nope"], url, cwd.path());
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no migration named"));
}

async fn up_records_checksums_and_refuses_when_an_applied_migration_changed(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let test_db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let url = Some(test_db.url.as_str());
    ok(migration(&["up"], url, cwd.path()));
    let db = test_db.connect().await;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT version, checksum, duration_ms FROM seaql_migration_checksums ORDER BY version",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), names().len());
    for row in &rows {
        assert_eq!(
            row.try_get_by_index::<String>(1).unwrap().len(),
            64,
            "a SHA-256 per migration"
        );
        assert!(
            row.try_get_by_index::<Option<i64>>(2).unwrap().is_some(),
            "and how long it took"
        );
    }

    // Someone edits an applied migration (simulated by changing its recorded checksum) ...
    db.execute_unprepared(&format!(
        "UPDATE seaql_migration_checksums SET checksum = 'edited' WHERE version = '{}'",
        names()[1]
    ))
    .await
    .unwrap();
    ok(migration(&["down"], url, cwd.path()));
    let status = ok(migration(&["status"], url, cwd.path()));
    assert!(
        status
            .lines()
            .any(|l| l.starts_with(&names()[1]) && l.contains("CHANGED")),
        "{status}"
    );
    assert!(
        !migration(&["status", "--check"], url, cwd.path())
            .status
            .success()
    );
    let refused = migration(&["up"], url, cwd.path());
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&names()[1]) && stderr.contains("--allow-changed"),
        "{stderr}"
    );
    // ... and a migration applied by a newer build is missing from this one.
    db.execute_unprepared(
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m9999_from_the_future', 0)",
    )
    .await
    .unwrap();
    let status = ok(migration(&["status"], url, cwd.path()));
    assert!(
        status.contains("m9999_from_the_future") && status.contains("MISSING"),
        "{status}"
    );
    let refused = migration(&["up", "--allow-changed"], url, cwd.path());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("missing from this build"));
    db.execute_unprepared("DELETE FROM seaql_migrations WHERE version = 'm9999_from_the_future'")
        .await
        .unwrap();
    ok(migration(&["up", "--allow-changed"], url, cwd.path()));
    let rows = status_rows(&ok(migration(&["status"], url, cwd.path())));
    assert!(rows.iter().all(|(_, s)| s != "pending"), "{rows:?}");
}

async fn dry_runs_print_the_sql_in_order_and_change_nothing(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let url = Some(test_db.url.as_str());
    let plan = ok(migration(&["up", "--dry-run"], url, cwd.path()));
    // Identifiers are quoted the backend's way.
    let q = |name: &str| match backend {
        Backend::MySql => format!("`{name}`"),
        _ => format!("\"{name}\""),
    };
    let users = plan
        .find(&format!("CREATE TABLE {}", q("users")))
        .expect("users first");
    let courses = plan
        .find(&format!("CREATE TABLE {}", q("courses")))
        .expect("then courses");
    assert!(users < courses);
    assert!(
        plan.lines()
            .any(|l| l.starts_with("CREATE UNIQUE INDEX") && l.contains(&q("uq_users_email"))),
        "{plan}"
    );
    if backend == Backend::MySql {
        // Index migrations build online on InnoDB, and say so.
        assert!(
            plan.lines().any(|l| l.starts_with("CREATE INDEX")
                && l.contains("idx_courses_category")
                && l.ends_with("ALGORITHM=INPLACE LOCK=NONE;")),
            "{plan}"
        );
    }
    assert!(plan.trim_end().ends_with("-- dry run: nothing was changed"));
    let db = test_db.connect().await;
    assert!(
        schema::tables(&db).await.is_empty(),
        "a dry run creates nothing"
    );
    assert!(
        status_rows(&ok(migration(&["status"], url, cwd.path())))
            .iter()
            .all(|(_, s)| s == "pending")
    );

    ok(migration(&["up"], url, cwd.path()));
    let before = schema::snapshot(&db).await;
    let down = ok(migration(
        &["down", "-n", "2", "--dry-run"],
        url,
        cwd.path(),
    ));
    let all = names();
    let (last, before_last) = (&all[all.len() - 1], &all[all.len() - 2]);
    assert!(down.starts_with(&format!("-- {last} (down)")), "{down}");
    assert!(down.contains(&format!("-- {before_last} (down)")), "{down}");
    assert!(down.contains("DROP "), "{down}");
    assert_eq!(schema::snapshot(&db).await, before, "nothing changed");
}

async fn verify_passes_on_a_migrated_database_and_reports_drift(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let test_db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let url = Some(test_db.url.as_str());
    ok(migration(&["up"], url, cwd.path()));
    let verified = migration(&["verify"], url, cwd.path());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
    let out = ok(verified);
    assert!(
        out.contains(&format!("matches the {} applied migrations", names().len())),
        "{out}"
    );
    // It says what it checked and found, nothing that reads as if it changed the database.
    assert!(!said.contains("Applying"), "{said}");
    // Partly rolled back is still consistent with what is applied.
    ok(migration(&["down", "-n", "3"], url, cwd.path()));
    ok(migration(&["verify"], url, cwd.path()));
    ok(migration(&["up"], url, cwd.path()));

    // Drift: an index dropped by hand, a column added by hand, a foreign key action changed.
    let db = test_db.connect().await;
    let drop_index = match backend {
        Backend::MySql => "DROP INDEX idx_courses_category ON courses",
        _ => "DROP INDEX idx_courses_category",
    };
    db.execute_unprepared(drop_index).await.unwrap();
    db.execute_unprepared("ALTER TABLE users ADD COLUMN nickname VARCHAR(20)")
        .await
        .unwrap();
    let drift = migration(&["verify"], url, cwd.path());
    assert!(!drift.status.success());
    let report = String::from_utf8_lossy(&drift.stdout);
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("missing:") && l.contains("idx_courses_category")),
        "{report}"
    );
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("unexpected:") && l.contains("nickname")),
        "{report}"
    );
    assert!(String::from_utf8_lossy(&drift.stderr).contains("differs"));
}

/// PostgreSQL only: SQLite has no concurrent index builds (its writers are serialised anyway).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_interrupted_concurrent_index_build_is_cleaned_up_and_retried() {
    use sea_orm::ConnectionTrait;
    let test_db = TestDb::new(Backend::Postgres).await;
    let cwd = tempfile::tempdir().unwrap();
    let url = Some(test_db.url.as_str());
    ok(migration(
        &["up", "--to", "m0004_create_chat_messages_table"],
        url,
        cwd.path(),
    ));
    let db = test_db.connect().await;
    // Duplicate emails make the unique index build fail half-way, leaving an INVALID index behind.
    db.execute_unprepared(
        "INSERT INTO users (email, username, first_name, last_name) VALUES ('dup@example.com', 'one', 'A', 'B'), ('dup@example.com', 'two', 'A', 'B')",
    )
    .await
    .unwrap();
    let failed = migration(&["up"], url, cwd.path());
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("m0005_add_indexes_to_users_table"),
        "the error names the migration: {stderr}"
    );
    let invalid = "SELECT COUNT(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'uq_users_email' AND NOT i.indisvalid";
    assert_eq!(
        schema::scalar(&db, invalid).await,
        1,
        "the interrupted build left an invalid index"
    );
    assert!(status_rows(&ok(migration(&["status"], url, cwd.path())))[4].1 == "pending");

    db.execute_unprepared("DELETE FROM users WHERE username = 'two'")
        .await
        .unwrap();
    ok(migration(&["up"], url, cwd.path()));
    assert_eq!(schema::scalar(&db, invalid).await, 0);
    let valid = "SELECT COUNT(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'uq_users_email' AND i.indisvalid";
    assert_eq!(schema::scalar(&db, valid).await, 1);
    ok(migration(&["verify"], url, cwd.path()));
    // Down to the index migrations (m0008 and newer): their indexes go concurrently.
    let to_m0008 = (names().len() - 7).to_string();
    let plan = ok(migration(
        &["down", "-n", &to_m0008, "--dry-run"],
        url,
        cwd.path(),
    ));
    assert!(plan.contains("DROP INDEX CONCURRENTLY"), "{plan}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_inserts_keep_flowing_while_the_chat_index_migration_runs_on_a_million_rows() {
    use sea_orm::ConnectionTrait;
    use std::time::{Duration, Instant};
    let test_db = TestDb::new(Backend::Postgres).await;
    let cwd = tempfile::tempdir().unwrap();
    let url = Some(test_db.url.as_str());
    ok(migration(
        &["up", "--to", "m0007_add_indexes_to_enrollments_table"],
        url,
        cwd.path(),
    ));
    let db = test_db.connect().await;
    db.execute_unprepared("INSERT INTO users (email, username, first_name, last_name) VALUES ('a@example.com', 'author', 'A', 'B')").await.unwrap();
    db.execute_unprepared(
        "INSERT INTO courses (instructor_id, title, slug) VALUES (1, 'Big', 'big')",
    )
    .await
    .unwrap();
    db.execute_unprepared(
        "INSERT INTO chat_messages (course_id, user_id, content, created_at, updated_at) \
         SELECT 1, 1, 'message ' || g, now(), now() FROM generate_series(1, 1000000) g",
    )
    .await
    .unwrap();

    let started = Instant::now();
    let mut child = Command::new(bin("migration"))
        .arg("up")
        .current_dir(cwd.path())
        .env("DATABASE_URL", &test_db.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut inserted, mut slowest) = (0u32, Duration::ZERO);
    while child.try_wait().unwrap().is_none() {
        let t = Instant::now();
        db.execute_unprepared("INSERT INTO chat_messages (course_id, user_id, content) VALUES (1, 1, 'during the build')").await.unwrap();
        slowest = slowest.max(t.elapsed());
        inserted += 1;
    }
    let build = started.elapsed();
    assert!(child.wait().unwrap().success());
    eprintln!("index migration took {build:?}; {inserted} inserts meanwhile, slowest {slowest:?}");
    assert!(inserted > 0);
    // A blocking CREATE INDEX would hold every insert for the length of a whole index build.
    if build > Duration::from_secs(1) {
        assert!(
            slowest < build / 2,
            "an insert waited {slowest:?} during a {build:?} migration"
        );
    }
    assert!(
        status_rows(&ok(migration(&["status"], url, cwd.path())))
            .iter()
            .all(|(_, s)| s == "applied")
    );
    ok(migration(&["verify"], url, cwd.path()));
}

/// A database migrated to m0008 where m0009 then fails at its fifth statement: m0009 creates
/// sessions, refresh_tokens, recovery_codes, mfa_challenges, then rate_limits, which already exists.
/// Returns the database, the CLI's working directory, a connection and the failed run's stderr (which
/// names the migration and the statement).
async fn m0009_failing_at_its_fifth_statement(
    backend: Backend,
) -> (
    TestDb,
    tempfile::TempDir,
    sea_orm::DatabaseConnection,
    String,
) {
    use sea_orm::ConnectionTrait;
    let test_db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let url = Some(test_db.url.as_str());
    ok(migration(
        &["up", "--to", "m0008_add_indexes_to_chat_messages_table"],
        url,
        cwd.path(),
    ));
    let db = test_db.connect().await;
    let blocker = match backend {
        Backend::MySql => "CREATE TABLE rate_limits (`key` VARCHAR(10))",
        _ => "CREATE TABLE rate_limits (key VARCHAR(10))",
    };
    db.execute_unprepared(blocker).await.unwrap();
    let failed = migration(&["up"], url, cwd.path());
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr).into_owned();
    assert!(
        stderr.contains("m0009_create_auth_tables") && stderr.contains("statement 5 of"),
        "{stderr}"
    );
    (test_db, cwd, db, stderr)
}

async fn a_migration_failing_half_way_leaves_nothing_behind_and_names_the_statement(
    backend: Backend,
) {
    use sea_orm::ConnectionTrait;
    let (test_db, cwd, db, stderr) = m0009_failing_at_its_fifth_statement(backend).await;
    let url = Some(test_db.url.as_str());
    assert!(
        stderr.contains("CREATE TABLE \"rate_limits\""),
        "the statement is named: {stderr}"
    );
    let tables = schema::tables(&db).await;
    for table in [
        "sessions",
        "refresh_tokens",
        "recovery_codes",
        "mfa_challenges",
    ] {
        assert!(
            !tables.iter().any(|t| t == table),
            "{table} was left behind: {tables:?}"
        );
    }
    let rows = status_rows(&ok(migration(&["status"], url, cwd.path())));
    assert_eq!(
        rows[8].1, "pending",
        "no tracking row for the failed migration"
    );
    db.execute_unprepared("DROP TABLE rate_limits")
        .await
        .unwrap();
    ok(migration(&["up"], url, cwd.path()));
    ok(migration(&["verify"], url, cwd.path()));
}

async fn a_down_failing_half_way_leaves_the_migration_applied(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let test_db = TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let url = Some(test_db.url.as_str());
    ok(migration(&["up"], url, cwd.path()));
    // m0011 is the newest applied migration for what follows.
    let m0011 = "m0011_create_chat_events_and_edits";
    ok(migration(&["down", "--to", m0011], url, cwd.path()));
    // One SQLite connection, as for any schema change (see `PoolOptions::for_migrations`).
    let db = test_db.connect_for_migrations().await;
    // m0011's down drops its indexes newest first: idx_chat_message_edits_message_id_id, then this one.
    db.execute_unprepared("DROP INDEX idx_chat_events_message_id")
        .await
        .unwrap();
    let before = schema::snapshot(&db).await;
    let failed = migration(&["down"], url, cwd.path());
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("m0011_create_chat_events_and_edits (down) failed at statement 2 of"),
        "{stderr}"
    );
    assert_eq!(
        schema::snapshot(&db).await,
        before,
        "the first DROP INDEX was rolled back with the rest"
    );
    let rows = status_rows(&ok(migration(&["status"], url, cwd.path())));
    assert_eq!(rows[10], (names()[10].clone(), "applied".to_string()));

    db.execute_unprepared("CREATE INDEX idx_chat_events_message_id ON chat_events (message_id)")
        .await
        .unwrap();
    let rolled_back = ok(migration(&["down"], url, cwd.path()));
    assert!(rolled_back.contains("rolled back m0011_create_chat_events_and_edits"));
    let rows = status_rows(&ok(migration(&["status"], url, cwd.path())));
    assert_eq!(rows[10].1, "pending");
    assert!(!schema::tables(&db).await.iter().any(|t| t == "chat_events"));
    ok(migration(&["up"], url, cwd.path()));
    ok(migration(&["verify"], url, cwd.path()));
}

/// MySQL commits each DDL statement by itself, so a migration failing half-way keeps its first
/// statements. The runner says which statement failed, records nothing as applied, shows the migration
/// FAILED in `status`, and after the cause is fixed `up` goes on from the failed statement.
async fn mysql_a_migration_failing_half_way_is_shown_failed_and_resumed_after_the_fix(
    backend: Backend,
) {
    use sea_orm::ConnectionTrait;
    let (test_db, cwd, db, _) = m0009_failing_at_its_fifth_statement(backend).await;
    let url = Some(test_db.url.as_str());
    let status = migration(&["status"], url, cwd.path());
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("m0009_create_auth_tables") && l.contains("FAILED")),
        "{shown}"
    );
    assert!(shown.contains("failed at statement 5 of"), "{shown}");
    assert!(
        !migration(&["status", "--check"], url, cwd.path())
            .status
            .success()
    );
    // The first four tables stay (MySQL committed them); a second run without the fix fails the same way.
    let tables = schema::tables(&db).await;
    assert!(tables.iter().any(|t| t == "mfa_challenges"), "{tables:?}");
    let again = migration(&["up"], url, cwd.path());
    assert!(String::from_utf8_lossy(&again.stderr).contains("statement 5 of"));
    // Fixed: `up` resumes at statement 5 and completes; the schema is what the migrations define.
    db.execute_unprepared("DROP TABLE rate_limits")
        .await
        .unwrap();
    ok(migration(&["up"], url, cwd.path()));
    ok(migration(&["verify"], url, cwd.path()));
    ok(migration(&["status", "--check"], url, cwd.path()));
}

/// The privileges the README lists for the migration user, and no more: a fresh login with exactly
/// those runs `up`, `verify`, `status --check`, `reset` and `up` again.
async fn the_readmes_grants_are_enough_to_migrate_verify_and_roll_back(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let test_db = TestDb::new(backend).await;
    let admin = test_db.connect().await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (user, password) = (
        format!("lms_grant_{}", &suffix[..8]),
        suffix[8..24].to_string(),
    );
    let database = test_db
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let grants = match backend {
        Backend::MySql => vec![
            format!("CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"),
            format!("GRANT ALL ON `{database}`.* TO '{user}'@'%'"),
            format!("GRANT ALL ON `lms\\_verify\\_%`.* TO '{user}'@'%'"),
        ],
        _ => vec![
            format!("CREATE ROLE {user} LOGIN PASSWORD '{password}'"),
            format!("ALTER SCHEMA public OWNER TO {user}"),
            format!("GRANT CREATE ON DATABASE \"{database}\" TO {user}"),
        ],
    };
    for sql in &grants {
        admin
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let (scheme, rest) = test_db.url.split_once("://").unwrap();
    let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, tail)| tail);
    let url = format!("{scheme}://{user}:{password}@{host_and_path}");
    let cwd = tempfile::tempdir().unwrap();
    let url = Some(url.as_str());
    ok(migration(&["up"], url, cwd.path()));
    ok(migration(&["verify"], url, cwd.path()));
    ok(migration(&["status", "--check"], url, cwd.path()));
    ok(migration(&["reset"], url, cwd.path()));
    ok(migration(&["up"], url, cwd.path()));
    assert_eq!(
        schema::scalar(&admin, "SELECT COUNT(*) FROM seaql_migrations").await,
        Migrator::migrations().len() as i64
    );
    drop(admin);
    drop(test_db);
    if backend == Backend::MySql {
        let server = lms_core::db::connect(&lms_e2e::db::mysql_admin_url(), &Default::default())
            .await
            .unwrap();
        server
            .execute_unprepared(&format!("DROP USER '{user}'@'%'"))
            .await
            .unwrap();
    } else {
        let server = lms_core::db::connect(&lms_e2e::db::postgres_admin_url(), &Default::default())
            .await
            .unwrap();
        server
            .execute_unprepared(&format!("DROP ROLE {user}"))
            .await
            .unwrap();
    }
}

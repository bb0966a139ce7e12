use lms_core::db::PoolOptions;
use lms_e2e::{Backend, TestDb, backend_tests, schema};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

backend_tests!(
    every_migration_goes_up_down_and_up_again_to_the_same_schema,
    down_all_leaves_no_application_tables,
    enumerated_columns_reject_unknown_values,
    foreign_keys_cascade_or_restrict_as_documented,
    values_that_do_not_fit_are_told_apart_from_other_errors,
);

lms_e2e::shared_database_tests!(a_deadlock_is_told_apart_as_contention);

lms_e2e::mysql_tests!(
    mysql_tables_are_utf8mb4_instants_utc_and_emoji_exact_whatever_the_server_defaults,
);

/// MariaDB/MySQL: the test server defaults to latin1 and +02:00 (scripts/mariadb.sh). The schema and
/// the connection must not care: every table is InnoDB utf8mb4, instants are stored as written in UTC,
/// emails and usernames stay unique regardless of case, and 👍, 👍🏽 and 👎 are three reactions.
async fn mysql_tables_are_utf8mb4_instants_utc_and_emoji_exact_whatever_the_server_defaults(
    backend: Backend,
) {
    let (_guard, db) = migrated(backend).await;
    let latin1 = schema::scalar(
        &db,
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() \
         AND table_name NOT LIKE 'seaql%' AND (engine <> 'InnoDB' OR table_collation NOT LIKE 'utf8mb4%')",
    )
    .await;
    assert_eq!(latin1, 0, "every table InnoDB and utf8mb4");
    exec(&db, USER).await.unwrap();
    exec(&db, COURSE).await.unwrap();
    let err = exec(&db, "INSERT INTO users (email, username, first_name, last_name) VALUES ('A@EXAMPLE.COM', 'other', 'A', 'L')")
        .await
        .expect_err("an email differing only in case");
    assert!(err.to_string().contains("Duplicate"), "{err}");
    exec(
        &db,
        "INSERT INTO chat_messages (course_id, user_id, content) VALUES (1, 1, 'héllo 👋')",
    )
    .await
    .unwrap();
    for emoji in ["👍", "👍🏽", "👎"] {
        exec(
            &db,
            &format!("INSERT INTO chat_message_reactions (message_id, user_id, emoji) VALUES (1, 1, '{emoji}')"),
        )
        .await
        .unwrap_or_else(|e| panic!("{emoji}: {e}"));
    }
    assert_eq!(
        schema::scalar(
            &db,
            "SELECT COUNT(DISTINCT emoji) FROM chat_message_reactions"
        )
        .await,
        3
    );
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::MySql,
            "SELECT content, @@session.time_zone FROM chat_messages",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<String>(0).unwrap(), "héllo 👋");
    assert_eq!(row.try_get_by_index::<String>(1).unwrap(), "+00:00");
    // An instant written through the connection reads back the same, to the microsecond.
    exec(
        &db,
        "UPDATE users SET last_login_at = '2026-12-02 10:11:12.345678'",
    )
    .await
    .unwrap();
    let at: chrono::DateTime<chrono::Utc> = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::MySql,
            "SELECT last_login_at FROM users",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    assert_eq!(at.to_rfc3339(), "2026-12-02T10:11:12.345678+00:00");
}

async fn every_migration_goes_up_down_and_up_again_to_the_same_schema(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let db = test_db.connect_for_migrations().await;
    let count = Migrator::migrations().len();
    assert!(
        count >= 8,
        "the eight original migrations and any later ones"
    );

    Migrator::install(&db).await.unwrap();
    let mut after_step = vec![schema::snapshot(&db).await];
    for _ in 0..count {
        Migrator::up(&db, Some(1)).await.unwrap();
        let snap = schema::snapshot(&db).await;
        assert_ne!(
            &snap,
            after_step.last().unwrap(),
            "a migration changed nothing"
        );
        after_step.push(snap);
    }
    for step in (0..count).rev() {
        Migrator::down(&db, Some(1)).await.unwrap();
        assert_eq!(
            schema::snapshot(&db).await,
            after_step[step],
            "down of migration {}",
            step + 1
        );
        Migrator::up(&db, Some(1)).await.unwrap();
        assert_eq!(
            schema::snapshot(&db).await,
            after_step[step + 1],
            "up again of migration {}",
            step + 1
        );
        Migrator::down(&db, Some(1)).await.unwrap();
    }
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(schema::snapshot(&db).await, after_step[count]);
}

async fn down_all_leaves_no_application_tables(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let db = test_db.connect_for_migrations().await;
    Migrator::up(&db, None).await.unwrap();
    let tables = schema::tables(&db).await;
    for table in [
        "chat_message_reactions",
        "chat_messages",
        "courses",
        "enrollments",
        "users",
        "sessions",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} missing from {tables:?}"
        );
    }
    let count = Migrator::migrations().len() as u32;
    Migrator::down(&db, Some(count)).await.unwrap();
    assert!(schema::tables(&db).await.is_empty());
    assert_eq!(
        Migrator::get_pending_migrations(&db).await.unwrap().len() as u32,
        count
    );
}

async fn migrated(backend: Backend) -> (TestDb, DatabaseConnection) {
    let test_db = TestDb::new(backend).await;
    let db = test_db.connect_for_migrations().await;
    Migrator::up(&db, None).await.unwrap();
    (test_db, db)
}

async fn exec(db: &DatabaseConnection, sql: &str) -> Result<(), DbErr> {
    db.execute_unprepared(sql).await.map(|_| ())
}

const USER: &str = "INSERT INTO users (email, username, first_name, last_name, password_hash) \
    VALUES ('a@example.com', 'alice', 'A', 'L', 'x')";
const COURSE: &str = "INSERT INTO courses (instructor_id, title, slug) VALUES (1, 'Rust', 'rust')";

async fn enumerated_columns_reject_unknown_values(backend: Backend) {
    let (_guard, db) = migrated(backend).await;
    exec(&db, USER).await.unwrap();
    exec(&db, COURSE).await.unwrap();
    let bad = [
        "UPDATE users SET role = 'superuser'",
        "UPDATE users SET status = 'sleeping'",
        "UPDATE users SET social_provider = 'myspace', social_provider_id = '1'",
        "UPDATE users SET social_provider = 'github'",
        "UPDATE courses SET level = 'expert'",
        "UPDATE courses SET status = 'live'",
        "UPDATE courses SET visibility = 'secret'",
        "UPDATE courses SET price_cents = -1",
        "UPDATE courses SET price_cents = 100, discount_price_cents = 100",
        "UPDATE courses SET currency = 'EU'",
        "INSERT INTO enrollments (user_id, course_id, status) VALUES (1, 1, 'paused')",
        "INSERT INTO enrollments (user_id, course_id, payment_status) VALUES (1, 1, 'maybe')",
        "INSERT INTO enrollments (user_id, course_id, payment_method) VALUES (1, 1, 'cash')",
        "INSERT INTO enrollments (user_id, course_id, progress_percent) VALUES (1, 1, 101)",
        "INSERT INTO enrollments (user_id, course_id, rating) VALUES (1, 1, 6)",
        "INSERT INTO chat_messages (course_id, user_id, content, message_type) VALUES (1, 1, 'x', 'shout')",
    ];
    for sql in bad {
        let err = exec(&db, sql).await.expect_err(sql);
        // PostgreSQL and SQLite say "check"; MariaDB names the failed `ck_...` constraint.
        let message = err.to_string().to_lowercase();
        assert!(
            message.contains("check") || message.contains("constraint `ck_"),
            "{sql}: {err}"
        );
    }
    // The same columns accept their known values.
    exec(&db, "UPDATE users SET role = 'instructor', social_provider = 'github', social_provider_id = '42'")
        .await
        .unwrap();
    exec(&db, "INSERT INTO enrollments (user_id, course_id, status, payment_method, rating) VALUES (1, 1, 'active', 'free', 5)")
        .await
        .unwrap();
}

async fn foreign_keys_cascade_or_restrict_as_documented(backend: Backend) {
    let (_guard, db) = migrated(backend).await;
    exec(&db, USER).await.unwrap();
    exec(&db, "INSERT INTO users (email, username, first_name, last_name) VALUES ('b@example.com', 'bob', 'B', 'B')")
        .await
        .unwrap();
    exec(&db, COURSE).await.unwrap();
    exec(
        &db,
        "INSERT INTO enrollments (user_id, course_id) VALUES (2, 1)",
    )
    .await
    .unwrap();
    exec(
        &db,
        "INSERT INTO chat_messages (course_id, user_id, content) VALUES (1, 2, 'hi')",
    )
    .await
    .unwrap();
    exec(&db, "INSERT INTO chat_messages (course_id, user_id, parent_id, content) VALUES (1, 1, 1, 'hello')")
        .await
        .unwrap();
    exec(&db, "INSERT INTO chat_message_reactions (message_id, user_id, emoji) VALUES (1, 1, 'thumbs_up')")
        .await
        .unwrap();

    // Unknown parents are refused.
    let err = exec(
        &db,
        "INSERT INTO enrollments (user_id, course_id) VALUES (99, 1)",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err.sql_err(),
            Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
        ),
        "{err}"
    );
    // A teaching instructor cannot be deleted (restrict), nor a course with enrollments.
    assert!(exec(&db, "DELETE FROM users WHERE id = 1").await.is_err());
    assert!(exec(&db, "DELETE FROM courses WHERE id = 1").await.is_err());
    // Deleting a student takes their enrollments and reactions; their messages stay, unattributed.
    exec(&db, "DELETE FROM users WHERE id = 2").await.unwrap();
    let count = |sql: &'static str| schema::scalar(&db, sql);
    assert_eq!(count("SELECT COUNT(*) FROM enrollments").await, 0);
    assert_eq!(
        count("SELECT COUNT(*) FROM chat_messages WHERE user_id IS NULL").await,
        1
    );
    // Without enrollments the course can go, and its chat (messages, replies, reactions) with it.
    exec(&db, "DELETE FROM courses WHERE id = 1").await.unwrap();
    assert_eq!(count("SELECT COUNT(*) FROM chat_messages").await, 0);
    assert_eq!(
        count("SELECT COUNT(*) FROM chat_message_reactions").await,
        0
    );
}

/// SQLite connections cache the schema and check `CREATE INDEX` against that cache before noticing that
/// another connection dropped the index; migration runs therefore use one SQLite connection (a pool of
/// several made `down` then `up` in one run fail now and then with "index ... already exists").
#[test]
fn schema_changes_run_on_one_sqlite_connection() {
    assert_eq!(
        PoolOptions::for_migrations("sqlite://lms.db?mode=rwc").max_connections,
        1
    );
    assert_eq!(
        PoolOptions::for_migrations("postgres://localhost/lms").max_connections,
        PoolOptions::default().max_connections
    );
}

/// `lms_core::db::is_bad_value` (what the API answers 422 for) recognises each backend's refusal of a
/// value, and nothing else: a duplicate is a conflict, a missing row a foreign-key error.
async fn values_that_do_not_fit_are_told_apart_from_other_errors(backend: Backend) {
    use lms_core::db::is_bad_value;
    let (_guard, db) = migrated(backend).await;
    exec(&db, USER).await.unwrap();
    exec(&db, COURSE).await.unwrap();
    let check = exec(&db, "UPDATE users SET role = 'superuser'")
        .await
        .unwrap_err();
    assert!(is_bad_value(&check), "{check}");
    let range = exec(&db, "UPDATE courses SET price_cents = 99999999999999999999").await;
    let long = exec(
        &db,
        &format!("UPDATE users SET username = '{}'", "x".repeat(5000)),
    )
    .await;
    if backend == Backend::Sqlite {
        // SQLite stores any length and integer; its columns have no such limits.
        assert!(long.is_ok());
    } else {
        let (range, long) = (range.unwrap_err(), long.unwrap_err());
        assert!(is_bad_value(&range), "{range}");
        assert!(is_bad_value(&long), "{long}");
    }
    let duplicate = exec(&db, USER).await.unwrap_err();
    assert!(!is_bad_value(&duplicate), "{duplicate}");
    let orphan = exec(
        &db,
        "INSERT INTO enrollments (user_id, course_id, status) VALUES (999, 1, 'active')",
    )
    .await
    .unwrap_err();
    assert!(!is_bad_value(&orphan), "{orphan}");
}

/// Two transactions that lock two rows in opposite orders: the database breaks the deadlock by failing
/// one of them, and `lms_core::db::is_contention` (what the API answers 503 + Retry-After for) says so.
async fn a_deadlock_is_told_apart_as_contention(backend: Backend) {
    use sea_orm::TransactionTrait;
    let (guard, setup) = migrated(backend).await;
    exec(&setup, USER).await.unwrap();
    exec(&setup, COURSE).await.unwrap();
    exec(
        &setup,
        "INSERT INTO courses (instructor_id, title, slug) VALUES (1, 'Go', 'go')",
    )
    .await
    .unwrap();
    let db = guard.connect().await;
    let update = |id: i64| {
        format!(
            "UPDATE courses SET title = 'locked' WHERE slug = '{}'",
            ["rust", "go"][id as usize]
        )
    };
    let (a, b) = (db.begin().await.unwrap(), db.begin().await.unwrap());
    a.execute_unprepared(&update(0)).await.unwrap();
    b.execute_unprepared(&update(1)).await.unwrap();
    let (go, rust) = (update(1), update(0));
    let (first, second) = tokio::join!(a.execute_unprepared(&go), async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        b.execute_unprepared(&rust).await
    });
    let failed: Vec<DbErr> = [first, second]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(lms_core::db::is_contention(&failed[0]), "{}", failed[0]);
    assert!(!lms_core::db::is_bad_value(&failed[0]));
}

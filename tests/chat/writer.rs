//! The two ways an instance writes chat posts (one transaction per post, and batches committed by one
//! writer task) are one path run two ways: for the same posts they must leave the same messages,
//! events and rate-limit counts, and answer each post the same way.
use entity::chat_messages::MessageType;
use entity::users::UserRole;
use lms_core::auth::{Registration, create_user};
use lms_core::chat::PostWriter;
use lms_core::chat::writer::{PendingPost, Written, write};
use lms_core::courses::{CourseInput, create};
use lms_core::mail::Mailer;
use lms_core::security::secret::ServerSecret;
use lms_core::security::{Auth, AuthSettings};
use lms_e2e::{Backend, TestDb, backend_tests};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};

backend_tests!(single_and_batched_posts_leave_the_same_rows_events_and_counts);

/// Posts per author per window in this test.
const LIMIT: i32 = 4;

/// A migrated database with an instructor, three students and two courses (same ids every time).
async fn world(backend: Backend) -> (TestDb, DatabaseConnection, Vec<i64>, Vec<i64>) {
    let test_db = TestDb::new(backend).await;
    let db = test_db.connect().await;
    migration::up_locked(&db, &test_db.url, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secret = ServerSecret::load(
        Some("a test secret that is long enough to use"),
        &dir.path().join("secret"),
        false,
    )
    .unwrap();
    let settings = AuthSettings {
        hash_concurrency: 1,
        hash_queue: 16,
        access_ttl_secs: 900,
        session_ttl_secs: 3600,
        public_url: "http://127.0.0.1".into(),
    };
    let auth = Auth::new(&settings, &secret, Mailer::Log).unwrap();
    let mut users = Vec::new();
    for (name, role) in [
        ("teacher", UserRole::Instructor),
        ("ann", UserRole::Student),
        ("ben", UserRole::Student),
        ("cat", UserRole::Student),
    ] {
        let registration = Registration {
            email: format!("{name}@example.com"),
            username: name.into(),
            password: "correct horse battery staple 7".into(),
            first_name: name.into(),
            last_name: "Tester".into(),
        };
        users.push(create_user(&db, &auth, registration, role).await.unwrap());
    }
    let mut courses = Vec::new();
    for title in ["Writing in batches", "Writing alone"] {
        let input = CourseInput {
            title: Some(title.into()),
            ..Default::default()
        };
        courses.push(create(&db, &users[0], input).await.unwrap().id);
    }
    let students = users[1..].iter().map(|u| u.id).collect();
    (test_db, db, students, courses)
}

/// 30 posts: students take turns over both courses, so each goes over the limit of 4.
fn script(students: &[i64], courses: &[i64]) -> Vec<PendingPost> {
    (0..30)
        .map(|i| PendingPost {
            course_id: courses[i % 2],
            user_id: students[i % 3],
            parent_id: None,
            message_type: MessageType::Text,
            content: format!("post {i}"),
        })
        .collect()
}

/// What a post was answered: its id and sequence number, or the status of the refusal.
fn answer(result: lms_core::Result<Written>) -> Result<(i64, i64), String> {
    result.map(|w| (w.id, w.seq)).map_err(|e| {
        format!("{e}")
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string()
    })
}

/// Messages, events and rate-limit buckets, as rows of text.
async fn rows(db: &DatabaseConnection) -> Vec<String> {
    let mut out = Vec::new();
    for (table, columns, order) in [
        (
            "chat_messages",
            "'message', id, course_id, user_id, message_type, content",
            "id",
        ),
        (
            "chat_events",
            "'event', course_id, seq, kind, message_id, actor_id",
            "course_id, seq",
        ),
        (
            "chat_sequences",
            "'sequence', course_id, last_seq",
            "course_id",
        ),
        ("rate_limits", "'bucket', `key`, hits", "`key`"),
    ] {
        // One text per row: `||` joins on PostgreSQL and SQLite; on MySQL it means OR.
        let backend = db.get_database_backend();
        let text = match backend {
            sea_orm::DbBackend::MySql => format!("CONCAT_WS(' ', {columns})"),
            _ => columns.replace(", ", " || ' ' || ").replace('`', "\""),
        };
        let order = match backend {
            sea_orm::DbBackend::MySql => order.to_string(),
            _ => order.replace('`', "\""),
        };
        let sql = format!("SELECT {text} FROM {table} ORDER BY {order}");
        for row in db
            .query_all_raw(Statement::from_string(backend, sql))
            .await
            .unwrap()
        {
            out.push(row.try_get_by_index::<String>(0).unwrap());
        }
    }
    out
}

async fn single_and_batched_posts_leave_the_same_rows_events_and_counts(backend: Backend) {
    // One transaction per post.
    let (_single_db, single, students, courses) = world(backend).await;
    let posts = script(&students, &courses);
    let writer = PostWriter::single(single.clone(), LIMIT);
    let mut single_answers = Vec::new();
    for post in &posts {
        single_answers.push(answer(writer.post(post.clone()).await));
    }

    // The writer task: every post is queued before the first batch is written (polled in order, so
    // the queue holds them in the script's order).
    let (_batched_db, batched, ..) = world(backend).await;
    let writer = PostWriter::batched(batched.clone(), LIMIT);
    let queued = posts.iter().map(|post| writer.post(post.clone()));
    let batched_answers: Vec<_> = futures_util::future::join_all(queued)
        .await
        .into_iter()
        .map(answer)
        .collect();

    // The shared path called once with all 30 posts, in one transaction.
    let (_one_db, one, ..) = world(backend).await;
    let txn = one.begin().await.unwrap();
    let all: Vec<&PendingPost> = posts.iter().collect();
    let one_answers: Vec<_> = write(&txn, &all, LIMIT)
        .await
        .unwrap()
        .into_iter()
        .map(answer)
        .collect();
    txn.commit().await.unwrap();

    let written = single_answers.iter().filter(|a| a.is_ok()).count();
    assert_eq!(written, 3 * LIMIT as usize, "{single_answers:?}");
    assert!(
        single_answers
            .iter()
            .filter_map(|a| a.as_ref().err())
            .all(|e| e.starts_with("too many requests")),
        "{single_answers:?}"
    );
    assert_eq!(batched_answers, single_answers);
    assert_eq!(one_answers, single_answers);
    let expected = rows(&single).await;
    assert_eq!(
        expected.iter().filter(|r| r.starts_with("event ")).count(),
        written
    );
    assert!(expected.contains(&format!("bucket chat-post:user:{} {LIMIT}", students[0])));
    assert_eq!(rows(&batched).await, expected);
    assert_eq!(rows(&one).await, expected);
}

//! What makes chat fast must not make it wrong: an instance remembers who may use a chat, yet a
//! revocation takes effect on the very next request (on that instance, and through PostgreSQL on
//! others); posts committed together in one batch are rate-limited exactly and fail one by one.
use std::sync::Arc;
use std::time::{Duration, Instant};

use lms_e2e::app::assert_problem;
use lms_e2e::process::ApiProcess;
use lms_e2e::schema::scalar;
use lms_e2e::{Backend, backend_tests};
use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::class::{Class, cancel_enrollment, class, log_out, seqs};
use crate::world::{call, json_ok};

backend_tests!(
    revocations_take_effect_on_the_next_request,
    a_burst_of_posts_is_limited_exactly
);
lms_e2e::shared_database_tests!(a_logout_reaches_what_another_process_remembers);

async fn history(class: &Class, token: &str) -> reqwest::Response {
    call(
        &class.app,
        Method::GET,
        &class.path("/messages"),
        Some(token),
        None,
    )
    .await
}

async fn revocations_take_effect_on_the_next_request(backend: Backend) {
    let class = class(backend, 3, |c| c.chat_access_cache_secs = 600).await;
    let (leaver, quitter, renamed) = (&class.students[0], &class.students[1], &class.students[2]);
    // Each has just been let in, so the instance remembers them.
    for who in &class.students {
        json_ok(history(&class, &who.token).await, 200).await;
    }

    log_out(&class.app, leaver).await;
    assert_problem(history(&class, &leaver.token).await, 401).await;

    cancel_enrollment(&class.app, quitter).await;
    assert_problem(history(&class, &quitter.token).await, 403).await;

    json_ok(
        call(
            &class.app,
            Method::PATCH,
            "/api/v1/users/me",
            Some(&renamed.token),
            Some(json!({"first_name": "Renamed"})),
        )
        .await,
        200,
    )
    .await;
    let posted = class.post(renamed, "new name, same me").await;
    assert!(
        posted["author"]["name"]
            .as_str()
            .unwrap()
            .starts_with("Renamed "),
        "{posted}"
    );
}

async fn a_burst_of_posts_is_limited_exactly(backend: Backend) {
    let class = Arc::new(class(backend, 1, |c| c.chat_posts_per_minute = 5).await);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let class = class.clone();
        tasks.push(tokio::spawn(async move {
            class
                .post_status(&class.students[0], &format!("burst {i}"))
                .await
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [vec![201; 5], vec![429; 7]].concat());
    assert_eq!(
        scalar(&class.app.db, "SELECT COUNT(*) FROM chat_messages").await,
        5
    );
    let events = class.feed(&class.owner, 0).await;
    assert_eq!(seqs(&events), vec![1, 2, 3, 4, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_post_that_fails_in_a_batch_fails_alone() {
    let class = Arc::new(class(Backend::Postgres, 6, |c| c.chat_posts_per_minute = 1000).await);
    // The database refuses one particular message, as it might refuse a post whose course was just
    // deleted.
    class
        .app
        .db
        .execute_unprepared(
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.content = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER refuse_poison BEFORE INSERT ON chat_messages \
             FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..30 {
        let class = class.clone();
        tasks.push(tokio::spawn(async move {
            let content = if i == 17 {
                "poison".to_string()
            } else {
                format!("fine {i}")
            };
            class.post_status(&class.students[i % 6], &content).await
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [vec![201; 29], vec![500]].concat());
    let events = class.feed(&class.owner, 0).await;
    assert_eq!(seqs(&events), (1..=29).collect::<Vec<_>>());
    assert_eq!(
        scalar(&class.app.db, "SELECT COUNT(*) FROM chat_messages").await,
        29
    );
}

/// PostgreSQL tells the other process with NOTIFY; on MySQL it reads `access_signals`.
async fn a_logout_reaches_what_another_process_remembers(backend: Backend) {
    let class = class(backend, 1, |_| {}).await;
    // A separate process, so that only the database can tell it (in-process instances share a cache).
    let other = ApiProcess::beside(&class.app, &[("LMS_CHAT_ACCESS_CACHE_SECS", "600")]);
    let student = &class.students[0];
    let url = format!("{}{}", other.base, class.path("/messages"));
    let client = reqwest::Client::new();
    let read = || client.get(&url).bearer_auth(&student.token).send();
    assert_eq!(read().await.unwrap().status(), 200);

    log_out(&class.app, student).await;
    let started = Instant::now();
    let mut status = 200;
    while started.elapsed() < Duration::from_secs(5) {
        status = read().await.unwrap().status().as_u16();
        if status == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 401, "the other process still lets the session in");
}

//! The change feed and live delivery: gapless sequence numbers, resuming without loss or duplicates,
//! access ending mid-connection, rate limits, slow clients, and two API instances on one PostgreSQL.
use std::sync::Arc;
use std::time::Duration;

use lms_e2e::schema::scalar;
use lms_e2e::ws::{self, Auth, Next};
use lms_e2e::{Backend, backend_tests};
use reqwest::Method;
use serde_json::json;

use crate::class::{cancel_enrollment, class, log_out, post_to, seqs};
use crate::world::{call, json_ok};

backend_tests!(
    sequence_numbers_are_gapless_under_concurrent_writers,
    a_resumed_socket_gets_every_missed_event_exactly_once,
    revoked_sessions_and_departed_students_stop_receiving,
    posting_is_rate_limited_per_user,
    a_client_that_does_not_read_does_not_hold_up_others
);
lms_e2e::shared_database_tests!(two_instances_deliver_to_each_others_sockets);

const WAIT: Duration = Duration::from_secs(10);

async fn sequence_numbers_are_gapless_under_concurrent_writers(backend: Backend) {
    let class = Arc::new(class(backend, 4, |c| c.chat_posts_per_minute = 1000).await);
    let anchor = class.post(&class.owner, "react to me").await["id"]
        .as_i64()
        .unwrap();
    let mut tasks = Vec::new();
    for s in 0..4 {
        let class = class.clone();
        tasks.push(tokio::spawn(async move {
            let who = &class.students[s];
            for i in 0..10 {
                class.post(who, &format!("s{s} m{i}")).await;
                if i % 3 == 0 {
                    let path = class.path(&format!("/messages/{anchor}/reactions/%E2%9C%85"));
                    let method = if i % 2 == 0 {
                        Method::PUT
                    } else {
                        Method::DELETE
                    };
                    json_ok(
                        call(&class.app, method, &path, Some(&who.token), None).await,
                        200,
                    )
                    .await;
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let events = class.feed(&class.owner, 0).await;
    let total = scalar(&class.app.db, "SELECT COUNT(*) FROM chat_events").await;
    assert_eq!(
        seqs(&events),
        (1..=total).collect::<Vec<_>>(),
        "gapless and ordered"
    );
    let created = events
        .iter()
        .filter(|e| e["type"] == "message.created")
        .count();
    assert_eq!(created, 41);
    let last = scalar(
        &class.app.db,
        &format!(
            "SELECT last_seq FROM chat_sequences WHERE course_id = {}",
            class.course_id
        ),
    )
    .await;
    assert_eq!(last, total);
}

async fn a_resumed_socket_gets_every_missed_event_exactly_once(backend: Backend) {
    let class = Arc::new(class(backend, 2, |c| c.chat_posts_per_minute = 1000).await);
    let (watcher, poster) = (&class.students[0], &class.students[1]);
    let mut socket = ws::connect(
        &class.app.base,
        class.course_id,
        Auth::Header(&watcher.token),
        None,
    )
    .await
    .unwrap();
    let (backlog, start) = socket.ready().await;
    assert!(backlog.is_empty() && start == 0);
    for i in 0..5 {
        class.post(poster, &format!("live {i}")).await;
    }
    let live = socket.events_until(5, WAIT).await;
    assert_eq!(seqs(&live), vec![1, 2, 3, 4, 5]);
    assert_eq!(live[0]["type"], "message.created");
    assert_eq!(live[0]["message"]["content"], "live 0");
    socket.close().await;

    // Others keep posting while the watcher is away and while it reconnects.
    let writer = {
        let class = class.clone();
        tokio::spawn(async move {
            for i in 0..30 {
                class
                    .post(&class.students[1], &format!("while away {i}"))
                    .await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut socket = ws::connect(
        &class.app.base,
        class.course_id,
        Auth::Subprotocol(&watcher.token),
        Some(5),
    )
    .await
    .unwrap();
    assert_eq!(socket.protocol.as_deref(), Some("lms.chat.v1"));
    let (mut received, _) = socket.ready().await;
    writer.await.unwrap();
    let missing_until = 35;
    if received
        .last()
        .is_none_or(|e| e["seq"].as_i64().unwrap() < missing_until)
    {
        received.extend(socket.events_until(missing_until, WAIT).await);
    }
    assert_eq!(
        seqs(&received),
        (6..=35).collect::<Vec<_>>(),
        "every missed event, once, in order"
    );
    class.post(poster, "after the resume").await;
    let next = socket.json(WAIT).await;
    assert_eq!(next["seq"], 36);
    assert_eq!(next["message"]["content"], "after the resume");
    assert_eq!(
        socket.next(Duration::from_millis(300)).await,
        Next::Timeout,
        "nothing twice"
    );
}

async fn revoked_sessions_and_departed_students_stop_receiving(backend: Backend) {
    let class = class(backend, 3, |_| {}).await;
    let (leaver, quitter, poster) = (&class.students[0], &class.students[1], &class.students[2]);
    let mut signed_out = ws::connect(
        &class.app.base,
        class.course_id,
        Auth::Header(&leaver.token),
        None,
    )
    .await
    .unwrap();
    let mut departed = ws::connect(
        &class.app.base,
        class.course_id,
        Auth::Header(&quitter.token),
        None,
    )
    .await
    .unwrap();
    signed_out.ready().await;
    departed.ready().await;
    class.post(poster, "everyone sees this").await;
    assert_eq!(signed_out.json(WAIT).await["seq"], 1);
    assert_eq!(departed.json(WAIT).await["seq"], 1);

    log_out(&class.app, leaver).await;
    assert_eq!(signed_out.next(WAIT).await, Next::Closed(Some(4401)));

    cancel_enrollment(&class.app, quitter).await;
    assert_eq!(departed.next(WAIT).await, Next::Closed(Some(4403)));
    class.post(poster, "members only").await;

    // And they cannot come back in.
    let again = ws::connect(
        &class.app.base,
        class.course_id,
        Auth::Header(&quitter.token),
        None,
    )
    .await;
    assert_eq!(again.err().map(|(s, _)| s), Some(403));
    let again = ws::connect(
        &class.app.base,
        class.course_id,
        Auth::Header(&leaver.token),
        None,
    )
    .await;
    assert_eq!(again.err().map(|(s, _)| s), Some(401));
}

async fn posting_is_rate_limited_per_user(backend: Backend) {
    let class = class(backend, 2, |c| c.chat_posts_per_minute = 3).await;
    let (chatty, calm) = (&class.students[0], &class.students[1]);
    for i in 0..3 {
        class.post(chatty, &format!("{i}")).await;
    }
    let refused = call(
        &class.app,
        Method::POST,
        &class.path("/messages"),
        Some(&chatty.token),
        Some(json!({"content": "one more"})),
    )
    .await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    lms_e2e::app::assert_problem(refused, 429).await;
    class.post(calm, "others still may").await;
    assert_eq!(
        scalar(
            &class.app.db,
            &format!(
                "SELECT COUNT(*) FROM chat_messages WHERE user_id = {}",
                chatty.id
            )
        )
        .await,
        3
    );
    assert_eq!(
        scalar(&class.app.db, "SELECT COUNT(*) FROM chat_events").await,
        4
    );
}

async fn a_client_that_does_not_read_does_not_hold_up_others(backend: Backend) {
    let class = Arc::new(class(backend, 3, |c| c.chat_posts_per_minute = 10_000).await);
    // Connected, never reads a frame.
    let _stalled = ws::connect(
        &class.app.base,
        class.course_id,
        Auth::Header(&class.students[0].token),
        None,
    )
    .await
    .unwrap();
    let mut reader = ws::connect(
        &class.app.base,
        class.course_id,
        Auth::Header(&class.students[1].token),
        None,
    )
    .await
    .unwrap();
    reader.ready().await;
    let text = "x".repeat(2000);
    let mut writers = Vec::new();
    for w in 0..2 {
        let (class, text) = (class.clone(), text.clone());
        writers.push(tokio::spawn(async move {
            for _ in 0..150 {
                post_to(
                    &class.app,
                    class.course_id,
                    &class.students[2 - w],
                    json!({"content": text}),
                )
                .await;
            }
        }));
    }
    let received = reader.events_until(300, WAIT).await;
    assert_eq!(seqs(&received), (1..=300).collect::<Vec<_>>());
    for w in writers {
        w.await.unwrap();
    }
}

/// Two API instances on one database: a message posted through one reaches sockets on the other
/// (PostgreSQL: NOTIFY, also after the listener's connection was cut, when the instance re-reads the
/// event table; MySQL: each instance polls the sequence numbers of the courses it serves).
async fn two_instances_deliver_to_each_others_sockets(backend: Backend) {
    let class = class(backend, 2, |c| c.chat_posts_per_minute = 1000).await;
    let second = class
        .app
        .another_instance(|c| c.chat_posts_per_minute = 1000)
        .await;
    let (a, b) = (&class.students[0], &class.students[1]);
    let mut on_first = ws::connect(
        &class.app.base,
        class.course_id,
        Auth::Header(&a.token),
        None,
    )
    .await
    .unwrap();
    let mut on_second = ws::connect(&second.base, class.course_id, Auth::Header(&b.token), None)
        .await
        .unwrap();
    on_first.ready().await;
    on_second.ready().await;

    post_to(
        &second,
        class.course_id,
        b,
        json!({"content": "from the second"}),
    )
    .await;
    class.post(a, "from the first").await;
    for socket in [&mut on_first, &mut on_second] {
        let got = socket.events_until(2, WAIT).await;
        assert_eq!(seqs(&got), vec![1, 2]);
        assert_eq!(got[0]["message"]["content"], "from the second");
    }

    if backend != Backend::Postgres {
        return;
    }
    // Cut every LISTEN connection; what the second instance commits meanwhile still arrives on the first.
    let killed = scalar(
        &class.app.db,
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .await;
    assert!(killed >= 2, "listeners found: {killed}");
    for i in 0..5 {
        post_to(
            &second,
            class.course_id,
            b,
            json!({"content": format!("during the cut {i}")}),
        )
        .await;
    }
    let got = on_first.events_until(7, Duration::from_secs(20)).await;
    assert_eq!(seqs(&got), vec![3, 4, 5, 6, 7]);
    class.post(a, "after the cut").await;
    assert_eq!(
        on_second.events_until(8, WAIT).await.last().unwrap()["seq"],
        8
    );
}

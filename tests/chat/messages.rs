//! Messages, threads, edits, moderation and reactions through the HTTP API.
use lms_e2e::app::assert_problem;
use lms_e2e::schema::scalar;
use lms_e2e::{Backend, backend_tests};
use reqwest::Method;
use serde_json::{Value, json};

use crate::class::{class, post_to, seqs};
use crate::world::{call, json_ok};

backend_tests!(
    history_pages_newest_first_with_tombstones,
    threads_edits_pins_and_reactions,
    bad_input_is_refused_and_changes_nothing,
    content_is_plain_text_stored_as_sent
);

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect()
}

async fn history_pages_newest_first_with_tombstones(backend: Backend) {
    let class = class(backend, 1, |_| {}).await;
    let student = &class.students[0];
    let mut posted = Vec::new();
    for i in 0..7 {
        posted.push(
            class.post(student, &format!("message {i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    // A reply is not top-level history.
    post_to(
        &class.app,
        class.course_id,
        &class.owner,
        json!({"content": "reply", "parent_id": posted[0]}),
    )
    .await;

    let first = class.get(student, "/messages?limit=3").await;
    assert_eq!(ids(&first), vec![posted[6], posted[5], posted[4]]);
    assert_eq!(first["has_more"], true);
    let second = class
        .get(student, &format!("/messages?limit=3&before={}", posted[4]))
        .await;
    assert_eq!(ids(&second), vec![posted[3], posted[2], posted[1]]);
    assert_eq!(second["has_more"], true);
    let last = class
        .get(student, &format!("/messages?limit=3&before={}", posted[1]))
        .await;
    assert_eq!(ids(&last), vec![posted[0]]);
    assert_eq!(last["has_more"], false);
    // `after` walks towards newer messages, still listed newest first.
    let newer = class
        .get(student, &format!("/messages?limit=2&after={}", posted[2]))
        .await;
    assert_eq!(ids(&newer), vec![posted[4], posted[3]]);
    assert_eq!(newer["has_more"], true);

    // A deleted message stays in history as a tombstone without content.
    let path = class.path(&format!("/messages/{}", posted[5]));
    let deleted = call(
        &class.app,
        Method::DELETE,
        &path,
        Some(&class.owner.token),
        None,
    )
    .await;
    assert_eq!(deleted.status(), 204);
    let page = class.get(student, "/messages?limit=3").await;
    let tombstone = &page["items"][1];
    assert_eq!(tombstone["id"], posted[5]);
    assert_eq!(tombstone["deleted"], true);
    assert!(tombstone["content"].is_null(), "{tombstone}");
    assert!(!page.to_string().contains("message 5"), "{page}");
}

async fn threads_edits_pins_and_reactions(backend: Backend) {
    let class = class(backend, 2, |_| {}).await;
    let (ana, ben, teacher) = (&class.students[0], &class.students[1], &class.owner);
    let question = class.post(ana, "What is a monad?").await;
    let qid = question["id"].as_i64().unwrap();
    assert_eq!(question["author"]["username"], "student0");
    for i in 0..3 {
        post_to(
            &class.app,
            class.course_id,
            ben,
            json!({"content": format!("answer {i}"), "parent_id": qid, "type": "answer"}),
        )
        .await;
    }
    let thread = class
        .get(ana, &format!("/messages/{qid}/replies?limit=2"))
        .await;
    assert_eq!(thread["items"][0]["content"], "answer 0", "oldest first");
    assert_eq!(thread["items"][1]["content"], "answer 1");
    assert_eq!(thread["has_more"], true);
    let rest = class
        .get(
            ana,
            &format!("/messages/{qid}/replies?after={}", thread["items"][1]["id"]),
        )
        .await;
    assert_eq!(rest["items"][0]["content"], "answer 2");
    assert_eq!(rest["has_more"], false);
    let first_reply = thread["items"][0]["id"].as_i64().unwrap();
    let nested = call(
        &class.app,
        Method::POST,
        &class.path("/messages"),
        Some(&ana.token),
        Some(json!({"content": "deeper", "parent_id": first_reply})),
    )
    .await;
    assert_problem(nested, 422).await;

    // Edits keep their history; only the author edits; author and staff read the history.
    let path = class.path(&format!("/messages/{qid}"));
    for content in ["What is a monad, really?", "What is a monad in Rust?"] {
        let edited = json_ok(
            call(
                &class.app,
                Method::PATCH,
                &path,
                Some(&ana.token),
                Some(json!({"content": content})),
            )
            .await,
            200,
        )
        .await;
        assert_eq!(edited["content"], content);
        assert!(edited["edited_at"].is_string());
    }
    let detail = class.get(ben, &format!("/messages/{qid}")).await;
    assert_eq!(detail["edit_count"], 2);
    assert_eq!(detail["reply_count"], 3);
    let history = class.get(teacher, &format!("/messages/{qid}/edits")).await;
    let versions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        versions,
        vec!["What is a monad?", "What is a monad, really?"]
    );
    let refused = call(
        &class.app,
        Method::PATCH,
        &path,
        Some(&ben.token),
        Some(json!({"content": "mine now"})),
    )
    .await;
    assert_problem(refused, 403).await;
    let refused = call(
        &class.app,
        Method::GET,
        &format!("{path}/edits"),
        Some(&ben.token),
        None,
    )
    .await;
    assert_problem(refused, 403).await;

    // Reactions: idempotent, counted, "mine" per caller.
    let thumbs = format!("{path}/reactions/%F0%9F%91%8D");
    for who in [ana, ana, ben] {
        json_ok(
            call(&class.app, Method::PUT, &thumbs, Some(&who.token), None).await,
            200,
        )
        .await;
    }
    let party = format!("{path}/reactions/%F0%9F%8E%89");
    let after = json_ok(
        call(&class.app, Method::PUT, &party, Some(&ben.token), None).await,
        200,
    )
    .await;
    assert_eq!(
        after["reactions"],
        json!([{"emoji": "🎉", "count": 1, "mine": true}, {"emoji": "👍", "count": 2, "mine": true}])
    );
    let mine = class.get(ana, &format!("/messages/{qid}")).await;
    assert_eq!(
        mine["reactions"],
        json!([{"emoji": "🎉", "count": 1, "mine": false}, {"emoji": "👍", "count": 2, "mine": true}])
    );
    for _ in 0..2 {
        json_ok(
            call(&class.app, Method::DELETE, &thumbs, Some(&ana.token), None).await,
            200,
        )
        .await;
    }
    let mine = class.get(ana, &format!("/messages/{qid}")).await;
    assert_eq!(
        mine["reactions"][1],
        json!({"emoji": "👍", "count": 1, "mine": false})
    );
    let bad = call(
        &class.app,
        Method::PUT,
        &format!("{path}/reactions/lol"),
        Some(&ana.token),
        None,
    )
    .await;
    assert_problem(bad, 422).await;

    // Pins: staff only, listed, idempotent.
    let pin = format!("{path}/pin");
    for _ in 0..2 {
        let pinned = json_ok(
            call(&class.app, Method::POST, &pin, Some(&teacher.token), None).await,
            200,
        )
        .await;
        assert!(pinned["pinned_at"].is_string());
    }
    assert_eq!(ids(&class.get(ben, "/messages/pinned").await), vec![qid]);
    json_ok(
        call(&class.app, Method::DELETE, &pin, Some(&teacher.token), None).await,
        200,
    )
    .await;
    assert_eq!(
        ids(&class.get(ben, "/messages/pinned").await),
        Vec::<i64>::new()
    );
    json_ok(
        call(&class.app, Method::POST, &pin, Some(&teacher.token), None).await,
        200,
    )
    .await;

    // The feed so far: 1 post, 3 replies, 2 edits, 3 reactions added, 2 removed... in order, gapless.
    let events = class.feed(ana, 0).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        vec![
            "message.created",
            "message.created",
            "message.created",
            "message.created",
            "message.edited",
            "message.edited",
            "reaction.added",
            "reaction.added",
            "reaction.added",
            "reaction.removed",
            "message.pinned",
            "message.unpinned",
            "message.pinned"
        ]
    );
    assert_eq!(seqs(&events), (1..=13).collect::<Vec<_>>());
    assert_eq!(class.feed(ana, 11).await.len(), 2, "since_seq resumes");

    // Deleting (by staff): content, edit history and reactions go everywhere; the thread stays.
    let deleted = call(
        &class.app,
        Method::DELETE,
        &path,
        Some(&teacher.token),
        None,
    )
    .await;
    assert_eq!(deleted.status(), 204);
    let again = call(
        &class.app,
        Method::DELETE,
        &path,
        Some(&teacher.token),
        None,
    )
    .await;
    assert_eq!(again.status(), 204, "idempotent");
    let detail = class.get(ben, &format!("/messages/{qid}")).await;
    assert_eq!(detail["deleted"], true);
    assert!(detail["content"].is_null());
    assert_eq!(detail["reactions"], json!([]));
    assert_eq!(detail["reply_count"], 3);
    assert!(
        class.get(teacher, &format!("/messages/{qid}/edits")).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(&class.get(ben, "/messages/pinned").await),
        Vec::<i64>::new()
    );
    let feed = serde_json::to_string(&class.feed(ana, 0).await).unwrap();
    assert!(
        !feed.contains("monad"),
        "deleted content left in the feed: {feed}"
    );
    assert_eq!(
        class.get(ana, &format!("/messages/{qid}/replies")).await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let edit = call(
        &class.app,
        Method::PATCH,
        &path,
        Some(&ana.token),
        Some(json!({"content": "back"})),
    )
    .await;
    assert_problem(edit, 409).await;
    let stored = scalar(
        &class.app.db,
        &format!("SELECT COUNT(*) FROM chat_messages WHERE id = {qid} AND content = ''"),
    )
    .await;
    assert_eq!(stored, 1, "the row stays, its content is gone");
}

async fn bad_input_is_refused_and_changes_nothing(backend: Backend) {
    let class = class(backend, 1, |c| c.chat_max_message_chars = 50).await;
    let student = &class.students[0];
    let other = crate::class::class(backend, 0, |_| {}).await;
    let foreign = other.post(&other.owner, "elsewhere").await["id"]
        .as_i64()
        .unwrap();
    let path = class.path("/messages");
    let cases = [
        (json!({"content": "   "}), 422),
        (json!({"content": "x".repeat(51)}), 422),
        (json!({"content": "nul \u{0000} byte"}), 422),
        (json!({"content": "hi", "type": "system"}), 422),
        (json!({"content": "hi", "type": "shout"}), 422),
        (json!({"content": "hi", "parent_id": 987654}), 422),
        (json!({"content": "hi", "color": "red"}), 422),
        (json!({"content": 42}), 422),
        (json!({"content": "hi", "type": "announcement"}), 403),
    ];
    for (body, status) in cases {
        let response = call(
            &class.app,
            Method::POST,
            &path,
            Some(&student.token),
            Some(body.clone()),
        )
        .await;
        assert_problem(response, status).await;
    }
    // A parent in another course (with the same id space) is refused too.
    let response = call(
        &class.app,
        Method::POST,
        &path,
        Some(&student.token),
        Some(json!({"content": "hi", "parent_id": foreign})),
    )
    .await;
    assert_problem(response, 422).await;
    let not_json = class
        .app
        .client
        .post(class.app.url(&path))
        .bearer_auth(&student.token)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert!(not_json.status().is_client_error());
    assert_eq!(
        scalar(&class.app.db, "SELECT COUNT(*) FROM chat_messages").await,
        0
    );
    assert_eq!(
        scalar(&class.app.db, "SELECT COUNT(*) FROM chat_events").await,
        0
    );
    for query in ["limit=0", "limit=101", "before=abc", "since=3"] {
        let response = call(
            &class.app,
            Method::GET,
            &format!("{path}?{query}"),
            Some(&student.token),
            None,
        )
        .await;
        assert!(response.status().is_client_error(), "{query}");
    }
    let response = call(
        &class.app,
        Method::GET,
        &class.path("/events?since_seq=-1"),
        Some(&student.token),
        None,
    )
    .await;
    assert_problem(response, 422).await;
}

async fn content_is_plain_text_stored_as_sent(backend: Backend) {
    let class = class(backend, 1, |_| {}).await;
    let raw = "  <script>alert('x')</script> & <b>bold</b>\n\"quoted\" — ünïcödé 🎉  ";
    let posted = class.post(&class.students[0], raw).await;
    assert_eq!(posted["content"], raw);
    let response = call(
        &class.app,
        Method::GET,
        &class.path("/messages"),
        Some(&class.owner.token),
        None,
    )
    .await;
    assert_eq!(response.headers()["content-type"], "application/json");
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["items"][0]["content"], raw);
    let stored = scalar(
        &class.app.db,
        &format!(
            "SELECT COUNT(*) FROM chat_messages WHERE id = {} AND content = '{}'",
            posted["id"],
            raw.replace('\'', "''")
        ),
    )
    .await;
    assert_eq!(stored, 1);
}

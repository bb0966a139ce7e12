//! Safe retries: a create request sent again with the same `Idempotency-Key` (because its answer was
//! lost, or it timed out) gets the first answer and creates nothing more, on any instance.
use std::time::Duration;

use entity::users::UserRole;
use lms_e2e::app::assert_problem;
use lms_e2e::schema::scalar;
use lms_e2e::{Backend, TestApp, backend_tests};
use reqwest::{Method, Response};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};

use crate::world::{Person, enroll, json_ok, person, published_course, spawn};

backend_tests!(
    a_retried_post_with_the_same_key_gets_the_first_answer_and_creates_once,
    a_key_reused_for_another_request_is_422_and_one_still_running_is_409,
    a_post_whose_answer_was_lost_leaves_exactly_one_row_when_retried,
    registration_and_enrollment_honour_the_key_too
);

async fn send(
    app: &TestApp,
    path: &str,
    who: Option<&Person>,
    key: &str,
    body: &Value,
) -> Response {
    let mut request = app
        .client
        .request(Method::POST, app.url(path))
        .header("idempotency-key", key)
        .json(body);
    if let Some(who) = who {
        request = request.bearer_auth(&who.token);
    }
    request.send().await.unwrap()
}

/// A course with an enrolled student: (app, student, messages path).
async fn class(backend: Backend) -> (TestApp, Person, String) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let student = person(&app, "student", UserRole::Student).await;
    let course = published_course(&app, &teacher, "Retries", 0).await;
    let id = course["id"].as_i64().unwrap();
    enroll(&app, &student, id).await;
    (app, student, format!("/api/v1/courses/{id}/messages"))
}

async fn messages_saying(app: &TestApp, content: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM chat_messages WHERE content = '{content}'");
    scalar(&app.db, &sql).await
}

async fn a_retried_post_with_the_same_key_gets_the_first_answer_and_creates_once(backend: Backend) {
    let (app, student, path) = class(backend).await;
    let body = json!({"content": "exactly once"});
    let first = send(&app, &path, Some(&student), "key-1", &body).await;
    assert_eq!(first.status(), 201);
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let first: Value = first.json().await.unwrap();
    let again = send(&app, &path, Some(&student), "key-1", &body).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    // Through another instance of the API on the same database: the same.
    let other = app.another_instance(|_| {}).await;
    let elsewhere = send(&other, &path, Some(&student), "key-1", &body).await;
    assert_eq!(elsewhere.status(), 201);
    assert_eq!(elsewhere.json::<Value>().await.unwrap(), first);
    assert_eq!(messages_saying(&app, "exactly once").await, 1);
    // Another key is another message.
    assert_eq!(
        send(&app, &path, Some(&student), "key-2", &body)
            .await
            .status(),
        201
    );
    assert_eq!(messages_saying(&app, "exactly once").await, 2);
}

async fn a_key_reused_for_another_request_is_422_and_one_still_running_is_409(backend: Backend) {
    let (app, student, path) = class(backend).await;
    let body = json!({"content": "first"});
    assert_eq!(
        send(&app, &path, Some(&student), "k", &body).await.status(),
        201
    );
    let other = json!({"content": "second"});
    let problem = assert_problem(send(&app, &path, Some(&student), "k", &other).await, 422).await;
    assert!(problem["errors"]["Idempotency-Key"].is_array(), "{problem}");
    assert_eq!(messages_saying(&app, "second").await, 0);
    // Without a token the answer is 401 whatever the key holds: keys are per caller, and nobody's
    // key is looked at (or claimed) before the caller is known.
    for key in ["k".to_string(), "x".repeat(300)] {
        let anonymous = app
            .client
            .post(app.url(&path))
            .header("idempotency-key", &key)
            .json(&other)
            .send()
            .await
            .unwrap();
        assert_problem(anonymous, 401).await;
    }

    // A first request that has not answered yet (claimed, no answer stored).
    let running = json!({"content": "still running"});
    let bytes = serde_json::to_vec(&running).unwrap();
    entity::idempotency_keys::ActiveModel {
        caller: Set(format!("user:{}", student.id)),
        key: Set("busy".into()),
        fingerprint: Set(lms_core::idempotency::fingerprint("POST", &path, &bytes)),
        response_status: Set(None),
        response_content_type: Set(None),
        response_body: Set(None),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(&app.db)
    .await
    .unwrap();
    let request = app
        .client
        .post(app.url(&path))
        .bearer_auth(&student.token)
        .header("idempotency-key", "busy")
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_problem(request, 409).await;
    assert_eq!(messages_saying(&app, "still running").await, 0);
    let long = "k".repeat(256);
    assert_problem(send(&app, &path, Some(&student), &long, &body).await, 400).await;
}

async fn a_post_whose_answer_was_lost_leaves_exactly_one_row_when_retried(backend: Backend) {
    let (app, student, path) = class(backend).await;
    let body = json!({"content": "sent while the network failed"});
    // The client gives up before the answer comes (it may or may not have been processed yet).
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(1))
        .build()
        .unwrap();
    let _ = impatient
        .post(app.url(&path))
        .bearer_auth(&student.token)
        .header("idempotency-key", "lost")
        .json(&body)
        .send()
        .await;
    // Then it retries, as a client should, until it has an answer.
    let mut answer = None;
    for _ in 0..100 {
        let retry = send(&app, &path, Some(&student), "lost", &body).await;
        if retry.status() != 409 {
            answer = Some(retry);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answer.expect("an answer").status(), 201);
    assert_eq!(
        messages_saying(&app, "sent while the network failed").await,
        1
    );
}

async fn registration_and_enrollment_honour_the_key_too(backend: Backend) {
    let app = spawn(backend).await;
    let body = json!({"email": "once@example.com", "username": "once", "password": "velvet thunder 42 kite",
        "first_name": "Only", "last_name": "Once"});
    let first = json_ok(
        send(&app, "/api/v1/auth/register", None, "signup", &body).await,
        201,
    )
    .await;
    let again = json_ok(
        send(&app, "/api/v1/auth/register", None, "signup", &body).await,
        201,
    )
    .await;
    assert_eq!(first, again);
    let sql = "SELECT COUNT(*) FROM users WHERE username = 'once'";
    assert_eq!(scalar(&app.db, sql).await, 1);

    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let student = person(&app, "student", UserRole::Student).await;
    let course = published_course(&app, &teacher, "Enroll once", 0).await;
    let path = format!("/api/v1/courses/{}/enrollments", course["id"]);
    let first = json_ok(
        send(&app, &path, Some(&student), "join", &json!({})).await,
        201,
    )
    .await;
    let again = json_ok(
        send(&app, &path, Some(&student), "join", &json!({})).await,
        201,
    )
    .await;
    assert_eq!(first, again);
    // Without the key, a second enrollment is the conflict it always was.
    assert_problem(
        send(&app, &path, Some(&student), "other", &json!({})).await,
        409,
    )
    .await;
}

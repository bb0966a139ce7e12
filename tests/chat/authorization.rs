//! Who may do what in a course's chat: every endpoint against every kind of caller.
use entity::users::UserRole;
use lms_e2e::ws::{self, Auth};
use lms_e2e::{Backend, backend_tests};
use reqwest::Method;
use serde_json::{Value, json};

use crate::class::post_to;
use crate::world::{Person, call, enroll, person, published_course, spawn};

backend_tests!(every_chat_endpoint_answers_each_role_as_expected);

/// Callers, in the order of the expected statuses below: anonymous, a student who is not enrolled, an
/// enrolled student, an instructor of another course, the course's instructor, an admin.
const ROLES: [&str; 6] = [
    "anonymous",
    "non-member",
    "student member",
    "other instructor",
    "course instructor",
    "admin",
];

async fn every_chat_endpoint_answers_each_role_as_expected(backend: Backend) {
    let app = spawn(backend).await;
    let owner = person(&app, "owner", UserRole::Instructor).await;
    let enrolled = person(&app, "enrolled", UserRole::Student).await;
    let people: [Option<Person>; 6] = [
        None,
        Some(person(&app, "outsider", UserRole::Student).await),
        Some(enrolled),
        Some(person(&app, "rival", UserRole::Instructor).await),
        Some(owner),
        Some(person(&app, "root", UserRole::Admin).await),
    ];
    let token = |i: usize| people[i].as_ref().map(|p| p.token.as_str());
    let (enrolled, owner) = (people[2].as_ref().unwrap(), people[4].as_ref().unwrap());
    let course_id = published_course(&app, owner, "Guarded chat", 0).await["id"]
        .as_i64()
        .unwrap();
    enroll(&app, enrolled, course_id).await;
    let by_student = post_to(&app, course_id, enrolled, json!({"content": "hello"})).await;
    let by_owner = post_to(&app, course_id, owner, json!({"content": "welcome"})).await;
    let (m1, m2) = (
        by_student["id"].as_i64().unwrap(),
        by_owner["id"].as_i64().unwrap(),
    );
    post_to(
        &app,
        course_id,
        owner,
        json!({"content": "a reply", "parent_id": m1}),
    )
    .await;

    let c = format!("/api/v1/courses/{course_id}");
    type Case = (Method, String, Option<Value>, [u16; 6]);
    let cases: Vec<Case> = vec![
        (
            Method::GET,
            format!("{c}/messages"),
            None,
            [401, 403, 200, 403, 200, 200],
        ),
        (
            Method::GET,
            format!("{c}/messages?limit=101"),
            None,
            [401, 403, 422, 403, 422, 422],
        ),
        (
            Method::POST,
            format!("{c}/messages"),
            Some(json!({"content": "hi"})),
            [401, 403, 201, 403, 201, 201],
        ),
        (
            Method::POST,
            format!("{c}/messages"),
            Some(json!({"content": "news", "type": "announcement"})),
            [401, 403, 403, 403, 201, 201],
        ),
        (
            Method::GET,
            format!("{c}/messages/pinned"),
            None,
            [401, 403, 200, 403, 200, 200],
        ),
        (
            Method::GET,
            format!("{c}/messages/{m1}"),
            None,
            [401, 403, 200, 403, 200, 200],
        ),
        (
            Method::GET,
            format!("{c}/messages/{m1}/replies"),
            None,
            [401, 403, 200, 403, 200, 200],
        ),
        (
            Method::PATCH,
            format!("{c}/messages/{m1}"),
            Some(json!({"content": "hello again"})),
            [401, 403, 200, 403, 403, 403],
        ),
        (
            Method::GET,
            format!("{c}/messages/{m1}/edits"),
            None,
            [401, 403, 200, 403, 200, 200],
        ),
        (
            Method::POST,
            format!("{c}/messages/{m2}/pin"),
            None,
            [401, 403, 403, 403, 200, 200],
        ),
        (
            Method::DELETE,
            format!("{c}/messages/{m2}/pin"),
            None,
            [401, 403, 403, 403, 200, 200],
        ),
        (
            Method::PUT,
            format!("{c}/messages/{m2}/reactions/%F0%9F%91%8D"),
            None,
            [401, 403, 200, 403, 200, 200],
        ),
        (
            Method::DELETE,
            format!("{c}/messages/{m2}/reactions/%F0%9F%91%8D"),
            None,
            [401, 403, 200, 403, 200, 200],
        ),
        (
            Method::GET,
            format!("{c}/events?since_seq=0"),
            None,
            [401, 403, 200, 403, 200, 200],
        ),
        (
            Method::GET,
            "/api/v1/courses/987654/messages".into(),
            None,
            [401, 404, 404, 404, 404, 404],
        ),
        (
            Method::GET,
            format!("{c}/messages/987654"),
            None,
            [401, 403, 404, 403, 404, 404],
        ),
    ];
    for (method, path, body, expected) in cases {
        for (i, role) in ROLES.iter().enumerate() {
            let response = call(&app, method.clone(), &path, token(i), body.clone()).await;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            assert_eq!(status, expected[i], "{method} {path} as {role}: {text}");
            if status >= 400 {
                assert!(
                    text.contains("\"status\""),
                    "problem body for {method} {path} as {role}"
                );
            }
        }
    }

    // Deleting: each caller tries on a fresh message of the enrolled student.
    let expected = [401, 403, 204, 403, 204, 204];
    for (i, role) in ROLES.iter().enumerate() {
        let message = post_to(
            &app,
            course_id,
            enrolled,
            json!({"content": format!("delete me {i}")}),
        )
        .await;
        let path = format!("{c}/messages/{}", message["id"]);
        let status = call(&app, Method::DELETE, &path, token(i), None)
            .await
            .status()
            .as_u16();
        assert_eq!(status, expected[i], "DELETE {path} as {role}");
    }
    // A student may not delete somebody else's message.
    let status = call(
        &app,
        Method::DELETE,
        &format!("{c}/messages/{m2}"),
        token(2),
        None,
    )
    .await
    .status()
    .as_u16();
    assert_eq!(status, 403);

    // The WebSocket handshake.
    let expected = [401, 403, 101, 403, 101, 101];
    for (i, role) in ROLES.iter().enumerate() {
        let auth = token(i).map_or(Auth::None, Auth::Header);
        let status = match ws::connect(&app.base, course_id, auth, None).await {
            Ok(socket) => {
                socket.close().await;
                101
            }
            Err((status, body)) => {
                assert!(
                    body.contains("\"status\""),
                    "problem body for the socket as {role}"
                );
                status
            }
        };
        assert_eq!(status, expected[i], "WebSocket as {role}");
    }
    let status = ws::connect(&app.base, 987654, Auth::Header(token(5).unwrap()), None)
        .await
        .err()
        .map(|(s, _)| s);
    assert_eq!(
        status,
        Some(404),
        "WebSocket on a course that does not exist"
    );
    // A plain GET of the socket's path: who may connect is answered before the missing handshake.
    let path = format!("/api/v1/courses/{course_id}/chat/ws");
    let plain = call(&app, Method::GET, &path, None, None).await;
    assert_eq!(plain.status(), 401);
    let plain = call(&app, Method::GET, &path, token(5), None).await;
    assert_eq!(plain.status(), 400, "a member without a handshake");
}

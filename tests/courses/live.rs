//! Live sessions: scheduling rules, who may see and run them, the join window and the state machine.
use chrono::{Duration, Utc};
use entity::users::UserRole;
use lms_e2e::app::assert_problem;
use lms_e2e::{Backend, TestApp, backend_tests};
use reqwest::Method;
use serde_json::{Value, json};

use crate::world::{Person, call, enroll, json_ok, person, published_course, spawn};

backend_tests!(
    scheduling_checks_every_field_and_answers_the_join_window,
    members_see_sessions_and_only_staff_run_them,
    the_state_machine_moves_once_and_names_the_current_state,
    sessions_page_in_start_order_with_filters,
);

fn at(minutes: i64) -> String {
    (Utc::now() + Duration::minutes(minutes)).to_rfc3339()
}

async fn schedule(app: &TestApp, who: &Person, course: i64, body: Value) -> reqwest::Response {
    call(
        app,
        Method::POST,
        &format!("/api/v1/courses/{course}/live-sessions"),
        Some(&who.token),
        Some(body),
    )
    .await
}

async fn act(app: &TestApp, who: &Person, session: i64, action: &str) -> reqwest::Response {
    call(
        app,
        Method::POST,
        &format!("/api/v1/live-sessions/{session}/{action}"),
        Some(&who.token),
        None,
    )
    .await
}

async fn scheduling_checks_every_field_and_answers_the_join_window(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let course = published_course(&app, &teacher, "Live course", 0).await;
    let id = course["id"].as_i64().unwrap();
    for (body, field) in [
        (
            json!({"title": "Zero", "starts_at": at(60), "duration_minutes": 0}),
            "duration_minutes",
        ),
        (
            json!({"title": "Too long", "starts_at": at(60), "duration_minutes": 721}),
            "duration_minutes",
        ),
        (
            json!({"title": "Past", "starts_at": at(-5), "duration_minutes": 30}),
            "starts_at",
        ),
        (
            json!({"title": "Negative", "starts_at": at(60), "duration_minutes": 30, "join_early_minutes": -1}),
            "join_early_minutes",
        ),
        (
            json!({"title": " ", "starts_at": at(60), "duration_minutes": 30}),
            "title",
        ),
        (
            json!({"title": "Unknown", "starts_at": at(60), "duration_minutes": 30, "settings": {"whiteboard": true}}),
            "body",
        ),
    ] {
        let problem = assert_problem(schedule(&app, &teacher, id, body).await, 422).await;
        assert!(problem["errors"][field].is_array(), "{field}: {problem}");
    }
    let starts = Utc::now() + Duration::minutes(60);
    let session = json_ok(
        schedule(
            &app,
            &teacher,
            id,
            json!({"title": "Office hours", "description": "Bring questions.", "starts_at": starts.to_rfc3339(),
                "duration_minutes": 45, "join_early_minutes": 15, "join_late_minutes": 5,
                "settings": {"recording": true, "screen_share": false}, "max_participants": 30}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(session["status"], "scheduled");
    assert_eq!(
        session["settings"],
        json!({"recording": true, "chat": true, "screen_share": false})
    );
    assert_eq!(session["attendance_threshold_percent"], 75);
    assert_eq!(session["live_attendees"], 0);
    let parse = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let opens = parse(&session["join_window"]["opens_at"]);
    let closes = parse(&session["join_window"]["closes_at"]);
    let starts_back = parse(&session["starts_at"]);
    assert_eq!(starts_back - opens, Duration::minutes(15));
    assert_eq!(closes - starts_back, Duration::minutes(45 + 5));
    assert_eq!(
        parse(&session["ends_at"]) - starts_back,
        Duration::minutes(45)
    );
}

async fn members_see_sessions_and_only_staff_run_them(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let admin = person(&app, "admin", UserRole::Admin).await;
    let student = person(&app, "stu", UserRole::Student).await;
    let outsider = person(&app, "out", UserRole::Student).await;
    let course = published_course(&app, &teacher, "Members only", 0).await;
    let id = course["id"].as_i64().unwrap();
    enroll(&app, &student, id).await;
    let body = json!({"title": "Q&A", "starts_at": at(5), "duration_minutes": 30});
    assert_problem(schedule(&app, &student, id, body.clone()).await, 403).await;
    let session = json_ok(schedule(&app, &admin, id, body).await, 201).await;
    let sid = session["id"].as_i64().unwrap();
    let path = format!("/api/v1/live-sessions/{sid}");
    json_ok(
        call(&app, Method::GET, &path, Some(&student.token), None).await,
        200,
    )
    .await;
    assert_problem(
        call(&app, Method::GET, &path, Some(&outsider.token), None).await,
        403,
    )
    .await;
    assert_problem(call(&app, Method::GET, &path, None, None).await, 401).await;
    let listed = format!("/api/v1/courses/{id}/live-sessions");
    assert_problem(
        call(&app, Method::GET, &listed, Some(&outsider.token), None).await,
        403,
    )
    .await;
    // A draft course does not exist for the outsider.
    let draft = json_ok(
        call(
            &app,
            Method::POST,
            "/api/v1/courses",
            Some(&teacher.token),
            Some(json!({"title": "Draft"})),
        )
        .await,
        201,
    )
    .await;
    assert_problem(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/courses/{}/live-sessions", draft["id"]),
            Some(&outsider.token),
            None,
        )
        .await,
        404,
    )
    .await;
    // Students neither edit nor run sessions.
    assert_problem(act(&app, &student, sid, "start").await, 403).await;
    assert_problem(
        call(
            &app,
            Method::PATCH,
            &path,
            Some(&student.token),
            Some(json!({"title": "Mine"})),
        )
        .await,
        403,
    )
    .await;
    let edited = json_ok(
        call(
            &app,
            Method::PATCH,
            &path,
            Some(&teacher.token),
            Some(json!({"title": "Q&A, moved", "starts_at": at(8)})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(edited["title"], "Q&A, moved");
}

async fn the_state_machine_moves_once_and_names_the_current_state(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let admin = person(&app, "admin", UserRole::Admin).await;
    let course = published_course(&app, &teacher, "Stateful", 0).await;
    let id = course["id"].as_i64().unwrap();
    // Too early: the window opens 10 minutes before a start two hours away.
    let later = json_ok(
        schedule(
            &app,
            &teacher,
            id,
            json!({"title": "Later", "starts_at": at(120), "duration_minutes": 30}),
        )
        .await,
        201,
    )
    .await;
    let later_id = later["id"].as_i64().unwrap();
    let early = assert_problem(act(&app, &teacher, later_id, "start").await, 409).await;
    assert!(
        early["detail"]
            .as_str()
            .unwrap()
            .contains("early-join time"),
        "{early}"
    );
    assert_problem(act(&app, &teacher, later_id, "end").await, 409).await;
    json_ok(act(&app, &teacher, later_id, "cancel").await, 200).await;
    let again = assert_problem(act(&app, &teacher, later_id, "start").await, 409).await;
    assert!(
        again["detail"].as_str().unwrap().contains("cancelled"),
        "{again}"
    );
    assert_problem(
        call(
            &app,
            Method::PATCH,
            &format!("/api/v1/live-sessions/{later_id}"),
            Some(&teacher.token),
            Some(json!({"title": "Back"})),
        )
        .await,
        409,
    )
    .await;

    // Inside the early-join window: two staff start it at once; it moves once.
    let soon = json_ok(
        schedule(
            &app,
            &teacher,
            id,
            json!({"title": "Soon", "starts_at": at(5), "duration_minutes": 30}),
        )
        .await,
        201,
    )
    .await;
    let sid = soon["id"].as_i64().unwrap();
    let (a, b) = tokio::join!(
        act(&app, &teacher, sid, "start"),
        act(&app, &admin, sid, "start")
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
    let live = json_ok(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/live-sessions/{sid}"),
            Some(&teacher.token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(live["status"], "live");
    assert!(live["started_at"].is_string());
    let cancel = assert_problem(act(&app, &teacher, sid, "cancel").await, 409).await;
    assert!(
        cancel["detail"].as_str().unwrap().contains("live"),
        "{cancel}"
    );
    let ended = json_ok(act(&app, &teacher, sid, "end").await, 200).await;
    assert_eq!(ended["status"], "ended");
    assert!(ended["ended_at"].is_string());
    assert_problem(act(&app, &teacher, sid, "end").await, 409).await;
}

async fn sessions_page_in_start_order_with_filters(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let student = person(&app, "stu", UserRole::Student).await;
    let course = published_course(&app, &teacher, "Many sessions", 0).await;
    let id = course["id"].as_i64().unwrap();
    enroll(&app, &student, id).await;
    let mut ids = Vec::new();
    for minutes in [300, 60, 180, 120, 240] {
        let s = json_ok(
            schedule(&app, &teacher, id, json!({"title": format!("In {minutes}"), "starts_at": at(minutes), "duration_minutes": 30})).await,
            201,
        )
        .await;
        ids.push((minutes, s["id"].as_i64().unwrap()));
    }
    json_ok(act(&app, &teacher, ids[0].1, "cancel").await, 200).await;
    ids.sort_unstable();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/courses/{id}/live-sessions?limit=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = json_ok(
            call(&app, Method::GET, &path, Some(&student.token), None).await,
            200,
        )
        .await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ids.iter().map(|(_, id)| *id).collect::<Vec<_>>(),
        "start order"
    );
    let cancelled = json_ok(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/courses/{id}/live-sessions?status=cancelled"),
            Some(&student.token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(cancelled["items"].as_array().unwrap().len(), 1);
    let from = urlencode(&at(150));
    let to = urlencode(&at(270));
    let window = json_ok(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/courses/{id}/live-sessions?from={from}&to={to}"),
            Some(&student.token),
            None,
        )
        .await,
        200,
    )
    .await;
    let titles: Vec<&str> = window["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["In 180", "In 240"]);
    assert_problem(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/courses/{id}/live-sessions?status=paused"),
            Some(&student.token),
            None,
        )
        .await,
        400,
    )
    .await;
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

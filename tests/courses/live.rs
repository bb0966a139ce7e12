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
    instants_past_2038_are_stored_and_filtered_as_given,
    joining_follows_the_window_and_the_cap_holds_under_parallel_joins,
    joining_outside_the_window_is_409_with_the_window,
    attendance_merges_intervals_while_live_and_exports_csv,
    the_jitsi_token_carries_the_claims_jitsi_expects,
    my_sessions_are_the_upcoming_and_live_ones_of_my_courses,
    a_reminder_goes_out_once_even_when_instances_race,
    the_calendar_feed_parses_and_its_token_can_be_revoked,
    a_live_lesson_is_completed_by_attending_its_session,
    a_session_nobody_ends_ends_at_its_window_close,
    status_changes_reach_the_course_feed_and_its_websocket,
);

/// The course's change feed, as `GET /courses/{id}/events` gives it after `since`.
async fn feed(app: &TestApp, who: &Person, course: i64, since: i64) -> Vec<Value> {
    let page = json_ok(
        call(
            app,
            Method::GET,
            &format!("/api/v1/courses/{course}/events?since_seq={since}&limit=100"),
            Some(&who.token),
            None,
        )
        .await,
        200,
    )
    .await;
    page["events"].as_array().expect("events").clone()
}

/// An app's own `Events`, for calling services from the test as the app's background loop would.
fn detached_events(app: &TestApp) -> lms_core::events::Events {
    let backend = lms_core::db::Backend::of(&app.db).expect("a known backend");
    lms_core::events::Events::detached(app.db.clone(), backend)
}

/// The default heartbeat grace (LMS_LIVE_HEARTBEAT_GRACE_SECS).
const GRACE: lms_core::live::Grace = lms_core::live::Grace(Duration::seconds(90));

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

/// Instants after 2038-01-19 (where a 32-bit TIMESTAMP ends) and before 1970 are kept exactly, in
/// filters too: on MySQL the driver once sent them as TIMESTAMP parameters, which MariaDB turned into
/// NULL (a 500 for a NOT NULL column, a discount that silently never ended, filters that matched
/// nothing). Sessions are scheduled at most 5 years ahead.
async fn instants_past_2038_are_stored_and_filtered_as_given(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let course = published_course(&app, &teacher, "Far ahead", 5000).await;
    let id = course["id"].as_i64().unwrap();
    let problem = assert_problem(
        schedule(
            &app,
            &teacher,
            id,
            json!({"title": "Far", "starts_at": "2100-03-01T10:00:00Z", "duration_minutes": 30}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        problem["errors"]["starts_at"][0],
        "must be at most 5 years ahead"
    );
    let starts = at(60 * 24 * 365 * 4);
    let session = json_ok(
        schedule(
            &app,
            &teacher,
            id,
            json!({"title": "Far", "starts_at": starts, "duration_minutes": 30}),
        )
        .await,
        201,
    )
    .await;
    let listed = |query: &'static str| {
        let (app, teacher) = (&app, &teacher);
        async move {
            let page = json_ok(
                call(
                    app,
                    Method::GET,
                    &format!("/api/v1/courses/{id}/live-sessions?{query}"),
                    Some(&teacher.token),
                    None,
                )
                .await,
                200,
            )
            .await;
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    let only = vec![session["id"].as_i64().unwrap()];
    assert_eq!(
        listed("from=1960-01-01T00%3A00%3A00Z&to=2200-01-01T00%3A00%3A00Z").await,
        only
    );
    assert_eq!(listed("to=2099-01-01T00%3A00%3A00Z").await, only);
    assert!(listed("from=2099-01-01T00%3A00%3A00Z").await.is_empty());
    let ends = "2099-12-31T23:59:59Z";
    let patched = json_ok(
        call(
            &app,
            Method::PATCH,
            &format!("/api/v1/courses/{id}"),
            Some(&teacher.token),
            Some(json!({"discount_price_cents": 2000, "discount_ends_at": ends})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(patched["discount_ends_at"], ends);
    let read = json_ok(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/courses/{id}"),
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(read["discount_ends_at"], ends);
    assert_eq!(read["effective_price_cents"], 2000);
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

/// A live session of a new course with `students` enrolled students: (app, teacher, students, id).
async fn live_class(
    backend: Backend,
    students: usize,
    body: Value,
    configure: impl FnOnce(&mut api::config::Config),
) -> (TestApp, Person, Vec<Person>, i64) {
    let app = TestApp::spawn_with(backend, |c| {
        c.payment_webhook_secret = Some(crate::world::WEBHOOK_SECRET.into());
        configure(c);
    })
    .await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let course = published_course(&app, &teacher, "Live class", 0).await;
    let id = course["id"].as_i64().unwrap();
    let mut people = Vec::new();
    for i in 0..students {
        let s = person(&app, &format!("stu{i}"), UserRole::Student).await;
        enroll(&app, &s, id).await;
        people.push(s);
    }
    let session = json_ok(schedule(&app, &teacher, id, body).await, 201).await;
    let sid = session["id"].as_i64().unwrap();
    (app, teacher, people, sid)
}

async fn open_intervals(app: &TestApp, session: i64, user: Option<i64>) -> usize {
    use entity::live_session_attendance as a;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mut query = a::Entity::find()
        .filter(a::Column::SessionId.eq(session))
        .filter(a::Column::LeftAt.is_null());
    if let Some(user) = user {
        query = query.filter(a::Column::UserId.eq(user));
    }
    query.all(&app.db).await.unwrap().len()
}

async fn joining_follows_the_window_and_the_cap_holds_under_parallel_joins(backend: Backend) {
    let body = json!({"title": "Capped", "starts_at": at(5), "duration_minutes": 30, "max_participants": 3});
    let (app, teacher, students, sid) = live_class(backend, 8, body, |_| {}).await;
    let mut tasks = Vec::new();
    for s in &students {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/api/v1/live-sessions/{sid}/join")),
            s.token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(open_intervals(&app, sid, None).await, 3);
    // Staff do not count against the cap, and moderate.
    let staff = json_ok(act(&app, &teacher, sid, "join").await, 200).await;
    assert_eq!(staff["moderator"], true);
    assert!(staff["room"].as_str().unwrap().starts_with("lms-"));
    assert!(
        staff["room_url"]
            .as_str()
            .unwrap()
            .starts_with("https://meet.jit.si/lms-")
    );
    assert!(staff["token"].is_null(), "no Jitsi credentials configured");
    assert_eq!(staff["session"]["live_attendees"], 4);
    // One user joining again, in parallel: still one open interval.
    let inside = students
        .iter()
        .find(|s| statuses[students.iter().position(|x| x.id == s.id).unwrap()] == 200)
        .unwrap();
    let (a, b) = tokio::join!(
        act(&app, inside, sid, "join"),
        act(&app, inside, sid, "join")
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    assert_eq!(open_intervals(&app, sid, Some(inside.id)).await, 1);
    // Heartbeats keep it; leaving closes it; a heartbeat after leaving is 409.
    assert_eq!(act(&app, inside, sid, "heartbeat").await.status(), 204);
    assert_eq!(act(&app, inside, sid, "leave").await.status(), 204);
    assert_eq!(open_intervals(&app, sid, Some(inside.id)).await, 0);
    assert_problem(act(&app, inside, sid, "heartbeat").await, 409).await;
    // Ending the session closes every interval; nobody joins an ended session.
    json_ok(act(&app, &teacher, sid, "start").await, 200).await;
    json_ok(act(&app, &teacher, sid, "end").await, 200).await;
    assert_eq!(open_intervals(&app, sid, None).await, 0);
    let ended = assert_problem(act(&app, inside, sid, "join").await, 409).await;
    assert!(
        ended["detail"].as_str().unwrap().contains("ended"),
        "{ended}"
    );
}

async fn joining_outside_the_window_is_409_with_the_window(backend: Backend) {
    let body = json!({"title": "Later", "starts_at": at(120), "duration_minutes": 30});
    let (app, _teacher, students, sid) = live_class(backend, 1, body, |_| {}).await;
    let problem = assert_problem(act(&app, &students[0], sid, "join").await, 409).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("join window runs from"),
        "{problem}"
    );
    let outsider = person(&app, "outsider", UserRole::Student).await;
    assert_problem(act(&app, &outsider, sid, "join").await, 403).await;
}

async fn attendance_merges_intervals_while_live_and_exports_csv(backend: Backend) {
    use entity::live_session_attendance as a;
    use entity::live_sessions as ls;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
    let body = json!({"title": "Measured", "starts_at": at(5), "duration_minutes": 60,
        "attendance_threshold_percent": 50});
    let (app, teacher, students, sid) = live_class(backend, 3, body, |_| {}).await;
    // The session ran from t0 to t0 + 60 min (an hour ago); attendance as stored intervals.
    let t0 = Utc::now() - Duration::minutes(120);
    let m = |minutes: i64| t0 + Duration::minutes(minutes);
    ls::Entity::update_many()
        .col_expr(ls::Column::Status, Expr::value(ls::LiveStatus::Ended))
        .col_expr(ls::Column::StartsAt, Expr::value(m(0)))
        .col_expr(ls::Column::StartedAt, Expr::value(m(0)))
        .col_expr(ls::Column::EndedAt, Expr::value(m(60)))
        .filter(ls::Column::Id.eq(sid))
        .exec(&app.db)
        .await
        .unwrap();
    let interval = |user: i64, from: i64, to: Option<i64>, beat: i64| a::ActiveModel {
        session_id: Set(sid),
        user_id: Set(user),
        joined_at: Set(m(from)),
        last_heartbeat_at: Set(m(beat)),
        left_at: Set(to.map(m)),
        is_moderator: Set(false),
        ..Default::default()
    };
    // Student 0: joined 10 minutes early, left at 20, rejoined 15..40 (overlap), again 50..70:
    // while live that is 0..40 and 50..60 = 50 minutes, 83.3%.
    for (from, to) in [(-10, 20), (15, 40), (50, 70)] {
        interval(students[0].id, from, Some(to), to)
            .insert(&app.db)
            .await
            .unwrap();
    }
    // Student 1: 0..10, then a tab closed at 20 with no leave: ends at the last heartbeat (20) plus
    // the 90 s grace. 10 + 11.5 = 21.5 minutes, 35.8%: not attended at 50%.
    interval(students[1].id, 0, Some(10), 10)
        .insert(&app.db)
        .await
        .unwrap();
    interval(students[1].id, 10, None, 20)
        .insert(&app.db)
        .await
        .unwrap();
    let path = format!("/api/v1/live-sessions/{sid}/attendance");
    assert_problem(
        call(&app, Method::GET, &path, Some(&students[0].token), None).await,
        403,
    )
    .await;
    let report = json_ok(
        call(&app, Method::GET, &path, Some(&teacher.token), None).await,
        200,
    )
    .await;
    let attendees = report["attendees"].as_array().unwrap();
    assert_eq!(attendees.len(), 2);
    let by = |id: i64| {
        attendees
            .iter()
            .find(|r| r["user_id"] == id)
            .unwrap()
            .clone()
    };
    let first = by(students[0].id);
    assert_eq!(first["attended_seconds"], 50 * 60);
    assert_eq!(first["percent"], 83.3);
    assert_eq!(first["attended"], true);
    let second = by(students[1].id);
    assert_eq!(second["attended_seconds"], 10 * 60 + 11 * 60 + 30);
    assert_eq!(second["attended"], false);
    // The same as CSV.
    let csv = app
        .client
        .get(app.url(&path))
        .bearer_auth(&teacher.token)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(
        rows[0],
        "user_id,name,email,moderator,first_joined_at,last_left_at,attended_seconds,percent,attended"
    );
    assert_eq!(rows.len(), 3);
    let row = rows
        .iter()
        .find(|r| r.starts_with(&format!("{},", students[0].id)))
        .unwrap();
    assert!(row.ends_with(",3000,83.3,true"), "{row}");
}

async fn the_jitsi_token_carries_the_claims_jitsi_expects(backend: Backend) {
    let body = json!({"title": "Tokens", "starts_at": at(5), "duration_minutes": 30});
    let (app, teacher, students, sid) = live_class(backend, 1, body, |c| {
        c.jitsi_url = "https://meet.example.org".into();
        c.jitsi_app_id = Some("lms-app".into());
        c.jitsi_app_secret = Some("jitsi-shared-secret-0123456789".into());
    })
    .await;
    let decode = |token: &str| {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_audience(&["jitsi"]);
        jsonwebtoken::decode::<Value>(
            token,
            &jsonwebtoken::DecodingKey::from_secret(b"jitsi-shared-secret-0123456789"),
            &validation,
        )
        .expect("a token signed with the app secret")
        .claims
    };
    let joined = json_ok(act(&app, &students[0], sid, "join").await, 200).await;
    let token = joined["token"].as_str().unwrap();
    let room = joined["room"].as_str().unwrap();
    assert_eq!(
        joined["room_url"],
        format!("https://meet.example.org/{room}?jwt={token}")
    );
    let claims = decode(token);
    assert_eq!(claims["iss"], "lms-app");
    assert_eq!(claims["aud"], "jitsi");
    assert_eq!(claims["sub"], "meet.example.org");
    assert_eq!(claims["room"], room);
    assert_eq!(claims["moderator"], false);
    assert_eq!(claims["context"]["user"]["email"], "stu0@example.com");
    assert_eq!(claims["context"]["user"]["name"], "Test Person");
    let closes = chrono::DateTime::parse_from_rfc3339(
        joined["session"]["join_window"]["closes_at"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["exp"],
        closes.timestamp(),
        "valid until the window closes"
    );
    let staff = json_ok(act(&app, &teacher, sid, "join").await, 200).await;
    let claims = decode(staff["token"].as_str().unwrap());
    assert_eq!(claims["moderator"], true);
    assert_eq!(claims["context"]["user"]["moderator"], true);
    // A token signed with another secret does not pass.
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"aud": "jitsi", "iss": "lms-app", "sub": "meet.example.org", "room": room, "exp": closes.timestamp()}),
        &jsonwebtoken::EncodingKey::from_secret(b"not the secret"),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&["jitsi"]);
    assert!(
        jsonwebtoken::decode::<Value>(
            &forged,
            &jsonwebtoken::DecodingKey::from_secret(b"jitsi-shared-secret-0123456789"),
            &validation
        )
        .is_err()
    );
}

async fn my_sessions_are_the_upcoming_and_live_ones_of_my_courses(backend: Backend) {
    let body = json!({"title": "Mine", "starts_at": at(5), "duration_minutes": 30});
    let (app, teacher, students, sid) = live_class(backend, 1, body, |_| {}).await;
    let course = json_ok(
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
    let course_id = course["course_id"].as_i64().unwrap();
    let cancelled = json_ok(
        schedule(
            &app,
            &teacher,
            course_id,
            json!({"title": "Called off", "starts_at": at(60), "duration_minutes": 30}),
        )
        .await,
        201,
    )
    .await;
    json_ok(
        act(&app, &teacher, cancelled["id"].as_i64().unwrap(), "cancel").await,
        200,
    )
    .await;
    let other = published_course(&app, &teacher, "Not theirs", 0).await;
    json_ok(
        schedule(
            &app,
            &teacher,
            other["id"].as_i64().unwrap(),
            json!({"title": "Elsewhere", "starts_at": at(30), "duration_minutes": 30}),
        )
        .await,
        201,
    )
    .await;
    let mine = json_ok(
        call(
            &app,
            Method::GET,
            "/api/v1/users/me/live-sessions",
            Some(&students[0].token),
            None,
        )
        .await,
        200,
    )
    .await;
    let titles: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["Mine"]);
    json_ok(act(&app, &teacher, sid, "start").await, 200).await;
    let mine = json_ok(
        call(
            &app,
            Method::GET,
            "/api/v1/users/me/live-sessions",
            Some(&students[0].token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(mine["items"][0]["status"], "live");
    // The teacher sees the sessions of the courses they teach.
    let taught = json_ok(
        call(
            &app,
            Method::GET,
            "/api/v1/users/me/live-sessions",
            Some(&teacher.token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(taught["items"].as_array().unwrap().len(), 2);
}

async fn a_reminder_goes_out_once_even_when_instances_race(backend: Backend) {
    use lms_core::live::reminders::send_due;
    use lms_core::mail::Mailer;
    let body = json!({"title": "Soon", "starts_at": at(10), "duration_minutes": 30});
    // The app's own reminder loop is off: the test plays two instances looking at once.
    let (app, teacher, _students, sid) =
        live_class(backend, 3, body, |c| c.live_reminder_minutes = 0).await;
    let course_id = json_ok(
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
    .await["course_id"]
        .as_i64()
        .unwrap();
    // Not due yet: starts beyond the lead.
    json_ok(
        schedule(
            &app,
            &teacher,
            course_id,
            json!({"title": "Later", "starts_at": at(90), "duration_minutes": 30}),
        )
        .await,
        201,
    )
    .await;
    let lead = Duration::minutes(15);
    let (one, two) = (Mailer::memory(), Mailer::memory());
    let (a, b) = tokio::join!(send_due(&app.db, &one, lead), send_due(&app.db, &two, lead));
    assert_eq!(a.unwrap() + b.unwrap(), 3, "one email per enrolled student");
    let mut to: Vec<String> = one
        .sent()
        .into_iter()
        .chain(two.sent())
        .map(|e| e.to)
        .collect();
    to.sort();
    assert_eq!(
        to,
        vec!["stu0@example.com", "stu1@example.com", "stu2@example.com"]
    );
    assert!(
        one.sent()
            .iter()
            .chain(two.sent().iter())
            .all(|e| e.subject == "Starting soon: Soon")
    );
    assert_eq!(send_due(&app.db, &one, lead).await.unwrap(), 0, "sent once");
    // Rescheduling within the lead sends it again; cancelled sessions send nothing.
    json_ok(
        call(
            &app,
            Method::PATCH,
            &format!("/api/v1/live-sessions/{sid}"),
            Some(&teacher.token),
            Some(json!({"starts_at": at(12)})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(send_due(&app.db, &one, lead).await.unwrap(), 3);
    json_ok(
        call(
            &app,
            Method::PATCH,
            &format!("/api/v1/live-sessions/{sid}"),
            Some(&teacher.token),
            Some(json!({"starts_at": at(11)})),
        )
        .await,
        200,
    )
    .await;
    json_ok(act(&app, &teacher, sid, "cancel").await, 200).await;
    assert_eq!(send_due(&app.db, &one, lead).await.unwrap(), 0);
}

async fn the_calendar_feed_parses_and_its_token_can_be_revoked(backend: Backend) {
    use icalendar::{Component, EventStatus};
    let body = json!({"title": "Seminar, part 1; basics", "description": "Bring a laptop\nand notes",
        "starts_at": at(60), "duration_minutes": 90});
    let (app, teacher, students, sid) = live_class(backend, 1, body, |_| {}).await;
    let course_id = json_ok(
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
    .await["course_id"]
        .as_i64()
        .unwrap();
    let called_off = json_ok(
        schedule(
            &app,
            &teacher,
            course_id,
            json!({"title": "Called off", "starts_at": at(600), "duration_minutes": 30}),
        )
        .await,
        201,
    )
    .await;
    json_ok(
        act(&app, &teacher, called_off["id"].as_i64().unwrap(), "cancel").await,
        200,
    )
    .await;
    let issued = json_ok(
        call(
            &app,
            Method::POST,
            "/api/v1/users/me/calendar-token",
            Some(&students[0].token),
            None,
        )
        .await,
        200,
    )
    .await;
    let url = issued["feeds"][0]["url"].as_str().unwrap().to_string();
    assert_eq!(issued["feeds"][0]["course_id"], course_id);
    let path = url
        .split_once("/api/v1")
        .map(|(_, p)| format!("/api/v1{p}"))
        .unwrap();
    let response = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let text = response.text().await.unwrap();
    // A real iCalendar parser reads it.
    let calendar: icalendar::Calendar = text.parse().expect("RFC 5545");
    let events: Vec<&icalendar::Event> = calendar.events().collect();
    assert_eq!(events.len(), 2);
    let seminar = events
        .iter()
        .find(|e| e.get_summary() == Some("Seminar, part 1; basics"))
        .unwrap();
    assert_eq!(seminar.get_description(), Some("Bring a laptop\nand notes"));
    assert_eq!(seminar.get_status(), Some(EventStatus::Confirmed));
    let starts = match seminar.get_start() {
        Some(icalendar::DatePerhapsTime::DateTime(icalendar::CalendarDateTime::Utc(t))) => t,
        other => panic!("a UTC start: {other:?}"),
    };
    let listed = json_ok(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/live-sessions/{sid}"),
            Some(&students[0].token),
            None,
        )
        .await,
        200,
    )
    .await;
    let expected =
        chrono::DateTime::parse_from_rfc3339(listed["starts_at"].as_str().unwrap()).unwrap();
    assert_eq!(starts.timestamp(), expected.timestamp());
    let cancelled = events
        .iter()
        .find(|e| e.get_summary() == Some("Called off"))
        .unwrap();
    assert_eq!(cancelled.get_status(), Some(EventStatus::Cancelled));
    // A new token revokes the old one; an outsider's token gives no access to the course.
    json_ok(
        call(
            &app,
            Method::POST,
            "/api/v1/users/me/calendar-token",
            Some(&students[0].token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_problem(app.client.get(app.url(&path)).send().await.unwrap(), 404).await;
    let outsider = person(&app, "outsider", UserRole::Student).await;
    let theirs = json_ok(
        call(
            &app,
            Method::POST,
            "/api/v1/users/me/calendar-token",
            Some(&outsider.token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(theirs["feeds"], json!([]));
    let token = theirs["token"].as_str().unwrap();
    assert_problem(
        app.client
            .get(app.url(&format!(
                "/api/v1/courses/{course_id}/live-sessions.ics?token={token}"
            )))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
}

async fn a_live_lesson_is_completed_by_attending_its_session(backend: Backend) {
    use entity::live_session_attendance as a;
    use entity::live_sessions as ls;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let course = published_course(&app, &teacher, "Taught live", 0).await;
    let course_id = course["id"].as_i64().unwrap();
    let section = crate::world::section(&app, &teacher, course_id).await;
    let reading = crate::world::text_lesson(&app, &teacher, section, "Read first").await;
    let exercise = crate::world::text_lesson(&app, &teacher, section, "Then practise").await;
    let (keen, late) = (
        person(&app, "keen", UserRole::Student).await,
        person(&app, "late", UserRole::Student).await,
    );
    for s in [&keen, &late] {
        enroll(&app, s, course_id).await;
        json_ok(
            call(
                &app,
                Method::POST,
                &format!("/api/v1/lessons/{reading}/complete"),
                Some(&s.token),
                None,
            )
            .await,
            200,
        )
        .await;
    }
    // Scheduling it into the curriculum adds a required live lesson: progress recomputes to 1 of 3.
    let session = json_ok(
        schedule(
            &app,
            &teacher,
            course_id,
            json!({"title": "Workshop", "starts_at": at(5), "duration_minutes": 60,
            "attendance_threshold_percent": 75, "section_id": section}),
        )
        .await,
        201,
    )
    .await;
    let sid = session["id"].as_i64().unwrap();
    let lesson = session["lesson_id"].as_i64().unwrap();
    let outline = json_ok(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/courses/{course_id}/curriculum"),
            Some(&keen.token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(outline["sections"][0]["lessons"][2]["kind"], "live");
    assert_eq!(outline["progress"]["percent"], 33);
    for s in [&keen, &late] {
        json_ok(
            call(
                &app,
                Method::POST,
                &format!("/api/v1/lessons/{exercise}/complete"),
                Some(&s.token),
                None,
            )
            .await,
            200,
        )
        .await;
    }
    // It completes by attending, not by saying so.
    assert_problem(
        call(
            &app,
            Method::POST,
            &format!("/api/v1/lessons/{lesson}/complete"),
            Some(&keen.token),
            None,
        )
        .await,
        409,
    )
    .await;
    // The session started an hour ago; keen attended all of it, late ten minutes.
    json_ok(act(&app, &teacher, sid, "start").await, 200).await;
    let t0 = Utc::now() - Duration::minutes(60);
    ls::Entity::update_many()
        .col_expr(ls::Column::StartedAt, Expr::value(t0))
        .filter(ls::Column::Id.eq(sid))
        .exec(&app.db)
        .await
        .unwrap();
    for (who, from, to) in [(keen.id, 0, 60), (late.id, 50, 60)] {
        a::ActiveModel {
            session_id: Set(sid),
            user_id: Set(who),
            joined_at: Set(t0 + Duration::minutes(from)),
            last_heartbeat_at: Set(t0 + Duration::minutes(to)),
            left_at: Set(None),
            is_moderator: Set(false),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
    json_ok(act(&app, &teacher, sid, "end").await, 200).await;
    let keen_now = json_ok(get_mine(&app, &keen).await, 200).await;
    assert_eq!(keen_now["items"][0]["status"], "completed");
    assert!(keen_now["items"][0]["certificate_code"].is_string());
    let late_now = json_ok(get_mine(&app, &late).await, 200).await;
    assert_eq!(late_now["items"][0]["status"], "active");
    assert_eq!(late_now["items"][0]["progress_percent"], 66);
    let detail = json_ok(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/lessons/{lesson}"),
            Some(&keen.token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(detail["completion"]["via"], "live");
}

async fn get_mine(app: &TestApp, who: &Person) -> reqwest::Response {
    call(
        app,
        Method::GET,
        "/api/v1/users/me/enrollments",
        Some(&who.token),
        None,
    )
    .await
}

async fn a_session_nobody_ends_ends_at_its_window_close(backend: Backend) {
    use entity::live_session_attendance as a;
    use entity::live_sessions as ls;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let course = published_course(&app, &teacher, "Forgotten", 0).await;
    let course_id = course["id"].as_i64().unwrap();
    let section = crate::world::section(&app, &teacher, course_id).await;
    let student = person(&app, "stu", UserRole::Student).await;
    enroll(&app, &student, course_id).await;
    let session = json_ok(
        schedule(
            &app,
            &teacher,
            course_id,
            json!({"title": "Left running", "starts_at": at(5), "duration_minutes": 60,
            "join_late_minutes": 10, "section_id": section}),
        )
        .await,
        201,
    )
    .await;
    let sid = session["id"].as_i64().unwrap();
    json_ok(act(&app, &teacher, sid, "start").await, 200).await;
    // It started two hours ago (60 minutes + 10 late: the window closed 50 minutes ago); the student
    // never left: their laptop closed 65 minutes in (last heartbeat), so their interval ends 90 s later.
    let t0 = Utc::now() - Duration::minutes(120);
    ls::Entity::update_many()
        .col_expr(ls::Column::StartsAt, Expr::value(t0))
        .col_expr(ls::Column::StartedAt, Expr::value(t0))
        .filter(ls::Column::Id.eq(sid))
        .exec(&app.db)
        .await
        .unwrap();
    a::ActiveModel {
        session_id: Set(sid),
        user_id: Set(student.id),
        joined_at: Set(t0),
        last_heartbeat_at: Set(t0 + Duration::minutes(65)),
        left_at: Set(None),
        is_moderator: Set(false),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    let events = detached_events(&app);
    let before = feed(&app, &student, course_id, 0).await.len();
    assert_eq!(
        lms_core::live::end_expired(&app.db, &events, GRACE)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        lms_core::live::end_expired(&app.db, &events, GRACE)
            .await
            .unwrap(),
        0,
        "once"
    );
    // One `ended` event in the course's feed, made by the server itself (no actor).
    let after = feed(&app, &student, course_id, 0).await;
    assert_eq!(after.len(), before + 1, "{after:?}");
    let ended_event = after.last().unwrap();
    assert_eq!(ended_event["type"], "live_session.ended");
    assert_eq!(ended_event["live_session_id"], sid);
    assert_eq!(ended_event["actor_id"], Value::Null);
    assert_eq!(ended_event["live_session"]["status"], "ended");
    let ended = json_ok(
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
    assert_eq!(ended["status"], "ended");
    assert_eq!(ended["ended_at"], ended["join_window"]["closes_at"]);
    assert_eq!(open_intervals(&app, sid, None).await, 0);
    let left = a::Entity::find()
        .filter(a::Column::SessionId.eq(sid))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .left_at
        .unwrap();
    // (PostgreSQL keeps microseconds: compare to the millisecond.)
    let expected = Duration::seconds(65 * 60 + 90);
    assert!(
        ((left - t0) - expected).num_milliseconds().abs() < 1,
        "{}",
        left - t0
    );
    // 66.5 of 60 minutes: the live lesson (the course's only one) is completed, the course with it.
    let mine = json_ok(get_mine(&app, &student).await, 200).await;
    assert_eq!(mine["items"][0]["status"], "completed");
    let trail = json_ok(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/enrollments/{}/events", mine["items"][0]["id"]),
            Some(&student.token),
            None,
        )
        .await,
        200,
    )
    .await;
    let last = trail["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["actor_kind"], "system");
}

async fn status_changes_reach_the_course_feed_and_its_websocket(backend: Backend) {
    use lms_e2e::ws::{self, Auth};
    use std::time::Duration as Wait;
    let (app, teacher, students, sid) = live_class(
        backend,
        1,
        json!({"title": "Office hours", "starts_at": at(5), "duration_minutes": 30}),
        |_| {},
    )
    .await;
    let student = &students[0];
    let session = json_ok(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/live-sessions/{sid}"),
            Some(&student.token),
            None,
        )
        .await,
        200,
    )
    .await;
    let course = session["course_id"].as_i64().unwrap();
    // Scheduling was the course's first change.
    let first = feed(&app, student, course, 0).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["type"], "live_session.scheduled");
    assert_eq!(first[0]["live_session_id"], sid);
    assert_eq!(first[0]["actor_id"], teacher.id);
    assert_eq!(first[0]["message_id"], Value::Null);
    assert_eq!(first[0]["live_session"]["title"], "Office hours");

    let mut socket = ws::connect(&app.base, course, Auth::Header(&student.token), None)
        .await
        .expect("the student's socket");
    let (_, last) = socket.ready().await;
    assert_eq!(last, 1);
    let path = format!("/api/v1/live-sessions/{sid}");
    let patch = |body: Value| call(&app, Method::PATCH, &path, Some(&teacher.token), Some(body));
    // A new title is not a reschedule; a new start is; a chat message shares the numbering.
    json_ok(patch(json!({"title": "Office hours (Q&A)"})).await, 200).await;
    let moved_to = at(4);
    json_ok(patch(json!({"starts_at": moved_to})).await, 200).await;
    json_ok(
        call(
            &app,
            Method::POST,
            &format!("/api/v1/courses/{course}/messages"),
            Some(&student.token),
            Some(json!({"content": "see you there"})),
        )
        .await,
        201,
    )
    .await;
    json_ok(act(&app, &teacher, sid, "start").await, 200).await;
    json_ok(act(&app, &teacher, sid, "end").await, 200).await;
    let other = json_ok(
        schedule(
            &app,
            &teacher,
            course,
            json!({"title": "Called off", "starts_at": at(90), "duration_minutes": 30}),
        )
        .await,
        201,
    )
    .await;
    let other_id = other["id"].as_i64().unwrap();
    json_ok(act(&app, &teacher, other_id, "cancel").await, 200).await;
    // A refused move records nothing.
    assert_eq!(act(&app, &teacher, other_id, "start").await.status(), 409);

    let pushed = socket.events_until(7, Wait::from_secs(10)).await;
    let seen: Vec<(i64, String)> = pushed
        .iter()
        .map(|e| {
            (
                e["seq"].as_i64().unwrap(),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(i64, String)> = [
        "live_session.rescheduled",
        "message.created",
        "live_session.started",
        "live_session.ended",
        "live_session.scheduled",
        "live_session.cancelled",
    ]
    .iter()
    .enumerate()
    .map(|(i, kind)| (i as i64 + 2, kind.to_string()))
    .collect();
    assert_eq!(seen, expected);
    assert_eq!(
        pushed[0]["live_session"]["starts_at"]
            .as_str()
            .map(|s| s[..16].to_string()),
        Some(moved_to[..16].to_string())
    );
    // Each event shows the session as it is when sent: pushed at once, the start showed it live
    // (or already ended, if the end came before the frame went out); read later, it has ended.
    let started = &pushed[2]["live_session"]["status"];
    assert!(started == "live" || started == "ended", "{started}");
    assert_eq!(pushed[5]["live_session_id"], other_id);
    assert_eq!(pushed[5]["live_session"]["status"], "cancelled");
    for event in [&pushed[0], &pushed[2], &pushed[3], &pushed[5]] {
        assert_eq!(event["actor_id"], teacher.id, "{event}");
        assert_eq!(event["message"], Value::Null, "{event}");
    }
    // The polling feed says the same, in the same order, and nothing came after.
    let polled: Vec<Value> = feed(&app, student, course, 1).await;
    assert_eq!(polled.len(), 6);
    for (p, w) in polled.iter().zip(&pushed) {
        assert_eq!((&p["seq"], &p["type"]), (&w["seq"], &w["type"]));
    }
    assert_eq!(polled[2]["live_session"]["status"], "ended");
    assert!(matches!(
        socket.next(Wait::from_millis(300)).await,
        lms_e2e::ws::Next::Timeout
    ));
}

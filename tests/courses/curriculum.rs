//! The curriculum: who sees what, ordering under concurrent edits, completion per lesson kind, video
//! coverage, progress recomputed when the curriculum changes, one certificate under parallel final
//! completions.
use entity::users::UserRole;
use lms_e2e::app::assert_problem;
use lms_e2e::{Backend, TestApp, backend_tests};
use reqwest::Method;
use serde_json::{Value, json};

use crate::world::{
    Person, call, enroll, json_ok, lesson, person, published_course, section, spawn, text_lesson,
};

backend_tests!(
    each_viewer_sees_what_their_role_and_enrollment_allow,
    concurrent_reorders_and_moves_leave_a_dense_unique_order,
    each_kind_of_lesson_completes_its_own_way,
    video_coverage_counts_steady_watching_not_seeking,
    progress_follows_curriculum_changes_and_completions_are_never_revoked,
    parallel_final_completions_issue_exactly_one_certificate,
    bad_curriculum_input_is_422_and_changes_nothing,
);

/// A POST sent from a spawned task (the app itself stays with the test): its status.
async fn parallel(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> u16 {
    let mut request = client.post(format!("{base}{path}")).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap().status().as_u16()
}

/// (progress, status) of `who`'s only enrollment, as GET /users/me/enrollments shows it.
async fn percent(app: &TestApp, who: &Person) -> (i64, String) {
    let mine = json_ok(
        get(app, "/api/v1/users/me/enrollments", Some(who)).await,
        200,
    )
    .await;
    let first = &mine["items"][0];
    (
        first["progress_percent"].as_i64().unwrap(),
        first["status"].as_str().unwrap().to_string(),
    )
}

async fn get(app: &TestApp, path: &str, who: Option<&Person>) -> reqwest::Response {
    call(app, Method::GET, path, who.map(|p| p.token.as_str()), None).await
}

async fn post(app: &TestApp, path: &str, who: &Person, body: Option<Value>) -> reqwest::Response {
    call(app, Method::POST, path, Some(&who.token), body).await
}

async fn complete(app: &TestApp, who: &Person, lesson: i64) -> reqwest::Response {
    post(
        app,
        &format!("/api/v1/lessons/{lesson}/complete"),
        who,
        None,
    )
    .await
}

async fn position(app: &TestApp, who: &Person, lesson: i64, seconds: i64) -> reqwest::Response {
    call(
        app,
        Method::PUT,
        &format!("/api/v1/lessons/{lesson}/position"),
        Some(&who.token),
        Some(json!({ "seconds": seconds })),
    )
    .await
}

async fn outline(app: &TestApp, course_id: i64, who: Option<&Person>) -> Value {
    json_ok(
        get(app, &format!("/api/v1/courses/{course_id}/curriculum"), who).await,
        200,
    )
    .await
}

fn lesson_ids(outline: &Value) -> Vec<Vec<i64>> {
    outline["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["lessons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["id"].as_i64().unwrap())
                .collect()
        })
        .collect()
}

async fn each_viewer_sees_what_their_role_and_enrollment_allow(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let other_teacher = person(&app, "other", UserRole::Instructor).await;
    let student = person(&app, "stu", UserRole::Student).await;
    let payer = person(&app, "payer", UserRole::Student).await;
    let course = published_course(&app, &teacher, "Seen by whom", 0).await;
    let course_id = course["id"].as_i64().unwrap();
    let paid = published_course(&app, &teacher, "Paid one", 2500).await;
    let paid_id = paid["id"].as_i64().unwrap();
    let part = section(&app, &teacher, course_id).await;
    let preview = lesson(
        &app,
        &teacher,
        part,
        json!({"kind": "text", "title": "Free taste", "body": "**bold** <script>x</script>", "preview": true}),
    )
    .await;
    let locked = text_lesson(&app, &teacher, part, "Members only").await;
    let draft = json_ok(
        post(
            &app,
            &format!("/api/v1/sections/{part}/lessons"),
            &teacher,
            Some(json!({"kind": "text", "title": "Not yet", "body": "draft"})),
        )
        .await,
        201,
    )
    .await["id"]
        .as_i64()
        .unwrap();
    // An empty section is a heading only staff see.
    section(&app, &teacher, course_id).await;

    // Staff: everything, drafts included.
    let staff = outline(&app, course_id, Some(&teacher)).await;
    assert_eq!(
        lesson_ids(&staff),
        vec![vec![preview, locked, draft], vec![]]
    );
    assert!(staff["progress"].is_null());

    // Anyone: published titles; bodies of preview lessons only; no drafts, no empty sections.
    for who in [None, Some(&student), Some(&other_teacher)] {
        let public = outline(&app, course_id, who).await;
        assert_eq!(lesson_ids(&public), vec![vec![preview, locked]], "{public}");
        let lessons = &public["sections"][0]["lessons"];
        assert_eq!(
            lessons[0]["body"], "**bold** <script>x</script>",
            "Markdown as written"
        );
        assert!(lessons[1]["body"].is_null() && lessons[1]["completed"].is_null());
        assert!(public["progress"].is_null());
        json_ok(
            get(&app, &format!("/api/v1/lessons/{preview}"), who).await,
            200,
        )
        .await;
        assert_problem(
            get(&app, &format!("/api/v1/lessons/{locked}"), who).await,
            403,
        )
        .await;
        assert_problem(
            get(&app, &format!("/api/v1/lessons/{draft}"), who).await,
            404,
        )
        .await;
    }

    // Enrolled: published lessons with their own state and progress.
    enroll(&app, &student, course_id).await;
    let mine = outline(&app, course_id, Some(&student)).await;
    assert_eq!(lesson_ids(&mine), vec![vec![preview, locked]]);
    assert_eq!(mine["sections"][0]["lessons"][1]["completed"], false);
    assert_eq!(mine["progress"]["percent"], 0);
    assert_eq!(mine["progress"]["required_total"], 2);
    let whole = json_ok(
        get(&app, &format!("/api/v1/lessons/{locked}"), Some(&student)).await,
        200,
    )
    .await;
    assert_eq!(whole["body"], "# Members only");
    assert_eq!(whole["completion"]["completed"], false);
    assert_problem(
        get(&app, &format!("/api/v1/lessons/{draft}"), Some(&student)).await,
        404,
    )
    .await;

    // Waiting for payment is not enrolled yet.
    let paid_part = section(&app, &teacher, paid_id).await;
    let paid_lesson = text_lesson(&app, &teacher, paid_part, "Paid lesson").await;
    let pending = enroll(&app, &payer, paid_id).await;
    assert_eq!(pending["status"], "pending_payment");
    assert!(outline(&app, paid_id, Some(&payer)).await["progress"].is_null());
    assert_problem(
        get(
            &app,
            &format!("/api/v1/lessons/{paid_lesson}"),
            Some(&payer),
        )
        .await,
        403,
    )
    .await;
    assert_problem(complete(&app, &payer, paid_lesson).await, 403).await;

    // Staff neither earn progress nor edit other instructors' courses.
    assert_problem(complete(&app, &teacher, locked).await, 403).await;
    assert_problem(
        post(
            &app,
            &format!("/api/v1/courses/{course_id}/sections"),
            &other_teacher,
            Some(json!({"title": "Mine now"})),
        )
        .await,
        403,
    )
    .await;
    // A draft course's curriculum does not exist for the public.
    let hidden = json_ok(
        post(
            &app,
            "/api/v1/courses",
            &teacher,
            Some(json!({"title": "Hidden draft"})),
        )
        .await,
        201,
    )
    .await;
    let hidden_id = hidden["id"].as_i64().unwrap();
    assert_problem(
        get(
            &app,
            &format!("/api/v1/courses/{hidden_id}/curriculum"),
            None,
        )
        .await,
        404,
    )
    .await;
    outline(&app, hidden_id, Some(&teacher)).await;
}

async fn concurrent_reorders_and_moves_leave_a_dense_unique_order(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let admin = person(&app, "admin", UserRole::Admin).await;
    let course = published_course(&app, &teacher, "Reordered", 0).await;
    let course_id = course["id"].as_i64().unwrap();
    let mut sections = Vec::new();
    for _ in 0..3 {
        sections.push(section(&app, &teacher, course_id).await);
    }
    let mut lessons = Vec::new();
    for i in 0..9 {
        lessons.push(text_lesson(&app, &teacher, sections[i % 3], &format!("L{i}")).await);
    }
    // Two staff members move lessons (within and across sections) and sections, all at once.
    let mut tasks = Vec::new();
    for round in 0..24usize {
        let (client, base) = (app.client.clone(), app.base.clone());
        let who = if round % 2 == 0 {
            teacher.token.clone()
        } else {
            admin.token.clone()
        };
        let lesson = lessons[(round * 5) % lessons.len()];
        let section = sections[(round * 7) % sections.len()];
        let to = (round * 3 % 5) as i64;
        tasks.push(tokio::spawn(async move {
            let (path, body) = if round % 4 == 3 {
                (
                    format!("/api/v1/sections/{section}/move"),
                    json!({"position": to % 3}),
                )
            } else {
                (
                    format!("/api/v1/lessons/{lesson}/move"),
                    json!({"position": to, "section_id": section}),
                )
            };
            parallel(&client, &base, &path, &who, Some(body)).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let staff = outline(&app, course_id, Some(&teacher)).await;
    let section_positions: Vec<i64> = staff["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["position"].as_i64().unwrap())
        .collect();
    assert_eq!(section_positions, vec![0, 1, 2], "{staff}");
    let mut seen: Vec<i64> = Vec::new();
    for s in staff["sections"].as_array().unwrap() {
        let positions: Vec<i64> = s["lessons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["position"].as_i64().unwrap())
            .collect();
        assert_eq!(
            positions,
            (0..positions.len() as i64).collect::<Vec<_>>(),
            "{s}"
        );
        seen.extend(
            s["lessons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["id"].as_i64().unwrap()),
        );
    }
    seen.sort_unstable();
    let mut expected = lessons.clone();
    expected.sort_unstable();
    assert_eq!(seen, expected, "every lesson once");
    // A move to another course's section is refused.
    let other = published_course(&app, &teacher, "Elsewhere", 0).await;
    let elsewhere = section(&app, &teacher, other["id"].as_i64().unwrap()).await;
    assert_problem(
        post(
            &app,
            &format!("/api/v1/lessons/{}/move", lessons[0]),
            &teacher,
            Some(json!({"position": 0, "section_id": elsewhere})),
        )
        .await,
        422,
    )
    .await;
}

async fn each_kind_of_lesson_completes_its_own_way(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let student = person(&app, "stu", UserRole::Student).await;
    let course = published_course(&app, &teacher, "Kinds", 0).await;
    let course_id = course["id"].as_i64().unwrap();
    let part = section(&app, &teacher, course_id).await;
    let text = text_lesson(&app, &teacher, part, "Read").await;
    let link = lesson(
        &app,
        &teacher,
        part,
        json!({"kind": "link", "title": "Visit", "url": "https://example.com/docs"}),
    )
    .await;
    let video = lesson(&app, &teacher, part, json!({"kind": "video", "title": "Watch", "url": "https://videos.example.com/a.mp4", "duration_seconds": 100})).await;
    let optional = lesson(
        &app,
        &teacher,
        part,
        json!({"kind": "text", "title": "Extra", "required": false}),
    )
    .await;
    enroll(&app, &student, course_id).await;

    let done = json_ok(complete(&app, &student, text).await, 200).await;
    assert_eq!(done["completion"]["completed"], true);
    assert_eq!(done["completion"]["via"], "student");
    assert_eq!(done["progress"]["percent"], 33);
    // Again: no change.
    assert_eq!(
        json_ok(complete(&app, &student, text).await, 200).await["progress"]["percent"],
        33
    );
    // Undo, and redo.
    let undone = json_ok(
        call(
            &app,
            Method::DELETE,
            &format!("/api/v1/lessons/{text}/complete"),
            Some(&student.token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(undone["completion"]["completed"], false);
    assert_eq!(undone["progress"]["percent"], 0);
    json_ok(complete(&app, &student, text).await, 200).await;
    assert_eq!(
        json_ok(complete(&app, &student, link).await, 200).await["progress"]["percent"],
        66
    );
    // Optional lessons complete without moving progress.
    assert_eq!(
        json_ok(complete(&app, &student, optional).await, 200).await["progress"]["percent"],
        66
    );
    // A video completes by watching, not by saying so; positions are for videos only.
    assert_problem(complete(&app, &student, video).await, 409).await;
    assert_problem(position(&app, &student, text, 10).await, 409).await;
    // Live lessons come from live sessions.
    assert_problem(
        post(
            &app,
            &format!("/api/v1/sections/{part}/lessons"),
            &teacher,
            Some(json!({"kind": "live", "title": "Live"})),
        )
        .await,
        422,
    )
    .await;
    let mut last = Value::Null;
    for at in (0..=90).step_by(10) {
        last = json_ok(position(&app, &student, video, at).await, 200).await;
    }
    assert_eq!(last["completion"]["via"], "video");
    assert_eq!(last["progress"]["percent"], 100);
    assert_eq!(last["progress"]["status"], "completed");
    assert!(last["progress"]["certificate_code"].is_string());
    // A completed course keeps its completions.
    assert_problem(
        call(
            &app,
            Method::DELETE,
            &format!("/api/v1/lessons/{text}/complete"),
            Some(&student.token),
            None,
        )
        .await,
        409,
    )
    .await;
    let mine = json_ok(
        get(&app, "/api/v1/users/me/enrollments", Some(&student)).await,
        200,
    )
    .await;
    assert_eq!(mine["items"][0]["progress_percent"], 100);
    assert_eq!(mine["items"][0]["status"], "completed");
}

async fn video_coverage_counts_steady_watching_not_seeking(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let student = person(&app, "stu", UserRole::Student).await;
    let course = published_course(&app, &teacher, "Videos", 0).await;
    let course_id = course["id"].as_i64().unwrap();
    let part = section(&app, &teacher, course_id).await;
    let video = lesson(&app, &teacher, part, json!({"kind": "video", "title": "Long", "url": "https://videos.example.com/b.mp4", "duration_seconds": 200})).await;
    text_lesson(&app, &teacher, part, "Also required").await;
    enroll(&app, &student, course_id).await;
    let covered = |v: &Value| v["completion"]["covered_seconds"].as_i64().unwrap();
    // Steady reports: 0..60 covered.
    let mut last = Value::Null;
    for at in [0, 20, 40, 60] {
        last = json_ok(position(&app, &student, video, at).await, 200).await;
    }
    assert_eq!(covered(&last), 60);
    // A seek forward (more than 30 s) covers nothing; watching on from there does.
    assert_eq!(
        covered(&json_ok(position(&app, &student, video, 150).await, 200).await),
        60
    );
    assert_eq!(
        covered(&json_ok(position(&app, &student, video, 170).await, 200).await),
        80
    );
    // Seeking back and watching again what was covered adds nothing.
    json_ok(position(&app, &student, video, 20).await, 200).await;
    assert_eq!(
        covered(&json_ok(position(&app, &student, video, 50).await, 200).await),
        80
    );
    // Fill the gap 60..150 and the end: 60..150 is 90 s more (170 total), then 170..200 (200 total).
    for at in (60..=150).step_by(15) {
        last = json_ok(position(&app, &student, video, at).await, 200).await;
    }
    assert_eq!(covered(&last), 170);
    assert_eq!(last["completion"]["completed"], false, "85% is not 90%");
    json_ok(position(&app, &student, video, 170).await, 200).await;
    last = json_ok(position(&app, &student, video, 250).await, 200).await; // a jump past the end
    assert_eq!(covered(&last), 170);
    json_ok(position(&app, &student, video, 175).await, 200).await;
    last = json_ok(position(&app, &student, video, 195).await, 200).await;
    // 0..170 and 175..195: 190 of 200 seconds, 95%.
    assert_eq!(covered(&last), 190);
    assert_eq!(last["completion"]["completed"], true);
    assert_eq!(last["progress"]["percent"], 50);
    let whole = json_ok(
        get(&app, &format!("/api/v1/lessons/{video}"), Some(&student)).await,
        200,
    )
    .await;
    assert_eq!(whole["completion"]["last_position_seconds"], 195);
    assert_problem(position(&app, &student, video, -1).await, 422).await;
}

async fn progress_follows_curriculum_changes_and_completions_are_never_revoked(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let student = person(&app, "stu", UserRole::Student).await;
    let finisher = person(&app, "fin", UserRole::Student).await;
    let course = published_course(&app, &teacher, "Changing", 0).await;
    let course_id = course["id"].as_i64().unwrap();
    let part = section(&app, &teacher, course_id).await;
    let a = text_lesson(&app, &teacher, part, "A").await;
    let b = text_lesson(&app, &teacher, part, "B").await;
    let c = text_lesson(&app, &teacher, part, "C").await;
    let d = text_lesson(&app, &teacher, part, "D").await;
    let e = enroll(&app, &student, course_id).await;
    let id = e["id"].as_i64().unwrap();
    enroll(&app, &finisher, course_id).await;
    for l in [a, b] {
        json_ok(complete(&app, &student, l).await, 200).await;
    }
    for l in [a, b, c, d] {
        json_ok(complete(&app, &finisher, l).await, 200).await;
    }
    assert_eq!(percent(&app, &student).await, (50, "active".into()));
    // A new required published lesson: 2 of 5. The finisher stays completed.
    let new = text_lesson(&app, &teacher, part, "E").await;
    assert_eq!(percent(&app, &student).await, (40, "active".into()));
    assert_eq!(percent(&app, &finisher).await, (100, "completed".into()));
    // Made optional: 2 of 4 again; unpublishing works the same way.
    json_ok(
        call(
            &app,
            Method::PATCH,
            &format!("/api/v1/lessons/{new}"),
            Some(&teacher.token),
            Some(json!({"required": false})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(percent(&app, &student).await, (50, "active".into()));
    json_ok(
        call(
            &app,
            Method::PATCH,
            &format!("/api/v1/lessons/{d}"),
            Some(&teacher.token),
            Some(json!({"published": false})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(percent(&app, &student).await, (66, "active".into()));
    // Deleting a lesson the student completed keeps the completion in their history.
    assert_eq!(
        call(
            &app,
            Method::DELETE,
            &format!("/api/v1/lessons/{a}"),
            Some(&teacher.token),
            None
        )
        .await
        .status(),
        204
    );
    assert_eq!(percent(&app, &student).await, (50, "active".into()));
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let kept = entity::lesson_completions::Entity::find()
        .filter(entity::lesson_completions::Column::EnrollmentId.eq(id))
        .filter(entity::lesson_completions::Column::LessonId.eq(a))
        .one(&app.db)
        .await
        .unwrap();
    assert!(kept.is_some(), "the completion of a deleted lesson is kept");
    assert_problem(
        get(&app, &format!("/api/v1/lessons/{a}"), Some(&student)).await,
        404,
    )
    .await;
    // Deleting the last one left to do completes the course.
    assert_eq!(
        call(
            &app,
            Method::DELETE,
            &format!("/api/v1/lessons/{c}"),
            Some(&teacher.token),
            None
        )
        .await
        .status(),
        204
    );
    assert_eq!(percent(&app, &student).await, (100, "completed".into()));
    // Every change is in the audit trail, with who and why.
    let trail = json_ok(
        get(
            &app,
            &format!("/api/v1/enrollments/{id}/events"),
            Some(&student),
        )
        .await,
        200,
    )
    .await;
    let notes: Vec<String> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["note"].as_str().map(str::to_string))
        .collect();
    assert!(
        notes.iter().any(|n| n.starts_with("progress 50% -> 40%")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains(&format!("required lesson {a} deleted"))),
        "{notes:?}"
    );
    assert_eq!(
        trail["items"].as_array().unwrap().last().unwrap()["to_status"],
        "completed"
    );
    // A section with lessons cannot go; an emptied one can.
    assert_problem(
        call(
            &app,
            Method::DELETE,
            &format!("/api/v1/sections/{part}"),
            Some(&teacher.token),
            None,
        )
        .await,
        409,
    )
    .await;
}

async fn parallel_final_completions_issue_exactly_one_certificate(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let course = published_course(&app, &teacher, "Race to the end", 0).await;
    let course_id = course["id"].as_i64().unwrap();
    let part = section(&app, &teacher, course_id).await;
    let mut lessons = Vec::new();
    for i in 0..4 {
        lessons.push(text_lesson(&app, &teacher, part, &format!("Step {i}")).await);
    }
    let mut students = Vec::new();
    for i in 0..3 {
        let s = person(&app, &format!("racer{i}"), UserRole::Student).await;
        enroll(&app, &s, course_id).await;
        for l in &lessons[..2] {
            json_ok(complete(&app, &s, *l).await, 200).await;
        }
        students.push(s);
    }
    // Each student completes the last two lessons at once, twice over.
    let mut tasks = Vec::new();
    for s in &students {
        for l in lessons[2..].iter().chain(lessons[2..].iter()) {
            let (client, base, token, l) =
                (app.client.clone(), app.base.clone(), s.token.clone(), *l);
            tasks.push(tokio::spawn(async move {
                parallel(
                    &client,
                    &base,
                    &format!("/api/v1/lessons/{l}/complete"),
                    &token,
                    None,
                )
                .await
            }));
        }
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    use entity::enrollment_events;
    use entity::enrollments::{self, EnrollmentStatus};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let all = enrollments::Entity::find()
        .filter(enrollments::Column::CourseId.eq(course_id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    for e in all {
        assert_eq!(e.status, EnrollmentStatus::Completed);
        assert_eq!(e.progress_percent, 100);
        assert!(e.certificate_code.is_some());
        let completions = enrollment_events::Entity::find()
            .filter(enrollment_events::Column::EnrollmentId.eq(e.id))
            .filter(enrollment_events::Column::ToStatus.eq(EnrollmentStatus::Completed))
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(completions.len(), 1, "one completion, one certificate");
    }
}

async fn bad_curriculum_input_is_422_and_changes_nothing(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let course = published_course(&app, &teacher, "Strict", 0).await;
    let course_id = course["id"].as_i64().unwrap();
    let part = section(&app, &teacher, course_id).await;
    // What a kind needs is its schema's: a missing or foreign field is a body of the wrong shape.
    for (body, field) in [
        (
            json!({"kind": "video", "title": "No url", "duration_seconds": 10}),
            "body",
        ),
        (
            json!({"kind": "video", "title": "No length", "url": "https://v.example.com/x"}),
            "body",
        ),
        (
            json!({"kind": "text", "title": "Url on text", "url": "https://example.com"}),
            "body",
        ),
        (json!({"kind": "quiz", "title": "Q"}), "body"),
        (
            json!({"kind": "link", "title": "Bad url", "url": "javascript:alert(1)"}),
            "url",
        ),
        (json!({"kind": "text", "title": "   "}), "title"),
        (
            json!({"kind": "text", "title": "Negative", "estimated_minutes": -5}),
            "estimated_minutes",
        ),
        (
            json!({"kind": "video", "title": "Too long", "url": "https://v.example.com/x", "duration_seconds": 100000}),
            "duration_seconds",
        ),
    ] {
        let problem = assert_problem(
            post(
                &app,
                &format!("/api/v1/sections/{part}/lessons"),
                &teacher,
                Some(body),
            )
            .await,
            422,
        )
        .await;
        assert!(problem["errors"][field].is_array(), "{field}: {problem}");
    }
    assert_problem(
        post(
            &app,
            &format!("/api/v1/sections/{part}/lessons"),
            &teacher,
            Some(json!({"kind": "quiz", "title": "Q"})),
        )
        .await,
        422,
    )
    .await;
    let problem = assert_problem(
        post(
            &app,
            &format!("/api/v1/courses/{course_id}/sections"),
            &teacher,
            Some(json!({"title": "", "position": -1})),
        )
        .await,
        422,
    )
    .await;
    assert!(
        problem["errors"]["title"].is_array() && problem["errors"]["position"].is_array(),
        "{problem}"
    );
    let staff = outline(&app, course_id, Some(&teacher)).await;
    assert_eq!(
        lesson_ids(&staff),
        vec![Vec::<i64>::new()],
        "nothing was created"
    );
}

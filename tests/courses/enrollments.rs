use entity::users::UserRole;
use lms_e2e::app::assert_problem;
use lms_e2e::{Backend, backend_tests};
use reqwest::Method;
use serde_json::{Value, json};

use crate::world::{
    assert_student_count_matches, call, course, enroll, json_ok, person, published_course, spawn,
};

backend_tests!(
    free_courses_activate_and_paid_ones_wait_for_payment,
    fifty_parallel_enrollments_give_one_201_and_49_409s,
    progress_is_earned_not_set_and_staff_completion_issues_a_verifiable_certificate,
    cancelling_keeps_history_and_illegal_transitions_are_409,
    reviews_keep_exact_aggregates_under_concurrent_writes_and_edits,
    my_enrollments_and_rosters_page_with_course_summaries,
    every_transition_is_recorded_with_who_and_when,
);

async fn free_courses_activate_and_paid_ones_wait_for_payment(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let student = person(&app, "stu", UserRole::Student).await;
    let free = published_course(&app, &teacher, "Free intro", 0).await;
    let paid = published_course(&app, &teacher, "Paid deep dive", 4900).await;

    let e = enroll(&app, &student, free["id"].as_i64().unwrap()).await;
    assert_eq!(e["status"], "active");
    assert_eq!(e["amount_cents"], 0);
    assert_eq!(e["payment_method"], "free");
    assert_eq!(
        course(&app, free["id"].as_i64().unwrap()).await["student_count"],
        1
    );

    let e = enroll(&app, &student, paid["id"].as_i64().unwrap()).await;
    assert_eq!(e["status"], "pending_payment");
    assert_eq!(e["amount_cents"], 4900);
    assert_eq!(e["currency"], "USD");
    assert_eq!(e["payment_status"], "pending");
    assert_eq!(
        course(&app, paid["id"].as_i64().unwrap()).await["student_count"],
        0,
        "not a student until paid"
    );

    // Not in your own course, not twice, not in drafts.
    let own = call(
        &app,
        Method::POST,
        &format!("/api/v1/courses/{}/enrollments", free["id"]),
        Some(&teacher.token),
        None,
    )
    .await;
    assert_problem(own, 409).await;
    let again = assert_problem(
        call(
            &app,
            Method::POST,
            &format!("/api/v1/courses/{}/enrollments", paid["id"]),
            Some(&student.token),
            None,
        )
        .await,
        409,
    )
    .await;
    assert!(
        again["detail"]
            .as_str()
            .unwrap()
            .contains("pending_payment"),
        "{again}"
    );
    let draft = json_ok(
        call(
            &app,
            Method::POST,
            "/api/v1/courses",
            Some(&teacher.token),
            Some(json!({"title": "Not yet"})),
        )
        .await,
        201,
    )
    .await;
    assert_problem(
        call(
            &app,
            Method::POST,
            &format!("/api/v1/courses/{}/enrollments", draft["id"]),
            Some(&student.token),
            None,
        )
        .await,
        404,
    )
    .await;
    assert_problem(
        call(
            &app,
            Method::POST,
            "/api/v1/courses/999999/enrollments",
            Some(&student.token),
            None,
        )
        .await,
        404,
    )
    .await;
}

async fn fifty_parallel_enrollments_give_one_201_and_49_409s(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let student = person(&app, "stu", UserRole::Student).await;
    let free = published_course(&app, &teacher, "Popular", 0).await;
    let id = free["id"].as_i64().unwrap();
    let path = format!("/api/v1/courses/{id}/enrollments");
    let requests = (0..50).map(|_| {
        let (client, url, token) = (app.client.clone(), app.url(&path), student.token.clone());
        async move { client.post(url).bearer_auth(token).send().await.unwrap() }
    });
    let statuses: Vec<u16> = futures_join_all(requests)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        49,
        "{statuses:?}"
    );
    assert_eq!(course(&app, id).await["student_count"], 1);
    assert_student_count_matches(&app, id).await;
}

/// Runs the futures concurrently (no extra dependency for join_all).
pub async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut set = Vec::new();
    for f in futures {
        set.push(tokio::spawn(f));
    }
    let mut out = Vec::new();
    for handle in set {
        out.push(handle.await.unwrap());
    }
    out
}

async fn progress_is_earned_not_set_and_staff_completion_issues_a_verifiable_certificate(
    backend: Backend,
) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let student = person(&app, "stu", UserRole::Student).await;
    let free = published_course(&app, &teacher, "Short course", 0).await;
    let e = enroll(&app, &student, free["id"].as_i64().unwrap()).await;
    let id = e["id"].as_i64().unwrap();
    // The client-set percentage is gone: 410, naming what replaces it.
    let gone = assert_problem(
        call(
            &app,
            Method::PUT,
            &format!("/api/v1/enrollments/{id}/progress"),
            Some(&student.token),
            Some(json!({"progress_percent": 100})),
        )
        .await,
        410,
    )
    .await;
    let detail = gone["detail"].as_str().unwrap();
    assert!(
        detail.contains("/lessons/{id}/complete") && detail.contains("/enrollments/{id}/complete"),
        "{gone}"
    );
    let path = format!("/api/v1/enrollments/{id}/complete");
    let complete = |who: &str, body: Value| {
        let token = if who == "teacher" {
            &teacher.token
        } else {
            &student.token
        };
        call(&app, Method::POST, &path, Some(token), Some(body))
    };
    // Only staff mark an enrollment completed (a course without lessons completes only this way).
    assert_problem(complete("student", json!({})).await, 403).await;
    let done = json_ok(
        complete("teacher", json!({"note": "passed the oral exam"})).await,
        200,
    )
    .await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["progress_percent"], 100);
    assert!(done["completed_at"].is_string());
    let code = done["certificate_code"].as_str().unwrap().to_string();
    assert!(code.starts_with("LMS-") && code.len() == 18, "{code}");
    // Completing again is 409 and changes nothing (one certificate).
    assert_problem(complete("teacher", json!({})).await, 409).await;
    let trail = json_ok(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/enrollments/{id}/events"),
            Some(&student.token),
            None,
        )
        .await,
        200,
    )
    .await;
    let last = trail["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["to_status"], "completed");
    assert_eq!(last["actor_id"], teacher.id);
    assert!(
        last["note"]
            .as_str()
            .unwrap()
            .contains("passed the oral exam"),
        "{last}"
    );

    let certificate = json_ok(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/certificates/{code}"),
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(certificate["course_title"], "Short course");
    assert_eq!(certificate["student_name"], "Test Person");
    assert!(certificate["issued_at"].is_string());
    assert_problem(
        call(
            &app,
            Method::GET,
            "/api/v1/certificates/LMS-NOPE-NOPE-NOPE",
            None,
            None,
        )
        .await,
        404,
    )
    .await;
    assert_student_count_matches(&app, free["id"].as_i64().unwrap()).await;
}

async fn cancelling_keeps_history_and_illegal_transitions_are_409(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let student = person(&app, "stu", UserRole::Student).await;
    let free = published_course(&app, &teacher, "Cancellable", 0).await;
    let course_id = free["id"].as_i64().unwrap();
    let section = crate::world::section(&app, &teacher, course_id).await;
    let mut lessons = Vec::new();
    for title in ["One", "Two", "Three"] {
        lessons.push(crate::world::text_lesson(&app, &teacher, section, title).await);
    }
    let e = enroll(&app, &student, course_id).await;
    let id = e["id"].as_i64().unwrap();
    let paths: Vec<String> = lessons
        .iter()
        .map(|l| format!("/api/v1/lessons/{l}/complete"))
        .collect();
    let complete = |i: usize| call(&app, Method::POST, &paths[i], Some(&student.token), None);
    json_ok(complete(0).await, 200).await;
    // The instructor cannot cancel a student's enrollment.
    assert_problem(
        call(
            &app,
            Method::POST,
            &format!("/api/v1/enrollments/{id}/cancel"),
            Some(&teacher.token),
            None,
        )
        .await,
        403,
    )
    .await;
    let cancelled = json_ok(
        call(
            &app,
            Method::POST,
            &format!("/api/v1/enrollments/{id}/cancel"),
            Some(&student.token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["progress_percent"], 33, "progress is kept");
    assert_eq!(course(&app, course_id).await["student_count"], 0);
    let again = assert_problem(
        call(
            &app,
            Method::POST,
            &format!("/api/v1/enrollments/{id}/cancel"),
            Some(&student.token),
            None,
        )
        .await,
        409,
    )
    .await;
    assert!(
        again["detail"].as_str().unwrap().contains("cancelled"),
        "{again}"
    );
    // A cancelled enrollment earns nothing more.
    assert_problem(complete(1).await, 403).await;
    let review = call(
        &app,
        Method::PUT,
        &format!("/api/v1/enrollments/{id}/review"),
        Some(&student.token),
        Some(json!({"rating": 5})),
    )
    .await;
    assert_problem(review, 409).await;
    assert_student_count_matches(&app, course_id).await;
}

async fn reviews_keep_exact_aggregates_under_concurrent_writes_and_edits(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let free = published_course(&app, &teacher, "Much reviewed", 0).await;
    let course_id = free["id"].as_i64().unwrap();
    let mut students = Vec::new();
    for i in 0..8 {
        let s = person(&app, &format!("stu{i}"), UserRole::Student).await;
        let e = enroll(&app, &s, course_id).await;
        students.push((s, e["id"].as_i64().unwrap()));
    }
    // Everyone reviews at once, then everyone edits at once.
    let ratings = [5, 4, 3, 5, 2, 1, 4, 5];
    let first = students.iter().zip(ratings).map(|((s, id), r)| {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/api/v1/enrollments/{id}/review")),
            s.token.clone(),
        );
        async move {
            client
                .put(url)
                .bearer_auth(token)
                .json(&json!({"rating": r, "comment": "ok"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    assert!(
        crate::enrollments::futures_join_all(first)
            .await
            .iter()
            .all(|s| *s == 200)
    );
    let edits = [1, 1, 5, 5, 5, 2, 3, 4];
    let second = students.iter().zip(edits).map(|((s, id), r)| {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/api/v1/enrollments/{id}/review")),
            s.token.clone(),
        );
        async move {
            client
                .put(url)
                .bearer_auth(token)
                .json(&json!({"rating": r}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    assert!(
        crate::enrollments::futures_join_all(second)
            .await
            .iter()
            .all(|s| *s == 200)
    );
    let c = course(&app, course_id).await;
    let sum: i64 = edits.iter().sum();
    assert_eq!(c["rating_count"], 8);
    assert_eq!(c["rating_sum"], sum);
    assert_eq!(
        c["rating_average"],
        ((sum as f64 / 8.0) * 100.0).round() / 100.0
    );

    let (student, id) = &students[0];
    assert_problem(
        call(
            &app,
            Method::PUT,
            &format!("/api/v1/enrollments/{id}/review"),
            Some(&student.token),
            Some(json!({"rating": 6})),
        )
        .await,
        422,
    )
    .await;
    assert_problem(
        call(
            &app,
            Method::PUT,
            &format!("/api/v1/enrollments/{id}/review"),
            Some(&teacher.token),
            Some(json!({"rating": 5})),
        )
        .await,
        403,
    )
    .await;
    let reviews = json_ok(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/courses/{course_id}/reviews?limit=5"),
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(reviews["items"].as_array().unwrap().len(), 5);
    assert_eq!(reviews["items"][0]["reviewer"], "Test P.");
    let rest = json_ok(
        call(
            &app,
            Method::GET,
            &format!(
                "/api/v1/courses/{course_id}/reviews?limit=5&cursor={}",
                reviews["next_cursor"].as_str().unwrap()
            ),
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 3);
    assert!(rest["next_cursor"].is_null());
}

async fn my_enrollments_and_rosters_page_with_course_summaries(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let student = person(&app, "stu", UserRole::Student).await;
    let mut course_ids = Vec::new();
    for i in 0..3 {
        let c = published_course(
            &app,
            &teacher,
            &format!("Course {i}"),
            if i == 0 { 0 } else { 1000 },
        )
        .await;
        enroll(&app, &student, c["id"].as_i64().unwrap()).await;
        course_ids.push(c["id"].as_i64().unwrap());
    }
    let page: Value = json_ok(
        call(
            &app,
            Method::GET,
            "/api/v1/users/me/enrollments?limit=2",
            Some(&student.token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["course"]["title"], "Course 2");
    let rest: Value = json_ok(
        call(
            &app,
            Method::GET,
            &format!(
                "/api/v1/users/me/enrollments?limit=2&cursor={}",
                page["next_cursor"].as_str().unwrap()
            ),
            Some(&student.token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rest["items"][0]["course"]["title"], "Course 0");
    assert_eq!(rest["items"][0]["progress_percent"], 0);

    let roster: Value = json_ok(
        call(
            &app,
            Method::GET,
            &format!(
                "/api/v1/courses/{}/enrollments?status=pending_payment",
                course_ids[1]
            ),
            Some(&teacher.token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(roster["items"].as_array().unwrap().len(), 1);
    assert_eq!(roster["items"][0]["student"]["username"], "stu");
    let none: Value = json_ok(
        call(
            &app,
            Method::GET,
            &format!(
                "/api/v1/courses/{}/enrollments?status=active",
                course_ids[1]
            ),
            Some(&teacher.token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert!(none["items"].as_array().unwrap().is_empty());
    assert_problem(
        call(
            &app,
            Method::GET,
            "/api/v1/users/me/enrollments?limit=500",
            Some(&student.token),
            None,
        )
        .await,
        422,
    )
    .await;
}

async fn every_transition_is_recorded_with_who_and_when(backend: Backend) {
    use entity::enrollment_events;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let student = person(&app, "stu", UserRole::Student).await;
    let free = published_course(&app, &teacher, "Audited", 0).await;
    let course_id = free["id"].as_i64().unwrap();
    let section = crate::world::section(&app, &teacher, course_id).await;
    let lesson = crate::world::text_lesson(&app, &teacher, section, "The only lesson").await;
    let e = enroll(&app, &student, course_id).await;
    let id = e["id"].as_i64().unwrap();
    json_ok(
        call(
            &app,
            Method::POST,
            &format!("/api/v1/lessons/{lesson}/complete"),
            Some(&student.token),
            None,
        )
        .await,
        200,
    )
    .await;
    let events = enrollment_events::Entity::find()
        .filter(enrollment_events::Column::EnrollmentId.eq(id))
        .order_by_asc(enrollment_events::Column::Id)
        .all(&app.db)
        .await
        .unwrap();
    let steps: Vec<(Option<String>, String, Option<i64>)> = events
        .iter()
        .map(|e| {
            (
                e.from_status.map(|s| format!("{s:?}")),
                format!("{:?}", e.to_status),
                e.actor_id,
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            (None, "Active".to_string(), Some(student.id)),
            // The progress change, then the completion it brought.
            (
                Some("Active".to_string()),
                "Active".to_string(),
                Some(student.id)
            ),
            (
                Some("Active".to_string()),
                "Completed".to_string(),
                Some(student.id)
            )
        ]
    );
}

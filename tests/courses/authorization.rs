//! Who may do what: every endpoint against every kind of caller.
use entity::users::UserRole;
use lms_e2e::{Backend, backend_tests};
use reqwest::Method;
use serde_json::{Value, json};

use crate::world::{Person, call, enroll, json_ok, person, published_course, spawn};

backend_tests!(
    every_endpoint_answers_each_role_as_expected,
    an_instructor_demoted_to_student_no_longer_runs_their_course
);

#[derive(Clone, Copy, Debug)]
enum Role {
    Anonymous,
    OtherStudent,
    EnrolledStudent,
    OtherInstructor,
    OwningInstructor,
    Admin,
}

const ROLES: [Role; 6] = [
    Role::Anonymous,
    Role::OtherStudent,
    Role::EnrolledStudent,
    Role::OtherInstructor,
    Role::OwningInstructor,
    Role::Admin,
];

async fn every_endpoint_answers_each_role_as_expected(backend: Backend) {
    let app = spawn(backend).await;
    let owner = person(&app, "owner", UserRole::Instructor).await;
    let people: Vec<(Role, Option<Person>)> = vec![
        (Role::Anonymous, None),
        (
            Role::OtherStudent,
            Some(person(&app, "other", UserRole::Student).await),
        ),
        (
            Role::EnrolledStudent,
            Some(person(&app, "enrolled", UserRole::Student).await),
        ),
        (
            Role::OtherInstructor,
            Some(person(&app, "rival", UserRole::Instructor).await),
        ),
        (Role::OwningInstructor, Some(owner)),
        (
            Role::Admin,
            Some(person(&app, "root", UserRole::Admin).await),
        ),
    ];
    let token = |role: Role| {
        people
            .iter()
            .find(|(r, _)| matches!((r, role), (a, b) if format!("{a:?}") == format!("{b:?}")))
            .and_then(|(_, p)| p.as_ref())
            .map(|p| p.token.clone())
    };
    let owner = people[4].1.as_ref().unwrap();
    let enrolled = people[2].1.as_ref().unwrap();

    let course = published_course(&app, owner, "Guarded course", 0).await;
    let course_id = course["id"].as_i64().unwrap();
    let part = crate::world::section(&app, owner, course_id).await;
    let first = crate::world::text_lesson(&app, owner, part, "First").await;
    let second = crate::world::text_lesson(&app, owner, part, "Second").await;
    // A third, so completing the second does not complete the course (it is cancelled below).
    crate::world::text_lesson(&app, owner, part, "Third").await;
    let enrollment = enroll(&app, enrolled, course_id).await;
    let enrollment_id = enrollment["id"].as_i64().unwrap();
    json_ok(
        call(
            &app,
            Method::POST,
            &format!("/api/v1/lessons/{first}/complete"),
            Some(&enrolled.token),
            None,
        )
        .await,
        200,
    )
    .await;

    // Expected status per role, in ROLES order:
    // anonymous, other student, enrolled student, other instructor, owning instructor, admin.
    type Case = (Method, String, Option<Value>, [u16; 6]);
    let cases: Vec<Case> = vec![
        (
            Method::GET,
            "/api/v1/courses".into(),
            None,
            [200, 200, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/v1/courses/{course_id}"),
            None,
            [200, 200, 200, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/courses".into(),
            Some(json!({"title": "New one"})),
            [401, 403, 403, 201, 201, 201],
        ),
        (
            Method::PATCH,
            format!("/api/v1/courses/{course_id}"),
            Some(json!({"short_description": "x"})),
            [401, 403, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/v1/courses/{course_id}/enrollments"),
            None,
            [401, 403, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/v1/courses/{course_id}/reviews"),
            None,
            [200, 200, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/v1/enrollments/{enrollment_id}"),
            None,
            [401, 404, 200, 404, 200, 200],
        ),
        (
            Method::PUT,
            format!("/api/v1/enrollments/{enrollment_id}/progress"),
            Some(json!({"progress_percent": 20})),
            [401, 410, 410, 410, 410, 410],
        ),
        (
            Method::GET,
            format!("/api/v1/enrollments/{enrollment_id}/events"),
            None,
            [401, 404, 200, 404, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/v1/courses/{course_id}/curriculum"),
            None,
            [200, 200, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/v1/lessons/{second}"),
            None,
            [403, 403, 200, 403, 200, 200],
        ),
        (
            Method::POST,
            format!("/api/v1/lessons/{second}/complete"),
            None,
            [401, 403, 200, 403, 403, 403],
        ),
        (
            Method::POST,
            format!("/api/v1/courses/{course_id}/sections"),
            Some(json!({"title": "Another part"})),
            [401, 403, 403, 403, 201, 201],
        ),
        (
            Method::PATCH,
            format!("/api/v1/lessons/{second}"),
            Some(json!({"estimated_minutes": 7})),
            [401, 403, 403, 403, 200, 200],
        ),
        (
            Method::PUT,
            format!("/api/v1/enrollments/{enrollment_id}/review"),
            Some(json!({"rating": 4})),
            [401, 404, 200, 404, 403, 403],
        ),
        (
            Method::GET,
            "/api/v1/users/me/enrollments".into(),
            None,
            [401, 200, 200, 200, 200, 200],
        ),
        (
            Method::POST,
            format!("/api/v1/courses/{course_id}/archive"),
            None,
            [401, 403, 403, 403, 200, 409],
        ),
        (
            Method::POST,
            format!("/api/v1/courses/{course_id}/publish"),
            None,
            [401, 403, 403, 403, 200, 409],
        ),
        (
            Method::POST,
            format!("/api/v1/enrollments/{enrollment_id}/cancel"),
            None,
            [401, 404, 200, 404, 403, 409],
        ),
        (
            Method::POST,
            format!("/api/v1/courses/{course_id}/enrollments"),
            None,
            [401, 201, 409, 201, 409, 201],
        ),
        (
            Method::DELETE,
            format!("/api/v1/courses/{course_id}"),
            None,
            [401, 403, 403, 403, 409, 409],
        ),
    ];
    for (method, path, body, expected) in cases {
        for (i, role) in ROLES.iter().enumerate() {
            // New courses need titles (and so slugs) of their own.
            let body = body.clone().map(|mut b| {
                if b["title"] == "New one" {
                    b["title"] = json!(format!("New one {i}"));
                }
                b
            });
            let response = call(&app, method.clone(), &path, token(*role).as_deref(), body).await;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            assert_eq!(status, expected[i], "{method} {path} as {role:?}: {text}");
            if status >= 400 {
                assert!(
                    text.contains("\"status\""),
                    "problem body for {method} {path} as {role:?}"
                );
            }
            // Nobody outside the course's staff ever sees payment details.
            if matches!(role, Role::OtherStudent | Role::OtherInstructor)
                && path.contains("/enrollments/")
            {
                assert!(
                    !text.contains("payment_status"),
                    "{method} {path} leaked to {role:?}"
                );
            }
        }
    }
}

/// Course staff are admins and the course's instructor while they hold the instructor role: an
/// instructor demoted to student can no longer edit, publish, read the roster or moderate the chat.
async fn an_instructor_demoted_to_student_no_longer_runs_their_course(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let root = person(&app, "root", UserRole::Admin).await;
    let course = published_course(&app, &teacher, "Soon without its teacher", 0).await;
    let id = course["id"].as_i64().unwrap();
    let path = format!("/api/v1/courses/{id}");
    let edit = || {
        call(
            &app,
            Method::PATCH,
            &path,
            Some(&teacher.token),
            Some(json!({"title": "Still mine?"})),
        )
    };
    json_ok(edit().await, 200).await;
    json_ok(
        call(
            &app,
            Method::PATCH,
            &format!("/api/v1/admin/users/{}", teacher.id),
            Some(&root.token),
            Some(json!({"role": "student"})),
        )
        .await,
        200,
    )
    .await;
    json_ok(edit().await, 403).await;
    for (method, path) in [
        (Method::GET, format!("/api/v1/courses/{id}/enrollments")),
        (Method::POST, format!("/api/v1/courses/{id}/archive")),
        (Method::GET, format!("/api/v1/courses/{id}/messages")),
    ] {
        let response = call(&app, method.clone(), &path, Some(&teacher.token), None).await;
        json_ok(response, 403).await;
    }
    let title: Value = json_ok(
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
    assert_eq!(title["title"], "Still mine?");
}

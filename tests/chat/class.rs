//! A course with its instructor and enrolled students, and chat helpers.
use api::Config;
use entity::users::UserRole;
use lms_e2e::{Backend, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

use crate::world::{Person, call, enroll, json_ok, person, published_course};

pub struct Class {
    pub app: TestApp,
    pub course_id: i64,
    pub owner: Person,
    pub students: Vec<Person>,
}

/// A published free course with `students` enrolled students.
pub async fn class(
    backend: Backend,
    students: usize,
    configure: impl FnOnce(&mut Config),
) -> Class {
    let app = TestApp::spawn_with(backend, configure).await;
    let owner = person(&app, "teacher", UserRole::Instructor).await;
    let course = published_course(&app, &owner, "Chatty course", 0).await;
    let course_id = course["id"].as_i64().unwrap();
    let mut people = Vec::new();
    for i in 0..students {
        let student = person(&app, &format!("student{i}"), UserRole::Student).await;
        enroll(&app, &student, course_id).await;
        people.push(student);
    }
    Class {
        app,
        course_id,
        owner,
        students: people,
    }
}

impl Class {
    pub fn path(&self, rest: &str) -> String {
        format!("/api/v1/courses/{}{rest}", self.course_id)
    }

    /// Posts and returns the message (201 expected).
    pub async fn post(&self, who: &Person, content: &str) -> Value {
        post_to(&self.app, self.course_id, who, json!({"content": content})).await
    }

    /// Posts and returns only the status (for bursts where some posts are expected to fail).
    pub async fn post_status(&self, who: &Person, content: &str) -> u16 {
        call(
            &self.app,
            Method::POST,
            &self.path("/messages"),
            Some(&who.token),
            Some(json!({ "content": content })),
        )
        .await
        .status()
        .as_u16()
    }

    pub async fn get(&self, who: &Person, rest: &str) -> Value {
        json_ok(
            call(
                &self.app,
                Method::GET,
                &self.path(rest),
                Some(&who.token),
                None,
            )
            .await,
            200,
        )
        .await
    }

    /// Every event of the feed after `since`, following `has_more`.
    pub async fn feed(&self, who: &Person, since: i64) -> Vec<Value> {
        let mut events = Vec::new();
        let mut since = since;
        loop {
            let page = self
                .get(who, &format!("/events?since_seq={since}&limit=100"))
                .await;
            events.extend(page["events"].as_array().unwrap().iter().cloned());
            since = page["last_seq"].as_i64().unwrap();
            if page["has_more"] != true {
                return events;
            }
        }
    }
}

pub async fn post_to(app: &TestApp, course_id: i64, who: &Person, body: Value) -> Value {
    json_ok(
        call(
            app,
            Method::POST,
            &format!("/api/v1/courses/{course_id}/messages"),
            Some(&who.token),
            Some(body),
        )
        .await,
        201,
    )
    .await
}

/// The `seq` of each event.
pub fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

/// Signs `who` out through the API (their access token's session ends).
pub async fn log_out(app: &TestApp, who: &Person) {
    let response = call(
        app,
        Method::POST,
        "/api/v1/auth/logout",
        Some(&who.token),
        None,
    )
    .await;
    assert!(response.status().is_success(), "{}", response.status());
}

/// Cancels `who`'s (only) enrollment through the API.
pub async fn cancel_enrollment(app: &TestApp, who: &Person) {
    let mine = json_ok(
        call(
            app,
            Method::GET,
            "/api/v1/users/me/enrollments",
            Some(&who.token),
            None,
        )
        .await,
        200,
    )
    .await;
    let enrollment_id = mine["items"][0]["id"].as_i64().unwrap();
    json_ok(
        call(
            app,
            Method::POST,
            &format!("/api/v1/enrollments/{enrollment_id}/cancel"),
            Some(&who.token),
            None,
        )
        .await,
        200,
    )
    .await;
}

//! A small world for the course tests: people in every role and a few courses.
use entity::users::{self, UserRole};
use lms_e2e::TestApp;
use reqwest::{Method, Response};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

pub const PASSWORD: &str = "velvet thunder 42 kite";
pub const WEBHOOK_SECRET: &str = "whsec_test_0123456789abcdef";

pub struct Person {
    pub id: i64,
    pub token: String,
}

pub async fn person(app: &TestApp, username: &str, role: UserRole) -> Person {
    let response = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": format!("{username}@example.com"), "username": username, "password": PASSWORD,
                "first_name": "Test", "last_name": "Person"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    if role != UserRole::Student {
        users::Entity::update_many()
            .col_expr(users::Column::Role, Expr::value(role))
            .filter(users::Column::Id.eq(id))
            .exec(&app.db)
            .await
            .unwrap();
    }
    let tokens: Value = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"login": username, "password": PASSWORD}),
        )
        .await
        .json()
        .await
        .unwrap();
    Person {
        id,
        token: tokens["access_token"].as_str().unwrap().to_string(),
    }
}

pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

pub async fn json_ok(response: Response, status: u16) -> Value {
    let code = response.status().as_u16();
    let url = response.url().to_string();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(code, status, "{url}: {body}");
    body
}

/// A published course by `instructor`: price in cents (0 = free).
pub async fn published_course(
    app: &TestApp,
    instructor: &Person,
    title: &str,
    price_cents: i64,
) -> Value {
    let created = call(
        app,
        Method::POST,
        "/api/v1/courses",
        Some(&instructor.token),
        Some(json!({"title": title, "description": "A course long enough to be published.", "category": "programming",
            "price_cents": price_cents, "currency": "USD", "level": "beginner"})),
    )
    .await;
    let course = json_ok(created, 201).await;
    let id = course["id"].as_i64().unwrap();
    json_ok(
        call(
            app,
            Method::POST,
            &format!("/api/v1/courses/{id}/publish"),
            Some(&instructor.token),
            None,
        )
        .await,
        200,
    )
    .await
}

pub async fn enroll(app: &TestApp, student: &Person, course_id: i64) -> Value {
    json_ok(
        call(
            app,
            Method::POST,
            &format!("/api/v1/courses/{course_id}/enrollments"),
            Some(&student.token),
            None,
        )
        .await,
        201,
    )
    .await
}

/// Sends a webhook event signed as the provider would.
pub async fn webhook(app: &TestApp, event: &Value) -> Response {
    webhook_at(app, event, chrono::Utc::now().timestamp(), WEBHOOK_SECRET).await
}

pub async fn webhook_at(app: &TestApp, event: &Value, timestamp: i64, secret: &str) -> Response {
    use hmac::{Hmac, KeyInit, Mac};
    let body = event.to_string();
    let mut mac = <Hmac<sha2::Sha256>>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    app.client
        .post(app.url("/api/v1/payments/webhook"))
        .header("content-type", "application/json")
        .header("lms-signature", format!("t={timestamp},v1={signature}"))
        .body(body)
        .send()
        .await
        .unwrap()
}

pub fn payment(event_id: &str, kind: &str, enrollment: &Value, reference: &str) -> Value {
    json!({"id": event_id, "type": kind, "data": {"enrollment_id": enrollment["id"], "reference": reference,
        "amount_cents": enrollment["amount_cents"], "currency": enrollment["currency"]}})
}

pub async fn spawn(backend: lms_e2e::Backend) -> TestApp {
    TestApp::spawn_with(backend, |c| {
        c.payment_webhook_secret = Some(WEBHOOK_SECRET.into())
    })
    .await
}

pub async fn course(app: &TestApp, id: i64) -> Value {
    json_ok(
        call(
            app,
            Method::GET,
            &format!("/api/v1/courses/{id}"),
            None,
            None,
        )
        .await,
        200,
    )
    .await
}

/// student_count must always equal active + completed enrollments.
pub async fn assert_student_count_matches(app: &TestApp, course_id: i64) {
    use entity::enrollments::{self, EnrollmentStatus};
    let counted = enrollments::Entity::find()
        .filter(enrollments::Column::CourseId.eq(course_id))
        .filter(
            enrollments::Column::Status
                .is_in([EnrollmentStatus::Active, EnrollmentStatus::Completed]),
        )
        .all(&app.db)
        .await
        .unwrap()
        .len() as i64;
    assert_eq!(
        course(app, course_id).await["student_count"]
            .as_i64()
            .unwrap(),
        counted
    );
}

/// A new section of `course_id` (by its instructor); its id.
pub async fn section(app: &TestApp, instructor: &Person, course_id: i64) -> i64 {
    let body = json_ok(
        call(
            app,
            Method::POST,
            &format!("/api/v1/courses/{course_id}/sections"),
            Some(&instructor.token),
            Some(json!({"title": "Part"})),
        )
        .await,
        201,
    )
    .await;
    body["id"].as_i64().unwrap()
}

/// A published, required lesson of `kind` at the end of `section_id`; its id.
pub async fn lesson(app: &TestApp, instructor: &Person, section_id: i64, body: Value) -> i64 {
    let mut body = body;
    body["published"] = json!(true);
    let created = json_ok(
        call(
            app,
            Method::POST,
            &format!("/api/v1/sections/{section_id}/lessons"),
            Some(&instructor.token),
            Some(body),
        )
        .await,
        201,
    )
    .await;
    created["id"].as_i64().unwrap()
}

pub async fn text_lesson(app: &TestApp, instructor: &Person, section_id: i64, title: &str) -> i64 {
    lesson(
        app,
        instructor,
        section_id,
        json!({"kind": "text", "title": title, "body": format!("# {title}")}),
    )
    .await
}

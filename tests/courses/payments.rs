use entity::users::UserRole;
use lms_e2e::app::assert_problem;
use lms_e2e::{Backend, TestApp, backend_tests};
use reqwest::Method;
use serde_json::{Value, json};

use crate::world::{
    WEBHOOK_SECRET, assert_student_count_matches, call, course, enroll, json_ok, payment, person,
    published_course, spawn, webhook, webhook_at,
};

backend_tests!(
    a_signed_payment_activates_the_pending_enrollment_once,
    parallel_deliveries_of_one_event_change_the_enrollment_once,
    bad_signatures_stale_timestamps_and_mismatched_amounts_are_refused,
    a_refund_ends_the_enrollment_and_the_student_count,
    the_webhook_is_unavailable_without_a_secret,
);

async fn pending(app: &TestApp) -> (Value, i64) {
    let teacher = person(app, "teacher", UserRole::Instructor).await;
    let student = person(app, "stu", UserRole::Student).await;
    let paid = published_course(app, &teacher, "Paid course", 4900).await;
    let course_id = paid["id"].as_i64().unwrap();
    (enroll(app, &student, course_id).await, course_id)
}

async fn a_signed_payment_activates_the_pending_enrollment_once(backend: Backend) {
    let app = spawn(backend).await;
    let (enrollment, course_id) = pending(&app).await;
    let event = payment("evt_1", "payment.succeeded", &enrollment, "pi_123");
    assert_eq!(
        json_ok(webhook(&app, &event).await, 200).await["status"],
        "applied"
    );
    assert_eq!(course(&app, course_id).await["student_count"], 1);
    // The same event again, and another event for the same payment: no change.
    assert_eq!(
        json_ok(webhook(&app, &event).await, 200).await["status"],
        "duplicate"
    );
    let again = payment("evt_2", "payment.succeeded", &enrollment, "pi_123");
    assert_eq!(
        json_ok(webhook(&app, &again).await, 200).await["status"],
        "duplicate"
    );
    assert_eq!(course(&app, course_id).await["student_count"], 1);
    assert_student_count_matches(&app, course_id).await;

    use sea_orm::EntityTrait;
    let stored = entity::enrollments::Entity::find_by_id(enrollment["id"].as_i64().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, entity::enrollments::EnrollmentStatus::Active);
    assert_eq!(stored.payment_reference.as_deref(), Some("pi_123"));
    assert!(stored.paid_at.is_some());
}

async fn parallel_deliveries_of_one_event_change_the_enrollment_once(backend: Backend) {
    let app = spawn(backend).await;
    let (enrollment, course_id) = pending(&app).await;
    let event = payment("evt_parallel", "payment.succeeded", &enrollment, "pi_777");
    let (a, b, c) = tokio::join!(
        webhook(&app, &event),
        webhook(&app, &event),
        webhook(&app, &event)
    );
    let mut outcomes = Vec::new();
    for response in [a, b, c] {
        assert_eq!(response.status(), 200);
        outcomes.push(
            response.json::<Value>().await.unwrap()["status"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(
        outcomes.iter().filter(|o| *o == "applied").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(course(&app, course_id).await["student_count"], 1);
    use entity::enrollment_events;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let activations = enrollment_events::Entity::find()
        .filter(enrollment_events::Column::EnrollmentId.eq(enrollment["id"].as_i64().unwrap()))
        .filter(enrollment_events::Column::ActorKind.eq("payment_provider"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(activations.len(), 1);
}

async fn bad_signatures_stale_timestamps_and_mismatched_amounts_are_refused(backend: Backend) {
    let app = spawn(backend).await;
    let (enrollment, course_id) = pending(&app).await;
    let event = payment("evt_x", "payment.succeeded", &enrollment, "pi_x");
    let now = chrono::Utc::now().timestamp();
    assert_problem(webhook_at(&app, &event, now, "not-the-secret").await, 401).await;
    assert_problem(
        webhook_at(&app, &event, now - 3600, WEBHOOK_SECRET).await,
        401,
    )
    .await;
    let unsigned = app
        .client
        .post(app.url("/api/v1/payments/webhook"))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_problem(unsigned, 401).await;

    let mut cheap = payment("evt_cheap", "payment.succeeded", &enrollment, "pi_cheap");
    cheap["data"]["amount_cents"] = json!(100);
    assert_problem(webhook(&app, &cheap).await, 422).await;
    let mut other_currency = payment("evt_eur", "payment.succeeded", &enrollment, "pi_eur");
    other_currency["data"]["currency"] = json!("EUR");
    assert_problem(webhook(&app, &other_currency).await, 422).await;
    assert_eq!(
        course(&app, course_id).await["student_count"],
        0,
        "nothing changed"
    );

    use entity::payment_events;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let rejected = payment_events::Entity::find()
        .filter(payment_events::Column::Outcome.eq("rejected"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(rejected.len(), 2, "refusals are logged");
    // The genuine event still goes through afterwards.
    assert_eq!(
        json_ok(webhook(&app, &event).await, 200).await["status"],
        "applied"
    );
}

async fn a_refund_ends_the_enrollment_and_the_student_count(backend: Backend) {
    let app = spawn(backend).await;
    let (enrollment, course_id) = pending(&app).await;
    json_ok(
        webhook(
            &app,
            &payment("evt_pay", "payment.succeeded", &enrollment, "pi_9"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(course(&app, course_id).await["student_count"], 1);
    let wrong = payment("evt_wrong", "payment.refunded", &enrollment, "pi_other");
    assert_problem(webhook(&app, &wrong).await, 409).await;
    let refund = payment("evt_refund", "payment.refunded", &enrollment, "pi_9");
    assert_eq!(
        json_ok(webhook(&app, &refund).await, 200).await["status"],
        "applied"
    );
    assert_eq!(course(&app, course_id).await["student_count"], 0);
    assert_eq!(
        json_ok(
            webhook(
                &app,
                &payment("evt_refund2", "payment.refunded", &enrollment, "pi_9")
            )
            .await,
            200
        )
        .await["status"],
        "duplicate"
    );
    assert_student_count_matches(&app, course_id).await;
}

async fn the_webhook_is_unavailable_without_a_secret(backend: Backend) {
    let app = lms_e2e::TestApp::spawn(backend).await;
    let response = call(
        &app,
        Method::POST,
        "/api/v1/payments/webhook",
        None,
        Some(json!({})),
    )
    .await;
    assert_problem(response, 503).await;
}

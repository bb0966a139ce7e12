//! The entities and the migrated schema agree: every column of every table is written through the
//! entity and read back unchanged, on both backends.
use chrono::{DateTime, TimeZone, Utc};
use entity::{chat_message_reactions, chat_messages, courses, enrollments, users};
use lms_e2e::{Backend, TestDb, backend_tests};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ActiveModelBehavior, ActiveModelTrait, EntityTrait, IntoActiveModel};
use serde_json::json;

backend_tests!(every_column_of_every_entity_round_trips);

/// A timestamp with microseconds (PostgreSQL's precision) and not "now", so defaults cannot pass.
fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 123_456_000)
        .unwrap()
}

async fn insert<A>(db: &sea_orm::DatabaseConnection, model: <A::Entity as EntityTrait>::Model)
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    model
        .into_active_model()
        .reset_all()
        .insert(db)
        .await
        .expect("insert every column");
}

async fn every_column_of_every_entity_round_trips(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let db = test_db.connect().await;
    Migrator::up(&db, None).await.unwrap();

    let user = users::Model {
        id: 7,
        email: "ada@example.com".into(),
        username: "ada".into(),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        phone: Some("+441234567890".into()),
        avatar_url: Some("https://example.com/ada.png".into()),
        bio: Some("Wrote the first program. Ünïcödé ✓".into()),
        role: users::UserRole::Instructor,
        status: users::UserStatus::Suspended,
        email_verified_at: Some(at(1)),
        email_verification_token_hash: Some("a".repeat(64)),
        email_verification_expires_at: Some(at(2)),
        password_reset_token_hash: Some("b".repeat(64)),
        password_reset_expires_at: Some(at(3)),
        two_factor_enabled: true,
        two_factor_secret_enc: Some("v1.nonce.ciphertext".into()),
        two_factor_last_step: Some(56_666_666_666),
        two_factor_pending_secret_enc: Some("v1.nonce.pending".into()),
        social_provider: Some(users::SocialProvider::Github),
        social_provider_id: Some("1234".into()),
        preferences: json!({"theme": "dark", "emails": {"digest": false}}),
        metadata: json!({"source": "test", "tags": [1, 2]}),
        last_login_at: Some(at(4)),
        failed_login_attempts: 3,
        locked_until: Some(at(5)),
        created_at: at(6),
        updated_at: at(7),
    };
    insert::<users::ActiveModel>(&db, user.clone()).await;
    assert_eq!(
        users::Entity::find_by_id(7)
            .one(&db)
            .await
            .unwrap()
            .unwrap(),
        user
    );

    let course = courses::Model {
        id: 11,
        instructor_id: 7,
        title: "Analytical Engines".into(),
        slug: "analytical-engines".into(),
        short_description: Some("Programs before computers".into()),
        description: Some("A long description".into()),
        category: Some("history".into()),
        level: courses::CourseLevel::Advanced,
        language: "en-GB".into(),
        price_cents: 4999,
        currency: "GBP".into(),
        discount_price_cents: Some(2999),
        discount_ends_at: Some(at(8)),
        status: courses::CourseStatus::Published,
        visibility: courses::CourseVisibility::Unlisted,
        is_featured: true,
        rating_average: 4.5,
        rating_sum: 9,
        rating_count: 2,
        student_count: 2,
        duration_minutes: 240,
        published_at: Some(at(9)),
        thumbnail_url: Some("https://example.com/t.png".into()),
        metadata: json!({"modules": 12}),
        created_at: at(10),
        updated_at: at(11),
    };
    insert::<courses::ActiveModel>(&db, course.clone()).await;
    assert_eq!(
        courses::Entity::find_by_id(11)
            .one(&db)
            .await
            .unwrap()
            .unwrap(),
        course
    );

    let enrollment = enrollments::Model {
        id: 13,
        user_id: 7,
        course_id: 11,
        status: enrollments::EnrollmentStatus::Completed,
        amount_cents: 2999,
        currency: "GBP".into(),
        payment_method: Some(enrollments::PaymentMethod::Card),
        payment_status: enrollments::PaymentStatus::Paid,
        payment_reference: Some("pi_123".into()),
        paid_at: Some(at(12)),
        progress_percent: 100,
        last_accessed_at: Some(at(13)),
        completed_at: Some(at(14)),
        certificate_code: Some("CERT-ABC".into()),
        certificate_issued_at: Some(at(15)),
        rating: Some(5),
        review_comment: Some("Superb".into()),
        reviewed_at: Some(at(16)),
        enrolled_at: at(17),
        created_at: at(18),
        updated_at: at(19),
    };
    insert::<enrollments::ActiveModel>(&db, enrollment.clone()).await;
    assert_eq!(
        enrollments::Entity::find_by_id(13)
            .one(&db)
            .await
            .unwrap()
            .unwrap(),
        enrollment
    );

    let parent = chat_messages::Model {
        id: 17,
        course_id: 11,
        user_id: Some(7),
        parent_id: None,
        message_type: chat_messages::MessageType::Question,
        content: "<b>not html</b> & plain text".into(),
        edited_at: None,
        edit_count: 0,
        deleted_at: None,
        deleted_by: None,
        pinned_at: Some(at(20)),
        pinned_by: Some(7),
        metadata: json!({}),
        created_at: at(21),
        updated_at: at(22),
    };
    let reply = chat_messages::Model {
        id: 18,
        parent_id: Some(17),
        message_type: chat_messages::MessageType::Answer,
        content: String::new(),
        edited_at: Some(at(23)),
        edit_count: 2,
        deleted_at: Some(at(24)),
        deleted_by: Some(7),
        pinned_at: None,
        pinned_by: None,
        metadata: json!({"client": "ios"}),
        ..parent.clone()
    };
    insert::<chat_messages::ActiveModel>(&db, parent.clone()).await;
    insert::<chat_messages::ActiveModel>(&db, reply.clone()).await;
    assert_eq!(
        chat_messages::Entity::find_by_id(17)
            .one(&db)
            .await
            .unwrap()
            .unwrap(),
        parent
    );
    assert_eq!(
        chat_messages::Entity::find_by_id(18)
            .one(&db)
            .await
            .unwrap()
            .unwrap(),
        reply
    );

    let reaction = chat_message_reactions::Model {
        message_id: 17,
        user_id: 7,
        emoji: "🎉".into(),
        created_at: at(25),
    };
    insert::<chat_message_reactions::ActiveModel>(&db, reaction.clone()).await;
    let found = chat_message_reactions::Entity::find_by_id((17, 7, "🎉".to_string()))
        .one(&db)
        .await
        .unwrap();
    assert_eq!(found, Some(reaction));
}

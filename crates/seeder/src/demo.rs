//! Demo data that makes the API meaningful at once: an admin, two instructors, five students (one with
//! 2FA on), published, discounted and draft courses, each with a curriculum (sections; text, video and
//! link lessons; previews; a draft), enrollments in every state with progress earned by completing
//! lessons, certificates and reviews, and chat threads with replies, a pin and reactions.
use chrono::{Duration, Utc};
use entity::chat_message_reactions;
use entity::chat_messages::{self, MessageType};
use entity::courses::{self, CourseLevel, CourseStatus, CourseVisibility};
use entity::enrollments::{self, EnrollmentStatus};
use entity::lessons::{self, LessonKind};
use entity::users::{self, UserRole, UserStatus};
use entity::{course_sections, enrollment_events, lesson_completions, payment_events};
use lms_core::curriculum;
use lms_core::enrollments::{self as service, PaymentData, PaymentEvent, PaymentEventKind};
use lms_core::events::Events;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use crate::runner::{DEMO_DOMAIN, Tools};

/// What the checksum of the demo seeders covers.
pub const SOURCE: &str = include_str!("demo.rs");

/// The password of every demo account (documented in the README).
pub const DEMO_PASSWORD: &str = "learn-with-lms-2026";

/// The TOTP secret of the demo account with 2FA on (base32; documented, so it can go into an app).
pub const DEMO_TOTP_SECRET_BASE32: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// (username, first name, last name, role)
const PEOPLE: &[(&str, &str, &str, UserRole)] = &[
    ("admin", "Site", "Admin", UserRole::Admin),
    ("ada", "Ada", "Lovelace", UserRole::Instructor),
    ("grace", "Grace", "Hopper", UserRole::Instructor),
    ("alice", "Alice", "Liddell", UserRole::Student),
    ("bob", "Bob", "Marley", UserRole::Student),
    ("carol", "Carol", "Danvers", UserRole::Student),
    ("dave", "Dave", "Bowman", UserRole::Student),
    ("erin", "Erin", "Brockovich", UserRole::Student),
];

fn email(username: &str) -> String {
    format!("{username}@{DEMO_DOMAIN}")
}

/// A demo account, if the demo_users seeder created it (it skips names that real accounts use).
async fn user(db: &impl ConnectionTrait, username: &str) -> anyhow::Result<Option<users::Model>> {
    Ok(users::Entity::find()
        .filter(users::Column::Email.eq(email(username)))
        .one(db)
        .await?)
}

/// A demo course, if the demo_courses seeder created it (not one of a real user's with the same slug).
async fn course(db: &impl ConnectionTrait, slug: &str) -> anyhow::Result<Option<courses::Model>> {
    let found = courses::Entity::find()
        .filter(courses::Column::Slug.eq(slug))
        .one(db)
        .await?;
    Ok(found.filter(|c| c.metadata["seeded"] == "demo"))
}

/// Demo rows never replace what users created: a row that would collide is left out and said so.
fn skipped(what: &str, why: &str) {
    println!("  skipped {what}: {why}");
}

pub async fn users(db: &impl ConnectionTrait, tools: &Tools) -> anyhow::Result<u64> {
    let now = Utc::now();
    let mut rows = 0;
    for (username, first, last, role) in PEOPLE {
        let taken = users::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(users::Column::Username.eq(*username))
                    .add(users::Column::Email.eq(email(username))),
            )
            .one(db)
            .await?;
        if taken.is_some() {
            skipped(
                &format!("demo user {username}"),
                "an account of yours already uses that name",
            );
            continue;
        }
        rows += 1;
        let mut user = users::ActiveModel {
            email: Set(email(username)),
            username: Set((*username).into()),
            password_hash: Set(Some(tools.password_hash.clone())),
            first_name: Set((*first).into()),
            last_name: Set((*last).into()),
            role: Set(*role),
            status: Set(UserStatus::Active),
            email_verified_at: Set(Some(now)),
            two_factor_enabled: Set(false),
            preferences: Set(serde_json::json!({"theme": "light"})),
            metadata: Set(serde_json::json!({"seeded": "demo"})),
            failed_login_attempts: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
        if *username == "erin" {
            let secret = lms_core::security::totp::secret_from_base32(DEMO_TOTP_SECRET_BASE32)
                .ok_or_else(|| anyhow::anyhow!("the demo TOTP secret is not base32"))?;
            let mut active: users::ActiveModel = user.clone().into();
            active.two_factor_enabled = Set(true);
            active.two_factor_secret_enc = Set(Some(
                tools.secrets.seal(&secret, &format!("totp:{}", user.id)),
            ));
            user = active.update(db).await?;
            println!(
                "  demo 2FA account: {} (TOTP secret {DEMO_TOTP_SECRET_BASE32})",
                user.email
            );
        }
    }
    Ok(rows)
}

/// (slug, title, instructor, price cents, discount cents, status, level, category)
type CourseSpec = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    Option<i64>,
    CourseStatus,
    CourseLevel,
    &'static str,
);
const COURSES: &[CourseSpec] = &[
    (
        "rust-from-zero",
        "Rust from Zero",
        "ada",
        0,
        None,
        CourseStatus::Published,
        CourseLevel::Beginner,
        "programming",
    ),
    (
        "async-rust-in-production",
        "Async Rust in Production",
        "ada",
        4900,
        None,
        CourseStatus::Published,
        CourseLevel::Advanced,
        "programming",
    ),
    (
        "compilers-by-hand",
        "Compilers by Hand",
        "grace",
        7900,
        Some(3900),
        CourseStatus::Published,
        CourseLevel::Intermediate,
        "computer-science",
    ),
    (
        "quantum-cooking",
        "Quantum Cooking",
        "grace",
        2900,
        None,
        CourseStatus::Draft,
        CourseLevel::AllLevels,
        "cooking",
    ),
];

pub async fn courses(db: &impl ConnectionTrait) -> anyhow::Result<u64> {
    let now = Utc::now();
    let mut rows = 0;
    for (slug, title, instructor, price, discount, status, level, category) in COURSES {
        let what = format!("demo course {slug}");
        let Some(teacher) = user(db, instructor).await? else {
            skipped(&what, &format!("its instructor {instructor} was skipped"));
            continue;
        };
        let slug_taken = courses::Entity::find()
            .filter(courses::Column::Slug.eq(*slug))
            .one(db)
            .await?;
        if slug_taken.is_some() {
            skipped(&what, "a course of yours already uses that slug");
            continue;
        }
        rows += 1;
        let course = courses::ActiveModel {
            instructor_id: Set(teacher.id),
            title: Set((*title).into()),
            slug: Set((*slug).into()),
            short_description: Set(Some(format!(
                "{title}, taught by {} {}.",
                teacher.first_name, teacher.last_name
            ))),
            description: Set(Some(format!(
                "{title}: a demo course with lessons, exercises and a course chat."
            ))),
            category: Set(Some((*category).into())),
            level: Set(*level),
            language: Set("en".into()),
            price_cents: Set(*price),
            currency: Set("USD".into()),
            discount_price_cents: Set(*discount),
            discount_ends_at: Set(discount.map(|_| now + Duration::days(30))),
            status: Set(*status),
            visibility: Set(CourseVisibility::Public),
            is_featured: Set(*slug == "rust-from-zero"),
            rating_average: Set(0.0),
            rating_sum: Set(0),
            rating_count: Set(0),
            student_count: Set(0),
            duration_minutes: Set(240),
            published_at: Set((*status == CourseStatus::Published).then_some(now)),
            thumbnail_url: Set(None),
            metadata: Set(serde_json::json!({"seeded": "demo"})),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
        rows += curriculum(db, course.id).await?;
    }
    Ok(rows)
}

/// (section, [(kind, title, required, published, preview, minutes, video seconds)])
type LessonSpec = (LessonKind, &'static str, bool, bool, bool, i32, Option<i32>);
const CURRICULUM: &[(&str, &[LessonSpec])] = &[
    (
        "Getting started",
        &[
            (LessonKind::Text, "Welcome", true, true, true, 5, None),
            (
                LessonKind::Video,
                "A tour of the course",
                true,
                true,
                true,
                5,
                Some(300),
            ),
            (
                LessonKind::Link,
                "Reading list",
                true,
                true,
                false,
                15,
                None,
            ),
        ],
    ),
    (
        "Core ideas",
        &[
            (
                LessonKind::Text,
                "Key concepts",
                true,
                true,
                false,
                20,
                None,
            ),
            (
                LessonKind::Video,
                "A worked example",
                true,
                true,
                false,
                10,
                Some(600),
            ),
            (
                LessonKind::Text,
                "Optional exercise",
                false,
                true,
                false,
                30,
                None,
            ),
        ],
    ),
    (
        "Wrapping up",
        &[
            (LessonKind::Text, "Summary", true, true, false, 10, None),
            (
                LessonKind::Text,
                "Bonus material (draft)",
                true,
                false,
                false,
                10,
                None,
            ),
        ],
    ),
];

/// Every demo course's curriculum: its sections and lessons, written as data (staff would make them
/// with the curriculum endpoints).
async fn curriculum(db: &impl ConnectionTrait, course_id: i64) -> anyhow::Result<u64> {
    let now = Utc::now();
    let mut rows = 0;
    for (s, (title, lessons)) in CURRICULUM.iter().enumerate() {
        let section = course_sections::ActiveModel {
            course_id: Set(course_id),
            position: Set(s as i32),
            title: Set((*title).into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
        rows += 1;
        for (l, (kind, title, required, published, preview, minutes, seconds)) in
            lessons.iter().enumerate()
        {
            let (body, url) = match kind {
                LessonKind::Text => (
                    Some(format!(
                        "# {title}\n\nThis is **{title}**, a demo lesson in Markdown.\n\n- read it\n- then mark it done"
                    )),
                    None,
                ),
                LessonKind::Video => (
                    None,
                    Some(format!(
                        "https://videos.{DEMO_DOMAIN}/{course_id}/{s}-{l}.mp4"
                    )),
                ),
                _ => (
                    None,
                    Some(format!("https://docs.{DEMO_DOMAIN}/reading/{course_id}")),
                ),
            };
            lessons::ActiveModel {
                course_id: Set(course_id),
                section_id: Set(section.id),
                position: Set(l as i32),
                kind: Set(*kind),
                title: Set((*title).into()),
                body: Set(body),
                url: Set(url),
                duration_seconds: Set(*seconds),
                estimated_minutes: Set(*minutes),
                required: Set(*required),
                published: Set(*published),
                preview: Set(*preview),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
                ..Default::default()
            }
            .insert(db)
            .await?;
            rows += 1;
        }
    }
    Ok(rows)
}

/// Earns about `percent` of the course the way a student does: completing lessons in order (text and
/// link lessons marked done, videos watched in 10-second steps), through the curriculum service.
async fn study(
    db: &DatabaseTransaction,
    student: &users::Model,
    course_id: i64,
    percent: i16,
) -> anyhow::Result<()> {
    let required: Vec<lessons::Model> = lessons::Entity::find()
        .filter(lessons::Column::CourseId.eq(course_id))
        .filter(lessons::Column::Required.eq(true))
        .filter(lessons::Column::Published.eq(true))
        .order_by_asc(lessons::Column::SectionId)
        .order_by_asc(lessons::Column::Position)
        .all(db)
        .await?;
    let todo = (required.len() * percent as usize).div_ceil(100);
    for lesson in required.iter().take(todo) {
        match (lesson.kind, lesson.duration_seconds) {
            (LessonKind::Video, Some(duration)) => {
                for at in (0..=duration).step_by(10) {
                    curriculum::report_position(db, student, lesson.id, at.into()).await?;
                }
            }
            _ => {
                curriculum::complete_lesson(db, student, lesson.id).await?;
            }
        }
    }
    Ok(())
}

/// (student, course, status, progress, rating)
const ENROLLMENTS: &[(&str, &str, EnrollmentStatus, i16, Option<i16>)] = &[
    (
        "alice",
        "rust-from-zero",
        EnrollmentStatus::Completed,
        100,
        Some(5),
    ),
    (
        "alice",
        "async-rust-in-production",
        EnrollmentStatus::Active,
        40,
        Some(4),
    ),
    (
        "bob",
        "rust-from-zero",
        EnrollmentStatus::Active,
        60,
        Some(4),
    ),
    (
        "bob",
        "compilers-by-hand",
        EnrollmentStatus::PendingPayment,
        0,
        None,
    ),
    (
        "carol",
        "async-rust-in-production",
        EnrollmentStatus::Refunded,
        15,
        None,
    ),
    (
        "carol",
        "rust-from-zero",
        EnrollmentStatus::Cancelled,
        10,
        None,
    ),
    (
        "dave",
        "compilers-by-hand",
        EnrollmentStatus::Active,
        20,
        Some(3),
    ),
    ("erin", "rust-from-zero", EnrollmentStatus::Active, 5, None),
];

/// Enrollments go through the same state machine as the API's: enroll (free courses start active,
/// paid ones wait for payment), payments and refunds as the provider's webhook delivers them,
/// progress, reviews and cancellation as the student sends them. So every demo enrollment has the
/// audit trail, counters and certificate a real one would have.
pub async fn enrollments(db: &DatabaseTransaction, events: &Events) -> anyhow::Result<u64> {
    let written = || async {
        let enrollments = enrollments::Entity::find().count(db).await?;
        let trail = enrollment_events::Entity::find().count(db).await?;
        let payments = payment_events::Entity::find().count(db).await?;
        let completions = lesson_completions::Entity::find().count(db).await?;
        anyhow::Ok(enrollments + trail + payments + completions)
    };
    let before = written().await?;
    for (i, (student, slug, status, progress, rating)) in ENROLLMENTS.iter().enumerate() {
        let (Some(student), Some(course)) = (user(db, student).await?, course(db, slug).await?)
        else {
            skipped(
                &format!("demo enrollment of {student} in {slug}"),
                "its student or course was skipped",
            );
            continue;
        };
        let (enrollment, _) = service::enroll(db, &student, course.id).await?;
        let id = enrollment.id;
        let reference = format!("demo_pi_{}", i + 1);
        if enrollment.status == EnrollmentStatus::PendingPayment
            && *status != EnrollmentStatus::PendingPayment
        {
            let paid = PaymentEventKind::SUCCEEDED;
            service::apply_payment_event(db, events, payment(&enrollment, &reference, paid))
                .await?;
        }
        if *progress > 0 {
            study(db, &student, course.id, *progress).await?;
        }
        if *status == EnrollmentStatus::Completed {
            let done = enrollments::Entity::find_by_id(id).one(db).await?;
            if let Some(code) = done.and_then(|d| d.certificate_code) {
                println!(
                    "  demo certificate: {code} ({} completed {slug})",
                    student.username
                );
            }
        }
        if let Some(rating) = rating {
            let comment = format!("Demo review: {rating} stars.");
            service::review(db, &student, id, *rating, Some(comment)).await?;
        }
        match status {
            EnrollmentStatus::Cancelled => {
                service::cancel(db, events, &student, id).await?;
            }
            EnrollmentStatus::Refunded => {
                let refunded = PaymentEventKind::REFUNDED;
                service::apply_payment_event(
                    db,
                    events,
                    payment(&enrollment, &reference, refunded),
                )
                .await?;
            }
            _ => {}
        }
    }
    Ok(written().await? - before)
}

/// The webhook event the payment provider would send for `enrollment`.
fn payment(enrollment: &enrollments::Model, reference: &str, kind: &str) -> PaymentEvent {
    PaymentEvent {
        id: format!("demo_evt_{}_{kind}", enrollment.id),
        kind: kind.to_string(),
        data: PaymentData {
            enrollment_id: enrollment.id,
            reference: reference.to_string(),
            amount_cents: enrollment.amount_cents,
            currency: enrollment.currency.clone(),
        },
    }
}

pub async fn chat(db: &impl ConnectionTrait) -> anyhow::Result<u64> {
    let now = Utc::now();
    let (Some(rust), Some(async_rust), Some(ada), Some(alice), Some(bob)) = (
        course(db, "rust-from-zero").await?,
        course(db, "async-rust-in-production").await?,
        user(db, "ada").await?,
        user(db, "alice").await?,
        user(db, "bob").await?,
    ) else {
        skipped("the demo chat", "a course or person it needs was skipped");
        return Ok(0);
    };
    let post = |course: &courses::Model,
                author: &users::Model,
                parent: Option<i64>,
                kind: MessageType,
                text: &str,
                pinned: bool| chat_messages::ActiveModel {
        course_id: Set(course.id),
        user_id: Set(Some(author.id)),
        parent_id: Set(parent),
        message_type: Set(kind),
        content: Set(text.into()),
        edit_count: Set(0),
        pinned_at: Set(pinned.then_some(now)),
        pinned_by: Set(pinned.then_some(author.id)),
        metadata: Set(serde_json::json!({})),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let welcome = post(
        &rust,
        &ada,
        None,
        MessageType::Announcement,
        "Welcome to Rust from Zero! Introduce yourselves here.",
        true,
    )
    .insert(db)
    .await?;
    let question = post(
        &rust,
        &alice,
        None,
        MessageType::Question,
        "Why does the borrow checker reject my loop?",
        false,
    )
    .insert(db)
    .await?;
    post(
        &rust,
        &ada,
        Some(question.id),
        MessageType::Answer,
        "You hold a reference across the push; clone the value or index instead.",
        false,
    )
    .insert(db)
    .await?;
    post(
        &rust,
        &bob,
        Some(question.id),
        MessageType::Text,
        "Same problem here, thanks!",
        false,
    )
    .insert(db)
    .await?;
    post(
        &rust,
        &bob,
        None,
        MessageType::Text,
        "Hi all, Bob from Kingston.",
        false,
    )
    .insert(db)
    .await?;
    let asked = post(
        &async_rust,
        &alice,
        None,
        MessageType::Question,
        "When should I use spawn_blocking?",
        false,
    )
    .insert(db)
    .await?;
    post(
        &async_rust,
        &ada,
        Some(asked.id),
        MessageType::Answer,
        "For CPU-heavy or blocking work, such as password hashing.",
        false,
    )
    .insert(db)
    .await?;
    for (message, who, emoji) in [
        (welcome.id, alice.id, "👍"),
        (welcome.id, bob.id, "🎉"),
        (question.id, bob.id, "👍"),
    ] {
        chat_message_reactions::ActiveModel {
            message_id: Set(message),
            user_id: Set(who),
            emoji: Set(emoji.into()),
            created_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    Ok(10)
}

/// Live sessions of Rust from Zero placed around the time of seeding: one that ended three days ago
/// with attendance (Alice most of it, Bob in two stretches), one live now with Bob in the room, one
/// upcoming in two days, one cancelled.
pub async fn live_sessions(db: &impl ConnectionTrait) -> anyhow::Result<u64> {
    use entity::live_session_attendance as attendance;
    use entity::live_sessions::{self, LiveStatus};
    let (Some(rust), Some(ada), Some(alice), Some(bob)) = (
        course(db, "rust-from-zero").await?,
        user(db, "ada").await?,
        user(db, "alice").await?,
        user(db, "bob").await?,
    ) else {
        skipped("demo live sessions", "their course or people were skipped");
        return Ok(0);
    };
    let now = Utc::now();
    let minutes = Duration::minutes;
    // (title, starts, minutes, status)
    let plan = [
        (
            "Kick-off Q&A",
            now - Duration::days(3),
            60,
            LiveStatus::Ended,
        ),
        (
            "Live coding: ownership",
            now - minutes(10),
            60,
            LiveStatus::Live,
        ),
        (
            "Office hours",
            now + Duration::days(2),
            45,
            LiveStatus::Scheduled,
        ),
        (
            "Guest talk (moved)",
            now + Duration::days(5),
            30,
            LiveStatus::Cancelled,
        ),
    ];
    let mut rows = 0;
    let mut ids = Vec::new();
    for (i, (title, starts, length, status)) in plan.iter().enumerate() {
        let started = matches!(status, LiveStatus::Ended | LiveStatus::Live).then_some(*starts);
        let session =
            live_sessions::ActiveModel {
                course_id: Set(rust.id),
                lesson_id: Set(None),
                title: Set((*title).into()),
                description: Set(Some(format!("{title}: a demo live session."))),
                starts_at: Set(*starts),
                duration_minutes: Set(*length),
                join_early_minutes: Set(10),
                join_late_minutes: Set(10),
                status: Set(*status),
                room_id: Set(format!(
                    "lms-demo-{}-{}",
                    i,
                    hex::encode(lms_core::security::tokens::random_bytes::<12>())
                )),
                recording_enabled: Set(i == 0),
                chat_enabled: Set(true),
                screen_share_enabled: Set(true),
                max_participants: Set(Some(50)),
                attendance_threshold_percent: Set(75),
                started_at: Set(started),
                ended_at: Set(
                    (*status == LiveStatus::Ended).then(|| *starts + minutes(*length as i64))
                ),
                cancelled_at: Set((*status == LiveStatus::Cancelled).then_some(now)),
                reminder_sent_at: Set(None),
                created_by: Set(Some(ada.id)),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await?;
        rows += 1;
        ids.push((session.id, *starts));
    }
    let (past, past_start) = ids[0];
    let (live, live_start) = ids[1];
    // (session, user, from, to (None: still in the room), moderator)
    let intervals = [
        (
            past,
            ada.id,
            past_start - minutes(5),
            Some(past_start + minutes(60)),
            true,
        ),
        (
            past,
            alice.id,
            past_start,
            Some(past_start + minutes(55)),
            false,
        ),
        (
            past,
            bob.id,
            past_start + minutes(10),
            Some(past_start + minutes(30)),
            false,
        ),
        (
            past,
            bob.id,
            past_start + minutes(35),
            Some(past_start + minutes(50)),
            false,
        ),
        (live, ada.id, live_start - minutes(5), None, true),
        (live, bob.id, live_start + minutes(2), None, false),
    ];
    for (session, person, from, to, moderator) in intervals {
        attendance::ActiveModel {
            session_id: Set(session),
            user_id: Set(person),
            joined_at: Set(from),
            last_heartbeat_at: Set(to.unwrap_or(now)),
            left_at: Set(to),
            is_moderator: Set(moderator),
            ..Default::default()
        }
        .insert(db)
        .await?;
        rows += 1;
    }
    Ok(rows)
}

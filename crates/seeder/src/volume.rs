//! Volume data for load tests, `--scale N`: N courses, 100*N users (N/10 of them instructors),
//! two enrollments per student (~200*N), and 1000*N chat messages (one in five a reply).
//!
//! Deterministic: a fixed seed and fixed timestamps, so the same N gives the same rows. Rows go in as
//! multi-row INSERTs with explicit ids (known up front, so children can refer to them), inside the
//! seeder's one transaction; `runner::fix_sequences` moves PostgreSQL's sequences past them afterwards.
use chrono::{DateTime, Duration, TimeZone, Utc};
use entity::enrollments::{EnrollmentStatus, PaymentMethod, PaymentStatus};
use indicatif::{ProgressBar, ProgressStyle};
use lms_core::db::tracking::Entry;
use lms_core::enrollments::Terms;
use sea_orm::ActiveEnum as _;
use sea_orm::sea_query::{Alias, InsertStatement, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, Statement, Value};

use crate::rng::Rng;
use crate::runner::{Tools, VOLUME_DOMAIN};

/// What the checksum of the volume seeders covers.
pub const SOURCE: &str = include_str!("volume.rs");

const SEED: u64 = 0x4C4D_5300_2026_1122;
const FIRST_NAMES: &[&str] = &[
    "Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivo", "Jun", "Kemal", "Lina",
];
const LAST_NAMES: &[&str] = &[
    "Silva", "Novak", "Okafor", "Tanaka", "Moreau", "Kowalski", "Haddad", "Larsen", "Rossi",
    "Singh",
];
const PRICES: &[i64] = &[0, 0, 1900, 2900, 4900, 9900];
const CATEGORIES: &[&str] = &[
    "programming",
    "design",
    "data",
    "business",
    "languages",
    "music",
];

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn instructors(n: u32) -> u64 {
    u64::from(n / 10).max(1)
}

async fn max_id(db: &impl ConnectionTrait, table: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COALESCE(MAX(id), 0) FROM {table}"),
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no answer from MAX(id)"))?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

async fn ids(db: &impl ConnectionTrait, sql: &str) -> anyhow::Result<Vec<(i64, i64)>> {
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get_by_index::<i64>(0)?, r.try_get_by_index::<i64>(1)?)))
        .collect()
}

fn progress(label: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>20} [{bar:30}] {pos}/{len} rows {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    bar
}

/// Inserts `total` generated rows into `table` in multi-row statements of `batch` rows.
async fn bulk_insert(
    db: &impl ConnectionTrait,
    table: &str,
    columns: &[&str],
    total: u64,
    batch: u64,
    mut row: impl FnMut(u64) -> Vec<SimpleExpr>,
) -> anyhow::Result<u64> {
    let bar = progress(table, total);
    let mut start = 0;
    while start < total {
        let end = (start + batch).min(total);
        let mut insert: InsertStatement = Query::insert();
        insert
            .into_table(Alias::new(table))
            .columns(columns.iter().map(|c| Alias::new(*c)));
        for i in start..end {
            insert.values(row(i))?;
        }
        db.execute(&insert).await?;
        bar.inc(end - start);
        start = end;
    }
    bar.finish_and_clear();
    Ok(total)
}

fn v(value: impl Into<Value>) -> SimpleExpr {
    SimpleExpr::Value(value.into())
}

pub async fn users(db: &impl ConnectionTrait, tools: &Tools, n: u32) -> anyhow::Result<u64> {
    let base = max_id(db, "users").await?;
    let teachers = instructors(n);
    let mut rng = Rng::new(SEED ^ 1);
    let at = epoch();
    let columns = [
        "id",
        "email",
        "username",
        "password_hash",
        "first_name",
        "last_name",
        "role",
        "status",
        "email_verified_at",
        "two_factor_enabled",
        "preferences",
        "metadata",
        "failed_login_attempts",
        "created_at",
        "updated_at",
    ];
    bulk_insert(db, "users", &columns, u64::from(n) * 100, 1000, |i| {
        let role = if i < teachers {
            "instructor"
        } else {
            "student"
        };
        let created = at + Duration::seconds(i as i64);
        vec![
            v(base + 1 + i as i64),
            v(format!("user{i}@{VOLUME_DOMAIN}")),
            v(format!("vol_user_{i}")),
            v(tools.password_hash.clone()),
            v(*rng.pick(FIRST_NAMES)),
            v(*rng.pick(LAST_NAMES)),
            v(role),
            v("active"),
            v(created),
            v(false),
            v(serde_json::json!({})),
            v(serde_json::json!({"seeded": "volume"})),
            v(0),
            v(created),
            v(created),
        ]
    })
    .await
}

pub async fn courses(db: &impl ConnectionTrait, n: u32) -> anyhow::Result<u64> {
    let teachers: Vec<i64> = ids(
        db,
        &format!("SELECT id, id FROM users WHERE email LIKE '%@{VOLUME_DOMAIN}' AND role = 'instructor' ORDER BY id"),
    )
    .await?
    .into_iter()
    .map(|(id, _)| id)
    .collect();
    anyhow::ensure!(
        !teachers.is_empty(),
        "no volume instructors: run volume_users first"
    );
    let base = max_id(db, "courses").await?;
    let mut rng = Rng::new(SEED ^ 2);
    let at = epoch();
    let columns = [
        "id",
        "instructor_id",
        "title",
        "slug",
        "short_description",
        "description",
        "category",
        "level",
        "language",
        "price_cents",
        "currency",
        "status",
        "visibility",
        "is_featured",
        "duration_minutes",
        "published_at",
        "metadata",
        "created_at",
        "updated_at",
    ];
    bulk_insert(db, "courses", &columns, u64::from(n), 500, |i| {
        let published = i % 10 != 9;
        let created = at + Duration::seconds(i as i64);
        let category = *rng.pick(CATEGORIES);
        vec![
            v(base + 1 + i as i64),
            v(teachers[i as usize % teachers.len()]),
            v(format!("Volume course {i} on {category}")),
            v(format!("vol-course-{i}")),
            v(format!("Course {i} for load tests")),
            v(format!(
                "Generated course number {i} about {category}, with enough text to be searched."
            )),
            v(category),
            v(*rng.pick(&["beginner", "intermediate", "advanced", "all_levels"])),
            v("en"),
            v(*rng.pick(PRICES)),
            v("USD"),
            v(if published { "published" } else { "draft" }),
            v("public"),
            v(i % 50 == 0),
            v(rng.below(600) as i32 + 30),
            v(published.then_some(created)),
            v(serde_json::json!({"seeded": "volume"})),
            v(created),
            v(created),
        ]
    })
    .await
}

/// Sections per volume course, and lessons per section (20 lessons a course).
pub const SECTIONS_PER_COURSE: u64 = 4;
pub const LESSONS_PER_SECTION: u64 = 5;

/// A curriculum for every volume course: `SECTIONS_PER_COURSE` sections of `LESSONS_PER_SECTION`
/// lessons, kinds in turn (text, video, link), all published and required but one optional lesson
/// a section, the first lesson of each course a preview.
pub async fn curriculum(db: &impl ConnectionTrait, _n: u32) -> anyhow::Result<u64> {
    let courses: Vec<i64> = ids(
        db,
        "SELECT id, id FROM courses WHERE slug LIKE 'vol-course-%' ORDER BY id",
    )
    .await?
    .into_iter()
    .map(|(id, _)| id)
    .collect();
    anyhow::ensure!(!courses.is_empty(), "run volume_courses first");
    let at = epoch();
    let section_base = max_id(db, "course_sections").await?;
    let sections = courses.len() as u64 * SECTIONS_PER_COURSE;
    let section_columns = [
        "id",
        "course_id",
        "position",
        "title",
        "created_at",
        "updated_at",
    ];
    let mut rows = bulk_insert(
        db,
        "course_sections",
        &section_columns,
        sections,
        1000,
        |i| {
            vec![
                v(section_base + 1 + i as i64),
                v(courses[(i / SECTIONS_PER_COURSE) as usize]),
                v((i % SECTIONS_PER_COURSE) as i32),
                v(format!("Part {}", i % SECTIONS_PER_COURSE + 1)),
                v(at),
                v(at),
            ]
        },
    )
    .await?;
    let lesson_base = max_id(db, "lessons").await?;
    let lesson_columns = [
        "id",
        "course_id",
        "section_id",
        "position",
        "kind",
        "title",
        "body",
        "url",
        "duration_seconds",
        "estimated_minutes",
        "required",
        "published",
        "preview",
        "created_at",
        "updated_at",
    ];
    let lessons = sections * LESSONS_PER_SECTION;
    rows += bulk_insert(db, "lessons", &lesson_columns, lessons, 1000, |i| {
        let section = i / LESSONS_PER_SECTION;
        let course = courses[(section / SECTIONS_PER_COURSE) as usize];
        let position = i % LESSONS_PER_SECTION;
        let kind = ["text", "video", "link"][(i % 3) as usize];
        let body = (kind == "text").then(|| {
            format!("# Lesson {i}\n\nGenerated Markdown for load tests: *emphasis*, `code`, and a list:\n\n- one\n- two")
        });
        let url = match kind {
            "video" => Some(format!("https://videos.{VOLUME_DOMAIN}/{i}.mp4")),
            "link" => Some(format!("https://docs.{VOLUME_DOMAIN}/{i}")),
            _ => None,
        };
        vec![
            v(lesson_base + 1 + i as i64),
            v(course),
            v(section_base + 1 + section as i64),
            v(position as i32),
            v(kind),
            v(format!("Lesson {} of part {}", position + 1, section % SECTIONS_PER_COURSE + 1)),
            v(body),
            v(url),
            v((kind == "video").then_some(600)),
            v(10),
            v(position != LESSONS_PER_SECTION - 1),
            v(true),
            v(i % (SECTIONS_PER_COURSE * LESSONS_PER_SECTION) == 0),
            v(at),
            v(at),
        ]
    })
    .await?;
    Ok(rows)
}

/// Two live sessions per volume course, in the past of the fixed epoch: one that ran (with up to five of
/// the course's students attending, in one or two stretches) and one that was cancelled.
pub async fn live_sessions(db: &impl ConnectionTrait, _n: u32) -> anyhow::Result<u64> {
    let courses: Vec<i64> = ids(
        db,
        "SELECT id, id FROM courses WHERE slug LIKE 'vol-course-%' ORDER BY id",
    )
    .await?
    .into_iter()
    .map(|(id, _)| id)
    .collect();
    anyhow::ensure!(!courses.is_empty(), "run volume_courses first");
    let base = max_id(db, "live_sessions").await?;
    let at = epoch();
    let start = |i: u64| at + Duration::hours(i as i64) + Duration::days(7);
    let columns = [
        "id",
        "course_id",
        "title",
        "starts_at",
        "duration_minutes",
        "status",
        "room_id",
        "started_at",
        "ended_at",
        "cancelled_at",
        "created_at",
        "updated_at",
    ];
    let total = courses.len() as u64 * 2;
    let mut rows = bulk_insert(db, "live_sessions", &columns, total, 1000, |i| {
        let course = courses[(i / 2) as usize];
        let ran = i % 2 == 0;
        let starts = start(i);
        vec![
            v(base + 1 + i as i64),
            v(course),
            v(if ran {
                "Live Q&A"
            } else {
                "Guest talk (cancelled)"
            }),
            v(starts),
            v(60),
            v(if ran { "ended" } else { "cancelled" }),
            v(format!("lms-volume-{}", base + 1 + i as i64)),
            v(ran.then_some(starts)),
            v(ran.then(|| starts + Duration::minutes(60))),
            v((!ran).then_some(at)),
            v(at),
            v(at),
        ]
    })
    .await?;
    // Attendance of the sessions that ran: the course's first five students (by enrollment id).
    let enrolled: Vec<(i64, i64)> = ids(
        db,
        "SELECT e.course_id, e.user_id FROM enrollments e JOIN courses c ON c.id = e.course_id \
         WHERE c.slug LIKE 'vol-course-%' ORDER BY e.course_id, e.id",
    )
    .await?;
    let mut attendees: Vec<(i64, i64, i64)> = Vec::new();
    for (k, course) in courses.iter().enumerate() {
        let session = base + 1 + 2 * k as i64;
        attendees.extend(
            enrolled
                .iter()
                .filter(|(c, _)| c == course)
                .take(5)
                .map(|(_, user)| (session, *user, k as i64)),
        );
    }
    let attendance_base = max_id(db, "live_session_attendance").await?;
    let columns = [
        "id",
        "session_id",
        "user_id",
        "joined_at",
        "last_heartbeat_at",
        "left_at",
    ];
    rows += bulk_insert(
        db,
        "live_session_attendance",
        &columns,
        attendees.len() as u64,
        1000,
        |i| {
            let (session, user, k) = attendees[i as usize];
            let starts = start(2 * k as u64);
            let (from, to) = (i as i64 % 20, 40 + i as i64 % 20);
            vec![
                v(attendance_base + 1 + i as i64),
                v(session),
                v(user),
                v(starts + Duration::minutes(from)),
                v(starts + Duration::minutes(to)),
                v(starts + Duration::minutes(to)),
            ]
        },
    )
    .await?;
    Ok(rows)
}

pub async fn enrollments(db: &impl ConnectionTrait, _n: u32) -> anyhow::Result<u64> {
    let students = ids(db, &format!("SELECT id, id FROM users WHERE email LIKE '%@{VOLUME_DOMAIN}' AND role = 'student' ORDER BY id")).await?;
    let courses = ids(db, "SELECT id, price_cents FROM courses WHERE slug LIKE 'vol-course-%' AND status = 'published' ORDER BY id").await?;
    anyhow::ensure!(
        !courses.is_empty() && !students.is_empty(),
        "run volume_users and volume_courses first"
    );
    let base = max_id(db, "enrollments").await?;
    let mut rng = Rng::new(SEED ^ 3);
    let at = epoch();
    let columns = [
        "id",
        "user_id",
        "course_id",
        "status",
        "amount_cents",
        "currency",
        "payment_method",
        "payment_status",
        "payment_reference",
        "paid_at",
        "progress_percent",
        "completed_at",
        "certificate_code",
        "certificate_issued_at",
        "rating",
        "reviewed_at",
        "enrolled_at",
        "created_at",
        "updated_at",
    ];
    // Two different courses per student (one when there is a single course).
    let per_student: u64 = if courses.len() > 1 { 2 } else { 1 };
    let total = students.len() as u64 * per_student;
    let course_count = courses.len() as u64;
    bulk_insert(db, "enrollments", &columns, total, 1000, |k| {
        let id = base + 1 + k as i64;
        let (student, _) = students[(k / per_student) as usize];
        let first = (student as u64 * 7919) % course_count;
        let index = if k % per_student == 0 {
            first
        } else {
            (first + 1 + (student as u64 % (course_count - 1))) % course_count
        };
        let (course, price) = courses[index as usize];
        let roll = rng.below(100);
        let wanted = match roll {
            0..70 => EnrollmentStatus::Active,
            70..85 => EnrollmentStatus::Completed,
            85..95 => EnrollmentStatus::PendingPayment,
            _ => EnrollmentStatus::Cancelled,
        };
        // Only states the state machine can reach from how the enrollment starts (a free course
        // never waits for payment).
        let start = Terms::at_enrollment(price);
        let status = if start.status.can_reach(wanted) {
            wanted
        } else {
            start.status
        };
        let when = at + Duration::seconds(k as i64);
        // Paid: a paid course whose enrollment went through its payment and is in force.
        let paid = price > 0 && status.grants_access();
        let completed = status == EnrollmentStatus::Completed;
        let progress: i16 = match status {
            EnrollmentStatus::Completed => 100,
            EnrollmentStatus::PendingPayment => 0,
            _ => rng.below(100) as i16,
        };
        let rating: Option<i16> = (completed || (status == EnrollmentStatus::Active && roll < 20))
            .then(|| 1 + rng.below(5) as i16);
        let (method, payment_status) = if paid {
            (Some(PaymentMethod::Card), PaymentStatus::Paid)
        } else {
            (start.payment_method, start.payment_status)
        };
        vec![
            v(id),
            v(student),
            v(course),
            v(status.name()),
            v(price),
            v("USD"),
            v(method.map(|m| m.to_value())),
            v(payment_status.to_value()),
            v(paid.then(|| format!("vol_pi_{id}"))),
            v(paid.then_some(when)),
            v(progress),
            v(completed.then_some(when)),
            v(completed.then(|| format!("VOL-{id}"))),
            v(completed.then_some(when)),
            v(rating),
            v(rating.map(|_| when)),
            v(when),
            v(when),
            v(when),
        ]
    })
    .await
}

/// One generated chat message.
struct Message {
    id: i64,
    course: i64,
    author: i64,
    parent: Option<i64>,
    content: String,
    at: DateTime<Utc>,
}

/// The chat messages of scale `n`, generated lazily (1000*N of them), the same for both write paths.
async fn message_plan(
    db: &impl ConnectionTrait,
    n: u32,
) -> anyhow::Result<(u64, impl FnMut(u64) -> Message)> {
    let authors: Vec<i64> = ids(
        db,
        &format!("SELECT id, id FROM users WHERE email LIKE '%@{VOLUME_DOMAIN}' ORDER BY id"),
    )
    .await?
    .into_iter()
    .map(|(id, _)| id)
    .collect();
    let courses: Vec<i64> = ids(db, "SELECT id, id FROM courses WHERE slug LIKE 'vol-course-%' AND status = 'published' ORDER BY id")
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    anyhow::ensure!(
        !courses.is_empty() && !authors.is_empty(),
        "run volume_users and volume_courses first"
    );
    let base = max_id(db, "chat_messages").await?;
    let per_course = courses.len() as u64;
    let mut rng = Rng::new(SEED ^ 4);
    let at = epoch();
    let next = move |k: u64| {
        let id = base + 1 + k as i64;
        // Message k belongs to course k mod P, so message k - P is in the same course: a valid parent.
        let reply = k >= per_course && rng.below(5) == 0;
        Message {
            id,
            course: courses[(k % per_course) as usize],
            author: *rng.pick(&authors),
            parent: reply.then(|| id - per_course as i64),
            content: format!(
                "Volume message {k}: notes on lesson {} and a question about exercise {}.",
                rng.below(40),
                rng.below(12)
            ),
            at: at + Duration::seconds(k as i64),
        }
    };
    Ok((u64::from(n) * 1000, next))
}

const MESSAGE_COLUMNS: [&str; 10] = [
    "id",
    "course_id",
    "user_id",
    "parent_id",
    "message_type",
    "content",
    "edit_count",
    "metadata",
    "created_at",
    "updated_at",
];

/// Multi-row INSERTs: the portable path (SQLite).
pub async fn chat_messages(db: &impl ConnectionTrait, n: u32) -> anyhow::Result<u64> {
    let (total, mut next) = message_plan(db, n).await?;
    bulk_insert(db, "chat_messages", &MESSAGE_COLUMNS, total, 2000, |k| {
        let m = next(k);
        vec![
            v(m.id),
            v(m.course),
            v(m.author),
            v(m.parent),
            v(if m.parent.is_some() { "answer" } else { "text" }),
            v(m.content),
            v(0),
            v(serde_json::json!({})),
            v(m.at),
            v(m.at),
        ]
    })
    .await
}

/// PostgreSQL: the same rows through `COPY ... FROM STDIN` on a transaction of its own, committed with
/// the seeder's tracking row (name, checksum, duration in ms, from `tracking`), so it stays all-or-nothing like every other seeder.
pub async fn chat_messages_by_copy(
    db: &sea_orm::DatabaseConnection,
    n: u32,
    tracking: impl FnOnce(u64) -> Entry,
) -> anyhow::Result<u64> {
    use std::fmt::Write as _;
    let (total, mut next) = message_plan(db, n).await?;
    let mut txn = db.get_postgres_connection_pool().begin().await?;
    let mut copy = txn
        .copy_in_raw(&format!(
            "COPY chat_messages ({}) FROM STDIN WITH (FORMAT csv)",
            MESSAGE_COLUMNS.join(", ")
        ))
        .await?;
    let bar = progress("chat_messages", total);
    let mut chunk = String::with_capacity(1 << 20);
    for k in 0..total {
        let m = next(k);
        let parent = m.parent.map(|p| p.to_string()).unwrap_or_default();
        let kind = if m.parent.is_some() { "answer" } else { "text" };
        let at = m.at.to_rfc3339();
        let content = m.content.replace('"', "\"\"");
        let _ = writeln!(
            chunk,
            "{},{},{},{parent},{kind},\"{content}\",0,{{}},{at},{at}",
            m.id, m.course, m.author
        );
        if chunk.len() >= (1 << 20) - 512 {
            copy.send(chunk.as_bytes()).await?;
            chunk.clear();
            bar.set_position(k + 1);
        }
    }
    copy.send(chunk.as_bytes()).await?;
    let rows = copy.finish().await?;
    bar.finish_and_clear();
    // The tracking row commits with the rows (the copy runs on sqlx's transaction, so the
    // statement is rendered for PostgreSQL here).
    let record = crate::runner::TRACKING
        .insert(&tracking(rows))
        .to_string(sea_orm::sea_query::PostgresQueryBuilder);
    sea_orm::sqlx::query(sea_orm::sqlx::AssertSqlSafe(record))
        .execute(&mut *txn)
        .await?;
    txn.commit().await?;
    Ok(rows)
}

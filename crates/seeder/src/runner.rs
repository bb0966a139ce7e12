//! Runs seeders in order and keeps `seaql_seeders`: name, checksum of the definition, rows, duration.
use std::time::Instant;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, ColumnDef, Query, Table};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use sha2::{Digest, Sha256};

use lms_core::security::crypto::SecretBox;
use lms_core::security::passwords::PasswordHasher;
use lms_core::security::secret::ServerSecret;

use crate::{demo, volume};

pub const TRACKING_TABLE: &str = "seaql_seeders";
/// Seeded accounts live under these domains, which is how `fresh` finds the seeded data.
pub const DEMO_DOMAIN: &str = "demo.lms.test";
pub const VOLUME_DOMAIN: &str = "volume.lms.test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeder {
    DemoUsers,
    DemoCourses,
    DemoEnrollments,
    DemoChat,
    VolumeUsers(u32),
    VolumeCourses(u32),
    VolumeEnrollments(u32),
    VolumeChatMessages(u32),
}

impl Seeder {
    pub fn name(&self) -> &'static str {
        match self {
            Seeder::DemoUsers => "demo_users",
            Seeder::DemoCourses => "demo_courses",
            Seeder::DemoEnrollments => "demo_enrollments",
            Seeder::DemoChat => "demo_chat",
            Seeder::VolumeUsers(_) => "volume_users",
            Seeder::VolumeCourses(_) => "volume_courses",
            Seeder::VolumeEnrollments(_) => "volume_enrollments",
            Seeder::VolumeChatMessages(_) => "volume_chat_messages",
        }
    }

    /// SHA-256 of what defines the seeder: its source (and scale). Editing a seeder changes it.
    pub fn checksum(&self) -> String {
        let (source, scale) = match self {
            Seeder::DemoUsers
            | Seeder::DemoCourses
            | Seeder::DemoEnrollments
            | Seeder::DemoChat => (demo::SOURCE, 0),
            Seeder::VolumeUsers(n)
            | Seeder::VolumeCourses(n)
            | Seeder::VolumeEnrollments(n)
            | Seeder::VolumeChatMessages(n) => (volume::SOURCE, *n),
        };
        let mut hash = Sha256::new();
        hash.update(self.name().as_bytes());
        hash.update(scale.to_le_bytes());
        hash.update(source.as_bytes());
        hex::encode(hash.finalize())
    }
}

/// The seeders in the order they run.
pub fn plan(scale: Option<u32>) -> Vec<Seeder> {
    let mut plan = vec![
        Seeder::DemoUsers,
        Seeder::DemoCourses,
        Seeder::DemoEnrollments,
        Seeder::DemoChat,
    ];
    if let Some(n) = scale.filter(|n| *n > 0) {
        plan.extend([
            Seeder::VolumeUsers(n),
            Seeder::VolumeCourses(n),
            Seeder::VolumeEnrollments(n),
            Seeder::VolumeChatMessages(n),
        ]);
    }
    plan
}

pub struct Tracked {
    pub name: String,
    pub checksum: String,
    pub rows: i64,
    pub duration_ms: i64,
    pub ran_at: DateTime<Utc>,
}

async fn ensure_tracking_table(db: &impl ConnectionTrait) -> anyhow::Result<()> {
    let table = Alias::new(TRACKING_TABLE);
    let create = Table::create()
        .table(table)
        .if_not_exists()
        .col(
            ColumnDef::new(Alias::new("name"))
                .string_len(100)
                .not_null()
                .primary_key(),
        )
        .col(
            ColumnDef::new(Alias::new("checksum"))
                .string_len(64)
                .not_null(),
        )
        .col(
            ColumnDef::new(Alias::new("rows_inserted"))
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(Alias::new("duration_ms"))
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(Alias::new("ran_at"))
                .timestamp_with_time_zone()
                .not_null(),
        )
        .to_owned();
    db.execute(&create).await?;
    Ok(())
}

pub async fn tracked(db: &impl ConnectionTrait) -> anyhow::Result<Vec<Tracked>> {
    ensure_tracking_table(db).await?;
    let select = Query::select()
        .columns(["name", "checksum", "rows_inserted", "duration_ms", "ran_at"].map(Alias::new))
        .from(Alias::new(TRACKING_TABLE))
        .to_owned();
    let mut out = Vec::new();
    for row in db.query_all(&select).await? {
        out.push(Tracked {
            name: row.try_get("", "name")?,
            checksum: row.try_get("", "checksum")?,
            rows: row.try_get("", "rows_inserted")?,
            duration_ms: row.try_get("", "duration_ms")?,
            ran_at: row.try_get("", "ran_at")?,
        });
    }
    Ok(out)
}

pub enum State<'a> {
    Ran(&'a Tracked),
    Changed(&'a Tracked),
    Pending,
}

fn state<'a>(seeder: &Seeder, tracked: &'a [Tracked]) -> State<'a> {
    match tracked.iter().find(|t| t.name == seeder.name()) {
        Some(t) if t.checksum == seeder.checksum() => State::Ran(t),
        Some(t) => State::Changed(t),
        None => State::Pending,
    }
}

pub async fn status(db: &DatabaseConnection, plan: &[Seeder]) -> anyhow::Result<()> {
    let tracked = tracked(db).await?;
    println!(
        "{:<22}  {:<8}  {:>10}  {:>9}  ran at (UTC)",
        "seeder", "status", "rows", "ms"
    );
    for seeder in plan {
        match state(seeder, &tracked) {
            State::Ran(t) | State::Changed(t) => {
                let label = if matches!(state(seeder, &tracked), State::Ran(_)) {
                    "ran"
                } else {
                    "changed"
                };
                println!(
                    "{:<22}  {label:<8}  {:>10}  {:>9}  {}",
                    seeder.name(),
                    t.rows,
                    t.duration_ms,
                    t.ran_at.format("%Y-%m-%d %H:%M:%S")
                );
            }
            State::Pending => println!(
                "{:<22}  {:<8}  {:>10}  {:>9}",
                seeder.name(),
                "pending",
                "",
                ""
            ),
        }
    }
    for t in tracked
        .iter()
        .filter(|t| !plan.iter().any(|s| s.name() == t.name))
    {
        println!(
            "{:<22}  {:<8}  {:>10}  {:>9}  {}  (not in this plan)",
            t.name,
            "ran",
            t.rows,
            t.duration_ms,
            t.ran_at.format("%Y-%m-%d %H:%M:%S")
        );
    }
    Ok(())
}

/// What a seeder needs: the password hash every seeded account shares (computed once), and the key
/// that encrypts TOTP secrets the way the API reads them.
pub struct Tools {
    pub password_hash: String,
    pub secrets: SecretBox,
}

pub async fn run(
    db: &DatabaseConnection,
    secret: impl FnOnce() -> anyhow::Result<ServerSecret>,
    plan: &[Seeder],
    only: Option<&str>,
) -> anyhow::Result<()> {
    let tracked = tracked(db).await?;
    let todo: Vec<&Seeder> = plan
        .iter()
        .filter(|s| only.is_none_or(|name| s.name() == name))
        .filter(|s| match state(s, &tracked) {
            State::Ran(_) => {
                println!("{:<22}  already ran; skipped", s.name());
                false
            }
            State::Changed(_) => {
                println!(
                    "{:<22}  CHANGED since it ran; not re-run (use `seeder fresh` to seed again)",
                    s.name()
                );
                false
            }
            State::Pending => true,
        })
        .collect();
    if todo.is_empty() {
        println!("nothing to do: every seeder has run");
        return Ok(());
    }
    let hasher = PasswordHasher::new(1)?;
    let tools = Tools {
        password_hash: hasher.hash(demo::DEMO_PASSWORD).await?,
        secrets: secret()?.totp_secret_box(),
    };
    let started = Instant::now();
    let mut total = 0;
    for seeder in todo {
        let began = Instant::now();
        if let (Seeder::VolumeChatMessages(n), DbBackend::Postgres) =
            (seeder, db.get_database_backend())
        {
            let rows = volume::chat_messages_by_copy(db, *n, || {
                (
                    seeder.name(),
                    seeder.checksum(),
                    began.elapsed().as_millis() as i64,
                )
            })
            .await?;
            report(seeder, rows, &began);
            total += rows;
            continue;
        }
        let txn = db.begin().await?;
        let rows = match seeder {
            Seeder::DemoUsers => demo::users(&txn, &tools).await?,
            Seeder::DemoCourses => demo::courses(&txn).await?,
            Seeder::DemoEnrollments => demo::enrollments(&txn).await?,
            Seeder::DemoChat => demo::chat(&txn).await?,
            Seeder::VolumeUsers(n) => volume::users(&txn, &tools, *n).await?,
            Seeder::VolumeCourses(n) => volume::courses(&txn, *n).await?,
            Seeder::VolumeEnrollments(n) => volume::enrollments(&txn, *n).await?,
            Seeder::VolumeChatMessages(n) => volume::chat_messages(&txn, *n).await?,
        };
        recompute_course_counters(&txn).await?;
        txn.execute(&tracking_insert(
            seeder,
            rows,
            began.elapsed().as_millis() as i64,
        ))
        .await?;
        txn.commit().await?;
        report(seeder, rows, &began);
        total += rows;
    }
    fix_sequences(db).await?;
    println!(
        "seeded {total} rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn tracking_insert(
    seeder: &Seeder,
    rows: u64,
    elapsed_ms: i64,
) -> sea_orm::sea_query::InsertStatement {
    Query::insert()
        .into_table(Alias::new(TRACKING_TABLE))
        .columns(["name", "checksum", "rows_inserted", "duration_ms", "ran_at"].map(Alias::new))
        .values_panic([
            seeder.name().into(),
            seeder.checksum().into(),
            (rows as i64).into(),
            elapsed_ms.into(),
            Utc::now().into(),
        ])
        .to_owned()
}

fn report(seeder: &Seeder, rows: u64, began: &Instant) {
    let elapsed = began.elapsed();
    let rate = rows as f64 / elapsed.as_secs_f64().max(1e-9);
    println!(
        "{:<22}  {rows:>10} rows in {:>7} ms ({rate:.0} rows/s)",
        seeder.name(),
        elapsed.as_millis()
    );
}

/// Derived values match the rows: students are active + completed enrollments; rating sum, count and
/// average come from the reviews.
pub async fn recompute_course_counters(db: &impl ConnectionTrait) -> anyhow::Result<()> {
    db.execute_unprepared(
        "UPDATE courses SET \
         student_count = (SELECT COUNT(*) FROM enrollments e WHERE e.course_id = courses.id AND e.status IN ('active', 'completed')), \
         rating_sum = (SELECT COALESCE(SUM(e.rating), 0) FROM enrollments e WHERE e.course_id = courses.id), \
         rating_count = (SELECT COUNT(e.rating) FROM enrollments e WHERE e.course_id = courses.id), \
         rating_average = COALESCE((SELECT AVG(e.rating) FROM enrollments e WHERE e.course_id = courses.id), 0)",
    )
    .await?;
    Ok(())
}

/// Rows inserted with explicit ids leave PostgreSQL's sequences behind; move them past the largest id
/// so the next insert through the API does not collide. (SQLite's AUTOINCREMENT follows by itself.)
pub async fn fix_sequences(db: &DatabaseConnection) -> anyhow::Result<()> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for table in ["users", "courses", "enrollments", "chat_messages"] {
        db.execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"),
        ))
        .await?;
    }
    Ok(())
}

/// Deletes every seeded row (found by the seeded accounts' email domains) and the tracking rows, in one
/// transaction. Children first: enrollments restrict course deletion, courses restrict user deletion.
pub async fn remove_seeded_data(db: &DatabaseConnection) -> anyhow::Result<()> {
    ensure_tracking_table(db).await?;
    let seeded_users = format!(
        "SELECT id FROM users WHERE email LIKE '%@{DEMO_DOMAIN}' OR email LIKE '%@{VOLUME_DOMAIN}'"
    );
    let seeded_courses = format!("SELECT id FROM courses WHERE instructor_id IN ({seeded_users})");
    let txn = db.begin().await?;
    for sql in [
        format!(
            "DELETE FROM enrollments WHERE user_id IN ({seeded_users}) OR course_id IN ({seeded_courses})"
        ),
        format!("DELETE FROM chat_messages WHERE course_id IN ({seeded_courses})"),
        format!("DELETE FROM courses WHERE id IN ({seeded_courses})"),
        format!("DELETE FROM users WHERE id IN ({seeded_users})"),
        format!("DELETE FROM {TRACKING_TABLE}"),
    ] {
        txn.execute_unprepared(&sql).await?;
    }
    recompute_course_counters(&txn).await?;
    txn.commit().await?;
    Ok(())
}

//! Runs seeders in order and keeps `seaql_seeders`: name, checksum of the definition, rows, duration.
use std::time::Instant;

use chrono::{DateTime, Utc};
use lms_core::courses::recompute_counters;
use lms_core::db::tracking::{Checksum, Entry, TrackingTable};
use lms_core::db::{Backend, BulkLoad};
use lms_core::events::Events;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};

use lms_core::security::crypto::SecretBox;
use lms_core::security::passwords::PasswordHasher;
use lms_core::security::secret::ServerSecret;

use crate::{demo, volume};

pub const TRACKING_TABLE: &str = "seaql_seeders";
/// The seeders' tracking table (the layout is the shared one of `lms_core::db::tracking`).
pub const TRACKING: TrackingTable = TrackingTable {
    table: TRACKING_TABLE,
    name_column: "name",
    name_len: Some(100),
    rows_and_time: true,
};
/// Seeded accounts live under these domains, which is how `fresh` finds the seeded data.
pub const DEMO_DOMAIN: &str = "demo.lms.test";
pub const VOLUME_DOMAIN: &str = "volume.lms.test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeder {
    DemoUsers,
    DemoCourses,
    DemoEnrollments,
    DemoChat,
    DemoLiveSessions,
    VolumeUsers(u32),
    VolumeCourses(u32),
    VolumeCurriculum(u32),
    VolumeEnrollments(u32),
    VolumeChatMessages(u32),
    VolumeLiveSessions(u32),
}

impl Seeder {
    pub fn name(&self) -> &'static str {
        match self {
            Seeder::DemoUsers => "demo_users",
            Seeder::DemoCourses => "demo_courses",
            Seeder::DemoEnrollments => "demo_enrollments",
            Seeder::DemoChat => "demo_chat",
            Seeder::DemoLiveSessions => "demo_live_sessions",
            Seeder::VolumeUsers(_) => "volume_users",
            Seeder::VolumeCourses(_) => "volume_courses",
            Seeder::VolumeCurriculum(_) => "volume_curriculum",
            Seeder::VolumeEnrollments(_) => "volume_enrollments",
            Seeder::VolumeChatMessages(_) => "volume_chat_messages",
            Seeder::VolumeLiveSessions(_) => "volume_live_sessions",
        }
    }

    /// SHA-256 of what defines the seeder: its source (and scale). Editing a seeder changes it.
    pub fn checksum(&self) -> String {
        let (source, scale) = match self {
            Seeder::DemoUsers
            | Seeder::DemoCourses
            | Seeder::DemoEnrollments
            | Seeder::DemoChat
            | Seeder::DemoLiveSessions => (demo::SOURCE, 0),
            Seeder::VolumeUsers(n)
            | Seeder::VolumeCourses(n)
            | Seeder::VolumeCurriculum(n)
            | Seeder::VolumeEnrollments(n)
            | Seeder::VolumeChatMessages(n)
            | Seeder::VolumeLiveSessions(n) => (volume::SOURCE, *n),
        };
        let mut hash = Checksum::default();
        hash.update(self.name())
            .update(scale.to_le_bytes())
            .update(source);
        hash.finish()
    }
}

/// The seeders in the order they run.
pub fn plan(scale: Option<u32>) -> Vec<Seeder> {
    let mut plan = vec![
        Seeder::DemoUsers,
        Seeder::DemoCourses,
        Seeder::DemoEnrollments,
        Seeder::DemoChat,
        Seeder::DemoLiveSessions,
    ];
    if let Some(n) = scale.filter(|n| *n > 0) {
        plan.extend([
            Seeder::VolumeUsers(n),
            Seeder::VolumeCourses(n),
            Seeder::VolumeCurriculum(n),
            Seeder::VolumeEnrollments(n),
            Seeder::VolumeChatMessages(n),
            Seeder::VolumeLiveSessions(n),
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

pub async fn tracked(db: &impl ConnectionTrait) -> anyhow::Result<Vec<Tracked>> {
    Ok(TRACKING
        .entries(db)
        .await?
        .into_iter()
        .map(|e| Tracked {
            name: e.name,
            checksum: e.checksum,
            rows: e.rows.unwrap_or(0),
            duration_ms: e.duration_ms.unwrap_or(0),
            ran_at: e.ran_at.unwrap_or_default(),
        })
        .collect())
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
    let backend = Backend::of(db)?;
    // The seeder serves no clients: what it commits only needs to reach running API instances.
    let events = Events::detached(db.clone(), backend);
    let started = Instant::now();
    let mut total = 0;
    for seeder in todo {
        let began = Instant::now();
        if let (Seeder::VolumeChatMessages(n), BulkLoad::Copy) = (seeder, backend.bulk_load()) {
            let rows = volume::chat_messages_by_copy(db, *n, |rows| {
                tracking_entry(seeder, rows, began.elapsed().as_millis() as i64)
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
            Seeder::DemoEnrollments => demo::enrollments(&txn, &events).await?,
            Seeder::DemoChat => demo::chat(&txn).await?,
            Seeder::DemoLiveSessions => demo::live_sessions(&txn).await?,
            Seeder::VolumeUsers(n) => volume::users(&txn, &tools, *n).await?,
            Seeder::VolumeCourses(n) => volume::courses(&txn, *n).await?,
            Seeder::VolumeCurriculum(n) => volume::curriculum(&txn, *n).await?,
            Seeder::VolumeEnrollments(n) => volume::enrollments(&txn, *n).await?,
            Seeder::VolumeChatMessages(n) => volume::chat_messages(&txn, *n).await?,
            Seeder::VolumeLiveSessions(n) => volume::live_sessions(&txn, *n).await?,
        };
        recompute_counters(&txn).await?;
        txn.execute(&TRACKING.insert(&tracking_entry(
            seeder,
            rows,
            began.elapsed().as_millis() as i64,
        )))
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

/// The tracking row of a seeder that wrote `rows` rows in `elapsed_ms`.
pub fn tracking_entry(seeder: &Seeder, rows: u64, elapsed_ms: i64) -> Entry {
    Entry {
        name: seeder.name().to_string(),
        checksum: seeder.checksum(),
        duration_ms: Some(elapsed_ms),
        rows: Some(rows as i64),
        ran_at: Some(Utc::now()),
    }
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

/// Rows inserted with explicit ids leave PostgreSQL's sequences behind; move them past the largest id
/// so the next insert through the API does not collide. (SQLite's AUTOINCREMENT follows by itself.)
pub async fn fix_sequences(db: &DatabaseConnection) -> anyhow::Result<()> {
    if !Backend::of(db)?.explicit_ids_need_sequence_fix() {
        return Ok(());
    }
    for table in [
        "users",
        "courses",
        "course_sections",
        "lessons",
        "enrollments",
        "chat_messages",
        "live_sessions",
        "live_session_attendance",
    ] {
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
    TRACKING.ensure(db).await?;
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
    ] {
        txn.execute_unprepared(&sql).await?;
    }
    txn.execute(&TRACKING.delete_all()).await?;
    recompute_counters(&txn).await?;
    txn.commit().await?;
    Ok(())
}

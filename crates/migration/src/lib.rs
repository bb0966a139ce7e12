//! The LMS schema as numbered migrations, the runner that applies them (checksums, dry runs, the run
//! lock), and `up_locked`, which the API and the seeder run at start-up.
//!
//! Order: create users, courses, enrollments, chat_messages, then one index migration per table;
//! later changes follow as new migrations (9: sessions and the other auth tables; 10: the enrollment audit trail and
//! payment events; 11: the chat's change feed and edit history; 12: idempotency keys; 13-17: the curriculum (sections,
//! lessons, lesson completions, video progress, their indexes); 18-20: live sessions, their attendance,
//! their indexes; 21: calendar-feed tokens; 22: live-session status changes in the chat's change feed; 23-24: what chat history pages are validated by, and the
//! index that serves them); 25: access signals for instances without LISTEN/NOTIFY (MySQL).
//! Applied migrations are never edited; a change to the schema is a new migration at the end.
pub use sea_orm_migration::prelude::*;

mod helpers;
mod idents;
mod m0001_create_users_table;
mod m0002_create_courses_table;
mod m0003_create_enrollments_table;
mod m0004_create_chat_messages_table;
mod m0005_add_indexes_to_users_table;
mod m0006_add_indexes_to_courses_table;
mod m0007_add_indexes_to_enrollments_table;
mod m0008_add_indexes_to_chat_messages_table;
mod m0009_create_auth_tables;
mod m0010_create_enrollment_events_and_payment_events;
mod m0011_create_chat_events_and_edits;
mod m0012_create_idempotency_keys;
mod m0013_create_course_sections;
mod m0014_create_lessons;
mod m0015_create_lesson_completions;
mod m0016_create_video_progress;
mod m0017_add_indexes_for_curriculum;
mod m0018_create_live_sessions;
mod m0019_create_live_session_attendance;
mod m0020_add_indexes_to_live_sessions;
mod m0021_create_calendar_tokens;
mod m0022_add_live_session_events_to_chat_events;
mod m0023_add_authors_version_to_chat_sequences;
mod m0024_add_top_level_index_to_chat_messages;
mod m0025_create_access_signals;
mod m0026_create_import_map;
pub mod runner;
pub mod verify;

pub use lms_core::db::{DEFAULT_DATABASE_URL, PoolOptions, connect, redact_url, with_run_lock};
use sea_orm::DatabaseConnection;
use std::time::Duration;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_create_users_table::Migration),
            Box::new(m0002_create_courses_table::Migration),
            Box::new(m0003_create_enrollments_table::Migration),
            Box::new(m0004_create_chat_messages_table::Migration),
            Box::new(m0005_add_indexes_to_users_table::Migration),
            Box::new(m0006_add_indexes_to_courses_table::Migration),
            Box::new(m0007_add_indexes_to_enrollments_table::Migration),
            Box::new(m0008_add_indexes_to_chat_messages_table::Migration),
            Box::new(m0009_create_auth_tables::Migration),
            Box::new(m0010_create_enrollment_events_and_payment_events::Migration),
            Box::new(m0011_create_chat_events_and_edits::Migration),
            Box::new(m0012_create_idempotency_keys::Migration),
            Box::new(m0013_create_course_sections::Migration),
            Box::new(m0014_create_lessons::Migration),
            Box::new(m0015_create_lesson_completions::Migration),
            Box::new(m0016_create_video_progress::Migration),
            Box::new(m0017_add_indexes_for_curriculum::Migration),
            Box::new(m0018_create_live_sessions::Migration),
            Box::new(m0019_create_live_session_attendance::Migration),
            Box::new(m0020_add_indexes_to_live_sessions::Migration),
            Box::new(m0021_create_calendar_tokens::Migration),
            Box::new(m0022_add_live_session_events_to_chat_events::Migration),
            Box::new(m0023_add_authors_version_to_chat_sequences::Migration),
            Box::new(m0024_add_top_level_index_to_chat_messages::Migration),
            Box::new(m0025_create_access_signals::Migration),
            Box::new(m0026_create_import_map::Migration),
        ]
    }
}

/// Applies every pending migration under the run lock, waiting at most `timeout` for another run
/// (several instances starting together: one migrates, the others wait, then find nothing to do).
/// What the API and the seeder do at start-up.
pub async fn up_locked(db: &DatabaseConnection, url: &str, timeout: Duration) -> Result<(), DbErr> {
    with_run_lock(db, url, timeout, || async {
        runner::up(db, None, false).await.map(|_| ())
    })
    .await
}

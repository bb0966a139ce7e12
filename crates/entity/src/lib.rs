//! SeaORM entities for the LMS schema: data and relations only, no business rules.
//!
//! Each entity matches its migration in `crates/migration` column for column; the end-to-end tests
//! insert and read back every column on SQLite and PostgreSQL to prove it.
pub mod access_signals;
pub mod calendar_tokens;
pub mod chat_events;
pub mod chat_message_edits;
pub mod chat_message_reactions;
pub mod chat_messages;
pub mod chat_sequences;
pub mod course_sections;
pub mod courses;
pub mod enrollment_events;
pub mod enrollments;
pub mod idempotency_keys;
pub mod import_map;
pub mod lesson_completions;
pub mod lessons;
pub mod live_session_attendance;
pub mod live_sessions;
pub mod mfa_challenges;
pub mod payment_events;
pub mod rate_limits;
pub mod recovery_codes;
pub mod refresh_tokens;
pub mod sessions;
pub mod users;
pub mod video_progress;

pub mod prelude {
    pub use super::access_signals::Entity as AccessSignals;
    pub use super::calendar_tokens::Entity as CalendarTokens;
    pub use super::chat_events::Entity as ChatEvents;
    pub use super::chat_message_edits::Entity as ChatMessageEdits;
    pub use super::chat_message_reactions::Entity as ChatMessageReactions;
    pub use super::chat_messages::Entity as ChatMessages;
    pub use super::chat_sequences::Entity as ChatSequences;
    pub use super::course_sections::Entity as CourseSections;
    pub use super::courses::Entity as Courses;
    pub use super::enrollment_events::Entity as EnrollmentEvents;
    pub use super::enrollments::Entity as Enrollments;
    pub use super::import_map::Entity as ImportMap;
    pub use super::lesson_completions::Entity as LessonCompletions;
    pub use super::lessons::Entity as Lessons;
    pub use super::live_session_attendance::Entity as LiveSessionAttendance;
    pub use super::live_sessions::Entity as LiveSessions;
    pub use super::mfa_challenges::Entity as MfaChallenges;
    pub use super::payment_events::Entity as PaymentEvents;
    pub use super::rate_limits::Entity as RateLimits;
    pub use super::recovery_codes::Entity as RecoveryCodes;
    pub use super::refresh_tokens::Entity as RefreshTokens;
    pub use super::sessions::Entity as Sessions;
    pub use super::users::Entity as Users;
    pub use super::video_progress::Entity as VideoProgress;
}

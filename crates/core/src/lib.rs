//! The LMS domain, shared by every binary (the API, the seeder, the migration CLI, the benchmarks):
//! parsed domain types, one module per area with its rules (auth, users, courses, enrollments, chat),
//! security primitives, the database connection with the per-database [`db::Backend`] capabilities,
//! and the one port for committed events ([`events::Events`]). Nothing here knows HTTP.
//!
//! An area's functions take a connection (a pool or the caller's transaction: [`db::Db`]), the
//! acting user and parsed input, and decide authorization next to the data they protect.
pub mod auth;
pub mod chat;
pub mod courses;
pub mod curriculum;
pub mod db;
pub mod domain;
pub mod enrollments;
pub mod error;
pub mod events;
pub mod housekeeping;
pub mod idempotency;
pub mod live;
pub mod mail;
pub mod paging;
pub mod rules;
pub mod security;
pub mod users;

use chrono::{DateTime, Utc};

pub use error::{Error, Result};

/// Where a request came from, for sessions and throttling.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

//! Business rules. No HTTP here: services take a connection, the acting user and parsed input,
//! and decide authorization next to the data they protect.
pub mod auth;
pub mod chat;
pub mod chat_writer;
pub mod courses;
pub mod enrollments;
pub mod paging;
pub mod users;

use chrono::{DateTime, Utc};

/// Where a request came from, for sessions and throttling.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

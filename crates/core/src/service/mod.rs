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
use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};

/// What services run on: a pool, or a transaction that the caller holds (then a service's own
/// transaction becomes a savepoint in it, and its work commits with the caller's).
pub trait Db: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction> {}

impl<T: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>> Db for T {}

/// Where a request came from, for sessions and throttling.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

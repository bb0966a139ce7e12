//! The LMS domain, shared by every binary (the API, the seeder, the migration CLI, the benchmarks):
//! parsed domain types, services with their rules, security primitives, the database connection with
//! the per-database [`db::Backend`] capabilities, and the one port for committed events
//! ([`events::Events`]). Nothing here knows HTTP.
pub mod access_cache;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod housekeeping;
pub mod mail;
pub mod realtime;
pub mod security;
pub mod service;

pub use error::{Error, Result};

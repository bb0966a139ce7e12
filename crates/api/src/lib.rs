//! The LMS HTTP API: routes, extractors, problem mapping and WebSocket framing over the domain in
//! `lms_core`, on SQLite or PostgreSQL.
//!
//! `startup::Application` builds everything from one `config::Config`; `main.rs` only parses the
//! command line and runs it.
pub mod config;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod openapi;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use config::Config;
pub use error::AppError;
pub use startup::Application;

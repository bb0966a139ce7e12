//! The LMS HTTP API: an axum service over SeaORM, on SQLite or PostgreSQL.
//!
//! `startup::Application` builds everything from one `config::Config`; `main.rs` only parses the
//! command line and runs it.
pub mod access_cache;
pub mod config;
pub mod domain;
pub mod error;
pub mod extract;
pub mod housekeeping;
pub mod mail;
pub mod openapi;
pub mod realtime;
pub mod routes;
pub mod security;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use config::Config;
pub use error::AppError;
pub use startup::Application;

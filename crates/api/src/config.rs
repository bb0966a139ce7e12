//! Configuration: flags, environment variables and `.env`, parsed once in `main` and passed down.
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_DB_MAX_CONNECTIONS: u32 = 20;

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database URL: sqlite://path?mode=rwc (embedded, the default) or postgres://user:pass@host/db.
    #[arg(long, env = "DATABASE_URL", default_value = migration::DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,

    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "LMS_BIND", default_value = DEFAULT_BIND)]
    pub bind: SocketAddr,

    /// Apply pending migrations at start-up (and refuse to start if they fail).
    #[arg(long, env = "LMS_AUTO_MIGRATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub auto_migrate: bool,

    /// Largest accepted request body, in bytes (larger: 413).
    #[arg(long, env = "LMS_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// Requests taking longer than this many seconds are cut off.
    #[arg(long, env = "LMS_REQUEST_TIMEOUT_SECS", default_value_t = DEFAULT_REQUEST_TIMEOUT_SECS)]
    pub request_timeout_secs: u64,

    /// Size of the database connection pool.
    #[arg(long, env = "LMS_DB_MAX_CONNECTIONS", default_value_t = DEFAULT_DB_MAX_CONNECTIONS)]
    pub db_max_connections: u32,

    /// Log format (the level comes from RUST_LOG, default info).
    #[arg(long, env = "LMS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// The defaults, on the given database: what tests and embedders start from.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            auto_migrate: true,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
            db_max_connections: DEFAULT_DB_MAX_CONNECTIONS,
            log_format: LogFormat::Text,
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

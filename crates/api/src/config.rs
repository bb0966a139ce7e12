//! Configuration: flags, environment variables and `.env`, parsed once in `main` and passed down.
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use lms_core::db::PoolOptions;
use lms_core::security::AuthSettings;
use lms_core::security::secret::ServerSecret;

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_DB_MAX_CONNECTIONS: u32 = 20;
pub const DEFAULT_DB_ACQUIRE_TIMEOUT_MS: u64 = 1000;

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database URL: sqlite://path?mode=rwc (embedded, the default) or postgres://user:pass@host/db.
    #[arg(long, env = "DATABASE_URL", default_value = lms_core::db::DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,

    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "LMS_BIND", default_value = DEFAULT_BIND)]
    pub bind: SocketAddr,

    /// Apply pending migrations at start-up (and refuse to start if they fail).
    #[arg(long, env = "LMS_AUTO_MIGRATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub auto_migrate: bool,

    /// Seconds to wait for another instance's migration lock at start-up.
    #[arg(long, env = "LMS_MIGRATION_LOCK_TIMEOUT_SECS", default_value_t = 300)]
    pub migration_lock_timeout_secs: u64,

    /// Largest accepted request body, in bytes (larger: 413).
    #[arg(long, env = "LMS_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// Requests taking longer than this many seconds are cut off.
    #[arg(long, env = "LMS_REQUEST_TIMEOUT_SECS", default_value_t = DEFAULT_REQUEST_TIMEOUT_SECS)]
    pub request_timeout_secs: u64,

    /// Size of the database connection pool.
    #[arg(long, env = "LMS_DB_MAX_CONNECTIONS", default_value_t = DEFAULT_DB_MAX_CONNECTIONS)]
    pub db_max_connections: u32,

    /// How long a request waits for a database connection (or to open one) before it gets 503 with
    /// Retry-After, in milliseconds.
    #[arg(long, env = "LMS_DB_ACQUIRE_TIMEOUT_MS", default_value_t = DEFAULT_DB_ACQUIRE_TIMEOUT_MS)]
    pub db_acquire_timeout_ms: u64,

    /// `development` or `production`. Production refuses to start without LMS_SECRET_KEY.
    #[arg(long = "env", env = "LMS_ENV", value_enum, default_value_t = Environment::Development)]
    pub environment: Environment,

    /// Server secret (32+ characters) from which the token-signing and encryption keys are derived.
    /// In development, when unset, a random one is created in LMS_SECRET_KEY_FILE.
    #[arg(long, env = "LMS_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Where the development secret is kept when LMS_SECRET_KEY is unset.
    #[arg(long, env = "LMS_SECRET_KEY_FILE", default_value = "lms.secret")]
    pub secret_key_file: std::path::PathBuf,

    /// Public base URL of the web app, for links in emails.
    #[arg(long, env = "LMS_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,

    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "LMS_ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: i64,

    /// Lifetime of a session (its refresh tokens), in seconds.
    #[arg(long, env = "LMS_SESSION_TTL_SECS", default_value_t = 30 * 24 * 3600)]
    pub session_ttl_secs: i64,

    /// SMTP server for outgoing mail, e.g. smtp://user:pass@mail.example.com:587?tls=required.
    /// Unset: emails are written to the log.
    #[arg(long, env = "LMS_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Sender of outgoing mail.
    #[arg(
        long,
        env = "LMS_MAIL_FROM",
        default_value = "LMS <no-reply@localhost>"
    )]
    pub mail_from: String,

    /// Take the client address from X-Forwarded-For (only behind a proxy you trust).
    #[arg(long, env = "LMS_TRUST_FORWARDED_FOR", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_forwarded_for: bool,

    /// With LMS_TRUST_FORWARDED_FOR: how many proxies of yours append to X-Forwarded-For. The client
    /// address is the entry this many places from the right (entries further left are whatever the
    /// client sent, and are ignored).
    #[arg(long, env = "LMS_TRUSTED_PROXY_HOPS", default_value_t = 1)]
    pub trusted_proxy_hops: usize,

    /// Shared secret of the payment provider's webhook (HMAC-SHA256). Unset: the webhook answers 503.
    #[arg(long, env = "LMS_PAYMENT_WEBHOOK_SECRET", hide_env_values = true)]
    pub payment_webhook_secret: Option<String>,

    /// How many password hashes may run at once (default: the number of CPUs).
    #[arg(long, env = "LMS_PASSWORD_HASH_CONCURRENCY")]
    pub password_hash_concurrency: Option<usize>,

    /// How many password checks may wait for a hashing thread; more get 503 with Retry-After.
    #[arg(long, env = "LMS_PASSWORD_HASH_QUEUE", default_value_t = lms_core::security::passwords::DEFAULT_QUEUE)]
    pub password_hash_queue: usize,

    /// Chat messages (posts and replies) one user may send per minute; more get 429 with Retry-After.
    #[arg(long, env = "LMS_CHAT_POSTS_PER_MINUTE", default_value_t = 30)]
    pub chat_posts_per_minute: i32,

    /// Longest chat message, in characters.
    #[arg(long, env = "LMS_CHAT_MAX_MESSAGE_CHARS", default_value_t = 4000)]
    pub chat_max_message_chars: usize,

    /// How often an open chat WebSocket re-checks that its session and course membership still hold
    /// (besides the immediate re-check when a session is revoked or an enrollment ends).
    #[arg(long, env = "LMS_CHAT_ACCESS_RECHECK_SECS", default_value_t = 60)]
    pub chat_access_recheck_secs: u64,

    /// How long an instance may reuse what it read about a chat caller's session and course membership
    /// (0: read it on every request). Revocations reach every instance at once regardless (see the
    /// README); this only bounds changes nothing signals.
    #[arg(long, env = "LMS_CHAT_ACCESS_CACHE_SECS", default_value_t = 10)]
    pub chat_access_cache_secs: u64,

    /// Memory for newest chat history pages kept serialized, in MiB over all courses (0 turns it
    /// off). Pages are revalidated against the database on every read, so this trades memory for
    /// speed only, never freshness.
    #[arg(long, env = "LMS_CHAT_PAGE_CACHE_MB", default_value_t = 64)]
    pub chat_page_cache_mb: u64,

    /// The Jitsi Meet server live sessions meet on (room URLs are `<this>/<room>`).
    #[arg(long, env = "LMS_JITSI_URL", default_value = "https://meet.jit.si")]
    pub jitsi_url: String,

    /// Jitsi token authentication: the app id (`iss`) of the JWTs a join answers with. Tokens are
    /// issued only when the secret is set too.
    #[arg(long, env = "LMS_JITSI_APP_ID")]
    pub jitsi_app_id: Option<String>,

    /// Jitsi token authentication: the shared secret the JWTs are signed with (HS256).
    #[arg(long, env = "LMS_JITSI_APP_SECRET", hide_env_values = true)]
    pub jitsi_app_secret: Option<String>,

    /// A live-session attendance interval without a heartbeat for this long ends at its last heartbeat
    /// plus this grace.
    #[arg(long, env = "LMS_LIVE_HEARTBEAT_GRACE_SECS", default_value_t = 90)]
    pub live_heartbeat_grace_secs: u64,

    /// Enrolled students get a reminder email this many minutes before a live session starts (0: no
    /// reminders).
    #[arg(long, env = "LMS_LIVE_REMINDER_MINUTES", default_value_t = 15)]
    pub live_reminder_minutes: u32,

    /// Log format (the level comes from RUST_LOG, default info).
    #[arg(long, env = "LMS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    Development,
    Production,
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
            migration_lock_timeout_secs: 300,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
            db_max_connections: DEFAULT_DB_MAX_CONNECTIONS,
            db_acquire_timeout_ms: DEFAULT_DB_ACQUIRE_TIMEOUT_MS,
            environment: Environment::Development,
            secret_key: None,
            secret_key_file: "lms.secret".into(),
            public_url: "http://127.0.0.1:8080".into(),
            access_token_ttl_secs: 900,
            session_ttl_secs: 30 * 24 * 3600,
            smtp_url: None,
            mail_from: "LMS <no-reply@localhost>".into(),
            trust_forwarded_for: false,
            trusted_proxy_hops: 1,
            password_hash_concurrency: None,
            password_hash_queue: lms_core::security::passwords::DEFAULT_QUEUE,
            payment_webhook_secret: None,
            log_format: LogFormat::Text,
            chat_posts_per_minute: 30,
            chat_max_message_chars: 4000,
            chat_access_recheck_secs: 60,
            chat_access_cache_secs: 10,
            chat_page_cache_mb: 64,
            jitsi_url: "https://meet.jit.si".into(),
            jitsi_app_id: None,
            jitsi_app_secret: None,
            live_heartbeat_grace_secs: 90,
            live_reminder_minutes: 15,
        }
    }

    /// Where live sessions meet, and how their tokens are signed.
    pub fn jitsi(&self) -> lms_core::live::Jitsi {
        lms_core::live::Jitsi {
            url: self.jitsi_url.clone(),
            app_id: self.jitsi_app_id.clone(),
            app_secret: self.jitsi_app_secret.clone(),
        }
    }

    /// `LMS_CHAT_PAGE_CACHE_MB` in bytes.
    pub fn chat_page_cache_bytes(&self) -> usize {
        usize::try_from(self.chat_page_cache_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }

    pub fn live_grace(&self) -> lms_core::live::Grace {
        lms_core::live::Grace(chrono::Duration::seconds(
            i64::try_from(self.live_heartbeat_grace_secs).unwrap_or(i64::MAX / 2_000),
        ))
    }

    /// The server secret: LMS_SECRET_KEY, or in development a random one kept in a file
    /// (created on first start, readable by its owner only).
    pub fn load_secret(&self) -> anyhow::Result<ServerSecret> {
        ServerSecret::load(
            self.secret_key.as_deref(),
            &self.secret_key_file,
            self.environment == Environment::Development,
        )
    }

    /// What authentication takes from the configuration.
    pub fn auth_settings(&self) -> AuthSettings {
        AuthSettings {
            hash_concurrency: self.hash_concurrency(),
            hash_queue: self.password_hash_queue,
            access_ttl_secs: self.access_token_ttl_secs,
            session_ttl_secs: self.session_ttl_secs,
            public_url: self.public_url.clone(),
        }
    }

    /// Opens the configured database and, unless disabled, applies pending migrations. Fails, naming
    /// what went wrong, instead of starting half-ready.
    pub async fn open_database(&self) -> anyhow::Result<sea_orm::DatabaseConnection> {
        let target = lms_core::db::redact_url(&self.database_url);
        let pool = PoolOptions {
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms),
            ..PoolOptions::default()
        };
        let db = lms_core::db::connect(&self.database_url, &pool)
            .await
            .with_context(|| format!("cannot open the database {target}"))?;
        if self.auto_migrate {
            let timeout = Duration::from_secs(self.migration_lock_timeout_secs);
            migration::up_locked(&db, &self.database_url, timeout)
                .await
                .with_context(|| format!("migrating {target} failed; refusing to start"))?;
        }
        Ok(db)
    }

    pub fn hash_concurrency(&self) -> usize {
        self.password_hash_concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

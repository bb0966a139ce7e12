use std::sync::Arc;

use axum::extract::FromRef;
use sea_orm::DatabaseConnection;

use crate::config::Config;
use crate::mail::Mailer;
use crate::realtime::Hub;
use crate::security::crypto::{SecretBox, derive_key};
use crate::security::passwords::PasswordHasher;
use crate::security::tokens::JwtKeys;
use crate::service::chat_writer::ChatWriter;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub auth: Arc<Auth>,
    /// Live delivery of chat events to this instance's WebSocket connections.
    pub hub: Arc<Hub>,
    /// PostgreSQL: writes chat posts in batches (None on SQLite, which writes each in its transaction).
    pub chat_writer: Option<Arc<ChatWriter>>,
}

/// The keys and tools of authentication, built once from the config.
pub struct Auth {
    pub hasher: PasswordHasher,
    pub jwt: JwtKeys,
    /// Encrypts TOTP secrets at rest.
    pub secrets: SecretBox,
    pub mailer: Mailer,
    pub access_ttl_secs: i64,
    pub session_ttl_secs: i64,
    pub public_url: String,
}

impl Auth {
    pub fn new(config: &Config, secret: &[u8], mailer: Mailer) -> anyhow::Result<Self> {
        Ok(Self {
            hasher: PasswordHasher::new(config.hash_concurrency())?,
            jwt: JwtKeys::new(&derive_key(secret, "lms/jwt-hs256/v1")),
            secrets: SecretBox::new(derive_key(secret, "lms/totp-secret-encryption/v1")),
            mailer,
            access_ttl_secs: config.access_token_ttl_secs,
            session_ttl_secs: config.session_ttl_secs,
            public_url: config.public_url.trim_end_matches('/').to_string(),
        })
    }
}

impl FromRef<AppState> for DatabaseConnection {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}

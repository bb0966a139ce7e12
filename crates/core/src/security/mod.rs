//! Security primitives: password hashing, tokens, secret encryption, TOTP, throttling, and the one
//! server secret every key is derived from. No HTTP and no business rules here; `crate::auth`
//! composes them.
pub mod crypto;
pub mod passwords;
pub mod secret;
pub mod throttle;
pub mod tokens;
pub mod totp;

use crate::mail::Mailer;
use passwords::PasswordHasher;
use secret::ServerSecret;
use tokens::JwtKeys;

/// The settings of authentication that come from configuration.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub hash_concurrency: usize,
    /// Password checks that may wait for a hashing thread; more are refused with 503.
    pub hash_queue: usize,
    pub access_ttl_secs: i64,
    pub session_ttl_secs: i64,
    /// Base URL of the web app, for links in emails.
    pub public_url: String,
}

/// The keys and tools of authentication, built once at start-up.
pub struct Auth {
    pub hasher: PasswordHasher,
    pub jwt: JwtKeys,
    /// Encrypts TOTP secrets at rest.
    pub secrets: crypto::SecretBox,
    pub mailer: Mailer,
    pub access_ttl_secs: i64,
    pub session_ttl_secs: i64,
    pub public_url: String,
}

impl Auth {
    pub fn new(
        settings: &AuthSettings,
        secret: &ServerSecret,
        mailer: Mailer,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            hasher: PasswordHasher::with_queue(settings.hash_concurrency, settings.hash_queue)?,
            jwt: secret.jwt_keys(),
            secrets: secret.totp_secret_box(),
            mailer,
            access_ttl_secs: settings.access_ttl_secs,
            session_ttl_secs: settings.session_ttl_secs,
            public_url: settings.public_url.trim_end_matches('/').to_string(),
        })
    }
}

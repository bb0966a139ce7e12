//! argon2id password hashing with OWASP parameters (`Argon2::default()`: m=19456 KiB, t=2, p=1), run on
//! the blocking pool behind a semaphore: at most `concurrency` hashes at once, so 500 simultaneous
//! logins queue instead of allocating 500 x 19 MiB.
use std::sync::Arc;

use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use tokio::sync::Semaphore;

/// The PHC prefix of hashes made with the current parameters; others are rehashed at login.
const CURRENT_PARAMS: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// A real hash of a random password: verified against when the user does not exist, so that an
    /// unknown email costs the same time as a wrong password.
    dummy_hash: Arc<str>,
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password hashing task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("password hasher closed")]
    Closed,
}

impl PasswordHasher {
    pub fn new(concurrency: usize) -> Result<Self, HashError> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| HashError::Hash(e.to_string()))?;
        let dummy_hash = hash_now(&hex::encode(random))?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: dummy_hash.into(),
        })
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Closed)?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_now(&password)).await?
    }

    /// Verifies `password` against `stored`, or against the dummy hash when there is no stored hash.
    /// Returns true only for a real match.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Closed)?;
        let password = password.to_owned();
        let (hash, real) = match stored {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        let matched = tokio::task::spawn_blocking(move || {
            Argon2::default()
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok()
        })
        .await?;
        Ok(matched && real)
    }
}

/// True when `stored` was made with other parameters than today's and should be rehashed.
pub fn needs_rehash(stored: &str) -> bool {
    !stored.starts_with(CURRENT_PARAMS)
}

fn hash_now(password: &str) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| HashError::Hash(e.to_string()))
}

//! argon2id password hashing with OWASP parameters (`Argon2::default()`: m=19456 KiB, t=2, p=1) on a
//! fixed pool of worker threads, one per allowed concurrent hash.
//!
//! Why not `spawn_blocking`: tokio's blocking pool grows to hundreds of threads, and every argon2 call
//! allocates 19 MiB that the allocator tends to keep; 500 simultaneous logins then hold gigabytes. Here
//! at most `concurrency` hashes run at once, the rest queue, and each worker hashes and verifies in its
//! one preallocated argon2 memory, so the pool's memory is `concurrency` x 19 MiB, whatever the load.
//!
//! The queue is bounded too: past `queue` waiting jobs a request is refused at once ([`HashError::Busy`],
//! a 503 with Retry-After) rather than queued behind minutes of work, and a job whose caller has gone
//! (client disconnected, request timed out) is skipped instead of hashed for nobody.
//!
//! Stored bcrypt hashes (`$2a$`, `$2b$`, `$2y$`: accounts imported from the legacy Node LMS) are
//! verified too, on the same workers; [`needs_rehash`] is true for them, so the first successful
//! sign-in replaces them with argon2id (as Django and Laravel upgrade hashes).
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, PasswordHash, Version};
use tokio::sync::oneshot;

/// The PHC prefix of hashes made with the current parameters; others are rehashed at login.
const CURRENT_PARAMS: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String, String>>,
    },
    Verify {
        password: String,
        hash: Arc<str>,
        reply: oneshot::Sender<bool>,
    },
}

/// Jobs that may wait for a worker, unless configured otherwise.
pub const DEFAULT_QUEUE: usize = 1024;

#[derive(Clone)]
pub struct PasswordHasher {
    jobs: SyncSender<Job>,
    /// A real hash of a random password: verified against when the user does not exist, so that an
    /// unknown email costs the same time as a wrong password.
    dummy_hash: Arc<str>,
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the password hashing pool has stopped")]
    Closed,
    #[error("too many passwords are being checked right now")]
    Busy,
}

impl PasswordHasher {
    /// Starts `concurrency` worker threads with the default queue.
    pub fn new(concurrency: usize) -> Result<Self, HashError> {
        Self::with_queue(concurrency, DEFAULT_QUEUE)
    }

    /// Starts `concurrency` worker threads taking jobs from a queue of at most `queue`; they stop when
    /// the last clone of the hasher is dropped.
    pub fn with_queue(concurrency: usize, queue: usize) -> Result<Self, HashError> {
        let (jobs, queue) = sync_channel::<Job>(queue.max(1));
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..concurrency.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || worker(&queue))
                .map_err(|e| HashError::Hash(e.to_string()))?;
        }
        let dummy = hex::encode(super::tokens::random_bytes::<32>());
        let mut memory = vec![Block::default(); Params::default().block_count()];
        let dummy_hash = hash_with(&mut memory, &dummy)?;
        Ok(Self {
            jobs,
            dummy_hash: dummy_hash.into(),
        })
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash {
            password: password.to_owned(),
            reply,
        })?;
        answer
            .await
            .map_err(|_| HashError::Closed)?
            .map_err(HashError::Hash)
    }

    /// Verifies `password` against `stored`, or against the dummy hash when there is no stored hash.
    /// Returns true only for a real match.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let (hash, real) = match stored {
            Some(hash) => (Arc::from(hash), true),
            None => (self.dummy_hash.clone(), false),
        };
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password: password.to_owned(),
            hash,
            reply,
        })?;
        let matched = answer.await.map_err(|_| HashError::Closed)?;
        Ok(matched && real)
    }

    fn submit(&self, job: Job) -> Result<(), HashError> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => HashError::Busy,
            TrySendError::Disconnected(_) => HashError::Closed,
        })
    }
}

fn worker(queue: &Mutex<Receiver<Job>>) {
    let mut memory = vec![Block::default(); Params::default().block_count()];
    loop {
        // Hold the lock only to take a job, not while hashing.
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        // A caller that has gone (client disconnected, request timed out) gets nothing: skip it.
        match job {
            Job::Hash { reply, .. } if reply.is_closed() => {}
            Job::Verify { reply, .. } if reply.is_closed() => {}
            Job::Hash { password, reply } => {
                let _ = reply.send(hash_with(&mut memory, &password).map_err(|e| e.to_string()));
            }
            Job::Verify {
                password,
                hash,
                reply,
            } => {
                let _ = reply.send(verify_with(&mut memory, &password, &hash));
            }
        }
    }
}

/// Verifies like `PasswordVerifier::verify_password`, but in the given memory instead of a fresh
/// 19 MiB allocation per call.
fn verify_with(memory: &mut Vec<Block>, password: &str, stored: &str) -> bool {
    if is_bcrypt(stored) {
        return bcrypt::verify(password, stored).unwrap_or(false);
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm.as_str()),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let Ok(version) = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.as_bytes().len()];
    let argon2 = Argon2::new(algorithm, version, params);
    if argon2
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt.as_ref(),
            &mut out,
            &mut memory[..blocks],
        )
        .is_err()
    {
        return false;
    }
    // Constant time: look at every byte whatever the first difference.
    let difference = out
        .iter()
        .zip(expected.as_bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    difference == 0
}

/// True when `stored` was made with other parameters than today's and should be rehashed.
pub fn needs_rehash(stored: &str) -> bool {
    !stored.starts_with(CURRENT_PARAMS)
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
}

/// The scheme and parameters of a stored hash, safe to log (never the salt or the hash itself):
/// `argon2id m=19456,t=2,p=1`, `bcrypt cost 10`.
pub fn describe(stored: &str) -> String {
    let parts: Vec<&str> = stored.split('$').collect();
    if is_bcrypt(stored) {
        return format!("bcrypt cost {}", parts.get(2).copied().unwrap_or("?"));
    }
    match (parts.get(1), parts.get(3)) {
        (Some(scheme), Some(params)) if params.starts_with("m=") => format!("{scheme} {params}"),
        (Some(scheme), _) => (*scheme).to_string(),
        _ => "unknown".into(),
    }
}

/// A new argon2id PHC string with today's parameters and a random 16-byte salt, computed in `memory`.
fn hash_with(memory: &mut [Block], password: &str) -> Result<String, HashError> {
    let fail = |e: &dyn std::fmt::Display| HashError::Hash(e.to_string());
    let params = Params::default();
    let salt = super::tokens::random_bytes::<16>();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            &salt,
            &mut out,
            &mut memory[..params.block_count()],
        )
        .map_err(|e| fail(&e))?;
    let phc = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| fail(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| fail(&e))?),
        hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(phc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_instead_of_waiting() {
        let hasher = PasswordHasher::with_queue(1, 1).unwrap_or_else(|e| panic!("{e}"));
        let checks: Vec<_> = (0..8)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.verify("some password", None).await })
            })
            .collect();
        let mut results = Vec::new();
        for check in checks {
            results.push(check.await.unwrap_or_else(|e| panic!("{e}")));
        }
        let busy = results
            .iter()
            .filter(|r| matches!(r, Err(HashError::Busy)))
            .count();
        assert!(busy >= 1, "{results:?}");
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Ok(false) | Err(HashError::Busy)))
        );
    }

    /// A hash the legacy Node LMS stored (bcryptjs, cost 10; from `shared/legacy/sample.sql`).
    const LEGACY: &str = "$2b$10$SHRgy/ndN/WXGKkj5r8UxO5n2iJAynCISc9vwyZJcsvmljIh6uaPW";

    #[tokio::test]
    async fn legacy_bcrypt_hashes_verify_and_ask_to_be_rehashed() {
        let hasher = PasswordHasher::new(1).unwrap_or_else(|e| panic!("{e}"));
        let check = |password: &'static str| {
            let hasher = hasher.clone();
            async move { hasher.verify(password, Some(LEGACY)).await.ok() }
        };
        assert_eq!(check("Admin-since-2019!").await, Some(true));
        assert_eq!(check("admin-since-2019!").await, Some(false));
        assert_eq!(check("").await, Some(false));
        assert!(needs_rehash(LEGACY));
        let fresh = hasher
            .hash("Admin-since-2019!")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!needs_rehash(&fresh));
        // What a log line may say of a hash: the scheme and its cost, never salt or digest.
        assert_eq!(describe(LEGACY), "bcrypt cost 10");
        assert_eq!(describe(&fresh), "argon2id m=19456,t=2,p=1");
        assert!(!describe(LEGACY).contains("SHRgy"));
    }

    #[tokio::test]
    async fn verification_in_reused_memory_agrees_with_the_crate() {
        let hasher = PasswordHasher::new(2).unwrap_or_else(|e| panic!("{e}"));
        let hash = hasher
            .hash("correct horse")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(hash.starts_with(CURRENT_PARAMS));
        for _ in 0..3 {
            assert!(
                hasher
                    .verify("correct horse", Some(&hash))
                    .await
                    .unwrap_or(false)
            );
            assert!(
                !hasher
                    .verify("correct horsf", Some(&hash))
                    .await
                    .unwrap_or(true)
            );
        }
        // What the crate's own verifier accepts, and the other way round.
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", hash.as_str())
                .is_ok()
        );
        let theirs = Argon2::default()
            .hash_password(b"their horse")
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(
            hasher
                .verify("their horse", Some(&theirs))
                .await
                .unwrap_or(false)
        );
        // Hashes with other parameters (older or newer) still verify, and are flagged for rehashing.
        let weaker = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap_or_default(),
        )
        .hash_password(b"old password")
        .map(|h| h.to_string())
        .unwrap_or_default();
        assert!(
            hasher
                .verify("old password", Some(&weaker))
                .await
                .unwrap_or(false)
        );
        assert!(needs_rehash(&weaker));
        assert!(
            !hasher.verify("anything", None).await.unwrap_or(true),
            "the dummy hash never matches"
        );
        assert!(
            !hasher
                .verify("anything", Some("not a phc string"))
                .await
                .unwrap_or(true)
        );
    }
}

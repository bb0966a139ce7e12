//! One way to say "this was committed": services publish what they committed through [`Events`],
//! the port the application state owns, and it does everything that must follow. Nothing else
//! signals, and no handler has to remember a follow-up call.
//!
//! - An access change (a session revoked, an account suspended, a password changed, an enrollment
//!   ended, a course deleted) is forgotten at once by this instance's access cache and announced to
//!   its open chat connections; on a database that serves several instances it is also announced to
//!   them (PostgreSQL `NOTIFY lms_access`; on MySQL a row in `access_signals` that they poll).
//! - A chat change is delivered by this instance's hub at once. Its cross-instance announcement was
//!   queued inside the change's own transaction ([`crate::chat`]), so it goes out exactly
//!   when the change commits.
//!
//! The CLIs have no hub: they use [`Events::detached`], which only tells the running instances.
use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::db::{Backend, Delivery};

/// PostgreSQL channel of chat changes; payload `<course id>:<seq>`, or several of them separated by
/// commas (a batch of posts: each course with its last seq).
pub const CHAT_CHANNEL: &str = "lms_chat";
/// PostgreSQL channel of access changes; payload `<user id>`, or `*` for everyone.
pub const ACCESS_CHANNEL: &str = "lms_access";

/// Whose access to course chats may have ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessScope {
    User(i64),
    /// Everyone (a course was deleted, or a signal may have been missed).
    Everyone,
}

impl AccessScope {
    pub fn concerns(self, user_id: i64) -> bool {
        match self {
            AccessScope::User(id) => id == user_id,
            AccessScope::Everyone => true,
        }
    }

    pub fn payload(self) -> String {
        match self {
            AccessScope::User(id) => id.to_string(),
            AccessScope::Everyone => "*".into(),
        }
    }

    /// Reads a payload of [`ACCESS_CHANNEL`].
    pub fn from_payload(payload: &str) -> Option<Self> {
        match payload {
            "*" => Some(AccessScope::Everyone),
            id => id.parse().ok().map(AccessScope::User),
        }
    }
}

/// A committed chat change: the course and the sequence number of its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub course_id: i64,
    pub seq: i64,
}

impl Change {
    /// The NOTIFY payload: `<course id>:<seq>`.
    pub fn payload(&self) -> String {
        format!("{}:{}", self.course_id, self.seq)
    }
}

/// What this instance does with what it committed itself: deliver chat events to its own connections
/// and forget or re-check access (the chat hub, `crate::chat::feed::Hub`).
pub trait LocalDelivery: Send + Sync {
    fn chat_committed(&self, change: Change);
    /// Forget cached access of `scope` and have its open connections re-check.
    fn access_changed(&self, scope: AccessScope);
    /// Only forget cached access of `scope` (its connections re-check when the signal comes back
    /// through the database).
    fn forget_cached(&self, scope: AccessScope);
}

/// Something that was committed and that others must hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    AccessChanged(AccessScope),
    Chat(Change),
}

/// The port services publish committed events through. Cheap to clone.
#[derive(Clone)]
pub struct Events {
    db: DatabaseConnection,
    backend: Backend,
    /// This instance's hub (None in the CLIs).
    hub: Option<Arc<dyn LocalDelivery>>,
}

impl Events {
    /// For a serving instance: its own hub hears every event at once.
    pub fn new(db: DatabaseConnection, backend: Backend, hub: Arc<dyn LocalDelivery>) -> Self {
        Self {
            db,
            backend,
            hub: Some(hub),
        }
    }

    /// For a process that serves no clients (the seeder, the importer): events only go to the
    /// running instances, through the database. Published while the caller's own transaction is still
    /// open, a signal reaches them early; it only makes them forget cached access and re-check, which
    /// is harmless.
    pub fn detached(db: DatabaseConnection, backend: Backend) -> Self {
        Self {
            db,
            backend,
            hub: None,
        }
    }

    /// Call after the commit. Never fails the request: a lost signal is caught by the periodic
    /// re-check of every open connection and by the cache's time limit.
    pub async fn publish(&self, event: Committed) {
        match event {
            Committed::AccessChanged(scope) => match self.backend.delivery() {
                Delivery::InProcess => {
                    if let Some(hub) = &self.hub {
                        hub.access_changed(scope);
                    }
                }
                delivery @ (Delivery::Database | Delivery::Polled) => {
                    // Forget at once (the answer to this request must not rest on a stale entry);
                    // this instance's listener (or poller) hears the signal like every other and
                    // signals its connections then.
                    if let Some(hub) = &self.hub {
                        hub.forget_cached(scope);
                    }
                    let sent = if delivery == Delivery::Polled {
                        crate::chat::poll::announce_access(&self.db, scope).await
                    } else {
                        self.backend
                            .notify(&self.db, ACCESS_CHANNEL, &scope.payload())
                            .await
                    };
                    if let Err(error) = sent {
                        tracing::warn!(%error, "could not signal an access change");
                    }
                }
            },
            Committed::Chat(change) => {
                if let Some(hub) = &self.hub {
                    hub.chat_committed(change);
                }
            }
        }
    }

    /// Shorthand for an access change of one user.
    pub async fn access_changed(&self, user_id: i64) {
        self.publish(Committed::AccessChanged(AccessScope::User(user_id)))
            .await;
    }
}

//! Who may use which course chat, remembered for a few seconds per instance, so that the busiest
//! endpoints (reading history, posting) do not re-read the session, the user and the enrollment on
//! every request.
//!
//! Freshness does not rest on the time limit (`LMS_CHAT_ACCESS_CACHE_SECS`) but on invalidation: every
//! change that can end access (logout, session revoke, refresh-token reuse, password change or reset,
//! role or status change, enrollment cancelled or refunded, course deleted) is published as
//! [`crate::events::Committed::AccessChanged`], which forgets the user here at once and, on
//! PostgreSQL, tells every other instance through NOTIFY. An instance whose listener reconnects
//! forgets everything, since it may have missed a signal. A load that raced with a forget is not
//! stored (see [`AccessCache::ticket`]). Cached entries are still checked like fresh ones: an expired
//! session is refused at once.
//!
//! Each application state owns one cache (shared with its hub, which forgets on signals).
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use entity::{sessions, users};
use sea_orm::ConnectionTrait;

use crate::auth::{check_live, load_session};
use crate::chat::{self, Member};
use crate::error::Result;
use crate::events::AccessScope;
use crate::security::tokens::AccessClaims;

/// More live sessions than this on one instance and the cache starts over.
const MAX_SESSIONS: usize = 100_000;

struct Entry {
    session: sessions::Model,
    user: users::Model,
    loaded: Instant,
    /// Courses whose chat the user may use, with whether as staff, and when that was read.
    courses: HashMap<i64, (bool, Instant)>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Bumped by every forget.
    generation: u64,
}

pub struct AccessCache {
    inner: Mutex<Inner>,
    /// How long an entry may be reused; zero turns the cache off.
    ttl: Duration,
}

/// A generation number taken before reading from the database.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl AccessCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            inner: Mutex::default(),
            ttl,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Take before reading what will be stored: if anything is forgotten between the read and the
    /// store, the store is skipped (the read may predate the change that caused the forget).
    pub fn ticket(&self) -> Ticket {
        Ticket(self.lock().generation)
    }

    /// The session and its user, if read within `ttl`.
    pub fn session(&self, sid: &str, ttl: Duration) -> Option<(sessions::Model, users::Model)> {
        let inner = self.lock();
        let entry = inner.entries.get(sid)?;
        (entry.loaded.elapsed() < ttl).then(|| (entry.session.clone(), entry.user.clone()))
    }

    pub fn store_session(
        &self,
        ticket: Ticket,
        sid: &str,
        session: &sessions::Model,
        user: &users::Model,
        ttl: Duration,
    ) {
        let mut inner = self.lock();
        if inner.generation != ticket.0 {
            return;
        }
        if inner.entries.len() >= MAX_SESSIONS {
            inner.entries.retain(|_, e| e.loaded.elapsed() < ttl);
            if inner.entries.len() >= MAX_SESSIONS {
                inner.entries.clear();
            }
        }
        inner.entries.insert(
            sid.to_string(),
            Entry {
                session: session.clone(),
                user: user.clone(),
                loaded: Instant::now(),
                courses: HashMap::new(),
            },
        );
    }

    /// Whether the session's user is a member of the course's chat as staff, if known within `ttl`.
    pub fn membership(&self, sid: &str, course_id: i64, ttl: Duration) -> Option<bool> {
        let inner = self.lock();
        let (staff, at) = inner.entries.get(sid)?.courses.get(&course_id)?;
        (at.elapsed() < ttl).then_some(*staff)
    }

    pub fn store_membership(&self, ticket: Ticket, sid: &str, course_id: i64, staff: bool) {
        let mut inner = self.lock();
        if inner.generation != ticket.0 {
            return;
        }
        if let Some(entry) = inner.entries.get_mut(sid) {
            entry.courses.insert(course_id, (staff, Instant::now()));
        }
    }

    /// Forgets everything about the sessions of `scope`.
    pub fn forget(&self, scope: AccessScope) {
        let mut inner = self.lock();
        inner.generation += 1;
        match scope {
            AccessScope::Everyone => inner.entries.clear(),
            AccessScope::User(id) => inner.entries.retain(|_, e| e.user.id != id),
        }
    }

    /// The caller of a chat endpoint as a member of the course: from the cache when it knows, else
    /// from the database (and then remembered). 401 for an ended session, 404 or 403 as
    /// [`chat::member`].
    pub async fn chat_member(
        &self,
        db: &impl ConnectionTrait,
        claims: &AccessClaims,
        course_id: i64,
    ) -> Result<Member> {
        let ttl = self.ttl;
        if ttl.is_zero() {
            let (_, user) = load_session(db, claims).await?;
            return chat::member(db, &user, course_id).await;
        }
        let ticket = self.ticket();
        let (session, user) = match self.session(&claims.sid, ttl) {
            Some(hit) => hit,
            None => {
                let (session, user) = load_session(db, claims).await?;
                self.store_session(ticket, &claims.sid, &session, &user, ttl);
                (session, user)
            }
        };
        check_live(claims, &session, &user)?;
        if let Some(staff) = self.membership(&claims.sid, course_id, ttl) {
            return Ok(Member {
                user,
                course_id,
                staff,
            });
        }
        let member = chat::member(db, &user, course_id).await?;
        self.store_membership(ticket, &claims.sid, course_id, member.staff);
        Ok(member)
    }
}

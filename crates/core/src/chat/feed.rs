//! Real-time delivery of course chat events to WebSocket subscribers, on one instance or many.
//!
//! The `chat_events` table is the truth; signals only say "course C has events up to seq S" or "user U's
//! access changed", so a lost signal delays delivery but never loses an event.
//!
//! - PostgreSQL: each change's transaction (or batch of posts) queues
//!   `NOTIFY lms_chat, '<course>:<seq>'`, which PostgreSQL delivers to every instance at commit. Each
//!   instance LISTENs on one dedicated connection; when that connection drops and comes back, the
//!   instance re-reads the event table for every course it serves.
//! - MySQL/MariaDB (no NOTIFY): each instance polls the sequence numbers of the courses it serves and
//!   the access signals every few tens of milliseconds ([`super::poll`]).
//! - SQLite (one instance): [`crate::events::Events`] signals this process directly after the commit.
//!
//! Per instance there is one [`Hub`]. For each course with subscribers it keeps a bounded broadcast
//! channel of serialized events: one dispatcher task reads new events from the database once, renders
//! them once, and broadcasts them. Each WebSocket connection forwards frames from that channel; a slow
//! connection that falls behind the channel's capacity is "lagged" and catches up from the database on
//! its own, so it can neither stall the others nor make the server buffer without bound.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{Notify, broadcast};

use crate::chat;
use crate::chat::access::AccessCache;
use crate::db::{Backend, Delivery};
use crate::events::{ACCESS_CHANNEL, AccessScope, CHAT_CHANNEL, Change, LocalDelivery};

/// Frames a course's channel holds for subscribers that have not sent them yet.
const COURSE_BUFFER: usize = 256;
/// Events read from the database per query when dispatching or catching up.
pub const BATCH: u64 = 200;

/// One serialized event, shared by every subscriber of its course.
#[derive(Debug, Clone)]
pub struct Frame {
    pub seq: i64,
    /// The event as UTF-8 JSON, shared (not copied) by every subscriber.
    pub json: Bytes,
}

impl Frame {
    pub fn new(event: &chat::EventView) -> Self {
        let json = serde_json::to_string(event).unwrap_or_else(|_| "{}".into());
        Self {
            seq: event.seq,
            json: Bytes::from(json),
        }
    }
}

struct CourseFeed {
    tx: broadcast::Sender<Frame>,
    /// The last seq broadcast on `tx`.
    delivered: i64,
}

/// The per-instance registry of course feeds and the dispatcher that fills them.
pub struct Hub {
    db: DatabaseConnection,
    feeds: Mutex<HashMap<i64, CourseFeed>>,
    /// Courses signalled since the dispatcher last looked, with the highest seq signalled.
    dirty: Mutex<HashMap<i64, i64>>,
    wake: Notify,
    access: broadcast::Sender<AccessScope>,
    /// This instance's cache of chat access, forgotten on every access signal.
    access_cache: Arc<AccessCache>,
}

impl Hub {
    /// Starts the dispatcher (and, where changes travel through the database, the listener) for `db`.
    pub fn start(
        db: DatabaseConnection,
        backend: Backend,
        access_cache: Arc<AccessCache>,
    ) -> Arc<Self> {
        let hub = Arc::new(Self {
            db,
            feeds: Mutex::new(HashMap::new()),
            dirty: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            access: broadcast::channel(1024).0,
            access_cache,
        });
        tokio::spawn(dispatch(Arc::downgrade(&hub)));
        match backend.delivery() {
            Delivery::Database => {
                tokio::spawn(listen(Arc::downgrade(&hub)));
            }
            Delivery::Polled => {
                tokio::spawn(super::poll::run(Arc::downgrade(&hub)));
            }
            Delivery::InProcess => {}
        }
        hub
    }

    pub(super) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The courses with subscribers, each with the last seq delivered to them.
    pub(super) fn served(&self) -> Vec<(i64, i64)> {
        self.feeds()
            .iter()
            .map(|(course, feed)| (*course, feed.delivered))
            .collect()
    }

    pub(super) fn signal(&self, course_id: i64, seq: i64) {
        {
            let mut dirty = self.dirty.lock().unwrap_or_else(PoisonError::into_inner);
            let entry = dirty.entry(course_id).or_insert(seq);
            *entry = (*entry).max(seq);
        }
        self.wake.notify_one();
    }

    /// Every course with subscribers is re-read from the database (after a listener reconnect).
    fn resync_all(&self) {
        let courses: Vec<i64> = self
            .feeds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect();
        for course in courses {
            self.signal(course, i64::MAX);
        }
    }

    /// Subscribes to a course's live frames. Subscribe before reading the backlog, then skip frames
    /// already sent: nothing falls between the two.
    pub async fn subscribe(&self, course_id: i64) -> Result<broadcast::Receiver<Frame>, DbErr> {
        if let Some(feed) = self.feeds().get(&course_id) {
            return Ok(feed.tx.subscribe());
        }
        let last = chat::last_seq(&self.db, course_id)
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        let mut feeds = self.feeds();
        let feed = feeds.entry(course_id).or_insert_with(|| CourseFeed {
            tx: broadcast::channel(COURSE_BUFFER).0,
            delivered: last,
        });
        Ok(feed.tx.subscribe())
    }

    /// Access signals.
    pub fn access_signals(&self) -> broadcast::Receiver<AccessScope> {
        self.access.subscribe()
    }

    /// How many connections are subscribed, over all courses (for health and tests).
    pub fn subscribers(&self) -> usize {
        self.feeds().values().map(|f| f.tx.receiver_count()).sum()
    }

    fn feeds(&self) -> std::sync::MutexGuard<'_, HashMap<i64, CourseFeed>> {
        self.feeds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads and broadcasts what a course's subscribers have not been sent; drops unused feeds.
    async fn deliver(&self, course_id: i64, signalled: i64) {
        loop {
            let delivered = {
                let mut feeds = self.feeds();
                match feeds.get(&course_id) {
                    None => return,
                    Some(feed) if feed.tx.receiver_count() == 0 => {
                        feeds.remove(&course_id);
                        return;
                    }
                    Some(feed) if feed.delivered >= signalled => return,
                    Some(feed) => feed.delivered,
                }
            };
            let events = match chat::events(&self.db, course_id, delivered, None, BATCH).await {
                Ok(events) => events,
                Err(error) => {
                    tracing::warn!(%error, course_id, "could not read chat events; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let Some(last) = events.last().map(|e| e.seq) else {
                return;
            };
            let frames: Vec<Frame> = events.iter().map(Frame::new).collect();
            let mut feeds = self.feeds();
            let Some(feed) = feeds.get_mut(&course_id) else {
                return;
            };
            if feed.delivered == delivered {
                for frame in frames {
                    let _ = feed.tx.send(frame);
                }
                feed.delivered = last;
            }
            if (events.len() as u64) < BATCH {
                return;
            }
        }
    }
}

/// After a commit: chat events are delivered at once (other instances learn through the database);
/// access changes are forgotten here and re-checked by the connections they concern.
impl LocalDelivery for Hub {
    fn chat_committed(&self, change: Change) {
        self.signal(change.course_id, change.seq);
    }

    fn access_changed(&self, scope: AccessScope) {
        self.forget_cached(scope);
        let _ = self.access.send(scope);
    }

    fn forget_cached(&self, scope: AccessScope) {
        self.access_cache.forget(scope);
    }
}

async fn dispatch(hub: std::sync::Weak<Hub>) {
    loop {
        let Some(strong) = hub.upgrade() else { return };
        let work: Vec<(i64, i64)> =
            std::mem::take(&mut *strong.dirty.lock().unwrap_or_else(PoisonError::into_inner))
                .into_iter()
                .collect();
        if work.is_empty() {
            // Wake up now and then to notice a dropped hub.
            let _ = tokio::time::timeout(Duration::from_secs(5), strong.wake.notified()).await;
            continue;
        }
        for (course, seq) in work {
            strong.deliver(course, seq).await;
        }
    }
}

/// LISTENs for chat and access notifications on PostgreSQL, re-reading after every reconnect.
async fn listen(hub: std::sync::Weak<Hub>) {
    let pool = match hub.upgrade() {
        Some(h) => h.db.get_postgres_connection_pool().clone(),
        None => return,
    };
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(error) => {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(%error, "chat listener cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen_all([CHAT_CHANNEL, ACCESS_CHANNEL]).await {
            tracing::warn!(%error, "chat listener cannot LISTEN; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // Anything committed while we were not listening is in the table; an access change we missed
        // may still be cached.
        match hub.upgrade() {
            Some(h) => {
                h.access_cache.forget(AccessScope::Everyone);
                h.resync_all();
            }
            None => return,
        }
        loop {
            let received = tokio::time::timeout(Duration::from_secs(5), listener.try_recv()).await;
            let Some(hub) = hub.upgrade() else { return };
            match received {
                Err(_) => continue,
                Ok(Ok(Some(n))) => match n.channel() {
                    CHAT_CHANNEL => {
                        for (course, seq) in
                            n.payload().split(',').filter_map(|c| c.split_once(':'))
                        {
                            if let (Ok(course), Ok(seq)) = (course.parse(), seq.parse()) {
                                hub.signal(course, seq);
                            }
                        }
                    }
                    _ => {
                        if let Some(scope) = AccessScope::from_payload(n.payload()) {
                            hub.access_changed(scope);
                        }
                    }
                },
                Ok(Ok(None)) => {
                    tracing::info!("chat listener reconnected; re-reading chat events");
                    hub.resync_all();
                    // An access signal may have been missed too: everyone re-checks.
                    hub.access_changed(AccessScope::Everyone);
                }
                Ok(Err(error)) => {
                    if pool.is_closed() {
                        return;
                    }
                    tracing::warn!(%error, "chat listener failed; reconnecting");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            }
        }
    }
}

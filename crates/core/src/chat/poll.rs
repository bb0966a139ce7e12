//! Delivery between instances where the database cannot push (MySQL/MariaDB has no LISTEN/NOTIFY).
//!
//! Every [`INTERVAL`] each instance runs two primary-key reads:
//! - chat: the `chat_sequences` rows of the courses it has subscribers for (one query for all of
//!   them, none while it has no subscriber). A course whose `last_seq` moved past what the hub
//!   delivered is signalled, and the hub reads its events as after a NOTIFY. `last_seq` changes only
//!   when a change commits, so nothing is signalled early and nothing is missed.
//! - access: the `access_signals` rows after the last one it read. [`announce_access`] writes one per
//!   access change (a session revoked, an account suspended, an enrollment ended, a course deleted).
//!   Ids are taken before commit, so a row can become visible after a later id: ids stay "recent"
//!   for [`SETTLE`] and are read again meanwhile (each scope acted on once); a row committed later
//!   than that falls back to what catches every lost signal (the cache's time limit and the open
//!   connections' periodic re-check).
//!
//! So a chat event or an access change reaches every instance within about one interval plus a query.
use std::collections::BTreeMap;
use std::sync::Weak;
use std::time::{Duration, Instant};

use entity::{access_signals, chat_sequences};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::feed::Hub;
use crate::events::{AccessScope, LocalDelivery};
use crate::now;

/// How often an instance reads the database for changes of other instances.
pub const INTERVAL: Duration = Duration::from_millis(50);
/// How long an access signal's id is read again in case an earlier id commits after it.
const SETTLE: Duration = Duration::from_secs(2);
/// Courses per chat query.
const COURSES_PER_QUERY: usize = 500;

/// Tells every instance (through `access_signals`) that access in `scope` may have ended.
pub async fn announce_access(db: &DatabaseConnection, scope: AccessScope) -> Result<(), DbErr> {
    access_signals::Entity::insert(access_signals::ActiveModel {
        scope: Set(scope.payload()),
        created_at: Set(now()),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Deletes access signals older than `older_than` (every instance has read them long before).
pub async fn prune(db: &DatabaseConnection, older_than: chrono::Duration) -> Result<u64, DbErr> {
    Ok(access_signals::Entity::delete_many()
        .filter(access_signals::Column::CreatedAt.lt(now() - older_than))
        .exec(db)
        .await?
        .rows_affected)
}

/// Polls for the hub until it is dropped.
pub(super) async fn run(hub: Weak<Hub>) {
    let mut access = AccessCursor::default();
    let mut failing = false;
    loop {
        tokio::time::sleep(INTERVAL).await;
        let Some(hub) = hub.upgrade() else { return };
        match tick(&hub, &mut access).await {
            Ok(()) if failing => {
                tracing::info!("change polling works again");
                failing = false;
            }
            Ok(()) => {}
            Err(error) if !failing => {
                tracing::warn!(%error, "cannot poll the database for changes; retrying");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

async fn tick(hub: &Hub, access: &mut AccessCursor) -> Result<(), DbErr> {
    let scopes = access.read(hub.db()).await?;
    if scopes.contains(&AccessScope::Everyone) {
        hub.access_changed(AccessScope::Everyone);
    } else {
        for scope in scopes {
            hub.access_changed(scope);
        }
    }
    let served = hub.served();
    for courses in served.chunks(COURSES_PER_QUERY) {
        let ids: Vec<i64> = courses.iter().map(|(course, _)| *course).collect();
        let last: Vec<(i64, i64)> = chat_sequences::Entity::find()
            .select_only()
            .columns([
                chat_sequences::Column::CourseId,
                chat_sequences::Column::LastSeq,
            ])
            .filter(chat_sequences::Column::CourseId.is_in(ids))
            .into_tuple()
            .all(hub.db())
            .await?;
        let delivered: BTreeMap<i64, i64> = courses.iter().copied().collect();
        for (course, seq) in last {
            if delivered.get(&course).is_some_and(|d| seq > *d) {
                hub.signal(course, seq);
            }
        }
    }
    Ok(())
}

/// Where this instance is in `access_signals`.
#[derive(Default)]
struct AccessCursor {
    /// Every id up to here is settled (None: not started; the first read starts at the newest row).
    floor: Option<i64>,
    /// Ids above the floor already acted on, with when they were first read.
    recent: BTreeMap<i64, Instant>,
}

impl AccessCursor {
    async fn read(&mut self, db: &DatabaseConnection) -> Result<Vec<AccessScope>, DbErr> {
        let Some(floor) = self.floor else {
            let newest: Option<i64> = access_signals::Entity::find()
                .select_only()
                .column_as(access_signals::Column::Id.max(), "newest")
                .into_tuple()
                .one(db)
                .await?
                .flatten();
            self.floor = Some(newest.unwrap_or(0));
            return Ok(Vec::new());
        };
        let rows = access_signals::Entity::find()
            .filter(access_signals::Column::Id.gt(floor))
            .order_by_asc(access_signals::Column::Id)
            .all(db)
            .await?;
        let now = Instant::now();
        let mut scopes = Vec::new();
        for row in rows {
            let std::collections::btree_map::Entry::Vacant(entry) = self.recent.entry(row.id)
            else {
                continue;
            };
            entry.insert(now);
            if let Some(scope) = AccessScope::from_payload(&row.scope)
                && !scopes.contains(&scope)
            {
                scopes.push(scope);
            }
        }
        while let Some((&id, &first_read)) = self.recent.first_key_value() {
            if now.duration_since(first_read) < SETTLE {
                break;
            }
            self.recent.pop_first();
            self.floor = Some(id);
        }
        Ok(scopes)
    }
}

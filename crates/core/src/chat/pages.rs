//! What a history page is worth keeping, and for how long: its version, an `ETag` for pollers, and an
//! in-memory copy of each course's newest page.
//!
//! A page shows messages (every change to them bumps the course's `last_seq` in the change's own
//! transaction) and their authors' names (a rename bumps `authors_version` of every course the author
//! wrote in, also in its transaction). The pair, read with one primary-key lookup of `chat_sequences`,
//! is the page's [`Version`]. Every read takes the version first and then, only if needed, the page: a
//! page built after a change committed is at least as new as the version it is labelled with, so a
//! cached copy or a tag is never taken for current when it is not. Reads are as fresh as the database,
//! on every instance: a post on instance A is in the next read on instance B.
//!
//! [`PageCache`] holds serialized newest pages (the body as sent), keyed by course and page size and
//! bounded by bytes (least recently used out first). An entry is served only while its version is the
//! one just read; otherwise the page is queried again and replaces it.
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use entity::chat_sequences;
use lru::LruCache;
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::error::Result;

/// The state of everything a course's history pages show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Version {
    pub seq: i64,
    pub authors: i64,
}

impl Version {
    /// The course's version now (0, 0 before its first message).
    pub async fn of(db: &impl ConnectionTrait, course_id: i64) -> Result<Self> {
        Ok(chat_sequences::Entity::find_by_id(course_id)
            .one(db)
            .await?
            .map_or_else(Self::default, |row| Self {
                seq: row.last_seq,
                authors: row.authors_version,
            }))
    }

    /// A strong entity tag for one page of the course at this version. `page` names the page (its
    /// kind and query: different pages get different tags); the build's version is part of it, so an
    /// upgrade that changes the body's shape does not answer 304 for an old body.
    pub fn etag(&self, course_id: i64, page: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(format!(
            "{}|{course_id}|{}|{}|{page}",
            env!("CARGO_PKG_VERSION"),
            self.seq,
            self.authors
        ));
        format!("\"{}\"", &hex::encode(hash.finalize())[..32])
    }
}

/// Inside the rename's transaction: every course `user_id` wrote in gets a new page version.
pub async fn authors_renamed(db: &impl ConnectionTrait, user_id: i64) -> Result<()> {
    use entity::chat_messages;
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    use sea_orm::{ColumnTrait, QueryFilter};
    let courses = Query::select()
        .distinct()
        .column(chat_messages::Column::CourseId)
        .from(chat_messages::Entity)
        .and_where(Expr::col(chat_messages::Column::UserId).eq(user_id))
        .to_owned();
    chat_sequences::Entity::update_many()
        .col_expr(
            chat_sequences::Column::AuthorsVersion,
            Expr::col(chat_sequences::Column::AuthorsVersion).add(1),
        )
        .filter(chat_sequences::Column::CourseId.in_subquery(courses))
        .exec(db)
        .await?;
    Ok(())
}

/// Whether an `If-None-Match` header value names `etag` (`*` names any; weak tags compare weakly,
/// as RFC 9110 asks for this header).
pub fn none_match(header: &str, etag: &str) -> bool {
    let bare = etag.trim_start_matches("W/");
    header
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == bare)
}

struct Entry {
    version: Version,
    body: Bytes,
}

struct Inner {
    entries: LruCache<(i64, u64), Entry>,
    bytes: usize,
}

/// Newest history pages, serialized, bounded by `max_bytes` in total (0 turns it off).
pub struct PageCache {
    inner: Mutex<Inner>,
    max_bytes: usize,
}

impl PageCache {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: LruCache::unbounded(),
                bytes: 0,
            }),
            max_bytes,
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The newest page of `limit` messages of the course, if it is cached at `version`.
    pub fn get(&self, course_id: i64, limit: u64, version: Version) -> Option<Bytes> {
        if self.max_bytes == 0 {
            return None;
        }
        let mut inner = self.inner();
        let entry = inner.entries.get(&(course_id, limit))?;
        (entry.version == version).then(|| entry.body.clone())
    }

    /// Keeps the newest page built after `version` was read; the least recently used pages leave
    /// until the total fits. A page larger than the whole budget is not kept.
    pub fn put(&self, course_id: i64, limit: u64, version: Version, body: Bytes) {
        if body.len() > self.max_bytes {
            return;
        }
        let mut inner = self.inner();
        inner.bytes += body.len();
        if let Some(old) = inner
            .entries
            .put((course_id, limit), Entry { version, body })
        {
            inner.bytes -= old.body.len();
        }
        while inner.bytes > self.max_bytes {
            match inner.entries.pop_lru() {
                Some((_, old)) => inner.bytes -= old.body.len(),
                None => break,
            }
        }
    }

    /// Bytes of page bodies held now.
    pub fn bytes(&self) -> usize {
        self.inner().bytes
    }

    /// Pages held now.
    pub fn len(&self) -> usize {
        self.inner().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(seq: i64) -> Version {
        Version { seq, authors: 0 }
    }

    #[test]
    fn an_entry_is_served_only_at_its_version() {
        let cache = PageCache::new(1000);
        cache.put(1, 50, v(3), Bytes::from_static(b"page at 3"));
        assert_eq!(cache.get(1, 50, v(3)).as_deref(), Some(&b"page at 3"[..]));
        assert_eq!(cache.get(1, 50, v(4)), None, "a newer version misses");
        assert_eq!(
            cache.get(1, 50, Version { seq: 3, authors: 1 }),
            None,
            "a rename misses"
        );
        assert_eq!(cache.get(1, 20, v(3)), None, "another page size");
        assert_eq!(cache.get(2, 50, v(3)), None, "another course");
    }

    #[test]
    fn the_total_stays_within_the_budget_least_recently_used_out_first() {
        let cache = PageCache::new(100);
        for course in 0..5 {
            cache.put(course, 50, v(1), Bytes::from(vec![b'x'; 30]));
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.bytes(), 90);
        assert!(cache.get(0, 50, v(1)).is_none() && cache.get(1, 50, v(1)).is_none());
        // Reading 2 makes 3 the least recently used.
        assert!(cache.get(2, 50, v(1)).is_some());
        cache.put(5, 50, v(1), Bytes::from(vec![b'y'; 30]));
        assert!(cache.get(3, 50, v(1)).is_none());
        assert!(cache.get(2, 50, v(1)).is_some());
        // Replacing an entry counts its new size only.
        cache.put(2, 50, v(2), Bytes::from(vec![b'z'; 10]));
        assert_eq!(cache.bytes(), 70);
        // Too big for the budget: not kept; a zero budget keeps nothing.
        cache.put(9, 50, v(1), Bytes::from(vec![b'x'; 101]));
        assert!(cache.get(9, 50, v(1)).is_none());
        let off = PageCache::new(0);
        off.put(1, 50, v(1), Bytes::from_static(b"x"));
        assert!(off.get(1, 50, v(1)).is_none() && off.is_empty());
    }

    #[test]
    fn if_none_match_lists_and_stars() {
        let tag = "\"abc\"";
        assert!(none_match("\"abc\"", tag));
        assert!(none_match("W/\"abc\"", tag));
        assert!(none_match("\"x\", \"abc\"", tag));
        assert!(none_match("*", tag));
        assert!(!none_match("\"abd\"", tag));
        assert!(!none_match("", tag));
    }
}

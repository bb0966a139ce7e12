//! Writing chat posts: one path, [`write`], and two strategies that run it.
//!
//! A post needs its author's posting limit counted, the message inserted, the course's next sequence
//! number and its event ([`super::record`]), and the notification that tells the other instances.
//! [`write`] does all of it for any number of posts with one statement per step, inside the caller's
//! transaction, and decides each post on its own: a post over its author's limit gets 429 while the
//! others in the same call are written.
//!
//! - [`PostWriter::Single`]: each post is one call in its own transaction. Where writers serialize on
//!   the whole database anyway (SQLite) nothing is gained by waiting for company.
//! - [`PostWriter::Batched`] ("group commit"): as one transaction per post, the hot rows (the course's
//!   sequence counter, PostgreSQL's notification queue) make concurrent posts wait for each other, and
//!   the database's per-transaction work dominates. So one writer task per instance takes every post
//!   that arrived while the previous batch was written (up to [`MAX_BATCH`]) and writes them in one
//!   call, hence one transaction. Under no load a batch is a single post and nothing waits. If a batch
//!   fails as a whole (say a course was deleted under one of its posts), each of its posts is retried
//!   alone, so one bad post fails only itself.
//!
//! Both give the same rows, events and counts for the same posts (a test checks it on PostgreSQL).
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entity::chat_events::EventKind;
use entity::chat_messages::{self, MessageType};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, DatabaseConnection, DatabaseTransaction, EntityTrait,
    TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

use super::record::{NewEvent, Subject, record_events};
use crate::db::Backend;
use crate::error::{Error, Result};
use crate::now;
use crate::security::throttle;

/// The rate-limit bucket of a user's posts is this followed by the user id.
pub const POST_LIMIT_KEY: &str = "chat-post:user:";
/// The posting limit counts posts in fixed windows of this many seconds.
pub const POST_LIMIT_WINDOW_SECS: i64 = 60;
/// Most posts in one batch.
pub const MAX_BATCH: usize = 100;
/// Posts that may wait for the batch writer before senders wait too.
const QUEUE: usize = 4096;

/// A validated post, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPost {
    pub course_id: i64,
    pub user_id: i64,
    pub parent_id: Option<i64>,
    pub message_type: MessageType,
    pub content: String,
}

/// A written post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub id: i64,
    pub seq: i64,
    pub created_at: DateTime<Utc>,
}

/// Writes `posts` inside `txn`, allowing each author `limit` posts per window: for each post, in
/// order, the written post or 429. Fails as a whole only when the database does.
pub async fn write(
    txn: &DatabaseTransaction,
    posts: &[&PendingPost],
    limit: i32,
) -> Result<Vec<Result<Written>>> {
    let at = now();
    let key = |user_id: i64| format!("{POST_LIMIT_KEY}{user_id}");
    let mut wanted: BTreeMap<String, i32> = BTreeMap::new();
    for post in posts {
        *wanted.entry(key(post.user_id)).or_default() += 1;
    }
    let mut granted =
        throttle::count_uses(txn, &wanted, limit, POST_LIMIT_WINDOW_SECS, at.timestamp()).await?;
    // Each author's first posts (in order) take the grant; the rest are refused.
    let mut allowed = Vec::with_capacity(posts.len());
    let mut outcome: Vec<Option<Result<Written>>> = Vec::with_capacity(posts.len());
    for post in posts {
        match granted.get_mut(&key(post.user_id)) {
            Some((grant, _)) if *grant > 0 => {
                *grant -= 1;
                allowed.push(*post);
                outcome.push(None);
            }
            bucket => {
                let window_start = bucket.map_or(at.timestamp(), |(_, b)| b.window_start);
                outcome.push(Some(Err(Error::TooManyRequests {
                    retry_after_secs: throttle::retry_after(
                        window_start,
                        POST_LIMIT_WINDOW_SECS,
                        at.timestamp(),
                    ),
                })));
            }
        }
    }
    let mut written = insert_messages(txn, &allowed, at).await?.into_iter();
    for slot in outcome.iter_mut().filter(|slot| slot.is_none()) {
        let next = written
            .next()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("fewer posts written than allowed")))?;
        *slot = Some(Ok(next));
    }
    Ok(outcome.into_iter().flatten().collect())
}

/// Inserts the messages (one statement) and records their `message.created` events.
async fn insert_messages(
    txn: &DatabaseTransaction,
    posts: &[&PendingPost],
    at: DateTime<Utc>,
) -> Result<Vec<Written>> {
    if posts.is_empty() {
        return Ok(Vec::new());
    }
    let rows = posts.iter().map(|post| chat_messages::ActiveModel {
        course_id: Set(post.course_id),
        user_id: Set(Some(post.user_id)),
        parent_id: Set(post.parent_id),
        message_type: Set(post.message_type),
        content: Set(post.content.clone()),
        edit_count: Set(0),
        metadata: Set(serde_json::json!({})),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    });
    // RETURNING gives the rows of one multi-row INSERT in the order of its VALUES, on PostgreSQL
    // and SQLite alike. MySQL has no RETURNING: one INSERT per row, each read back by its id.
    let inserted = if matches!(Backend::of(txn)?, Backend::MySql) {
        let mut inserted = Vec::with_capacity(posts.len());
        for row in rows {
            inserted.push(row.insert(txn).await?);
        }
        inserted
    } else {
        chat_messages::Entity::insert_many(rows)
            .exec_with_returning(txn)
            .await?
    };
    if inserted.len() != posts.len() {
        return Err(Error::Internal(anyhow::anyhow!(
            "{} messages inserted for {} posts",
            inserted.len(),
            posts.len()
        )));
    }
    let events: Vec<NewEvent> = inserted
        .iter()
        .map(|message| NewEvent {
            course_id: message.course_id,
            kind: EventKind::MessageCreated,
            subject: Subject::Message(message.id),
            actor_id: message.user_id,
            emoji: None,
            at: None,
        })
        .collect();
    let changes = record_events(txn, &events).await?;
    Ok(inserted
        .iter()
        .zip(changes)
        .map(|(message, change)| Written {
            id: message.id,
            seq: change.seq,
            created_at: at,
        })
        .collect())
}

/// How this instance writes posts.
pub enum PostWriter {
    /// One transaction per post.
    Single { db: DatabaseConnection, limit: i32 },
    /// One writer task commits the posts that wait for it in batches.
    Batched(mpsc::Sender<Job>),
}

pub struct Job {
    post: PendingPost,
    reply: oneshot::Sender<Result<Written>>,
}

impl PostWriter {
    /// The strategy `backend` calls for ([`Backend::batches_chat_posts`]); `limit` is each user's
    /// posts per window.
    pub fn for_backend(db: DatabaseConnection, backend: Backend, limit: i32) -> Self {
        if backend.batches_chat_posts() {
            Self::batched(db, limit)
        } else {
            Self::single(db, limit)
        }
    }

    pub fn single(db: DatabaseConnection, limit: i32) -> Self {
        PostWriter::Single { db, limit }
    }

    /// Starts the writer task; it ends when the writer is dropped.
    pub fn batched(db: DatabaseConnection, limit: i32) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(run_batches(db, jobs, limit));
        PostWriter::Batched(queue)
    }

    /// Writes one post and returns it once committed (or 429 over the posting limit).
    pub async fn post(&self, post: PendingPost) -> Result<Written> {
        match self {
            PostWriter::Single { db, limit } => write_alone(db, &post, *limit).await,
            PostWriter::Batched(queue) => {
                let (reply, answer) = oneshot::channel();
                queue
                    .send(Job { post, reply })
                    .await
                    .map_err(|_| Error::Internal(anyhow::anyhow!("the chat writer has stopped")))?;
                answer.await.map_err(|_| {
                    Error::Internal(anyhow::anyhow!("the chat writer dropped a post"))
                })?
            }
        }
    }
}

/// One call of [`write`] in its own transaction.
async fn write_batch(
    db: &DatabaseConnection,
    posts: &[&PendingPost],
    limit: i32,
) -> Result<Vec<Result<Written>>> {
    let txn = db.begin().await?;
    let results = write(&txn, posts, limit).await?;
    txn.commit().await?;
    Ok(results)
}

async fn write_alone(db: &DatabaseConnection, post: &PendingPost, limit: i32) -> Result<Written> {
    write_batch(db, &[post], limit)
        .await?
        .pop()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("no result for a post")))?
}

async fn run_batches(db: DatabaseConnection, mut jobs: mpsc::Receiver<Job>, limit: i32) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let posts: Vec<&PendingPost> = batch.iter().map(|j| &j.post).collect();
        match write_batch(&db, &posts, limit).await {
            Ok(results) => {
                for (job, result) in batch.drain(..).zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(error) => {
                if batch.len() > 1 {
                    tracing::warn!(%error, posts = batch.len(), "a batch of chat posts failed; writing them one by one");
                }
                for job in batch.drain(..) {
                    let _ = job.reply.send(write_alone(&db, &job.post, limit).await);
                }
            }
        }
    }
}

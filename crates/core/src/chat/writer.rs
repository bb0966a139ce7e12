//! PostgreSQL: chat posts are committed in batches ("group commit").
//!
//! A post needs a rate-limit bump, the message, the course's next sequence number and the event, and
//! the NOTIFY that tells the other instances. As one transaction per post, the hot rows (the course's
//! sequence counter, PostgreSQL's notification queue) make concurrent posts wait for each other, and
//! the database's per-transaction work dominates. So each instance has one writer task: posts that
//! arrive while a batch is being written wait in a queue, and the next batch takes all of them (up to
//! [`MAX_BATCH`]) in one statement, hence one transaction. Under no load a batch is a single post and
//! nothing waits; under load the database does a fraction of the work per post.
//!
//! The statement keeps every guarantee of a single post: each user's posts are counted against their
//! limit in order (a refused attempt still counts), every course's events get consecutive sequence
//! numbers in one locked update of its counter (gapless, commit order), and one NOTIFY per batch lists
//! each course with its last sequence number. If a batch fails as a whole (say a course was deleted
//! under one of its posts), each of its posts is retried alone, so one bad post fails only itself.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::chat_messages::MessageType;
use sea_orm::{ActiveEnum, ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::chat::{POST_LIMIT_KEY, POST_LIMIT_WINDOW_SECS};
use crate::error::{Error, Result};
use crate::events::CHAT_CHANNEL;
use crate::now;
use crate::security::throttle;

/// Most posts in one statement.
pub const MAX_BATCH: usize = 100;
/// Posts that may wait for the writer before senders wait too.
const QUEUE: usize = 4096;

/// A validated post, ready to be written.
#[derive(Debug, Clone, Serialize)]
pub struct PendingPost {
    pub course_id: i64,
    pub user_id: i64,
    pub parent_id: Option<i64>,
    #[serde(serialize_with = "as_db_value")]
    pub message_type: MessageType,
    pub content: String,
}

fn as_db_value<S: serde::Serializer>(t: &MessageType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_value())
}

/// A written post.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    pub id: i64,
    pub seq: i64,
    pub created_at: DateTime<Utc>,
}

struct Job {
    post: PendingPost,
    reply: oneshot::Sender<Result<Written>>,
}

/// The instance's writer of chat posts (PostgreSQL only).
pub struct ChatWriter {
    queue: mpsc::Sender<Job>,
}

impl ChatWriter {
    /// Starts the writer task; it ends when the last handle is dropped.
    pub fn start(db: DatabaseConnection, posts_per_minute: i32) -> Arc<Self> {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, jobs, posts_per_minute));
        Arc::new(Self { queue })
    }

    /// Writes one post (with whichever others are waiting) and returns it once committed.
    pub async fn post(&self, post: PendingPost) -> Result<Written> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { post, reply })
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("the chat writer has stopped")))?;
        answer
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("the chat writer dropped a post")))?
    }
}

async fn run(db: DatabaseConnection, mut jobs: mpsc::Receiver<Job>, limit: i32) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let posts: Vec<&PendingPost> = batch.iter().map(|j| &j.post).collect();
        match write(&db, &posts, limit).await {
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
                    let result = match write(&db, &[&job.post], limit).await {
                        Ok(mut results) => results.pop().unwrap_or_else(|| {
                            Err(Error::Internal(anyhow::anyhow!("no result for a post")))
                        }),
                        Err(error) => Err(error),
                    };
                    let _ = job.reply.send(result);
                }
            }
        }
    }
}

/// The batch statement. $1: the posts as a JSON array (with their position `ord`), $2: now in unix
/// seconds, $3: now, $4: the limit per window, $5: the notification channel, $6: the rate-limit key
/// prefix, $7: the window in seconds. The rate-limit upsert is `throttle::count_use` for many keys
/// at once.
const SQL: &str = r#"
WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb)
        AS t(ord int, course_id bigint, user_id bigint, parent_id bigint, message_type text, content text)
), per_user AS (
    SELECT user_id, $6 || user_id AS key, count(*) AS n FROM input GROUP BY user_id
), rl AS (
    INSERT INTO rate_limits AS r (key, hits, window_start)
    SELECT key, n, $2 FROM per_user ORDER BY key
    ON CONFLICT (key) DO UPDATE SET
        hits = CASE WHEN r.window_start <= $2 - $7 THEN excluded.hits ELSE r.hits + excluded.hits END,
        window_start = CASE WHEN r.window_start <= $2 - $7 THEN $2 ELSE r.window_start END
    RETURNING key, hits, window_start
), ranked AS (
    SELECT i.*, rl.window_start,
        rl.hits - p.n + row_number() OVER (PARTITION BY i.user_id ORDER BY i.ord) AS used
    FROM input i JOIN per_user p ON p.user_id = i.user_id JOIN rl ON rl.key = p.key
), allowed AS (
    SELECT ranked.*, nextval(pg_get_serial_sequence('chat_messages', 'id')) AS id
    FROM ranked WHERE used <= $4
), msg AS (
    INSERT INTO chat_messages (id, course_id, user_id, parent_id, message_type, content, edit_count, metadata, created_at, updated_at)
    SELECT id, course_id, user_id, parent_id, message_type, content, 0, '{}', $3, $3 FROM allowed ORDER BY ord
    RETURNING id
), counts AS (
    SELECT course_id, count(*) AS n FROM allowed GROUP BY course_id
), seq AS (
    INSERT INTO chat_sequences AS s (course_id, last_seq)
    SELECT course_id, n FROM counts ORDER BY course_id
    ON CONFLICT (course_id) DO UPDATE SET last_seq = s.last_seq + excluded.last_seq
    RETURNING course_id, last_seq
), numbered AS (
    SELECT a.ord, a.id, a.course_id, a.user_id,
        seq.last_seq - c.n + row_number() OVER (PARTITION BY a.course_id ORDER BY a.ord) AS seq
    FROM allowed a JOIN counts c ON c.course_id = a.course_id JOIN seq ON seq.course_id = a.course_id
), ev AS (
    INSERT INTO chat_events (course_id, seq, kind, message_id, actor_id, created_at)
    SELECT course_id, seq, 'message.created', id, user_id, $3 FROM numbered ORDER BY course_id, seq
    RETURNING 1
), note AS (
    SELECT pg_notify($5, string_agg(course_id::text || ':' || last_seq::text, ',')) FROM seq
    HAVING count(*) > 0
)
SELECT r.ord, r.used, r.window_start, n.id, n.seq,
    (SELECT count(*) FROM msg) + (SELECT count(*) FROM ev) + (SELECT count(*) FROM note) AS written
FROM ranked r LEFT JOIN numbered n ON n.ord = r.ord
ORDER BY r.ord"#;

/// Writes `posts` in one statement: for each, the written post or 429 (rate limit).
async fn write(
    db: &DatabaseConnection,
    posts: &[&PendingPost],
    limit: i32,
) -> Result<Vec<Result<Written>>> {
    #[derive(Serialize)]
    struct Row<'a> {
        ord: usize,
        #[serde(flatten)]
        post: &'a PendingPost,
    }
    let rows: Vec<Row> = posts
        .iter()
        .enumerate()
        .map(|(ord, post)| Row { ord, post })
        .collect();
    let at = now();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            SQL,
            [
                serde_json::to_value(&rows)
                    .map_err(|e| Error::Internal(e.into()))?
                    .into(),
                at.timestamp().into(),
                at.into(),
                limit.into(),
                CHAT_CHANNEL.into(),
                POST_LIMIT_KEY.into(),
                POST_LIMIT_WINDOW_SECS.into(),
            ],
        ))
        .await?;
    if rows.len() != posts.len() {
        return Err(Error::Internal(anyhow::anyhow!(
            "the post statement returned {} rows for {} posts",
            rows.len(),
            posts.len()
        )));
    }
    rows.iter()
        .map(|row| {
            let id: Option<i64> = row.try_get("", "id")?;
            let seq: Option<i64> = row.try_get("", "seq")?;
            Ok(match (id, seq) {
                (Some(id), Some(seq)) => Ok(Written {
                    id,
                    seq,
                    created_at: at,
                }),
                _ => {
                    let window_start: i64 = row.try_get("", "window_start")?;
                    Err(Error::TooManyRequests {
                        retry_after_secs: throttle::retry_after(
                            window_start,
                            POST_LIMIT_WINDOW_SECS,
                            at.timestamp(),
                        ),
                    })
                }
            })
        })
        .collect()
}

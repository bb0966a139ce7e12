//! The write side of the change feed: every committed chat change is an event with the course's next
//! sequence number, written in the change's own transaction.
//!
//! Numbers come from one counter row per course, bumped by an upsert that locks the row until commit:
//! concurrent changes of a course queue on it, so numbers are gapless and in commit order. One call
//! records any number of events (a batch of posts) with one statement per step, and queues one
//! notification listing each course with its last number.
use std::collections::BTreeMap;

use entity::chat_events::{self, EventKind};
use entity::chat_sequences;
use sea_orm::sea_query::{Expr, ExprTrait, IntoIden, OnConflict, Query};
use sea_orm::{ActiveValue::Set, DatabaseTransaction, EntityTrait};

use crate::db::{Backend, upsert};
use crate::error::{Error, Result};
use crate::events::{CHAT_CHANNEL, Change};
use crate::now;

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub course_id: i64,
    pub kind: EventKind,
    pub subject: Subject,
    /// Who made the change (None: the system, or an erased account).
    pub actor_id: Option<i64>,
    pub emoji: Option<String>,
    /// When the change happened, if not now (messages brought over by the importer).
    pub at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Message(i64),
    LiveSession(i64),
}

/// Inside `txn`: numbers `events` (in order, per course), writes them, and queues the notification.
/// Returns each event's change, in the order given.
pub async fn record_events(txn: &DatabaseTransaction, events: &[NewEvent]) -> Result<Vec<Change>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    // Courses in id order, so two batches lock counters in the same order and cannot deadlock.
    let mut per_course: BTreeMap<i64, i64> = BTreeMap::new();
    for event in events {
        *per_course.entry(event.course_id).or_default() += 1;
    }
    let last = bump_counters(txn, &per_course).await?;
    let mut next: BTreeMap<i64, i64> = per_course
        .iter()
        .map(|(course, n)| (*course, last.get(course).copied().unwrap_or(0) - n))
        .collect();
    let at = now();
    let mut changes = Vec::with_capacity(events.len());
    let mut rows = Vec::with_capacity(events.len());
    for event in events {
        let seq = next.entry(event.course_id).or_default();
        *seq += 1;
        changes.push(Change {
            course_id: event.course_id,
            seq: *seq,
        });
        rows.push(chat_events::ActiveModel {
            course_id: Set(event.course_id),
            seq: Set(*seq),
            kind: Set(event.kind),
            message_id: Set(match event.subject {
                Subject::Message(id) => Some(id),
                Subject::LiveSession(_) => None,
            }),
            live_session_id: Set(match event.subject {
                Subject::LiveSession(id) => Some(id),
                Subject::Message(_) => None,
            }),
            actor_id: Set(event.actor_id),
            emoji: Set(event.emoji.clone()),
            created_at: Set(event.at.unwrap_or(at)),
            ..Default::default()
        });
    }
    let backend = Backend::of(txn)?;
    if matches!(backend, Backend::Postgres) && rows.len() >= BULK_ROWS {
        insert_from_json(txn, &rows).await?;
    } else {
        chat_events::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    let payload: Vec<String> = last
        .iter()
        .map(|(course, seq)| {
            Change {
                course_id: *course,
                seq: *seq,
            }
            .payload()
        })
        .collect();
    for chunk in notification_payloads(&payload) {
        backend.notify(txn, CHAT_CHANNEL, &chunk).await?;
    }
    Ok(changes)
}

/// PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more.
const MAX_PAYLOAD: usize = 7900;

/// `course:seq` entries joined by commas, as few notifications as fit under [`MAX_PAYLOAD`] (a batch
/// that touched a thousand courses, as an import page does, needs several; listeners read each one
/// the same way).
fn notification_payloads(entries: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for entry in entries {
        match out.last_mut() {
            Some(last) if last.len() + 1 + entry.len() <= MAX_PAYLOAD => {
                last.push(',');
                last.push_str(entry);
            }
            _ => out.push(entry.clone()),
        }
    }
    out
}

/// From this many events on (an import), PostgreSQL gets them as one JSON document expanded by
/// `jsonb_to_recordset`: one statement text whatever the count, where a multi-row VALUES list of
/// thousands of parameters is parsed and planned anew for every size.
const BULK_ROWS: usize = 256;

async fn insert_from_json(
    txn: &DatabaseTransaction,
    rows: &[chat_events::ActiveModel],
) -> Result<()> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    fn value<T: Into<sea_orm::Value> + Clone>(v: &sea_orm::ActiveValue<T>) -> Option<T> {
        v.clone().take()
    }
    let document: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "course_id": value(&r.course_id),
                "seq": value(&r.seq),
                "kind": value(&r.kind).map(|k| sea_orm::ActiveEnum::to_value(&k)),
                "message_id": value(&r.message_id).flatten(),
                "live_session_id": value(&r.live_session_id).flatten(),
                "actor_id": value(&r.actor_id).flatten(),
                "emoji": value(&r.emoji).flatten(),
                "created_at": value(&r.created_at),
            })
        })
        .collect();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO chat_events (course_id, seq, kind, message_id, live_session_id, actor_id, emoji, created_at) \
         SELECT course_id, seq, kind, message_id, live_session_id, actor_id, emoji, created_at \
         FROM jsonb_to_recordset($1) AS r(course_id bigint, seq bigint, kind varchar, message_id bigint, \
         live_session_id bigint, actor_id bigint, emoji varchar, created_at timestamptz)",
        [sea_orm::Value::from(serde_json::Value::Array(document))],
    ))
    .await?;
    Ok(())
}

/// One event (an edit, a deletion, a pin, a reaction).
pub async fn record_event(txn: &DatabaseTransaction, event: NewEvent) -> Result<Change> {
    record_events(txn, std::slice::from_ref(&event))
        .await?
        .pop()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("no change recorded")))
}

/// Adds `n` to each course's counter (creating it at `n`), returning each course's new last number.
async fn bump_counters(
    txn: &DatabaseTransaction,
    per_course: &BTreeMap<i64, i64>,
) -> Result<BTreeMap<i64, i64>> {
    use chat_sequences::Column as S;
    let mut upsert = Query::insert();
    upsert
        .into_table(chat_sequences::Entity)
        .columns([S::CourseId, S::LastSeq]);
    for (course, n) in per_course {
        upsert.values_panic([(*course).into(), (*n).into()]);
    }
    upsert.on_conflict(
        OnConflict::column(S::CourseId)
            .value(
                S::LastSeq,
                Expr::col((chat_sequences::Entity, S::LastSeq))
                    .add(upsert::inserted(Backend::of(txn)?, S::LastSeq)),
            )
            .to_owned(),
    );
    let courses = per_course.keys().map(|c| (*c).into()).collect();
    let rows = upsert::upsert_returning(
        txn,
        upsert,
        chat_sequences::Entity,
        S::CourseId,
        courses,
        vec![S::CourseId.into_iden(), S::LastSeq.into_iden()],
    )
    .await?;
    let mut last = BTreeMap::new();
    for row in rows {
        last.insert(row.try_get("", "course_id")?, row.try_get("", "last_seq")?);
    }
    if last.len() != per_course.len() {
        return Err(Error::Internal(anyhow::anyhow!(
            "sequence numbers for {} of {} courses",
            last.len(),
            per_course.len()
        )));
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_stay_under_postgres_payload_limit_and_carry_every_course() {
        let entries: Vec<String> = (1..=2000)
            .map(|c| format!("{}:{}", c * 1000, c * 77))
            .collect();
        let payloads = notification_payloads(&entries);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() < 8000));
        let back: Vec<String> = payloads
            .iter()
            .flat_map(|p| p.split(',').map(str::to_string))
            .collect();
        assert_eq!(back, entries);
        assert_eq!(
            notification_payloads(&entries[..3]),
            vec![entries[..3].join(",")]
        );
    }
}

//! Legacy chat messages, in their original order (`createdAt`, then id): each gets a
//! `message.created` event with the next gapless sequence number of its course (at its original
//! time), so the change feed and WebSocket resume work on imported courses. Replies point at their
//! thread's first message (the legacy app allowed any depth); edits, moderator and soft deletes,
//! pins and reactions carry over.
use std::collections::{HashMap, HashSet};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use entity::chat_events::EventKind;
use entity::chat_message_reactions as reactions;
use entity::chat_messages::{self, MessageType};
use lms_core::chat::{NewEvent, Subject, record_events};
use lms_core::db::Backend;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, FromQueryResult, JsonValue,
    QueryFilter, Set, Value,
};
use serde::Serialize;

use crate::report::{Outcome, TableReport};
use crate::target;
use crate::{Decided, Ids, Job, TargetId};

pub const TABLE: &str = "chat_messages";

#[derive(Debug, Clone, FromQueryResult, Serialize)]
pub struct Message {
    pub id: i32,
    pub course_id: i32,
    pub user_id: i32,
    pub content: String,
    pub message_type: String,
    pub reply_to_id: Option<i32>,
    pub attachments: Option<JsonValue>,
    pub reactions: Option<JsonValue>,
    pub metadata: Option<JsonValue>,
    pub is_edited: bool,
    pub edited_at: Option<DateTime<Utc>>,
    pub is_pinned: bool,
    pub pinned_at: Option<DateTime<Utc>>,
    pub pinned_by: Option<i32>,
    pub is_deleted: bool,
    pub deleted_by: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Messages, paged in their original order by [`crate::legacy::in_original_order`].
const MESSAGES: &str = r#"
SELECT id, "courseId" AS course_id, "userId" AS user_id, content,
       "messageType"::text AS message_type, "replyToId" AS reply_to_id, attachments, reactions,
       metadata, "isEdited" AS is_edited, "editedAt" AS edited_at, "isPinned" AS is_pinned,
       "pinnedAt" AS pinned_at, "pinnedBy" AS pinned_by, "isDeleted" AS is_deleted,
       "deletedBy" AS deleted_by, "createdAt" AS created_at, "updatedAt" AS updated_at,
       "deletedAt" AS deleted_at
FROM chat_messages"#;

/// Messages per page (one transaction): as many as one INSERT may bind (SQLite allows 32,766
/// parameters, 14 per message; PostgreSQL and MySQL 65,535).
fn page_size(backend: Backend) -> i64 {
    match backend {
        Backend::Sqlite => 2000,
        _ => 4000,
    }
}

/// Where an imported (or, for `plan`, planned) message went: its row, its legacy course, and the
/// row of its thread's first message if it is a reply.
#[derive(Debug, Clone, Copy)]
struct Placed {
    target: TargetId,
    course: i32,
    root: Option<TargetId>,
}

/// A message about to be written, with what its row needs from earlier ones.
struct Prepared<'a> {
    row: &'a Message,
    checksum: String,
    course: TargetId,
    parent: Option<TargetId>,
    model: chat_messages::ActiveModel,
    reactions: Vec<(i64, String)>,
    /// Imported before: its row (and whether the source changed).
    previous: Option<(i64, bool)>,
}

pub async fn import(job: &mut Job<'_>, ids: &mut Ids) -> anyhow::Result<TableReport> {
    let mut report = TableReport {
        found: u64::try_from(job.legacy.count(TABLE).await?).unwrap_or_default(),
        ..TableReport::default()
    };
    job.start(TABLE, report.found);
    let mapped = target::mapped(job.target, TABLE).await?;
    let backend = Backend::of(job.target)?;
    let mut placed: HashMap<i32, Placed> = HashMap::new();
    let mut mine: HashMap<i64, TargetId> = HashMap::new();
    let mut after: Option<(DateTime<Utc>, i32)> = None;
    loop {
        let (sql, values) = crate::legacy::in_original_order(MESSAGES, after, page_size(backend));
        let page: Vec<Message> = job.legacy.rows(&sql, values).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.created_at, last.id));
        let txn = job.begin().await?;
        let mut records = Vec::new();
        let mut prepared = Vec::with_capacity(page.len());
        for row in &page {
            let checksum = crate::legacy::checksum(row);
            let previous = mapped
                .get(&i64::from(row.id))
                .and_then(|m| m.created().map(|id| (id, m.checksum == checksum)));
            let Some(course) = ids.courses.get(&i64::from(row.course_id)).copied() else {
                Decided {
                    legacy_id: i64::from(row.id),
                    outcome: Outcome::Skipped,
                    target: None,
                    reason: Some(format!(
                        "its course (legacy course {}) was not imported",
                        row.course_id
                    )),
                }
                .settle(
                    txn.is_some().then_some(&mut records),
                    TABLE,
                    &checksum,
                    &mut report,
                    &mut mine,
                )
                .await?;
                continue;
            };
            match fields(row, ids, &placed, &mut report) {
                Err(reason) => {
                    Decided {
                        legacy_id: i64::from(row.id),
                        outcome: Outcome::Skipped,
                        target: None,
                        reason: Some(reason),
                    }
                    .settle(
                        txn.is_some().then_some(&mut records),
                        TABLE,
                        &checksum,
                        &mut report,
                        &mut mine,
                    )
                    .await?;
                }
                Ok((mut model, parent, reactions)) => {
                    model.course_id = Set(course.existing().unwrap_or_default());
                    // Until it is written: later rows of this page may reply to it.
                    placed.insert(
                        row.id,
                        Placed {
                            target: TargetId::Planned(i64::from(row.id)),
                            course: row.course_id,
                            root: parent,
                        },
                    );
                    prepared.push(Prepared {
                        row,
                        checksum,
                        course,
                        parent,
                        model,
                        reactions,
                        previous,
                    });
                }
            }
        }
        // Threads' first messages before replies, so that a reply on this page finds its row.
        let mut written: HashMap<i32, TargetId> = HashMap::new();
        for replies in [false, true] {
            let batch: Vec<&mut Prepared> = prepared
                .iter_mut()
                .filter(|p| p.parent.is_some() == replies)
                .collect();
            let mut new = Vec::new();
            for p in batch {
                if let Some(parent) = p.parent {
                    let parent = match parent {
                        TargetId::Planned(legacy) => written
                            .get(&i32::try_from(legacy).unwrap_or_default())
                            .copied()
                            .unwrap_or(parent),
                        existing => existing,
                    };
                    p.model.parent_id = Set(parent.existing());
                }
                match (&txn, p.previous) {
                    (_, Some((id, true))) | (None, Some((id, false))) => {
                        written.insert(p.row.id, TargetId::Existing(id));
                    }
                    (None, None) => {
                        written.insert(p.row.id, TargetId::Planned(i64::from(p.row.id)));
                    }
                    (Some(txn), Some((id, false))) => {
                        update(txn, id, p).await?;
                        written.insert(p.row.id, TargetId::Existing(id));
                    }
                    (Some(_), None) => new.push(p),
                }
            }
            if let Some(txn) = &txn {
                let models: Vec<chat_messages::ActiveModel> =
                    new.iter().map(|p| p.model.clone()).collect();
                let new_ids = insert(txn, backend, models).await?;
                for (p, id) in new.iter().zip(new_ids) {
                    written.insert(p.row.id, TargetId::Existing(id));
                }
            }
        }
        let mut events = Vec::new();
        let mut reaction_rows = Vec::new();
        for p in &prepared {
            let target = written[&p.row.id];
            let root = p.parent.map(|parent| match parent {
                TargetId::Planned(legacy) => written
                    .get(&i32::try_from(legacy).unwrap_or_default())
                    .copied()
                    .unwrap_or(parent),
                existing => existing,
            });
            placed.insert(
                p.row.id,
                Placed {
                    target,
                    course: p.row.course_id,
                    root,
                },
            );
            let outcome = match p.previous {
                None => Outcome::Created,
                Some((_, true)) => Outcome::Unchanged,
                Some((_, false)) => Outcome::Updated,
            };
            if let (TargetId::Existing(id), TargetId::Existing(course)) = (target, p.course)
                && outcome != Outcome::Unchanged
            {
                events.push(NewEvent {
                    course_id: course,
                    kind: if outcome == Outcome::Created {
                        EventKind::MessageCreated
                    } else {
                        EventKind::MessageEdited
                    },
                    subject: Subject::Message(id),
                    actor_id: p.model.user_id.clone().take().flatten(),
                    emoji: None,
                    at: Some(if outcome == Outcome::Created {
                        p.row.created_at
                    } else {
                        p.row.updated_at
                    }),
                });
                if outcome == Outcome::Created {
                    for (user, emoji) in &p.reactions {
                        reaction_rows.push(reactions::ActiveModel {
                            message_id: Set(id),
                            user_id: Set(*user),
                            emoji: Set(emoji.clone()),
                            created_at: Set(p.row.created_at),
                        });
                    }
                }
            }
            Decided {
                legacy_id: i64::from(p.row.id),
                outcome,
                target: Some(target),
                reason: None,
            }
            .settle(
                txn.is_some().then_some(&mut records),
                TABLE,
                &p.checksum,
                &mut report,
                &mut mine,
            )
            .await?;
        }
        if let Some(txn) = txn {
            for chunk in reaction_rows.chunks(2000) {
                reactions::Entity::insert_many(chunk.to_vec())
                    .exec_without_returning(&txn)
                    .await?;
            }
            record_events(&txn, &events).await?;
            target::record_all(&txn, std::mem::take(&mut records)).await?;
            txn.commit().await?;
        }
        job.progress(page.len());
    }
    Ok(report)
}

/// Inserts the messages, returning their ids in order: one multi-row INSERT with RETURNING where
/// the database has it, one INSERT each on MySQL.
async fn insert(
    txn: &DatabaseTransaction,
    backend: Backend,
    models: Vec<chat_messages::ActiveModel>,
) -> anyhow::Result<Vec<i64>> {
    if models.is_empty() {
        return Ok(Vec::new());
    }
    if matches!(backend, Backend::MySql) {
        let mut ids = Vec::with_capacity(models.len());
        for model in models {
            ids.push(
                chat_messages::Entity::insert(model)
                    .exec(txn)
                    .await?
                    .last_insert_id,
            );
        }
        return Ok(ids);
    }
    if matches!(backend, Backend::Postgres) {
        return insert_from_json(txn, models).await;
    }
    Ok(chat_messages::Entity::insert_many(models)
        .exec_with_returning_keys(txn)
        .await?)
}

/// PostgreSQL: ids taken from the table's sequence first (so each row's id is known, in order), then
/// every row in one statement from a JSON document (`jsonb_to_recordset`: one statement text,
/// planned once, where a VALUES list of tens of thousands of parameters is planned for every page).
async fn insert_from_json(
    txn: &DatabaseTransaction,
    models: Vec<chat_messages::ActiveModel>,
) -> anyhow::Result<Vec<i64>> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    fn value<T: Into<Value> + Clone>(v: &sea_orm::ActiveValue<T>) -> Option<T> {
        v.clone().take()
    }
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT nextval(pg_get_serial_sequence('chat_messages', 'id')) AS id FROM generate_series(1, $1)",
            [Value::from(models.len() as i64)],
        ))
        .await?;
    let ids: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get::<i64>("", "id"))
        .collect::<Result<_, _>>()?;
    let document: Vec<serde_json::Value> = models
        .iter()
        .zip(&ids)
        .map(|(m, id)| {
            serde_json::json!({
                "id": id,
                "course_id": value(&m.course_id),
                "user_id": value(&m.user_id).flatten(),
                "parent_id": value(&m.parent_id).flatten(),
                "message_type": value(&m.message_type).map(|t| sea_orm::ActiveEnum::to_value(&t)),
                "content": value(&m.content),
                "edited_at": value(&m.edited_at).flatten(),
                "edit_count": value(&m.edit_count),
                "deleted_at": value(&m.deleted_at).flatten(),
                "deleted_by": value(&m.deleted_by).flatten(),
                "pinned_at": value(&m.pinned_at).flatten(),
                "pinned_by": value(&m.pinned_by).flatten(),
                "metadata": value(&m.metadata),
                "created_at": value(&m.created_at),
                "updated_at": value(&m.updated_at),
            })
        })
        .collect();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO chat_messages (id, course_id, user_id, parent_id, message_type, content, edited_at, \
         edit_count, deleted_at, deleted_by, pinned_at, pinned_by, metadata, created_at, updated_at) \
         SELECT * FROM jsonb_to_recordset($1) AS r(id bigint, course_id bigint, user_id bigint, \
         parent_id bigint, message_type varchar, content text, edited_at timestamptz, edit_count integer, \
         deleted_at timestamptz, deleted_by bigint, pinned_at timestamptz, pinned_by bigint, metadata jsonb, \
         created_at timestamptz, updated_at timestamptz)",
        [Value::from(serde_json::Value::Array(document))],
    ))
    .await?;
    Ok(ids)
}

/// A message imported before whose legacy row changed: its columns and reactions follow the row.
async fn update(txn: &DatabaseTransaction, id: i64, p: &Prepared<'_>) -> anyhow::Result<()> {
    let mut model = p.model.clone();
    model.id = Set(id);
    model
        .update(txn)
        .await
        .with_context(|| format!("updating legacy message {}", p.row.id))?;
    reactions::Entity::delete_many()
        .filter(reactions::Column::MessageId.eq(id))
        .exec(txn)
        .await?;
    let rows: Vec<reactions::ActiveModel> = p
        .reactions
        .iter()
        .map(|(user, emoji)| reactions::ActiveModel {
            message_id: Set(id),
            user_id: Set(*user),
            emoji: Set(emoji.clone()),
            created_at: Set(p.row.updated_at),
        })
        .collect();
    if !rows.is_empty() {
        reactions::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

type Fields = (
    chat_messages::ActiveModel,
    Option<TargetId>,
    Vec<(i64, String)>,
);

/// The message's columns (all but its course), the row it replies to, and its reactions, counting
/// each value mapping; `Err` is a skip reason.
fn fields(
    row: &Message,
    ids: &Ids,
    placed: &HashMap<i32, Placed>,
    report: &mut TableReport,
) -> Result<Fields, String> {
    let user = |legacy: i32| ids.users.get(&i64::from(legacy)).copied();
    let author = match ids.users.get(&i64::from(row.user_id)) {
        Some(t) => Some(*t),
        None => {
            report.mapped("author not imported -> no author (the message is kept)");
            None
        }
    };
    let mut metadata = match &row.metadata {
        Some(JsonValue::Object(map)) => map.clone(),
        None | Some(JsonValue::Null) => serde_json::Map::new(),
        Some(_) => {
            report.mapped("metadata not a JSON object -> {}");
            serde_json::Map::new()
        }
    };
    let message_type = match row.message_type.as_str() {
        "text" => MessageType::Text,
        "question" => MessageType::Question,
        "answer" => MessageType::Answer,
        "announcement" => MessageType::Announcement,
        "system" => MessageType::System,
        kind @ ("image" | "file") => {
            report.mapped(&format!(
                "type {kind} -> text, its attachments in metadata.attachments"
            ));
            metadata.insert("legacy_type".into(), JsonValue::String(kind.into()));
            MessageType::Text
        }
        other => {
            return Err(format!(
                "type {other:?} is not one the legacy schema declares"
            ));
        }
    };
    if let Some(attachments @ JsonValue::Array(list)) = &row.attachments
        && !list.is_empty()
    {
        metadata.insert("attachments".into(), attachments.clone());
    }
    if row.content.trim().is_empty() {
        report.mapped("empty content -> kept empty");
    }
    let parent = match row.reply_to_id {
        None => None,
        Some(to) => match placed.get(&to) {
            Some(p) if p.course == row.course_id => Some(p.root.unwrap_or(p.target)),
            Some(_) => {
                report.mapped("reply to a message of another course -> a message of its own");
                None
            }
            None => {
                report.mapped("reply to a message not imported (or newer) -> a message of its own");
                None
            }
        },
    };
    if let (Some(to), Some(_)) = (row.reply_to_id, parent)
        && placed.get(&to).is_some_and(|p| p.root.is_some())
    {
        report.mapped("reply to a reply -> reply to its thread's first message");
    }
    let (edited_at, edit_count) = match (row.is_edited, row.edited_at) {
        (false, None) => (None, 0),
        (_, Some(at)) => {
            report.mapped("edited -> edit count 1 (no edit history was kept)");
            (Some(at), 1)
        }
        (true, None) => {
            report.mapped("edited without editedAt -> edited at updatedAt, edit count 1");
            (Some(row.updated_at), 1)
        }
    };
    let deleted_at = match (row.is_deleted, row.deleted_at) {
        (_, Some(at)) => Some(at),
        (true, None) => Some(row.updated_at),
        (false, None) => None,
    };
    if deleted_at.is_some() {
        report.mapped("deleted (isDeleted or deletedAt) -> a tombstone");
    }
    let pinned_at = match (row.is_pinned, row.pinned_at) {
        (true, at) => Some(at.unwrap_or(row.updated_at)),
        (false, _) => None,
    };
    let mut reactions: Vec<(i64, String)> = Vec::new();
    let mut seen: HashSet<(TargetId, &str)> = HashSet::new();
    match &row.reactions {
        None | Some(JsonValue::Null) => {}
        Some(JsonValue::Object(by_emoji)) => {
            for (emoji, users) in by_emoji {
                if emoji.is_empty() || emoji.chars().count() > 32 {
                    report.mapped("reaction emoji empty or over 32 characters -> not kept");
                    continue;
                }
                for u in users.as_array().into_iter().flatten() {
                    match u
                        .as_i64()
                        .and_then(|u| i32::try_from(u).ok())
                        .and_then(user)
                    {
                        Some(id) => {
                            if seen.insert((id, emoji.as_str())) {
                                reactions.push((id.existing().unwrap_or_default(), emoji.clone()));
                            } else {
                                report.mapped("the same reaction by merged accounts -> one");
                            }
                        }
                        None => report.mapped("reaction by a user not imported -> not kept"),
                    }
                }
            }
        }
        Some(_) => report.mapped("reactions not a JSON object -> none"),
    }
    let model = chat_messages::ActiveModel {
        user_id: Set(author.and_then(TargetId::existing)),
        parent_id: Set(parent.and_then(TargetId::existing)),
        message_type: Set(message_type),
        content: Set(row.content.clone()),
        edited_at: Set(edited_at),
        edit_count: Set(edit_count),
        deleted_at: Set(deleted_at),
        deleted_by: Set(row.deleted_by.and_then(user).and_then(TargetId::existing)),
        pinned_at: Set(pinned_at),
        pinned_by: Set(if pinned_at.is_some() {
            row.pinned_by.and_then(user).and_then(TargetId::existing)
        } else {
            None
        }),
        metadata: Set(JsonValue::Object(metadata)),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
        ..Default::default()
    };
    Ok((model, parent, reactions))
}

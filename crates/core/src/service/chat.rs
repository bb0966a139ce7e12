//! Course chat: who may take part, messages and threads, edits with history, moderation (delete, pin),
//! reactions, and the change feed.
//!
//! Every change runs in one transaction that also takes the course's next sequence number (see
//! migration 11) and writes a `chat_events` row, so the feed is gapless and in commit order. On
//! PostgreSQL the same transaction queues a NOTIFY carrying the course id and sequence number, which
//! PostgreSQL delivers to every instance when (and only if) it commits.
use chrono::{DateTime, Utc};
use entity::chat_events::{self, EventKind};
use entity::chat_message_edits;
use entity::chat_message_reactions as reactions;
use entity::chat_messages::{self, MessageType};
use entity::chat_sequences;
use entity::courses::{self, CourseStatus, CourseVisibility};
use entity::enrollments::{self, EnrollmentStatus};
use entity::users::{self, UserRole};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, FromQueryResult, JoinType, Order, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, RelationTrait, Select, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

use super::chat_writer::{ChatWriter, PendingPost};
use super::now;
use super::paging::{MAX_PAGE, page_limit};
use crate::db::Backend;
use crate::error::{Error, Result};
use crate::events::{CHAT_CHANNEL, Committed, Events};
use crate::security::throttle;

/// Someone who may use a course's chat.
#[derive(Debug, Clone)]
pub struct Member {
    pub user: users::Model,
    pub course_id: i64,
    /// The course's instructor or an admin: may post announcements, delete anyone's messages, pin.
    pub staff: bool,
}

#[derive(Debug, FromQueryResult)]
struct Gate {
    instructor_id: i64,
    status: CourseStatus,
    visibility: CourseVisibility,
    enrollment_status: Option<EnrollmentStatus>,
}

/// Whether `user` is a member of the course's chat: an admin, the course's instructor, or a student
/// whose enrollment is active or completed. 404 for a course that does not exist (or that the user
/// cannot see), 403 for one they can see but are not a member of. One query.
pub async fn member<C: ConnectionTrait>(
    db: &C,
    user: &users::Model,
    course_id: i64,
) -> Result<Member> {
    let user_id = user.id;
    let gate = courses::Entity::find_by_id(course_id)
        .select_only()
        .columns([
            courses::Column::InstructorId,
            courses::Column::Status,
            courses::Column::Visibility,
        ])
        .column_as(
            Expr::col((enrollments::Entity, enrollments::Column::Status)),
            "enrollment_status",
        )
        .join(
            JoinType::LeftJoin,
            courses::Relation::Enrollments
                .def()
                .on_condition(move |_, right| {
                    Expr::col((right, enrollments::Column::UserId))
                        .eq(user_id)
                        .into()
                }),
        )
        .into_model::<Gate>()
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound("no such course".into()))?;
    let staff = user.role == UserRole::Admin || gate.instructor_id == user.id;
    let student = gate
        .enrollment_status
        .is_some_and(EnrollmentStatus::grants_access);
    if staff || student {
        return Ok(Member {
            user: user.clone(),
            course_id,
            staff,
        });
    }
    if gate.status == CourseStatus::Draft || gate.visibility == CourseVisibility::Private {
        return Err(Error::NotFound("no such course".into()));
    }
    Err(Error::Forbidden(
        "only the course's active or completed students, its instructor and admins can use its chat"
            .into(),
    ))
}

/// A message as every reader sees it. A deleted message is a tombstone: `deleted` is true and
/// `content` is null.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    pub id: i64,
    pub course_id: i64,
    /// The message this one replies to; null for a top-level message.
    pub parent_id: Option<i64>,
    /// Null once the author's account has been erased.
    pub author: Option<Author>,
    #[schema(value_type = String, example = "text")]
    #[serde(rename = "type")]
    pub message_type: MessageType,
    /// Plain text exactly as sent (never HTML); null when deleted.
    pub content: Option<String>,
    pub deleted: bool,
    pub deleted_at: Option<DateTime<Utc>>,
    pub edited_at: Option<DateTime<Utc>>,
    pub edit_count: i32,
    pub pinned_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Author {
    pub id: i64,
    pub username: String,
    pub name: String,
}

impl Author {
    fn new(id: i64, username: String, first_name: &str, last_name: &str) -> Self {
        let name = format!("{first_name} {last_name}").trim().to_string();
        Self { id, username, name }
    }
}

impl MessageView {
    fn is_by(&self, user: &users::Model) -> bool {
        self.author.as_ref().is_some_and(|a| a.id == user.id)
    }
}

/// One message with its thread size and reactions.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageDetail {
    #[serde(flatten)]
    pub message: MessageView,
    /// Replies that are not deleted.
    pub reply_count: i64,
    pub reactions: Vec<ReactionCount>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReactionCount {
    pub emoji: String,
    pub count: i64,
    /// Whether the caller is among them.
    pub mine: bool,
}

#[derive(Debug, FromQueryResult)]
struct MessageRow {
    id: i64,
    course_id: i64,
    user_id: Option<i64>,
    parent_id: Option<i64>,
    message_type: MessageType,
    content: String,
    edited_at: Option<DateTime<Utc>>,
    edit_count: i32,
    deleted_at: Option<DateTime<Utc>>,
    pinned_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    author_username: Option<String>,
    author_first_name: Option<String>,
    author_last_name: Option<String>,
}

impl From<MessageRow> for MessageView {
    fn from(r: MessageRow) -> Self {
        let author = match (r.user_id, r.author_username) {
            (Some(id), Some(username)) => Some(Author::new(
                id,
                username,
                &r.author_first_name.unwrap_or_default(),
                &r.author_last_name.unwrap_or_default(),
            )),
            _ => None,
        };
        let deleted = r.deleted_at.is_some();
        MessageView {
            id: r.id,
            course_id: r.course_id,
            parent_id: r.parent_id,
            author,
            message_type: r.message_type,
            content: (!deleted).then_some(r.content),
            deleted,
            deleted_at: r.deleted_at,
            edited_at: r.edited_at,
            edit_count: r.edit_count,
            pinned_at: r.pinned_at,
            created_at: r.created_at,
        }
    }
}

/// Messages with their author's public name, in one query.
fn messages() -> Select<chat_messages::Entity> {
    use chat_messages::Column as M;
    chat_messages::Entity::find()
        .select_only()
        .columns([
            M::Id,
            M::CourseId,
            M::UserId,
            M::ParentId,
            M::MessageType,
            M::Content,
            M::EditedAt,
            M::EditCount,
            M::DeletedAt,
            M::PinnedAt,
            M::CreatedAt,
        ])
        .column_as(users::Column::Username, "author_username")
        .column_as(users::Column::FirstName, "author_first_name")
        .column_as(users::Column::LastName, "author_last_name")
        .join(JoinType::LeftJoin, chat_messages::Relation::Author.def())
}

/// Keyset paging by message id.
#[derive(Debug, Default, Clone, Copy, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Only messages with a smaller id.
    pub before: Option<i64>,
    /// Only messages with a larger id.
    pub after: Option<i64>,
    /// 1 to 100 (default 50).
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    pub items: Vec<MessageView>,
    /// Whether more messages lie beyond this page in the direction paged (older with `before` or by
    /// default, newer with `after`).
    pub has_more: bool,
}

/// Fetches one page of `select`. Returned oldest first when `oldest_first`, else newest first. Paging
/// walks towards older messages with `before` (and by default when newest first) and towards newer
/// ones with `after` (and by default when oldest first).
async fn page<C: ConnectionTrait>(
    db: &C,
    select: Select<chat_messages::Entity>,
    page: Page,
    oldest_first: bool,
) -> Result<MessagePage> {
    let limit = page_limit(Some(page.limit.unwrap_or(50)))?;
    let mut select = select;
    if let Some(before) = page.before {
        select = select.filter(chat_messages::Column::Id.lt(before));
    }
    if let Some(after) = page.after {
        select = select.filter(chat_messages::Column::Id.gt(after));
    }
    let towards_older = match (page.before, page.after) {
        (Some(_), _) => true,
        (None, Some(_)) => false,
        (None, None) => !oldest_first,
    };
    let order = if towards_older {
        Order::Desc
    } else {
        Order::Asc
    };
    // The page size goes into the SQL text rather than a parameter: PostgreSQL re-plans a prepared
    // statement whose LIMIT is a parameter on every execution (its generic plan cannot know how few
    // rows are wanted), which costs about as much as running it. It is a validated integer (at most
    // 101 distinct statements).
    let mut statement = select
        .order_by(chat_messages::Column::Id, order)
        .build(db.get_database_backend());
    statement.sql.push_str(&format!(" LIMIT {}", limit + 1));
    let mut rows = MessageRow::find_by_statement(statement).all(db).await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    if towards_older == oldest_first {
        rows.reverse();
    }
    Ok(MessagePage {
        items: rows.into_iter().map(MessageView::from).collect(),
        has_more,
    })
}

/// Top-level messages of the course, newest first.
pub async fn history(db: &DatabaseConnection, member: &Member, p: Page) -> Result<MessagePage> {
    let select = messages()
        .filter(chat_messages::Column::CourseId.eq(member.course_id))
        .filter(chat_messages::Column::ParentId.is_null());
    page(db, select, p, false).await
}

/// The replies to a message, oldest first.
pub async fn replies(
    db: &DatabaseConnection,
    member: &Member,
    message_id: i64,
    p: Page,
) -> Result<MessagePage> {
    find(db, member, message_id).await?;
    let select = messages().filter(chat_messages::Column::ParentId.eq(message_id));
    page(db, select, p, true).await
}

/// The pinned messages of the course, most recently pinned first (at most 100).
pub async fn pinned(db: &DatabaseConnection, member: &Member) -> Result<Vec<MessageView>> {
    let rows = messages()
        .filter(chat_messages::Column::CourseId.eq(member.course_id))
        .filter(chat_messages::Column::PinnedAt.is_not_null())
        .filter(chat_messages::Column::DeletedAt.is_null())
        .order_by_desc(chat_messages::Column::PinnedAt)
        .order_by_desc(chat_messages::Column::Id)
        .limit(MAX_PAGE)
        .into_model::<MessageRow>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(MessageView::from).collect())
}

/// A message of the member's course, or 404.
async fn find<C: ConnectionTrait>(db: &C, member: &Member, id: i64) -> Result<MessageView> {
    messages()
        .filter(chat_messages::Column::Id.eq(id))
        .filter(chat_messages::Column::CourseId.eq(member.course_id))
        .into_model::<MessageRow>()
        .one(db)
        .await?
        .map(MessageView::from)
        .ok_or_else(|| Error::NotFound("no such message in this course".into()))
}

/// One message with its reply count and reactions (none shown on a deleted message).
pub async fn detail<C: ConnectionTrait>(db: &C, member: &Member, id: i64) -> Result<MessageDetail> {
    let message = find(db, member, id).await?;
    let reply_count = chat_messages::Entity::find()
        .filter(chat_messages::Column::ParentId.eq(id))
        .filter(chat_messages::Column::DeletedAt.is_null())
        .select_only()
        .column_as(Expr::col(chat_messages::Column::Id).count(), "n")
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or(0);
    let mut reactions = Vec::new();
    if !message.deleted {
        let rows: Vec<(String, i64, i32)> = reactions::Entity::find()
            .filter(reactions::Column::MessageId.eq(id))
            .select_only()
            .column(reactions::Column::Emoji)
            .column_as(Expr::col(reactions::Column::UserId).count(), "n")
            .column_as(
                Expr::case(Expr::col(reactions::Column::UserId).eq(member.user.id), 1)
                    .finally(0)
                    .max(),
                "mine",
            )
            .group_by(reactions::Column::Emoji)
            .order_by_asc(reactions::Column::Emoji)
            .into_tuple()
            .all(db)
            .await?;
        reactions = rows
            .into_iter()
            .map(|(emoji, count, mine)| ReactionCount {
                emoji,
                count,
                mine: mine > 0,
            })
            .collect();
    }
    Ok(MessageDetail {
        message,
        reply_count,
        reactions,
    })
}

/// A committed change: the course and the sequence number of its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub course_id: i64,
    pub seq: i64,
}

/// Inside `txn`: takes the course's next sequence number (locking the course's counter until commit,
/// which makes numbers gapless and in commit order), writes the event, and queues the notification.
async fn record_event(
    txn: &DatabaseTransaction,
    course_id: i64,
    kind: EventKind,
    message_id: i64,
    actor_id: i64,
    emoji: Option<String>,
) -> Result<Change> {
    use chat_sequences::Column as S;
    let next = Query::insert()
        .into_table(chat_sequences::Entity)
        .columns([S::CourseId, S::LastSeq])
        .values_panic([course_id.into(), 1i64.into()])
        .on_conflict(
            OnConflict::column(S::CourseId)
                .value(
                    S::LastSeq,
                    Expr::col((chat_sequences::Entity, S::LastSeq)).add(1),
                )
                .to_owned(),
        )
        .returning_col(S::LastSeq)
        .to_owned();
    let seq: i64 = txn
        .query_one(&next)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("no sequence number returned")))?
        .try_get("", "last_seq")?;
    chat_events::Entity::insert(chat_events::ActiveModel {
        course_id: Set(course_id),
        seq: Set(seq),
        kind: Set(kind),
        message_id: Set(Some(message_id)),
        actor_id: Set(Some(actor_id)),
        emoji: Set(emoji),
        created_at: Set(now()),
        ..Default::default()
    })
    .exec_without_returning(txn)
    .await?;
    let change = Change { course_id, seq };
    Backend::of(txn)?
        .notify(txn, CHAT_CHANNEL, &change.payload())
        .await?;
    Ok(change)
}

/// What a client sends to post a message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// Plain text, stored exactly as sent (never interpreted as HTML); not blank, at most
    /// `LMS_CHAT_MAX_MESSAGE_CHARS` characters (default 4000).
    pub content: String,
    /// `text` (default), `question`, `answer`, or `announcement` (course staff only).
    #[serde(rename = "type")]
    #[schema(value_type = Option<String>, example = "text")]
    pub message_type: Option<MessageType>,
    /// Reply to this message (a top-level message of the same course).
    pub parent_id: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    /// The new plain-text content (same rules as when posting).
    pub content: String,
}

/// Limits that come from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_chars: usize,
    pub posts_per_minute: i32,
}

fn check_content(content: &str, limits: Limits) -> Result<()> {
    if content.trim().is_empty() {
        return Err(Error::invalid("content", "must not be blank"));
    }
    if content.chars().count() > limits.max_chars {
        return Err(Error::invalid(
            "content",
            format!("must be at most {} characters", limits.max_chars),
        ));
    }
    if content.contains('\0') {
        return Err(Error::invalid("content", "must not contain NUL characters"));
    }
    Ok(())
}

/// The rate-limit bucket of a user's posts is this followed by the user id.
pub const POST_LIMIT_KEY: &str = "chat-post:user:";
/// The posting limit counts posts in fixed windows of this many seconds.
pub const POST_LIMIT_WINDOW_SECS: i64 = 60;

/// Posts a message (or a reply) as `member`.
pub async fn post(
    db: &DatabaseConnection,
    events: &Events,
    writer: Option<&ChatWriter>,
    member: &Member,
    input: NewMessage,
    limits: Limits,
) -> Result<MessageView> {
    check_content(&input.content, limits)?;
    let message_type = input.message_type.unwrap_or(MessageType::Text);
    match message_type {
        MessageType::System => {
            return Err(Error::invalid(
                "type",
                "system messages are written by the LMS itself",
            ));
        }
        MessageType::Announcement if !member.staff => {
            return Err(Error::Forbidden(
                "only the course's instructor or an admin may post announcements".into(),
            ));
        }
        _ => {}
    }
    if let Some(parent_id) = input.parent_id {
        let parent = chat_messages::Entity::find_by_id(parent_id)
            .filter(chat_messages::Column::CourseId.eq(member.course_id))
            .one(db)
            .await?
            .ok_or_else(|| Error::invalid("parent_id", "no such message in this course"))?;
        if parent.parent_id.is_some() {
            return Err(Error::invalid(
                "parent_id",
                "replies go to the thread's first message, not to another reply",
            ));
        }
        if parent.deleted_at.is_some() {
            return Err(Error::invalid("parent_id", "that message was deleted"));
        }
    }

    let (id, change, at) = if let Some(writer) = writer {
        let written = writer
            .post(PendingPost {
                course_id: member.course_id,
                user_id: member.user.id,
                parent_id: input.parent_id,
                message_type,
                content: input.content.clone(),
            })
            .await?;
        let change = Change {
            course_id: member.course_id,
            seq: written.seq,
        };
        (written.id, change, written.created_at)
    } else {
        let at = now();
        let key = format!("{POST_LIMIT_KEY}{}", member.user.id);
        let txn = db.begin().await?;
        if let Some(retry_after_secs) = throttle::count_use(
            &txn,
            &key,
            limits.posts_per_minute,
            POST_LIMIT_WINDOW_SECS,
            at.timestamp(),
        )
        .await?
        {
            return Err(Error::TooManyRequests { retry_after_secs });
        }
        let inserted = chat_messages::Entity::insert(chat_messages::ActiveModel {
            course_id: Set(member.course_id),
            user_id: Set(Some(member.user.id)),
            parent_id: Set(input.parent_id),
            message_type: Set(message_type),
            content: Set(input.content.clone()),
            edit_count: Set(0),
            metadata: Set(serde_json::json!({})),
            created_at: Set(at),
            updated_at: Set(at),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
        let id = inserted.last_insert_id;
        let change = record_event(
            &txn,
            member.course_id,
            EventKind::MessageCreated,
            id,
            member.user.id,
            None,
        )
        .await?;
        txn.commit().await?;
        (id, change, at)
    };
    let user = &member.user;
    let view = MessageView {
        id,
        course_id: member.course_id,
        parent_id: input.parent_id,
        author: Some(Author::new(
            user.id,
            user.username.clone(),
            &user.first_name,
            &user.last_name,
        )),
        message_type,
        content: Some(input.content),
        deleted: false,
        deleted_at: None,
        edited_at: None,
        edit_count: 0,
        pinned_at: None,
        created_at: at,
    };
    events.publish(Committed::Chat(change)).await;
    Ok(view)
}

/// Edits the author's own message, keeping the previous content in the edit history.
pub async fn edit(
    db: &DatabaseConnection,
    events: &Events,
    member: &Member,
    id: i64,
    input: EditMessage,
    limits: Limits,
) -> Result<MessageView> {
    let current = find(db, member, id).await?;
    if !current.is_by(&member.user) {
        return Err(Error::Forbidden(
            "only the author may edit a message".into(),
        ));
    }
    let Some(old) = current.content.clone() else {
        return Err(Error::Conflict("a deleted message cannot be edited".into()));
    };
    check_content(&input.content, limits)?;
    if input.content == old {
        return Ok(current);
    }
    let at = now();
    let txn = db.begin().await?;
    use chat_messages::Column as M;
    let updated = chat_messages::Entity::update_many()
        .col_expr(M::Content, Expr::value(input.content))
        .col_expr(M::EditCount, Expr::col(M::EditCount).add(1))
        .col_expr(M::EditedAt, Expr::value(at))
        .col_expr(M::UpdatedAt, Expr::value(at))
        .filter(M::Id.eq(id))
        .filter(M::DeletedAt.is_null())
        .filter(M::Content.eq(old.clone()))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(Error::Conflict(
            "the message changed meanwhile; read it again".into(),
        ));
    }
    chat_message_edits::Entity::insert(chat_message_edits::ActiveModel {
        message_id: Set(id),
        content: Set(old),
        edited_by: Set(Some(member.user.id)),
        edited_at: Set(at),
        ..Default::default()
    })
    .exec_without_returning(&txn)
    .await?;
    let change = record_event(
        &txn,
        member.course_id,
        EventKind::MessageEdited,
        id,
        member.user.id,
        None,
    )
    .await?;
    let view = find(&txn, member, id).await?;
    txn.commit().await?;
    events.publish(Committed::Chat(change)).await;
    Ok(view)
}

/// One earlier version of a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct EditView {
    /// The content the message had before this edit.
    pub content: String,
    pub edited_at: DateTime<Utc>,
}

/// The edit history, oldest first: the author and course staff only.
pub async fn edits(db: &DatabaseConnection, member: &Member, id: i64) -> Result<Vec<EditView>> {
    let message = find(db, member, id).await?;
    let is_author = message.is_by(&member.user);
    if !(is_author || member.staff) {
        return Err(Error::Forbidden(
            "only the author and the course's staff may read the edit history".into(),
        ));
    }
    let rows = chat_message_edits::Entity::find()
        .filter(chat_message_edits::Column::MessageId.eq(id))
        .order_by_asc(chat_message_edits::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|e| EditView {
            content: e.content,
            edited_at: e.edited_at,
        })
        .collect())
}

/// Soft-deletes: the row and its thread stay, the content, edit history and reactions go. Idempotent.
pub async fn delete(
    db: &DatabaseConnection,
    events: &Events,
    member: &Member,
    id: i64,
) -> Result<()> {
    let current = find(db, member, id).await?;
    let is_author = current.is_by(&member.user);
    if !(is_author || member.staff) {
        return Err(Error::Forbidden(
            "only the author, the course's instructor or an admin may delete a message".into(),
        ));
    }
    if current.deleted {
        return Ok(());
    }
    let at = now();
    let txn = db.begin().await?;
    use chat_messages::Column as M;
    let updated = chat_messages::Entity::update_many()
        .col_expr(M::Content, Expr::value(""))
        .col_expr(M::DeletedAt, Expr::value(at))
        .col_expr(M::DeletedBy, Expr::value(member.user.id))
        .col_expr(M::PinnedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(M::PinnedBy, Expr::value(Option::<i64>::None))
        .col_expr(M::UpdatedAt, Expr::value(at))
        .filter(M::Id.eq(id))
        .filter(M::DeletedAt.is_null())
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(());
    }
    chat_message_edits::Entity::delete_many()
        .filter(chat_message_edits::Column::MessageId.eq(id))
        .exec(&txn)
        .await?;
    reactions::Entity::delete_many()
        .filter(reactions::Column::MessageId.eq(id))
        .exec(&txn)
        .await?;
    let change = record_event(
        &txn,
        member.course_id,
        EventKind::MessageDeleted,
        id,
        member.user.id,
        None,
    )
    .await?;
    txn.commit().await?;
    events.publish(Committed::Chat(change)).await;
    Ok(())
}

/// Pins or unpins (course staff). Idempotent: pinning a pinned message changes nothing.
pub async fn set_pinned(
    db: &DatabaseConnection,
    events: &Events,
    member: &Member,
    id: i64,
    pin: bool,
) -> Result<MessageView> {
    if !member.staff {
        return Err(Error::Forbidden(
            "only the course's instructor or an admin may pin messages".into(),
        ));
    }
    let current = find(db, member, id).await?;
    if current.deleted {
        return Err(Error::Conflict("a deleted message cannot be pinned".into()));
    }
    if current.pinned_at.is_some() == pin {
        return Ok(current);
    }
    let at = now();
    let txn = db.begin().await?;
    use chat_messages::Column as M;
    let (pinned_at, pinned_by) = if pin {
        (Some(at), Some(member.user.id))
    } else {
        (None, None)
    };
    let updated = chat_messages::Entity::update_many()
        .col_expr(M::PinnedAt, Expr::value(pinned_at))
        .col_expr(M::PinnedBy, Expr::value(pinned_by))
        .col_expr(M::UpdatedAt, Expr::value(at))
        .filter(M::Id.eq(id))
        .filter(M::DeletedAt.is_null())
        .filter(if pin {
            M::PinnedAt.is_null()
        } else {
            M::PinnedAt.is_not_null()
        })
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        drop(txn);
        return find(db, member, id).await;
    }
    let kind = if pin {
        EventKind::MessagePinned
    } else {
        EventKind::MessageUnpinned
    };
    let change = record_event(&txn, member.course_id, kind, id, member.user.id, None).await?;
    let view = find(&txn, member, id).await?;
    txn.commit().await?;
    events.publish(Committed::Chat(change)).await;
    Ok(view)
}

/// Whether `s` is one emoji (possibly a sequence: skin tones, ZWJ sequences, flags, keycaps).
pub fn is_emoji(s: &str) -> bool {
    fn pictographic(c: char) -> bool {
        matches!(c as u32,
            0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2190..=0x21FF
            | 0x2300..=0x23FF | 0x25A0..=0x25FF | 0x2934 | 0x2935 | 0x3030 | 0x303D | 0x3297
            | 0x3299 | 0xA9 | 0xAE | 0x203C | 0x2049 | 0x2122 | 0x2139)
    }
    fn joiner(c: char) -> bool {
        matches!(
            c as u32,
            0x200D | 0xFE0F | 0xFE0E | 0x20E3 | 0xE0020..=0xE007F
        )
    }
    let keycap = |c: char| c.is_ascii_digit() || c == '#' || c == '*';
    let chars: Vec<char> = s.chars().collect();
    !chars.is_empty()
        && s.len() <= 32
        && chars.iter().any(|c| pictographic(*c) || *c == '\u{20E3}')
        && chars
            .iter()
            .enumerate()
            .all(|(i, c)| pictographic(*c) || joiner(*c) || (i == 0 && keycap(*c)))
}

/// Adds or removes the member's reaction (idempotent); an event only when something changed.
pub async fn react(
    db: &DatabaseConnection,
    events: &Events,
    member: &Member,
    id: i64,
    emoji: &str,
    add: bool,
) -> Result<MessageDetail> {
    if !is_emoji(emoji) {
        return Err(Error::invalid(
            "emoji",
            "must be a single emoji (at most 32 bytes)",
        ));
    }
    let current = find(db, member, id).await?;
    if current.deleted {
        return Err(Error::Conflict(
            "a deleted message cannot be reacted to".into(),
        ));
    }
    let txn = db.begin().await?;
    let changed = if add {
        matches!(
            reactions::Entity::insert(reactions::ActiveModel {
                message_id: Set(id),
                user_id: Set(member.user.id),
                emoji: Set(emoji.to_string()),
                created_at: Set(now()),
            })
            .on_conflict(
                OnConflict::columns([
                    reactions::Column::MessageId,
                    reactions::Column::UserId,
                    reactions::Column::Emoji,
                ])
                .do_nothing()
                .to_owned(),
            )
            .try_insert()
            .exec_without_returning(&txn)
            .await?,
            sea_orm::TryInsertResult::Inserted(1)
        )
    } else {
        reactions::Entity::delete_many()
            .filter(reactions::Column::MessageId.eq(id))
            .filter(reactions::Column::UserId.eq(member.user.id))
            .filter(reactions::Column::Emoji.eq(emoji))
            .exec(&txn)
            .await?
            .rows_affected
            == 1
    };
    let mut change = None;
    if changed {
        let kind = if add {
            EventKind::ReactionAdded
        } else {
            EventKind::ReactionRemoved
        };
        change = Some(
            record_event(
                &txn,
                member.course_id,
                kind,
                id,
                member.user.id,
                Some(emoji.to_string()),
            )
            .await?,
        );
    }
    let detail = detail(&txn, member, id).await?;
    txn.commit().await?;
    if let Some(change) = change {
        events.publish(Committed::Chat(change)).await;
    }
    Ok(detail)
}

/// One entry of the change feed. `message` is the message as it is now (a tombstone once deleted),
/// so content removed by a deletion is gone from the feed as well.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    pub seq: i64,
    pub course_id: i64,
    /// `message.created`, `message.edited`, `message.deleted`, `message.pinned`, `message.unpinned`,
    /// `reaction.added` or `reaction.removed`.
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "message.created")]
    pub kind: EventKind,
    pub message_id: Option<i64>,
    /// Who made the change.
    pub actor_id: Option<i64>,
    /// The emoji of a reaction event.
    pub emoji: Option<String>,
    pub at: DateTime<Utc>,
    pub message: Option<MessageView>,
}

/// Events of a course with `after < seq < until` (if given), in order, at most `limit`.
pub async fn events<C: ConnectionTrait>(
    db: &C,
    course_id: i64,
    after: i64,
    until: Option<i64>,
    limit: u64,
) -> Result<Vec<EventView>> {
    let mut query = chat_events::Entity::find()
        .filter(chat_events::Column::CourseId.eq(course_id))
        .filter(chat_events::Column::Seq.gt(after));
    if let Some(until) = until {
        query = query.filter(chat_events::Column::Seq.lt(until));
    }
    let rows = query
        .order_by_asc(chat_events::Column::Seq)
        .limit(limit)
        .all(db)
        .await?;
    let mut ids: Vec<i64> = rows.iter().filter_map(|e| e.message_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut messages: HashMap<i64, MessageView> = HashMap::new();
    if !ids.is_empty() {
        for row in self::messages()
            .filter(chat_messages::Column::Id.is_in(ids))
            .into_model::<MessageRow>()
            .all(db)
            .await?
        {
            messages.insert(row.id, row.into());
        }
    }
    Ok(rows
        .into_iter()
        .map(|e| EventView {
            seq: e.seq,
            course_id: e.course_id,
            kind: e.kind,
            message: e.message_id.and_then(|id| messages.get(&id).cloned()),
            message_id: e.message_id,
            actor_id: e.actor_id,
            emoji: e.emoji,
            at: e.created_at,
        })
        .collect())
}

/// The last sequence number handed out for a course (0 before its first change).
pub async fn last_seq<C: ConnectionTrait>(db: &C, course_id: i64) -> Result<i64> {
    Ok(chat_sequences::Entity::find_by_id(course_id)
        .one(db)
        .await?
        .map_or(0, |s| s.last_seq))
}

#[cfg(test)]
mod tests {
    use super::is_emoji;

    #[test]
    fn emoji_validation() {
        for ok in ["👍", "❤️", "🎉", "👍🏽", "👩‍💻", "🇵🇹", "1️⃣", "✅", "👨‍👩‍👧‍👦"]
        {
            assert!(is_emoji(ok), "{ok}");
        }
        for bad in ["", "a", "<b>", "👍 ", "ok👍", "1", "🎉".repeat(9).as_str()] {
            assert!(!is_emoji(bad), "{bad:?}");
        }
    }
}

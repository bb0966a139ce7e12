//! Course chat: who may take part, messages and threads, edits with history, moderation (delete, pin),
//! reactions, and the change feed.
//!
//! Every change runs in one transaction that also takes the course's next sequence number (see
//! migration 11) and writes a `chat_events` row, so the feed is gapless and in commit order. On
//! PostgreSQL the same transaction queues a NOTIFY carrying the course id and sequence number, which
//! PostgreSQL delivers to every instance when (and only if) it commits.
//!
//! The area in files: this module (who may take part, the views), `history` (reads), `post` and
//! `writer` (posting: one path, two strategies), `changes` (edits, deletion, pins, reactions), `record`
//! (the feed's write side), `feed` (live delivery to this instance's connections), `access` (the
//! instance's cache of who may use which chat).
use crate::rules::{Range, Text, enum_of, nullable_enum_of};
use chrono::{DateTime, Utc};
use entity::chat_events::{self, EventKind};
use entity::chat_message_edits;
use entity::chat_message_reactions as reactions;
use entity::chat_messages::{self, MessageType};
use entity::chat_sequences;
use entity::courses::{self, CourseStatus, CourseVisibility};
use entity::enrollments::{self, EnrollmentStatus};
use entity::users;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    FromQueryResult, JoinType, Order, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    RelationTrait, Select, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

use crate::chat::writer::PendingPost;
use crate::error::{Error, Result};
use crate::events::{Committed, Events};
use crate::now;
use crate::paging::{MAX_PAGE, page_limit};

pub mod access;
mod changes;
pub mod feed;
mod history;
pub mod pages;
pub mod poll;
mod post;
mod record;
pub mod writer;
pub use crate::events::Change;
pub use changes::*;
pub use history::*;
pub use pages::authors_renamed;
pub use post::*;
pub use record::{NewEvent, Subject, record_event, record_events};
pub use writer::{POST_LIMIT_KEY, POST_LIMIT_WINDOW_SECS, PostWriter};

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
    let staff = crate::courses::is_staff(user, gate.instructor_id);
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
    #[schema(schema_with = enum_of::<MessageType>, example = "text")]
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
    #[param(schema_with = crate::paging::limit_schema)]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    pub items: Vec<MessageView>,
    /// Whether more messages lie beyond this page in the direction paged (older with `before` or by
    /// default, newer with `after`).
    pub has_more: bool,
}

/// What a client sends to post a message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// Plain text, stored exactly as sent (never interpreted as HTML); not blank, at most
    /// `LMS_CHAT_MAX_MESSAGE_CHARS` characters (default 4000).
    #[schema(schema_with = content_schema)]
    pub content: String,
    /// `text` (default), `question`, `answer`, or `announcement` (course staff only).
    #[serde(rename = "type")]
    #[schema(schema_with = nullable_enum_of::<MessageType>, example = "text")]
    pub message_type: Option<MessageType>,
    /// Reply to this message (a top-level message of the same course).
    #[schema(schema_with = parent_id_schema)]
    pub parent_id: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    /// The new plain-text content (same rules as when posting).
    #[schema(schema_with = content_schema)]
    pub content: String,
}

/// Limits that come from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_chars: 4000 }
    }
}

impl Limits {
    /// The rule on a message's content (the API states it in its document with the configured
    /// length).
    pub fn content(&self) -> Text {
        Text::between(1, self.max_chars)
    }
}

/// The id of a message to reply to.
pub const PARENT_ID: Range = Range::new(1, i64::MAX);

crate::rule_schemas! {
    content_schema => Limits::default().content();
    parent_id_schema => PARENT_ID, nullable;
}

fn check_content(content: &str, limits: Limits) -> Result<()> {
    limits
        .content()
        .check(content)
        .map_err(|message| Error::invalid("content", message))
}

/// One earlier version of a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct EditView {
    /// The content the message had before this edit.
    pub content: String,
    pub edited_at: DateTime<Utc>,
}

/// Whether `s` is one emoji (possibly a sequence: skin tones, ZWJ sequences, flags, keycaps).
pub fn is_emoji(s: &str) -> bool {
    let within =
        |c: char, table: &[(char, char)]| table.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c));
    let pictographic = |c: char| within(c, PICTOGRAPHIC);
    let joiner = |c: char| within(c, JOINERS);
    let keycap = |c: char| c.is_ascii_digit() || c == '#' || c == '*';
    EMOJI_LENGTH.check(s).is_ok()
        && s.chars().any(|c| pictographic(c) || c == '\u{20E3}')
        && s.chars()
            .enumerate()
            .all(|(i, c)| pictographic(c) || joiner(c) || (i == 0 && keycap(c)))
}

/// Code points that are emoji (or start one), as inclusive ranges.
const PICTOGRAPHIC: &[(char, char)] = &[
    ('\u{A9}', '\u{A9}'),
    ('\u{AE}', '\u{AE}'),
    ('\u{203C}', '\u{203C}'),
    ('\u{2049}', '\u{2049}'),
    ('\u{2122}', '\u{2122}'),
    ('\u{2139}', '\u{2139}'),
    ('\u{2190}', '\u{21FF}'),
    ('\u{2300}', '\u{23FF}'),
    ('\u{25A0}', '\u{25FF}'),
    ('\u{2600}', '\u{27BF}'),
    ('\u{2934}', '\u{2935}'),
    ('\u{2B00}', '\u{2BFF}'),
    ('\u{3030}', '\u{3030}'),
    ('\u{303D}', '\u{303D}'),
    ('\u{3297}', '\u{3297}'),
    ('\u{3299}', '\u{3299}'),
    ('\u{1F000}', '\u{1FAFF}'),
];
/// What may join or modify them: ZWJ, variation selectors, the keycap mark, tag characters.
const JOINERS: &[(char, char)] = &[
    ('\u{200D}', '\u{200D}'),
    ('\u{20E3}', '\u{20E3}'),
    ('\u{FE0E}', '\u{FE0F}'),
    ('\u{E0020}', '\u{E007F}'),
];
const EMOJI_LENGTH: Text = Text::between(1, 16);

/// A reaction: one emoji, possibly a sequence (skin tone, ZWJ family, flag, keycap), at most 16
/// characters. Its schema's pattern is built from the same tables `is_emoji` reads.
pub struct Emoji;

impl Emoji {
    fn rule() -> Text {
        static PATTERN: std::sync::LazyLock<&'static str> = std::sync::LazyLock::new(|| {
            let class = |tables: &[&[(char, char)]]| {
                let mut out = String::new();
                for &(lo, hi) in tables.iter().flat_map(|t| t.iter()) {
                    out.push(lo);
                    if hi != lo {
                        out.push('-');
                        out.push(hi);
                    }
                }
                out
            };
            let keycap_mark: &[(char, char)] = &[('\u{20E3}', '\u{20E3}')];
            let pattern = format!(
                "^[0-9#*]?[{joiners}]*[{pict}{mark}][{pict}{joiners}]*$",
                joiners = class(&[JOINERS]),
                pict = class(&[PICTOGRAPHIC]),
                mark = class(&[keycap_mark]),
            );
            Box::leak(pattern.into_boxed_str())
        });
        EMOJI_LENGTH.pattern(&PATTERN)
    }
}

impl utoipa::PartialSchema for Emoji {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        Self::rule().schema().into()
    }
}

impl utoipa::ToSchema for Emoji {}

/// One entry of the change feed. `message` is the message as it is now (a tombstone once deleted),
/// so content removed by a deletion is gone from the feed as well; `live_session` likewise is the
/// session as it is when the event is read or pushed (a `started` event read after the end shows the
/// session ended).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    pub seq: i64,
    pub course_id: i64,
    /// `message.created`, `message.edited`, `message.deleted`, `message.pinned`, `message.unpinned`,
    /// `reaction.added`, `reaction.removed` (with `message_id` and `message`), or a live session's
    /// status change: `live_session.scheduled`, `live_session.started`, `live_session.ended`,
    /// `live_session.cancelled`, `live_session.rescheduled` (with `live_session_id` and
    /// `live_session`). Clients should ignore types they do not know: new ones may be added.
    #[serde(rename = "type")]
    #[schema(schema_with = enum_of::<EventKind>, example = "message.created")]
    pub kind: EventKind,
    pub message_id: Option<i64>,
    /// Who made the change (null for changes the server made itself, such as a live session ended
    /// at its window's close).
    pub actor_id: Option<i64>,
    /// The emoji of a reaction event.
    pub emoji: Option<String>,
    pub at: DateTime<Utc>,
    pub message: Option<MessageView>,
    pub live_session_id: Option<i64>,
    pub live_session: Option<crate::live::SessionBrief>,
}

#[cfg(test)]
mod tests {
    use super::{Emoji, is_emoji};

    #[test]
    fn emoji_validation() {
        for ok in ["👍", "❤️", "🎉", "👍🏽", "👩‍💻", "🇵🇹", "1️⃣", "✅", "👨‍👩‍👧‍👦"]
        {
            assert!(is_emoji(ok), "{ok}");
        }
        for bad in ["", "a", "<b>", "👍 ", "ok👍", "1", "🎉".repeat(17).as_str()] {
            assert!(!is_emoji(bad), "{bad:?}");
        }
    }

    /// The document's pattern accepts exactly what `is_emoji` accepts (length aside, which the
    /// schema states as maxLength).
    #[test]
    fn the_emoji_pattern_states_the_rule() {
        let pattern =
            regex::Regex::new(Emoji::rule().pattern.expect("a pattern")).expect("a valid pattern");
        let samples = [
            "👍",
            "❤️",
            "👍🏽",
            "👩‍💻",
            "🇵🇹",
            "1️⃣",
            "#⃣",
            "©",
            "‼",
            "",
            "a",
            "1",
            "👍 ",
            "ok👍",
            "\u{200D}",
            "1👍",
            "👍1",
            "\u{FE0F}",
            "⃣",
            "🎉🎉",
        ];
        for sample in samples {
            assert_eq!(pattern.is_match(sample), is_emoji(sample), "{sample:?}");
        }
    }
}

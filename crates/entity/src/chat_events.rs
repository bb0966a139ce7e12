use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One change to a course's chat, numbered per course: `seq` is gapless and in commit order.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chat_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub course_id: i64,
    pub seq: i64,
    pub kind: EventKind,
    pub message_id: Option<i64>,
    /// Who made the change; None once their account is erased.
    pub actor_id: Option<i64>,
    /// The emoji of a reaction event.
    pub emoji: Option<String>,
    pub created_at: DateTimeUtc,
    /// The session of a `live_session.*` event.
    pub live_session_id: Option<i64>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum EventKind {
    #[sea_orm(string_value = "message.created")]
    #[serde(rename = "message.created")]
    MessageCreated,
    #[sea_orm(string_value = "message.edited")]
    #[serde(rename = "message.edited")]
    MessageEdited,
    #[sea_orm(string_value = "message.deleted")]
    #[serde(rename = "message.deleted")]
    MessageDeleted,
    #[sea_orm(string_value = "message.pinned")]
    #[serde(rename = "message.pinned")]
    MessagePinned,
    #[sea_orm(string_value = "message.unpinned")]
    #[serde(rename = "message.unpinned")]
    MessageUnpinned,
    #[sea_orm(string_value = "reaction.added")]
    #[serde(rename = "reaction.added")]
    ReactionAdded,
    #[sea_orm(string_value = "reaction.removed")]
    #[serde(rename = "reaction.removed")]
    ReactionRemoved,
    #[sea_orm(string_value = "live_session.scheduled")]
    #[serde(rename = "live_session.scheduled")]
    LiveSessionScheduled,
    #[sea_orm(string_value = "live_session.started")]
    #[serde(rename = "live_session.started")]
    LiveSessionStarted,
    #[sea_orm(string_value = "live_session.ended")]
    #[serde(rename = "live_session.ended")]
    LiveSessionEnded,
    #[sea_orm(string_value = "live_session.cancelled")]
    #[serde(rename = "live_session.cancelled")]
    LiveSessionCancelled,
    #[sea_orm(string_value = "live_session.rescheduled")]
    #[serde(rename = "live_session.rescheduled")]
    LiveSessionRescheduled,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::courses::Entity",
        from = "Column::CourseId",
        to = "super::courses::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    Course,
    #[sea_orm(
        belongs_to = "super::chat_messages::Entity",
        from = "Column::MessageId",
        to = "super::chat_messages::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    Message,
    #[sea_orm(
        belongs_to = "super::live_sessions::Entity",
        from = "Column::LiveSessionId",
        to = "super::live_sessions::Column::Id",
        on_update = "Cascade",
        on_delete = "SetNull"
    )]
    LiveSession,
}

impl Related<super::chat_messages::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Message.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

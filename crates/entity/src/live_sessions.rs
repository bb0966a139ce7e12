use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A scheduled live video lesson of a course.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "live_sessions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub course_id: i64,
    /// The curriculum lesson (of kind `live`) this session is, if any.
    pub lesson_id: Option<i64>,
    pub title: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub starts_at: DateTimeUtc,
    pub duration_minutes: i32,
    pub join_early_minutes: i32,
    pub join_late_minutes: i32,
    pub status: LiveStatus,
    /// Unique and unguessable: the video service's room.
    #[sea_orm(unique)]
    pub room_id: String,
    pub recording_enabled: bool,
    pub chat_enabled: bool,
    pub screen_share_enabled: bool,
    /// Attendees with an open interval at once, course staff not counted; None: no cap.
    pub max_participants: Option<i32>,
    /// Attending at least this share of the scheduled duration counts as attended.
    pub attendance_threshold_percent: i16,
    pub started_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub reminder_sent_at: Option<DateTimeUtc>,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(10))",
    rename_all = "snake_case"
)]
pub enum LiveStatus {
    Scheduled,
    Live,
    Ended,
    Cancelled,
}

impl LiveStatus {
    /// The state machine: scheduled -> live -> ended, scheduled -> cancelled.
    pub fn can_become(self, to: LiveStatus) -> bool {
        matches!(
            (self, to),
            (LiveStatus::Scheduled, LiveStatus::Live)
                | (LiveStatus::Live, LiveStatus::Ended)
                | (LiveStatus::Scheduled, LiveStatus::Cancelled)
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            LiveStatus::Scheduled => "scheduled",
            LiveStatus::Live => "live",
            LiveStatus::Ended => "ended",
            LiveStatus::Cancelled => "cancelled",
        }
    }
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
}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A lesson an enrollment completed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lesson_completions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub enrollment_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub lesson_id: i64,
    pub via: CompletedVia,
    pub completed_at: DateTimeUtc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(10))",
    rename_all = "snake_case"
)]
pub enum CompletedVia {
    /// The student marked it done (`text`, `link`).
    Student,
    /// The reported positions covered 90% of the video.
    Video,
    /// The student attended the live session.
    Live,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::enrollments::Entity",
        from = "Column::EnrollmentId",
        to = "super::enrollments::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    Enrollment,
    #[sea_orm(
        belongs_to = "super::lessons::Entity",
        from = "Column::LessonId",
        to = "super::lessons::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    Lesson,
}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// How much of a video lesson an enrollment has watched.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "video_progress")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub enrollment_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub lesson_id: i64,
    pub last_position_seconds: i32,
    pub covered_seconds: i32,
    /// JSON array of merged `[start, end]` intervals, in seconds.
    #[sea_orm(column_type = "Text")]
    pub intervals: String,
    pub updated_at: DateTimeUtc,
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

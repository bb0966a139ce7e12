use sea_orm::entity::prelude::*;

/// The last chat sequence number handed out for a course.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chat_sequences")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub course_id: i64,
    pub last_seq: i64,
    /// Bumped when an author of the course's messages changes their name: with `last_seq`, the
    /// version of everything a history page shows.
    pub authors_version: i64,
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

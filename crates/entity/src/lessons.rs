use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A lesson of a section; `position` is dense within its section. Deleted lessons keep their row
/// (`deleted_at`) so completions earned on them stay in students' history.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lessons")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub course_id: i64,
    pub section_id: i64,
    pub position: i32,
    pub kind: LessonKind,
    pub title: String,
    /// Markdown, stored and served as written (`text` lessons; optional notes on the others).
    #[sea_orm(column_type = "Text", nullable)]
    pub body: Option<String>,
    /// The video (`video`) or the resource (`link`).
    pub url: Option<String>,
    /// The video's length (`video` lessons).
    pub duration_seconds: Option<i32>,
    pub estimated_minutes: i32,
    pub required: bool,
    pub published: bool,
    /// Visible in the catalog to anyone, body included.
    pub preview: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(10))",
    rename_all = "snake_case"
)]
pub enum LessonKind {
    /// A Markdown body; completed by the student.
    Text,
    /// A video; completed once the reported positions cover 90% of it.
    Video,
    /// An external resource; completed by the student.
    Link,
    /// A live session of the course; completed by attending it.
    Live,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::course_sections::Entity",
        from = "Column::SectionId",
        to = "super::course_sections::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    Section,
    #[sea_orm(
        belongs_to = "super::courses::Entity",
        from = "Column::CourseId",
        to = "super::courses::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    Course,
}

impl Related<super::course_sections::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Section.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

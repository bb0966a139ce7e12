use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "courses")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub instructor_id: i64,
    pub title: String,
    #[sea_orm(unique)]
    pub slug: String,
    pub short_description: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub category: Option<String>,
    pub level: CourseLevel,
    pub language: String,
    /// Price in minor units of `currency` (cents); never a float.
    pub price_cents: i64,
    /// ISO 4217 code, upper case.
    pub currency: String,
    pub discount_price_cents: Option<i64>,
    pub discount_ends_at: Option<DateTimeUtc>,
    pub status: CourseStatus,
    pub visibility: CourseVisibility,
    pub is_featured: bool,
    /// Derived from `rating_sum / rating_count`, kept for sorting.
    #[sea_orm(column_type = "Double")]
    pub rating_average: f64,
    pub rating_sum: i64,
    pub rating_count: i32,
    pub student_count: i32,
    pub duration_minutes: i32,
    pub published_at: Option<DateTimeUtc>,
    pub thumbnail_url: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum CourseLevel {
    Beginner,
    Intermediate,
    Advanced,
    AllLevels,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum CourseStatus {
    Draft,
    Published,
    Archived,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum CourseVisibility {
    Public,
    Unlisted,
    Private,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::InstructorId",
        to = "super::users::Column::Id",
        on_update = "Cascade",
        on_delete = "Restrict"
    )]
    Instructor,
    #[sea_orm(has_many = "super::enrollments::Entity")]
    Enrollments,
    #[sea_orm(has_many = "super::chat_messages::Entity")]
    ChatMessages,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Instructor.def()
    }
}

impl Related<super::enrollments::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Enrollments.def()
    }
}

impl Related<super::chat_messages::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ChatMessages.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

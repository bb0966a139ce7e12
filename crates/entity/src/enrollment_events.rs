use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enrollments::EnrollmentStatus;

/// One status transition of an enrollment: from what, to what, by whom, when.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enrollment_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub enrollment_id: i64,
    /// None for the enrollment's creation.
    pub from_status: Option<EnrollmentStatus>,
    pub to_status: EnrollmentStatus,
    pub actor_id: Option<i64>,
    pub actor_kind: ActorKind,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

/// Who moved an enrollment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(20))",
    rename_all = "snake_case"
)]
pub enum ActorKind {
    /// A signed-in user (`actor_id`).
    User,
    PaymentProvider,
    /// The LMS itself (imports, seeded data, automatic transitions).
    System,
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
}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// A webhook delivery from the payment provider, by its unique event id.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub provider_event_id: String,
    pub event_type: String,
    pub payment_reference: Option<String>,
    pub enrollment_id: Option<i64>,
    /// `applied`, `ignored` (nothing to change) or `rejected` (did not match the enrollment).
    pub outcome: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub detail: Option<String>,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

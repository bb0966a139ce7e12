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
    pub outcome: PaymentOutcome,
    #[sea_orm(column_type = "Text", nullable)]
    pub detail: Option<String>,
    pub received_at: DateTimeUtc,
}

/// What became of a webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
pub enum PaymentOutcome {
    /// The enrollment moved.
    Applied,
    /// Nothing to change (already applied).
    Ignored,
    /// Refused: it did not match the enrollment, or its type is not supported.
    Rejected,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

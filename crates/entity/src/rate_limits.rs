use sea_orm::entity::prelude::*;

/// A throttle counter (fixed window), shared by every API instance through the database.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub hits: i32,
    /// Unix seconds.
    pub window_start: i64,
    /// Unix seconds; requests on this key are refused until then.
    pub blocked_until: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

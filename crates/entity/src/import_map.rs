use sea_orm::entity::prelude::*;

/// What the importer did with one row of the legacy database: the row it created or merged into, or
/// why it skipped it, with a checksum of the source row (a later run imports what changed).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "import_map")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub source_table: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub source_id: i64,
    pub target_id: Option<i64>,
    pub outcome: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub reason: Option<String>,
    pub checksum: String,
    pub imported_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

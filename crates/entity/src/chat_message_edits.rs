use sea_orm::entity::prelude::*;

/// The content a message had before one edit.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chat_message_edits")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub message_id: i64,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub edited_by: Option<i64>,
    pub edited_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::chat_messages::Entity",
        from = "Column::MessageId",
        to = "super::chat_messages::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    Message,
}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "unusable_answers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub recorded_at: DateTimeUtc,
    pub server_id: i64,
    pub call: String,
    pub binding_id: Option<i64>,
    pub transaction_id: Option<i64>,
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub error: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub body: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

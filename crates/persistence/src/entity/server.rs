use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "servers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub port: i32,
    #[sea_orm(unique)]
    pub base_url: String,
    pub enabled: bool,
    pub state: String,
    pub state_reason: Option<String>,
    pub device_id: Option<String>,
    pub settings: Option<Json>,
    /// The number whose session the server may still hold (see the migration of 2026-12-01).
    pub session_msisdn: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

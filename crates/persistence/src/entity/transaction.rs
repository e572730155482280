use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "transactions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub attempt_key: String,
    pub account_id: i64,
    pub binding_id: i64,
    pub server_id: i64,
    pub batch_id: String,
    pub msisdn: String,
    pub trx_id: Option<String>,
    pub t_id: Option<String>,
    pub product_id: String,
    /// The product's name as the server listed it when it was bought, when it gave one.
    pub product_name: Option<String>,
    pub limit_harga: i64,
    pub price: i64,
    pub pulsa_awal: i64,
    pub pulsa_akhir: Option<i64>,
    pub status: String,
    pub voucher: Option<String>,
    pub raw: Option<Json>,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When the operator resolved a `SUSPECT` purchase; the evidence above stays as recorded.
    pub resolved_at: Option<DateTimeUtc>,
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

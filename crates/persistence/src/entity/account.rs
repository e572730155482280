use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub msisdn: String,
    pub email: String,
    pub pin: Option<String>,
    pub batch_id: String,
    pub status: String,
    pub is_reseller: Option<bool>,
    pub attempts: i32,
    pub leased_server_id: Option<i64>,
    pub lease_owner: Option<String>,
    pub leased_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// The PIN never prints, even from a raw row.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("msisdn", &self.msisdn)
            .field("email", &self.email)
            .field("pin", &self.pin.as_ref().map(|_| "****"))
            .field("batch_id", &self.batch_id)
            .field("status", &self.status)
            .field("is_reseller", &self.is_reseller)
            .field("attempts", &self.attempts)
            .field("leased_server_id", &self.leased_server_id)
            .field("lease_owner", &self.lease_owner)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

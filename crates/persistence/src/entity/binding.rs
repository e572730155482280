use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bindings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub server_id: i64,
    pub batch_id: String,
    pub msisdn: String,
    pub state: String,
    /// Bumped by every move: the compare-and-set key, so a copy read before a round trip
    /// (`OTP_REQUESTED → OTP_VERIFICATION → OTP_REQUESTED`) is still stale.
    pub version: i32,
    pub end_reason: Option<String>,
    /// Kept for debugging, as the owner asked; never printed.
    pub token_login: Option<String>,
    /// Kept for debugging, as the owner asked; never printed.
    pub token_location: Option<String>,
    pub balance_start: Option<i64>,
    pub balance_last: Option<i64>,
    pub device_id: Option<String>,
    pub raw: Option<Json>,
    /// Each state the binding entered and when (`[{"state": "BOUND", "at": …}, …]`),
    /// written with the move itself: the number's history.
    pub trail: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
}

/// Tokens never print, even from a raw row.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let masked = |t: &Option<String>| t.as_ref().map(|_| "****");
        f.debug_struct("Binding")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("server_id", &self.server_id)
            .field("batch_id", &self.batch_id)
            .field("msisdn", &self.msisdn)
            .field("state", &self.state)
            .field("version", &self.version)
            .field("end_reason", &self.end_reason)
            .field("token_login", &masked(&self.token_login))
            .field("token_location", &masked(&self.token_location))
            .field("balance_start", &self.balance_start)
            .field("balance_last", &self.balance_last)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

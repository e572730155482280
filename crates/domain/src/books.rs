//! What a database booked, as plain values: every purchase row and every binding with its
//! balances. The store hands them out (`Store::books`) and the simulator holds them against the
//! servers' ledger (`reconcile`), so neither needs to know the other.

use crate::{Msisdn, Rupiah, TrxStatus};

/// One purchase row as the database booked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookedPurchase {
    /// The row's id: a later purchase has a greater one.
    pub id: i64,
    pub attempt_key: String,
    pub binding_id: i64,
    pub msisdn: Msisdn,
    pub trx_id: Option<String>,
    pub price: Rupiah,
    pub status: TrxStatus,
    pub voucher: Option<String>,
    /// The balance read after the purchase; `None` when it could not be read.
    pub pulsa_akhir: Option<Rupiah>,
}

/// One binding row as the database booked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookedBinding {
    /// The row's id: a number's later binding has a greater one.
    pub id: i64,
    /// The number's account: the bindings of one account are one number's sessions.
    pub account_id: i64,
    pub balance_start: Option<Rupiah>,
    pub balance_last: Option<Rupiah>,
}

/// What the database booked: every purchase row, whatever its status, and every binding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Books {
    pub purchases: Vec<BookedPurchase>,
    pub bindings: Vec<BookedBinding>,
}

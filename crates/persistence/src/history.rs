//! A number's story in one place: its account, each binding it had (on which server, the states
//! it went through and when, why it ended, its pulsa), each purchase, and the suspects with their
//! resolution: what the operator looks at when a customer asks about a number.
//!
//! Read from the account's row, its bindings (`ix_bindings_account`) with their trails, and
//! their purchases (`ix_transactions_binding`): three queries, whatever the size of the books.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use simrotor_domain::{Msisdn, Rupiah, TrxStatus};

use crate::bindings::{TrailStep, parse_trail};
use crate::entity::{account, binding, transaction};
use crate::suspects::ports_of;
use crate::vouchers::VoucherRow;
use crate::{Store, StoreError};

/// One binding of a number, as its history shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindingHistory {
    pub id: i64,
    /// The port of the server it was bound to.
    pub server: Option<u16>,
    pub device_id: Option<String>,
    /// Its current or last state.
    pub state: String,
    /// Why it ended (`EXHAUSTED`, `NOT_RESELLER`, …); `None` while open.
    pub end_reason: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub balance_start: Option<Rupiah>,
    pub balance_last: Option<Rupiah>,
    /// Each state it entered and when, in order.
    pub trail: Vec<TrailStep>,
    /// Its purchases, in order.
    pub purchases: Vec<VoucherRow>,
}

/// A number's whole story.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NumberHistory {
    pub msisdn: String,
    pub batch: String,
    /// The account's state now (`AVAILABLE`, `LEASED`, `DONE`, …).
    pub status: String,
    pub reseller: Option<bool>,
    /// Failed logins counted against it.
    pub attempts: i32,
    pub last_error: Option<String>,
    pub imported_at: DateTime<Utc>,
    pub bindings: Vec<BindingHistory>,
    /// Its suspect purchases (also under their bindings), with the operator's resolution.
    pub suspects: Vec<VoucherRow>,
}

impl NumberHistory {
    /// Every purchase of the number, in order.
    pub fn purchases(&self) -> impl Iterator<Item = &VoucherRow> {
        self.bindings.iter().flat_map(|b| b.purchases.iter())
    }
}

impl Store {
    /// The history of `msisdn`; `None` when the number was never imported.
    pub async fn history(&self, msisdn: &Msisdn) -> Result<Option<NumberHistory>, StoreError> {
        let Some(acc) = account::Entity::find()
            .filter(account::Column::Msisdn.eq(msisdn.as_str()))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let bindings = binding::Entity::find()
            .filter(binding::Column::AccountId.eq(acc.id))
            .order_by_asc(binding::Column::Id)
            .all(&self.db)
            .await?;
        let ids: Vec<i64> = bindings.iter().map(|b| b.id).collect();
        let purchases = if ids.is_empty() {
            Vec::new()
        } else {
            transaction::Entity::find()
                .filter(transaction::Column::BindingId.is_in(ids))
                .order_by_asc(transaction::Column::Id)
                .all(&self.db)
                .await?
        };
        let ports = ports_of(
            &self.db,
            bindings
                .iter()
                .map(|b| b.server_id)
                .chain(purchases.iter().map(|p| p.server_id)),
        )
        .await?;
        let mut purchases = purchases
            .into_iter()
            .map(|m| VoucherRow::from_row(m, &ports))
            .collect::<Result<Vec<_>, _>>()?;
        let suspects = purchases
            .iter()
            .filter(|p| p.status == TrxStatus::Suspect)
            .cloned()
            .collect();
        let mut out = Vec::with_capacity(bindings.len());
        for b in bindings {
            let money = |v: Option<i64>| {
                v.map(Rupiah::from_i64)
                    .transpose()
                    .map_err(|e| StoreError::corrupt("bindings", b.id, e))
            };
            let mut trail = parse_trail(b.id, b.trail.clone())?;
            if trail.is_empty() {
                // A binding from before trails were kept: what its row still says.
                trail.push(TrailStep {
                    state: "BOUND".to_owned(),
                    at: b.created_at,
                });
                if b.state != "BOUND" {
                    trail.push(TrailStep {
                        state: b.state.clone(),
                        at: b.ended_at.unwrap_or(b.updated_at),
                    });
                }
            }
            let (mine, rest): (Vec<_>, Vec<_>) =
                purchases.into_iter().partition(|p| p.binding == b.id);
            purchases = rest;
            out.push(BindingHistory {
                id: b.id,
                server: ports.get(&b.server_id).copied(),
                balance_start: money(b.balance_start)?,
                balance_last: money(b.balance_last)?,
                device_id: b.device_id,
                state: b.state,
                end_reason: b.end_reason,
                opened_at: b.created_at,
                ended_at: b.ended_at,
                trail,
                purchases: mine,
            });
        }
        Ok(Some(NumberHistory {
            msisdn: acc.msisdn,
            batch: acc.batch_id,
            status: acc.status,
            reseller: acc.is_reseller,
            attempts: acc.attempts,
            last_error: acc.last_error,
            imported_at: acc.created_at,
            bindings: out,
            suspects,
        }))
    }
}

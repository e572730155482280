//! Suspect purchases and the operator's resolution of them.
//!
//! A `SUSPECT` row is evidence: the runtime saw the pulsa go without a voucher (or lost the
//! answer), and recorded what it saw. Resolving one is the operator's verdict written beside
//! that evidence (who, when, why), never over it: status, price and pulsa stay as recorded, so
//! the recap still counts the money as suspect and the row still says what happened. A late
//! voucher can still make a resolved row `SUKSES`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use simrotor_domain::{Rupiah, TrxStatus};

use crate::entity::{server, transaction};
use crate::{Store, StoreError};

/// A suspect purchase as the operator reviews it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Suspect {
    pub id: i64,
    /// The port of the server it was bought on.
    pub server: Option<u16>,
    pub batch: String,
    pub msisdn: String,
    pub binding: i64,
    pub trx_id: Option<String>,
    pub product: String,
    pub price: Rupiah,
    pub pulsa_awal: Rupiah,
    pub pulsa_akhir: Option<Rupiah>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
}

impl Suspect {
    fn from_row(m: transaction::Model, ports: &HashMap<i64, u16>) -> Result<Self, StoreError> {
        let money =
            |v: i64| Rupiah::from_i64(v).map_err(|e| StoreError::corrupt("transactions", m.id, e));
        Ok(Suspect {
            id: m.id,
            server: ports.get(&m.server_id).copied(),
            price: money(m.price)?,
            pulsa_awal: money(m.pulsa_awal)?,
            pulsa_akhir: m.pulsa_akhir.map(money).transpose()?,
            batch: m.batch_id,
            msisdn: m.msisdn,
            binding: m.binding_id,
            trx_id: m.trx_id,
            product: m.product_id,
            note: m.note,
            created_at: m.created_at,
            resolved_at: m.resolved_at,
            resolved_by: m.resolved_by,
            resolution: m.resolution,
        })
    }
}

/// The ports of `server_ids`, in one query.
pub(crate) async fn ports_of<C: ConnectionTrait>(
    conn: &C,
    server_ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, u16>, StoreError> {
    let mut ids: Vec<i64> = server_ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    server::Entity::find()
        .filter(server::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|s| {
            let port =
                u16::try_from(s.port).map_err(|e| StoreError::corrupt("servers", s.id, e))?;
            Ok((s.id, port))
        })
        .collect()
}

/// `value` trimmed, refused when nothing is left: a resolution must say who and why.
fn required<'a>(field: &'static str, value: &'a str) -> Result<&'a str, StoreError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(StoreError::Invalid {
            field,
            reason: "must not be empty".to_owned(),
        });
    }
    Ok(value)
}

impl Store {
    /// The suspect purchases, oldest first: the unresolved ones, or all of them with
    /// `include_resolved`.
    pub async fn suspects(&self, include_resolved: bool) -> Result<Vec<Suspect>, StoreError> {
        let mut q = transaction::Entity::find()
            .filter(transaction::Column::Status.eq(TrxStatus::Suspect.name()))
            .order_by_asc(transaction::Column::Id);
        if !include_resolved {
            q = q.filter(transaction::Column::ResolvedAt.is_null());
        }
        let rows = q.all(&self.db).await?;
        let ports = ports_of(&self.db, rows.iter().map(|r| r.server_id)).await?;
        rows.into_iter()
            .map(|m| Suspect::from_row(m, &ports))
            .collect()
    }

    /// Records the operator's resolution of suspect purchase `id`: who looked and what they
    /// concluded. One compare-and-set on "still SUSPECT and unresolved", so two operators
    /// resolving together get one verdict, not the last one; nothing else of the row changes.
    pub async fn resolve_suspect(
        &self,
        id: i64,
        who: &str,
        why: &str,
    ) -> Result<Suspect, StoreError> {
        let who = required("who", who)?;
        let why = required("why", why)?;
        let write = self.begin_write().await?;
        // `updated_at` is left alone: it stays the time of the last evidence, and the verdict
        // has its own time.
        let res = transaction::Entity::update_many()
            .col_expr(transaction::Column::ResolvedAt, Expr::value(Utc::now()))
            .col_expr(transaction::Column::ResolvedBy, Expr::value(who))
            .col_expr(transaction::Column::Resolution, Expr::value(why))
            .filter(transaction::Column::Id.eq(id))
            .filter(transaction::Column::Status.eq(TrxStatus::Suspect.name()))
            .filter(transaction::Column::ResolvedAt.is_null())
            .exec(&write)
            .await?;
        let row = transaction::Entity::find_by_id(id).one(&write).await?;
        let Some(row) = row else {
            return Err(StoreError::TransactionNotFound { id });
        };
        if res.rows_affected != 1 {
            return Err(if row.status != TrxStatus::Suspect.name() {
                StoreError::NotSuspect {
                    id,
                    status: row.status,
                }
            } else if row.resolved_at.is_some() {
                StoreError::AlreadyResolved {
                    id,
                    by: row.resolved_by.unwrap_or_default(),
                }
            } else {
                // Not SUSPECT when updated, SUSPECT when read back: it moved in between.
                StoreError::StalePurchase {
                    id,
                    expected: TrxStatus::Suspect.name().to_owned(),
                }
            });
        }
        let ports = ports_of(&write, [row.server_id]).await?;
        write.commit().await?;
        Suspect::from_row(row, &ports)
    }
}

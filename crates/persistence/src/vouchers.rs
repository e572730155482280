//! The vouchers the operator sells, and the day's purchases hour by hour: read from the
//! transactions as they are, computed on demand like the recap.
//!
//! An export walks the purchases in time order by keyset pages over `ix_transactions_created`
//! (`ix_transactions_batch_created` for one batch), so exporting 10 M rows holds one page in
//! memory and exporting the same range twice gives the same rows in the same order. The hourly
//! series is one index range per hour over the covering `ix_transactions_created`.

use std::collections::HashMap;

use chrono::{DateTime, DurationRound as _, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde::Serialize;
use simrotor_domain::{BatchId, Rupiah, TrxStatus};

use crate::entity::transaction;
use crate::suspects::ports_of;
use crate::{Store, StoreError};

/// Which purchases an export holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum VoucherStatus {
    /// The purchases that gave a voucher (`SUKSES`): what the operator sells.
    #[default]
    Sukses,
    /// The suspect ones, resolved or not.
    Suspect,
    /// Every purchase, whatever its status.
    All,
}

impl VoucherStatus {
    pub const NAMES: [&'static str; 3] = ["sukses", "suspect", "all"];

    fn only(self) -> Option<TrxStatus> {
        match self {
            VoucherStatus::Sukses => Some(TrxStatus::Success),
            VoucherStatus::Suspect => Some(TrxStatus::Suspect),
            VoucherStatus::All => None,
        }
    }
}

impl std::str::FromStr for VoucherStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sukses" | "success" => Ok(VoucherStatus::Sukses),
            "suspect" => Ok(VoucherStatus::Suspect),
            "all" => Ok(VoucherStatus::All),
            _ => Err(StoreError::Invalid {
                field: "status",
                reason: format!("{s:?} is not one of {}", VoucherStatus::NAMES.join(", ")),
            }),
        }
    }
}

/// The purchases of an export: of one batch or all, made in `[since, until)`.
#[derive(Debug, Clone, Default)]
pub struct VoucherFilter {
    pub batch: Option<BatchId>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub status: VoucherStatus,
}

impl VoucherFilter {
    /// Refuses a range that ends before it starts.
    pub fn validate(&self) -> Result<(), StoreError> {
        if let (Some(since), Some(until)) = (self.since, self.until)
            && until < since
        {
            return Err(StoreError::Invalid {
                field: "until",
                reason: format!("{until} is before since ({since})"),
            });
        }
        Ok(())
    }
}

/// One purchase as the operator sells and books it. No token, PIN or OTP is in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoucherRow {
    /// The transaction's id (what `simrotor resolve` takes).
    pub id: i64,
    /// When it was bought (its intent was written).
    pub time: DateTime<Utc>,
    pub voucher: Option<String>,
    pub product_id: String,
    pub product_name: Option<String>,
    pub price: Rupiah,
    pub msisdn: String,
    pub batch: String,
    /// The port of the server it was bought on.
    pub server: Option<u16>,
    pub binding: i64,
    pub trx_id: Option<String>,
    pub pulsa_before: Rupiah,
    pub pulsa_after: Option<Rupiah>,
    pub status: TrxStatus,
    /// Why the runtime recorded it so (a suspect's evidence).
    pub note: Option<String>,
    /// A resolved suspect: who resolved it, when and why.
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
}

impl VoucherRow {
    pub(crate) fn from_row(
        m: transaction::Model,
        ports: &HashMap<i64, u16>,
    ) -> Result<Self, StoreError> {
        let money =
            |v: i64| Rupiah::from_i64(v).map_err(|e| StoreError::corrupt("transactions", m.id, e));
        Ok(VoucherRow {
            id: m.id,
            time: m.created_at,
            server: ports.get(&m.server_id).copied(),
            price: money(m.price)?,
            pulsa_before: money(m.pulsa_awal)?,
            pulsa_after: m.pulsa_akhir.map(money).transpose()?,
            status: m.status.parse()?,
            voucher: m.voucher,
            product_id: m.product_id,
            product_name: m.product_name,
            msisdn: m.msisdn,
            batch: m.batch_id,
            binding: m.binding_id,
            trx_id: m.trx_id,
            note: m.note,
            resolved_by: m.resolved_by,
            resolved_at: m.resolved_at,
            resolution: m.resolution,
        })
    }
}

impl VoucherRow {
    /// The export's columns, in the order of [`VoucherRow::record`].
    pub const HEADER: [&'static str; 15] = [
        "time",
        "voucher",
        "product_id",
        "product_name",
        "price",
        "msisdn",
        "batch",
        "server",
        "trx_id",
        "pulsa_before",
        "pulsa_after",
        "status",
        "note",
        "resolution",
        "id",
    ];

    /// The row as the export writes it: the time in this machine's zone with its offset (to the
    /// second), money as whole rupiah digits a spreadsheet sums, a suspect's resolution in
    /// words (`unresolved` until the operator resolves it).
    pub fn record(&self) -> [String; 15] {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let resolution = match (self.status, &self.resolved_by) {
            (_, Some(by)) => format!(
                "resolved by {by} at {}: {}",
                local_time(self.resolved_at.unwrap_or(self.time)),
                self.resolution.as_deref().unwrap_or_default()
            ),
            (TrxStatus::Suspect, None) => "unresolved".to_owned(),
            _ => String::new(),
        };
        [
            local_time(self.time),
            opt(&self.voucher),
            self.product_id.clone(),
            opt(&self.product_name),
            self.price.get().to_string(),
            self.msisdn.clone(),
            self.batch.clone(),
            self.server.map(|p| p.to_string()).unwrap_or_default(),
            opt(&self.trx_id),
            self.pulsa_before.get().to_string(),
            self.pulsa_after
                .map(|p| p.get().to_string())
                .unwrap_or_default(),
            self.status.name().to_owned(),
            opt(&self.note),
            resolution,
            self.id.to_string(),
        ]
    }
}

/// `2026-12-01T15:10:00+07:00`: a moment as the operator reads it, in this machine's zone.
pub fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono::Local)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// How many purchases an export holds and what they cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VoucherSummary {
    pub count: u64,
    pub total_price: Rupiah,
}

impl VoucherSummary {
    pub fn add(&mut self, row: &VoucherRow) {
        self.count += 1;
        self.total_price = self.total_price + row.price;
    }
}

/// Where the next page of an export starts: after this purchase's time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoucherCursor {
    time: DateTime<Utc>,
    id: i64,
}

impl VoucherRow {
    /// The cursor of the page that follows this row.
    pub fn cursor(&self) -> VoucherCursor {
        VoucherCursor {
            time: self.time,
            id: self.id,
        }
    }
}

/// One hour of purchases, by what came of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HourTotals {
    /// The hour's start (UTC).
    pub start: DateTime<Utc>,
    /// Purchases that gave a voucher.
    pub sukses: u64,
    /// The pulsa those spent.
    pub spent: Rupiah,
    pub suspect: u64,
    /// The pulsa the suspect ones may have spent.
    pub suspect_amount: Rupiah,
    pub gagal: u64,
    pub processing: u64,
}

impl Store {
    /// Up to `limit` purchases of `filter`, in time order, after `cursor` (from the start
    /// without one). An empty page ends the export.
    pub async fn voucher_page(
        &self,
        filter: &VoucherFilter,
        cursor: Option<VoucherCursor>,
        limit: u64,
    ) -> Result<Vec<VoucherRow>, StoreError> {
        filter.validate()?;
        let mut q = transaction::Entity::find();
        if let Some(status) = filter.status.only() {
            q = q.filter(transaction::Column::Status.eq(status.name()));
        }
        if let Some(batch) = &filter.batch {
            q = q.filter(transaction::Column::BatchId.eq(batch.as_str()));
        }
        if let Some(since) = filter.since {
            q = q.filter(transaction::Column::CreatedAt.gte(since));
        }
        if let Some(until) = filter.until {
            q = q.filter(transaction::Column::CreatedAt.lt(until));
        }
        if let Some(c) = cursor {
            // A row value, so the index range starts at the cursor instead of at the filter's
            // start: page N costs what page 1 does.
            q = q.filter(
                Expr::tuple([
                    Expr::col(transaction::Column::CreatedAt),
                    Expr::col(transaction::Column::Id),
                ])
                .gt(Expr::tuple([Expr::value(c.time), Expr::value(c.id)])),
            );
        }
        let rows = q
            .order_by_asc(transaction::Column::CreatedAt)
            .order_by_asc(transaction::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        let ports = ports_of(&self.db, rows.iter().map(|r| r.server_id)).await?;
        rows.into_iter()
            .map(|m| VoucherRow::from_row(m, &ports))
            .collect()
    }

    /// Every purchase of `filter`, in time order (for a bounded range; an export of everything
    /// walks [`Store::voucher_page`] instead).
    pub async fn vouchers(&self, filter: &VoucherFilter) -> Result<Vec<VoucherRow>, StoreError> {
        const PAGE: u64 = 5_000;
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.voucher_page(filter, cursor, PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(out);
            };
            cursor = Some(last.cursor());
            let full = page.len() as u64 == PAGE;
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// The last `hours` hours of purchases up to `now`, oldest first, one entry per hour (the
    /// current one partial), each hour with nothing in it included.
    pub async fn hourly(
        &self,
        hours: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<HourTotals>, StoreError> {
        let hour = TimeDelta::hours(1);
        let current = now.duration_trunc(hour).map_err(|e| StoreError::Invalid {
            field: "now",
            reason: e.to_string(),
        })?;
        let mut out = Vec::with_capacity(hours as usize);
        for back in (0..i64::from(hours)).rev() {
            let start = current - hour * i32::try_from(back).unwrap_or(i32::MAX);
            let stmt = Statement::from_sql_and_values(
                self.backend(),
                "SELECT status, COUNT(*) AS n, CAST(COALESCE(SUM(price), 0) AS BIGINT) AS amount \
                 FROM transactions WHERE created_at >= $1 AND created_at < $2 GROUP BY status",
                vec![start.into(), (start + hour).into()],
            );
            let mut totals = HourTotals {
                start,
                ..HourTotals::default()
            };
            for row in self.db.query_all_raw(stmt).await? {
                let n: i64 = row.try_get("", "n")?;
                let n = u64::try_from(n).unwrap_or(0);
                let amount: i64 = row.try_get("", "amount")?;
                let amount =
                    Rupiah::from_i64(amount).map_err(|e| StoreError::corrupt("hourly", 0, e))?;
                let status: String = row.try_get("", "status")?;
                match status.parse::<TrxStatus>()? {
                    TrxStatus::Success => {
                        totals.sukses += n;
                        totals.spent = totals.spent + amount;
                    }
                    TrxStatus::Suspect => {
                        totals.suspect += n;
                        totals.suspect_amount = totals.suspect_amount + amount;
                    }
                    TrxStatus::Failed => totals.gagal += n,
                    TrxStatus::Processing => totals.processing += n,
                }
            }
            out.push(totals);
        }
        Ok(out)
    }
}

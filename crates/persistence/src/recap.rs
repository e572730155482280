//! The recap per batch, computed on demand from accounts, bindings and transactions; never
//! stored, so it can never disagree with them.
//!
//! Four grouped queries, each served by an index (`ix_accounts_batch_lease`,
//! `ix_transactions_recap` covers the transaction half, `ix_bindings_batch`), so a recap over
//! millions of transactions takes a fraction of a second.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, QueryResult, Statement, Value};
use serde::Serialize;
use simrotor_domain::{AccountState, BatchId, Rupiah, TrxStatus};

use crate::{Store, StoreError};

/// Numbers of a batch by where they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NumberCounts {
    pub total: u64,
    pub available: u64,
    pub in_use: u64,
    pub done: u64,
    pub non_reseller: u64,
    pub blocked: u64,
    pub failed: u64,
    /// In use and waiting for a login OTP right now.
    pub waiting_otp: u64,
}

/// Pulsa of a batch. `start` and `left` cover the numbers that logged in at least once (a
/// number's balance is unknown before): `start` is each number's first `balance_start`, `left`
/// its last known balance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PulsaSums {
    pub start: Rupiah,
    /// The price of successful purchases.
    pub spent: Rupiah,
    /// The price of suspect purchases: money that may be gone without a voucher.
    pub suspect: Rupiah,
    pub left: Rupiah,
}

/// Transactions of a batch by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TrxCounts {
    pub total: u64,
    pub processing: u64,
    pub success: u64,
    pub suspect: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchRecap {
    pub batch_id: String,
    pub numbers: NumberCounts,
    pub pulsa: PulsaSums,
    pub transactions: TrxCounts,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recap {
    pub batches: Vec<BatchRecap>,
    pub total: BatchRecap,
}

fn count(row: &QueryResult, col: &str) -> Result<u64, StoreError> {
    let n: i64 = row.try_get("", col)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn money(row: &QueryResult, col: &str) -> Result<Rupiah, StoreError> {
    let n: i64 = row.try_get("", col)?;
    Rupiah::from_i64(n).map_err(|e| StoreError::corrupt("recap", 0, e))
}

impl BatchRecap {
    fn add(&mut self, other: &BatchRecap) {
        let n = &mut self.numbers;
        let o = &other.numbers;
        n.total += o.total;
        n.available += o.available;
        n.in_use += o.in_use;
        n.done += o.done;
        n.non_reseller += o.non_reseller;
        n.blocked += o.blocked;
        n.failed += o.failed;
        n.waiting_otp += o.waiting_otp;
        let p = &mut self.pulsa;
        p.start = p.start + other.pulsa.start;
        p.spent = p.spent + other.pulsa.spent;
        p.suspect = p.suspect + other.pulsa.suspect;
        p.left = p.left + other.pulsa.left;
        let t = &mut self.transactions;
        let o = &other.transactions;
        t.total += o.total;
        t.processing += o.processing;
        t.success += o.success;
        t.suspect += o.suspect;
        t.failed += o.failed;
    }
}

impl Store {
    async fn grouped(
        &self,
        sql: &str,
        batch: Option<&BatchId>,
    ) -> Result<Vec<QueryResult>, StoreError> {
        let (filter, values): (&str, Vec<Value>) = match batch {
            Some(b) => ("batch_id = $1", vec![b.as_str().into()]),
            None => ("1 = 1", vec![]),
        };
        let sql = sql.replace("{filter}", filter);
        let stmt = Statement::from_sql_and_values(self.backend(), sql, values);
        Ok(self.db.query_all_raw(stmt).await?)
    }

    /// The recap of one batch, or of every batch, with the total.
    pub async fn recap(&self, batch: Option<&BatchId>) -> Result<Recap, StoreError> {
        let mut by_batch: BTreeMap<String, BatchRecap> = BTreeMap::new();
        fn entry(map: &mut BTreeMap<String, BatchRecap>, id: String) -> &mut BatchRecap {
            map.entry(id.clone()).or_insert_with(|| BatchRecap {
                batch_id: id,
                ..Default::default()
            })
        }

        let accounts = self
            .grouped(
                "SELECT batch_id, status, COUNT(*) AS n FROM accounts WHERE {filter} GROUP BY batch_id, status",
                batch,
            )
            .await?;
        for row in accounts {
            let r = entry(&mut by_batch, row.try_get("", "batch_id")?);
            let n = count(&row, "n")?;
            let status: String = row.try_get("", "status")?;
            r.numbers.total += n;
            match status.parse::<AccountState>()? {
                AccountState::Available => r.numbers.available += n,
                AccountState::Leased => r.numbers.in_use += n,
                AccountState::Done => r.numbers.done += n,
                AccountState::NonReseller => r.numbers.non_reseller += n,
                AccountState::Blocked => r.numbers.blocked += n,
                AccountState::Failed => r.numbers.failed += n,
            }
        }

        let trx = self
            .grouped(
                "SELECT batch_id, status, COUNT(*) AS n, CAST(COALESCE(SUM(price), 0) AS BIGINT) AS amount \
                 FROM transactions WHERE {filter} GROUP BY batch_id, status",
                batch,
            )
            .await?;
        for row in trx {
            let r = entry(&mut by_batch, row.try_get("", "batch_id")?);
            let n = count(&row, "n")?;
            let amount = money(&row, "amount")?;
            let status: String = row.try_get("", "status")?;
            r.transactions.total += n;
            match status.parse::<TrxStatus>()? {
                TrxStatus::Processing => r.transactions.processing += n,
                TrxStatus::Success => {
                    r.transactions.success += n;
                    r.pulsa.spent = r.pulsa.spent + amount;
                }
                TrxStatus::Suspect => {
                    r.transactions.suspect += n;
                    r.pulsa.suspect = r.pulsa.suspect + amount;
                }
                TrxStatus::Failed => r.transactions.failed += n,
            }
        }

        let pulsa = self
            .grouped(
                "SELECT batch_id, \
                   CAST(COALESCE(SUM(CASE WHEN id = first_id THEN balance_start ELSE 0 END), 0) AS BIGINT) AS pulsa_start, \
                   CAST(COALESCE(SUM(CASE WHEN id = last_id THEN balance_last ELSE 0 END), 0) AS BIGINT) AS pulsa_left \
                 FROM (SELECT batch_id, id, balance_start, balance_last, \
                         MIN(id) OVER (PARTITION BY account_id) AS first_id, \
                         MAX(id) OVER (PARTITION BY account_id) AS last_id \
                       FROM bindings WHERE balance_start IS NOT NULL AND {filter}) AS logged_in \
                 GROUP BY batch_id",
                batch,
            )
            .await?;
        for row in pulsa {
            let r = entry(&mut by_batch, row.try_get("", "batch_id")?);
            r.pulsa.start = money(&row, "pulsa_start")?;
            r.pulsa.left = money(&row, "pulsa_left")?;
        }

        let waiting = self
            .grouped(
                "SELECT batch_id, COUNT(*) AS n FROM bindings \
                 WHERE ended_at IS NULL AND state = 'OTP_VERIFICATION' AND {filter} GROUP BY batch_id",
                batch,
            )
            .await?;
        for row in waiting {
            let r = entry(&mut by_batch, row.try_get("", "batch_id")?);
            r.numbers.waiting_otp = count(&row, "n")?;
        }

        let mut total = BatchRecap {
            batch_id: "TOTAL".to_owned(),
            ..Default::default()
        };
        for r in by_batch.values() {
            total.add(r);
        }
        Ok(Recap {
            batches: by_batch.into_values().collect(),
            total,
        })
    }
}

/// What happened since a moment (the operator's "today"): purchases by status, the pulsa they
/// spent, and the bindings that ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SinceTotals {
    pub since: chrono::DateTime<chrono::Utc>,
    pub transactions: TrxCounts,
    pub pulsa: PulsaSums,
    pub bindings_ended: u64,
}

impl Store {
    /// Purchases started and bindings ended at or after `since`.
    pub async fn totals_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<SinceTotals, StoreError> {
        let mut out = SinceTotals {
            since,
            ..Default::default()
        };
        let stmt = Statement::from_sql_and_values(
            self.backend(),
            "SELECT status, COUNT(*) AS n, CAST(COALESCE(SUM(price), 0) AS BIGINT) AS amount \
             FROM transactions WHERE created_at >= $1 GROUP BY status",
            vec![since.into()],
        );
        for row in self.db.query_all_raw(stmt).await? {
            let n = count(&row, "n")?;
            let amount = money(&row, "amount")?;
            let status: String = row.try_get("", "status")?;
            out.transactions.total += n;
            match status.parse::<TrxStatus>()? {
                TrxStatus::Processing => out.transactions.processing += n,
                TrxStatus::Success => {
                    out.transactions.success += n;
                    out.pulsa.spent = out.pulsa.spent + amount;
                }
                TrxStatus::Suspect => {
                    out.transactions.suspect += n;
                    out.pulsa.suspect = out.pulsa.suspect + amount;
                }
                TrxStatus::Failed => out.transactions.failed += n,
            }
        }
        let stmt = Statement::from_sql_and_values(
            self.backend(),
            "SELECT COUNT(*) AS n FROM bindings WHERE ended_at >= $1",
            vec![since.into()],
        );
        if let Some(row) = self.db.query_one_raw(stmt).await? {
            out.bindings_ended = count(&row, "n")?;
        }
        Ok(out)
    }
}

//! Purchases. The intent is committed before `trx_idv` is sent and the outcome after, so a crash
//! at any point leaves a row that says what may have happened; the attempt key (binding and
//! sequence number) is unique, so a retry after a crash finds the old intent instead of buying
//! twice.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait as _, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;
use simrotor_domain::{
    BatchId, BookedBinding, BookedPurchase, Books, Msisdn, Rupiah, StateMachine, TrxEvent,
    TrxStatus,
};

use crate::bindings::{Transacting, merge_raw};
use crate::commit::Statements;
use crate::entity::{binding, transaction};
use crate::{Store, StoreError};

/// What is about to be bought.
#[derive(Debug, Clone)]
pub struct PurchaseIntent {
    /// The purchase's number within its binding (1, 2, …): with the binding id, its attempt key.
    pub seq: u32,
    pub product_id: String,
    /// The product's name as the server listed it, when it gave one.
    pub product_name: Option<String>,
    pub limit_harga: Rupiah,
    pub price: Rupiah,
    pub pulsa_awal: Rupiah,
}

/// What came of it.
#[derive(Debug, Clone, Default)]
pub struct PurchaseOutcome {
    pub pulsa_akhir: Option<Rupiah>,
    pub voucher: Option<String>,
    /// Raw answers, merged into the row's `raw` object.
    pub raw: Option<serde_json::Value>,
    /// Why, in words, for the operator (the evidence of a suspect purchase).
    pub note: Option<String>,
}

/// A stored purchase.
#[derive(Debug, Clone, Serialize)]
pub struct Purchase {
    pub id: i64,
    pub attempt_key: String,
    pub binding_id: i64,
    pub server_id: i64,
    pub batch_id: BatchId,
    pub msisdn: Msisdn,
    pub trx_id: Option<String>,
    pub product_id: String,
    pub price: Rupiah,
    pub pulsa_awal: Rupiah,
    pub pulsa_akhir: Option<Rupiah>,
    pub status: TrxStatus,
    pub voucher: Option<String>,
    pub note: Option<String>,
    /// The row's `raw` as last written: answers are merged into it here, so no write reads the
    /// row back first.
    #[serde(skip)]
    pub(crate) raw: Option<serde_json::Value>,
}

impl TryFrom<transaction::Model> for Purchase {
    type Error = StoreError;
    fn try_from(m: transaction::Model) -> Result<Self, StoreError> {
        let money =
            |v: i64| Rupiah::from_i64(v).map_err(|e| StoreError::corrupt("transactions", m.id, e));
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::corrupt("transactions", m.id, format!("{what}: {e}"))
        };
        Ok(Purchase {
            id: m.id,
            price: money(m.price)?,
            pulsa_awal: money(m.pulsa_awal)?,
            pulsa_akhir: m.pulsa_akhir.map(money).transpose()?,
            status: m.status.parse()?,
            attempt_key: m.attempt_key,
            binding_id: m.binding_id,
            server_id: m.server_id,
            batch_id: BatchId::parse(&m.batch_id).map_err(|e| bad("batch_id", &e))?,
            msisdn: Msisdn::parse(&m.msisdn).map_err(|e| bad("msisdn", &e))?,
            trx_id: m.trx_id,
            product_id: m.product_id,
            voucher: m.voucher,
            note: m.note,
            raw: m.raw,
        })
    }
}

/// `INSERT INTO transactions … SELECT … WHERE` the fence holds `ON CONFLICT (attempt_key) DO
/// NOTHING RETURNING id`: an intent that is written only while the lease is this runtime's.
fn fenced_intent(
    row: &transaction::ActiveModel,
    fence: &crate::Fence,
) -> Result<sea_orm::sea_query::InsertStatement, StoreError> {
    use sea_orm::sea_query::{OnConflict, Query, SimpleExpr};
    use sea_orm::{ActiveModelTrait as _, Iterable as _};
    let mut columns = Vec::new();
    let mut values: Vec<SimpleExpr> = Vec::new();
    for column in transaction::Column::iter() {
        if let sea_orm::ActiveValue::Set(value) = row.get(column) {
            columns.push(column);
            values.push(Expr::val(value));
        }
    }
    let select = Query::select()
        .exprs(values)
        .and_where(Expr::exists(fence.held()))
        .to_owned();
    let mut insert = Query::insert();
    insert
        .into_table(transaction::Entity)
        .columns(columns)
        .select_from(select)
        .map_err(|e| StoreError::corrupt("transactions", 0, e))?
        .on_conflict(
            OnConflict::column(transaction::Column::AttemptKey)
                .do_nothing()
                .to_owned(),
        )
        .returning_col(transaction::Column::Id);
    Ok(insert.to_owned())
}

/// The attempt key of purchase `seq` of `binding_id`.
pub fn attempt_key(binding_id: i64, seq: u32) -> String {
    format!("b{binding_id}-{seq}")
}

impl Store {
    /// Commits the intent of a purchase, `PROCESSING`, before anything is sent, for a binding
    /// that is `TRANSACTING` (the type says so); refuses an attempt key already written.
    pub async fn write_purchase_intent(
        &self,
        binding: Transacting<'_>,
        intent: PurchaseIntent,
    ) -> Result<Purchase, StoreError> {
        let key = attempt_key(binding.id, intent.seq);
        let now = Utc::now();
        let row = transaction::ActiveModel {
            attempt_key: Set(key.clone()),
            account_id: Set(binding.account.id),
            binding_id: Set(binding.id),
            server_id: Set(binding.server_id),
            batch_id: Set(binding.account.batch_id.as_str().to_owned()),
            msisdn: Set(binding.account.msisdn.as_str().to_owned()),
            trx_id: Set(None),
            t_id: Set(None),
            product_id: Set(intent.product_id.clone()),
            product_name: Set(intent.product_name.clone()),
            limit_harga: Set(intent.limit_harga.as_i64()),
            price: Set(intent.price.as_i64()),
            pulsa_awal: Set(intent.pulsa_awal.as_i64()),
            pulsa_akhir: Set(None),
            status: Set(TrxStatus::Processing.name().to_owned()),
            voucher: Set(None),
            raw: Set(None),
            note: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            resolved_at: Set(None),
            resolved_by: Set(None),
            resolution: Set(None),
            ..Default::default()
        };
        if let Some(fence) = self.fence.clone() {
            // A driver's intent checks its fence in the insert itself (one statement on SQLite).
            let statement = fenced_intent(&row, &fence)?;
            let inserted = self
                .commit(Statements::OneFencing, move |txn| {
                    let (statement, fence) = (statement.clone(), fence.clone());
                    Box::pin(async move {
                        let backend = txn.get_database_backend();
                        match txn.query_one_raw(backend.build(&statement)).await? {
                            Some(row) => Ok(Some(row.try_get::<i64>("", "id")?)),
                            None => {
                                // Nothing inserted: refused by the fence, or the duplicate.
                                fence.check(txn).await?;
                                Ok(None)
                            }
                        }
                    })
                })
                .await?;
            return self.intent_written(inserted, key, binding, intent);
        }
        // Insert-or-nothing: a conflict on the attempt key is the duplicate.
        let inserted = self
            .commit(Statements::One, move |txn| {
                let row = row.clone();
                Box::pin(async move {
                    let inserted = transaction::Entity::insert(row)
                        .on_conflict_do_nothing_on([transaction::Column::AttemptKey])
                        .exec(txn)
                        .await?;
                    Ok(match inserted {
                        sea_orm::TryInsertResult::Inserted(r) => Some(r.last_insert_id),
                        _ => None,
                    })
                })
            })
            .await?;
        self.intent_written(inserted, key, binding, intent)
    }

    /// The purchase an intent's insert made (`inserted`: its id, `None` for a duplicate).
    fn intent_written(
        &self,
        inserted: Option<i64>,
        key: String,
        binding: Transacting<'_>,
        intent: PurchaseIntent,
    ) -> Result<Purchase, StoreError> {
        let Some(id) = inserted else {
            return Err(StoreError::DuplicateAttempt { attempt_key: key });
        };
        Ok(Purchase {
            id,
            attempt_key: key,
            binding_id: binding.id,
            server_id: binding.server_id,
            batch_id: binding.account.batch_id.clone(),
            msisdn: binding.account.msisdn.clone(),
            trx_id: None,
            product_id: intent.product_id,
            price: intent.price,
            pulsa_awal: intent.pulsa_awal,
            pulsa_akhir: None,
            status: TrxStatus::Processing,
            voucher: None,
            note: None,
            raw: None,
        })
    }

    /// Records `trx_idv`'s answer: the purchase stays `PROCESSING` until its status is final.
    /// One statement, compare-and-set on the status. The write is queued at once (before any
    /// later write of this purchase) and `purchase` updated; the future returned is its commit,
    /// so the caller may poll the status meanwhile and the write ride in another's batch.
    pub fn record_purchase_accepted(
        &self,
        purchase: &mut Purchase,
        trx_id: &str,
        t_id: Option<&str>,
        raw: serde_json::Value,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'static {
        let merged = merge_raw(purchase.raw.clone(), raw);
        let update = transaction::Entity::update_many()
            .col_expr(transaction::Column::TrxId, Expr::value(trx_id))
            .col_expr(transaction::Column::TId, Expr::value(t_id))
            .col_expr(transaction::Column::Raw, Expr::value(merged.clone()))
            .col_expr(transaction::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(transaction::Column::Id.eq(purchase.id))
            .filter(transaction::Column::Status.eq(TrxStatus::Processing.name()));
        let update = self.fence_filter(update);
        let id = purchase.id;
        purchase.trx_id = Some(trx_id.to_owned());
        purchase.raw = Some(merged);
        let fence = self.fence.clone();
        self.queue(Statements::OneFencing, move |txn| {
            let (update, fence) = (update.clone(), fence.clone());
            Box::pin(async move {
                let res = update.exec(txn).await?;
                if res.rows_affected != 1 {
                    let stale = StoreError::StalePurchase {
                        id,
                        expected: TrxStatus::Processing.name().to_owned(),
                    };
                    return Err(Self::nothing_written(fence, txn, stale).await);
                }
                Ok(())
            })
        })
    }

    /// Moves a purchase by `event` and records its outcome; the binding's last known balance
    /// follows `pulsa_akhir` in the same transaction.
    pub async fn write_purchase_outcome(
        &self,
        purchase: &mut Purchase,
        event: TrxEvent,
        outcome: PurchaseOutcome,
    ) -> Result<TrxStatus, StoreError> {
        let next = purchase.status.apply(&event)?;
        let mut update = transaction::Entity::update_many()
            .col_expr(transaction::Column::Status, Expr::value(next.name()))
            .col_expr(transaction::Column::UpdatedAt, Expr::value(Utc::now()));
        if let Some(p) = outcome.pulsa_akhir {
            update = update.col_expr(transaction::Column::PulsaAkhir, Expr::value(p.as_i64()));
        }
        if let Some(v) = &outcome.voucher {
            update = update.col_expr(transaction::Column::Voucher, Expr::value(v.clone()));
        }
        if let Some(n) = &outcome.note {
            update = update.col_expr(transaction::Column::Note, Expr::value(n.clone()));
        }
        let merged = outcome.raw.map(|raw| merge_raw(purchase.raw.clone(), raw));
        if let Some(merged) = &merged {
            update = update.col_expr(transaction::Column::Raw, Expr::value(merged.clone()));
        }
        let update = self.fence_filter(
            update
                .filter(transaction::Column::Id.eq(purchase.id))
                .filter(transaction::Column::Status.eq(purchase.status.name())),
        );
        let last = outcome.pulsa_akhir.map(|p| {
            binding::Entity::update_many()
                .col_expr(binding::Column::BalanceLast, Expr::value(p.as_i64()))
                .col_expr(binding::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(binding::Column::Id.eq(purchase.binding_id))
        });
        let (id, expected) = (purchase.id, purchase.status.name());
        let statements = if last.is_some() {
            Statements::Several
        } else {
            Statements::OneFencing
        };
        let fence = self.fence.clone();
        self.commit(statements, move |txn| {
            let (update, last, fence) = (update.clone(), last.clone(), fence.clone());
            Box::pin(async move {
                let res = update.exec(txn).await?;
                if res.rows_affected != 1 {
                    let stale = StoreError::StalePurchase {
                        id,
                        expected: expected.to_owned(),
                    };
                    return Err(Self::nothing_written(fence, txn, stale).await);
                }
                if let Some(last) = last {
                    last.exec(txn).await?;
                }
                Ok(())
            })
        })
        .await?;
        purchase.status = next;
        purchase.raw = merged.or(purchase.raw.take());
        purchase.pulsa_akhir = outcome.pulsa_akhir.or(purchase.pulsa_akhir);
        purchase.voucher = outcome.voucher.or(purchase.voucher.take());
        purchase.note = outcome.note.or(purchase.note.take());
        Ok(next)
    }

    /// Purchases of a binding, oldest first.
    pub async fn purchases_of_binding(&self, binding_id: i64) -> Result<Vec<Purchase>, StoreError> {
        self.purchases_where(transaction::Column::BindingId.eq(binding_id))
            .await
    }

    /// Whether the account has bought on a binding whose server reported `device_id` (an
    /// executed purchase: `SUKSES` or `SUSPECT`). The first purchase on a new device may need a
    /// transaction OTP.
    pub async fn has_purchased_on_device(
        &self,
        account_id: i64,
        device_id: &str,
    ) -> Result<bool, StoreError> {
        use sea_orm::PaginatorTrait;
        let bindings: Vec<i64> = binding::Entity::find()
            .filter(binding::Column::AccountId.eq(account_id))
            .filter(binding::Column::DeviceId.eq(device_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|b| b.id)
            .collect();
        if bindings.is_empty() {
            return Ok(false);
        }
        let n = transaction::Entity::find()
            .filter(transaction::Column::BindingId.is_in(bindings))
            .filter(
                transaction::Column::Status
                    .is_in([TrxStatus::Success.name(), TrxStatus::Suspect.name()]),
            )
            .count(&self.db)
            .await?;
        Ok(n > 0)
    }

    /// What the database booked, for holding against a ledger: every purchase row, whatever
    /// its status, in id order, and every binding with its balances.
    pub async fn books(&self) -> Result<Books, StoreError> {
        let purchases = transaction::Entity::find()
            .order_by_asc(transaction::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| {
                let p = Purchase::try_from(m)?;
                Ok(BookedPurchase {
                    id: p.id,
                    attempt_key: p.attempt_key,
                    binding_id: p.binding_id,
                    msisdn: p.msisdn,
                    trx_id: p.trx_id,
                    price: p.price,
                    status: p.status,
                    voucher: p.voucher,
                    pulsa_akhir: p.pulsa_akhir,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let bindings = self
            .binding_records()
            .await?
            .into_iter()
            .map(|b| BookedBinding {
                id: b.id,
                account_id: b.account_id,
                balance_start: b.balance_start,
                balance_last: b.balance_last,
            })
            .collect();
        Ok(Books {
            purchases,
            bindings,
        })
    }

    /// Purchases in a status (e.g. `SUSPECT` for the operator's review), oldest first.
    pub async fn purchases_with_status(
        &self,
        status: TrxStatus,
    ) -> Result<Vec<Purchase>, StoreError> {
        self.purchases_where(transaction::Column::Status.eq(status.name()))
            .await
    }

    /// The purchases `condition` selects, oldest first.
    async fn purchases_where(
        &self,
        condition: sea_orm::sea_query::SimpleExpr,
    ) -> Result<Vec<Purchase>, StoreError> {
        transaction::Entity::find()
            .filter(condition)
            .order_by_asc(transaction::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Purchase::try_from)
            .collect()
    }
}

//! The pool of accounts: import, the atomic lease, listing, and reclaiming leases that a dead
//! process left behind.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};
use serde::Serialize;
use simrotor_domain::{AccountEvent, AccountState, BatchId, Email, Msisdn, Pin, StateMachine};

use crate::commit::Statements;
use crate::entity::{account, binding};
use crate::{Store, StoreError};

/// Who holds a lease: one running process. Leases of another owner are stale at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseOwner(String);

impl LeaseOwner {
    /// A fresh owner for this process run: `pid-<pid>-<uuid>`.
    pub fn for_this_process() -> Self {
        Self(format!(
            "pid-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ))
    }

    /// A named owner (tests, or a second process in a scale-out setup).
    pub fn named(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One valid row to import.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub msisdn: Msisdn,
    pub email: Email,
    pub pin: Option<Pin>,
}

/// The account a lease hands out, parsed back into domain types.
#[derive(Debug, Clone)]
pub struct LeasedAccount {
    pub id: i64,
    pub msisdn: Msisdn,
    pub email: Email,
    /// `None`: use `login.default_pin`.
    pub pin: Option<Pin>,
    pub batch_id: BatchId,
    pub attempts: u32,
}

/// A stored account field, parsed again by the domain: a value that does not parse is a corrupt
/// row, named with its field.
fn stored<T, E: std::fmt::Display>(
    id: i64,
    field: &str,
    parsed: Result<T, E>,
) -> Result<T, StoreError> {
    parsed.map_err(|e| StoreError::corrupt("accounts", id, format!("{field}: {e}")))
}

impl TryFrom<account::Model> for LeasedAccount {
    type Error = StoreError;
    fn try_from(m: account::Model) -> Result<Self, StoreError> {
        Ok(LeasedAccount {
            id: m.id,
            msisdn: stored(m.id, "msisdn", Msisdn::parse(&m.msisdn))?,
            email: stored(m.id, "email", Email::parse(&m.email))?,
            pin: stored(m.id, "pin", m.pin.as_deref().map(Pin::parse).transpose())?,
            batch_id: stored(m.id, "batch_id", BatchId::parse(&m.batch_id))?,
            attempts: u32::try_from(m.attempts).unwrap_or(0),
        })
    }
}

/// Proof that the pool handed one account to one server. Only the store makes one, and opening
/// a binding consumes it: nobody acts on an account without holding its lease.
#[derive(Debug)]
#[must_use = "a lease not turned into a binding stays LEASED until start-up reclaims it"]
pub struct Lease {
    pub(crate) account: LeasedAccount,
    pub(crate) server_id: i64,
    pub(crate) owner: LeaseOwner,
}

impl Lease {
    pub fn account(&self) -> &LeasedAccount {
        &self.account
    }
    pub fn server_id(&self) -> i64 {
        self.server_id
    }
}

/// An account as `simrotor accounts` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct AccountRow {
    pub id: i64,
    pub msisdn: Msisdn,
    pub email: Email,
    pub batch_id: BatchId,
    pub status: AccountState,
    pub is_reseller: Option<bool>,
    pub attempts: i32,
    pub leased_server_id: Option<i64>,
    pub last_error: Option<String>,
}

/// A lease a dead process left, put back into the pool at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasedLease {
    pub account_id: i64,
    pub msisdn: Msisdn,
    pub batch_id: BatchId,
    /// The server it was leased for.
    pub server_id: Option<i64>,
    pub from: AccountState,
    pub to: AccountState,
}

/// Which accounts to list.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    pub batch: Option<BatchId>,
    pub status: Option<AccountState>,
    pub limit: Option<u64>,
}

/// An update that ends an account's lease (no server, no owner, no lease time) and puts it in
/// `status`; the caller adds its own columns and filters.
pub(crate) fn end_lease(status: AccountState) -> sea_orm::UpdateMany<account::Entity> {
    account::Entity::update_many()
        .col_expr(account::Column::Status, Expr::value(status.name()))
        .col_expr(
            account::Column::LeasedServerId,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(
            account::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            account::Column::LeasedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(account::Column::UpdatedAt, Expr::value(Utc::now()))
}

impl Store {
    /// Inserts one chunk of accounts, skipping numbers already present anywhere. Returns how
    /// many were inserted. Runs on the caller's connection or transaction.
    pub(crate) async fn insert_accounts<C: ConnectionTrait>(
        conn: &C,
        batch: &BatchId,
        rows: &[NewAccount],
    ) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let now = Utc::now();
        let models = rows.iter().map(|r| account::ActiveModel {
            msisdn: Set(r.msisdn.as_str().to_owned()),
            email: Set(r.email.as_str().to_owned()),
            pin: Set(r.pin.as_ref().map(|p| p.expose().to_owned())),
            batch_id: Set(batch.as_str().to_owned()),
            status: Set(AccountState::Available.name().to_owned()),
            is_reseller: Set(None),
            attempts: Set(0),
            leased_server_id: Set(None),
            lease_owner: Set(None),
            leased_at: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
        let res = account::Entity::insert_many(models)
            .on_conflict_do_nothing_on([account::Column::Msisdn])
            .exec_without_returning(conn)
            .await?;
        Ok(match res {
            sea_orm::TryInsertResult::Inserted(n) => n,
            sea_orm::TryInsertResult::Empty | sea_orm::TryInsertResult::Conflicted => 0,
        })
    }

    /// Imports accounts in one transaction (for callers that hold the rows already; the CSV
    /// import streams instead). Returns how many were new.
    pub async fn import_accounts(
        &self,
        batch: &BatchId,
        rows: &[NewAccount],
    ) -> Result<u64, StoreError> {
        let write = self.begin_write().await?;
        let mut inserted = 0;
        for chunk in rows.chunks(crate::import::CHUNK_ROWS) {
            inserted += Self::insert_accounts(&write, batch, chunk).await?;
        }
        write.commit().await?;
        Ok(inserted)
    }

    /// Leases the next available account to `server_id`, or `None` when the pool is empty.
    ///
    /// One statement claims the row: `UPDATE … WHERE id = (SELECT … LIMIT 1) AND status =
    /// 'AVAILABLE' RETURNING *`. SQLite's single writer makes that atomic; on PostgreSQL the
    /// subquery takes `FOR UPDATE SKIP LOCKED`, so concurrent leasers, in this process or in
    /// another, skip rows being claimed instead of double-leasing or reporting a false empty.
    pub async fn lease_next_account(
        &self,
        server_id: i64,
        owner: &LeaseOwner,
        batch: Option<&BatchId>,
    ) -> Result<Option<Lease>, StoreError> {
        let mut next = Query::select();
        next.column(account::Column::Id)
            .from(account::Entity)
            .and_where(account::Column::Status.eq(AccountState::Available.name()))
            .order_by(account::Column::Attempts, sea_orm::Order::Asc)
            .order_by(account::Column::Id, sea_orm::Order::Asc)
            .limit(1);
        if let Some(batch) = batch {
            next.and_where(account::Column::BatchId.eq(batch.as_str()));
        }
        if self.backend() == DatabaseBackend::Postgres {
            next.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let claimed = account::Entity::update_many()
            .col_expr(
                account::Column::Status,
                Expr::value(AccountState::Leased.name()),
            )
            .col_expr(account::Column::LeasedServerId, Expr::value(server_id))
            .col_expr(account::Column::LeaseOwner, Expr::value(owner.as_str()))
            .col_expr(account::Column::LeasedAt, Expr::value(Utc::now()))
            .col_expr(account::Column::UpdatedAt, Expr::value(Utc::now()))
            // A scalar `id = (SELECT …)`, never `id IN (…)`: PostgreSQL may plan `IN` as a
            // semi-join that re-runs the subquery per row, and with SKIP LOCKED each re-run
            // claims another row, leasing the whole pool in one call.
            .filter(Expr::col(account::Column::Id).eq(Expr::SubQuery(None, Box::new(next.into()))))
            .filter(account::Column::Status.eq(AccountState::Available.name()));
        let claimed = self
            .commit(Statements::One, move |txn| {
                let claim = claimed.clone();
                Box::pin(async move { Ok(claim.exec_with_returning(txn).await?) })
            })
            .await?;
        match claimed.into_iter().next() {
            None => Ok(None),
            Some(model) => Ok(Some(Lease {
                account: LeasedAccount::try_from(model)?,
                server_id,
                owner: owner.clone(),
            })),
        }
    }

    /// Puts back into the pool the accounts leased before `leased_before` by an owner not among
    /// `live` (the runtimes that still run: this one, and those with a current heartbeat) that
    /// never got a binding (the process died between lease and bind). Accounts with an open
    /// binding are not touched: whoever holds the server resumes those bindings. Each account
    /// moves through its transition function (`AccountEvent::Released`), compare-and-set on the
    /// lease it was read with; the released ones are returned for the audit trail.
    pub async fn release_stale_leases(
        &self,
        live: &[LeaseOwner],
        leased_before: DateTime<Utc>,
    ) -> Result<Vec<ReleasedLease>, StoreError> {
        let open = Query::select()
            .column(binding::Column::AccountId)
            .from(binding::Entity)
            .and_where(binding::Column::EndedAt.is_null())
            .to_owned();
        let stale = account::Entity::find()
            .filter(account::Column::Status.eq(AccountState::Leased.name()))
            .filter(account::Column::LeaseOwner.is_not_in(live.iter().map(LeaseOwner::as_str)))
            .filter(account::Column::LeasedAt.lt(leased_before))
            .filter(account::Column::Id.not_in_subquery(open))
            .order_by_asc(account::Column::Id)
            .all(&self.db)
            .await?;
        let mut released = Vec::with_capacity(stale.len());
        for m in stale {
            let from: AccountState = m.status.parse()?;
            let to = from.apply(&AccountEvent::Released)?;
            let res = end_lease(to)
                .filter(account::Column::Id.eq(m.id))
                .filter(account::Column::Status.eq(from.name()))
                .filter(account::Column::LeaseOwner.eq(m.lease_owner.clone()))
                .exec(&self.writer)
                .await?;
            if res.rows_affected == 1 {
                released.push(ReleasedLease {
                    account_id: m.id,
                    msisdn: stored(m.id, "msisdn", Msisdn::parse(&m.msisdn))?,
                    batch_id: stored(m.id, "batch_id", BatchId::parse(&m.batch_id))?,
                    server_id: m.leased_server_id,
                    from,
                    to,
                });
            }
        }
        Ok(released)
    }

    /// Lists accounts in import order.
    pub async fn accounts(&self, filter: &AccountFilter) -> Result<Vec<AccountRow>, StoreError> {
        let mut q = account::Entity::find().order_by_asc(account::Column::Id);
        if let Some(batch) = &filter.batch {
            q = q.filter(account::Column::BatchId.eq(batch.as_str()));
        }
        if let Some(status) = filter.status {
            q = q.filter(account::Column::Status.eq(status.name()));
        }
        if let Some(limit) = filter.limit {
            q = q.limit(limit);
        }
        q.all(&self.db)
            .await?
            .into_iter()
            .map(|m| {
                Ok(AccountRow {
                    status: m.status.parse()?,
                    id: m.id,
                    msisdn: stored(m.id, "msisdn", Msisdn::parse(&m.msisdn))?,
                    email: stored(m.id, "email", Email::parse(&m.email))?,
                    batch_id: stored(m.id, "batch_id", BatchId::parse(&m.batch_id))?,
                    is_reseller: m.is_reseller,
                    attempts: m.attempts,
                    leased_server_id: m.leased_server_id,
                    last_error: m.last_error,
                })
            })
            .collect()
    }

    /// How many accounts are available to lease in each batch, every batch that has accounts
    /// (zero included), in batch order: one grouped query on `ix_accounts_batch_lease`.
    pub async fn available_by_batch(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let stmt = Statement::from_sql_and_values(
            self.backend(),
            "SELECT batch_id, \
               CAST(COALESCE(SUM(CASE WHEN status = $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS n \
             FROM accounts GROUP BY batch_id",
            [AccountState::Available.name().into()],
        );
        let mut counts = self
            .db
            .query_all_raw(stmt)
            .await?
            .into_iter()
            .map(|row| {
                let batch: String = row.try_get("", "batch_id")?;
                let n: i64 = row.try_get("", "n")?;
                Ok((batch, u64::try_from(n).unwrap_or(0)))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Sorted here, bytewise like the recap: PostgreSQL's collation may order names
        // differently from SQLite.
        counts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(counts)
    }

    /// How many accounts are available to lease (optionally in one batch).
    pub async fn available_count(&self, batch: Option<&BatchId>) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        let mut q = account::Entity::find()
            .filter(account::Column::Status.eq(AccountState::Available.name()));
        if let Some(batch) = batch {
            q = q.filter(account::Column::BatchId.eq(batch.as_str()));
        }
        Ok(q.count(&self.db).await?)
    }
}

//! Bindings: one number's session on one server. Opened from a lease, moved only through the
//! domain's transition function as compare-and-set on the state it was read in, closed
//! together with the settlement of its account in one transaction.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseExecutor, EntityTrait, PaginatorTrait,
    QueryFilter,
};
use simrotor_domain::{
    AccountEvent, AccountState, BatchId, BindingEvent, BindingState, Msisdn, Rupiah, StateMachine,
};

use crate::accounts::{Lease, LeaseOwner, LeasedAccount, end_lease};
use crate::commit::Statements;
use crate::entity::{account, binding};
use crate::{Store, StoreError};

/// An open binding, as the runtime holds it. Its state can only change through
/// [`Store::move_binding`] and [`Store::close_binding`].
#[derive(Clone)]
pub struct Binding {
    pub id: i64,
    pub server_id: i64,
    pub account: LeasedAccount,
    state: BindingState,
    version: i32,
    /// The row's `raw` as last written, and whether its `balance_start` is set: a move merges
    /// into the one and sets the other once without reading the row back.
    raw: Option<serde_json::Value>,
    has_balance_start: bool,
    /// The row's `trail` as last written: each move appends its state to it.
    trail: Vec<TrailStep>,
}

/// One step of a binding's trail: a state it entered, and when (UTC). The trail is written with
/// the move itself, so a number's history reads it from the binding's row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrailStep {
    /// The state's stored name (`BOUND`, `OTP_REQUESTED`, …, `LOGGED_OUT`, `FAILED`).
    pub state: String,
    pub at: DateTime<Utc>,
}

impl TrailStep {
    fn now(state: BindingState, at: DateTime<Utc>) -> Self {
        TrailStep {
            state: state.as_str().to_owned(),
            at,
        }
    }
}

/// A stored trail, read back; a row from before trails were kept has none.
pub(crate) fn parse_trail(
    id: i64,
    trail: Option<serde_json::Value>,
) -> Result<Vec<TrailStep>, StoreError> {
    match trail {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(value) => serde_json::from_value(value)
            .map_err(|e| StoreError::corrupt("bindings", id, format!("trail: {e}"))),
    }
}

/// Now, to the microsecond PostgreSQL keeps: a trail step's time in the JSON is then the same
/// instant as the row's own columns on either database.
fn now_micros() -> DateTime<Utc> {
    use chrono::SubsecRound as _;
    Utc::now().trunc_subsecs(6)
}

fn trail_json(trail: &[TrailStep]) -> serde_json::Value {
    serde_json::to_value(trail).unwrap_or(serde_json::Value::Null)
}

/// The row's answers stay out of a debug print: they are evidence, kept in the database.
impl std::fmt::Debug for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Binding")
            .field("id", &self.id)
            .field("server_id", &self.server_id)
            .field("account", &self.account)
            .field("state", &self.state)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Binding {
    pub fn state(&self) -> BindingState {
        self.state
    }

    /// Just opened, never moved: it has no purchases, nothing of it to recover.
    pub fn is_fresh(&self) -> bool {
        self.version == 0
    }

    /// This binding as one that may buy: only a `TRANSACTING` binding can be handed to
    /// [`Store::write_purchase_intent`].
    pub fn transacting(&self) -> Result<Transacting<'_>, StoreError> {
        if self.state != BindingState::Transacting {
            return Err(StoreError::NotTransacting {
                id: self.id,
                state: self.state.as_str().to_owned(),
            });
        }
        Ok(Transacting(self))
    }
}

/// A binding as the books read it: open or ended, its number, its state and its balances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingRecord {
    pub id: i64,
    pub account_id: i64,
    pub server_id: i64,
    pub batch_id: BatchId,
    pub msisdn: Msisdn,
    pub state: BindingState,
    pub balance_start: Option<Rupiah>,
    pub balance_last: Option<Rupiah>,
    pub device_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl BindingRecord {
    /// Why it ended (`EXHAUSTED`, `PROTOCOL`, …), as the table stores it; `None` while open.
    pub fn end_reason(&self) -> Option<&'static str> {
        self.state.end_reason()
    }
}

impl TryFrom<binding::Model> for BindingRecord {
    type Error = StoreError;
    fn try_from(m: binding::Model) -> Result<Self, StoreError> {
        let bad = |field: &str, e: &dyn std::fmt::Display| {
            StoreError::corrupt("bindings", m.id, format!("{field}: {e}"))
        };
        let money = |v: Option<i64>, field: &str| {
            v.map(Rupiah::from_i64)
                .transpose()
                .map_err(|e| bad(field, &e))
        };
        Ok(BindingRecord {
            id: m.id,
            account_id: m.account_id,
            server_id: m.server_id,
            batch_id: BatchId::parse(&m.batch_id).map_err(|e| bad("batch_id", &e))?,
            msisdn: Msisdn::parse(&m.msisdn).map_err(|e| bad("msisdn", &e))?,
            state: BindingState::from_stored(&m.state, m.end_reason.as_deref())?,
            balance_start: money(m.balance_start, "balance_start")?,
            balance_last: money(m.balance_last, "balance_last")?,
            device_id: m.device_id,
            created_at: m.created_at,
            ended_at: m.ended_at,
        })
    }
}

/// Proof that a binding is `TRANSACTING` (products listed): what a purchase is written for.
/// Made only by [`Binding::transacting`].
#[derive(Debug, Clone, Copy)]
pub struct Transacting<'a>(&'a Binding);

impl std::ops::Deref for Transacting<'_> {
    type Target = Binding;
    fn deref(&self) -> &Binding {
        self.0
    }
}

/// What a move records beside the state; `None` leaves a column as it is.
#[derive(Default, Clone)]
pub struct BindingPatch {
    pub token_login: Option<String>,
    pub token_location: Option<String>,
    pub balance_start: Option<Rupiah>,
    pub balance_last: Option<Rupiah>,
    pub device_id: Option<String>,
    /// Raw answers, merged into the binding's `raw` object under their keys.
    pub raw: Option<serde_json::Value>,
}

impl std::fmt::Debug for BindingPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BindingPatch")
            .field("token_login", &self.token_login.as_ref().map(|_| "****"))
            .field(
                "token_location",
                &self.token_location.as_ref().map(|_| "****"),
            )
            .field("balance_start", &self.balance_start)
            .field("balance_last", &self.balance_last)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

/// How an ended binding settles its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Pulsa used up: `DONE`.
    Exhausted,
    /// Not a reseller: `NON_RESELLER`, reseller flag false.
    NotReseller,
    /// Blocked: `BLOCKED`, never retried.
    Blocked,
    /// Login failed: back to the pool with one more attempt, `FAILED` at `max_attempts`.
    LoginFailed { max_attempts: u32 },
    /// Not the number's fault: back to the pool as it was.
    Released,
}

/// Merges `patch` object keys into `base` (objects only; anything else is replaced).
/// What a binding's row holds after a move (see [`Binding`]'s cached fields).
struct Written {
    raw: Option<serde_json::Value>,
    has_balance_start: bool,
    trail: Vec<TrailStep>,
}

pub(crate) fn merge_raw(
    base: Option<serde_json::Value>,
    patch: serde_json::Value,
) -> serde_json::Value {
    match (base, patch) {
        (Some(serde_json::Value::Object(mut base)), serde_json::Value::Object(patch)) => {
            base.extend(patch);
            serde_json::Value::Object(base)
        }
        (_, patch) => patch,
    }
}

impl Store {
    /// Opens a binding in `BOUND` for a lease. Fails with `LeaseLost` if the account is no longer
    /// leased to this server by this owner (a reclaimed lease is never acted on).
    pub async fn open_binding(&self, lease: Lease) -> Result<Binding, StoreError> {
        let now = now_micros();
        let state = BindingState::INITIAL;
        let trail = vec![TrailStep::now(state, now)];
        let row = binding::ActiveModel {
            account_id: Set(lease.account.id),
            server_id: Set(lease.server_id),
            batch_id: Set(lease.account.batch_id.as_str().to_owned()),
            msisdn: Set(lease.account.msisdn.as_str().to_owned()),
            state: Set(state.as_str().to_owned()),
            version: Set(0),
            end_reason: Set(None),
            token_login: Set(None),
            token_location: Set(None),
            balance_start: Set(None),
            balance_last: Set(None),
            device_id: Set(None),
            raw: Set(None),
            trail: Set(Some(trail_json(&trail))),
            created_at: Set(now),
            updated_at: Set(now),
            ended_at: Set(None),
            ..Default::default()
        };
        let (account_id, server_id, owner) = (
            lease.account.id,
            lease.server_id,
            lease.owner.as_str().to_owned(),
        );
        let opened = self
            .commit(Statements::Several, move |txn| {
                let (row, owner) = (row.clone(), owner.clone());
                Box::pin(async move {
                    let still_ours = account::Entity::find_by_id(account_id)
                        .filter(account::Column::Status.eq(AccountState::Leased.name()))
                        .filter(account::Column::LeasedServerId.eq(server_id))
                        .filter(account::Column::LeaseOwner.eq(owner))
                        .one(txn)
                        .await?;
                    if still_ours.is_none() {
                        return Err(StoreError::LeaseLost {
                            account_id,
                            server_id,
                        });
                    }
                    Ok(binding::Entity::insert(row).exec(txn).await?.last_insert_id)
                })
            })
            .await;
        let id = match opened {
            Ok(id) => id,
            Err(lost @ StoreError::LeaseLost { .. }) => return Err(lost),
            Err(err) => {
                // Refused (e.g. the server already holds an open binding): the lease is consumed,
                // so hand the account back now rather than leave it LEASED until a restart.
                self.return_lease(&lease).await?;
                return Err(err);
            }
        };
        Ok(Binding {
            id,
            server_id: lease.server_id,
            account: lease.account,
            state,
            version: 0,
            raw: None,
            has_balance_start: false,
            trail,
        })
    }

    /// Puts a leased account back as it was (no attempt counted).
    async fn return_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        end_lease(AccountState::Available)
            .filter(account::Column::Id.eq(lease.account.id))
            .filter(account::Column::Status.eq(AccountState::Leased.name()))
            .filter(account::Column::LeasedServerId.eq(lease.server_id))
            .filter(account::Column::LeaseOwner.eq(lease.owner.as_str()))
            .exec(&self.writer)
            .await?;
        Ok(())
    }

    /// Moves a binding by `event` (not to a terminal state: see [`Store::close_binding`]) and
    /// records `patch`, as compare-and-set on the state the caller holds.
    pub async fn move_binding(
        &self,
        binding: &mut Binding,
        event: BindingEvent,
        patch: BindingPatch,
    ) -> Result<BindingState, StoreError> {
        let next = binding.state.apply(&event)?;
        if next.is_terminal() {
            return Err(StoreError::Illegal(binding.state.refuse(&event)));
        }
        let held = binding.clone();
        let fenced = self.clone();
        let written = self
            .commit(Statements::OneFencing, move |txn| {
                let (held, patch, fenced) = (held.clone(), patch.clone(), fenced.clone());
                Box::pin(async move {
                    match Self::cas_binding(txn, &held, next, patch, Some(&fenced)).await {
                        Err(stale @ StoreError::StaleBinding { .. }) => {
                            Err(Self::nothing_written(fenced.fence.clone(), txn, stale).await)
                        }
                        other => other,
                    }
                })
            })
            .await?;
        binding.state = next;
        binding.version += 1;
        binding.raw = written.raw;
        binding.has_balance_start = written.has_balance_start;
        binding.trail = written.trail;
        Ok(next)
    }

    /// The compare-and-set of a binding's move, as one `UPDATE`; what the row then holds.
    async fn cas_binding<C: ConnectionTrait>(
        conn: &C,
        binding: &Binding,
        next: BindingState,
        patch: BindingPatch,
        fenced: Option<&Store>,
    ) -> Result<Written, StoreError> {
        let now = now_micros();
        let mut update = binding::Entity::update_many()
            .col_expr(binding::Column::State, Expr::value(next.as_str()))
            .col_expr(binding::Column::Version, Expr::value(binding.version + 1))
            .col_expr(binding::Column::EndReason, Expr::value(next.end_reason()))
            .col_expr(binding::Column::UpdatedAt, Expr::value(now));
        if next.is_terminal() {
            update = update.col_expr(binding::Column::EndedAt, Expr::value(now));
        }
        if let Some(t) = patch.token_login {
            update = update.col_expr(binding::Column::TokenLogin, Expr::value(t));
        }
        if let Some(t) = patch.token_location {
            update = update.col_expr(binding::Column::TokenLocation, Expr::value(t));
        }
        let mut has_balance_start = binding.has_balance_start;
        if let Some(b) = patch.balance_start {
            // The session's first login sets `balance_start`; a re-login after a token expiry
            // only moves the last known balance, so the binding's pulsa still adds up.
            if !has_balance_start {
                update = update.col_expr(binding::Column::BalanceStart, Expr::value(b.as_i64()));
                has_balance_start = true;
            }
            update = update.col_expr(binding::Column::BalanceLast, Expr::value(b.as_i64()));
        }
        if let Some(b) = patch.balance_last {
            update = update.col_expr(binding::Column::BalanceLast, Expr::value(b.as_i64()));
        }
        if let Some(d) = patch.device_id {
            update = update.col_expr(binding::Column::DeviceId, Expr::value(d));
        }
        let mut trail = binding.trail.clone();
        trail.push(TrailStep::now(next, now));
        update = update.col_expr(binding::Column::Trail, Expr::value(trail_json(&trail)));
        let raw = match patch.raw {
            Some(raw) => {
                let merged = merge_raw(binding.raw.clone(), raw);
                update = update.col_expr(binding::Column::Raw, Expr::value(merged.clone()));
                Some(merged)
            }
            None => binding.raw.clone(),
        };
        if let Some(store) = fenced {
            update = store.fence_filter(update);
        }
        let res = update
            .filter(binding::Column::Id.eq(binding.id))
            .filter(binding::Column::State.eq(binding.state.as_str()))
            .filter(binding::Column::Version.eq(binding.version))
            .filter(binding::Column::EndedAt.is_null())
            .exec(conn)
            .await?;
        if res.rows_affected != 1 {
            return Err(StoreError::StaleBinding {
                id: binding.id,
                expected: binding.state.as_str().to_owned(),
            });
        }
        Ok(Written {
            raw,
            has_balance_start,
            trail,
        })
    }

    /// Ends a binding with a terminal `event` and settles its account, in one transaction:
    /// either both happen or neither. Consumes the binding: nothing acts on it afterwards.
    pub async fn close_binding(
        &self,
        binding: Binding,
        event: BindingEvent,
        settle: Settle,
        patch: BindingPatch,
    ) -> Result<BindingState, StoreError> {
        let next = binding.state.apply(&event)?;
        if !next.is_terminal() {
            return Err(StoreError::NotTerminal {
                event: format!("{event:?}"),
            });
        }
        self.commit(Statements::Several, move |txn| {
            let (binding, patch) = (binding.clone(), patch.clone());
            Box::pin(async move { Self::close_in(txn, &binding, next, settle, patch).await })
        })
        .await?;
        Ok(next)
    }

    /// The binding's end and its account's settling, in the caller's transaction.
    async fn close_in(
        write: &DatabaseExecutor<'_>,
        binding: &Binding,
        next: BindingState,
        settle: Settle,
        patch: BindingPatch,
    ) -> Result<(), StoreError> {
        Self::cas_binding(write, binding, next, patch, None).await?;
        let lost = || StoreError::LeaseLost {
            account_id: binding.account.id,
            server_id: binding.server_id,
        };
        let account = account::Entity::find_by_id(binding.account.id)
            .filter(account::Column::LeasedServerId.eq(binding.server_id))
            .one(write)
            .await?
            .ok_or_else(lost)?;
        let current: AccountState = account.status.parse()?;
        let attempts = u32::try_from(account.attempts).unwrap_or(0);
        let account_event = match settle {
            Settle::Exhausted => AccountEvent::Exhausted,
            Settle::NotReseller => AccountEvent::NotReseller,
            Settle::Blocked => AccountEvent::Blocked,
            Settle::Released => AccountEvent::Released,
            Settle::LoginFailed { max_attempts } => AccountEvent::LoginFailed {
                attempts: attempts + 1,
                max_attempts,
            },
        };
        let settled = current.apply(&account_event)?;
        let mut update =
            end_lease(settled).col_expr(account::Column::LastError, Expr::value(next.end_reason()));
        match settle {
            Settle::LoginFailed { .. } => {
                update = update.col_expr(
                    account::Column::Attempts,
                    Expr::value(i64::from(attempts) + 1),
                );
            }
            Settle::NotReseller => {
                update = update.col_expr(account::Column::IsReseller, Expr::value(false));
            }
            _ => {}
        }
        let res = update
            .filter(account::Column::Id.eq(binding.account.id))
            .filter(account::Column::Status.eq(current.name()))
            .filter(account::Column::LeasedServerId.eq(binding.server_id))
            .exec(write)
            .await?;
        if res.rows_affected != 1 {
            return Err(lost());
        }
        Ok(())
    }

    /// Marks the account behind a binding as a reseller (its product list came back).
    pub async fn mark_reseller(&self, binding: &Binding) -> Result<(), StoreError> {
        let update = account::Entity::update_many()
            .col_expr(account::Column::IsReseller, Expr::value(true))
            .col_expr(account::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(account::Column::Id.eq(binding.account.id));
        self.commit_update(update).await
    }

    /// How many bindings are open on servers whose lease names a runtime other than `me`
    /// (alive, or dead and so for another to take over): those that may yet come to `me`. A
    /// released server's binding waits for its own runtime.
    pub async fn open_bindings_elsewhere(&self, me: &LeaseOwner) -> Result<u64, StoreError> {
        let elsewhere = Query::select()
            .column(Alias::new("server_id"))
            .from(Alias::new("server_leases"))
            .and_where(Expr::col(Alias::new("owner")).is_not_null())
            .and_where(Expr::col(Alias::new("owner")).ne(me.as_str()))
            .to_owned();
        Ok(binding::Entity::find()
            .filter(binding::Column::EndedAt.is_null())
            .filter(binding::Column::ServerId.in_subquery(elsewhere))
            .count(&self.db)
            .await?)
    }

    /// The open binding a server holds, if any (start-up recovery resumes it).
    pub async fn open_binding_of_server(
        &self,
        server_id: i64,
    ) -> Result<Option<Binding>, StoreError> {
        let Some(row) = binding::Entity::find()
            .filter(binding::Column::ServerId.eq(server_id))
            .filter(binding::Column::EndedAt.is_null())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let account = account::Entity::find_by_id(row.account_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::corrupt("bindings", row.id, "its account is missing"))?;
        Ok(Some(Binding {
            id: row.id,
            server_id: row.server_id,
            account: LeasedAccount::try_from(account)?,
            state: BindingState::from_stored(&row.state, row.end_reason.as_deref())?,
            version: row.version,
            has_balance_start: row.balance_start.is_some(),
            trail: parse_trail(row.id, row.trail)?,
            raw: row.raw,
        }))
    }

    /// Every binding, oldest first, as the books and the checks read them (no tokens).
    pub async fn binding_records(&self) -> Result<Vec<BindingRecord>, StoreError> {
        use sea_orm::QueryOrder;
        binding::Entity::find()
            .order_by_asc(binding::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(BindingRecord::try_from)
            .collect()
    }

    /// A stored binding row as it is, for the tests that check what a column holds (tokens stay
    /// in the row; its `Debug` masks them). Everything else reads [`BindingRecord`]s.
    pub async fn binding_row(&self, id: i64) -> Result<Option<binding::Model>, StoreError> {
        Ok(binding::Entity::find_by_id(id).one(&self.db).await?)
    }
}

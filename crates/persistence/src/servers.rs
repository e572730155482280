//! The fixed resource servers: synced from the configuration at every start, never deleted
//! (their bindings and transactions point at them), disabled when they leave the config (unless
//! another runtime holds them: several runtimes may share one database).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect as _,
};
use serde::Serialize;
use simrotor_domain::{Msisdn, Rupiah, ServerEvent, ServerState, StateMachine};

use crate::commit::Statements;
use crate::entity::{binding, server, transaction};
use crate::{Store, StoreError};

/// A server as the configuration describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSeed {
    pub port: u16,
    pub base_url: String,
    pub enabled: bool,
    /// The effective per-server settings (timeout, retries, pacing), kept for the operator.
    pub settings: serde_json::Value,
}

/// A stored server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerRow {
    pub id: i64,
    pub port: u16,
    pub base_url: String,
    pub enabled: bool,
    pub state: ServerState,
    pub state_reason: Option<String>,
    pub device_id: Option<String>,
    /// The number whose session the server may still hold: written before `/verifyOtp`,
    /// cleared when a logout is answered. The next binding logs it out first.
    pub session_msisdn: Option<Msisdn>,
}

/// A server state changed outside a driver (start-up recovery), for its audit line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerMove {
    pub port: u16,
    pub from: ServerState,
    pub to: ServerState,
}

impl TryFrom<server::Model> for ServerRow {
    type Error = StoreError;
    fn try_from(m: server::Model) -> Result<Self, StoreError> {
        Ok(ServerRow {
            id: m.id,
            port: u16::try_from(m.port).map_err(|e| StoreError::corrupt("servers", m.id, e))?,
            state: m.state.parse()?,
            base_url: m.base_url,
            enabled: m.enabled,
            state_reason: m.state_reason,
            device_id: m.device_id,
            session_msisdn: m
                .session_msisdn
                .as_deref()
                .map(Msisdn::parse)
                .transpose()
                .map_err(|e| StoreError::corrupt("servers", m.id, e))?,
        })
    }
}

/// A server with the binding it holds now, as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ServerOverview {
    pub id: i64,
    pub port: u16,
    pub base_url: String,
    pub enabled: bool,
    pub state: ServerState,
    pub state_reason: Option<String>,
    pub device_id: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub binding: Option<OpenBindingView>,
    /// The runtime its lease names (its `[ownership] name`, or its id), if any.
    pub owner: Option<String>,
    /// Milliseconds until that lease expires (negative: expired, the owner is gone).
    pub lease_expires_in_ms: Option<i64>,
}

/// An open binding as the overview shows it. Built from the columns it shows only, so the
/// tokens are never even read.
#[derive(Debug, Clone, Serialize)]
pub struct OpenBindingView {
    pub id: i64,
    pub msisdn: String,
    pub batch: String,
    pub state: String,
    /// The last balance read (`balance_last`); unknown before the first login.
    pub pulsa: Option<Rupiah>,
    /// Purchase attempts on this binding, whatever their status.
    pub purchases: u64,
    /// When the binding last moved (its `updated_at`).
    pub step_since: DateTime<Utc>,
}

/// The columns of an open binding the overview reads: id, server, msisdn, batch, state,
/// `balance_last`, `updated_at`.
type OpenBindingColumns = (i64, i64, String, String, String, Option<i64>, DateTime<Utc>);

impl Store {
    /// Every server in port order, each with its open binding: three queries (servers, open
    /// bindings, their purchase counts) however many servers there are.
    pub async fn server_overview(&self) -> Result<Vec<ServerOverview>, StoreError> {
        let servers = server::Entity::find()
            .order_by_asc(server::Column::Port)
            .order_by_asc(server::Column::Id)
            .all(&self.db)
            .await?;
        // Open means not ended, as in `open_binding_of_server`; the partial unique index keeps
        // it to one per server.
        let open: Vec<OpenBindingColumns> = binding::Entity::find()
            .select_only()
            .columns([
                binding::Column::Id,
                binding::Column::ServerId,
                binding::Column::Msisdn,
                binding::Column::BatchId,
                binding::Column::State,
                binding::Column::BalanceLast,
                binding::Column::UpdatedAt,
            ])
            .filter(binding::Column::EndedAt.is_null())
            .into_tuple()
            .all(&self.db)
            .await?;
        let purchases: HashMap<i64, u64> = if open.is_empty() {
            HashMap::new()
        } else {
            let counts: Vec<(i64, i64)> = transaction::Entity::find()
                .select_only()
                .column(transaction::Column::BindingId)
                .column_as(Expr::col(transaction::Column::Id).count(), "n")
                .filter(transaction::Column::BindingId.is_in(open.iter().map(|b| b.0)))
                .group_by(transaction::Column::BindingId)
                .into_tuple()
                .all(&self.db)
                .await?;
            counts
                .into_iter()
                .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
                .collect()
        };
        let mut leases: HashMap<i64, crate::LeaseView> = self
            .leases()
            .await?
            .into_iter()
            .filter(|l| l.owner.is_some())
            .map(|l| (l.server_id, l))
            .collect();
        let mut by_server: HashMap<i64, OpenBindingView> = HashMap::with_capacity(open.len());
        for (id, server_id, msisdn, batch, state, balance_last, updated_at) in open {
            let pulsa = balance_last
                .map(Rupiah::from_i64)
                .transpose()
                .map_err(|e| StoreError::corrupt("bindings", id, e))?;
            let view = OpenBindingView {
                id,
                msisdn,
                batch,
                state,
                pulsa,
                purchases: purchases.get(&id).copied().unwrap_or(0),
                step_since: updated_at,
            };
            by_server.insert(server_id, view);
        }
        servers
            .into_iter()
            .map(|m| {
                let lease = leases.remove(&m.id);
                Ok(ServerOverview {
                    owner: lease
                        .as_ref()
                        .and_then(|l| l.owner_name.clone().or_else(|| l.owner.clone())),
                    lease_expires_in_ms: lease.map(|l| l.expires_in_ms),
                    id: m.id,
                    port: u16::try_from(m.port)
                        .map_err(|e| StoreError::corrupt("servers", m.id, e))?,
                    state: m.state.parse()?,
                    binding: by_server.remove(&m.id),
                    base_url: m.base_url,
                    enabled: m.enabled,
                    state_reason: m.state_reason,
                    device_id: m.device_id,
                    updated_at: m.updated_at,
                })
            })
            .collect()
    }

    /// Makes the `servers` table match the configuration: new servers are added `IDLE`, known
    /// ones get their port, settings and enabled flag refreshed (state and `device_id` are
    /// kept), and servers no longer configured are disabled.
    pub async fn sync_servers(&self, seeds: &[ServerSeed]) -> Result<Vec<ServerRow>, StoreError> {
        let write = self.begin_write().await?;
        let now = Utc::now();
        for seed in seeds {
            let row = server::ActiveModel {
                port: Set(i32::from(seed.port)),
                base_url: Set(seed.base_url.clone()),
                enabled: Set(seed.enabled),
                state: Set(ServerState::Idle.name().to_owned()),
                settings: Set(Some(seed.settings.clone())),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            };
            server::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(server::Column::BaseUrl)
                        .update_columns([
                            server::Column::Port,
                            server::Column::Enabled,
                            server::Column::Settings,
                            server::Column::UpdatedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(&write)
                .await?;
        }
        let configured: Vec<String> = seeds.iter().map(|s| s.base_url.clone()).collect();
        // A server another runtime holds (or held when it died) is that runtime's: another
        // runtime's configuration does not disable it.
        let leased = Query::select()
            .column(Alias::new("server_id"))
            .from(Alias::new("server_leases"))
            .and_where(Expr::col(Alias::new("owner")).is_not_null())
            .to_owned();
        server::Entity::update_many()
            .col_expr(server::Column::Enabled, false.into())
            .col_expr(server::Column::UpdatedAt, now.into())
            .filter(server::Column::BaseUrl.is_not_in(configured))
            .filter(server::Column::Enabled.eq(true))
            .filter(server::Column::Id.not_in_subquery(leased))
            .exec(&write)
            .await?;
        write.commit().await?;
        self.servers().await
    }

    /// Every known server, in port order.
    pub async fn servers(&self) -> Result<Vec<ServerRow>, StoreError> {
        server::Entity::find()
            .order_by_asc(server::Column::Port)
            .order_by_asc(server::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(ServerRow::try_from)
            .collect()
    }

    /// When a runtime acquires a server's lease, the live state its previous owner left
    /// (`BUSY`, `WAITING_OTP`, `OFFLINE`, …) describes nothing any more: a server that is not
    /// `FAULTED` starts `IDLE` (a faulted one stays so until the operator resets it). The move
    /// goes through the transition function (`ServerEvent::Restarted`), compare-and-set, and is
    /// returned for the audit trail; `None` if it was `IDLE` or `FAULTED` already.
    pub async fn reset_server_state(&self, id: i64) -> Result<Option<ServerMove>, StoreError> {
        let Some(mut server) = self.server(id).await? else {
            return Ok(None);
        };
        let from = server.state;
        if matches!(from, ServerState::Idle | ServerState::Faulted) {
            return Ok(None);
        }
        self.move_server(&mut server, ServerEvent::Restarted, None)
            .await?;
        Ok(Some(ServerMove {
            port: server.port,
            from,
            to: server.state,
        }))
    }

    /// The settings a server's runtime recorded for it (its `ServerSpec`, as JSON).
    pub async fn server_settings(&self, id: i64) -> Result<Option<serde_json::Value>, StoreError> {
        Ok(server::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .and_then(|m| m.settings))
    }

    /// One server by id.
    pub async fn server(&self, id: i64) -> Result<Option<ServerRow>, StoreError> {
        server::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(ServerRow::try_from)
            .transpose()
    }

    /// Moves a server's state as compare-and-set on the state it was read in.
    pub async fn move_server(
        &self,
        server: &mut ServerRow,
        event: ServerEvent,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let next = server.state.apply(&event)?;
        let res = server::Entity::update_many()
            .col_expr(server::Column::State, next.name().into())
            .col_expr(
                server::Column::StateReason,
                reason.map(str::to_owned).into(),
            )
            .col_expr(server::Column::UpdatedAt, Utc::now().into())
            .filter(server::Column::Id.eq(server.id))
            .filter(server::Column::State.eq(server.state.name()));
        let res = self.fence_filter(res);
        let (id, expected) = (server.id, server.state.name());
        let fence = self.fence.clone();
        self.commit(Statements::OneFencing, move |txn| {
            let (res, fence) = (res.clone(), fence.clone());
            Box::pin(async move {
                if res.exec(txn).await?.rows_affected != 1 {
                    let stale = StoreError::StaleServer {
                        id,
                        expected: expected.to_owned(),
                    };
                    return Err(Self::nothing_written(fence, txn, stale).await);
                }
                Ok(())
            })
        })
        .await?;
        server.state = next;
        server.state_reason = reason.map(str::to_owned);
        Ok(())
    }

    /// Records the `device_id` that `list_idv` reported for a server.
    pub async fn set_server_device_id(
        &self,
        server_id: i64,
        device_id: &str,
    ) -> Result<(), StoreError> {
        let update = server::Entity::update_many()
            .col_expr(server::Column::DeviceId, device_id.into())
            .col_expr(server::Column::UpdatedAt, Utc::now().into())
            .filter(server::Column::Id.eq(server_id));
        self.commit_update(update).await
    }

    /// Records that the server may hold `msisdn`'s session (`Some`, before `/verifyOtp`), or
    /// holds none (`None`, after an answered logout). `only_if`: clear only while the row still
    /// names that number, so a late logout of an old number never clears a newer session.
    /// Queued at once, in order with the writes after it; the future is its commit.
    pub fn set_server_session(
        &self,
        server_id: i64,
        msisdn: Option<&Msisdn>,
        only_if: Option<&Msisdn>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'static {
        let mut update = server::Entity::update_many()
            .col_expr(
                server::Column::SessionMsisdn,
                msisdn.map(|m| m.as_str().to_owned()).into(),
            )
            .filter(server::Column::Id.eq(server_id));
        if let Some(expected) = only_if {
            update = update.filter(server::Column::SessionMsisdn.eq(expected.as_str()));
        }
        let update = self.fence_filter(update);
        let fence = self.fence.clone();
        self.queue(Statements::OneFencing, move |txn| {
            let (update, fence) = (update.clone(), fence.clone());
            Box::pin(async move {
                let rows = update.exec(txn).await?.rows_affected;
                Self::refused_if_fenced(fence, txn, rows).await
            })
        })
    }

    /// The number of the latest binding on the server other than `except`: who may hold the
    /// server when nothing else says so.
    pub async fn previous_number_on_server(
        &self,
        server_id: i64,
        except: i64,
    ) -> Result<Option<Msisdn>, StoreError> {
        let row = binding::Entity::find()
            .filter(binding::Column::ServerId.eq(server_id))
            .filter(binding::Column::Id.ne(except))
            .order_by_desc(binding::Column::Id)
            .one(&self.db)
            .await?;
        row.map(|b| Msisdn::parse(&b.msisdn).map_err(|e| StoreError::corrupt("bindings", b.id, e)))
            .transpose()
    }
}

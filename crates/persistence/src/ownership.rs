//! Server ownership: which runtime drives which server, as leases in the database.
//!
//! A runtime registers itself (`runtimes`), acquires the servers it may own, renews them on a
//! heartbeat and releases them on a clean stop (`server_leases`). A lease nobody renews expires;
//! another runtime may then acquire it, which raises the server's fencing counter. The driver's
//! store is [`Store::fenced`] with the counter it was started under: each of its writes checks,
//! atomically with itself, that the lease row still names this runtime at that counter, and is
//! refused ([`StoreError::Fenced`]) otherwise. A write of one statement carries the check in its
//! own `WHERE` ([`Store::fence_filter`]); a longer one reads the lease row first in its
//! transaction, `FOR SHARE` on PostgreSQL, so a takeover waits for a write in flight and every
//! later write of the old owner is refused; on SQLite writes are serialised anyway.
//!
//! Times are the database's clock in microseconds (see the migration), so runtimes on several
//! hosts agree on what has expired.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseExecutor, Statement, Value};
use serde::Serialize;

use crate::accounts::LeaseOwner;
use crate::commit::Statements;
use crate::{Store, StoreError};

/// The database's clock now, in microseconds since the Unix epoch, as an SQL expression.
fn now_sql(backend: DatabaseBackend) -> &'static str {
    match backend {
        DatabaseBackend::Postgres => {
            "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)"
        }
        _ => "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)",
    }
}

/// `text` with `?` placeholders and `{now}` for the database's clock, for `backend`
/// (PostgreSQL numbers its placeholders).
fn statement(backend: DatabaseBackend, text: &str, values: Vec<Value>) -> Statement {
    let text = text.replace("{now}", now_sql(backend));
    let text = if backend == DatabaseBackend::Postgres {
        let mut out = String::with_capacity(text.len() + 8);
        let mut n = 0;
        for c in text.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    } else {
        text
    };
    Statement::from_sql_and_values(backend, text, values)
}

/// The placeholders of an `IN (…)` over `owners` (`NULL`, matching nothing, for none).
fn owner_list(owners: &[LeaseOwner]) -> String {
    if owners.is_empty() {
        "NULL".to_owned()
    } else {
        vec!["?"; owners.len()].join(", ")
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// A runtime as it registers.
#[derive(Debug, Clone)]
pub struct RuntimeInfo {
    pub id: LeaseOwner,
    /// The operator's name for it (`[ownership] name`).
    pub name: String,
    pub host: String,
    pub pid: u32,
    /// The servers it may own, in words (`9900-9909`), for `status`.
    pub servers: String,
}

/// A runtime as `simrotor status` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RuntimeView {
    pub id: String,
    pub name: String,
    pub host: String,
    pub pid: u32,
    pub servers: String,
    /// Milliseconds since its last heartbeat, on the database's clock.
    pub heartbeat_age_ms: i64,
    /// Servers whose lease names it.
    pub holds: u32,
    /// Stopped cleanly (its leases released).
    pub stopped: bool,
}

impl RuntimeView {
    /// Heartbeat within `expiry` and not stopped: it may still drive its servers.
    pub fn is_live(&self, expiry: Duration) -> bool {
        !self.stopped && self.heartbeat_age_ms <= micros(expiry) / 1000
    }
}

/// A server lease this runtime holds, at its fencing counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HeldLease {
    pub server_id: i64,
    pub fence: i64,
}

/// A server's lease as the servers view shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LeaseView {
    pub server_id: i64,
    /// The runtime named on the lease (`None`: released).
    pub owner: Option<String>,
    /// That runtime's `[ownership] name`, when it registered.
    pub owner_name: Option<String>,
    pub fence: i64,
    /// Milliseconds until it expires (negative: expired), on the database's clock.
    pub expires_in_ms: i64,
}

/// What a fenced store's writes prove: the lease of `server_id` names `owner` at `fence`.
#[derive(Clone, PartialEq, Eq)]
pub struct Fence {
    pub server_id: i64,
    pub owner: LeaseOwner,
    pub fence: i64,
}

impl std::fmt::Debug for Fence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Fence(server {} by {} at {})",
            self.server_id,
            self.owner.as_str(),
            self.fence
        )
    }
}

impl Fence {
    /// The check that opens every fenced write: the lease row still names this owner at this
    /// counter. A read, not a write: on SQLite the write transaction already holds the
    /// database's write lock, so nobody can move the lease before it commits; on PostgreSQL
    /// `FOR SHARE` locks the row until then (a takeover's update waits for it, and a takeover
    /// committed first is what the read sees).
    pub(crate) fn check<'t>(
        self: Arc<Self>,
        on: &'t DatabaseExecutor<'t>,
    ) -> BoxFuture<'t, Result<(), StoreError>> {
        Box::pin(async move {
            let backend = on.get_database_backend();
            let lock = if backend == DatabaseBackend::Postgres {
                " FOR SHARE"
            } else {
                ""
            };
            let row = on
                .query_one_raw(statement(
                    backend,
                    &format!("SELECT owner, fence FROM server_leases WHERE server_id = ?{lock}"),
                    vec![self.server_id.into()],
                ))
                .await?;
            let (holder, holder_fence) = match row {
                Some(row) => (
                    row.try_get::<Option<String>>("", "owner")?,
                    row.try_get::<i64>("", "fence")?,
                ),
                None => (None, 0),
            };
            if holder.as_deref() == Some(self.owner.as_str()) && holder_fence == self.fence {
                return Ok(());
            }
            Err(StoreError::Fenced {
                server_id: self.server_id,
                fence: self.fence,
                holder: holder.unwrap_or_else(|| "nobody (released)".to_owned()),
                holder_fence,
            })
        })
    }
}

impl Fence {
    /// `SELECT 1 FROM server_leases WHERE` the lease names this owner at this counter: the
    /// condition a self-fencing statement adds.
    pub(crate) fn held(&self) -> sea_orm::sea_query::SelectStatement {
        use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Query};
        Query::select()
            .expr(Expr::val(1))
            .from(Alias::new("server_leases"))
            .and_where(Expr::col(Alias::new("server_id")).eq(self.server_id))
            .and_where(Expr::col(Alias::new("owner")).eq(self.owner.as_str()))
            .and_where(Expr::col(Alias::new("fence")).eq(self.fence))
            .to_owned()
    }
}

impl Store {
    /// `update`, applied only while this store's fence holds (when it is fenced): for writes of
    /// one statement (`Statements::OneFencing`), which so check the lease in the same atomic
    /// statement.
    pub(crate) fn fence_filter<E: sea_orm::EntityTrait>(
        &self,
        update: sea_orm::UpdateMany<E>,
    ) -> sea_orm::UpdateMany<E> {
        use sea_orm::QueryFilter as _;
        match self.fence.as_deref() {
            Some(fence) => update.filter(sea_orm::sea_query::Expr::exists(fence.held())),
            None => update,
        }
    }

    /// What a write that changed nothing says: refused by the fence (when the fence is why),
    /// otherwise `stale` (another writer moved the row first).
    pub(crate) async fn nothing_written(
        fence: Option<Arc<Fence>>,
        on: &DatabaseExecutor<'_>,
        stale: StoreError,
    ) -> StoreError {
        match fence {
            Some(fence) => match fence.check(on).await {
                Ok(()) => stale,
                Err(refused) => refused,
            },
            None => stale,
        }
    }

    /// A self-fencing statement that may rightly change nothing (a conditional update) did:
    /// refused when the fence is why, fine otherwise.
    pub(crate) async fn refused_if_fenced(
        fence: Option<Arc<Fence>>,
        on: &DatabaseExecutor<'_>,
        rows: u64,
    ) -> Result<(), StoreError> {
        match fence {
            Some(fence) if rows == 0 => fence.check(on).await,
            _ => Ok(()),
        }
    }

    /// This store, every write of which carries `fence`: a write made after another runtime
    /// took the server over fails with [`StoreError::Fenced`] and changes nothing.
    pub fn fenced(&self, fence: Fence) -> Store {
        let mut store = self.clone();
        store.fence = Some(Arc::new(fence));
        store
    }

    /// The fence this store's writes carry, if any.
    pub fn fence(&self) -> Option<&Fence> {
        self.fence.as_deref()
    }

    /// Records a runtime that starts (its first heartbeat now).
    pub async fn register_runtime(&self, info: &RuntimeInfo) -> Result<(), StoreError> {
        let backend = self.backend();
        self.writer
            .execute_raw(statement(
                backend,
                "INSERT INTO runtimes (id, name, host, pid, servers, started_at, heartbeat_at) \
                 VALUES (?, ?, ?, ?, ?, {now}, {now})",
                vec![
                    info.id.as_str().into(),
                    info.name.as_str().into(),
                    info.host.as_str().into(),
                    i64::from(info.pid).into(),
                    info.servers.as_str().into(),
                ],
            ))
            .await?;
        Ok(())
    }

    /// The heartbeat: the runtime's row and every lease that still names it are renewed until
    /// `expiry` from now; returns the leases it holds. A lease another runtime took is not
    /// among them: it is lost.
    pub async fn renew_leases(
        &self,
        owner: &LeaseOwner,
        expiry: Duration,
    ) -> Result<Vec<HeldLease>, StoreError> {
        let backend = self.backend();
        self.writer
            .execute_raw(statement(
                backend,
                "UPDATE runtimes SET heartbeat_at = {now} WHERE id = ?",
                vec![owner.as_str().into()],
            ))
            .await?;
        self.writer
            .execute_raw(statement(
                backend,
                "UPDATE server_leases SET expires_at = {now} + ? WHERE owner = ?",
                vec![micros(expiry).into(), owner.as_str().into()],
            ))
            .await?;
        self.held_leases(owner).await
    }

    /// The leases that name `owner`, whatever their expiry.
    pub async fn held_leases(&self, owner: &LeaseOwner) -> Result<Vec<HeldLease>, StoreError> {
        let rows = self
            .writer
            .query_all_raw(statement(
                self.backend(),
                "SELECT server_id, fence FROM server_leases WHERE owner = ? ORDER BY server_id",
                vec![owner.as_str().into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(HeldLease {
                    server_id: r.try_get("", "server_id")?,
                    fence: r.try_get("", "fence")?,
                })
            })
            .collect()
    }

    /// Acquires, for `owner` until `expiry` from now, each of `servers` whose lease is free: never
    /// held, released, expired, or held by one of `gone` (runtimes known dead, whatever their
    /// lease says). Each acquisition raises the server's fencing counter. Returns the leases
    /// acquired now.
    pub async fn acquire_leases(
        &self,
        owner: &LeaseOwner,
        servers: &[i64],
        gone: &[LeaseOwner],
        expiry: Duration,
    ) -> Result<Vec<HeldLease>, StoreError> {
        let gone_list = owner_list(gone);
        let text = format!(
            "INSERT INTO server_leases (server_id, owner, fence, expires_at, acquired_at) \
             VALUES (?, ?, 1, {{now}} + ?, {{now}}) \
             ON CONFLICT (server_id) DO UPDATE SET owner = excluded.owner, \
             fence = server_leases.fence + 1, expires_at = excluded.expires_at, \
             acquired_at = excluded.acquired_at \
             WHERE server_leases.owner IS NULL OR server_leases.expires_at < {{now}} \
             OR server_leases.owner IN ({gone_list})"
        );
        let mut acquired = Vec::new();
        for &server_id in servers {
            let mut values: Vec<Value> = vec![
                server_id.into(),
                owner.as_str().into(),
                micros(expiry).into(),
            ];
            values.extend(gone.iter().map(|g| Value::from(g.as_str())));
            let fence = self
                .commit(Statements::Several, {
                    let (text, values, owner) = (text.clone(), values, owner.clone());
                    move |on| {
                        let (text, values, owner) = (text.clone(), values.clone(), owner.clone());
                        Box::pin(async move {
                            let done = on
                                .execute_raw(statement(on.get_database_backend(), &text, values))
                                .await?
                                .rows_affected();
                            if done != 1 {
                                return Ok(None);
                            }
                            let row = on
                                .query_one_raw(statement(
                                    on.get_database_backend(),
                                    "SELECT fence FROM server_leases WHERE server_id = ? AND owner = ?",
                                    vec![server_id.into(), owner.as_str().into()],
                                ))
                                .await?;
                            Ok(match row {
                                Some(row) => Some(row.try_get::<i64>("", "fence")?),
                                None => None,
                            })
                        })
                    }
                })
                .await?;
            if let Some(fence) = fence {
                acquired.push(HeldLease { server_id, fence });
            }
        }
        Ok(acquired)
    }

    /// The servers whose lease names another runtime and has expired (or names one of `gone`):
    /// what a runtime with `takeover = true` may acquire. A lease that names a runtime says the
    /// server was that runtime's to drive, whatever another runtime's configuration says of it.
    pub async fn abandoned_servers(
        &self,
        owner: &LeaseOwner,
        gone: &[LeaseOwner],
    ) -> Result<Vec<i64>, StoreError> {
        let gone_list = owner_list(gone);
        let mut values: Vec<Value> = vec![owner.as_str().into()];
        values.extend(gone.iter().map(|g| Value::from(g.as_str())));
        let rows = self
            .db
            .query_all_raw(statement(
                self.backend(),
                &format!(
                    "SELECT l.server_id FROM server_leases l JOIN servers s ON s.id = l.server_id \
                     WHERE l.owner IS NOT NULL AND l.owner <> ? \
                     AND (l.expires_at < {{now}} OR l.owner IN ({gone_list})) ORDER BY s.port"
                ),
                values,
            ))
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<i64>("", "server_id")?))
            .collect()
    }

    /// A clean stop: every lease of `owner` released (no one takes them over: the servers wait
    /// for their own runtime) and the runtime marked stopped.
    pub async fn release_leases(&self, owner: &LeaseOwner) -> Result<u64, StoreError> {
        let backend = self.backend();
        let released = self
            .writer
            .execute_raw(statement(
                backend,
                "UPDATE server_leases SET owner = NULL, expires_at = 0 WHERE owner = ?",
                vec![owner.as_str().into()],
            ))
            .await?
            .rows_affected();
        self.writer
            .execute_raw(statement(
                backend,
                "UPDATE runtimes SET stopped_at = {now} WHERE id = ?",
                vec![owner.as_str().into()],
            ))
            .await?;
        Ok(released)
    }

    /// Marks stopped those of `gone` (runtimes known dead) whose leases are all taken over:
    /// nothing of them is left to show or to wait for.
    pub async fn retire_runtimes(&self, gone: &[LeaseOwner]) -> Result<u64, StoreError> {
        if gone.is_empty() {
            return Ok(0);
        }
        let list = owner_list(gone);
        let values: Vec<Value> = gone.iter().map(|g| Value::from(g.as_str())).collect();
        let retired = self
            .writer
            .execute_raw(statement(
                self.backend(),
                &format!(
                    "UPDATE runtimes SET stopped_at = {{now}} WHERE stopped_at IS NULL \
                     AND id IN ({list}) \
                     AND NOT EXISTS (SELECT 1 FROM server_leases l WHERE l.owner = runtimes.id)"
                ),
                values,
            ))
            .await?
            .rows_affected();
        Ok(retired)
    }

    /// Every runtime that has not stopped cleanly, the latest heartbeat first, with how many
    /// servers each holds.
    pub async fn runtimes(&self) -> Result<Vec<RuntimeView>, StoreError> {
        let rows = self
            .db
            .query_all_raw(statement(
                self.backend(),
                "SELECT r.id, r.name, r.host, r.pid, r.servers, r.stopped_at, \
                 {now} - r.heartbeat_at AS age, \
                 (SELECT COUNT(*) FROM server_leases l WHERE l.owner = r.id) AS holds \
                 FROM runtimes r WHERE r.stopped_at IS NULL ORDER BY r.heartbeat_at DESC",
                vec![],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                let pid: i64 = r.try_get("", "pid")?;
                let holds: i64 = r.try_get("", "holds")?;
                let age: i64 = r.try_get("", "age")?;
                Ok(RuntimeView {
                    id: r.try_get("", "id")?,
                    name: r.try_get("", "name")?,
                    host: r.try_get("", "host")?,
                    pid: u32::try_from(pid).unwrap_or(0),
                    servers: r.try_get("", "servers")?,
                    heartbeat_age_ms: age / 1000,
                    holds: u32::try_from(holds).unwrap_or(0),
                    stopped: r.try_get::<Option<i64>>("", "stopped_at")?.is_some(),
                })
            })
            .collect()
    }

    /// Every server's lease, for the servers view.
    pub async fn leases(&self) -> Result<Vec<LeaseView>, StoreError> {
        let rows = self
            .db
            .query_all_raw(statement(
                self.backend(),
                "SELECT l.server_id, l.owner, r.name, l.fence, l.expires_at - {now} AS left_us \
                 FROM server_leases l LEFT JOIN runtimes r ON r.id = l.owner ORDER BY l.server_id",
                vec![],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                let left: i64 = r.try_get("", "left_us")?;
                Ok(LeaseView {
                    server_id: r.try_get("", "server_id")?,
                    owner: r.try_get("", "owner")?,
                    owner_name: r.try_get("", "name")?,
                    fence: r.try_get("", "fence")?,
                    expires_in_ms: left / 1000,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_are_numbered() {
        let s = statement(
            DatabaseBackend::Postgres,
            "UPDATE t SET a = ? WHERE b = ? AND c < {now}",
            vec![1i64.into(), 2i64.into()],
        );
        assert!(
            s.sql
                .starts_with("UPDATE t SET a = $1 WHERE b = $2 AND c < CAST("),
            "{}",
            s.sql
        );
        let s = statement(DatabaseBackend::Sqlite, "SELECT ?", vec![1i64.into()]);
        assert_eq!(s.sql, "SELECT ?");
    }

    #[test]
    fn a_fence_shows_no_more_than_who_and_which() {
        let fence = Fence {
            server_id: 3,
            owner: LeaseOwner::named("pid-1-abc"),
            fence: 7,
        };
        assert_eq!(format!("{fence:?}"), "Fence(server 3 by pid-1-abc at 7)");
    }
}

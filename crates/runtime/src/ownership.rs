//! The LeaseKeeper actor: this runtime's hold on its servers. Each server is a lease in the
//! database ([`simrotor_persistence`]'s `ownership`); the keeper registers the runtime, renews
//! every lease it holds on a heartbeat, acquires the servers it may own (its own `[servers]`,
//! and with `takeover` those whose lease expired), and tells the supervisor what it acquired and
//! what it lost.
//!
//! The invariant: a server is driven only while its lease is *current*, that is renewed less
//! than `expiry - heartbeat` ago by this process's clock. Each server's driver holds a
//! [`LeaseWatch`] and looks at it before every call to the server; a lease that was not renewed
//! in time (the database is down, the process was paused) holds the driver at that step until
//! it is renewed, before anyone else may take the server; a lease another runtime took ends the
//! driver. Whatever slips through (a write in flight across a pause) is refused by the fencing
//! counter its store carries.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use actix::prelude::*;
use simrotor_persistence::{HeldLease, LeaseOwner, RuntimeInfo, RuntimeView, Store, StoreError};
use tokio::sync::watch;

use crate::audit;
use crate::otp::OtpHub;
use crate::pool::{AccountPool, Refilled};
use crate::supervisor::{LeaseAcquired, LeaseLost, Supervisor};

/// A server's lease as its driver sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseStatus {
    /// Renewed in time: the server may be called until `until`.
    Current { until: Instant },
    /// Another runtime holds it now: this runtime must not touch the server again.
    Lost,
}

/// The driver's side of a server's lease.
#[derive(Debug, Clone)]
pub struct LeaseWatch(watch::Receiver<LeaseStatus>);

/// The lease is gone to another runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lost;

impl LeaseWatch {
    /// A lease that never lapses, for a runtime that holds its servers by other means (tests
    /// that drive one server without a keeper).
    pub fn always() -> Self {
        let (tx, rx) = watch::channel(LeaseStatus::Current {
            until: Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600),
        });
        // The sender goes: the status stays as it is for ever.
        drop(tx);
        Self(rx)
    }

    /// Whether the server may be called now.
    pub fn is_current(&self) -> bool {
        matches!(*self.0.borrow(), LeaseStatus::Current { until } if Instant::now() < until)
    }

    /// Returns once the lease is current (at once, mostly), or `Lost`.
    pub async fn wait_current(&mut self) -> Result<(), Lost> {
        loop {
            let status = *self.0.borrow_and_update();
            match status {
                LeaseStatus::Lost => return Err(Lost),
                LeaseStatus::Current { until } if Instant::now() < until => return Ok(()),
                LeaseStatus::Current { .. } => {}
            }
            if self.0.changed().await.is_err() {
                // The keeper is gone (the process stops): a lapsed lease stays lapsed.
                return Err(Lost);
            }
        }
    }
}

/// How this runtime holds servers.
#[derive(Debug, Clone)]
pub struct KeeperSetup {
    pub store: Store,
    pub owner: LeaseOwner,
    pub name: String,
    pub host: String,
    pub heartbeat: Duration,
    pub expiry: Duration,
    pub takeover: bool,
    /// The servers of this runtime's own configuration (ids in the store).
    pub own: Vec<i64>,
}

struct Held {
    fence: i64,
    status: watch::Sender<LeaseStatus>,
}

pub struct LeaseKeeper {
    setup: KeeperSetup,
    supervisor: Addr<Supervisor>,
    pool: Addr<AccountPool>,
    otp: OtpHub,
    held: BTreeMap<i64, Held>,
    /// A heartbeat is in flight: the next tick waits for it.
    beating: bool,
    /// The last heartbeat failed (logged once until one succeeds).
    failing: bool,
    stopping: bool,
}

impl std::fmt::Debug for LeaseKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseKeeper")
            .field("owner", &self.setup.owner.as_str())
            .field("held", &self.held.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Whether process `pid` runs on this host (where `/proc` tells; otherwise assumed running).
fn pid_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

/// The runtimes of this host that are known dead: a runtime row on this host whose process is
/// gone. Their leases need not be waited out.
fn gone_here(runtimes: &[RuntimeView], host: &str, me: &LeaseOwner) -> Vec<LeaseOwner> {
    runtimes
        .iter()
        .filter(|r| r.id != me.as_str() && r.host == host && !pid_alive(r.pid))
        .map(|r| LeaseOwner::named(r.id.clone()))
        .collect()
}

/// The host's name, for `status` and for knowing which runtimes share this host.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Registers this runtime; refuses if a live runtime of the same name runs on the database.
pub async fn register(setup: &KeeperSetup, servers: String) -> Result<(), StoreError> {
    let runtimes = setup.store.runtimes().await?;
    if let Some(other) = runtimes.iter().find(|r| {
        r.name == setup.name
            && r.is_live(setup.expiry)
            // On this host a runtime whose process is gone (killed) is not waited out.
            && (r.host != setup.host || pid_alive(r.pid))
    }) {
        return Err(StoreError::RuntimeRunning {
            holder: format!(
                "'{}', pid {} on {}, last heartbeat {} ms ago",
                other.name, other.pid, other.host, other.heartbeat_age_ms
            ),
        });
    }
    setup
        .store
        .register_runtime(&RuntimeInfo {
            id: setup.owner.clone(),
            name: setup.name.clone(),
            host: setup.host.clone(),
            pid: std::process::id(),
            servers,
        })
        .await
}

/// One heartbeat's findings.
struct Beat {
    sent: Instant,
    renewed: Result<Vec<HeldLease>, StoreError>,
    acquired: Vec<HeldLease>,
    /// Another live runtime shares the database (its frees and imports are not signalled
    /// here); `None` when the database could not tell.
    shared: Option<bool>,
}

impl LeaseKeeper {
    pub fn new(
        setup: KeeperSetup,
        supervisor: Addr<Supervisor>,
        pool: Addr<AccountPool>,
        otp: OtpHub,
    ) -> Self {
        Self {
            setup,
            supervisor,
            pool,
            otp,
            held: BTreeMap::new(),
            beating: false,
            failing: false,
            stopping: false,
        }
    }

    /// The first acquisition, before the keeper runs: start-up hands the supervisor these
    /// servers and waits until they are started.
    pub async fn acquire_first(&mut self) -> Result<Vec<(HeldLease, LeaseWatch)>, StoreError> {
        let sent = Instant::now();
        let (acquired, shared) = acquire(&self.setup, &[]).await?;
        self.otp.set_shared(shared);
        let until = sent + self.setup.expiry.saturating_sub(self.setup.heartbeat);
        Ok(acquired
            .into_iter()
            .map(|lease| (lease, self.hold(lease, until)))
            .collect())
    }

    /// Keeps `lease` as held, current until `until`; its driver's watch.
    fn hold(&mut self, lease: HeldLease, until: Instant) -> LeaseWatch {
        let (status, watch) = watch::channel(LeaseStatus::Current { until });
        self.held.insert(
            lease.server_id,
            Held {
                fence: lease.fence,
                status,
            },
        );
        audit::lease_acquired(lease.server_id, lease.fence, self.setup.owner.as_str());
        LeaseWatch(watch)
    }

    fn beat(&mut self, ctx: &mut Context<Self>) {
        if self.beating || self.stopping {
            return;
        }
        self.beating = true;
        let setup = self.setup.clone();
        let held: Vec<i64> = self.held.keys().copied().collect();
        let work = async move {
            let sent = Instant::now();
            let renewed = setup.store.renew_leases(&setup.owner, setup.expiry).await;
            let mut acquired = Vec::new();
            let mut shared = None;
            if renewed.is_ok() {
                match acquire(&setup, &held).await {
                    Ok((got, others)) => {
                        acquired = got;
                        shared = Some(others);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Could not look for servers to acquire.");
                    }
                }
            }
            Beat {
                sent,
                renewed,
                acquired,
                shared,
            }
        };
        ctx.spawn(work.into_actor(self).map(|beat, act, _| {
            act.beating = false;
            act.apply(beat);
        }));
    }

    fn apply(&mut self, beat: Beat) {
        if self.stopping {
            return;
        }
        let until = beat.sent + self.setup.expiry.saturating_sub(self.setup.heartbeat);
        match beat.renewed {
            Ok(still) => {
                if self.failing {
                    tracing::info!(
                        held = still.len(),
                        "The leases are renewed again; the servers go on."
                    );
                    self.failing = false;
                }
                let lost: Vec<i64> = self
                    .held
                    .iter()
                    .filter(|(id, h)| {
                        !still
                            .iter()
                            .any(|l| l.server_id == **id && l.fence == h.fence)
                    })
                    .map(|(id, _)| *id)
                    .collect();
                for id in lost {
                    if let Some(held) = self.held.remove(&id) {
                        held.status.send_replace(LeaseStatus::Lost);
                        audit::lease_lost(id, held.fence);
                        self.supervisor.do_send(LeaseLost { server_id: id });
                    }
                }
                for held in self.held.values() {
                    held.status.send_replace(LeaseStatus::Current { until });
                }
            }
            Err(e) => {
                if !self.failing {
                    tracing::warn!(error = %e, expiry = ?self.setup.expiry, "Could not renew the servers' leases; each server stops at its next step once its lease is due, and goes on when renewed.");
                    self.failing = true;
                }
            }
        }
        for lease in beat.acquired {
            let watch = self.hold(lease, until);
            self.supervisor.do_send(LeaseAcquired { lease, watch });
        }
        if let Some(shared) = beat.shared {
            self.otp.set_shared(shared);
        }
        if beat.shared == Some(true) {
            // Numbers another runtime handed back, or imported for all: the waiting servers look.
            self.pool.do_send(Refilled);
        }
    }
}

/// Acquires what `setup` may hold and does not: its own servers when free, with `takeover` the
/// abandoned ones. Also says whether another live runtime shares the database.
async fn acquire(setup: &KeeperSetup, held: &[i64]) -> Result<(Vec<HeldLease>, bool), StoreError> {
    let runtimes = setup.store.runtimes().await?;
    let gone = gone_here(&runtimes, &setup.host, &setup.owner);
    let shared = runtimes
        .iter()
        .any(|r| r.id != setup.owner.as_str() && r.is_live(setup.expiry));
    let mut wanted: Vec<i64> = setup
        .own
        .iter()
        .copied()
        .filter(|id| !held.contains(id))
        .collect();
    if setup.takeover {
        for id in setup.store.abandoned_servers(&setup.owner, &gone).await? {
            if !held.contains(&id) && !wanted.contains(&id) {
                wanted.push(id);
            }
        }
    }
    // A dead runtime of this host whose servers are all taken is not listed any more.
    setup.store.retire_runtimes(&gone).await?;
    if wanted.is_empty() {
        return Ok((Vec::new(), shared));
    }
    let acquired = setup
        .store
        .acquire_leases(&setup.owner, &wanted, &gone, setup.expiry)
        .await?;
    if !acquired.is_empty() {
        // Numbers a dead owner leased for these servers and never bound go back to the pool.
        let mut live: Vec<LeaseOwner> = runtimes
            .iter()
            .filter(|r| r.is_live(setup.expiry) && !gone.iter().any(|g| g.as_str() == r.id))
            .map(|r| LeaseOwner::named(r.id.clone()))
            .collect();
        live.push(setup.owner.clone());
        for lease in setup
            .store
            .release_stale_leases(&live, chrono::Utc::now())
            .await?
        {
            audit::lease_released(&lease);
        }
    }
    Ok((acquired, shared))
}

impl Actor for LeaseKeeper {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.beat(ctx);
        ctx.run_interval(self.setup.heartbeat, |act, ctx| act.beat(ctx));
    }
}

/// A clean stop: every lease released (nobody takes them over; they wait for this runtime's
/// next start), the runtime marked stopped. The keeper beats no more.
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, StoreError>")]
pub struct Release;

impl Handler<Release> for LeaseKeeper {
    type Result = ResponseFuture<Result<u64, StoreError>>;

    fn handle(&mut self, _: Release, _: &mut Self::Context) -> Self::Result {
        self.stopping = true;
        for held in self.held.values() {
            held.status.send_replace(LeaseStatus::Lost);
        }
        self.held.clear();
        let (store, owner) = (self.setup.store.clone(), self.setup.owner.clone());
        Box::pin(async move { store.release_leases(&owner).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_lapsed_lease_holds_until_renewed_and_a_lost_one_ends() {
        let (tx, rx) = watch::channel(LeaseStatus::Current {
            until: Instant::now() + Duration::from_secs(8),
        });
        let mut lease = LeaseWatch(rx);
        assert!(lease.is_current());
        tx.send_replace(LeaseStatus::Current {
            until: Instant::now(),
        });
        assert!(!lease.is_current(), "due now: no more calls");
        let waiting = tokio::spawn({
            let mut lease = lease.clone();
            async move { lease.wait_current().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "held while lapsed");
        tx.send_replace(LeaseStatus::Current {
            until: Instant::now() + Duration::from_secs(8),
        });
        assert_eq!(waiting.await.unwrap(), Ok(()));
        tx.send_replace(LeaseStatus::Lost);
        assert_eq!(lease.wait_current().await, Err(Lost));
        assert!(!lease.is_current());
    }

    #[test]
    fn a_runtime_of_this_host_whose_process_is_gone_is_gone() {
        let view = |id: &str, host: &str, pid: u32| RuntimeView {
            id: id.to_owned(),
            name: "n".to_owned(),
            host: host.to_owned(),
            pid,
            servers: String::new(),
            heartbeat_age_ms: 0,
            holds: 1,
            stopped: false,
        };
        let me = LeaseOwner::named("me");
        let runtimes = [
            view("me", "here", std::process::id()),
            view("alive", "here", std::process::id()),
            view("dead", "here", u32::MAX - 1),
            view("elsewhere", "there", u32::MAX - 1),
        ];
        let gone = gone_here(&runtimes, "here", &me);
        assert_eq!(gone, vec![LeaseOwner::named("dead")]);
    }
}

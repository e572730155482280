//! Starting the runtime: the servers synced from the configuration, this runtime registered
//! among those on the database, a dead run's unbound leases back in the pool; then the pool,
//! the supervisor, the lease keeper (which hands the supervisor each server whose lease it
//! acquires, its state reset then) and the admin API. Open bindings are not touched here: each
//! server resumes its own from its persisted state once held, and each purchase without an
//! outcome is reconciled before that server buys again.

use std::sync::Arc;

use actix::prelude::*;
use chrono::Utc;
use simrotor_config::{Config, ServerSpec};
use simrotor_domain::BatchId;
use simrotor_persistence::{LeaseOwner, ServerSeed, Store, StoreError};
use tokio::sync::oneshot;

use crate::audit;
use crate::http::{self, AdminHandle, AdminRuntime, AdminState};
use crate::metrics::Metrics;
use crate::otp::OtpHub;
use crate::ownership::{self, KeeperSetup, LeaseKeeper};
use crate::pool::{AccountPool, Refilled};
use crate::settings::Settings;
pub use crate::supervisor::ClientFactory;
use crate::supervisor::{Shutdown, Supervisor, SupervisorSetup};

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop when the pool is empty and every server is idle.
    pub until_empty: bool,
    /// Lease only from this batch.
    pub batch: Option<BatchId>,
    /// Serve the admin API (SMS forwarder, operator OTPs, views, actions, metrics) here.
    pub admin_addr: Option<String>,
}

/// A running runtime.
#[derive(Debug)]
pub struct Running {
    pub supervisor: Addr<Supervisor>,
    pub pool: Addr<AccountPool>,
    pub otp: OtpHub,
    pub owner: LeaseOwner,
    /// Holds this runtime's servers; `ownership::Release` on a clean stop.
    pub keeper: Addr<LeaseKeeper>,
    pub metrics: Arc<Metrics>,
    /// Resolves when every server has stopped.
    pub done: oneshot::Receiver<()>,
    pub admin: Option<AdminHandle>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] simrotor_config::ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the OTP settings: {0}")]
    Otp(#[from] crate::otp::OtpError),
    #[error("the admin API: {0}")]
    Admin(#[from] http::AdminError),
    #[error("server {port}: cannot build its client: {reason}")]
    Client { port: u16, reason: String },
}

/// The configured servers as the store records them.
pub fn server_seeds(config: &Config) -> Result<Vec<ServerSeed>, simrotor_config::ConfigError> {
    Ok(config
        .server_specs()?
        .into_iter()
        .map(|spec| ServerSeed {
            port: spec.port,
            base_url: spec.base_url(),
            enabled: spec.enabled,
            settings: serde_json::to_value(&spec).unwrap_or(serde_json::Value::Null),
        })
        .collect())
}

/// Starts the runtime. Must be called inside an actix `System`.
pub async fn start(
    config: &Config,
    store: Store,
    make_client: Arc<ClientFactory>,
    options: RunOptions,
) -> Result<Running, StartError> {
    let owner = LeaseOwner::for_this_process();
    let metrics = Arc::new(Metrics::new());
    let rows = store.sync_servers(&server_seeds(config)?).await?;
    let specs = config.server_specs()?;
    // Every client is built before anything runs: a configuration that cannot reach one of its
    // servers fails the start, not a takeover later.
    for spec in specs.iter().filter(|s| s.enabled) {
        make_client(spec, simrotor_slot::CallGate::new(|| true)).map_err(|reason| {
            StartError::Client {
                port: spec.port,
                reason,
            }
        })?;
    }
    let own: Vec<i64> = specs
        .iter()
        .filter(|s| s.enabled)
        .filter_map(|spec| rows.iter().find(|r| r.base_url == spec.base_url()))
        .map(|r| r.id)
        .collect();
    let keeper_setup = KeeperSetup {
        store: store.clone(),
        owner: owner.clone(),
        name: if config.ownership.name.is_empty() {
            ownership::host_name()
        } else {
            config.ownership.name.clone()
        },
        host: ownership::host_name(),
        heartbeat: config.ownership.heartbeat,
        expiry: config.ownership.expiry,
        takeover: config.ownership.takeover,
        own,
    };
    // Registered first: a second runtime of this name is refused before it touches anything.
    ownership::register(&keeper_setup, describe_ports(&specs)).await?;
    let listener = match &options.admin_addr {
        Some(addr) => match http::bind(addr, config.admin.token.is_some()) {
            Ok(listener) => Some(listener),
            Err(e) => {
                // Best effort: the row says this runtime is gone either way once it stops.
                let _ = store.release_leases(&owner).await;
                return Err(e.into());
            }
        },
        None => None,
    };
    // Numbers leased and never bound by a runtime that is gone go back to the pool; those of
    // the live ones (this one included) are theirs.
    let live: Vec<LeaseOwner> = store
        .runtimes()
        .await?
        .into_iter()
        .filter(|r| r.is_live(config.ownership.expiry))
        .map(|r| LeaseOwner::named(r.id))
        .collect();
    let released = store.release_stale_leases(&live, Utc::now()).await?;
    for lease in &released {
        audit::lease_released(lease);
    }
    if !released.is_empty() {
        tracing::warn!(
            released = released.len(),
            "Put back into the pool the numbers a previous run leased but never bound."
        );
    }

    let otp = OtpHub::with_sms(&config.otp, &config.sms)?;
    // The configuration's channels, then the database's (declared later, by the operator or a
    // device's report): the database's win for the same device and slot.
    let mut channels: Vec<_> = config
        .sms
        .channels
        .iter()
        .map(|c| (c.device.clone(), c.slot.clone(), c.number.clone()))
        .collect();
    channels.extend(
        store
            .sms_channels()
            .await?
            .into_iter()
            .map(|c| (c.device, c.slot, c.msisdn)),
    );
    otp.set_channels(channels);
    let intakes = config.sms.open_apps();
    if !intakes.is_empty() {
        tracing::info!(
            intakes = %intakes.iter().map(|a| a.path()).collect::<Vec<_>>().join(", "),
            turns = otp.turns(),
            channels = otp.channels().len(),
            "SMS forwarder apps may post to their intakes."
        );
    }
    let pool = AccountPool::new(store.clone(), owner.clone(), options.batch.clone()).start();
    let (done_tx, done) = oneshot::channel();
    let supervisor = Supervisor::new(SupervisorSetup {
        owner: owner.clone(),
        make_client,
        takeover: config.ownership.takeover,
        store: store.clone(),
        pool: pool.clone(),
        otp: otp.clone(),
        settings: Arc::new(Settings::from_config(config)),
        restart: config.restart.clone(),
        metrics: metrics.clone(),
        until_empty: options.until_empty,
        done: done_tx,
    })
    .start();
    let mut keeper = LeaseKeeper::new(keeper_setup, supervisor.clone(), pool.clone(), otp.clone());
    // The servers free now are held and started before `start` returns; the keeper takes the
    // others as they come free.
    for (lease, watch) in keeper.acquire_first().await? {
        let _ = supervisor
            .send(crate::supervisor::LeaseAcquired { lease, watch })
            .await;
    }
    let keeper = keeper.start();
    let admin = match listener {
        Some(listener) => {
            let refill = pool.clone();
            let state = AdminState::new(otp.clone())
                .with_pool_refilled(move || refill.do_send(Refilled))
                .with_runtime(AdminRuntime {
                    supervisor: supervisor.clone(),
                    store,
                    metrics: metrics.clone(),
                    started_at: Utc::now(),
                })
                .with_token(config.admin.token.clone())
                .with_intakes(&config.sms);
            let handle = match http::serve_on(listener, state).await {
                Ok(handle) => handle,
                Err(e) => {
                    supervisor.do_send(Shutdown);
                    return Err(e.into());
                }
            };
            tracing::info!(addr = %handle.addr(), "The admin API listens (live page: /, SMS forwarder: POST /sms, operator OTP: POST /api/otp).");
            Some(handle)
        }
        None => None,
    };
    Ok(Running {
        supervisor,
        pool,
        otp,
        owner,
        keeper,
        metrics,
        done,
        admin,
    })
}

/// The configured servers' ports in words, `9900-9919` or `9900, 9905`, for `status`.
fn describe_ports(specs: &[ServerSpec]) -> String {
    let mut ports: Vec<u16> = specs.iter().filter(|s| s.enabled).map(|s| s.port).collect();
    ports.sort_unstable();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ports.len() {
        let start = ports[i];
        let mut end = start;
        while i + 1 < ports.len() && ports[i + 1] == end + 1 {
            i += 1;
            end = ports[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(", ")
}

//! Starting the runtime: recovery first (stale leases back to the pool, stale server states
//! reset), then the pool, the supervisor with its servers, and the admin API. Open
//! bindings are not touched here: each server resumes its own from its persisted state, and
//! each purchase without an outcome is reconciled before that server buys again.

use std::sync::Arc;

use actix::prelude::*;
use chrono::Utc;
use simrotor_config::{Config, ServerSpec};
use simrotor_domain::{BatchId, ServerState};
use simrotor_persistence::{LeaseOwner, ServerSeed, Store, StoreError};
use simrotor_slot::SlotClient;
use tokio::sync::oneshot;

use crate::audit;
use crate::http::{self, AdminHandle, AdminRuntime, AdminState};
use crate::metrics::{MeteredClient, Metrics};
use crate::otp::OtpHub;
use crate::pool::{AccountPool, Refilled};
use crate::settings::Settings;
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

/// Builds the client that reaches one server (the real HTTP client, the simulator's, a double).
pub type ClientFactory = dyn Fn(&ServerSpec) -> Result<Arc<dyn SlotClient>, String>;

/// Starts the runtime. Must be called inside an actix `System`.
pub async fn start(
    config: &Config,
    store: Store,
    make_client: &ClientFactory,
    options: RunOptions,
) -> Result<Running, StartError> {
    let listener = match &options.admin_addr {
        Some(addr) => Some(http::bind(addr, config.admin.token.is_some())?),
        None => None,
    };
    let owner = LeaseOwner::for_this_process();
    let metrics = Arc::new(Metrics::new());
    let released = store.release_stale_leases(&owner, Utc::now()).await?;
    for lease in &released {
        audit::lease_released(lease);
    }
    if !released.is_empty() {
        tracing::warn!(
            released = released.len(),
            "Put back into the pool the numbers a previous run leased but never bound."
        );
    }
    for moved in store.reset_server_states().await? {
        audit::server_moved(moved.port, moved.from, moved.to, Some("restart"));
    }
    let rows = store.sync_servers(&server_seeds(config)?).await?;
    let specs = config.server_specs()?;
    let mut servers = Vec::new();
    for spec in specs.iter().filter(|s| s.enabled) {
        let Some(row) = rows.iter().find(|r| r.base_url == spec.base_url()) else {
            continue;
        };
        if row.state == ServerState::Faulted {
            tracing::warn!(server = spec.port, reason = ?row.state_reason, "The server is FAULTED from an earlier run; it stays off until the operator enables it.");
        }
        let client = make_client(spec).map_err(|reason| StartError::Client {
            port: spec.port,
            reason,
        })?;
        let client = MeteredClient::wrap(client, metrics.clone());
        servers.push((row.clone(), client));
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
        store: store.clone(),
        pool: pool.clone(),
        otp: otp.clone(),
        settings: Arc::new(Settings::from_config(config)),
        restart: config.restart.clone(),
        metrics: metrics.clone(),
        servers,
        until_empty: options.until_empty,
        done: done_tx,
    })
    .start();
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
        metrics,
        done,
        admin,
    })
}

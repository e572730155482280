//! The Supervisor: starts one ServerActor per enabled server and restarts one that stopped on
//! an error or a panic, with exponential backoff and jitter. More than `max_restarts` within
//! `restart_window` and it gives up on that server (Erlang's intensity/period): the server
//! becomes `FAULTED` with the reason, one ERROR is logged, the others go on. actix neither
//! restarts a panicked actor nor limits restarts; both are explicit here.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use simrotor_config::RestartConfig;
use simrotor_domain::{BindingEvent, FailReason, ServerEvent, StateMachine};
use simrotor_persistence::{BindingPatch, ServerRow, Settle, Store};
use simrotor_slot::SlotClient;
use tokio::sync::oneshot;

use crate::driver::Driver;
use crate::mode::Mode;
use crate::otp::OtpHub;
use crate::pool::{AccountPool, Available, Refilled};
use crate::server::{ServerActor, SetMode};
use crate::settings::Settings;

/// A server as the supervisor tracks it.
struct Slot {
    row: ServerRow,
    client: Arc<dyn SlotClient>,
    addr: Option<Addr<ServerActor>>,
    restarts: VecDeque<Instant>,
    idle: bool,
    faulted: bool,
    mode: Mode,
}

/// What the supervisor needs to run the servers.
#[allow(missing_debug_implementations)] // holds a oneshot sender and trait objects; nothing to show
pub struct SupervisorSetup {
    pub store: Store,
    pub pool: Addr<AccountPool>,
    pub otp: OtpHub,
    pub settings: Arc<Settings>,
    pub restart: RestartConfig,
    /// The enabled servers and the client that reaches each.
    pub servers: Vec<(ServerRow, Arc<dyn SlotClient>)>,
    /// End the run when every server is idle and the pool is empty.
    pub until_empty: bool,
    /// Told when every server has stopped (after a shutdown or at the end of the pool).
    pub done: oneshot::Sender<()>,
}

pub struct Supervisor {
    store: Store,
    pool: Addr<AccountPool>,
    otp: OtpHub,
    settings: Arc<Settings>,
    restart: RestartConfig,
    slots: BTreeMap<u16, Slot>,
    until_empty: bool,
    stopping: bool,
    done: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("servers", &self.slots.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    pub fn new(setup: SupervisorSetup) -> Self {
        let slots = setup
            .servers
            .into_iter()
            .map(|(row, client)| {
                (
                    row.port,
                    Slot {
                        row,
                        client,
                        addr: None,
                        restarts: VecDeque::new(),
                        idle: false,
                        faulted: false,
                        mode: Mode::Run,
                    },
                )
            })
            .collect();
        Self {
            store: setup.store,
            pool: setup.pool,
            otp: setup.otp,
            settings: setup.settings,
            restart: setup.restart,
            slots,
            until_empty: setup.until_empty,
            stopping: false,
            done: Some(setup.done),
        }
    }

    fn start_server(&mut self, port: u16, ctx: &mut Context<Self>) {
        let Some(slot) = self.slots.get_mut(&port) else {
            return;
        };
        let driver = Driver {
            store: self.store.clone(),
            client: slot.client.clone(),
            otp: self.otp.clone(),
            settings: self.settings.clone(),
            server_id: slot.row.id,
            port,
        };
        let actor = ServerActor::new(
            driver,
            self.pool.clone(),
            ctx.address().downgrade(),
            slot.mode,
        );
        slot.addr = Some(actor.start());
        slot.idle = false;
    }

    /// The backoff before the `n`th restart in the window: doubling from `backoff_min`, capped
    /// at `backoff_max`, plus up to a quarter of jitter.
    fn backoff(&self, n: u32) -> Duration {
        use rand::Rng;
        let base = self
            .restart
            .backoff_min
            .saturating_mul(1u32 << n.saturating_sub(1).min(16))
            .min(self.restart.backoff_max);
        let extra = base.as_millis() as u64 / 4;
        base + Duration::from_millis(if extra == 0 {
            0
        } else {
            rand::rng().random_range(0..=extra)
        })
    }

    fn all_stopped(&self) -> bool {
        self.slots.values().all(|s| s.addr.is_none())
    }

    fn finish_if_done(&mut self) {
        if self.stopping
            && self.all_stopped()
            && let Some(done) = self.done.take()
        {
            tracing::info!("Every server has stopped.");
            let _ = done.send(());
        }
    }

    fn stop_all(&mut self) {
        self.stopping = true;
        for slot in self.slots.values_mut() {
            slot.mode = Mode::Stop;
            if let Some(addr) = &slot.addr {
                addr.do_send(SetMode(Mode::Stop));
            }
        }
        self.finish_if_done();
    }

    /// With `until_empty`: when every live server waits on an empty pool, the run is over.
    fn check_end_of_pool(&mut self, ctx: &mut Context<Self>) {
        if !self.until_empty || self.stopping {
            return;
        }
        if !self.slots.values().all(|s| s.idle || s.faulted) {
            return;
        }
        let pool = self.pool.clone();
        ctx.spawn(
            async move { pool.send(Available).await }
                .into_actor(self)
                .map(|available, act, _| {
                    let still_idle = act.slots.values().all(|s| s.idle || s.faulted);
                    if let Ok(Ok(0)) = available
                        && still_idle
                    {
                        tracing::info!(
                            "The pool is empty and every server is idle: the run is over."
                        );
                        act.stop_all();
                    }
                }),
        );
    }
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let ports: Vec<u16> = self.slots.keys().copied().collect();
        tracing::info!(servers = ports.len(), "Starting the servers.");
        for port in ports {
            self.start_server(port, ctx);
        }
        self.finish_if_done();
    }
}

/// A ServerActor's work loop ended: `failure` is `None` for a requested stop, else the reason
/// and whether it panicked.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ServerDown {
    pub port: u16,
    pub failure: Option<(String, bool)>,
}

/// A server waits on an empty pool (`idle`), or found work again.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ServerIdle {
    pub port: u16,
    pub idle: bool,
}

/// Stop every server at its next step boundary (SIGINT/SIGTERM).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// The operator's pause / resume / drain for one server.
#[derive(Debug, Message)]
#[rtype(result = "bool")]
pub struct ControlServer {
    pub port: u16,
    pub mode: Mode,
}

impl Handler<ServerDown> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: ServerDown, ctx: &mut Self::Context) {
        let Some(slot) = self.slots.get_mut(&msg.port) else {
            return;
        };
        slot.addr = None;
        let Some((reason, panicked)) = msg.failure else {
            self.finish_if_done();
            return;
        };
        if self.stopping {
            tracing::warn!(server = msg.port, reason = %reason, "A server failed while stopping.");
            self.finish_if_done();
            return;
        }
        let now = Instant::now();
        slot.restarts.push_back(now);
        while slot
            .restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.restart.window)
        {
            slot.restarts.pop_front();
        }
        let n = slot.restarts.len() as u32;
        if n > self.restart.max_restarts {
            slot.faulted = true;
            tracing::error!(server = msg.port, restarts = n, window = ?self.restart.window, reason = %reason, "The server failed too often; giving up on it (FAULTED). The others go on.");
            let (store, id, pool) = (self.store.clone(), slot.row.id, self.pool.clone());
            let why = format!(
                "restarted {n} times within {:?}: {reason}",
                self.restart.window
            );
            ctx.spawn(
                async move {
                    if let Ok(Some(mut row)) = store.server(id).await
                        && row.state.apply(&ServerEvent::Fault).is_ok()
                    {
                        let _ = store.move_server(&mut row, ServerEvent::Fault, Some(&why)).await;
                    }
                    // The number it held goes back to the pool: the others can use its pulsa.
                    match store.open_binding_of_server(id).await {
                        Ok(Some(binding)) => {
                            let patch = BindingPatch {
                                raw: Some(serde_json::json!({ "failure": why })),
                                ..Default::default()
                            };
                            let closed = store
                                .close_binding(binding, BindingEvent::Failed(FailReason::ServerFaulted), Settle::Released, patch)
                                .await;
                            match closed {
                                Ok(_) => pool.do_send(Refilled),
                                Err(e) => tracing::error!(server_id = id, error = %e, "Could not hand the faulted server's number back to the pool."),
                            }
                        }
                        Ok(None) => {}
                        Err(e) => tracing::error!(server_id = id, error = %e, "Could not read the faulted server's binding."),
                    }
                }
                .into_actor(self)
                // Only now can the run be over: the number is back in the pool first.
                .map(|_, act, ctx| act.check_end_of_pool(ctx)),
            );
            return;
        }
        let delay = self.backoff(n);
        tracing::warn!(server = msg.port, panicked, restart = n, delay = ?delay, reason = %reason, "The server stopped on an error; restarting it after a backoff.");
        let port = msg.port;
        ctx.run_later(delay, move |act, ctx| {
            if !act.stopping {
                act.start_server(port, ctx);
            }
        });
    }
}

impl Handler<ServerIdle> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: ServerIdle, ctx: &mut Self::Context) {
        if let Some(slot) = self.slots.get_mut(&msg.port) {
            slot.idle = msg.idle;
        }
        if msg.idle {
            self.check_end_of_pool(ctx);
        }
    }
}

impl Handler<Shutdown> for Supervisor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, _: &mut Self::Context) {
        tracing::info!("Shutting down: every server stops at its next step boundary.");
        self.stop_all();
    }
}

impl Handler<ControlServer> for Supervisor {
    type Result = bool;

    fn handle(&mut self, msg: ControlServer, _: &mut Self::Context) -> bool {
        let Some(slot) = self.slots.get_mut(&msg.port) else {
            return false;
        };
        slot.mode = msg.mode;
        if let Some(addr) = &slot.addr {
            addr.do_send(SetMode(msg.mode));
        }
        true
    }
}

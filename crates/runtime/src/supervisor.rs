//! The Supervisor: starts one ServerActor per server whose lease this runtime acquired (the
//! [`LeaseKeeper`](crate::ownership::LeaseKeeper) tells it), stops one whose lease was lost, and
//! restarts one that stopped on an error or a panic, with exponential backoff and jitter. More than `max_restarts` within
//! `restart_window` and it gives up on that server (Erlang's intensity/period): the server
//! becomes `FAULTED` with the reason, one ERROR is logged, the others go on. actix neither
//! restarts a panicked actor nor limits restarts; both are explicit here.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use simrotor_config::{RestartConfig, ServerSpec};
use simrotor_domain::{BindingEvent, FailReason, ServerState};
use simrotor_persistence::{BindingPatch, Fence, HeldLease, LeaseOwner, ServerRow, Settle, Store};
use simrotor_slot::{CallGate, SlotClient};
use tokio::sync::oneshot;

use crate::driver::Driver;
use crate::metrics::{MeteredClient, Metrics};
use crate::mode::Mode;
use crate::otp::OtpHub;
use crate::ownership::LeaseWatch;
use crate::pool::{AccountPool, Available, Refilled};
use crate::recorder::Recorder;
use crate::server::{ServerActor, SetMode};
use crate::settings::Settings;

/// A server as the supervisor tracks it: its actor, its restarts and the operator's mode.
struct Supervised {
    row: ServerRow,
    client: Arc<dyn SlotClient>,
    /// The store its driver writes through: fenced with the server's lease.
    store: Store,
    lease: LeaseWatch,
    /// Its lease went to another runtime: it stops, and is forgotten once stopped.
    lost: bool,
    /// The lease came back while the lost one's actor was still stopping: the server starts
    /// again under it once that actor has stopped.
    regained: Option<LeaseAcquired>,
    addr: Option<Addr<ServerActor>>,
    restarts: VecDeque<Instant>,
    idle: bool,
    faulted: bool,
    /// The operator disabled it (a drain that stays until enabled).
    disabled: bool,
    /// Restarts since the process started (the window's count is `restarts`).
    restarted: u32,
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
    pub metrics: Arc<Metrics>,
    /// This runtime, as its leases name it.
    pub owner: LeaseOwner,
    /// Builds the client that reaches a server, from the settings kept with its row.
    pub make_client: Arc<ClientFactory>,
    /// Servers of other runtimes may be taken over: the run is over only once no binding is
    /// open anywhere.
    pub takeover: bool,
    /// End the run when every server is idle and the pool is empty.
    pub until_empty: bool,
    /// Told when every server has stopped (after a shutdown or at the end of the pool).
    pub done: oneshot::Sender<()>,
}

/// Builds the client that reaches one server (the real HTTP client, the simulator's, a double);
/// the gate says whether the server may still be called (its lease is current), for the
/// client's own repeats.
pub type ClientFactory = dyn Fn(&ServerSpec, CallGate) -> Result<Arc<dyn SlotClient>, String>;

pub struct Supervisor {
    store: Store,
    pool: Addr<AccountPool>,
    otp: OtpHub,
    settings: Arc<Settings>,
    restart: RestartConfig,
    metrics: Arc<Metrics>,
    owner: LeaseOwner,
    make_client: Arc<ClientFactory>,
    takeover: bool,
    servers: BTreeMap<u16, Supervised>,
    until_empty: bool,
    stopping: bool,
    done: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("servers", &self.servers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    pub fn new(setup: SupervisorSetup) -> Self {
        Self {
            store: setup.store,
            pool: setup.pool,
            otp: setup.otp,
            settings: setup.settings,
            restart: setup.restart,
            metrics: setup.metrics,
            owner: setup.owner,
            make_client: setup.make_client,
            takeover: setup.takeover,
            servers: BTreeMap::new(),
            until_empty: setup.until_empty,
            stopping: false,
            done: Some(setup.done),
        }
    }

    fn start_server(&mut self, port: u16, ctx: &mut Context<Self>) {
        let Some(supervised) = self.servers.get_mut(&port) else {
            return;
        };
        if supervised.lost {
            return;
        }
        let driver = Driver {
            store: supervised.store.clone(),
            lease: supervised.lease.clone(),
            client: supervised.client.clone(),
            otp: self.otp.clone(),
            settings: self.settings.clone(),
            server_id: supervised.row.id,
            port,
            metrics: self.metrics.clone(),
            kept: Default::default(),
        };
        let actor = ServerActor::new(
            driver,
            self.pool.clone(),
            ctx.address().downgrade(),
            supervised.mode,
        );
        supervised.addr = Some(actor.start());
        supervised.idle = false;
    }

    fn all_stopped(&self) -> bool {
        self.servers.values().all(|s| s.addr.is_none())
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
        for supervised in self.servers.values_mut() {
            supervised.mode = Mode::Stop;
            if let Some(addr) = &supervised.addr {
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
        if !self.servers.values().all(|s| s.idle || s.faulted) {
            return;
        }
        let (pool, store, takeover) = (self.pool.clone(), self.store.clone(), self.takeover);
        let owner = self.owner.clone();
        ctx.spawn(
            async move {
                let available = pool.send(Available).await;
                // Another runtime's open binding may yet come to this one.
                let open_elsewhere = takeover
                    && store
                        .open_bindings_elsewhere(&owner)
                        .await
                        .map_or(true, |n| n > 0);
                (available, open_elsewhere)
            }
            .into_actor(self)
            .map(|(available, open_elsewhere), act, _| {
                let still_idle = act.servers.values().all(|s| s.idle || s.faulted);
                if let Ok(Ok(0)) = available
                    && still_idle
                    && !open_elsewhere
                {
                    tracing::info!("The pool is empty and every server is idle: the run is over.");
                    act.stop_all();
                }
            }),
        );
    }
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // The servers start as their leases are acquired. With other runtimes on the database
        // the pool also empties and fills elsewhere: the end of the run is looked for on a beat.
        if self.until_empty {
            ctx.run_interval(std::time::Duration::from_secs(1), |act, ctx| {
                if !act.servers.is_empty() {
                    act.check_end_of_pool(ctx);
                }
            });
        }
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
pub struct SetServerMode {
    pub port: u16,
    pub mode: Mode,
}

impl Handler<ServerDown> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: ServerDown, ctx: &mut Self::Context) {
        let Some(supervised) = self.servers.get_mut(&msg.port) else {
            return;
        };
        supervised.addr = None;
        if supervised.lost {
            tracing::info!(
                server = msg.port,
                "The server stopped: its lease is another runtime's now."
            );
            let regained = supervised.regained.take();
            self.servers.remove(&msg.port);
            if let Some(regained) = regained {
                ctx.notify(regained);
            }
            self.finish_if_done();
            self.check_end_of_pool(ctx);
            return;
        }
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
        supervised.restarts.push_back(now);
        while supervised
            .restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.restart.window)
        {
            supervised.restarts.pop_front();
        }
        let n = supervised.restarts.len() as u32;
        if n > self.restart.max_restarts {
            supervised.faulted = true;
            tracing::error!(server = msg.port, restarts = n, window = ?self.restart.window, reason = %reason, "The server failed too often; giving up on it (FAULTED). The others go on.");
            let (store, id, pool) = (
                supervised.store.clone(),
                supervised.row.id,
                self.pool.clone(),
            );
            let (metrics, port) = (self.metrics.clone(), msg.port);
            let why = format!(
                "restarted {n} times within {:?}: {reason}",
                self.restart.window
            );
            ctx.spawn(
                async move {
                    let recorder = Recorder::new(&store, &metrics, id, port);
                    recorder.server_faulted(&why).await;
                    // The number it held goes back to the pool: the others can use its pulsa.
                    match store.open_binding_of_server(id).await {
                        Ok(Some(binding)) => {
                            let patch = BindingPatch {
                                raw: Some(serde_json::json!({ "failure": why })),
                                ..Default::default()
                            };
                            let closed = recorder
                                .close_binding(&binding, BindingEvent::Failed(FailReason::ServerFaulted), Settle::Released, patch)
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
        supervised.restarted += 1;
        self.metrics.server_restarted(msg.port);
        // The `n`th restart in the window waits the backoff's `n - 1`th step.
        let delay = self.settings.restart_backoff.delay(n.saturating_sub(1));
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
        if let Some(supervised) = self.servers.get_mut(&msg.port) {
            supervised.idle = msg.idle;
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

impl Handler<SetServerMode> for Supervisor {
    type Result = bool;

    fn handle(&mut self, msg: SetServerMode, _: &mut Self::Context) -> bool {
        let Some(supervised) = self.servers.get_mut(&msg.port) else {
            return false;
        };
        supervised.mode = msg.mode;
        if let Some(addr) = &supervised.addr {
            addr.do_send(SetMode(msg.mode));
        }
        true
    }
}

/// What the operator can do to one server through the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Pause,
    Resume,
    Drain,
    Enable,
    Disable,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Drain => "drain",
            Action::Enable => "enable",
            Action::Disable => "disable",
        }
    }
}

impl std::str::FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "pause" => Action::Pause,
            "resume" => Action::Resume,
            "drain" => Action::Drain,
            "enable" => Action::Enable,
            "disable" => Action::Disable,
            other => {
                return Err(format!(
                    "unknown action {other:?}: expected pause, resume, drain, enable or disable"
                ));
            }
        })
    }
}

/// Why the supervisor refused an operator's action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperateError {
    #[error(
        "server {0} is not run by this runtime (not configured, or disabled in the configuration)"
    )]
    UnknownServer(u16),
    #[error("server {port}: {why}")]
    NotNow { port: u16, why: &'static str },
}

/// The operator's action on one server. Takes effect at the server's next step boundary.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), OperateError>")]
pub struct Operate {
    pub port: u16,
    pub action: Action,
}

/// What the supervisor knows of a server that the database does not: the operator's mode.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModeView {
    pub port: u16,
    /// `run`, `pause`, `drain`, `disabled`, `faulted` or `stopping`.
    pub mode: &'static str,
    pub running: bool,
    pub restarts: u32,
}

/// Every server the supervisor runs, by port.
#[derive(Debug, Message)]
#[rtype(result = "Vec<ModeView>")]
pub struct ModeViews;

impl Handler<ModeViews> for Supervisor {
    type Result = MessageResult<ModeViews>;

    fn handle(&mut self, _: ModeViews, _: &mut Self::Context) -> Self::Result {
        MessageResult(
            self.servers
                .iter()
                .map(|(port, supervised)| ModeView {
                    port: *port,
                    mode: if supervised.faulted {
                        "faulted"
                    } else if supervised.disabled {
                        "disabled"
                    } else {
                        match supervised.mode {
                            Mode::Run => "run",
                            Mode::Pause => "pause",
                            Mode::Drain => "drain",
                            Mode::Stop => "stopping",
                        }
                    },
                    running: supervised.addr.is_some(),
                    restarts: supervised.restarted,
                })
                .collect(),
        )
    }
}

impl Supervisor {
    fn set_mode(&mut self, port: u16, mode: Mode) {
        if let Some(supervised) = self.servers.get_mut(&port) {
            supervised.mode = mode;
            if let Some(addr) = &supervised.addr {
                addr.do_send(SetMode(mode));
            }
        }
    }
}

impl Handler<Operate> for Supervisor {
    type Result = Result<(), OperateError>;

    fn handle(&mut self, msg: Operate, ctx: &mut Self::Context) -> Self::Result {
        let port = msg.port;
        let Some(supervised) = self.servers.get_mut(&port) else {
            return Err(OperateError::UnknownServer(port));
        };
        let not_now = |why| Err(OperateError::NotNow { port, why });
        if self.stopping {
            return not_now("the runtime is stopping");
        }
        if supervised.faulted && msg.action != Action::Enable {
            return not_now("it is FAULTED; enable it to clear the fault");
        }
        match msg.action {
            Action::Pause => self.set_mode(port, Mode::Pause),
            Action::Drain => self.set_mode(port, Mode::Drain),
            Action::Resume => {
                if supervised.mode == Mode::Run && !supervised.disabled {
                    return not_now("it is not paused, draining or disabled");
                }
                supervised.disabled = false;
                self.set_mode(port, Mode::Run);
            }
            Action::Disable => {
                supervised.disabled = true;
                self.set_mode(port, Mode::Drain);
            }
            Action::Enable => {
                if supervised.faulted {
                    supervised.faulted = false;
                    supervised.restarts.clear();
                    supervised.disabled = false;
                    supervised.mode = Mode::Run;
                    let (store, id) = (supervised.store.clone(), supervised.row.id);
                    let metrics = self.metrics.clone();
                    // The fault is cleared in the database before the server starts again, so
                    // its first state change (`Working`) is legal.
                    ctx.spawn(
                        async move {
                            Recorder::new(&store, &metrics, id, port)
                                .server_reset()
                                .await;
                        }
                        .into_actor(self)
                        .map(move |_, act, ctx| {
                            if !act.stopping {
                                act.start_server(port, ctx);
                            }
                        }),
                    );
                    return Ok(());
                }
                if !supervised.disabled {
                    return not_now("it is already enabled");
                }
                supervised.disabled = false;
                self.set_mode(port, Mode::Run);
            }
        }
        Ok(())
    }
}

/// The keeper acquired a server's lease: the server is this runtime's to drive.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct LeaseAcquired {
    pub lease: HeldLease,
    pub watch: LeaseWatch,
}

/// The keeper found a server's lease held by another runtime: stop driving it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct LeaseLost {
    pub server_id: i64,
}

/// What a server needs before its actor starts: its row, its client's settings, and the state
/// its previous owner left reset (through the fenced store, so it is this lease's write).
async fn prepare(
    store: Store,
    fenced: Store,
    server_id: i64,
) -> Result<(ServerRow, Option<serde_json::Value>), String> {
    if let Some(moved) = fenced
        .reset_server_state(server_id)
        .await
        .map_err(|e| e.to_string())?
    {
        crate::audit::server_moved(moved.port, moved.from, moved.to, Some("restart"));
    }
    let row = store
        .server(server_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("server {server_id} is not in the database"))?;
    let settings = store
        .server_settings(server_id)
        .await
        .map_err(|e| e.to_string())?;
    Ok((row, settings))
}

impl Handler<LeaseAcquired> for Supervisor {
    /// Done once the server is prepared and its actor started (start-up awaits its servers).
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, msg: LeaseAcquired, _: &mut Self::Context) -> Self::Result {
        if self.stopping {
            return Box::pin(actix::fut::ready(()));
        }
        let server_id = msg.lease.server_id;
        // Lost a moment ago and its actor still stopping: started once that one is down.
        if let Some(old) = self
            .servers
            .values_mut()
            .find(|s| s.row.id == server_id && s.lost && s.addr.is_some())
        {
            old.regained = Some(msg);
            return Box::pin(actix::fut::ready(()));
        }
        let fenced = self.store.fenced(Fence {
            server_id,
            owner: self.owner.clone(),
            fence: msg.lease.fence,
        });
        let store = self.store.clone();
        Box::pin(
            prepare(store, fenced.clone(), server_id)
                .into_actor(self)
                .map(move |prepared, act, ctx| {
                    if act.stopping {
                        return;
                    }
                    let (row, settings) = match prepared {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::error!(server_id, error = %e, "Could not prepare a server whose lease this runtime acquired; it stays idle.");
                            return;
                        }
                    };
                    let port = row.port;
                    if act.servers.get(&port).is_some_and(|s| s.row.id != server_id) {
                        tracing::warn!(server = port, server_id, base_url = %row.base_url, "This runtime already drives another server on this port; it leaves this one alone (the operator's controls name servers by port).");
                        return;
                    }
                    let spec = settings
                        .and_then(|v| serde_json::from_value::<ServerSpec>(v).ok());
                    let Some(spec) = spec else {
                        tracing::error!(server = port, server_id, "The server's row keeps no settings to reach it with; it stays idle.");
                        return;
                    };
                    let lease = msg.watch.clone();
                    let gate = CallGate::new(move || lease.is_current());
                    let client = match (act.make_client)(&spec, gate) {
                        Ok(client) => MeteredClient::wrap(client, act.metrics.clone()),
                        Err(reason) => {
                            tracing::error!(server = port, reason = %reason, "Could not build the server's client; it stays idle.");
                            return;
                        }
                    };
                    // Faulted in an earlier run: kept off until the operator enables it.
                    let faulted = row.state == ServerState::Faulted;
                    if faulted {
                        tracing::warn!(server = port, reason = ?row.state_reason, "The server is FAULTED from an earlier run; it stays off until the operator enables it.");
                    }
                    tracing::info!(server = port, server_id, fence = msg.lease.fence, base_url = %row.base_url, "This runtime holds the server's lease; starting it.");
                    act.servers.insert(
                        port,
                        Supervised {
                            row,
                            client,
                            store: fenced,
                            lease: msg.watch,
                            lost: false,
                            regained: None,
                            addr: None,
                            restarts: VecDeque::new(),
                            idle: false,
                            faulted,
                            disabled: false,
                            restarted: 0,
                            mode: Mode::Run,
                        },
                    );
                    if !faulted {
                        act.start_server(port, ctx);
                    }
                }),
        )
    }
}

impl Handler<LeaseLost> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: LeaseLost, ctx: &mut Self::Context) {
        let Some((&port, supervised)) = self
            .servers
            .iter_mut()
            .find(|(_, s)| s.row.id == msg.server_id)
        else {
            return;
        };
        tracing::warn!(
            server = port,
            server_id = msg.server_id,
            "Another runtime holds the server's lease now; this runtime stops driving it."
        );
        supervised.lost = true;
        match &supervised.addr {
            Some(addr) => addr.do_send(SetMode(Mode::Stop)),
            None => {
                self.servers.remove(&port);
                self.finish_if_done();
                self.check_end_of_pool(ctx);
            }
        }
    }
}

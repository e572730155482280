//! A simulator of the operator's resource servers, so simrotor can be developed, tested and
//! demonstrated without SIM cards: `simrotor sim` serves the configured ports, tests start it
//! in-process on ephemeral ports.
//!
//! It speaks the slot API (`contract/slot-api.md`) as the operator's servers do, with a telco
//! behind it that keeps per-number pulsa, reseller and blocked status (repeatable from a seed),
//! OTPs by SMS, expiring tokens and purchases that take a few status polls; it injects the faults
//! real servers show ([`SimulatorFaults`]); and it keeps a ledger of every executed purchase so a
//! test can hold the runtime's database against what the servers really did ([`reconcile`]).
//!
//! # Answers
//! Every call is `GET` with query parameters; `username` in any form [`Msisdn::parse`] accepts.
//! A missing or malformed parameter (including a bad `username`) is HTTP 400 with the legacy
//! refusal `{"req": …, "res": {"status": "1", "code": "400", "message": …}}` in every shape;
//! every other answer is HTTP 200. `simulator.shapes` ([`AnswerShapes`]) picks the bodies:
//! `real` (the default) as the operator's servers answer (`contract/slot-api.md`; the tests hold
//! each to the contract's example in `tests/fixtures/real/`), `legacy` the simulator's earlier
//! single envelope, `mixed` a seeded draw between the two for each answer. `req` always echoes
//! the query with `pin` and `otp` masked as `"****"`.
//!
//! **Real.** The myim3 calls are not wrapped: success `{"status": "0", "code": "00000",
//! "message", "transid", "data": {"status": "true", …}}`, refusal `{"status": "1", "code":
//! "99999", "message", "transid"}`. The upoint calls are wrapped: success `res.status "200"`,
//! `status_msg "success"`; refusal `res.status "400"` (`"404"` unknown trx, `"401"` not logged
//! in), `status_msg "failed"`, `res.message`.
//!
//! | call | success | refusals (message) |
//! |---|---|---|
//! | `/otp?username&pin` | myim3, `message "OTP_SENT"`, `data.transid` | myim3: "…diblokir…", "PIN salah", "Perangkat sedang digunakan oleh nomor lain…" (`one_session`) |
//! | `/verifyOtp?username&otp` | myim3, `message "success"`, `data.tokenid` (a JWT, `eyJ…`) | myim3: "Kode OTP salah", "Kode OTP kadaluarsa…", "Silakan minta kode OTP…" |
//! | `/balance_pulsa?username` | `{"req", "res": {"cardactiveuntil": "02 Mar 2027", "balance": "5604", "graceperioduntil": "01 May 2027", "expires": "Berlaku hingga 02 Mar 27"}}` (no status, as seen) | |
//! | `/token_location3?username` | a JWT as a `text/plain` body | |
//! | `/list_idv?username` | not wrapped: `{"status": "200", "status_msg": "success", "data": {"product_group": {"product_type": "reseller", …}, "product_list": [{"id": 650, "name", "lower_price": "100000", …}], "identifier": {"device_id": 16 hex, "mobile_number": "62…", …}, …}}` (`id` an integer when the configured id is all digits) | non-reseller `{"status": "401", "status_msg": "Unauthorized", "message": "Anda bukan Reseller, …"}` (as seen) |
//! | `/trx_idv?username&product_id&email&limit_harga` | upoint, `data: {trx_id, t_id (32 hex each), is_success: 2}`: **not** final, ask `/status_idv` | upoint: "pulsa tidak cukup", "melebihi limit_harga", "tidak ditemukan"; non-reseller as above inside `res` |
//! | `/otp_idv?username&otp` | upoint, `message "success"` | upoint: "Invalid OTP", "OTP expired, silakan ulangi transaksi", "Tidak ada transaksi yang menunggu OTP", "Transaksi gagal: pulsa tidak cukup…" |
//! | `/status_idv?username&trx_id` | upoint, `data: {trx_id, is_success: 1 (processing) or 2 (final), voucher: null or 16 upper-case alphanumerics}` (2 with `null`: suspect) | upoint 404 "Transaksi tidak ditemukan"; failed after its OTP: 400 "Transaksi gagal: …" with `data.is_success: 3` |
//! | `/logout?username` | `{"req", "res": {"status": "0", "code": "00000", "message": "success"}}` | |
//!
//! Not logged in (or the token expired), text "Sesi tidak berlaku (token expired), silakan login
//! kembali": upoint `res.status "401"`; `/list_idv` `{"status": "401", "status_msg":
//! "Unauthorized", …}`; `/balance_pulsa`, `/token_location3`, `/logout` `{"req", "res":
//! {"status": "401", "message"}}` (never seen: a guess).
//!
//! **Legacy.** Every JSON answer is `{"req", "res"}`; success `res` carries `"status": "0"`,
//! `"code": "200"` and a `message`, a refusal `"status": "1"`, a `code` and an Indonesian
//! `message`.
//!
//! | call | success `res` | refusals (`res.message` contains) |
//! |---|---|---|
//! | `/otp` | ack | "diblokir" (blocked), "PIN salah", "sedang digunakan oleh nomor lain" |
//! | `/verifyOtp` | `data.token_login` | "Kode OTP salah", "Kode OTP kadaluarsa", "minta kode OTP" (none pending) |
//! | `/balance_pulsa` | as real | |
//! | `/token_location3` | the token (hex) as a `text/plain` body | |
//! | `/list_idv` | `data.products: [{product_id, name, price}]` (price an integer), `data.identifier.device_id` | non-reseller as real, inside `res` |
//! | `/trx_idv` | `data.trx_id`, `data.t_id` (strings), `data.is_success: 1` | "pulsa tidak cukup", "melebihi limit_harga", "tidak ditemukan" (product), non-reseller |
//! | `/otp_idv` | ack with `data` of the purchase | "Kode OTP salah", "Kode OTP kadaluarsa", "Tidak ada transaksi yang menunggu OTP" |
//! | `/status_idv` | `data.is_success`: 1 processing (no `voucher`), 2 done with `data.voucher` a string (`VC-XXXX-XXXX-XXXX`), or `null` when done without one (suspect) | "Transaksi tidak ditemukan"; a purchase failed after its OTP: status "1", `data.is_success: 3` |
//! | `/logout` | ack | |
//!
//! Not logged in: `{"status": "1", "code": "401", "message": "… (token expired) …"}`.
//!
//! Identifiers follow the real formats unless `shapes = "legacy"`, which keeps the earlier ones
//! (`IDV…` trx ids, 9-digit `t_id`s, hex tokens, `VC-…` vouchers).
//!
//! # Behaviour
//! Every call but `/otp` and `/verifyOtp` needs the number logged in on that server with a
//! live token. One machine holds one SIM: with `one_session` (the default) a server holding a
//! number's live login refuses `/otp` for another number until that one logs out or its token
//! expires; without it, `/otp` for another number replaces the server's session.
//! A transaction OTP (switch `transaction_otp`) is asked on a number's first purchase on a
//! server whose device it has not used: nothing is debited until `/otp_idv` brings the code
//! from the SMS, and `status_idv` answers 1 meanwhile.
//!
//! **Strikes.** Every wrong or expired code sent to `/verifyOtp` or `/otp_idv` is a strike, as
//! the real telco counts them (it blocks a number after a few): the simulator counts them per
//! number, so a test can hold that no wrong code was ever sent.
//!
//! **SMS forwarding** (`simulator.sms_forwarder_url`, `forward_as`, …): each SMS is posted as
//! simrotor's native JSON or as a real forwarder app posts it, from the phone and slot
//! [`sim_of`] gives its SIM, with retries and forgeries on demand (see the `sms` module).
//!
//! The `/_sim` pages, never faulted: `GET /_sim/sms[?username=…]` lists the SMS sent (all, or
//! one number's), latest first, each as the native forwarder posts it ([`Sms`]);
//! `GET /_sim/ledger` lists the executed purchases in order ([`LedgerEntry`]);
//! `GET /_sim/strikes` the strikes, `{"total": 2, "numbers": {"6281…": 2}}` ([`Strikes`]);
//! `GET /_sim/calls` the calls served by name, `{"counts": {"otp": 20, …}, "calls": […]}`, each
//! call listed with its port, number and times when `simulator.record_calls` is on
//! ([`CallReport`]; the benchmark's utilization and rotation gap come from it).

mod calls;
mod faults;
mod http;
mod params;
mod profile;
mod reconcile;
mod shapes;
mod sms;
mod world;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::http::KeepAlive;
use actix_web::{App, HttpServer, web};
use chrono::Utc;
use simrotor_config::ConfigError;
use simrotor_domain::{Msisdn, Rupiah};
use tokio::sync::{mpsc, oneshot, watch};

pub use calls::{CallReport, SMS as SMS_DELIVERY, ServedCall};
pub use profile::{NumberProfile, device_id};
pub use reconcile::{Discrepancy, Reconciliation, reconcile};
pub use simrotor_config::{AnswerShapes, SimProduct, SimulatorConfig, SimulatorFaults};
pub use simrotor_domain::{BookedBinding, BookedPurchase, Books};
pub use sms::{FORWARD_TIMEOUT, SENDER, Sms, sim_of};
pub use world::{LedgerEntry, Strikes};

use crate::calls::CallLog;
use crate::http::Shared;
use crate::world::World;

/// How long a graceful stop waits for calls in flight before closing their connections.
const SHUTDOWN_TIMEOUT_SECS: u64 = 2;
/// Long enough that a client pacing its calls does not race the server closing an idle
/// connection (nginx's default).
const KEEP_ALIVE: Duration = Duration::from_secs(75);
/// The pause before trying again to re-bind a port after its down window, when it is taken.
const REBIND_RETRY: Duration = Duration::from_secs(1);

/// Why the simulator cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the simulator needs at least one port to serve")]
    NoPorts,
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: io::Error },
    #[error(
        "simulator.faults.down_ports = {0}: the simulator does not serve this port (ports served: {1})"
    )]
    DownPortNotServed(u16, String),
    #[error("cannot build the SMS forwarder's HTTP client: {0}")]
    Forwarder(reqwest::Error),
    #[error("cannot start the simulator's thread: {0}")]
    Thread(io::Error),
    #[error("the simulator failed while starting: {0}")]
    Start(String),
}

/// Starts simulators; see [`Simulator::start`].
#[derive(Debug)]
pub struct Simulator;

/// What the thread that runs the servers is handed.
struct Plan {
    /// Ports without a down window: one server for all of them.
    steady: Vec<TcpListener>,
    /// Ports with a down window: a server each, so one can stop and come back alone.
    windowed: Vec<(SocketAddr, TcpListener)>,
    shared: Arc<Shared>,
    forwarder: Option<(sms::Forwarder, mpsc::UnboundedReceiver<Sms>)>,
    started: Instant,
    down_after: Duration,
    down_for: Duration,
}

impl Simulator {
    /// Serves `ports` on `host` (port 0: an ephemeral port; see [`SimulatorHandle::addrs`]).
    ///
    /// The servers run on a thread of their own with its own actix system, so this works from
    /// any tokio runtime and the caller's runtime never slows them down. When this returns,
    /// every port accepts connections, except those in a down window that has begun.
    pub async fn start(
        config: SimulatorConfig,
        host: &str,
        ports: &[u16],
    ) -> Result<SimulatorHandle, SimulatorError> {
        config.validate()?;
        if ports.is_empty() {
            return Err(SimulatorError::NoPorts);
        }
        let started = Instant::now();
        let mut listeners = Vec::with_capacity(ports.len());
        for &port in ports {
            let bind_error = |source| SimulatorError::Bind {
                addr: format!("{host}:{port}"),
                source,
            };
            let listener = TcpListener::bind((host, port)).map_err(bind_error)?;
            let addr = listener.local_addr().map_err(bind_error)?;
            listeners.push((addr, listener));
        }
        let addrs: Vec<SocketAddr> = listeners.iter().map(|(a, _)| *a).collect();
        let faults = &config.faults;
        for &down in &faults.down_ports {
            if !addrs.iter().any(|a| a.port() == down) {
                let served: Vec<String> = addrs.iter().map(|a| a.port().to_string()).collect();
                return Err(SimulatorError::DownPortNotServed(down, served.join(", ")));
            }
        }
        let (steady, windowed): (Vec<_>, Vec<_>) = listeners.into_iter().partition(|(a, _)| {
            faults.down_for.is_zero() || !faults.down_ports.contains(&a.port())
        });

        let calls = Arc::new(Mutex::new(CallLog::new(started, config.record_calls)));
        let (forward_tx, forwarder) = if config.sms_forwarder_url.is_some() {
            // reqwest is built without a default TLS provider; another part of the process
            // may have installed one already, which is as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::builder()
                .timeout(FORWARD_TIMEOUT)
                .build()
                .map_err(SimulatorError::Forwarder)?;
            let (tx, rx) = mpsc::unbounded_channel();
            let forwarder = sms::Forwarder::new(client, &config, calls.clone()).map(|f| (f, rx));
            (Some(tx), forwarder)
        } else {
            (None, None)
        };

        let mut world = World::new(config.clone(), Utc::now());
        for addr in &addrs {
            world.add_port(addr.port());
        }
        let shared = Arc::new(Shared::new(world, forward_tx, calls));
        let plan = Plan {
            steady: steady.into_iter().map(|(_, l)| l).collect(),
            windowed,
            shared: shared.clone(),
            forwarder,
            started,
            down_after: faults.down_after,
            down_for: faults.down_for,
        };

        let (ready_tx, ready_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("simrotor-sim".to_owned())
            .spawn(move || {
                actix_rt::System::new().block_on(run(plan, ready_tx, stop_rx));
                let _ = done_tx.send(());
            })
            .map_err(SimulatorError::Thread)?;
        let mut handle = SimulatorHandle {
            addrs,
            config,
            shared,
            stop: Some(stop_tx),
            done: Some(done_rx),
            thread: Some(thread),
        };
        match ready_rx.await {
            Ok(Ok(())) => {
                tracing::info!(
                    ports = ?handle.addrs.iter().map(SocketAddr::port).collect::<Vec<_>>(),
                    seed = handle.config.seed,
                    "The simulator serves the slot API."
                );
                Ok(handle)
            }
            Ok(Err(reason)) => {
                handle.shut_down().await;
                Err(SimulatorError::Start(reason))
            }
            Err(_) => {
                handle.shut_down().await;
                Err(SimulatorError::Start(
                    "the simulator's thread ended before it was ready".to_owned(),
                ))
            }
        }
    }
}

/// Starts one actix-web server on `listeners`, all sharing `shared`.
fn serve(
    listeners: Vec<TcpListener>,
    shared: Arc<Shared>,
    workers: Option<usize>,
) -> io::Result<ServerHandle> {
    let data = web::Data::from(shared);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .configure(http::routes)
            .default_service(web::to(http::contract))
    })
    .disable_signals()
    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
    .keep_alive(KeepAlive::Timeout(KEEP_ALIVE));
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    for listener in listeners {
        server = server.listen(listener)?;
    }
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    Ok(handle)
}

/// The simulator's thread: starts the servers, reports ready, runs until told to stop.
async fn run(plan: Plan, ready: oneshot::Sender<Result<(), String>>, stop: oneshot::Receiver<()>) {
    let (shutdown_tx, shutdown) = watch::channel(false);
    let mut tasks = Vec::new();
    if let Some((forwarder, inbox)) = plan.forwarder {
        tasks.push(actix_rt::spawn(sms::forward(
            forwarder,
            inbox,
            shutdown.clone(),
        )));
    }
    let main = if plan.steady.is_empty() {
        None
    } else {
        match serve(plan.steady, plan.shared.clone(), None) {
            Ok(handle) => Some(handle),
            Err(err) => {
                let _ = ready.send(Err(err.to_string()));
                return;
            }
        }
    };
    let window = Window {
        begins: plan.started + plan.down_after,
        ends: plan.started + plan.down_after + plan.down_for,
    };
    for (addr, listener) in plan.windowed {
        let server = if window.begins <= Instant::now() {
            // Down from the start: the listener closes before `start` returns.
            drop(listener);
            tracing::info!(port = addr.port(), "A simulated server starts down.");
            None
        } else {
            match serve(vec![listener], plan.shared.clone(), Some(1)) {
                Ok(handle) => Some(handle),
                Err(err) => {
                    let _ = ready.send(Err(err.to_string()));
                    return;
                }
            }
        };
        tasks.push(actix_rt::spawn(down_window(
            addr,
            server,
            plan.shared.clone(),
            window,
            shutdown.clone(),
        )));
    }
    if ready.send(Ok(())).is_err() {
        tracing::warn!("The simulator's starter went away; the simulator stops.");
    } else {
        // A dropped handle stops the simulator as well as an explicit stop.
        let _ = stop.await;
    }
    let _ = shutdown_tx.send(true);
    if let Some(main) = main {
        main.stop(true).await;
    }
    for task in tasks {
        let _ = task.await;
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    begins: Instant,
    ends: Instant,
}

/// One port's down window: up until it begins, refusing connections during it, up again after.
async fn down_window(
    addr: SocketAddr,
    mut server: Option<ServerHandle>,
    shared: Arc<Shared>,
    window: Window,
    mut shutdown: watch::Receiver<bool>,
) {
    let port = addr.port();
    let until = |at: Instant| actix_rt::time::sleep_until(at.into());
    if let Some(up) = server.take() {
        tokio::select! {
            _ = until(window.begins) => {}
            _ = shutdown.wait_for(|stop| *stop) => {
                up.stop(true).await;
                return;
            }
        }
        // Not graceful: a machine that goes down drops its connections.
        up.stop(false).await;
        tracing::info!(
            port,
            "A simulated server goes down: its port refuses connections."
        );
    }
    shared.world().reset_port(port);
    tokio::select! {
        _ = until(window.ends) => {}
        _ = shutdown.wait_for(|stop| *stop) => return,
    }
    let up = loop {
        match TcpListener::bind(addr).and_then(|l| serve(vec![l], shared.clone(), Some(1))) {
            Ok(handle) => break handle,
            Err(err) => {
                tracing::warn!(port, error = %err, "A simulated server cannot come back up yet; it retries.");
                tokio::select! {
                    _ = actix_rt::time::sleep(REBIND_RETRY) => {}
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
            }
        }
    };
    tracing::info!(port, "A simulated server is back up.");
    let _ = shutdown.wait_for(|stop| *stop).await;
    up.stop(true).await;
}

/// A running simulator. Dropping it stops the servers without waiting; [`stop`] waits.
///
/// [`stop`]: SimulatorHandle::stop
#[derive(Debug)]
pub struct SimulatorHandle {
    addrs: Vec<SocketAddr>,
    config: SimulatorConfig,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SimulatorHandle {
    /// The bound addresses, in the order of the ports asked for.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// `http://HOST:PORT` of each server, in the order of the ports asked for.
    pub fn base_urls(&self) -> Vec<String> {
        self.addrs.iter().map(|a| format!("http://{a}")).collect()
    }

    pub fn config(&self) -> &SimulatorConfig {
        &self.config
    }

    /// Every executed purchase, in execution order (also `GET /_sim/ledger`).
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.shared.world().ledger()
    }

    /// The SMS sent, latest first: all, or those of one number (also `GET /_sim/sms`).
    pub fn sms(&self, msisdn: Option<&Msisdn>) -> Vec<Sms> {
        self.shared.world().sms(msisdn)
    }

    /// The code of the latest SMS sent to `msisdn`, as an operator reading the phone sees it.
    pub fn latest_otp(&self, msisdn: &Msisdn) -> Option<String> {
        self.shared.world().latest_code(msisdn)
    }

    /// What the telco knows of `msisdn` at the start (whether or not it has called yet).
    pub fn profile(&self, msisdn: &Msisdn) -> NumberProfile {
        self.shared.world().profile(msisdn)
    }

    /// The pulsa `msisdn` holds now.
    pub fn pulsa(&self, msisdn: &Msisdn) -> Rupiah {
        self.shared.world().pulsa(msisdn)
    }

    /// The wrong or expired codes sent to `/verifyOtp` and `/otp_idv`, in total and per number:
    /// what the real telco counts as strikes (also `GET /_sim/strikes`).
    /// The calls served so far: counted by name, and listed when `record_calls` is on.
    pub fn calls(&self) -> CallReport {
        self.shared.calls().report()
    }

    pub fn strikes(&self) -> Strikes {
        self.shared.world().strikes()
    }

    /// The device id the server on `port` reports in `list_idv`.
    pub fn device_id(&self, port: u16) -> Option<String> {
        self.shared.world().device_id(port)
    }

    /// Stops every server (calls in flight get a moment to finish) and waits until they are.
    pub async fn stop(mut self) {
        self.shut_down().await;
        tracing::info!("The simulator stopped.");
    }

    async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
        if let Some(thread) = self.thread.take() {
            // `done` came as the thread's last act: this join does not wait.
            let _ = thread.join();
        }
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

//! One binding's whole life on one server: login, the reseller check, purchases until the pulsa
//! is exhausted, logout. Every state change is committed before the next call, so a restart
//! resumes from the database, never from memory; every purchase writes its intent before
//! `trx_idv` and its outcome after, and a lost answer is reconciled by the balance, never
//! resent. The driver reaches the server only through [`SlotClient`], so the real HTTP client,
//! the simulator and test doubles are interchangeable.
//!
//! This file holds the drive's loop, the call that waits out a server that does not answer, and
//! the operator's step boundaries; every step returns a [`Step`]. The steps live in `login`
//! (`/otp` to the reseller check), `purchase` (buying, following, reconciling) and `logout`
//! (every end of a binding); `answers` keeps what the server said.

use std::sync::Arc;

use simrotor_domain::{BindingState, Rupiah, ServerEvent};
use simrotor_persistence::{Binding, Store, StoreError};
use simrotor_slot::{Otp, Product, Reply, SlotClient, SlotError, SlotErrorKind};

use crate::metrics::Metrics;
use crate::mode::{Mode, ModeWatch, Stopped};
use crate::otp::{OtpHub, OtpWaitError, OtpWaiter};
use crate::ownership::LeaseWatch;
use crate::recorder::Recorder;
use crate::settings::Settings;

/// The value of a [`Step`] that went on; the binding's closed state returned from the calling
/// step otherwise (`?` for steps, which stable Rust cannot give a type of our own).
macro_rules! go {
    ($step:expr) => {
        match $step {
            Step::Go(value) => value,
            Step::Closed(state) => return Ok(Step::Closed(state)),
        }
    };
}

mod answers;
mod login;
mod logout;
mod purchase;

pub use answers::KeptStreak;

use answers::About;

/// How a binding's drive ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The binding reached a terminal state; its account is settled.
    Closed(BindingState),
    /// The process is stopping: the binding stays open, in its persisted state, for recovery.
    Interrupted,
}

/// What stops a drive short: the database failed, or a rule was broken. The supervisor restarts
/// the server, which resumes from the database.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Inside the driver: a step either failed at the server (handled by the step) or must end the
/// drive (stop, database).
#[derive(Debug)]
enum Halt {
    Stop,
    Store(StoreError),
}

impl From<StoreError> for Halt {
    fn from(e: StoreError) -> Self {
        Halt::Store(e)
    }
}

impl From<Stopped> for Halt {
    fn from(_: Stopped) -> Self {
        Halt::Stop
    }
}

/// What every step leaves: go on (with what the step found), or the binding is closed, in this
/// terminal state, and its account settled.
#[derive(Debug)]
enum Step<T = ()> {
    Go(T),
    Closed(BindingState),
}

/// What this process learnt of the binding's current login, kept between its steps so that no
/// call is made twice for one login: the product list `list_idv` gave, and the balance known to
/// be current (the login's `balance_start`, then each final purchase's balance after). Empty
/// after a restart or an expired session, and the balance forgotten whenever a purchase may
/// still move it (a lost answer, a deadline): then they are asked again.
#[derive(Debug, Default)]
struct Session {
    products: Option<Vec<Product>>,
    pulsa: Option<Rupiah>,
}

/// A write queued in the store whose commit is still to be awaited (a purchase's acceptance, a
/// server's session mark cleared): it rides in the next batch meanwhile.
type Committing =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), StoreError>> + Send>>;

/// The things a server needs to drive its bindings.
#[derive(Clone)]
pub struct Driver {
    /// Fenced with the server's lease: a write after another runtime took it is refused.
    pub store: Store,
    /// The server's lease: the server is called only while it is current.
    pub lease: LeaseWatch,
    pub client: Arc<dyn SlotClient>,
    pub otp: OtpHub,
    pub settings: Arc<Settings>,
    pub server_id: i64,
    pub port: u16,
    pub metrics: Arc<Metrics>,
    pub kept: KeptStreak,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// A transport failure that says the server is not answering.
fn unreachable(e: &SlotError) -> bool {
    matches!(e.kind, SlotErrorKind::Transport { .. })
}

impl Driver {
    /// Records this server's bindings, purchases and state: commit, audit line, metric.
    pub fn recorder(&self) -> Recorder<'_> {
        Recorder::new(&self.store, &self.metrics, self.server_id, self.port)
    }

    /// Drives `binding` from whatever state it is in to its end (or to a stop).
    pub async fn drive(
        &self,
        mut binding: Binding,
        mode: &mut ModeWatch,
    ) -> Result<Ended, DriverError> {
        match self.drive_inner(&mut binding, mode).await {
            Ok(state) => Ok(Ended::Closed(state)),
            Err(Halt::Stop) => {
                tracing::info!(server = self.port, binding = binding.id, state = %binding.state(), "Stopped at a step boundary; the binding stays open for recovery.");
                Ok(Ended::Interrupted)
            }
            Err(Halt::Store(e)) => Err(e.into()),
        }
    }

    async fn drive_inner(
        &self,
        binding: &mut Binding,
        mode: &mut ModeWatch,
    ) -> Result<BindingState, Halt> {
        self.server_event(ServerEvent::Working).await;
        // A binding just opened has no purchases: no need to count them.
        let mut seq = if binding.is_fresh() {
            0
        } else {
            self.store.purchases_of_binding(binding.id).await?.len() as u32
        };
        let mut session = Session::default();
        loop {
            self.checkpoint(mode).await?;
            let step = match binding.state() {
                BindingState::Bound
                | BindingState::OtpRequested
                | BindingState::OtpVerification
                | BindingState::OtpVerified => self.login(binding, &mut session, mode).await?,
                BindingState::TokenLoginFetched => {
                    self.reseller_check(binding, &mut session, mode).await?
                }
                BindingState::Transacting => {
                    self.transact(binding, &mut seq, &mut session, mode).await?
                }
                terminal => Step::Closed(terminal),
            };
            if let Step::Closed(state) = step {
                return Ok(state);
            }
        }
    }

    /// Calls the server; while it does not answer, marks it offline and probes it on the
    /// restart backoff.
    async fn call<T, F, Fut>(
        &self,
        mode: &mut ModeWatch,
        about: About,
        mut f: F,
    ) -> Result<Result<Reply<T>, SlotError>, Halt>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Reply<T>, SlotError>>,
    {
        let mut probes = 0u32;
        loop {
            self.hold_for_lease(mode).await?;
            let res = f().await;
            match &res {
                Err(e) if unreachable(e) => {
                    if probes == 0 {
                        tracing::warn!(server = self.port, error = %e, "The server does not answer; marking it offline and probing.");
                        self.server_event(ServerEvent::Unreachable).await;
                    }
                    mode.sleep(self.settings.restart_backoff.delay(probes))
                        .await?;
                    probes = probes.saturating_add(1);
                }
                _ => {
                    if probes > 0 {
                        tracing::info!(
                            server = self.port,
                            "The server answers again; resuming where it was."
                        );
                        self.server_event(ServerEvent::Reachable).await;
                        self.server_event(ServerEvent::Working).await;
                    }
                    if let Err(e) = &res {
                        self.keep_unusable(about, e).await;
                    }
                    return Ok(res);
                }
            }
        }
    }

    /// The wait after the `n`th unusable answer in a row: a server answering garbage is asked
    /// again after a backoff, never back to back.
    fn unusable_pause(&self, n: u32) -> std::time::Duration {
        self.settings.restart_backoff.delay(n.saturating_sub(1))
    }

    /// Before asking for a code whose SMS will not name the SIM: the binding's turn (see
    /// [`crate::otp`]); meanwhile the servers view shows it queued, and a stop is honoured.
    async fn await_turn(&self, waiter: &OtpWaiter, mode: &mut ModeWatch) -> Result<(), Halt> {
        if !waiter.is_queued() {
            return Ok(());
        }
        tracing::info!(server = self.port, msisdn = %waiter.msisdn(), purpose = %waiter.purpose(), "The binding waits for its turn to ask for a code (SMS that name no SIM come one binding at a time).");
        tokio::select! {
            () = waiter.turn() => Ok(()),
            _ = mode.wait_for_stop() => Err(Halt::Stop),
        }
    }

    /// Every OTP wait, login or transaction: the server shown waiting meanwhile, the wait timed
    /// for the metrics, and a stop honoured at once (the binding stays for recovery).
    async fn await_otp(
        &self,
        waiter: OtpWaiter,
        mode: &mut ModeWatch,
    ) -> Result<Result<Otp, OtpWaitError>, Halt> {
        let purpose = waiter.purpose();
        self.server_event(ServerEvent::AwaitingOtp).await;
        let started = std::time::Instant::now();
        let waited = tokio::select! {
            w = waiter.wait(self.settings.otp_timeout) => w.map(|r| r.otp),
            _ = mode.wait_for_stop() => return Err(Halt::Stop),
        };
        if waited.is_ok() {
            self.metrics.otp_waited(purpose.as_str(), started.elapsed());
        }
        self.server_event(ServerEvent::OtpReceived).await;
        Ok(waited)
    }

    /// Before a call to the server: its lease must be current. One that is due unrenewed holds
    /// the binding here until it is renewed (before anyone else may take the server); one that
    /// another runtime holds ends the drive, the binding left open for its new owner.
    pub async fn hold_for_lease(&self, mode: &mut ModeWatch) -> Result<(), Stopped> {
        if self.lease.is_current() {
            return Ok(());
        }
        tracing::warn!(
            server = self.port,
            "The server's lease is due and not renewed; holding at this step until it is."
        );
        let mut lease = self.lease.clone();
        tokio::select! {
            current = lease.wait_current() => match current {
                Ok(()) => {
                    tracing::info!(server = self.port, "The server's lease is renewed; going on.");
                    Ok(())
                }
                Err(_) => {
                    tracing::warn!(server = self.port, "The server's lease is another runtime's; this runtime stops driving it.");
                    Err(Stopped)
                }
            },
            stopped = mode.wait_for_stop() => Err(stopped),
        }
    }

    /// A step boundary. A pause is recorded on the server (`PAUSED`) while it holds, and a drain
    /// as `DRAINING`, so that every view of the database shows what the operator asked.
    async fn checkpoint(&self, mode: &mut ModeWatch) -> Result<(), Halt> {
        self.hold_for_lease(mode).await?;
        match mode.get() {
            Mode::Pause => {
                self.server_event(ServerEvent::Pause).await;
                mode.set_recorded(Mode::Pause);
                tracing::info!(server = self.port, "Paused at a step boundary.");
                mode.checkpoint().await?;
                tracing::info!(server = self.port, "Resumed.");
                self.server_event(ServerEvent::Resume).await;
                self.server_event(ServerEvent::Working).await;
                mode.set_recorded(Mode::Run);
                if mode.get() == Mode::Drain {
                    self.server_event(ServerEvent::Drain).await;
                    mode.set_recorded(Mode::Drain);
                }
            }
            Mode::Drain if mode.recorded() != Mode::Drain => {
                self.server_event(ServerEvent::Drain).await;
                mode.set_recorded(Mode::Drain);
            }
            // A drain called off (resume, enable): DRAINING goes back to BUSY.
            Mode::Run if mode.recorded() == Mode::Drain => {
                self.server_event(ServerEvent::Resume).await;
                mode.set_recorded(Mode::Run);
            }
            Mode::Drain | Mode::Run => {}
            Mode::Stop => return Err(Halt::Stop),
        }
        Ok(())
    }

    /// Best effort: the server's state is the operator's view, moved when the move is legal.
    async fn server_event(&self, event: ServerEvent) {
        self.recorder().server_event(event).await;
    }
}

//! The ServerActor: one per resource server. It hosts the server's work loop (take the open
//! binding or lease the next number, drive it to its end, repeat) and answers the operator's
//! pause, resume and drain between steps. It keeps nothing the database does not have: a
//! restarted actor resumes the open binding from its persisted state.

use std::panic::AssertUnwindSafe;

use actix::WeakAddr;
use actix::prelude::*;
use futures::FutureExt as _;
use simrotor_domain::{BindingState, FailReason, LogoutReason, ServerEvent, ServerState};
use simrotor_persistence::StoreError;

use crate::driver::{Driver, DriverError, Ended};
use crate::mode::{self, Mode, ModeSwitch, ModeWatch};
use crate::pool::{AccountPool, LeaseNext, Refilled, Subscribe};
use crate::supervisor::{ServerDown, ServerIdle, Supervisor};

pub struct ServerActor {
    driver: Driver,
    pool: Addr<AccountPool>,
    supervisor: WeakAddr<Supervisor>,
    switch: ModeSwitch,
    watch: ModeWatch,
}

impl std::fmt::Debug for ServerActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerActor")
            .field("port", &self.driver.port)
            .finish_non_exhaustive()
    }
}

impl ServerActor {
    pub fn new(
        driver: Driver,
        pool: Addr<AccountPool>,
        supervisor: WeakAddr<Supervisor>,
        initial: Mode,
    ) -> Self {
        let (switch, watch) = mode::channel();
        switch.set(initial);
        Self {
            driver,
            pool,
            supervisor,
            switch,
            watch,
        }
    }
}

/// Why a server's loop ended.
#[derive(Debug)]
pub enum LoopEnd {
    /// Told to stop (shutdown): not a failure.
    Stopped,
    Failed(String),
}

/// A store error that ends the loop. A refused write (another runtime holds the server's lease
/// now) is an end, not a failure: audited, and the supervisor does not restart the server.
fn ended_by(port: u16, e: &StoreError) -> LoopEnd {
    if matches!(e, StoreError::Fenced { .. }) {
        crate::audit::write_refused(port, e);
        return LoopEnd::Stopped;
    }
    LoopEnd::Failed(e.to_string())
}

/// Bindings in a row ended on unusable answers before the server is reported as failing.
const UNUSABLE_IN_A_ROW: u32 = 3;

/// Whether a binding's end gives its number back to the pool (so waiting servers should look).
fn returns_number(state: &BindingState) -> bool {
    matches!(
        state,
        BindingState::LoggedOut(LogoutReason::Released)
            | BindingState::Failed(
                FailReason::OtpTimeout
                    | FailReason::OtpRejected
                    | FailReason::LoginRefused
                    | FailReason::Protocol
                    | FailReason::ServerFaulted
                    | FailReason::Abandoned
            )
    )
}

async fn work(
    driver: Driver,
    pool: Addr<AccountPool>,
    supervisor: WeakAddr<Supervisor>,
    mut watch: ModeWatch,
) -> Result<(), LoopEnd> {
    let fail = |e: &dyn std::fmt::Display| LoopEnd::Failed(e.to_string());
    let mut refilled = pool.send(Subscribe).await.map_err(|e| fail(&e))?;
    // An earlier actor of this server may have left its row PAUSED or DRAINING (it failed, and
    // the operator resumed meanwhile): start from what the row says, so leaving it is recorded.
    if let Ok(Some(row)) = driver.store.server(driver.server_id).await {
        match row.state {
            ServerState::Draining => watch.set_recorded(Mode::Drain),
            ServerState::Paused if watch.get() != Mode::Pause => {
                driver.recorder().server_event(ServerEvent::Resume).await;
            }
            _ => {}
        }
    }
    let mut unusable = 0u32;
    // Only a binding an earlier actor or process left can be open when this loop looks: after a
    // binding of its own closed, the server holds none, and the next is leased at once.
    let mut may_hold_one = true;
    loop {
        // A pause between bindings is recorded like one within a binding: the server shows
        // PAUSED while it holds.
        let paused = watch.get() == Mode::Pause;
        if paused {
            driver.recorder().server_event(ServerEvent::Pause).await;
        }
        if watch.checkpoint().await.is_err() {
            return Err(LoopEnd::Stopped);
        }
        // Nothing of the server is touched, a number not even leased for it, without its lease.
        if driver.hold_for_lease(&mut watch).await.is_err() {
            return Err(LoopEnd::Stopped);
        }
        if paused {
            driver.recorder().server_event(ServerEvent::Resume).await;
            watch.set_recorded(Mode::Run);
        }
        // A drain called off after its binding ended (PAUSED by then): the server takes work again.
        if watch.recorded() == Mode::Drain && watch.get() == Mode::Run {
            driver.recorder().server_event(ServerEvent::Resume).await;
            watch.set_recorded(Mode::Run);
        }
        let open = if may_hold_one {
            driver
                .store
                .open_binding_of_server(driver.server_id)
                .await
                .map_err(|e| ended_by(driver.port, &e))?
        } else {
            None
        };
        let binding = match open {
            Some(binding) => {
                tracing::info!(server = driver.port, binding = binding.id, state = %binding.state(), msisdn = %binding.account.msisdn, "Resuming the open binding.");
                binding
            }
            None => {
                if watch.get() == Mode::Drain {
                    tracing::info!(
                        server = driver.port,
                        "Drained: the server stays idle until resumed."
                    );
                    driver.recorder().server_event(ServerEvent::Pause).await;
                    // A drained server takes no more numbers: for `until_empty` it is idle, or
                    // the run would wait for it for ever once the others empty the pool.
                    if let Some(sup) = supervisor.upgrade() {
                        sup.do_send(ServerIdle {
                            port: driver.port,
                            idle: true,
                        });
                    }
                    while watch.get() == Mode::Drain {
                        if watch.wait_changed().await.is_err() {
                            return Err(LoopEnd::Stopped);
                        }
                    }
                    if let Some(sup) = supervisor.upgrade() {
                        sup.do_send(ServerIdle {
                            port: driver.port,
                            idle: false,
                        });
                    }
                    driver.recorder().server_event(ServerEvent::Resume).await;
                    watch.set_recorded(Mode::Run);
                    continue;
                }
                refilled.borrow_and_update();
                match pool
                    .send(LeaseNext {
                        server_id: driver.server_id,
                    })
                    .await
                    .map_err(|e| fail(&e))?
                    .map_err(|e| fail(&e))?
                {
                    Some(lease) => match driver.recorder().open_binding(lease).await {
                        Ok(binding) => {
                            tracing::info!(server = driver.port, binding = binding.id, msisdn = %binding.account.msisdn, batch = %binding.account.batch_id, "Bound the next number.");
                            binding
                        }
                        Err(StoreError::LeaseLost { .. }) => continue,
                        Err(e) => return Err(ended_by(driver.port, &e)),
                    },
                    None => {
                        driver
                            .recorder()
                            .server_event(ServerEvent::BindingEnded)
                            .await;
                        if let Some(sup) = supervisor.upgrade() {
                            sup.do_send(ServerIdle {
                                port: driver.port,
                                idle: true,
                            });
                        }
                        tracing::debug!(
                            server = driver.port,
                            "The pool is empty; waiting for numbers."
                        );
                        tokio::select! {
                            changed = refilled.changed() => {
                                if changed.is_err() {
                                    return Err(LoopEnd::Stopped);
                                }
                            }
                            // The operator's pause or drain is seen while waiting, not at the
                            // next refill.
                            changed = watch.wait_changed() => {
                                if changed.is_err() {
                                    return Err(LoopEnd::Stopped);
                                }
                            }
                        }
                        if let Some(sup) = supervisor.upgrade() {
                            sup.do_send(ServerIdle {
                                port: driver.port,
                                idle: false,
                            });
                        }
                        continue;
                    }
                }
            }
        };
        match driver.drive(binding, &mut watch).await {
            Ok(Ended::Closed(state)) => {
                may_hold_one = false;
                // Draining: the binding's end pauses the server. Otherwise it stays BUSY for
                // the next binding, and goes IDLE only if none comes.
                if watch.get() == Mode::Drain {
                    driver
                        .recorder()
                        .server_event(ServerEvent::BindingEnded)
                        .await;
                }
                if returns_number(&state) {
                    pool.do_send(Refilled);
                }
                // A server that answers garbage binding after binding is broken, not the
                // numbers: report it, so the supervisor's backoff and restart limit apply.
                unusable = if state == BindingState::Failed(FailReason::Protocol) {
                    unusable + 1
                } else {
                    0
                };
                if unusable >= UNUSABLE_IN_A_ROW {
                    return Err(LoopEnd::Failed(format!(
                        "{unusable} bindings in a row ended on unusable answers"
                    )));
                }
            }
            Ok(Ended::Interrupted) => return Err(LoopEnd::Stopped),
            Err(DriverError::Store(e)) => return Err(ended_by(driver.port, &e)),
        }
    }
}

impl Actor for ServerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let work = work(
            self.driver.clone(),
            self.pool.clone(),
            self.supervisor.clone(),
            self.watch.clone(),
        );
        let port = self.driver.port;
        // actix does not restart an actor whose future panicked: catch it here and report.
        let guarded = AssertUnwindSafe(work)
            .catch_unwind()
            .map(move |res| match res {
                Ok(Ok(())) | Ok(Err(LoopEnd::Stopped)) => None,
                Ok(Err(LoopEnd::Failed(reason))) => Some((reason, false)),
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".to_owned());
                    Some((what, true))
                }
            });
        ctx.spawn(guarded.into_actor(self).map(move |failure, act, ctx| {
            if let Some(sup) = act.supervisor.upgrade() {
                sup.do_send(ServerDown { port, failure });
            }
            ctx.stop();
        }));
    }
}

/// The operator's controls, applied at the next step boundary.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SetMode(pub Mode);

impl Handler<SetMode> for ServerActor {
    type Result = ();

    fn handle(&mut self, msg: SetMode, _: &mut Self::Context) {
        tracing::info!(server = self.driver.port, mode = ?msg.0, "The server's mode changes at the next step boundary.");
        self.switch.set(msg.0);
    }
}

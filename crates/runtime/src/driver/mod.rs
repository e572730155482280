//! One binding's whole life on one server: login, the reseller check, purchases until the pulsa
//! is exhausted, logout. Every state change is committed before the next call, so a restart
//! resumes from the database, never from memory; every purchase writes its intent before
//! `trx_idv` and its outcome after, and a lost answer is reconciled by the balance, never
//! resent. The driver reaches the server only through [`SlotClient`], so the real HTTP client,
//! the simulator and test doubles are interchangeable.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use simrotor_domain::{
    BindingEvent, BindingState, FailReason, LogoutReason, Msisdn, Pin, Rupiah, ServerEvent,
    StateMachine, TrxEvent, TrxStatus,
};
use simrotor_persistence::{
    AnswerKind, Binding, BindingPatch, NewUnusableAnswer, Purchase, PurchaseIntent,
    PurchaseOutcome, Settle, Store, StoreError,
};
use simrotor_slot::{
    Call, Otp, Product, ProductListing, RawAnswer, RefusalReason, Reply, SlotClient, SlotError,
    SlotErrorKind, TrxProgress, mask_secrets,
};

use crate::audit;
use crate::metrics::Metrics;
use crate::mode::{Mode, ModeWatch, Stopped};
use crate::otp::{OtpHub, OtpPurpose, OtpWaitError, OtpWaiter};
use crate::settings::Settings;

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

/// Where the login went.
enum Login {
    Done,
    Closed(BindingState),
}

/// What one purchase left behind.
enum Bought {
    /// Bought (or tried and refused without ending the number): go on.
    Again,
    /// The number cannot buy any more; the balance that said so, the binding's last.
    Exhausted(Rupiah),
    /// The session expired: log in again.
    Relogin,
    /// The server keeps answering garbage: give the number back.
    Unreadable(serde_json::Value),
}

/// Which binding (and purchase) a call is made for: an answer nobody can read is kept with them.
#[derive(Debug, Clone, Copy)]
struct About {
    binding: i64,
    purchase: Option<i64>,
}

impl About {
    fn binding(binding: &Binding) -> Self {
        Self {
            binding: binding.id,
            purchase: None,
        }
    }

    fn purchase(binding: &Binding, purchase: &Purchase) -> Self {
        Self {
            binding: binding.id,
            purchase: Some(purchase.id),
        }
    }
}

/// The last unusable answer kept for a server: the same one again in a row (a status poll, a
/// balance asked again) is kept once per streak, not once per call.
#[derive(Debug, Default, Clone)]
pub struct KeptStreak(Arc<std::sync::Mutex<Option<(i64, Call, String)>>>);

impl KeptStreak {
    /// Whether this answer starts a new streak (and so is kept).
    fn starts(&self, binding: i64, call: Call, what: String) -> bool {
        let mut last = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = Some((binding, call, what));
        if *last == key {
            return false;
        }
        *last = key;
        true
    }
}

/// The things a server needs to drive its bindings.
#[derive(Clone)]
pub struct Driver {
    pub store: Store,
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

fn raw(reply_raw: &RawAnswer) -> serde_json::Value {
    match reply_raw {
        RawAnswer::Json(v) => v.clone(),
        RawAnswer::Text(t) => serde_json::Value::String(t.clone()),
    }
}

fn raw_error(e: &SlotError) -> serde_json::Value {
    // Kept with the binding or purchase: secrets masked, like every kept body.
    let body = e.raw_body().map(|body| mask_secrets(e.call, body));
    json!({ "error": e.to_string(), "body": body })
}

/// A transport failure that says the server is not answering.
fn unreachable(e: &SlotError) -> bool {
    matches!(e.kind, SlotErrorKind::Transport { .. })
}

impl Driver {
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
        let msisdn = binding.account.msisdn.clone();
        let mut seq = self.store.purchases_of_binding(binding.id).await?.len() as u32;
        loop {
            self.checkpoint(mode).await?;
            match binding.state() {
                BindingState::Bound
                | BindingState::OtpRequested
                | BindingState::OtpVerification
                | BindingState::OtpVerified => match self.login(binding, mode).await? {
                    Login::Done => {}
                    Login::Closed(state) => return Ok(state),
                },
                BindingState::TokenLoginFetched => {
                    if let Some(state) = self.reseller_check(binding, mode).await? {
                        return Ok(state);
                    }
                }
                BindingState::Transacting => {
                    let products = match self.products(binding, mode).await? {
                        Ok(products) => products,
                        Err(state) => return Ok(state),
                    };
                    self.reconcile_open(binding, mode).await?;
                    loop {
                        self.checkpoint(mode).await?;
                        seq += 1;
                        match self.purchase(binding, seq, &products, mode).await? {
                            Bought::Again => {
                                if !self.settings.pause_between.is_zero() {
                                    mode.sleep(self.settings.pause_between).await?;
                                }
                            }
                            Bought::Exhausted(pulsa) => {
                                // The balance that ended the number is its last: the books add
                                // up even when the purchase before it could not read one.
                                let patch = BindingPatch {
                                    balance_last: Some(pulsa),
                                    ..Default::default()
                                };
                                return self
                                    .logout(
                                        binding,
                                        mode,
                                        LogoutReason::Exhausted,
                                        Settle::Exhausted,
                                        patch,
                                    )
                                    .await;
                            }
                            Bought::Unreadable(evidence) => {
                                return self.give_back(binding, evidence).await;
                            }
                            Bought::Relogin => {
                                self.move_binding(
                                    binding,
                                    BindingEvent::SessionExpired,
                                    BindingPatch::default(),
                                )
                                .await?;
                                tracing::info!(server = self.port, binding = binding.id, msisdn = %msisdn, "The session expired; logging in again.");
                                break;
                            }
                        }
                    }
                }
                terminal => return Ok(terminal),
            }
        }
    }

    /// Calls the server; while it does not answer, marks it offline and probes with backoff.
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
        let mut wait = self.settings.probe_min;
        let mut offline = false;
        loop {
            let res = f().await;
            match &res {
                Err(e) if unreachable(e) => {
                    if !offline {
                        offline = true;
                        tracing::warn!(server = self.port, error = %e, "The server does not answer; marking it offline and probing.");
                        self.server_event(ServerEvent::Unreachable).await;
                    }
                    mode.sleep(jitter(wait)).await?;
                    wait = (wait * 2).min(self.settings.probe_max);
                }
                _ => {
                    if offline {
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

    /// Keeps an answer the parser could not use (or a refusal no rule knows) with its binding
    /// or purchase, secrets masked, for `simrotor answers`: a real shape is never lost. Best
    /// effort: the binding goes on whether or not it could be kept.
    async fn keep_unusable(&self, about: About, e: &SlotError) {
        let kind = match &e.kind {
            SlotErrorKind::Protocol { .. } => AnswerKind::Unusable,
            SlotErrorKind::Refused {
                reason: RefusalReason::Other,
                ..
            } => AnswerKind::UnknownRefusal,
            _ => return,
        };
        // The kind's words, without the request id that differs on every call.
        if !self.kept.starts(about.binding, e.call, e.kind.to_string()) {
            return;
        }
        let answer = NewUnusableAnswer {
            server_id: self.server_id,
            call: e.call.name().to_owned(),
            binding_id: Some(about.binding),
            transaction_id: about.purchase,
            kind,
            error: e.to_string(),
            body: e.raw_body().map(|body| mask_secrets(e.call, body)),
        };
        match self.store.record_unusable_answer(&answer).await {
            Ok(id) => {
                tracing::info!(
                    server = self.port,
                    call = e.call.name(),
                    kind = kind.name(),
                    answer = id,
                    binding = about.binding,
                    "An answer could not be used as it came; it is kept for `simrotor answers`."
                )
            }
            Err(err) => {
                tracing::warn!(server = self.port, call = e.call.name(), error = %err, "An answer nobody could read could not be kept.")
            }
        }
    }

    /// The wait after the `n`th unusable answer in a row: a server answering garbage is asked
    /// again after a backoff, never back to back.
    fn unusable_pause(&self, n: u32) -> Duration {
        let factor = 1u32 << n.saturating_sub(1).min(6);
        jitter(
            self.settings
                .probe_min
                .saturating_mul(factor)
                .min(self.settings.probe_max),
        )
    }

    /// How a failed login settles the number: back to the pool with one more attempt, failed
    /// for good at `max_attempts`.
    fn login_failed(&self) -> Settle {
        Settle::LoginFailed {
            max_attempts: self.settings.max_attempts,
        }
    }

    /// The server keeps answering garbage: the binding fails (`PROTOCOL`) and the number goes
    /// back to the pool without an attempt counted — it is not the number's fault.
    async fn give_back(
        &self,
        binding: &mut Binding,
        evidence: serde_json::Value,
    ) -> Result<BindingState, Halt> {
        self.fail(binding, FailReason::Protocol, Settle::Released, evidence)
            .await
    }

    fn pin(&self, binding: &Binding) -> Option<Pin> {
        binding
            .account
            .pin
            .clone()
            .or_else(|| self.settings.default_pin.clone())
    }

    async fn login(&self, binding: &mut Binding, mode: &mut ModeWatch) -> Result<Login, Halt> {
        let msisdn = binding.account.msisdn.clone();
        let about = About::binding(binding);
        let mut wrong = 0u32;
        // A server still in use by another number is freed (its number logged out) and asked
        // once more; a second refusal means the server is stuck, not the number.
        let mut freed_after_refusal = false;
        let mut protocol_errors = 0u32;
        // Registered before `/otp` is sent: an SMS forwarder may post the code before the next
        // step starts, and the hub drops codes nobody waits for (a stale code is dangerous).
        let mut waiter: Option<OtpWaiter> = None;
        loop {
            self.checkpoint(mode).await?;
            match binding.state() {
                BindingState::Bound => {
                    self.move_binding(
                        binding,
                        BindingEvent::OtpRequestSent,
                        BindingPatch::default(),
                    )
                    .await?;
                }
                BindingState::OtpRequested => {
                    let Some(pin) = self.pin(binding) else {
                        tracing::error!(server = self.port, msisdn = %msisdn, "The number has no PIN and login.default_pin is not set; it cannot log in.");
                        return self
                            .fail(
                                binding,
                                FailReason::LoginRefused,
                                self.login_failed(),
                                json!({"otp": "no PIN"}),
                            )
                            .await
                            .map(Login::Closed);
                    };
                    if !freed_after_refusal {
                        self.free_server(binding, false, mode).await?;
                    }
                    waiter = Some(self.otp.register(self.port, &msisdn, OtpPurpose::Login));
                    match self
                        .call(mode, about, || self.client.request_otp(&msisdn, &pin))
                        .await?
                    {
                        Ok(reply) => {
                            let patch = BindingPatch {
                                raw: Some(json!({ "otp": raw(&reply.raw) })),
                                ..Default::default()
                            };
                            self.move_binding(binding, BindingEvent::OtpRequestAcknowledged, patch)
                                .await?;
                        }
                        Err(e) => match e.refusal_reason() {
                            Some(RefusalReason::Blocked) => {
                                return self
                                    .fail(
                                        binding,
                                        FailReason::Blocked,
                                        Settle::Blocked,
                                        raw_error(&e),
                                    )
                                    .await
                                    .map(Login::Closed);
                            }
                            Some(RefusalReason::ServerBusy) if !freed_after_refusal => {
                                tracing::warn!(server = self.port, msisdn = %msisdn, error = %e, "The server is still in use by another number; logging it out and asking once more.");
                                freed_after_refusal = true;
                                self.free_server(binding, true, mode).await?;
                            }
                            Some(RefusalReason::ServerBusy) => {
                                tracing::error!(server = self.port, msisdn = %msisdn, error = %e, "The server stays in use by another number after its logout; the number goes back to the pool.");
                                return self
                                    .give_back(binding, raw_error(&e))
                                    .await
                                    .map(Login::Closed);
                            }
                            Some(_) => {
                                tracing::warn!(server = self.port, msisdn = %msisdn, error = %e, "The telco refused the login.");
                                return self
                                    .fail(
                                        binding,
                                        FailReason::LoginRefused,
                                        self.login_failed(),
                                        raw_error(&e),
                                    )
                                    .await
                                    .map(Login::Closed);
                            }
                            None => {
                                protocol_errors += 1;
                                mode.sleep(self.unusable_pause(protocol_errors)).await?;
                                if protocol_errors >= self.settings.max_protocol_errors {
                                    return self
                                        .give_back(binding, raw_error(&e))
                                        .await
                                        .map(Login::Closed);
                                }
                            }
                        },
                    }
                }
                BindingState::OtpVerification => {
                    // Resumed after a restart: the code that was sent went with the old process
                    // (the hub keeps no codes), so ask for a fresh one rather than wait for ever.
                    let Some(pending) = waiter.take() else {
                        tracing::info!(server = self.port, msisdn = %msisdn, binding = binding.id, "Resumed while waiting for an OTP; requesting a fresh one.");
                        let patch = BindingPatch {
                            raw: Some(json!({ "resumed": "requesting a fresh OTP" })),
                            ..Default::default()
                        };
                        self.move_binding(binding, BindingEvent::OtpRejected, patch)
                            .await?;
                        continue;
                    };
                    tracing::info!(server = self.port, msisdn = %msisdn, binding = binding.id, "Waiting for the login OTP.");
                    let waited = self.await_otp(pending, mode).await?;
                    let code = match waited {
                        Ok(code) => code,
                        Err(e) => {
                            tracing::warn!(server = self.port, msisdn = %msisdn, reason = %e, "No login OTP came in time; the number goes back to the pool.");
                            return self
                                .fail(
                                    binding,
                                    FailReason::OtpTimeout,
                                    self.login_failed(),
                                    json!({"otp_wait": e.to_string()}),
                                )
                                .await
                                .map(Login::Closed);
                        }
                    };
                    // From the verified OTP on, the server holds this number's session until a
                    // logout is answered: marked before the call, so a crash cannot lose it.
                    self.store
                        .set_server_session(self.server_id, Some(&msisdn), None)
                        .await?;
                    match self
                        .call(mode, about, || self.client.verify_otp(&msisdn, &code))
                        .await?
                    {
                        Ok(reply) => {
                            let patch = BindingPatch {
                                token_login: Some(reply.value.expose().to_owned()),
                                raw: Some(json!({ "verifyOtp": "token received" })),
                                ..Default::default()
                            };
                            self.move_binding(binding, BindingEvent::OtpAccepted, patch)
                                .await?;
                        }
                        Err(e) if e.refusal_reason() == Some(RefusalReason::WrongOtp) => {
                            wrong += 1;
                            tracing::warn!(server = self.port, msisdn = %msisdn, wrong, "The OTP was refused; requesting a fresh one.");
                            if wrong >= self.settings.max_wrong_otp {
                                return self
                                    .fail(
                                        binding,
                                        FailReason::OtpRejected,
                                        self.login_failed(),
                                        raw_error(&e),
                                    )
                                    .await
                                    .map(Login::Closed);
                            }
                            self.move_binding(
                                binding,
                                BindingEvent::OtpRejected,
                                BindingPatch {
                                    raw: Some(json!({"verifyOtp": raw_error(&e)})),
                                    ..Default::default()
                                },
                            )
                            .await?;
                        }
                        Err(e) if e.refusal_reason() == Some(RefusalReason::Blocked) => {
                            return self
                                .fail(binding, FailReason::Blocked, Settle::Blocked, raw_error(&e))
                                .await
                                .map(Login::Closed);
                        }
                        Err(e) => {
                            tracing::warn!(server = self.port, msisdn = %msisdn, error = %e, "Verifying the OTP failed; requesting a fresh one.");
                            protocol_errors += 1;
                            mode.sleep(self.unusable_pause(protocol_errors)).await?;
                            if protocol_errors >= self.settings.max_protocol_errors {
                                return self
                                    .give_back(binding, raw_error(&e))
                                    .await
                                    .map(Login::Closed);
                            }
                            self.move_binding(
                                binding,
                                BindingEvent::OtpRejected,
                                BindingPatch::default(),
                            )
                            .await?;
                        }
                    }
                }
                BindingState::OtpVerified => {
                    let balance = match self
                        .call(mode, about, || self.client.balance(&msisdn))
                        .await?
                    {
                        Ok(b) => b,
                        Err(e) => match self
                            .after_login_error(binding, &e, &mut protocol_errors, mode)
                            .await?
                        {
                            Some(state) => return Ok(Login::Closed(state)),
                            None => continue,
                        },
                    };
                    let location = match self
                        .call(mode, about, || self.client.location_token(&msisdn))
                        .await?
                    {
                        Ok(l) => l,
                        Err(e) => match self
                            .after_login_error(binding, &e, &mut protocol_errors, mode)
                            .await?
                        {
                            Some(state) => return Ok(Login::Closed(state)),
                            None => continue,
                        },
                    };
                    let patch = BindingPatch {
                        balance_start: Some(balance.value.pulsa),
                        token_location: Some(location.value.expose().to_owned()),
                        raw: Some(json!({ "balance_start": raw(&balance.raw) })),
                        ..Default::default()
                    };
                    self.move_binding(binding, BindingEvent::LoginTokensFetched, patch)
                        .await?;
                    tracing::info!(server = self.port, msisdn = %msisdn, binding = binding.id, pulsa = %balance.value.pulsa, "Logged in.");
                    return Ok(Login::Done);
                }
                _ => return Ok(Login::Done),
            }
        }
    }

    /// A refusal or unusable answer after the OTP was accepted: expired session → log in again;
    /// blocked → end; repeated garbage → give the number back. `None`: go on.
    async fn after_login_error(
        &self,
        binding: &mut Binding,
        e: &SlotError,
        protocol_errors: &mut u32,
        mode: &mut ModeWatch,
    ) -> Result<Option<BindingState>, Halt> {
        match e.refusal_reason() {
            Some(RefusalReason::TokenExpired) => {
                self.move_binding(
                    binding,
                    BindingEvent::SessionExpired,
                    BindingPatch::default(),
                )
                .await?;
                Ok(None)
            }
            Some(RefusalReason::Blocked) => Ok(Some(
                self.logout_after(
                    binding,
                    LogoutReason::Blocked,
                    Settle::Blocked,
                    BindingPatch::default(),
                )
                .await?,
            )),
            _ => {
                *protocol_errors += 1;
                tracing::warn!(server = self.port, binding = binding.id, error = %e, "An answer after login was unusable.");
                mode.sleep(self.unusable_pause(*protocol_errors)).await?;
                if *protocol_errors >= self.settings.max_protocol_errors {
                    return Ok(Some(self.give_back(binding, raw_error(e)).await?));
                }
                Ok(None)
            }
        }
    }

    async fn reseller_check(
        &self,
        binding: &mut Binding,
        mode: &mut ModeWatch,
    ) -> Result<Option<BindingState>, Halt> {
        let msisdn = binding.account.msisdn.clone();
        let about = About::binding(binding);
        let mut protocol_errors = 0;
        loop {
            self.checkpoint(mode).await?;
            match self
                .call(mode, about, || self.client.list_products(&msisdn))
                .await?
            {
                Ok(reply) => {
                    if let Some(device) = reply.value.device_id() {
                        self.store
                            .set_server_device_id(self.server_id, device)
                            .await?;
                    }
                    match reply.value {
                        ProductListing::NotReseller { .. } => {
                            tracing::info!(server = self.port, msisdn = %msisdn, "Not a reseller; logging out and taking the next number.");
                            return Ok(Some(
                                self.logout(
                                    binding,
                                    mode,
                                    LogoutReason::NotReseller,
                                    Settle::NotReseller,
                                    BindingPatch::default(),
                                )
                                .await?,
                            ));
                        }
                        ProductListing::Products { device_id, .. } => {
                            self.store.mark_reseller(binding).await?;
                            let patch = BindingPatch {
                                device_id,
                                raw: Some(json!({ "list_idv": raw(&reply.raw) })),
                                ..Default::default()
                            };
                            self.move_binding(binding, BindingEvent::ResellerConfirmed, patch)
                                .await?;
                            return Ok(None);
                        }
                    }
                }
                Err(e) => {
                    if let Some(state) = self
                        .after_login_error(binding, &e, &mut protocol_errors, mode)
                        .await?
                    {
                        return Ok(Some(state));
                    }
                    if binding.state() != BindingState::TokenLoginFetched {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The product list of a transacting binding (fetched again on resume: prices may change).
    async fn products(
        &self,
        binding: &mut Binding,
        mode: &mut ModeWatch,
    ) -> Result<Result<Vec<Product>, BindingState>, Halt> {
        let msisdn = binding.account.msisdn.clone();
        let about = About::binding(binding);
        let mut protocol_errors = 0;
        loop {
            match self
                .call(mode, about, || self.client.list_products(&msisdn))
                .await?
            {
                Ok(Reply {
                    value: ProductListing::Products { products, .. },
                    ..
                }) => return Ok(Ok(products)),
                Ok(Reply {
                    value: ProductListing::NotReseller { .. },
                    ..
                }) => {
                    return Ok(Err(self
                        .logout(
                            binding,
                            mode,
                            LogoutReason::NotReseller,
                            Settle::NotReseller,
                            BindingPatch::default(),
                        )
                        .await?));
                }
                Err(e) => {
                    if let Some(state) = self
                        .after_login_error(binding, &e, &mut protocol_errors, mode)
                        .await?
                    {
                        return Ok(Err(state));
                    }
                    if binding.state() != BindingState::Transacting {
                        return Ok(Err(binding.state()));
                    }
                }
            }
        }
    }

    /// The first wanted product the balance affords within `limit_harga`.
    fn choose<'a>(&self, products: &'a [Product], balance: Rupiah) -> Option<(&'a str, Rupiah)> {
        self.settings.wanted.iter().find_map(|want| {
            let p = products.iter().find(|p| &p.id == want)?;
            let price = p.price?;
            (price <= self.settings.limit_harga && price <= balance)
                .then_some((p.id.as_str(), price))
        })
    }

    /// The balance, asked again (up to `max_protocol_errors` times) when the answer is
    /// unusable: a purchase's evidence must not rest on one garbled answer.
    async fn balance(
        &self,
        msisdn: &Msisdn,
        about: About,
        mode: &mut ModeWatch,
    ) -> Result<Result<Reply<simrotor_slot::Balance>, SlotError>, Halt> {
        let mut tries = 0;
        loop {
            let res = self
                .call(mode, about, || self.client.balance(msisdn))
                .await?;
            match &res {
                Err(e)
                    if e.refusal_reason().is_none()
                        && tries + 1 < self.settings.max_protocol_errors =>
                {
                    tries += 1;
                    tracing::warn!(server = self.port, error = %e, "The balance answer was unusable; asking again.");
                    mode.sleep(self.settings.status_poll_min).await?;
                }
                _ => return Ok(res),
            }
        }
    }

    /// One purchase: balance, intent, `trx_idv`, status until final, balance, outcome.
    async fn purchase(
        &self,
        binding: &mut Binding,
        seq: u32,
        products: &[Product],
        mode: &mut ModeWatch,
    ) -> Result<Bought, Halt> {
        let msisdn = binding.account.msisdn.clone();
        let before = match self.balance(&msisdn, About::binding(binding), mode).await? {
            Ok(b) => b.value.pulsa,
            Err(e) if e.refusal_reason() == Some(RefusalReason::TokenExpired) => {
                return Ok(Bought::Relogin);
            }
            Err(e) => {
                tracing::warn!(server = self.port, msisdn = %msisdn, error = %e, "The balance cannot be read; giving the number back to the pool.");
                return Ok(Bought::Unreadable(raw_error(&e)));
            }
        };
        let Some((product_id, price)) = self.choose(products, before) else {
            tracing::info!(server = self.port, msisdn = %msisdn, pulsa = %before, "The pulsa is exhausted.");
            return Ok(Bought::Exhausted(before));
        };
        let intent = PurchaseIntent {
            seq,
            product_id: product_id.to_owned(),
            limit_harga: self.settings.limit_harga,
            price,
            pulsa_awal: before,
        };
        let mut purchase = self.store.write_purchase_intent(binding, intent).await?;
        audit::purchase(self.port, &purchase);
        // Registered before `trx_idv`, whose SMS may arrive before its answer.
        let trx_waiter = self.needs_transaction_otp(binding).await?.then(|| {
            self.otp
                .register(self.port, &msisdn, OtpPurpose::Transaction)
        });
        tracing::info!(server = self.port, msisdn = %msisdn, binding = binding.id, attempt = %purchase.attempt_key, product = product_id, price = %price, pulsa_awal = %before, "Buying.");
        let bought = self
            .client
            .buy(
                &msisdn,
                product_id,
                &binding.account.email,
                self.settings.limit_harga,
            )
            .await;
        if let Err(e) = &bought {
            self.keep_unusable(About::purchase(binding, &purchase), e)
                .await;
        }
        match bought {
            Ok(reply) => {
                self.store
                    .record_purchase_accepted(
                        &mut purchase,
                        &reply.value.trx_id,
                        reply.value.t_id.as_deref(),
                        json!({ "trx_idv": raw(&reply.raw) }),
                    )
                    .await?;
                if let Some(waiter) = trx_waiter {
                    self.transaction_otp(binding, waiter, mode).await?;
                }
                self.follow(binding, &mut purchase, mode).await
            }
            Err(e) if e.may_have_taken_effect() => {
                tracing::warn!(server = self.port, msisdn = %msisdn, attempt = %purchase.attempt_key, error = %e, "The purchase's answer was lost; reconciling by the balance.");
                self.reconcile(binding, &mut purchase, raw_error(&e), mode)
                    .await?;
                Ok(Bought::Again)
            }
            Err(e) => {
                let reason = e.refusal_reason();
                let outcome = PurchaseOutcome {
                    pulsa_akhir: Some(before),
                    raw: Some(json!({ "trx_idv": raw_error(&e) })),
                    note: Some(e.to_string()),
                    ..Default::default()
                };
                let event = if reason.is_some() {
                    TrxEvent::Refused
                } else {
                    TrxEvent::NotExecuted
                };
                self.purchase_outcome(&mut purchase, event, outcome).await?;
                Ok(match reason {
                    Some(RefusalReason::TokenExpired) => Bought::Relogin,
                    Some(RefusalReason::InsufficientPulsa) => Bought::Exhausted(before),
                    // The telco refuses this number's purchases: no point retrying forever.
                    Some(_) => Bought::Exhausted(before),
                    None => Bought::Again,
                })
            }
        }
    }

    /// Whether this purchase is a number's first on a device new to it (and the step is on).
    async fn needs_transaction_otp(&self, binding: &Binding) -> Result<bool, Halt> {
        if !self.settings.transaction_otp {
            return Ok(false);
        }
        let Some(device) = self
            .store
            .server(self.server_id)
            .await?
            .and_then(|s| s.device_id)
        else {
            return Ok(false);
        };
        Ok(!self
            .store
            .has_purchased_on_device(binding.account.id, &device)
            .await?)
    }

    /// The transaction OTP of a number's first purchase on a device new to it.
    async fn transaction_otp(
        &self,
        binding: &Binding,
        waiter: OtpWaiter,
        mode: &mut ModeWatch,
    ) -> Result<(), Halt> {
        let msisdn = &binding.account.msisdn;
        tracing::info!(server = self.port, msisdn = %msisdn, "Waiting for the transaction OTP of a new device.");
        let waited = self.await_otp(waiter, mode).await?;
        match waited {
            Ok(code) => {
                if let Err(e) = self
                    .call(mode, About::binding(binding), || {
                        self.client.transaction_otp(msisdn, &code)
                    })
                    .await?
                {
                    tracing::warn!(server = self.port, msisdn = %msisdn, error = %e, "The transaction OTP was refused; following the status anyway.");
                }
            }
            Err(e) => {
                tracing::warn!(server = self.port, msisdn = %msisdn, reason = %e, "No transaction OTP came; following the status anyway.")
            }
        }
        Ok(())
    }

    /// Polls the status until final or the deadline, then reads the balance and commits.
    async fn follow(
        &self,
        binding: &mut Binding,
        purchase: &mut Purchase,
        mode: &mut ModeWatch,
    ) -> Result<Bought, Halt> {
        let msisdn = binding.account.msisdn.clone();
        let about = About::purchase(binding, purchase);
        let Some(trx_id) = purchase.trx_id.clone() else {
            return Ok(Bought::Again);
        };
        let deadline = tokio::time::Instant::now() + self.settings.status_deadline;
        let mut wait = self.settings.status_poll_min;
        let mut answers = Vec::new();
        let (event, voucher) = loop {
            let status = self
                .call(mode, about, || self.client.trx_status(&msisdn, &trx_id))
                .await?;
            match status {
                Ok(reply) => {
                    answers.push(raw(&reply.raw));
                    match reply.value {
                        TrxProgress::Success { voucher } => {
                            break (TrxEvent::VoucherReceived, Some(voucher));
                        }
                        TrxProgress::CompletedWithoutVoucher => {
                            break (TrxEvent::CompletedWithoutVoucher, None);
                        }
                        TrxProgress::Failed { .. } => break (TrxEvent::Refused, None),
                        TrxProgress::Processing => {}
                    }
                }
                Err(e) if e.refusal_reason() == Some(RefusalReason::TokenExpired) => {
                    // The purchase is still open; the next login's resume reconciles it.
                    return Ok(Bought::Relogin);
                }
                Err(e) => answers.push(raw_error(&e)),
            }
            if tokio::time::Instant::now() + wait > deadline {
                break (TrxEvent::DeadlineExpired, None);
            }
            mode.sleep(wait).await?;
            wait = (wait * 2).min(self.settings.status_poll_max);
        };
        let after = match self.balance(&msisdn, about, mode).await? {
            Ok(b) => Some(b.value.pulsa),
            Err(_) => None,
        };
        let note = match event {
            TrxEvent::CompletedWithoutVoucher => {
                Some("the telco says done, but no voucher came".to_owned())
            }
            TrxEvent::DeadlineExpired => Some("still processing at the deadline".to_owned()),
            _ => None,
        };
        let outcome = PurchaseOutcome {
            pulsa_akhir: after,
            voucher: voucher.clone(),
            raw: Some(json!({ "status_idv": answers })),
            note,
        };
        let status = self.purchase_outcome(purchase, event, outcome).await?;
        tracing::info!(server = self.port, msisdn = %msisdn, trx = %trx_id, status = %status, pulsa_akhir = ?after.map(|p| p.get()), "The purchase is final.");
        Ok(Bought::Again)
    }

    /// A purchase whose answer was lost: the balance decides. Dropped by at least the price: it
    /// executed (suspect, with the evidence). Unchanged: it did not (failed).
    async fn reconcile(
        &self,
        binding: &Binding,
        purchase: &mut Purchase,
        evidence: serde_json::Value,
        mode: &mut ModeWatch,
    ) -> Result<(), Halt> {
        let msisdn = binding.account.msisdn.clone();
        let now = loop {
            match self
                .balance(&msisdn, About::purchase(binding, purchase), mode)
                .await?
            {
                Ok(b) => break b.value.pulsa,
                Err(e) => {
                    tracing::warn!(server = self.port, error = %e, "Cannot read the balance to reconcile a purchase yet; trying again.");
                    mode.sleep(self.settings.probe_min).await?;
                }
            }
        };
        let dropped = purchase.pulsa_awal.checked_sub(now).unwrap_or(Rupiah::ZERO);
        let (event, note) = if dropped >= purchase.price {
            (
                TrxEvent::AnswerLostBalanceDropped,
                format!(
                    "answer lost; the balance dropped from {} to {now}: it executed",
                    purchase.pulsa_awal
                ),
            )
        } else {
            (
                TrxEvent::NotExecuted,
                format!(
                    "answer lost; the balance is {now}, was {}: it did not execute",
                    purchase.pulsa_awal
                ),
            )
        };
        let outcome = PurchaseOutcome {
            pulsa_akhir: Some(now),
            raw: Some(json!({ "lost": evidence })),
            note: Some(note),
            ..Default::default()
        };
        self.purchase_outcome(purchase, event, outcome).await?;
        Ok(())
    }

    /// Reconciles purchases a crash left `PROCESSING`, before this binding buys again.
    async fn reconcile_open(
        &self,
        binding: &mut Binding,
        mode: &mut ModeWatch,
    ) -> Result<(), Halt> {
        for mut p in self.store.purchases_of_binding(binding.id).await? {
            if p.status != simrotor_domain::TrxStatus::Processing {
                continue;
            }
            tracing::warn!(server = self.port, attempt = %p.attempt_key, "Found a purchase without an outcome; reconciling it before buying again.");
            if p.trx_id.is_some() {
                self.follow(binding, &mut p, mode).await?;
            } else {
                self.reconcile(
                    binding,
                    &mut p,
                    json!({ "recovered": "intent without an answer" }),
                    mode,
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn logout(
        &self,
        binding: &mut Binding,
        mode: &mut ModeWatch,
        reason: LogoutReason,
        settle: Settle,
        patch: BindingPatch,
    ) -> Result<BindingState, Halt> {
        let msisdn = binding.account.msisdn.clone();
        self.log_out(&msisdn, About::binding(binding), mode).await?;
        self.logout_after(binding, reason, settle, patch)
            .await
            .map_err(Halt::from)
    }

    /// `/logout` of `msisdn`; an answer, even a refusal (no such session), means the server no
    /// longer holds that number, so the server's session mark is cleared. `false`: the logout
    /// could not be read, and the server may still hold the number (the mark stays).
    async fn log_out(
        &self,
        msisdn: &Msisdn,
        about: About,
        mode: &mut ModeWatch,
    ) -> Result<bool, Halt> {
        let answered = match self
            .call(mode, about, || self.client.logout(msisdn))
            .await?
        {
            Ok(_) => true,
            Err(e) if e.refusal_reason() == Some(RefusalReason::TokenExpired) => {
                tracing::info!(server = self.port, msisdn = %msisdn, error = %e, "The logout was refused as an expired session: the server holds no session of that number.");
                true
            }
            Err(e) => {
                tracing::warn!(server = self.port, msisdn = %msisdn, error = %e, "The logout was not answered as done; the server may still hold the number, the next login logs it out first.");
                false
            }
        };
        if answered {
            self.store
                .set_server_session(self.server_id, None, Some(msisdn))
                .await?;
        }
        Ok(answered)
    }

    /// One session per server: before `binding`'s number logs in, a number whose session the
    /// server may still hold (its binding ended after a login without an answered logout, or a
    /// crash left it) is logged out. `refused`: the server just said it is in use, so the marked
    /// number is logged out even when it is this binding's own, and when the store names nobody,
    /// the server's previous number is taken as the holder.
    async fn free_server(
        &self,
        binding: &Binding,
        refused: bool,
        mode: &mut ModeWatch,
    ) -> Result<(), Halt> {
        let msisdn = &binding.account.msisdn;
        // Before a login the number's own old session needs no logout; after an in-use
        // refusal it may be the one in the way ("sudah login"), so it is logged out too.
        let marked = self
            .store
            .server(self.server_id)
            .await?
            .and_then(|row| row.session_msisdn)
            .filter(|holder| refused || holder != msisdn);
        let holder = match marked {
            Some(holder) => Some(holder),
            None if refused => self
                .store
                .previous_number_on_server(self.server_id, binding.id)
                .await?
                .filter(|holder| holder != msisdn),
            None => None,
        };
        let Some(holder) = holder else {
            if refused {
                tracing::warn!(server = self.port, msisdn = %msisdn, "The server is in use by a number this runtime does not know; it cannot be logged out.");
            }
            return Ok(());
        };
        tracing::info!(server = self.port, holder = %holder, msisdn = %msisdn, binding = binding.id, "The server may still hold an earlier number's session; logging that number out first.");
        self.log_out(&holder, About::binding(binding), mode).await?;
        Ok(())
    }

    async fn logout_after(
        &self,
        binding: &mut Binding,
        reason: LogoutReason,
        settle: Settle,
        patch: BindingPatch,
    ) -> Result<BindingState, StoreError> {
        let state = self
            .close(binding, BindingEvent::LoggedOut(reason), settle, patch)
            .await?;
        tracing::info!(server = self.port, msisdn = %binding.account.msisdn, binding = binding.id, state = %state, "The binding ended.");
        Ok(state)
    }

    async fn fail(
        &self,
        binding: &mut Binding,
        reason: FailReason,
        settle: Settle,
        evidence: serde_json::Value,
    ) -> Result<BindingState, Halt> {
        let patch = BindingPatch {
            raw: Some(json!({ "failure": evidence })),
            ..Default::default()
        };
        let state = self
            .close(binding, BindingEvent::Failed(reason), settle, patch)
            .await?;
        tracing::warn!(server = self.port, msisdn = %binding.account.msisdn, binding = binding.id, state = %state, "The binding failed.");
        Ok(state)
    }

    /// Every binding move goes through here: persisted first, then written to the audit trail.
    async fn move_binding(
        &self,
        binding: &mut Binding,
        event: BindingEvent,
        patch: BindingPatch,
    ) -> Result<BindingState, StoreError> {
        let from = binding.state();
        let to = self.store.move_binding(binding, event, patch).await?;
        audit::binding_moved(self.port, binding, Some(from), to);
        Ok(to)
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

    /// Every binding's end goes through here: the binding closed and its account settled in one
    /// commit, then the audit line, the metric, and the server's own state.
    async fn close(
        &self,
        binding: &Binding,
        event: BindingEvent,
        settle: Settle,
        patch: BindingPatch,
    ) -> Result<BindingState, StoreError> {
        let state = self
            .store
            .close_binding(binding.clone(), event, settle, patch)
            .await?;
        audit::binding_moved(self.port, binding, Some(binding.state()), state);
        self.metrics
            .binding_ended(state.end_reason().unwrap_or(state.as_str()));
        self.server_event(ServerEvent::BindingEnded).await;
        Ok(state)
    }

    /// Every purchase outcome goes through here: persisted, audited, counted.
    async fn purchase_outcome(
        &self,
        purchase: &mut Purchase,
        event: TrxEvent,
        outcome: PurchaseOutcome,
    ) -> Result<TrxStatus, StoreError> {
        let status = self
            .store
            .write_purchase_outcome(purchase, event, outcome)
            .await?;
        audit::purchase(self.port, purchase);
        self.metrics.purchase_final(status, purchase.price);
        Ok(status)
    }

    /// A step boundary. A pause is recorded on the server (`PAUSED`) while it holds, and a drain
    /// as `DRAINING`, so that every view of the database shows what the operator asked.
    async fn checkpoint(&self, mode: &mut ModeWatch) -> Result<(), Halt> {
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
        match self.store.server(self.server_id).await {
            Ok(Some(mut row)) => {
                let from = row.state;
                if row.state.apply(&event).is_ok() {
                    match self.store.move_server(&mut row, event, None).await {
                        Ok(_) if row.state != from => {
                            audit::server_moved(self.port, from, row.state, None)
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::debug!(server = self.port, error = %e, "Could not record the server's state.")
                        }
                    }
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(server = self.port, error = %e, "Could not read the server's state.")
            }
        }
    }
}

/// Up to a quarter more, so servers probing the same host do not hit it in step.
fn jitter(d: Duration) -> Duration {
    use rand::Rng;
    let extra = d.as_millis() as u64 / 4;
    d + Duration::from_millis(if extra == 0 {
        0
    } else {
        rand::rng().random_range(0..=extra)
    })
}

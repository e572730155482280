//! Logging a number in: from `BOUND` through the OTP to the reseller check. The server's old
//! session is logged out before `/otp`; the OTP waiter is registered before the SMS can come;
//! the number held by the server is marked before `/verifyOtp`.

use serde_json::json;
use simrotor_domain::{BindingEvent, BindingState, FailReason, LogoutReason, Pin};
use simrotor_persistence::{Binding, BindingPatch, Settle};
use simrotor_slot::{ProductListing, RefusalReason, Reply, SlotError};

use super::answers::{About, raw, raw_error};
use super::{Driver, Halt, Session, Step};
use crate::mode::ModeWatch;
use crate::otp::{OtpPurpose, OtpWaiter};

impl Driver {
    /// How a failed login settles the number: back to the pool with one more attempt, failed
    /// for good at `max_attempts`.
    fn login_failed(&self) -> Settle {
        Settle::LoginFailed {
            max_attempts: self.settings.max_attempts,
        }
    }

    fn pin(&self, binding: &Binding) -> Option<Pin> {
        binding
            .account
            .pin
            .clone()
            .or_else(|| self.settings.default_pin.clone())
    }

    /// From `BOUND` to `TOKEN_LOGIN_FETCHED`: `/otp`, the OTP, `/verifyOtp`, the balance and
    /// the location token, each step committed before the next call.
    pub(super) async fn login(
        &self,
        binding: &mut Binding,
        session: &mut Session,
        mode: &mut ModeWatch,
    ) -> Result<Step, Halt> {
        // A new login: what the old one learnt is not this one's.
        *session = Session::default();
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
                    self.recorder()
                        .move_binding(
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
                            .await;
                    };
                    if !freed_after_refusal {
                        self.free_server(binding, false, mode).await?;
                    }
                    let registered = self.otp.register(self.port, &msisdn, OtpPurpose::Login);
                    self.await_turn(&registered, mode).await?;
                    waiter = Some(registered);
                    match self
                        .call(mode, about, || self.client.request_otp(&msisdn, &pin))
                        .await?
                    {
                        Ok(reply) => {
                            let patch = BindingPatch {
                                raw: Some(json!({ "otp": raw(&reply.raw) })),
                                ..Default::default()
                            };
                            self.recorder()
                                .move_binding(binding, BindingEvent::OtpRequestAcknowledged, patch)
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
                                    .await;
                            }
                            Some(RefusalReason::ServerBusy) if !freed_after_refusal => {
                                tracing::warn!(server = self.port, msisdn = %msisdn, error = %e, "The server is still in use by another number; logging it out and asking once more.");
                                freed_after_refusal = true;
                                self.free_server(binding, true, mode).await?;
                            }
                            Some(RefusalReason::ServerBusy) => {
                                tracing::error!(server = self.port, msisdn = %msisdn, error = %e, "The server stays in use by another number after its logout; the number goes back to the pool.");
                                return self.give_back(binding, raw_error(&e)).await;
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
                                    .await;
                            }
                            None => {
                                protocol_errors += 1;
                                mode.sleep(self.unusable_pause(protocol_errors)).await?;
                                if protocol_errors >= self.settings.max_protocol_errors {
                                    return self.give_back(binding, raw_error(&e)).await;
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
                        self.recorder()
                            .move_binding(binding, BindingEvent::OtpRejected, patch)
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
                                .await;
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
                            self.recorder()
                                .move_binding(binding, BindingEvent::OtpAccepted, patch)
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
                                    .await;
                            }
                            self.recorder()
                                .move_binding(
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
                                .await;
                        }
                        Err(e) => {
                            tracing::warn!(server = self.port, msisdn = %msisdn, error = %e, "Verifying the OTP failed; requesting a fresh one.");
                            protocol_errors += 1;
                            mode.sleep(self.unusable_pause(protocol_errors)).await?;
                            if protocol_errors >= self.settings.max_protocol_errors {
                                return self.give_back(binding, raw_error(&e)).await;
                            }
                            self.recorder()
                                .move_binding(
                                    binding,
                                    BindingEvent::OtpRejected,
                                    BindingPatch::default(),
                                )
                                .await?;
                        }
                    }
                }
                BindingState::OtpVerified => {
                    // The balance, then the location token: the first that fails decides.
                    let tokens = match self
                        .call(mode, about, || self.client.balance(&msisdn))
                        .await?
                    {
                        Ok(balance) => self
                            .call(mode, about, || self.client.token_location(&msisdn))
                            .await?
                            .map(|location| (balance, location)),
                        Err(e) => Err(e),
                    };
                    let (balance, location) = match tokens {
                        Ok(tokens) => tokens,
                        Err(e) => {
                            go!(self
                                .after_login_error(binding, &e, &mut protocol_errors, mode)
                                .await?);
                            continue;
                        }
                    };
                    let patch = BindingPatch {
                        balance_start: Some(balance.value.pulsa),
                        token_location: Some(location.value.expose().to_owned()),
                        raw: Some(json!({ "balance_start": raw(&balance.raw) })),
                        ..Default::default()
                    };
                    self.recorder()
                        .move_binding(binding, BindingEvent::LoginTokensFetched, patch)
                        .await?;
                    tracing::info!(server = self.port, msisdn = %msisdn, binding = binding.id, pulsa = %balance.value.pulsa, "Logged in.");
                    session.pulsa = Some(balance.value.pulsa);
                    return Ok(Step::Go(()));
                }
                _ => return Ok(Step::Go(())),
            }
        }
    }

    /// The session expired: the binding goes back to `BOUND`, to log in again.
    pub(super) async fn session_expired(&self, binding: &mut Binding) -> Result<Step, Halt> {
        self.recorder()
            .move_binding(
                binding,
                BindingEvent::SessionExpired,
                BindingPatch::default(),
            )
            .await?;
        Ok(Step::Go(()))
    }

    /// A refusal or unusable answer after the OTP was accepted: expired session → log in again;
    /// blocked → end; repeated garbage → give the number back.
    pub(super) async fn after_login_error(
        &self,
        binding: &mut Binding,
        e: &SlotError,
        protocol_errors: &mut u32,
        mode: &mut ModeWatch,
    ) -> Result<Step, Halt> {
        match e.refusal_reason() {
            Some(RefusalReason::TokenExpired) => self.session_expired(binding).await,
            Some(RefusalReason::Blocked) => {
                self.logout_after(
                    binding,
                    LogoutReason::Blocked,
                    Settle::Blocked,
                    BindingPatch::default(),
                )
                .await
            }
            _ => {
                *protocol_errors += 1;
                tracing::warn!(server = self.port, binding = binding.id, error = %e, "An answer after login was unusable.");
                mode.sleep(self.unusable_pause(*protocol_errors)).await?;
                if *protocol_errors >= self.settings.max_protocol_errors {
                    return self.give_back(binding, raw_error(e)).await;
                }
                Ok(Step::Go(()))
            }
        }
    }

    /// `list_idv` of a logged-in binding, asked again at each step boundary until it is
    /// answered; a refusal or an unusable answer goes through [`Self::after_login_error`].
    /// `None`: the session expired, and the binding is `BOUND` again to log in anew.
    pub(super) async fn list_products(
        &self,
        binding: &mut Binding,
        mode: &mut ModeWatch,
    ) -> Result<Step<Option<Reply<ProductListing>>>, Halt> {
        let msisdn = binding.account.msisdn.clone();
        let about = About::binding(binding);
        let listing_in = binding.state();
        let mut protocol_errors = 0;
        loop {
            self.checkpoint(mode).await?;
            match self
                .call(mode, about, || self.client.list_products(&msisdn))
                .await?
            {
                Ok(reply) => return Ok(Step::Go(Some(reply))),
                Err(e) => {
                    go!(self
                        .after_login_error(binding, &e, &mut protocol_errors, mode)
                        .await?);
                    if binding.state() != listing_in {
                        return Ok(Step::Go(None));
                    }
                }
            }
        }
    }

    /// `list_idv` after login: a reseller goes on to transact (its device recorded), any other
    /// number is logged out. `Go` also when the session expired: the binding logs in again.
    pub(super) async fn reseller_check(
        &self,
        binding: &mut Binding,
        session: &mut Session,
        mode: &mut ModeWatch,
    ) -> Result<Step, Halt> {
        let Some(reply) = go!(self.list_products(binding, mode).await?) else {
            return Ok(Step::Go(()));
        };
        if let Some(device) = reply.value.device_id() {
            self.store
                .set_server_device_id(self.server_id, device)
                .await?;
        }
        match reply.value {
            ProductListing::NotReseller { .. } => {
                tracing::info!(server = self.port, msisdn = %binding.account.msisdn, "Not a reseller; logging out and taking the next number.");
                self.not_a_reseller(binding, mode).await
            }
            ProductListing::Products {
                device_id,
                products,
            } => {
                // Kept for the purchases that follow: one `list_idv` per login.
                session.products = Some(products);
                self.store.mark_reseller(binding).await?;
                let patch = BindingPatch {
                    device_id,
                    raw: Some(json!({ "list_idv": raw(&reply.raw) })),
                    ..Default::default()
                };
                self.recorder()
                    .move_binding(binding, BindingEvent::ResellerConfirmed, patch)
                    .await?;
                Ok(Step::Go(()))
            }
        }
    }
}

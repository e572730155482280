//! How a binding ends, and the one session a server holds. Every end goes through [`close`]:
//! the binding closed and its account settled in one commit (the recorder's), then the server's
//! own state. A logout that is answered clears the server's session mark; before a number logs
//! in, a number the server may still hold is logged out first.
//!
//! [`close`]: Driver::close

use serde_json::json;
use simrotor_domain::{BindingEvent, BindingState, FailReason, LogoutReason, Msisdn};
use simrotor_persistence::{Binding, BindingPatch, Settle, StoreError};
use simrotor_slot::RefusalReason;

use super::answers::About;
use super::{Committing, Driver, Halt, Step};
use crate::mode::ModeWatch;

impl Driver {
    /// `/logout`, then the binding ends `LOGGED_OUT (reason)`, its account settled by `settle`.
    pub(super) async fn logout<T>(
        &self,
        binding: &mut Binding,
        mode: &mut ModeWatch,
        reason: LogoutReason,
        settle: Settle,
        patch: BindingPatch,
    ) -> Result<Step<T>, Halt> {
        let msisdn = binding.account.msisdn.clone();
        let cleared = self.log_out(&msisdn, About::binding(binding), mode).await?;
        let step = self.logout_after(binding, reason, settle, patch).await?;
        // Queued before the close, so committed with it or before it.
        if let Some(cleared) = cleared {
            cleared.await?;
        }
        Ok(step)
    }

    /// The number is no reseller: logged out, its account settled `NON_RESELLER`.
    pub(super) async fn not_a_reseller<T>(
        &self,
        binding: &mut Binding,
        mode: &mut ModeWatch,
    ) -> Result<Step<T>, Halt> {
        self.logout(
            binding,
            mode,
            LogoutReason::NotReseller,
            Settle::NotReseller,
            BindingPatch::default(),
        )
        .await
    }

    /// `/logout` of `msisdn`; an answer, even a refusal (no such session), means the server no
    /// longer holds that number, so the server's session mark is cleared: the clearing is queued
    /// and its commit returned, for the caller to await (with the close it rides along with).
    /// `None`: the logout could not be read, and the server may still hold the number (the mark
    /// stays).
    async fn log_out(
        &self,
        msisdn: &Msisdn,
        about: About,
        mode: &mut ModeWatch,
    ) -> Result<Option<Committing>, Halt> {
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
        Ok(answered.then(|| {
            Box::pin(
                self.store
                    .set_server_session(self.server_id, None, Some(msisdn)),
            ) as Committing
        }))
    }

    /// One session per server: before `binding`'s number logs in, a number whose session the
    /// server may still hold (its binding ended after a login without an answered logout, or a
    /// crash left it) is logged out. `refused`: the server just said it is in use, so the marked
    /// number is logged out even when it is this binding's own, and when the store names nobody,
    /// the server's previous number is taken as the holder.
    pub(super) async fn free_server(
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
        if let Some(cleared) = self.log_out(&holder, About::binding(binding), mode).await? {
            cleared.await?;
        }
        Ok(())
    }

    /// The binding ends `LOGGED_OUT (reason)` without a call (the logout was made, or the
    /// telco blocked the number).
    pub(super) async fn logout_after<T>(
        &self,
        binding: &mut Binding,
        reason: LogoutReason,
        settle: Settle,
        patch: BindingPatch,
    ) -> Result<Step<T>, Halt> {
        let state = self
            .close(binding, BindingEvent::LoggedOut(reason), settle, patch)
            .await?;
        tracing::info!(server = self.port, msisdn = %binding.account.msisdn, binding = binding.id, state = %state, "The binding ended.");
        Ok(Step::Closed(state))
    }

    /// The binding ends `FAILED (reason)` with `evidence`, its account settled by `settle`.
    pub(super) async fn fail<T>(
        &self,
        binding: &mut Binding,
        reason: FailReason,
        settle: Settle,
        evidence: serde_json::Value,
    ) -> Result<Step<T>, Halt> {
        let patch = BindingPatch {
            raw: Some(json!({ "failure": evidence })),
            ..Default::default()
        };
        let state = self
            .close(binding, BindingEvent::Failed(reason), settle, patch)
            .await?;
        tracing::warn!(server = self.port, msisdn = %binding.account.msisdn, binding = binding.id, state = %state, "The binding failed.");
        Ok(Step::Closed(state))
    }

    /// The server keeps answering garbage: the binding fails (`PROTOCOL`) and the number goes
    /// back to the pool without an attempt counted — it is not the number's fault.
    pub(super) async fn give_back<T>(
        &self,
        binding: &mut Binding,
        evidence: serde_json::Value,
    ) -> Result<Step<T>, Halt> {
        self.fail(binding, FailReason::Protocol, Settle::Released, evidence)
            .await
    }

    /// Every binding's end goes through here: recorded (commit, audit line, metric), then the
    /// server's own state.
    async fn close(
        &self,
        binding: &Binding,
        event: BindingEvent,
        settle: Settle,
        patch: BindingPatch,
    ) -> Result<BindingState, StoreError> {
        // The server's own state moves in its loop: BUSY goes on to the next binding at once, and
        // moves only when the server idles, drains or pauses.
        self.recorder()
            .close_binding(binding, event, settle, patch)
            .await
    }
}

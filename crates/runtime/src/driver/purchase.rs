//! Buying: purchases until the pulsa is exhausted, each one's intent committed before
//! `trx_idv` and its outcome after; its status followed until final; a purchase whose answer
//! was lost (or that a crash left open) reconciled by the balance, never sent again.

use serde_json::json;
use simrotor_domain::{LogoutReason, Msisdn, Rupiah, TrxEvent, TrxStatus};
use simrotor_persistence::{
    Binding, BindingPatch, Purchase, PurchaseIntent, PurchaseOutcome, Settle,
};
use simrotor_slot::{
    Balance, Product, ProductListing, RefusalReason, Reply, SlotError, TrxProgress,
};

use super::answers::{About, raw, raw_error};
use super::{Committing, Driver, Halt, Session, Step};
use crate::mode::ModeWatch;
use crate::otp::{OtpPurpose, OtpWaiter};

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

impl Driver {
    /// A transacting binding: its products, the purchases a crash left open, then purchases
    /// until the pulsa is exhausted (the binding logged out). `Go`: the session expired and
    /// the binding is `BOUND` again, to log in anew. `seq` numbers the binding's purchases.
    pub(super) async fn transact(
        &self,
        binding: &mut Binding,
        seq: &mut u32,
        session: &mut Session,
        mode: &mut ModeWatch,
    ) -> Result<Step, Halt> {
        // The login's product list; fetched again only on resume (prices may have changed).
        let products = match session.products.take() {
            Some(products) => products,
            None => {
                let Some(listing) = go!(self.list_products(binding, mode).await?) else {
                    return Ok(Step::Go(()));
                };
                match listing.value {
                    ProductListing::Products { products, .. } => products,
                    ProductListing::NotReseller { .. } => {
                        return self.not_a_reseller(binding, mode).await;
                    }
                }
            }
        };
        self.reconcile_open(binding, &mut session.pulsa, mode)
            .await?;
        loop {
            self.checkpoint(mode).await?;
            *seq += 1;
            match self
                .purchase(binding, *seq, &products, &mut session.pulsa, mode)
                .await?
            {
                Bought::Again => {
                    if !self.settings.pause_between.is_zero() {
                        mode.sleep(self.settings.pause_between).await?;
                    }
                }
                Bought::Exhausted(pulsa) => {
                    // The balance that ended the number is its last: the books add up even
                    // when the purchase before it could not read one.
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
                Bought::Unreadable(evidence) => return self.give_back(binding, evidence).await,
                Bought::Relogin => {
                    let step = self.session_expired(binding).await?;
                    tracing::info!(server = self.port, binding = binding.id, msisdn = %binding.account.msisdn, "The session expired; logging in again.");
                    return Ok(step);
                }
            }
        }
    }

    /// The first wanted product the balance affords within `limit_harga`.
    fn choose<'a>(
        &self,
        products: &'a [Product],
        balance: Rupiah,
    ) -> Option<(&'a Product, Rupiah)> {
        self.settings.wanted.iter().find_map(|want| {
            let p = products.iter().find(|p| &p.id == want)?;
            let price = p.price?;
            (price <= self.settings.limit_harga && price <= balance).then_some((p, price))
        })
    }

    /// The balance, asked again (up to `max_protocol_errors` times) when the answer is
    /// unusable: a purchase's evidence must not rest on one garbled answer.
    async fn balance(
        &self,
        msisdn: &Msisdn,
        about: About,
        mode: &mut ModeWatch,
    ) -> Result<Result<Reply<Balance>, SlotError>, Halt> {
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
                    mode.sleep(self.unusable_pause(tries)).await?;
                }
                _ => return Ok(res),
            }
        }
    }

    /// One purchase: intent, `trx_idv`, status until final, balance, outcome. The balance
    /// before is `known` when it is current (the login's, or the last purchase's after), and is
    /// asked only when it is not: one `balance_pulsa` per purchase.
    async fn purchase(
        &self,
        binding: &mut Binding,
        seq: u32,
        products: &[Product],
        known: &mut Option<Rupiah>,
        mode: &mut ModeWatch,
    ) -> Result<Bought, Halt> {
        let msisdn = binding.account.msisdn.clone();
        let read = match known.take() {
            Some(pulsa) => Ok(pulsa),
            None => self
                .balance(&msisdn, About::binding(binding), mode)
                .await?
                .map(|b| b.value.pulsa),
        };
        let before = match read {
            Ok(pulsa) => pulsa,
            Err(e) if e.refusal_reason() == Some(RefusalReason::TokenExpired) => {
                return Ok(Bought::Relogin);
            }
            Err(e) => {
                tracing::warn!(server = self.port, msisdn = %msisdn, error = %e, "The balance cannot be read; giving the number back to the pool.");
                return Ok(Bought::Unreadable(raw_error(&e)));
            }
        };
        let Some((product, price)) = self.choose(products, before) else {
            tracing::info!(server = self.port, msisdn = %msisdn, pulsa = %before, "The pulsa is exhausted.");
            return Ok(Bought::Exhausted(before));
        };
        let intent = PurchaseIntent {
            seq,
            product_id: product.id.clone(),
            product_name: product.name.clone(),
            limit_harga: self.settings.limit_harga,
            price,
            pulsa_awal: before,
        };
        // Registered before `trx_idv`, whose SMS may arrive before its answer; and its turn
        // taken before the intent, so no purchase sits `PROCESSING` while it queues.
        let trx_waiter = self.needs_transaction_otp(binding).await?.then(|| {
            self.otp
                .register(self.port, &msisdn, OtpPurpose::Transaction)
        });
        if let Some(waiter) = &trx_waiter {
            self.await_turn(waiter, mode).await?;
        }
        let mut purchase = self
            .recorder()
            .purchase_intent(binding.transacting()?, intent)
            .await?;
        tracing::info!(server = self.port, msisdn = %msisdn, binding = binding.id, attempt = %purchase.attempt_key, product = %product.id, price = %price, pulsa_awal = %before, "Buying.");
        let bought = self
            .client
            .buy(
                &msisdn,
                &product.id,
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
                // Queued now; durable by the end of the first status poll (see `follow`).
                let accepted = self.recorder().purchase_accepted(
                    &mut purchase,
                    &reply.value.trx_id,
                    reply.value.t_id.as_deref(),
                    json!({ "trx_idv": raw(&reply.raw) }),
                );
                if let Some(waiter) = trx_waiter {
                    accepted.await?;
                    self.transaction_otp(binding, waiter, mode).await?;
                    return self.follow(binding, &mut purchase, known, None, mode).await;
                }
                self.follow(
                    binding,
                    &mut purchase,
                    known,
                    Some(Box::pin(accepted)),
                    mode,
                )
                .await
            }
            Err(e) if e.may_have_taken_effect() => {
                tracing::warn!(server = self.port, msisdn = %msisdn, attempt = %purchase.attempt_key, error = %e, "The purchase's answer was lost; reconciling by the balance.");
                // No code is awaited while reconciling: the turn goes to the next binding.
                drop(trx_waiter);
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
                self.recorder()
                    .purchase_outcome(&mut purchase, event, outcome)
                    .await?;
                // Refused before it took effect: the pulsa is what it was.
                *known = Some(before);
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

    /// Polls the status on the schedule until final or the deadline, then reads the balance and
    /// commits. A final outcome's balance becomes `known`, the next purchase's balance before.
    /// `accepted`: the commit of the purchase's trx id, awaited after the first poll — before any
    /// wait the schedule asks for — so the id is on disk while the purchase may take long, yet
    /// the write can share a batch with other servers' writes (or with this outcome).
    async fn follow(
        &self,
        binding: &mut Binding,
        purchase: &mut Purchase,
        known: &mut Option<Rupiah>,
        mut accepted: Option<Committing>,
        mode: &mut ModeWatch,
    ) -> Result<Bought, Halt> {
        let msisdn = binding.account.msisdn.clone();
        let about = About::purchase(binding, purchase);
        let Some(trx_id) = purchase.trx_id.clone() else {
            return Ok(Bought::Again);
        };
        let deadline = tokio::time::Instant::now() + self.settings.status_deadline;
        let mut polls = 0u32;
        let mut answers = Vec::new();
        let (event, voucher) = loop {
            let wait = self.settings.status_polls.wait(polls);
            if polls > 0 && tokio::time::Instant::now() + wait > deadline {
                break (TrxEvent::DeadlineExpired, None);
            }
            if !wait.is_zero() {
                mode.sleep(wait).await?;
            }
            polls += 1;
            let status = self
                .call(mode, about, || self.client.trx_status(&msisdn, &trx_id))
                .await?;
            if let Some(accepted) = accepted.take() {
                accepted.await?;
            }
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
        let status = self
            .recorder()
            .purchase_outcome(purchase, event, outcome)
            .await?;
        tracing::info!(server = self.port, msisdn = %msisdn, trx = %trx_id, status = %status, pulsa_akhir = ?after.map(|p| p.get()), "The purchase is final.");
        // Still processing at the deadline, it may yet move the pulsa: ask again before the next.
        *known = after.filter(|_| event != TrxEvent::DeadlineExpired);
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
                    // A steady wait, not a growing one: the purchase cannot be booked without it.
                    mode.sleep(self.settings.restart_backoff.min).await?;
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
        self.recorder()
            .purchase_outcome(purchase, event, outcome)
            .await?;
        Ok(())
    }

    /// Reconciles purchases a crash left `PROCESSING`, before this binding buys again.
    async fn reconcile_open(
        &self,
        binding: &mut Binding,
        known: &mut Option<Rupiah>,
        mode: &mut ModeWatch,
    ) -> Result<(), Halt> {
        for mut p in self.store.purchases_of_binding(binding.id).await? {
            if p.status != TrxStatus::Processing {
                continue;
            }
            tracing::warn!(server = self.port, attempt = %p.attempt_key, "Found a purchase without an outcome; reconciling it before buying again.");
            if p.trx_id.is_some() {
                self.follow(binding, &mut p, known, None, mode).await?;
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
}

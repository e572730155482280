//! The audit trail's structured events, written from one place so that every line of a kind has
//! the same keys (`docs/audit-log.md`): `simrotor logs` and `jq` rely on them. They go through
//! `tracing` under this module's target, which the launcher routes to the JSON audit files.

use simrotor_domain::{BindingState, ServerState};
use simrotor_persistence::{Binding, Purchase, ReleasedLease};

/// A binding changed state; `from` is `None` when it was just opened (`BOUND`).
pub fn binding_moved(port: u16, binding: &Binding, from: Option<BindingState>, to: BindingState) {
    let from = from.map(|s| s.to_string());
    tracing::info!(
        event = "binding",
        server = port,
        batch = %binding.account.batch_id,
        msisdn = %binding.account.msisdn,
        binding = binding.id,
        from = from.as_deref(),
        to = %to,
        "The binding moved."
    );
}

/// A purchase's intent (`PROCESSING`) or its outcome was committed.
pub fn purchase(port: u16, p: &Purchase) {
    tracing::info!(
        event = "purchase",
        server = port,
        batch = %p.batch_id,
        msisdn = %p.msisdn,
        binding = p.binding_id,
        attempt = %p.attempt_key,
        trx = p.trx_id.as_deref(),
        product = %p.product_id,
        price = p.price.get(),
        status = %p.status,
        pulsa_awal = p.pulsa_awal.get(),
        pulsa_akhir = p.pulsa_akhir.map(|r| r.get()),
        "A purchase was recorded."
    );
}

/// A server changed state.
pub fn server_moved(port: u16, from: ServerState, to: ServerState, reason: Option<&str>) {
    tracing::info!(
        event = "server",
        server = port,
        from = %from,
        to = %to,
        reason,
        "The server moved."
    );
}

/// A lease a dead process left was put back into the pool at start-up (no binding was opened
/// on it, so no binding line tells it).
pub fn lease_released(lease: &ReleasedLease) {
    tracing::info!(
        event = "account",
        batch = %lease.batch_id,
        msisdn = %lease.msisdn,
        account = lease.account_id,
        leased_for = lease.server_id,
        from = %lease.from,
        to = %lease.to,
        "A lease a previous run left was put back into the pool."
    );
}

/// An SMS came by an intake, used or not (an SMS that matches nothing is kept here): the intake,
/// what named its SIM, the outcome and why not. Never the text: it holds the code.
pub fn sms(record: &crate::otp::SmsRecord) {
    tracing::info!(
        event = "sms",
        intake = record.intake.name(),
        outcome = record.outcome,
        server = record.server,
        msisdn = record.msisdn.as_ref().map(|m| m.as_str()),
        receiving = record.receiving.as_ref().map(|m| m.as_str()),
        device = record.device.as_deref(),
        slot = record.slot.as_deref(),
        sender = record.sender.as_deref(),
        purpose = record.purpose.map(|p| p.as_str()),
        matched_by = record.matched_by.map(|m| m.as_str()),
        why_not = record.why_not.as_deref(),
        "An SMS came in."
    );
}

/// The operator acted through the admin API.
pub fn operator(action: &str, server: Option<u16>, target: Option<i64>, who: &str, why: &str) {
    tracing::info!(
        event = "operator",
        action,
        server,
        transaction = target,
        who,
        why,
        "The operator acted."
    );
}

/// This runtime acquired a server's lease (at a new fencing counter): it drives the server now.
pub fn lease_acquired(server_id: i64, fence: i64, owner: &str) {
    tracing::info!(
        event = "lease",
        server_id,
        fence,
        owner,
        to = "HELD",
        "This runtime acquired the server's lease."
    );
}

/// Another runtime holds a lease this runtime had: it stops driving that server.
pub fn lease_lost(server_id: i64, fence: i64) {
    tracing::warn!(
        event = "lease",
        server_id,
        fence,
        to = "LOST",
        "The server's lease is another runtime's now."
    );
}

/// The database refused a write of this runtime's driver: the fencing counter it carried is
/// no longer the server's (another runtime took the server over). Nothing of it was applied.
pub fn write_refused(port: u16, error: &simrotor_persistence::StoreError) {
    if let simrotor_persistence::StoreError::Fenced {
        server_id,
        fence,
        holder,
        holder_fence,
    } = error
    {
        tracing::warn!(
            event = "fenced",
            server = port,
            server_id,
            fence,
            holder = %holder,
            holder_fence,
            "A write of this runtime was refused: the server's lease is another runtime's."
        );
    }
}

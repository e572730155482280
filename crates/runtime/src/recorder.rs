//! The one way a state change or a purchase is recorded: committed to the store first, then
//! written to the audit trail, then counted, so that a line in the trail or a count always
//! stands for a row the database has. The driver, the server actor and the supervisor record
//! through here; [`crate::audit`] shapes the lines and [`crate::metrics`] holds the counters.

use simrotor_domain::{BindingEvent, BindingState, ServerEvent, StateMachine, TrxEvent, TrxStatus};
use simrotor_persistence::{
    Binding, BindingPatch, Lease, Purchase, PurchaseIntent, PurchaseOutcome, Settle, Store,
    StoreError, Transacting,
};

use crate::audit;
use crate::metrics::Metrics;

/// Records for one server: its bindings, their purchases, and the server's own state.
#[derive(Debug, Clone, Copy)]
pub struct Recorder<'a> {
    store: &'a Store,
    metrics: &'a Metrics,
    server_id: i64,
    port: u16,
}

impl<'a> Recorder<'a> {
    pub fn new(store: &'a Store, metrics: &'a Metrics, server_id: i64, port: u16) -> Self {
        Self {
            store,
            metrics,
            server_id,
            port,
        }
    }

    /// A lease becomes a binding (`BOUND`): committed, then its first audit line (no `from`).
    pub async fn open_binding(&self, lease: Lease) -> Result<Binding, StoreError> {
        let binding = self.store.open_binding(lease).await?;
        audit::binding_moved(self.port, &binding, None, binding.state());
        Ok(binding)
    }

    /// A binding moves on (not to its end): committed as compare-and-set, then audited.
    pub async fn move_binding(
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

    /// A binding ends: closed and its account settled in one commit, then audited and counted
    /// by its end reason.
    pub async fn close_binding(
        &self,
        binding: &Binding,
        event: BindingEvent,
        settle: Settle,
        patch: BindingPatch,
    ) -> Result<BindingState, StoreError> {
        let to = self
            .store
            .close_binding(binding.clone(), event, settle, patch)
            .await?;
        audit::binding_moved(self.port, binding, Some(binding.state()), to);
        self.metrics
            .binding_ended(to.end_reason().unwrap_or(to.as_str()));
        Ok(to)
    }

    /// A purchase's intent (`PROCESSING`), committed before `trx_idv` is sent, then audited.
    pub async fn purchase_intent(
        &self,
        binding: Transacting<'_>,
        intent: PurchaseIntent,
    ) -> Result<Purchase, StoreError> {
        let purchase = self.store.write_purchase_intent(binding, intent).await?;
        audit::purchase(self.port, &purchase);
        Ok(purchase)
    }

    /// The server accepted a purchase (its trx id). Queued at once, committed when the returned
    /// wait is awaited (or sooner, in another write's batch); the status is unchanged, and the
    /// outcome's line carries the trx id.
    pub fn purchase_accepted(
        &self,
        purchase: &mut Purchase,
        trx_id: &str,
        t_id: Option<&str>,
        raw: serde_json::Value,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'static {
        self.store
            .record_purchase_accepted(purchase, trx_id, t_id, raw)
    }

    /// A purchase's outcome: committed, then audited and counted.
    pub async fn purchase_outcome(
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

    /// The server's state follows `event` when the move is legal from the state it is in; a
    /// real move is audited. Best effort: the server's state is the operator's view, and a
    /// failure to record it stops nothing.
    pub async fn server_event(&self, event: ServerEvent) {
        self.move_server(event, None, None).await;
    }

    /// The supervisor gave up on the server: `FAULTED`, `why` kept on its row and in the line.
    pub async fn server_faulted(&self, why: &str) {
        self.move_server(ServerEvent::Fault, Some(why), Some(why))
            .await;
    }

    /// The operator cleared the fault: the row's reason goes, the line says who cleared it.
    pub async fn server_reset(&self) {
        self.move_server(ServerEvent::Reset, None, Some("reset by the operator"))
            .await;
    }

    /// `kept`: the reason the row keeps; `said`: the reason the audit line gives.
    async fn move_server(&self, event: ServerEvent, kept: Option<&str>, said: Option<&str>) {
        let mut row = match self.store.server(self.server_id).await {
            Ok(Some(row)) => row,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(server = self.port, error = %e, "Could not read the server's state.");
                return;
            }
        };
        let from = row.state;
        if row.state.apply(&event).is_err() {
            return;
        }
        match self.store.move_server(&mut row, event, kept).await {
            Ok(()) if row.state != from => audit::server_moved(self.port, from, row.state, said),
            Ok(()) => {}
            Err(e @ StoreError::Fenced { .. }) => audit::write_refused(self.port, &e),
            Err(e) => {
                tracing::debug!(server = self.port, error = %e, "Could not record the server's state.");
            }
        }
    }
}

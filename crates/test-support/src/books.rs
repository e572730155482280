//! The store's rows as the simulator's [`reconcile`] reads them, for tests that hold a run's
//! database against the servers' ledger.

use simrotor_persistence::Store;
use simrotor_simulator::{Books, LedgerEntry, Reconciliation, reconcile};

/// Every purchase row, whatever its status, and every binding of `store`.
pub async fn books(store: &Store) -> Books {
    store.books().await.expect("the store's books")
}

/// `store`'s books against `ledger`.
pub async fn reconcile_store(store: &Store, ledger: &[LedgerEntry]) -> Reconciliation {
    reconcile(ledger, &books(store).await)
}

//! The store's rows as the simulator's [`reconcile`] reads them, for tests that hold a run's
//! database against the servers' ledger.

use simrotor_domain::TrxStatus;
use simrotor_persistence::Store;
use simrotor_simulator::{
    BookedBinding, BookedPurchase, Books, LedgerEntry, Reconciliation, reconcile,
};

/// Every purchase row, whatever its status, and every binding of `store`.
pub async fn books(store: &Store) -> Books {
    let mut purchases = Vec::new();
    for status in TrxStatus::ALL {
        let rows = store
            .purchases_with_status(*status)
            .await
            .expect("purchases");
        purchases.extend(rows.into_iter().map(|p| BookedPurchase {
            msisdn: p.msisdn,
            id: p.id,
            attempt_key: p.attempt_key,
            binding_id: p.binding_id,
            trx_id: p.trx_id,
            price: p.price,
            status: p.status,
            voucher: p.voucher,
            pulsa_akhir: p.pulsa_akhir,
        }));
    }
    let bindings = store
        .binding_records()
        .await
        .expect("bindings")
        .into_iter()
        .map(|b| BookedBinding {
            id: b.id,
            account_id: b.account_id,
            balance_start: b.balance_start,
            balance_last: b.balance_last,
        })
        .collect();
    Books {
        purchases,
        bindings,
    }
}

/// `store`'s books against `ledger`.
pub async fn reconcile_store(store: &Store, ledger: &[LedgerEntry]) -> Reconciliation {
    reconcile(ledger, &books(store).await)
}

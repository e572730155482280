//! The schema goes up at every start, comes down with `migrate --down`, and goes up again to the
//! same usable schema.

use migration::{Migrator, MigratorTrait};
use simrotor_domain::{BindingEvent, FailReason, TrxEvent};
use simrotor_persistence::{BindingPatch, PurchaseIntent, PurchaseOutcome, Settle, StoreError};

use crate::helpers::*;

both_databases!(down_then_up_again_gives_usable_tables);
/// Down drops every table (the store then refuses to work), up again gives empty tables that
/// work, with their invariants (the one-open-binding-per-server index) back in place.
async fn down_then_up_again_gives_usable_tables(db: TestDb) {
    let store = &db.store;
    servers(store, 2).await;
    assert_eq!(import(store, "b1", 0..3).await, 3);

    store.migrate_down().await.unwrap();
    assert!(
        store.servers().await.is_err(),
        "servers table still there after down"
    );
    assert!(
        store.available_count(None).await.is_err(),
        "accounts table still there after down"
    );
    assert!(
        store.recap(None).await.is_err(),
        "tables still there after down"
    );

    store.migrate().await.unwrap();
    assert!(store.servers().await.unwrap().is_empty());
    assert_eq!(store.available_count(None).await.unwrap(), 0);
    assert!(store.recap(None).await.unwrap().batches.is_empty());

    let rows = servers(store, 2).await;
    assert_eq!(import(store, "b1", 0..1).await, 1);
    let mut first = bind(store, rows[0].id, None).await;
    step(
        store,
        &mut first,
        BindingEvent::OtpRequestSent,
        BindingPatch::default(),
    )
    .await;
    assert_eq!(import(store, "b1", 1..2).await, 1);
    let lease = store
        .lease_next_account(rows[0].id, &me(), None)
        .await
        .unwrap()
        .unwrap();
    let second = store.open_binding(lease).await;
    assert!(matches!(second, Err(StoreError::Db(_))), "{second:?}");
    store
        .close_binding(
            first,
            BindingEvent::Failed(FailReason::OtpTimeout),
            Settle::Released,
            BindingPatch::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.available_count(None).await.unwrap(),
        2,
        "the refused number and the released one are both back"
    );
}

both_databases!(connecting_again_keeps_the_data);
/// A restart connects and migrates again: nothing to apply, nothing lost.
async fn connecting_again_keeps_the_data(db: TestDb) {
    servers(&db.store, 3).await;
    import(&db.store, "b1", 0..5).await;
    let again = db.connect_again(2).await;
    assert_eq!(again.servers().await.unwrap().len(), 3);
    assert_eq!(again.available_count(None).await.unwrap(), 5);
    again.migrate().await.unwrap();
    assert_eq!(again.available_count(None).await.unwrap(), 5);
}

both_databases!(the_resolution_columns_go_down_and_up_alone);
/// The last step (the suspect resolution columns) rolls back alone with the purchases kept, and
/// comes back with the columns empty and working.
async fn the_resolution_columns_go_down_and_up_alone(db: TestDb) {
    let store = &db.store;
    let s = servers(store, 1).await;
    import(store, "b1", 0..1).await;
    let mut b = bind(store, s[0].id, None).await;
    transacting(store, &mut b, 50_000).await;
    let mut p = store
        .write_purchase_intent(
            &b,
            PurchaseIntent {
                seq: 1,
                product_id: "VCR-10".to_owned(),
                limit_harga: rp(10_500),
                price: rp(10_000),
                pulsa_awal: rp(50_000),
            },
        )
        .await
        .unwrap();
    store
        .write_purchase_outcome(
            &mut p,
            TrxEvent::DeadlineExpired,
            PurchaseOutcome::default(),
        )
        .await
        .unwrap();
    store
        .resolve_suspect(p.id, "budi", "checked")
        .await
        .unwrap();

    // The resolution's migration and the one after it (server sessions, kept answers).
    Migrator::down(store.connection(), Some(2)).await.unwrap();
    assert!(
        store.suspects(true).await.is_err(),
        "resolution columns still there after down"
    );
    assert_eq!(
        store.recap(None).await.unwrap().total.transactions.suspect,
        1,
        "the purchase survives the down"
    );

    store.migrate().await.unwrap();
    let list = store.suspects(false).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].id, &list[0].resolved_at, &list[0].resolved_by),
        (p.id, &None, &None)
    );
    let resolved = store
        .resolve_suspect(p.id, "siti", "checked again")
        .await
        .unwrap();
    assert_eq!(resolved.resolved_by.as_deref(), Some("siti"));
}

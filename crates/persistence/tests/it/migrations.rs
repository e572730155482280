//! The schema goes up at every start, comes down with `migrate --down`, and goes up again to the
//! same usable schema.

use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use simrotor_domain::{BindingEvent, FailReason, TrxEvent};
use simrotor_persistence::entity::transaction;
use simrotor_persistence::{BindingPatch, Settle, StoreError};

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
    assert!(
        store.sms_channels().await.is_err(),
        "sms_channels table still there after down"
    );

    store.migrate().await.unwrap();
    assert!(store.servers().await.unwrap().is_empty());
    assert_eq!(store.available_count(None).await.unwrap(), 0);
    assert!(store.recap(None).await.unwrap().batches.is_empty());
    assert!(store.sms_channels().await.unwrap().is_empty());

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
    let (_, mut b) = one_binding(store).await;
    transacting(store, &mut b, 50_000).await;
    let p = buy(
        store,
        &b,
        Buy::new(1, 50_000).ended(TrxEvent::DeadlineExpired, None),
    )
    .await;
    store
        .resolve_suspect(p.id, "budi", "checked")
        .await
        .unwrap();

    // The resolution's migration and the five after it (server sessions, kept answers; one row
    // per trx id; SMS channels; the books' columns and indexes; server ownership).
    Migrator::down(store.connection(), Some(6)).await.unwrap();
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

both_databases!(twin_trx_ids_stop_the_unique_index_by_name);
/// A database already holding two rows for one trx id cannot take the unique index: the
/// migration fails naming the trx id (nothing is lost, nothing half-applied), and goes through
/// once the twin is resolved.
async fn twin_trx_ids_stop_the_unique_index_by_name(db: TestDb) {
    let store = &db.store;
    let (_, mut b) = one_binding(store).await;
    transacting(store, &mut b, 50_000).await;
    buy(store, &b, Buy::new(1, 50_000).accepted("TRX-TWIN")).await;
    let mut twin = buy(store, &b, Buy::new(2, 40_000)).await;
    // Before the index (as an older database may be; the SMS channels', the books' and the
    // ownership steps after it go too): the second row takes the same trx id.
    Migrator::down(store.connection(), Some(4)).await.unwrap();
    store
        .record_purchase_accepted(&mut twin, "TRX-TWIN", None, serde_json::json!({}))
        .await
        .unwrap();

    let err = store.migrate().await.unwrap_err().to_string();
    assert!(err.contains("TRX-TWIN (2 rows)"), "{err}");
    // Counted as the recap counts (the steps after the failed one, product names among them,
    // are not back yet).
    let rows = store.recap(None).await.unwrap().total.transactions.total;
    assert_eq!(rows, 2, "both rows are kept");

    transaction::Entity::update_many()
        .col_expr(transaction::Column::TrxId, Expr::value("TRX-OTHER"))
        .filter(transaction::Column::Id.eq(twin.id))
        .exec(store.connection())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let mut third = buy(store, &b, Buy::new(3, 30_000)).await;
    let res = store
        .record_purchase_accepted(&mut third, "TRX-TWIN", None, serde_json::json!({}))
        .await;
    assert!(matches!(res, Err(StoreError::Db(_))), "{res:?}");
}

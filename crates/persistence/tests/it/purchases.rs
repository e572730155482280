//! Purchases: the intent is written before anything is sent (only while TRANSACTING, once per
//! attempt key), the acceptance and the outcome after, each as compare-and-set; the raw answers
//! pile up as evidence and the binding's balance follows the last `pulsa_akhir`.

use sea_orm::{ConnectionTrait, EntityTrait};
use simrotor_domain::{BindingEvent, TrxEvent, TrxStatus};
use simrotor_persistence::entity::transaction;
use simrotor_persistence::{Binding, Purchase, PurchaseOutcome, Store, StoreError, attempt_key};

use crate::helpers::*;

/// A TRANSACTING binding with `balance` on a fresh server and account.
async fn transacting_binding(store: &Store, balance: u64) -> Binding {
    let (_, mut b) = one_binding(store).await;
    transacting(store, &mut b, balance).await;
    b
}

async fn raw_of(store: &Store, purchase: &Purchase) -> Option<serde_json::Value> {
    transaction::Entity::find_by_id(purchase.id)
        .one(store.connection())
        .await
        .unwrap()
        .unwrap()
        .raw
}

async fn balance_last(store: &Store, b: &Binding) -> Option<i64> {
    binding_row(store, b.id).await.balance_last
}

both_databases!(an_intent_needs_a_transacting_binding);
/// Before the reseller check nothing may be bought: `NotTransacting`, nothing written.
async fn an_intent_needs_a_transacting_binding(db: TestDb) {
    let store = &db.store;
    let (_, mut b) = one_binding(store).await;
    login(store, &mut b, 50_000).await;
    let res = b.transacting().map(|_| ());
    match res {
        Err(StoreError::NotTransacting { id, state }) => {
            assert_eq!((id, state.as_str()), (b.id, "TOKEN_LOGIN_FETCHED"))
        }
        other => panic!("expected NotTransacting, got {other:?}"),
    }
    assert!(store.purchases_of_binding(b.id).await.unwrap().is_empty());
    store
        .move_binding(&mut b, BindingEvent::ResellerConfirmed, no_patch())
        .await
        .unwrap();
    buy(store, &b, Buy::new(1, 50_000)).await;
}

both_databases!(an_attempt_is_written_once_and_accepted);
/// The intent is PROCESSING with its attempt key; the same attempt again is refused (with the
/// wrong error today, see the FIXME) and nothing is written twice; acceptance records the
/// `trx_id`.
async fn an_attempt_is_written_once_and_accepted(db: TestDb) {
    let store = &db.store;
    let b = transacting_binding(store, 50_000).await;
    let mut p = buy(store, &b, Buy::new(1, 50_000)).await;
    assert_eq!(p.attempt_key, attempt_key(b.id, 1));
    assert_eq!(
        (p.status, p.binding_id, p.server_id),
        (TrxStatus::Processing, b.id, b.server_id)
    );
    assert_eq!(
        (
            p.msisdn.as_str(),
            p.batch_id.as_str(),
            p.product_id.as_str()
        ),
        ("6281200000000", "b1", "VCR-10")
    );
    assert_eq!(
        (p.price, p.pulsa_awal, p.pulsa_akhir, p.trx_id.clone()),
        (rp(10_000), rp(50_000), None, None)
    );

    let res = store
        .write_purchase_intent(b.transacting().unwrap(), Buy::new(1, 50_000).intent())
        .await;
    // The runtime must be told to reconcile the old intent, not handed a database error.
    match res {
        Err(StoreError::DuplicateAttempt { attempt_key: key }) => {
            assert_eq!(key, format!("b{}-1", b.id))
        }
        other => panic!("expected DuplicateAttempt, got {other:?}"),
    }
    assert_eq!(store.purchases_of_binding(b.id).await.unwrap().len(), 1);

    store
        .record_purchase_accepted(
            &mut p,
            "TRX-0001",
            Some("T-9"),
            serde_json::json!({ "trx_idv": { "trx_id": "TRX-0001" } }),
        )
        .await
        .unwrap();
    assert_eq!(p.trx_id.as_deref(), Some("TRX-0001"));
    let stored = store.purchases_of_binding(b.id).await.unwrap();
    assert_eq!(stored[0].trx_id.as_deref(), Some("TRX-0001"));
    assert_eq!(
        stored[0].status,
        TrxStatus::Processing,
        "accepted is not final"
    );
    let second = buy(store, &b, Buy::new(2, 40_000)).await;
    assert_eq!(second.attempt_key, attempt_key(b.id, 2));
    let keys: Vec<String> = store
        .purchases_of_binding(b.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.attempt_key)
        .collect();
    assert_eq!(keys, [attempt_key(b.id, 1), attempt_key(b.id, 2)]);
}

both_databases!(success_is_recorded_once);
/// Success: SUKSES with the voucher, both raw answers kept, the binding's balance follows;
/// a stale copy of the purchase cannot write another outcome over it.
async fn success_is_recorded_once(db: TestDb) {
    let store = &db.store;
    let b = transacting_binding(store, 50_000).await;
    let mut p = buy(store, &b, Buy::new(1, 50_000)).await;
    store
        .record_purchase_accepted(
            &mut p,
            "TRX-1",
            None,
            serde_json::json!({ "trx_idv": { "trx_id": "TRX-1" } }),
        )
        .await
        .unwrap();
    let mut stale = p.clone();

    let outcome = PurchaseOutcome {
        pulsa_akhir: Some(rp(40_000)),
        voucher: Some("VOUCHER-AAA".to_owned()),
        raw: Some(serde_json::json!({ "status": { "is_success": 2 } })),
        note: None,
    };
    assert_eq!(
        store
            .write_purchase_outcome(&mut p, TrxEvent::VoucherReceived, outcome)
            .await
            .unwrap(),
        TrxStatus::Success
    );
    assert_eq!(
        (p.status, p.pulsa_akhir, p.voucher.as_deref()),
        (TrxStatus::Success, Some(rp(40_000)), Some("VOUCHER-AAA"))
    );
    assert_eq!(
        raw_of(store, &p).await,
        Some(
            serde_json::json!({ "trx_idv": { "trx_id": "TRX-1" }, "status": { "is_success": 2 } })
        )
    );
    assert_eq!(balance_last(store, &b).await, Some(40_000));

    let res = store
        .write_purchase_outcome(
            &mut stale,
            TrxEvent::Refused,
            PurchaseOutcome {
                pulsa_akhir: Some(rp(50_000)),
                note: Some("refused".to_owned()),
                ..PurchaseOutcome::default()
            },
        )
        .await;
    match res {
        Err(StoreError::StalePurchase { id, expected }) => {
            assert_eq!((id, expected.as_str()), (p.id, "PROCESSING"))
        }
        other => panic!("expected StalePurchase, got {other:?}"),
    }
    let stored = &store.purchases_of_binding(b.id).await.unwrap()[0];
    assert_eq!(
        (stored.status, stored.pulsa_akhir, stored.note.clone()),
        (TrxStatus::Success, Some(rp(40_000)), None)
    );
    assert_eq!(stored.voucher.as_deref(), Some("VOUCHER-AAA"));
    assert_eq!(
        balance_last(store, &b).await,
        Some(40_000),
        "a refused write does not move the balance"
    );

    // A final purchase takes no more answers.
    let res = store
        .record_purchase_accepted(&mut p, "TRX-2", None, serde_json::json!({}))
        .await;
    assert!(
        matches!(res, Err(StoreError::StalePurchase { .. })),
        "{res:?}"
    );
    let res = store
        .write_purchase_outcome(&mut p, TrxEvent::Refused, PurchaseOutcome::default())
        .await;
    assert!(matches!(res, Err(StoreError::Illegal(_))), "{res:?}");
}

both_databases!(suspect_and_failed_purchases);
/// Suspect: kept for review with its evidence; a late voucher still makes it SUKSES.
/// Failed: GAGAL, the balance unchanged.
async fn suspect_and_failed_purchases(db: TestDb) {
    let store = &db.store;
    let b = transacting_binding(store, 50_000).await;

    let mut suspect = buy(store, &b, Buy::new(1, 50_000)).await;
    let note = "balance dropped by the price, no voucher";
    let status = store
        .write_purchase_outcome(
            &mut suspect,
            TrxEvent::AnswerLostBalanceDropped,
            PurchaseOutcome {
                pulsa_akhir: Some(rp(40_000)),
                note: Some(note.to_owned()),
                raw: Some(serde_json::json!({ "balance": 40_000 })),
                ..PurchaseOutcome::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(status, TrxStatus::Suspect);
    let review = store
        .purchases_with_status(TrxStatus::Suspect)
        .await
        .unwrap();
    assert_eq!(review.len(), 1);
    assert_eq!(
        (review[0].id, review[0].note.as_deref()),
        (suspect.id, Some(note))
    );
    assert_eq!(balance_last(store, &b).await, Some(40_000));

    let mut failed = buy(store, &b, Buy::new(2, 40_000)).await;
    let status = store
        .write_purchase_outcome(
            &mut failed,
            TrxEvent::Refused,
            PurchaseOutcome {
                pulsa_akhir: Some(rp(40_000)),
                raw: Some(serde_json::json!({ "trx_idv": { "error": "refused" } })),
                ..PurchaseOutcome::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(status, TrxStatus::Failed);
    assert_eq!(
        store
            .purchases_with_status(TrxStatus::Failed)
            .await
            .unwrap()[0]
            .id,
        failed.id
    );
    assert_eq!(balance_last(store, &b).await, Some(40_000));

    store
        .write_purchase_outcome(
            &mut suspect,
            TrxEvent::VoucherReceived,
            PurchaseOutcome {
                voucher: Some("VOUCHER-LATE".to_owned()),
                raw: Some(serde_json::json!({ "status": { "is_success": 2 } })),
                ..PurchaseOutcome::default()
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .purchases_with_status(TrxStatus::Suspect)
            .await
            .unwrap()
            .is_empty()
    );
    let stored = &store
        .purchases_with_status(TrxStatus::Success)
        .await
        .unwrap()[0];
    assert_eq!(
        (stored.voucher.as_deref(), stored.note.as_deref()),
        (Some("VOUCHER-LATE"), Some(note))
    );
    assert_eq!(
        raw_of(store, &suspect).await,
        Some(serde_json::json!({ "balance": 40_000, "status": { "is_success": 2 } }))
    );
    assert_eq!(
        balance_last(store, &b).await,
        Some(40_000),
        "no pulsa_akhir: the balance stays"
    );
}

both_databases!(a_trx_id_books_one_row_only);
/// The database refuses a second row with a trx id already booked (the unique index), whoever
/// writes it; a row without one is no twin.
async fn a_trx_id_books_one_row_only(db: TestDb) {
    let store = &db.store;
    let b = transacting_binding(store, 50_000).await;
    let first = buy(store, &b, Buy::new(1, 50_000).accepted("TRX-ONCE")).await;
    let mut second = buy(store, &b, Buy::new(2, 40_000)).await;
    let res = store
        .record_purchase_accepted(&mut second, "TRX-ONCE", None, serde_json::json!({}))
        .await;
    assert!(matches!(res, Err(StoreError::Db(_))), "{res:?}");
    let rows = store.purchases_of_binding(b.id).await.unwrap();
    let trx_ids: Vec<Option<&str>> = rows.iter().map(|p| p.trx_id.as_deref()).collect();
    assert_eq!(trx_ids, [Some("TRX-ONCE"), None]);
    assert_eq!(rows[0].id, first.id);

    // Straight into the table, past the store: refused too.
    let raw = format!(
        "UPDATE transactions SET trx_id = 'TRX-ONCE' WHERE id = {}",
        second.id
    );
    let res = store.connection().execute_unprepared(&raw).await;
    assert!(res.is_err(), "{res:?}");
    buy(store, &b, Buy::new(3, 40_000)).await;
}

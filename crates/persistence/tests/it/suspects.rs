//! Suspect purchases for the operator's review, and their resolution: the verdict (who, when,
//! why) is written once, beside the evidence, which stays exactly as the runtime recorded it.

use chrono::Utc;
use sea_orm::EntityTrait;
use simrotor_domain::{TrxEvent, TrxStatus};
use simrotor_persistence::entity::transaction;
use simrotor_persistence::{Binding, Purchase, PurchaseOutcome, Store, StoreError};

use crate::helpers::*;

async fn stored(store: &Store, id: i64) -> transaction::Model {
    transaction::Entity::find_by_id(id)
        .one(store.connection())
        .await
        .unwrap()
        .unwrap()
}

/// Two suspects and a success on one binding of server 9900, in that order of ids:
/// (suspect 1, success, suspect 2).
async fn three_purchases(store: &Store) -> (Binding, Purchase, Purchase, Purchase) {
    let (_, mut b) = one_binding(store).await;
    transacting(store, &mut b, 50_000).await;
    let lost = TrxEvent::AnswerLostBalanceDropped;
    let first = buy(
        store,
        &b,
        Buy::new(1, 50_000)
            .accepted("TRX-1")
            .ended(lost, Some(40_000))
            .note("balance dropped by the price, no voucher"),
    )
    .await;
    let ended = Buy::new(2, 40_000).ended(TrxEvent::VoucherReceived, Some(30_000));
    let ok = buy(store, &b, ended).await;
    let late = TrxEvent::DeadlineExpired;
    let second = buy(
        store,
        &b,
        Buy::new(3, 30_000)
            .ended(late, None)
            .note("no final status before the deadline"),
    )
    .await;
    (b, first, ok, second)
}

both_databases!(only_suspects_are_listed_with_their_evidence);
/// Only SUSPECT rows, oldest first, each with its server's port and its evidence.
async fn only_suspects_are_listed_with_their_evidence(db: TestDb) {
    let store = &db.store;
    assert!(store.suspects(true).await.unwrap().is_empty());
    let (b, first, ok, second) = three_purchases(store).await;
    assert_eq!(ok.status, TrxStatus::Success);

    let list = store.suspects(false).await.unwrap();
    let ids: Vec<i64> = list.iter().map(|s| s.id).collect();
    assert_eq!(ids, [first.id, second.id]);

    let s = &list[0];
    assert_eq!(
        (s.server, s.batch.as_str(), s.msisdn.as_str(), s.binding),
        (Some(9900), "b1", "6281200000000", b.id)
    );
    assert_eq!(
        (s.trx_id.as_deref(), s.product.as_str()),
        (Some("TRX-1"), "VCR-10")
    );
    assert_eq!(
        (s.price, s.pulsa_awal, s.pulsa_akhir),
        (rp(10_000), rp(50_000), Some(rp(40_000)))
    );
    assert_eq!(
        s.note.as_deref(),
        Some("balance dropped by the price, no voucher")
    );
    assert_eq!(s.created_at, stored(store, first.id).await.created_at);
    assert_eq!(
        (&s.resolved_at, &s.resolved_by, &s.resolution),
        (&None, &None, &None)
    );

    let s = &list[1];
    assert_eq!((s.trx_id.as_deref(), s.pulsa_akhir), (None, None));
    assert_eq!(s.pulsa_awal, rp(30_000));

    let json = serde_json::to_value(&list[0]).unwrap();
    assert_eq!(json["server"], 9900);
    assert_eq!(json["price"], 10_000);
    assert!(json["resolved_at"].is_null());
}

both_databases!(a_resolution_is_written_once_beside_the_evidence);
/// Resolving records who, why and when (trimmed), leaves status, money and pulsa as they were,
/// and hides the row from the unresolved list only; a second resolution is refused.
async fn a_resolution_is_written_once_beside_the_evidence(db: TestDb) {
    let store = &db.store;
    let (_b, first, _ok, second) = three_purchases(store).await;
    let before = stored(store, first.id).await;

    let started = Utc::now();
    let resolved = store
        .resolve_suspect(first.id, "  budi ", " voucher seen in the telco portal\n")
        .await
        .unwrap();
    assert_eq!(resolved.id, first.id);
    assert_eq!(resolved.resolved_by.as_deref(), Some("budi"));
    assert_eq!(
        resolved.resolution.as_deref(),
        Some("voucher seen in the telco portal")
    );
    let at = resolved.resolved_at.expect("a resolution time");
    // The database may keep microseconds only.
    assert!(
        at >= started - chrono::Duration::milliseconds(1) && at <= Utc::now(),
        "{at}"
    );

    let after = stored(store, first.id).await;
    assert_eq!(after.resolved_at, Some(at));
    let evidence = |m: &transaction::Model| {
        (
            m.status.clone(),
            m.price,
            m.pulsa_awal,
            m.pulsa_akhir,
            m.note.clone(),
            m.trx_id.clone(),
            m.updated_at,
        )
    };
    assert_eq!(
        evidence(&after),
        evidence(&before),
        "the evidence is untouched"
    );
    assert_eq!(
        store.recap(None).await.unwrap().total.transactions.suspect,
        2,
        "a resolved suspect is still a suspect purchase in the recap"
    );

    let unresolved: Vec<i64> = store
        .suspects(false)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(unresolved, [second.id]);
    let all = store.suspects(true).await.unwrap();
    let ids: Vec<i64> = all.iter().map(|s| s.id).collect();
    assert_eq!(ids, [first.id, second.id]);
    assert_eq!(all[0].resolved_by.as_deref(), Some("budi"));
    assert_eq!(all[0].resolved_at, Some(at));

    let again = store
        .resolve_suspect(first.id, "siti", "checked again")
        .await;
    match &again {
        Err(StoreError::AlreadyResolved { id, by }) => {
            assert_eq!((*id, by.as_str()), (first.id, "budi"))
        }
        other => panic!("expected AlreadyResolved, got {other:?}"),
    }
    let message = again.unwrap_err().to_string();
    assert!(message.contains("already resolved by budi"), "{message}");
    assert_eq!(
        stored(store, first.id).await.resolution.as_deref(),
        Some("voucher seen in the telco portal"),
        "the first verdict stays"
    );
}

both_databases!(only_an_existing_suspect_with_who_and_why_is_resolved);
/// A success is not a suspect, an unknown id is not found, and a resolution without who or
/// why is refused; none of them writes anything.
async fn only_an_existing_suspect_with_who_and_why_is_resolved(db: TestDb) {
    let store = &db.store;
    let (_b, first, ok, _second) = three_purchases(store).await;

    let res = store.resolve_suspect(ok.id, "budi", "looked").await;
    match &res {
        Err(StoreError::NotSuspect { id, status }) => {
            assert_eq!((*id, status.as_str()), (ok.id, "SUKSES"))
        }
        other => panic!("expected NotSuspect, got {other:?}"),
    }
    let message = res.unwrap_err().to_string();
    assert!(message.contains("is SUKSES, not SUSPECT"), "{message}");
    assert_eq!(stored(store, ok.id).await.resolved_at, None);

    let res = store.resolve_suspect(999_999, "budi", "looked").await;
    match &res {
        Err(StoreError::TransactionNotFound { id }) => assert_eq!(*id, 999_999),
        other => panic!("expected TransactionNotFound, got {other:?}"),
    }
    assert_eq!(
        res.unwrap_err().to_string(),
        "transaction 999999 does not exist"
    );

    for (who, why, field) in [
        ("", "looked", "who"),
        (" \t ", "looked", "who"),
        ("budi", "", "why"),
        ("budi", "\n  ", "why"),
    ] {
        let res = store.resolve_suspect(first.id, who, why).await;
        match &res {
            Err(StoreError::Invalid { field: f, .. }) => assert_eq!(*f, field),
            other => panic!("expected Invalid {field}, got {other:?}"),
        }
    }
    assert_eq!(
        store.suspects(false).await.unwrap().len(),
        2,
        "nothing was resolved"
    );
}

both_databases!(a_late_voucher_still_settles_a_resolved_suspect);
/// The verdict does not freeze the row: a voucher that arrives later still makes it SUKSES, and
/// it leaves the suspect list, keeping its verdict.
async fn a_late_voucher_still_settles_a_resolved_suspect(db: TestDb) {
    let store = &db.store;
    let (_b, mut first, _ok, _second) = three_purchases(store).await;
    store
        .resolve_suspect(first.id, "budi", "asked the telco")
        .await
        .unwrap();
    store
        .write_purchase_outcome(
            &mut first,
            TrxEvent::VoucherReceived,
            PurchaseOutcome {
                voucher: Some("VOUCHER-LATE".to_owned()),
                ..PurchaseOutcome::default()
            },
        )
        .await
        .unwrap();
    let ids: Vec<i64> = store
        .suspects(true)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert!(!ids.contains(&first.id), "{ids:?}");
    let row = stored(store, first.id).await;
    assert_eq!(
        (row.status.as_str(), row.resolved_by.as_deref()),
        ("SUKSES", Some("budi"))
    );
}

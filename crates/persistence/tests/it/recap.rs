//! The recap per batch and in total, computed from accounts, bindings and transactions: what
//! the operator reads to know where every number and every rupiah of a batch went.

use simrotor_domain::{BindingEvent, FailReason, LogoutReason, TrxEvent};
use simrotor_persistence::{BatchRecap, NumberCounts, PulsaSums, Settle, Store, TrxCounts};

use crate::helpers::*;

/// Product `VCR` of `price` (its own limit), purchase `seq` on a binding from `pulsa_awal`.
fn vcr(seq: u32, price: u64, pulsa_awal: u64) -> Buy {
    Buy::new(seq, pulsa_awal).of("VCR", price, price)
}

/// Two batches, each number imported just before it is bound (so every lease has exactly one
/// candidate and the story names who holds what):
/// - b1: number 0 bound twice (50,000 at the first login: one success of 10,000, one suspect
///   of 10,000, one failure, released; 30,000 at the second: one success of 25,000, exhausted
///   at 5,000), number 1 not a reseller (20,000), number 2 waiting for its OTP, number 3 unused.
/// - b2: number 10 transacting (100,000: one success of 50,000, one still processing for
///   20,000), number 11 blocked before login.
async fn scenario(store: &Store) {
    let s = servers(store, 4).await;
    let success = TrxEvent::VoucherReceived;

    import(store, "b1", 0..1).await;
    let mut b = bind(store, s[0].id, Some("b1")).await;
    transacting(store, &mut b, 50_000).await;
    buy(
        store,
        &b,
        vcr(1, 10_000, 50_000).ended(success, Some(40_000)),
    )
    .await;
    let lost = TrxEvent::AnswerLostBalanceDropped;
    buy(store, &b, vcr(2, 10_000, 40_000).ended(lost, Some(30_000))).await;
    let refused = TrxEvent::Refused;
    buy(
        store,
        &b,
        vcr(3, 10_000, 30_000).ended(refused, Some(30_000)),
    )
    .await;
    let released = LogoutReason::Released;
    close(
        store,
        b,
        BindingEvent::LoggedOut(released),
        Settle::Released,
    )
    .await;

    let mut b = bind(store, s[0].id, Some("b1")).await;
    assert_eq!(
        b.account.msisdn,
        msisdn(0),
        "the released number is leased again"
    );
    transacting(store, &mut b, 30_000).await;
    buy(
        store,
        &b,
        vcr(1, 25_000, 30_000).ended(success, Some(5_000)),
    )
    .await;
    let exhausted = LogoutReason::Exhausted;
    close(
        store,
        b,
        BindingEvent::LoggedOut(exhausted),
        Settle::Exhausted,
    )
    .await;

    import(store, "b1", 1..2).await;
    let mut b = bind(store, s[1].id, Some("b1")).await;
    login(store, &mut b, 20_000).await;
    let not_reseller = LogoutReason::NotReseller;
    close(
        store,
        b,
        BindingEvent::LoggedOut(not_reseller),
        Settle::NotReseller,
    )
    .await;

    import(store, "b1", 2..3).await;
    let mut b = bind(store, s[1].id, Some("b1")).await;
    await_otp(store, &mut b).await;

    import(store, "b2", 10..11).await;
    let mut b = bind(store, s[2].id, Some("b2")).await;
    transacting(store, &mut b, 100_000).await;
    buy(
        store,
        &b,
        vcr(1, 50_000, 100_000).ended(success, Some(50_000)),
    )
    .await;
    buy(store, &b, vcr(2, 20_000, 50_000)).await;

    import(store, "b2", 11..12).await;
    let b = bind(store, s[3].id, Some("b2")).await;
    close(
        store,
        b,
        BindingEvent::Failed(FailReason::Blocked),
        Settle::Blocked,
    )
    .await;

    import(store, "b1", 3..4).await;
}

fn b1() -> BatchRecap {
    BatchRecap {
        batch_id: "b1".to_owned(),
        numbers: NumberCounts {
            total: 4,
            available: 1,
            in_use: 1,
            done: 1,
            non_reseller: 1,
            blocked: 0,
            failed: 0,
            waiting_otp: 1,
        },
        pulsa: PulsaSums {
            start: rp(70_000),
            spent: rp(35_000),
            suspect: rp(10_000),
            left: rp(25_000),
        },
        transactions: TrxCounts {
            total: 4,
            processing: 0,
            success: 2,
            suspect: 1,
            failed: 1,
        },
    }
}

fn b2() -> BatchRecap {
    BatchRecap {
        batch_id: "b2".to_owned(),
        numbers: NumberCounts {
            total: 2,
            available: 0,
            in_use: 1,
            done: 0,
            non_reseller: 0,
            blocked: 1,
            failed: 0,
            waiting_otp: 0,
        },
        pulsa: PulsaSums {
            start: rp(100_000),
            spent: rp(50_000),
            suspect: rp(0),
            left: rp(50_000),
        },
        transactions: TrxCounts {
            total: 2,
            processing: 1,
            success: 1,
            suspect: 0,
            failed: 0,
        },
    }
}

both_databases!(recap_of_every_batch_and_the_total);
/// Per batch and in total: numbers by status and waiting for an OTP, pulsa at the start
/// (each number's first login only), spent, suspect, left (each number's last balance),
/// transactions by status.
async fn recap_of_every_batch_and_the_total(db: TestDb) {
    scenario(&db.store).await;
    let recap = db.store.recap(None).await.unwrap();
    assert_eq!(recap.batches, [b1(), b2()]);
    assert_eq!(
        recap.total,
        BatchRecap {
            batch_id: "TOTAL".to_owned(),
            numbers: NumberCounts {
                total: 6,
                available: 1,
                in_use: 2,
                done: 1,
                non_reseller: 1,
                blocked: 1,
                failed: 0,
                waiting_otp: 1
            },
            pulsa: PulsaSums {
                start: rp(170_000),
                spent: rp(85_000),
                suspect: rp(10_000),
                left: rp(75_000)
            },
            transactions: TrxCounts {
                total: 6,
                processing: 1,
                success: 3,
                suspect: 1,
                failed: 1
            },
        }
    );
}

both_databases!(recap_of_one_batch);
/// With a batch filter: that batch only, and the total is that batch's.
async fn recap_of_one_batch(db: TestDb) {
    scenario(&db.store).await;
    let recap = db.store.recap(Some(&batch("b2"))).await.unwrap();
    assert_eq!(recap.batches, [b2()]);
    assert_eq!(
        recap.total,
        BatchRecap {
            batch_id: "TOTAL".to_owned(),
            ..b2()
        }
    );
    let recap = db.store.recap(Some(&batch("b1"))).await.unwrap();
    assert_eq!(recap.batches, [b1()]);
    let none = db.store.recap(Some(&batch("nope"))).await.unwrap();
    assert!(none.batches.is_empty());
    assert_eq!(
        none.total,
        BatchRecap {
            batch_id: "TOTAL".to_owned(),
            ..BatchRecap::default()
        }
    );
}

both_databases!(recap_of_an_empty_store);
/// A fresh store: no batches, a zero total.
async fn recap_of_an_empty_store(db: TestDb) {
    let recap = db.store.recap(None).await.unwrap();
    assert!(recap.batches.is_empty());
    assert_eq!(
        recap.total,
        BatchRecap {
            batch_id: "TOTAL".to_owned(),
            ..BatchRecap::default()
        }
    );
}

both_databases!(totals_since_count_what_happened_after_the_moment);
/// The operator's "today": purchases started and bindings ended at or after a moment; before
/// it, nothing is counted.
async fn totals_since_count_what_happened_after_the_moment(db: TestDb) {
    let before = chrono::Utc::now() - chrono::Duration::seconds(5);
    scenario(&db.store).await;
    let t = db.store.totals_since(before).await.unwrap();
    assert_eq!(
        t.transactions,
        TrxCounts {
            total: 6,
            processing: 1,
            success: 3,
            suspect: 1,
            failed: 1
        }
    );
    assert_eq!(t.pulsa.spent, rp(85_000));
    assert_eq!(t.pulsa.suspect, rp(10_000));
    let ended = db
        .store
        .binding_records()
        .await
        .unwrap()
        .iter()
        .filter(|b| b.ended_at.is_some())
        .count() as u64;
    assert!(ended > 0);
    assert_eq!(t.bindings_ended, ended);

    let later = chrono::Utc::now() + chrono::Duration::seconds(5);
    let t = db.store.totals_since(later).await.unwrap();
    assert_eq!(t.transactions, TrxCounts::default());
    assert_eq!(t.bindings_ended, 0);
}

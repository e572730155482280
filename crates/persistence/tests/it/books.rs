//! The operator's books: the voucher export (filters, order, pages) and the hourly series, and a
//! number's history (bindings with their trails, purchases, suspects), against rows written the
//! way the runtime writes them.

use chrono::{DateTime, Utc};
use simrotor_domain::{BindingEvent, LogoutReason, Msisdn, TrxEvent, TrxStatus};
use simrotor_persistence::{
    Binding, Purchase, Settle, Store, StoreError, VoucherFilter, VoucherRow, VoucherStatus,
};

use crate::helpers::*;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Batch `b1` on 9900 and batch `b2` on 9901, one number each, both transacting; on b1: a
/// success at 08:10, a suspect at 08:20, a refused one at 08:30; on b2: a success at 09:05.
/// The purchases in that order.
async fn books(store: &Store) -> (Binding, Binding, Vec<Purchase>) {
    let s = servers(store, 2).await;
    import(store, "b1", 0..1).await;
    import(store, "b2", 1..2).await;
    let mut one = bind(store, s[0].id, Some("b1")).await;
    let mut two = bind(store, s[1].id, Some("b2")).await;
    transacting(store, &mut one, 50_000).await;
    transacting(store, &mut two, 30_000).await;
    let ok = Buy::new(1, 50_000)
        .accepted("TRX-A")
        .ended(TrxEvent::VoucherReceived, Some(40_000))
        .voucher("VC-0001");
    let suspect = Buy::new(2, 40_000)
        .accepted("TRX-B")
        .ended(TrxEvent::AnswerLostBalanceDropped, Some(30_000))
        .note("balance dropped by the price, no voucher");
    let refused = Buy::new(3, 30_000)
        .accepted("TRX-C")
        .ended(TrxEvent::Refused, Some(30_000));
    let other = Buy::new(1, 30_000)
        .of("VCR-5", 5_000, 5_500)
        .accepted("TRX-D")
        .ended(TrxEvent::VoucherReceived, Some(25_000))
        .voucher("VC-0002");
    let mut out = vec![
        buy(store, &one, ok).await,
        buy(store, &one, suspect).await,
        buy(store, &one, refused).await,
        buy(store, &two, other).await,
    ];
    let times = [
        "2026-12-01T08:10:00Z",
        "2026-12-01T08:20:00Z",
        "2026-12-01T08:30:00Z",
        "2026-12-01T09:05:00Z",
    ];
    for (p, t) in out.iter_mut().zip(times) {
        set_bought_at(store, p.id, at(t)).await;
    }
    (one, two, out)
}

fn ids(rows: &[VoucherRow]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

both_databases!(the_export_holds_the_sold_vouchers_with_what_the_operator_books);
async fn the_export_holds_the_sold_vouchers_with_what_the_operator_books(db: TestDb) {
    let store = &db.store;
    let (_, _, p) = books(store).await;
    let rows = store.vouchers(&VoucherFilter::default()).await.unwrap();
    assert_eq!(
        ids(&rows),
        [p[0].id, p[3].id],
        "SUKSES rows only, in time order"
    );
    let first = &rows[0];
    assert_eq!(first.voucher.as_deref(), Some("VC-0001"));
    assert_eq!(first.product_id, "VCR-10");
    assert_eq!(first.product_name.as_deref(), Some("Voucher 10.000"));
    assert_eq!(first.price, rp(10_000));
    assert_eq!(first.server, Some(9900));
    assert_eq!(first.batch, "b1");
    assert_eq!(
        first.msisdn,
        Msisdn::parse(&local_number(0)).unwrap().as_str()
    );
    assert_eq!(first.trx_id.as_deref(), Some("TRX-A"));
    assert_eq!(
        (first.pulsa_before, first.pulsa_after),
        (rp(50_000), Some(rp(40_000)))
    );
    assert_eq!(first.time, at("2026-12-01T08:10:00Z"));
    assert_eq!(rows[1].server, Some(9901));
    assert_eq!(
        rows[1].product_name, None,
        "a product listed without a name"
    );

    let suspects = VoucherFilter {
        status: VoucherStatus::Suspect,
        ..VoucherFilter::default()
    };
    let rows = store.vouchers(&suspects).await.unwrap();
    assert_eq!(ids(&rows), [p[1].id]);
    assert_eq!(rows[0].status, TrxStatus::Suspect);
    assert_eq!(rows[0].voucher, None);
    assert!(rows[0].note.as_deref().unwrap().contains("no voucher"));

    let all = VoucherFilter {
        status: VoucherStatus::All,
        ..VoucherFilter::default()
    };
    let every: Vec<i64> = p.iter().map(|p| p.id).collect();
    assert_eq!(ids(&store.vouchers(&all).await.unwrap()), every);
}

both_databases!(the_export_filters_by_batch_and_time_range);
async fn the_export_filters_by_batch_and_time_range(db: TestDb) {
    let store = &db.store;
    let (_, _, p) = books(store).await;
    let all = |f: VoucherFilter| VoucherFilter {
        status: VoucherStatus::All,
        ..f
    };
    let b2 = all(VoucherFilter {
        batch: Some(batch("b2")),
        ..VoucherFilter::default()
    });
    assert_eq!(ids(&store.vouchers(&b2).await.unwrap()), [p[3].id]);
    // since is inclusive, until exclusive: 08:20 ≤ t < 09:05.
    let range = all(VoucherFilter {
        since: Some(at("2026-12-01T08:20:00Z")),
        until: Some(at("2026-12-01T09:05:00Z")),
        ..VoucherFilter::default()
    });
    assert_eq!(
        ids(&store.vouchers(&range).await.unwrap()),
        [p[1].id, p[2].id]
    );
    let b1_late = all(VoucherFilter {
        batch: Some(batch("b1")),
        since: Some(at("2026-12-01T08:25:00Z")),
        ..VoucherFilter::default()
    });
    assert_eq!(ids(&store.vouchers(&b1_late).await.unwrap()), [p[2].id]);
    let backwards = VoucherFilter {
        since: Some(at("2026-12-02T00:00:00Z")),
        until: Some(at("2026-12-01T00:00:00Z")),
        ..VoucherFilter::default()
    };
    let err = store.vouchers(&backwards).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid { field: "until", .. }),
        "{err}"
    );
    let err = "sold".parse::<VoucherStatus>().unwrap_err().to_string();
    assert!(err.contains("sukses, suspect, all"), "{err}");
}

both_databases!(pages_of_one_row_walk_the_same_rows_as_one_read);
/// Two purchases at the same instant too: the cursor orders them by id, none skipped or twice.
async fn pages_of_one_row_walk_the_same_rows_as_one_read(db: TestDb) {
    let store = &db.store;
    let (_, _, p) = books(store).await;
    set_bought_at(store, p[2].id, at("2026-12-01T08:20:00Z")).await;
    let all = VoucherFilter {
        status: VoucherStatus::All,
        ..VoucherFilter::default()
    };
    let mut walked = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.voucher_page(&all, cursor, 1).await.unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some(last.cursor());
        walked.extend(page);
    }
    assert_eq!(walked, store.vouchers(&all).await.unwrap());
    assert_eq!(ids(&walked), [p[0].id, p[1].id, p[2].id, p[3].id]);
}

both_databases!(the_hourly_series_counts_each_hour_and_the_empty_ones);
async fn the_hourly_series_counts_each_hour_and_the_empty_ones(db: TestDb) {
    let store = &db.store;
    books(store).await;
    let hours = store.hourly(4, at("2026-12-01T10:30:00Z")).await.unwrap();
    let starts: Vec<DateTime<Utc>> = hours.iter().map(|h| h.start).collect();
    assert_eq!(
        starts,
        ["07:00", "08:00", "09:00", "10:00"].map(|h| at(&format!("2026-12-01T{h}:00Z")))
    );
    let h8 = &hours[1];
    assert_eq!((h8.sukses, h8.spent), (1, rp(10_000)));
    assert_eq!(
        (h8.suspect, h8.suspect_amount, h8.gagal),
        (1, rp(10_000), 1)
    );
    assert_eq!((hours[2].sukses, hours[2].spent), (1, rp(5_000)));
    for empty in [&hours[0], &hours[3]] {
        assert_eq!(
            (empty.sukses, empty.suspect, empty.gagal),
            (0, 0, 0),
            "{empty:?}"
        );
    }
}

both_databases!(a_numbers_history_has_each_binding_with_its_trail_purchases_and_suspects);
async fn a_numbers_history_has_each_binding_with_its_trail_purchases_and_suspects(db: TestDb) {
    let store = &db.store;
    let s = servers(store, 2).await;
    import(store, "b1", 0..1).await;
    // First on 9900: logged in, released (the server went down), back to the pool.
    let mut first = bind(store, s[0].id, None).await;
    login(store, &mut first, 50_000).await;
    let released = BindingEvent::LoggedOut(LogoutReason::Released);
    close(store, first, released, Settle::Released).await;
    // Then on 9901: a success and a suspect, resolved, until exhausted.
    let mut second = bind(store, s[1].id, None).await;
    transacting(store, &mut second, 50_000).await;
    let ok = Buy::new(1, 50_000)
        .ended(TrxEvent::VoucherReceived, Some(40_000))
        .voucher("VC-9");
    let ok = buy(store, &second, ok).await;
    let lost = Buy::new(2, 40_000).ended(TrxEvent::AnswerLostBalanceDropped, Some(30_000));
    let lost = buy(store, &second, lost).await;
    store
        .resolve_suspect(lost.id, "budi", "voucher seen in the telco portal")
        .await
        .unwrap();
    let exhausted = BindingEvent::LoggedOut(LogoutReason::Exhausted);
    close(store, second, exhausted, Settle::Exhausted).await;

    // Any form of the number finds it.
    let local = local_number(0);
    let msisdn = Msisdn::parse(&local).unwrap();
    let plus = format!("+{}", msisdn.as_str());
    for form in [local.as_str(), msisdn.as_str(), plus.as_str()] {
        let h = store.history(&Msisdn::parse(form).unwrap()).await.unwrap();
        assert!(h.is_some(), "{form} finds no history");
    }
    let h = store.history(&msisdn).await.unwrap().unwrap();
    assert_eq!((h.batch.as_str(), h.status.as_str()), ("b1", "DONE"));
    assert_eq!(h.bindings.len(), 2);
    let (b1, b2) = (&h.bindings[0], &h.bindings[1]);
    assert_eq!((b1.server, b2.server), (Some(9900), Some(9901)));
    assert_eq!(b1.end_reason.as_deref(), Some("RELEASED"));
    assert_eq!(b2.end_reason.as_deref(), Some("EXHAUSTED"));
    let states = |b: &simrotor_persistence::BindingHistory| -> Vec<String> {
        b.trail.iter().map(|t| t.state.clone()).collect()
    };
    assert_eq!(
        states(b1),
        [
            "BOUND",
            "OTP_REQUESTED",
            "OTP_VERIFICATION",
            "OTP_VERIFIED",
            "TOKEN_LOGIN_FETCHED",
            "LOGGED_OUT"
        ]
    );
    assert_eq!(states(b2).len(), 7, "{:?}", states(b2));
    assert_eq!(states(b2)[5], "TRANSACTING");
    for b in [b1, b2] {
        assert!(
            b.trail.windows(2).all(|w| w[0].at <= w[1].at),
            "{:?}",
            b.trail
        );
        assert_eq!(b.trail.first().unwrap().at, b.opened_at);
        assert_eq!(Some(b.trail.last().unwrap().at), b.ended_at);
    }
    assert_eq!(
        (b1.balance_start, b1.purchases.len()),
        (Some(rp(50_000)), 0)
    );
    assert_eq!(ids(&b2.purchases), [ok.id, lost.id]);
    assert_eq!(b2.purchases[0].voucher.as_deref(), Some("VC-9"));
    assert_eq!(ids(&h.suspects), [lost.id]);
    assert_eq!(h.suspects[0].resolved_by.as_deref(), Some("budi"));
    assert!(h.suspects[0].resolved_at.is_some());

    let stranger = Msisdn::parse(&local_number(7)).unwrap();
    assert_eq!(store.history(&stranger).await.unwrap(), None);
    // Nothing secret in what the operator is shown.
    let shown = format!("{h:?}");
    assert!(
        !shown.contains(TOKEN_LOGIN) && !shown.contains(TOKEN_LOCATION),
        "{shown}"
    );
}

both_databases!(a_resumed_binding_keeps_its_trail);
/// A restart reads the open binding back with its trail; the next move appends to it.
async fn a_resumed_binding_keeps_its_trail(db: TestDb) {
    let store = &db.store;
    let (s, mut b) = one_binding(store).await;
    await_otp(store, &mut b).await;
    let mut resumed = store
        .open_binding_of_server(s[0].id)
        .await
        .unwrap()
        .unwrap();
    step(
        store,
        &mut resumed,
        BindingEvent::OtpAccepted,
        token_patch(),
    )
    .await;
    let h = store
        .history(&resumed.account.msisdn)
        .await
        .unwrap()
        .unwrap();
    let states: Vec<&str> = h.bindings[0]
        .trail
        .iter()
        .map(|t| t.state.as_str())
        .collect();
    assert_eq!(
        states,
        ["BOUND", "OTP_REQUESTED", "OTP_VERIFICATION", "OTP_VERIFIED"]
    );
}

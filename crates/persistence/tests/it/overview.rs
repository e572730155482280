//! What the admin API shows at a glance: every server in port order with the binding it holds
//! now (its number, batch, step, last pulsa and purchases, never its tokens), and the pool left
//! in each batch.

use simrotor_domain::{BindingEvent, LogoutReason, ServerState, TrxEvent};
use simrotor_persistence::Settle;

use crate::helpers::*;

/// Purchase `seq` of 10,000 ended by `event` with `pulsa_akhir` left.
fn ten(seq: u32, event: TrxEvent, pulsa_akhir: u64) -> Buy {
    Buy::new(seq, pulsa_akhir + 10_000).ended(event, Some(pulsa_akhir))
}

both_databases!(servers_without_bindings_in_port_order);
/// Every server is listed, by port (not by id, nor by the order the configuration gave),
/// without a binding while it holds none.
async fn servers_without_bindings_in_port_order(db: TestDb) {
    let store = &db.store;
    assert!(store.server_overview().await.unwrap().is_empty());
    // Ids follow the seeds, so port order is the reverse of id order.
    let rows = store
        .sync_servers(&[seed(9902), seed(9901), seed(9900)])
        .await
        .unwrap();
    let overview = store.server_overview().await.unwrap();
    let ports: Vec<u16> = overview.iter().map(|s| s.port).collect();
    assert_eq!(ports, [9900, 9901, 9902]);
    for s in &overview {
        let row = rows.iter().find(|r| r.id == s.id).unwrap();
        assert_eq!(
            (s.port, s.base_url.as_str(), s.enabled, s.state),
            (row.port, row.base_url.as_str(), true, ServerState::Idle)
        );
        assert_eq!((&s.state_reason, &s.device_id), (&None, &None));
        assert!(s.binding.is_none(), "{s:?}");
    }
}

both_databases!(an_open_binding_shows_with_its_purchases);
/// The server holding an open binding shows its number, batch, step, last pulsa and purchase
/// count; a closed binding shows nowhere (nor do its purchases count for the next one); the
/// JSON carries no token.
async fn an_open_binding_shows_with_its_purchases(db: TestDb) {
    let store = &db.store;
    let s = servers(store, 3).await;
    import(store, "b1", 0..2).await;
    import(store, "b2", 2..3).await;

    // 9900: a binding that bought once and ended; then a fresh one on the same server.
    let mut ended = bind(store, s[0].id, Some("b1")).await;
    transacting(store, &mut ended, 20_000).await;
    buy(store, &ended, ten(1, TrxEvent::VoucherReceived, 10_000)).await;
    close(
        store,
        ended,
        BindingEvent::LoggedOut(LogoutReason::Exhausted),
        Settle::Exhausted,
    )
    .await;
    let fresh = bind(store, s[0].id, Some("b1")).await;

    // 9901: a binding that bought three times (a success, a suspect, a refusal).
    let mut busy = bind(store, s[1].id, Some("b2")).await;
    transacting(store, &mut busy, 50_000).await;
    buy(store, &busy, ten(1, TrxEvent::VoucherReceived, 40_000)).await;
    buy(
        store,
        &busy,
        ten(2, TrxEvent::AnswerLostBalanceDropped, 30_000),
    )
    .await;
    buy(store, &busy, ten(3, TrxEvent::Refused, 25_000)).await;

    let overview = store.server_overview().await.unwrap();
    assert_eq!(overview.len(), 3);

    let first = overview[0].binding.as_ref().expect("9900 holds a binding");
    assert_eq!(first.id, fresh.id, "the closed binding does not show");
    assert_eq!(
        (
            first.msisdn.as_str(),
            first.batch.as_str(),
            first.state.as_str()
        ),
        ("6281200000001", "b1", "BOUND")
    );
    assert_eq!(
        (first.pulsa, first.purchases),
        (None, 0),
        "no login yet, and the ended binding's purchase is not this one's"
    );

    let second = overview[1].binding.as_ref().expect("9901 holds a binding");
    let row = binding_row(store, busy.id).await;
    assert_eq!(second.id, busy.id);
    assert_eq!(
        (
            second.msisdn.as_str(),
            second.batch.as_str(),
            second.state.as_str()
        ),
        ("6281200000002", "b2", "TRANSACTING")
    );
    assert_eq!(
        (second.pulsa, second.purchases),
        (Some(rp(25_000)), 3),
        "pulsa is balance_last; every purchase counts"
    );
    assert_eq!(second.step_since, row.updated_at);

    assert!(overview[2].binding.is_none());

    let json = serde_json::to_string(&overview).unwrap();
    assert!(
        !json.contains(TOKEN_LOGIN) && !json.contains(TOKEN_LOCATION),
        "a token in the overview: {json}"
    );
    let value = serde_json::to_value(&overview[1]).unwrap();
    assert_eq!(value["state"], "IDLE");
    assert_eq!(value["binding"]["pulsa"], 25_000);
    assert_eq!(value["binding"]["purchases"], 3);
}

both_databases!(available_accounts_per_batch);
/// The pool left in each batch, every batch with accounts listed (zero included), in bytewise
/// batch order on both databases.
async fn available_accounts_per_batch(db: TestDb) {
    let store = &db.store;
    assert!(store.available_by_batch().await.unwrap().is_empty());
    let s = servers(store, 1).await;
    import(store, "b1", 0..3).await;
    import(store, "a0", 3..5).await;
    // Upper case sorts before lower case bytewise, whatever the server's collation says.
    import(store, "B9", 5..6).await;
    let counts = |pairs: &[(&str, u64)]| -> Vec<(String, u64)> {
        pairs.iter().map(|(b, n)| ((*b).to_owned(), *n)).collect()
    };
    assert_eq!(
        store.available_by_batch().await.unwrap(),
        counts(&[("B9", 1), ("a0", 2), ("b1", 3)])
    );

    let _lease = store
        .lease_next_account(s[0].id, &me(), Some(&batch("b1")))
        .await
        .unwrap()
        .unwrap();
    let _emptied = store
        .lease_next_account(s[0].id, &me(), Some(&batch("B9")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.available_by_batch().await.unwrap(),
        counts(&[("B9", 0), ("a0", 2), ("b1", 2)])
    );
    let total: u64 = store
        .available_by_batch()
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(total, store.available_count(None).await.unwrap());
}

//! The lease: the pool hands each account to exactly one server, fewest attempts first, then in
//! import order, optionally from one batch, and says so when it is empty, even under 20
//! concurrent leasers (and two processes on PostgreSQL).

use std::collections::{BTreeMap, BTreeSet};

use simrotor_domain::{AccountState, BindingEvent, FailReason};
use simrotor_persistence::{AccountFilter, BindingPatch, LeaseOwner, NewAccount, Settle, Store};
use tokio::task::JoinSet;

use crate::helpers::*;

both_databases!(an_empty_pool_leases_nothing);
/// An empty pool leases nothing.
async fn an_empty_pool_leases_nothing(db: TestDb) {
    let s = servers(&db.store, 1).await;
    assert!(leases_nothing(&db.store, s[0].id, None).await);
    import(&db.store, "b1", 0..1).await;
    assert!(leases_nothing(&db.store, s[0].id, Some(&batch("other"))).await);
}

both_databases!(a_lease_claims_exactly_one_account);
/// One lease takes one account: the one handed out (with its PIN, which no Debug line
/// shows); the others stay in the pool.
async fn a_lease_claims_exactly_one_account(db: TestDb) {
    let store = &db.store;
    let s = servers(store, 1).await;
    let rows: Vec<NewAccount> = (0..3)
        .map(|i| NewAccount {
            pin: Some(pin("246810")),
            ..new_account(i)
        })
        .collect();
    store.import_accounts(&batch("b1"), &rows).await.unwrap();

    let lease = store
        .lease_next_account(s[0].id, &me(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.server_id(), s[0].id);
    assert_eq!(
        lease.account().pin.as_ref().map(|p| p.expose().to_owned()),
        Some("246810".to_owned())
    );
    assert!(
        !format!("{lease:?}").contains("246810"),
        "the PIN printed in a Debug line: {lease:?}"
    );
    let leased: Vec<i64> = store
        .accounts(&AccountFilter {
            status: Some(AccountState::Leased),
            ..AccountFilter::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    // Regression: PostgreSQL once planned `id IN (SELECT … LIMIT 1 … SKIP LOCKED)` as a
    // semi-join that re-ran the subquery per row and leased all three. Only one may move.
    assert_eq!(leased, [lease.account().id]);
    assert_eq!(lease.account().msisdn, msisdn(0));
    assert_eq!(store.available_count(None).await.unwrap(), 2);
}

both_databases!(leases_fewest_attempts_first_then_import_order);
/// Import order first; an account whose login failed goes to the back of the queue; the
/// leased account shows as LEASED to its server.
async fn leases_fewest_attempts_first_then_import_order(db: TestDb) {
    let store = &db.store;
    let s = servers(store, 1).await;
    import(store, "b1", 0..3).await;

    let first = bind(store, s[0].id, None).await;
    assert_eq!(first.account.msisdn, msisdn(0));
    let row = account_row(store, first.account.id).await;
    assert_eq!(
        (row.status, row.leased_server_id),
        (AccountState::Leased, Some(s[0].id))
    );
    store
        .close_binding(
            first,
            BindingEvent::Failed(FailReason::LoginRefused),
            Settle::LoginFailed { max_attempts: 3 },
            BindingPatch::default(),
        )
        .await
        .unwrap();

    let mut order = Vec::new();
    while let Some(lease) = store
        .lease_next_account(s[0].id, &me(), None)
        .await
        .unwrap()
    {
        order.push((lease.account().msisdn.clone(), lease.account().attempts));
    }
    assert_eq!(order, [(msisdn(1), 0), (msisdn(2), 0), (msisdn(0), 1)]);
    assert_eq!(store.available_count(None).await.unwrap(), 0);
}

both_databases!(the_batch_filter_limits_the_lease);
/// A batch filter leases only from that batch; without one, from any.
async fn the_batch_filter_limits_the_lease(db: TestDb) {
    let store = &db.store;
    let s = servers(store, 1).await;
    import(store, "b1", 0..2).await;
    import(store, "b2", 10..12).await;
    let b2 = batch("b2");

    let lease = store
        .lease_next_account(s[0].id, &me(), Some(&b2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.account().batch_id.as_str(), "b2");
    assert_eq!(lease.account().msisdn, msisdn(10));
    assert_eq!(store.available_count(Some(&b2)).await.unwrap(), 1);
    let lease = store
        .lease_next_account(s[0].id, &me(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.account().msisdn, msisdn(0));
    let lease = store
        .lease_next_account(s[0].id, &me(), Some(&b2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.account().msisdn, msisdn(11));
    assert!(
        store
            .lease_next_account(s[0].id, &me(), Some(&b2))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.available_count(Some(&batch("b1"))).await.unwrap(), 1);
    assert_eq!(store.available_count(None).await.unwrap(), 1);
}

/// `tasks` leasers, task `i` on `stores[i % len]` for server `servers[i]`, each leasing until
/// the pool says empty. Returns account id → the servers it was handed to.
async fn lease_concurrently(
    stores: &[Store],
    server_ids: &[i64],
    tasks: usize,
) -> BTreeMap<i64, Vec<i64>> {
    let mut set = JoinSet::new();
    for (i, server_id) in server_ids.iter().copied().enumerate().take(tasks) {
        let store = stores[i % stores.len()].clone();
        let owner = LeaseOwner::named(format!("process-{}", i % stores.len()));
        set.spawn(async move {
            let mut got = Vec::new();
            while let Some(lease) = store
                .lease_next_account(server_id, &owner, None)
                .await
                .unwrap()
            {
                assert_eq!(lease.server_id(), server_id);
                got.push(lease.account().id);
            }
            (server_id, got)
        });
    }
    let mut handed: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    while let Some(done) = set.join_next().await {
        let (server_id, got) = done.unwrap();
        for account_id in got {
            handed.entry(account_id).or_default().push(server_id);
        }
    }
    handed
}

/// Every one of `n` accounts handed out exactly once, to the server its row names, and the
/// pool empty after.
async fn assert_each_leased_once(
    store: &Store,
    handed: &BTreeMap<i64, Vec<i64>>,
    n: usize,
    server_id: i64,
) {
    let twice: Vec<_> = handed.iter().filter(|(_, s)| s.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "accounts leased more than once: {twice:?}"
    );
    assert_eq!(handed.len(), n, "every account is leased");
    let rows = store.accounts(&AccountFilter::default()).await.unwrap();
    assert_eq!(rows.len(), n);
    for row in &rows {
        assert_eq!(row.status, AccountState::Leased, "{row:?}");
        assert_eq!(row.leased_server_id, Some(handed[&row.id][0]), "{row:?}");
    }
    let ids: BTreeSet<i64> = rows.iter().map(|r| r.id).collect();
    assert_eq!(ids, handed.keys().copied().collect());
    assert!(leases_nothing(store, server_id, None).await);
    assert_eq!(store.available_count(None).await.unwrap(), 0);
}

both_databases!(twenty_concurrent_leasers_never_share_an_account);
/// 20 tasks lease 1,000 accounts through one pool: 1,000 distinct leases, none twice.
async fn twenty_concurrent_leasers_never_share_an_account(db: TestDb) {
    let store = db.connect_again(8).await;
    let s: Vec<i64> = servers(&store, 20).await.iter().map(|s| s.id).collect();
    assert_eq!(import(&store, "b1", 0..1000).await, 1000);
    let handed = lease_concurrently(std::slice::from_ref(&store), &s, 20).await;
    assert_each_leased_once(&store, &handed, 1000, s[0]).await;
}

/// Two processes (two pools) on one PostgreSQL database, 10 leasers each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pools_on_postgres_never_share_an_account() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("skipped: SIMROTOR_TEST_POSTGRES_URL is not set");
        return;
    };
    let a = db.connect_again(5).await;
    let b = db.connect_again(5).await;
    let s: Vec<i64> = servers(&a, 20).await.iter().map(|s| s.id).collect();
    assert_eq!(import(&a, "b1", 0..1000).await, 1000);
    let handed = lease_concurrently(&[a.clone(), b.clone()], &s, 20).await;
    assert_each_leased_once(&db.store, &handed, 1000, s[0]).await;
    assert!(
        b.lease_next_account(s[1], &me(), None)
            .await
            .unwrap()
            .is_none()
    );
}

//! Server leases: one owner at a time, an expired lease taken over at a higher fencing counter,
//! and a stale owner's writes refused by the database while the new owner's land.

use std::time::Duration;

use simrotor_domain::{BindingEvent, BindingState, StateMachine as _};
use simrotor_persistence::{Fence, HeldLease, LeaseOwner, RuntimeInfo, StoreError};

use crate::helpers::*;

fn runtime(id: &str) -> RuntimeInfo {
    RuntimeInfo {
        id: LeaseOwner::named(id),
        name: id.to_owned(),
        host: "test-host".to_owned(),
        pid: 1,
        servers: "9900-9901".to_owned(),
    }
}

const LONG: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(300);

both_databases!(a_server_has_one_owner_until_its_lease_expires);
async fn a_server_has_one_owner_until_its_lease_expires(db: TestDb) {
    let store = &db.store;
    let s = servers(store, 2).await;
    let ids: Vec<i64> = s.iter().map(|r| r.id).collect();
    let (a, b) = (LeaseOwner::named("a"), LeaseOwner::named("b"));
    store.register_runtime(&runtime("a")).await.unwrap();
    store.register_runtime(&runtime("b")).await.unwrap();

    let got = store
        .acquire_leases(&a, &ids[..1], &[], SHORT)
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![HeldLease {
            server_id: ids[0],
            fence: 1
        }]
    );
    // Held and not expired: b gets only the free one.
    let got = store.acquire_leases(&b, &ids, &[], LONG).await.unwrap();
    assert_eq!(
        got,
        vec![HeldLease {
            server_id: ids[1],
            fence: 1
        }]
    );
    assert_eq!(
        store.abandoned_servers(&b, &[]).await.unwrap(),
        Vec::<i64>::new()
    );

    // a stops renewing: its lease expires, and is abandoned for b to take, one fence higher.
    tokio::time::sleep(SHORT + Duration::from_millis(200)).await;
    assert_eq!(
        store.abandoned_servers(&b, &[]).await.unwrap(),
        vec![ids[0]]
    );
    let got = store
        .acquire_leases(&b, &ids[..1], &[], LONG)
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![HeldLease {
            server_id: ids[0],
            fence: 2
        }]
    );
    // a's heartbeat, late, finds the server gone: renewed leases no longer list it.
    assert_eq!(store.renew_leases(&a, LONG).await.unwrap(), vec![]);
    assert_eq!(store.renew_leases(&b, LONG).await.unwrap().len(), 2);

    let views = store.leases().await.unwrap();
    assert!(
        views.iter().all(|l| l.owner.as_deref() == Some("b")),
        "{views:?}"
    );
    assert!(
        views.iter().all(|l| l.owner_name.as_deref() == Some("b")),
        "{views:?}"
    );
    let runtimes = store.runtimes().await.unwrap();
    let holds = |id: &str| runtimes.iter().find(|r| r.id == id).unwrap().holds;
    assert_eq!((holds("a"), holds("b")), (0, 2));

    // A clean stop releases; nobody takes over a released server (it waits for its runtime),
    // but its own runtime acquires it again at once.
    assert_eq!(store.release_leases(&b).await.unwrap(), 2);
    assert_eq!(
        store.abandoned_servers(&a, &[]).await.unwrap(),
        Vec::<i64>::new()
    );
    assert!(store.runtimes().await.unwrap().iter().all(|r| r.id != "b"));
    let got = store.acquire_leases(&a, &ids, &[], LONG).await.unwrap();
    assert_eq!(
        got.iter().map(|l| l.fence).collect::<Vec<_>>(),
        vec![3, 2],
        "every change of owner raises the fence"
    );
}

both_databases!(a_runtime_known_dead_is_not_waited_out);
async fn a_runtime_known_dead_is_not_waited_out(db: TestDb) {
    let store = &db.store;
    let s = servers(store, 1).await;
    let (old, new) = (LeaseOwner::named("old"), LeaseOwner::named("new"));
    store.register_runtime(&runtime("old")).await.unwrap();
    store
        .acquire_leases(&old, &[s[0].id], &[], LONG)
        .await
        .unwrap();
    let gone = std::slice::from_ref(&old);
    assert_eq!(
        store.retire_runtimes(gone).await.unwrap(),
        0,
        "a dead runtime still named on a lease stays listed"
    );
    assert!(
        store
            .acquire_leases(&new, &[s[0].id], &[], LONG)
            .await
            .unwrap()
            .is_empty()
    );
    let got = store
        .acquire_leases(&new, &[s[0].id], std::slice::from_ref(&old), LONG)
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![HeldLease {
            server_id: s[0].id,
            fence: 2
        }]
    );
    // Its servers all taken, it is retired: no longer listed.
    assert_eq!(store.retire_runtimes(gone).await.unwrap(), 1);
    assert!(
        store
            .runtimes()
            .await
            .unwrap()
            .iter()
            .all(|r| r.id != "old")
    );
}

both_databases!(a_stale_owners_writes_are_refused_and_change_nothing);
async fn a_stale_owners_writes_are_refused_and_change_nothing(db: TestDb) {
    let store = &db.store;
    let (s, mut binding) = one_binding(store).await;
    let server_id = s[0].id;
    let (a, b) = (LeaseOwner::named("a"), LeaseOwner::named("b"));
    store.register_runtime(&runtime("b")).await.unwrap();
    let held = store
        .acquire_leases(&a, &[server_id], &[], SHORT)
        .await
        .unwrap();
    let stale = store.fenced(Fence {
        server_id,
        owner: a.clone(),
        fence: held[0].fence,
    });
    // While a holds the lease, its writes land.
    stale
        .move_binding(&mut binding, BindingEvent::OtpRequestSent, no_patch())
        .await
        .unwrap();

    tokio::time::sleep(SHORT + Duration::from_millis(200)).await;
    let taken = store
        .acquire_leases(&b, &[server_id], &[], LONG)
        .await
        .unwrap();
    let current = store.fenced(Fence {
        server_id,
        owner: b.clone(),
        fence: taken[0].fence,
    });

    let mut late = binding.clone();
    let refused = stale
        .move_binding(&mut late, BindingEvent::OtpRequestAcknowledged, no_patch())
        .await;
    match refused {
        Err(e @ StoreError::Fenced { .. }) => {
            let text = e.to_string();
            assert!(text.contains("fence 1"), "{text}");
            assert!(text.contains("b holds it at fence 2"), "{text}");
        }
        other => panic!("expected the write refused, got {other:?}"),
    }
    // A single-statement write is fenced as well.
    assert!(matches!(
        stale.set_server_device_id(server_id, "stale-device").await,
        Err(StoreError::Fenced { .. })
    ));
    let row = binding_row(store, binding.id).await;
    assert_eq!(
        row.state,
        BindingState::OtpRequested.as_str(),
        "nothing applied"
    );
    assert_eq!(
        store.server(server_id).await.unwrap().unwrap().device_id,
        None
    );

    // The new owner resumes from the database and its writes land.
    current
        .move_binding(
            &mut binding,
            BindingEvent::OtpRequestAcknowledged,
            no_patch(),
        )
        .await
        .unwrap();
    assert_eq!(
        binding_row(store, binding.id).await.state,
        BindingState::OtpVerification.as_str()
    );
}

both_databases!(another_runtimes_servers_are_not_disabled_by_a_sync);
async fn another_runtimes_servers_are_not_disabled_by_a_sync(db: TestDb) {
    let store = &db.store;
    let s = servers(store, 3).await;
    let other = LeaseOwner::named("other-host");
    store
        .acquire_leases(&other, &[s[2].id], &[], LONG)
        .await
        .unwrap();
    // This runtime's configuration names only 9900: 9901 (nobody's) is disabled, 9902 (held by
    // the other runtime) is left as it is.
    let rows = store.sync_servers(&[seed(9900)]).await.unwrap();
    let enabled: Vec<(u16, bool)> = rows.iter().map(|r| (r.port, r.enabled)).collect();
    assert_eq!(enabled, vec![(9900, true), (9901, false), (9902, true)]);
}

both_databases!(a_stale_owners_purchase_intent_is_refused_and_the_new_owners_lands);
async fn a_stale_owners_purchase_intent_is_refused_and_the_new_owners_lands(db: TestDb) {
    let store = &db.store;
    let (s, mut binding) = one_binding(store).await;
    transacting(store, &mut binding, 50_000).await;
    let server_id = s[0].id;
    let (a, b) = (LeaseOwner::named("a"), LeaseOwner::named("b"));
    let held = store
        .acquire_leases(&a, &[server_id], &[], LONG)
        .await
        .unwrap();
    let stale = store.fenced(Fence {
        server_id,
        owner: a.clone(),
        fence: held[0].fence,
    });
    let first = Buy::new(1, 50_000).intent();
    stale
        .write_purchase_intent(binding.transacting().unwrap(), first.clone())
        .await
        .unwrap();
    // Written once: the same attempt again is the duplicate, fenced or not.
    assert!(matches!(
        stale
            .write_purchase_intent(binding.transacting().unwrap(), first)
            .await,
        Err(StoreError::DuplicateAttempt { .. })
    ));

    let taken = store
        .acquire_leases(&b, &[server_id], std::slice::from_ref(&a), LONG)
        .await
        .unwrap();
    let second = Buy::new(2, 40_000).intent();
    assert!(matches!(
        stale
            .write_purchase_intent(binding.transacting().unwrap(), second.clone())
            .await,
        Err(StoreError::Fenced { .. })
    ));
    assert_eq!(
        store.purchases_of_binding(binding.id).await.unwrap().len(),
        1
    );
    let current = store.fenced(Fence {
        server_id,
        owner: b,
        fence: taken[0].fence,
    });
    current
        .write_purchase_intent(binding.transacting().unwrap(), second)
        .await
        .unwrap();
    assert_eq!(
        store.purchases_of_binding(binding.id).await.unwrap().len(),
        2
    );
}

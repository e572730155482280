//! At start-up the leases a dead process left behind (another owner, older than the cutoff, no
//! open binding) go back to the pool; everything else stays as it is.

use chrono::{Duration, Utc};
use simrotor_domain::AccountState;
use simrotor_persistence::LeaseOwner;

use crate::helpers::*;

both_databases!(only_old_unbound_leases_of_other_owners_are_released);
/// Four leases, one of each kind; only the dead process's old, unbound one is reclaimed.
async fn only_old_unbound_leases_of_other_owners_are_released(db: TestDb) {
    let store = &db.store;
    let s = servers(store, 4).await;
    let dead = LeaseOwner::named("dead-process");
    let now = Utc::now();
    let cutoff = now - Duration::minutes(5);
    let old = now - Duration::minutes(30);

    // Number `server` is imported just before its lease: each lease has one candidate.
    let lease = |server: usize, owner: LeaseOwner| {
        let store = store.clone();
        let server_id = s[server].id;
        async move {
            import(&store, "b1", server as u32..server as u32 + 1).await;
            store
                .lease_next_account(server_id, &owner, None)
                .await
                .unwrap()
                .unwrap()
        }
    };
    // Old, another owner, no binding: the only one to reclaim.
    let stale = lease(0, dead.clone()).await;
    // Old, another owner, but its binding is open: recovery resumes it.
    let bound = store
        .open_binding(lease(1, dead.clone()).await)
        .await
        .unwrap();
    // Old, but ours.
    let mine = lease(2, me()).await;
    // Another owner's, but taken after the cutoff.
    let fresh = lease(3, dead.clone()).await;
    for id in [stale.account().id, bound.account.id, mine.account().id] {
        set_leased_at(store, id, old).await;
    }
    set_leased_at(store, fresh.account().id, now - Duration::minutes(1)).await;

    assert_eq!(
        store
            .release_stale_leases(&[me()], cutoff)
            .await
            .unwrap()
            .len(),
        1
    );
    let reclaimed = account_row(store, stale.account().id).await;
    assert_eq!(
        (reclaimed.status, reclaimed.leased_server_id),
        (AccountState::Available, None)
    );
    for (id, server) in [
        (bound.account.id, s[1].id),
        (mine.account().id, s[2].id),
        (fresh.account().id, s[3].id),
    ] {
        let row = account_row(store, id).await;
        assert_eq!(
            (row.status, row.leased_server_id),
            (AccountState::Leased, Some(server)),
            "{row:?}"
        );
    }
    assert_eq!(store.available_count(None).await.unwrap(), 1);
    assert_eq!(
        store
            .release_stale_leases(&[me()], cutoff)
            .await
            .unwrap()
            .len(),
        0,
        "a second run finds nothing"
    );
    assert_eq!(open_binding_id(store, s[1].id).await.unwrap(), bound.id);
}

//! The configured servers are synced into the table at every start: added `IDLE`, refreshed,
//! disabled when they leave the configuration, never deleted, and their state and device id
//! survive a sync.

use sea_orm::EntityTrait;
use simrotor_domain::{ServerEvent, ServerState};
use simrotor_persistence::entity::server;

use crate::helpers::*;

both_databases!(sync_adds_new_servers_idle);
/// New servers come in `IDLE`, enabled, in port order, without a device id.
async fn sync_adds_new_servers_idle(db: TestDb) {
    let rows = servers(&db.store, 3).await;
    let ports: Vec<u16> = rows.iter().map(|s| s.port).collect();
    assert_eq!(ports, [9900, 9901, 9902]);
    assert!(
        rows.iter()
            .all(|s| s.state == ServerState::Idle && s.enabled && s.device_id.is_none())
    );
    assert_eq!(rows[1].base_url, "http://127.0.0.1:9901");
    assert_eq!(db.store.servers().await.unwrap(), rows);
}

both_databases!(sync_refreshes_disables_and_keeps_state);
/// A second sync refreshes port, enabled flag and settings, keeps state and device id,
/// disables the servers no longer configured and re-enables one that comes back.
async fn sync_refreshes_disables_and_keeps_state(db: TestDb) {
    let store = &db.store;
    let rows = servers(store, 3).await;
    let mut busy = rows[1].clone();
    store
        .move_server(&mut busy, ServerEvent::Working, None)
        .await
        .unwrap();
    store
        .set_server_device_id(busy.id, "dev-9901")
        .await
        .unwrap();

    // 9900 switched off, 9901 reconfigured, 9902 gone from the configuration.
    let mut off = seed(9900);
    off.enabled = false;
    let mut moved = seed(9901);
    moved.port = 19901;
    moved.settings = serde_json::json!({ "timeout": "30s" });
    let rows = store.sync_servers(&[off, moved]).await.unwrap();
    assert_eq!(rows.len(), 3, "a server is never deleted");
    let by_url = |url: &str| rows.iter().find(|s| s.base_url == url).unwrap().clone();

    let s0 = by_url("http://127.0.0.1:9900");
    assert!(!s0.enabled);
    assert_eq!(s0.state, ServerState::Idle);

    let s1 = by_url("http://127.0.0.1:9901");
    assert_eq!((s1.id, s1.port, s1.enabled), (busy.id, 19901, true));
    assert_eq!(s1.state, ServerState::Busy, "the state survives a sync");
    assert_eq!(
        s1.device_id.as_deref(),
        Some("dev-9901"),
        "the device id survives a sync"
    );
    let stored = server::Entity::find_by_id(s1.id)
        .one(store.connection())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.settings,
        Some(serde_json::json!({ "timeout": "30s" }))
    );

    let s2 = by_url("http://127.0.0.1:9902");
    assert!(
        !s2.enabled,
        "a server removed from the configuration is disabled"
    );

    let rows = servers(store, 3).await;
    assert!(
        rows.iter().all(|s| s.enabled),
        "configured again, enabled again"
    );
    assert_eq!(rows.iter().find(|s| s.id == busy.id).unwrap().port, 9901);
}

both_databases!(sync_with_no_servers_disables_all);
/// A configuration without servers disables every server.
async fn sync_with_no_servers_disables_all(db: TestDb) {
    servers(&db.store, 2).await;
    let rows = db.store.sync_servers(&[]).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|s| !s.enabled), "{rows:?}");
}

both_databases!(a_stale_server_move_is_refused);
/// A state move is compare-and-set: a stale copy of the server row is refused.
async fn a_stale_server_move_is_refused(db: TestDb) {
    let rows = servers(&db.store, 1).await;
    let mut a = rows[0].clone();
    let mut b = rows[0].clone();
    db.store
        .move_server(&mut a, ServerEvent::Pause, Some("operator"))
        .await
        .unwrap();
    let stale = db
        .store
        .move_server(&mut b, ServerEvent::Working, None)
        .await;
    assert!(
        matches!(
            stale,
            Err(simrotor_persistence::StoreError::StaleServer { .. })
        ),
        "{stale:?}"
    );
    let now = db.store.servers().await.unwrap();
    assert_eq!(now[0].state, ServerState::Paused);
    assert_eq!(now[0].state_reason.as_deref(), Some("operator"));
}

both_databases!(a_restart_moves_live_states_to_idle_through_the_transition);
/// At start-up every live state an earlier run left goes back to `IDLE`, one move per server
/// returned for its audit line; a faulted server stays faulted and an idle one is not touched.
async fn a_restart_moves_live_states_to_idle_through_the_transition(db: TestDb) {
    let store = &db.store;
    let mut rows = servers(store, 4).await;
    for (row, events) in rows.iter_mut().zip([
        &[][..],
        &[ServerEvent::Working][..],
        &[ServerEvent::Pause][..],
        &[ServerEvent::Fault][..],
    ]) {
        for event in events {
            store.move_server(row, *event, None).await.unwrap();
        }
    }

    let mut moves = Vec::new();
    for row in store.servers().await.unwrap() {
        if let Some(m) = store.reset_server_state(row.id).await.unwrap() {
            moves.push((m.port, m.from, m.to));
        }
    }
    assert_eq!(
        moves,
        [
            (9901, ServerState::Busy, ServerState::Idle),
            (9902, ServerState::Paused, ServerState::Idle),
        ]
    );
    let states: Vec<_> = store
        .servers()
        .await
        .unwrap()
        .iter()
        .map(|s| s.state)
        .collect();
    assert_eq!(
        states,
        [
            ServerState::Idle,
            ServerState::Idle,
            ServerState::Idle,
            ServerState::Faulted
        ]
    );
    for row in store.servers().await.unwrap() {
        assert!(
            store.reset_server_state(row.id).await.unwrap().is_none(),
            "a second acquisition finds nothing to move"
        );
    }
}

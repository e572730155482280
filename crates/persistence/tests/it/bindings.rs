//! Bindings: opened only from a live lease, moved along the owner's path with what each step
//! learned stored beside the state, as compare-and-set, and never two open on one server.

use chrono::{Duration, Utc};
use simrotor_domain::{AccountState, BindingEvent, BindingState, FailReason, LogoutReason};
use simrotor_persistence::{AccountFilter, BindingPatch, LeaseOwner, Settle, StoreError};

use crate::helpers::*;

both_databases!(the_owner_path_stores_each_step);
/// Along the owner's path each step's state and what it learned are in the row; tokens are
/// stored but never printed; the server's open binding resumes in the state it reached.
async fn the_owner_path_stores_each_step(db: TestDb) {
    let store = &db.store;
    let s = servers(store, 1).await;
    import(store, "b1", 0..1).await;
    let mut b = bind(store, s[0].id, Some("b1")).await;
    assert_eq!(b.state(), BindingState::Bound);
    let row = binding_row(store, b.id).await;
    assert_eq!(
        (
            row.state.as_str(),
            row.msisdn.as_str(),
            row.batch_id.as_str()
        ),
        ("BOUND", "6281200000000", "b1")
    );
    assert_eq!((row.account_id, row.server_id), (b.account.id, s[0].id));
    assert!(row.ended_at.is_none() && row.end_reason.is_none());

    step(
        store,
        &mut b,
        BindingEvent::OtpRequestSent,
        BindingPatch {
            raw: Some(serde_json::json!({ "otp": { "status": "sent" } })),
            ..no_patch()
        },
    )
    .await;
    assert_eq!(binding_row(store, b.id).await.state, "OTP_REQUESTED");
    step(
        store,
        &mut b,
        BindingEvent::OtpRequestAcknowledged,
        no_patch(),
    )
    .await;
    assert_eq!(binding_row(store, b.id).await.state, "OTP_VERIFICATION");
    assert_eq!(
        store
            .open_binding_of_server(s[0].id)
            .await
            .unwrap()
            .unwrap()
            .state(),
        BindingState::OtpVerification
    );

    step(
        store,
        &mut b,
        BindingEvent::OtpAccepted,
        BindingPatch {
            token_login: Some(TOKEN_LOGIN.to_owned()),
            raw: Some(serde_json::json!({ "verifyOtp": { "ok": true } })),
            ..no_patch()
        },
    )
    .await;
    let row = binding_row(store, b.id).await;
    assert_eq!(
        (row.state.as_str(), row.token_login.as_deref()),
        ("OTP_VERIFIED", Some(TOKEN_LOGIN))
    );
    assert!(row.balance_start.is_none());

    step(
        store,
        &mut b,
        BindingEvent::LoginTokensFetched,
        BindingPatch {
            balance_start: Some(rp(52_500)),
            token_location: Some(TOKEN_LOCATION.to_owned()),
            ..no_patch()
        },
    )
    .await;
    let row = binding_row(store, b.id).await;
    assert_eq!(row.state, "TOKEN_LOGIN_FETCHED");
    assert_eq!(
        (row.balance_start, row.balance_last),
        (Some(52_500), Some(52_500))
    );
    assert_eq!(row.token_location.as_deref(), Some(TOKEN_LOCATION));
    assert_eq!(
        row.token_login.as_deref(),
        Some(TOKEN_LOGIN),
        "a later patch keeps earlier columns"
    );

    step(
        store,
        &mut b,
        BindingEvent::ResellerConfirmed,
        BindingPatch {
            device_id: Some("dev-1".to_owned()),
            ..no_patch()
        },
    )
    .await;
    store.mark_reseller(&b).await.unwrap();
    let row = binding_row(store, b.id).await;
    assert_eq!(
        (row.state.as_str(), row.device_id.as_deref()),
        ("TRANSACTING", Some("dev-1"))
    );
    assert_eq!(
        row.raw,
        Some(serde_json::json!({ "otp": { "status": "sent" }, "verifyOtp": { "ok": true } })),
        "raw answers are merged under their keys"
    );
    let printed = format!("{row:?}");
    assert!(
        !printed.contains(TOKEN_LOGIN) && !printed.contains(TOKEN_LOCATION),
        "{printed}"
    );
    assert_eq!(
        account_row(store, b.account.id).await.is_reseller,
        Some(true)
    );

    let resumed = store
        .open_binding_of_server(s[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (resumed.id, resumed.state()),
        (b.id, BindingState::Transacting)
    );
    assert_eq!(resumed.account.msisdn, msisdn(0));
}

both_databases!(a_reclaimed_lease_cannot_open_a_binding);
/// A lease reclaimed before the binding opened is never acted on: `LeaseLost`, no binding,
/// and the account back in the pool.
async fn a_reclaimed_lease_cannot_open_a_binding(db: TestDb) {
    let store = &db.store;
    let s = servers(store, 1).await;
    import(store, "b1", 0..1).await;
    let lease = store
        .lease_next_account(s[0].id, &LeaseOwner::named("dead-process"), None)
        .await
        .unwrap()
        .unwrap();
    let account_id = lease.account().id;
    assert_eq!(
        store
            .release_stale_leases(&[me()], Utc::now() + Duration::hours(1))
            .await
            .unwrap()
            .len(),
        1
    );

    let res = store.open_binding(lease).await;
    assert_lease_lost(res, account_id, s[0].id);
    assert!(open_binding_id(store, s[0].id).await.is_none());
    assert_eq!(
        account_row(store, account_id).await.status,
        AccountState::Available
    );
}

both_databases!(a_stale_binding_copy_cannot_overwrite);
/// Two holders of the same binding: the first move wins, the second gets `StaleBinding`
/// and writes nothing.
async fn a_stale_binding_copy_cannot_overwrite(db: TestDb) {
    let store = &db.store;
    let (_, mut b) = one_binding(store).await;
    await_otp(store, &mut b).await;
    let mut stale = b.clone();

    step(store, &mut b, BindingEvent::OtpAccepted, token_patch()).await;
    let res = store
        .move_binding(
            &mut stale,
            BindingEvent::OtpRejected,
            BindingPatch {
                token_login: Some("stale-token".to_owned()),
                raw: Some(serde_json::json!({ "stale": true })),
                ..no_patch()
            },
        )
        .await;
    match res {
        Err(StoreError::StaleBinding { id, expected }) => {
            assert_eq!((id, expected.as_str()), (b.id, "OTP_VERIFICATION"))
        }
        other => panic!("expected StaleBinding, got {other:?}"),
    }
    assert_eq!(
        stale.state(),
        BindingState::OtpVerification,
        "a refused move leaves the copy as it was"
    );
    let row = binding_row(store, b.id).await;
    assert_eq!(
        (row.state.as_str(), row.token_login.as_deref()),
        ("OTP_VERIFIED", Some(TOKEN_LOGIN))
    );
    assert!(row.raw.is_none());

    // A stale copy cannot end the binding either, nor settle its account.
    let res = store
        .close_binding(
            stale,
            BindingEvent::Failed(FailReason::OtpTimeout),
            Settle::Released,
            no_patch(),
        )
        .await;
    assert!(
        matches!(res, Err(StoreError::StaleBinding { .. })),
        "{res:?}"
    );
    assert_eq!(
        account_row(store, b.account.id).await.status,
        AccountState::Leased
    );
    assert!(binding_row(store, b.id).await.ended_at.is_none());
}

both_databases!(a_stale_copy_after_a_state_round_trip);
/// The CAS compares the state name only. A copy read in `OTP_REQUESTED` before the binding
/// went round the OTP loop (acknowledged, OTP rejected, back to `OTP_REQUESTED`) is stale,
/// yet its move is accepted.
async fn a_stale_copy_after_a_state_round_trip(db: TestDb) {
    let store = &db.store;
    let (_, mut b) = one_binding(store).await;
    step(store, &mut b, BindingEvent::OtpRequestSent, no_patch()).await;
    let mut stale = b.clone();
    step(
        store,
        &mut b,
        BindingEvent::OtpRequestAcknowledged,
        no_patch(),
    )
    .await;
    step(
        store,
        &mut b,
        BindingEvent::OtpRejected,
        BindingPatch {
            raw: Some(serde_json::json!({ "verifyOtp": "rejected" })),
            ..no_patch()
        },
    )
    .await;
    assert_eq!(b.state(), BindingState::OtpRequested);

    let res = store
        .move_binding(&mut stale, BindingEvent::OtpRequestAcknowledged, no_patch())
        .await;
    // `stale` was read before two moves it never saw and names the same state (ABA): the
    // version in the compare-and-set refuses it, and the row keeps the newer write.
    assert!(
        matches!(res, Err(StoreError::StaleBinding { .. })),
        "{res:?}"
    );
    assert_eq!(binding_row(store, b.id).await.state, "OTP_REQUESTED");
}

both_databases!(illegal_moves_are_refused);
/// A move the binding's state machine does not allow is refused and changes nothing; a
/// terminal event must go through `close_binding`, a live one cannot close.
async fn illegal_moves_are_refused(db: TestDb) {
    let store = &db.store;
    let (_, mut b) = one_binding(store).await;

    let res = store
        .move_binding(&mut b, BindingEvent::OtpAccepted, token_patch())
        .await;
    match res {
        Err(StoreError::Illegal(e)) => {
            assert_eq!((e.machine, e.state.as_str()), ("binding", "BOUND"))
        }
        other => panic!("expected Illegal, got {other:?}"),
    }
    // Terminal events: only `close_binding` may end a binding.
    for event in [
        BindingEvent::Failed(FailReason::OtpTimeout),
        BindingEvent::LoggedOut(LogoutReason::Released),
    ] {
        let res = store.move_binding(&mut b, event, no_patch()).await;
        assert!(matches!(res, Err(StoreError::Illegal(_))), "{res:?}");
    }
    let row = binding_row(store, b.id).await;
    assert_eq!((row.state.as_str(), row.token_login), ("BOUND", None));
    assert_eq!(b.state(), BindingState::Bound);

    let res = store
        .close_binding(
            b.clone(),
            BindingEvent::OtpRequestSent,
            Settle::Released,
            no_patch(),
        )
        .await;
    assert!(
        matches!(res, Err(StoreError::NotTerminal { .. })),
        "{res:?}"
    );
    assert!(binding_row(store, b.id).await.ended_at.is_none());
}

both_databases!(one_server_holds_one_open_binding);
/// The database refuses a second open binding on one server; the first stays the server's.
async fn one_server_holds_one_open_binding(db: TestDb) {
    let store = &db.store;
    let s = servers(store, 2).await;
    // One number in the pool at a time, so each lease has exactly one candidate.
    import(store, "b1", 0..1).await;
    let first = bind(store, s[0].id, None).await;
    import(store, "b1", 1..2).await;
    let lease = store
        .lease_next_account(s[0].id, &me(), None)
        .await
        .unwrap()
        .unwrap();
    let res = store.open_binding(lease).await;
    match &res {
        Err(StoreError::Db(e)) => {
            let m = e.to_string();
            assert!(
                m.contains("server_id") || m.contains("ux_bindings_open_server"),
                "{m}"
            );
        }
        other => panic!("expected a unique violation, got {other:?}"),
    }
    // The refused open consumed the lease, so the store hands the number back to the pool
    // at once instead of leaving it LEASED until a restart.
    let accounts = store.accounts(&AccountFilter::default()).await.unwrap();
    let back = accounts
        .iter()
        .find(|a| a.msisdn == msisdn(1).as_str())
        .unwrap();
    assert_eq!(
        (back.status, back.leased_server_id, back.attempts),
        (AccountState::Available, None, 0)
    );
    assert_eq!(open_binding_id(store, s[0].id).await.unwrap(), first.id);

    // Another server takes a binding of its own; once the first ends, the server is free.
    import(store, "b1", 2..3).await;
    let other = bind(store, s[1].id, None).await;
    assert_eq!(open_binding_id(store, s[1].id).await.unwrap(), other.id);
    close(
        store,
        first,
        BindingEvent::Failed(FailReason::OtpTimeout),
        Settle::Released,
    )
    .await;
    assert!(open_binding_id(store, s[0].id).await.is_none());
}

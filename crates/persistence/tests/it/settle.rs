//! Closing a binding settles its account in the same transaction: the operator sees the number
//! DONE, NON_RESELLER, BLOCKED, back in the pool (with one more attempt, FAILED at the limit)
//! or back as it was, and the binding ended with its reason. Never one without the other.

use simrotor_domain::{
    AccountState, BindingEvent, BindingState, FailReason, LogoutReason, StateMachine,
};
use simrotor_persistence::{AccountRow, Binding, Settle, Store};

use crate::helpers::*;

/// Closes `b` and returns its account's row; checks the binding ended as `want` and the
/// account no longer names a server.
async fn close_and_check(
    store: &Store,
    b: Binding,
    event: BindingEvent,
    settle: Settle,
    want: BindingState,
) -> AccountRow {
    let (id, server_id, account_id) = (b.id, b.server_id, b.account.id);
    let ended = store
        .close_binding(b, event, settle, no_patch())
        .await
        .unwrap();
    assert_eq!(ended, want);
    let row = binding_row(store, id).await;
    assert_eq!(
        (row.state.as_str(), row.end_reason.as_deref()),
        (want.as_str(), want.end_reason())
    );
    assert!(row.ended_at.is_some(), "an ended binding has its end time");
    assert!(open_binding_id(store, server_id).await.is_none());
    let account = account_row(store, account_id).await;
    assert_eq!(account.leased_server_id, None);
    assert_eq!(account.last_error.as_deref(), want.end_reason());
    account
}

/// [`close_and_check`] by a logout for `reason`.
async fn log_out(store: &Store, b: Binding, reason: LogoutReason, settle: Settle) -> AccountRow {
    let state = BindingState::LoggedOut(reason);
    close_and_check(store, b, BindingEvent::LoggedOut(reason), settle, state).await
}

/// [`close_and_check`] by a failure for `reason`.
async fn fail(store: &Store, b: Binding, reason: FailReason, settle: Settle) -> AccountRow {
    close_and_check(
        store,
        b,
        BindingEvent::Failed(reason),
        settle,
        BindingState::Failed(reason),
    )
    .await
}

both_databases!(exhausted_is_done);
/// Pulsa used up: the number is DONE and never leased again.
async fn exhausted_is_done(db: TestDb) {
    let store = &db.store;
    let (s, mut b) = one_binding(store).await;
    transacting(store, &mut b, 900).await;
    let reason = LogoutReason::Exhausted;
    let account = log_out(store, b, reason, Settle::Exhausted).await;
    assert_eq!((account.status, account.attempts), (AccountState::Done, 0));
    assert!(leases_nothing(store, s[0].id, None).await);
}

both_databases!(not_reseller_is_marked);
/// Not a reseller: NON_RESELLER with the reseller flag false.
async fn not_reseller_is_marked(db: TestDb) {
    let store = &db.store;
    let (_, mut b) = one_binding(store).await;
    login(store, &mut b, 10_000).await;
    let reason = LogoutReason::NotReseller;
    let account = log_out(store, b, reason, Settle::NotReseller).await;
    assert_eq!(
        (account.status, account.is_reseller),
        (AccountState::NonReseller, Some(false))
    );
}

both_databases!(blocked_is_blocked);
/// Blocked by the telco: BLOCKED, never retried.
async fn blocked_is_blocked(db: TestDb) {
    let store = &db.store;
    let (_, mut b) = one_binding(store).await;
    await_otp(store, &mut b).await;
    let reason = FailReason::Blocked;
    let account = fail(store, b, reason, Settle::Blocked).await;
    assert_eq!(account.status, AccountState::Blocked);
    assert_eq!(store.available_count(None).await.unwrap(), 0);
}

both_databases!(login_failures_count_until_failed);
/// A failed login puts the number back with one more attempt, until `max_attempts`: FAILED.
/// A release in between (not the number's fault) leaves the attempts alone.
async fn login_failures_count_until_failed(db: TestDb) {
    let store = &db.store;
    let s = servers(store, 1).await;
    import(store, "b1", 0..1).await;
    let refused = FailReason::LoginRefused;
    let failed = Settle::LoginFailed { max_attempts: 2 };

    let b = bind(store, s[0].id, None).await;
    let account = fail(store, b, refused, failed).await;
    assert_eq!(
        (account.status, account.attempts),
        (AccountState::Available, 1)
    );

    let mut b = bind(store, s[0].id, None).await;
    assert_eq!(b.account.attempts, 1);
    login(store, &mut b, 5_000).await;
    let released = LogoutReason::Released;
    let account = log_out(store, b, released, Settle::Released).await;
    assert_eq!(
        (account.status, account.attempts),
        (AccountState::Available, 1),
        "a release is not an attempt"
    );

    let mut b = bind(store, s[0].id, None).await;
    await_otp(store, &mut b).await;
    let timeout = FailReason::OtpTimeout;
    let account = fail(store, b, timeout, failed).await;
    assert_eq!(
        (account.status, account.attempts),
        (AccountState::Failed, 2)
    );
    assert!(leases_nothing(store, s[0].id, None).await);
}

both_databases!(released_goes_back_unchanged);
/// A server fault releases the number as it was: AVAILABLE, attempts unchanged.
async fn released_goes_back_unchanged(db: TestDb) {
    let store = &db.store;
    let (_, b) = one_binding(store).await;
    let reason = FailReason::ServerFaulted;
    let account = fail(store, b, reason, Settle::Released).await;
    assert_eq!(
        (account.status, account.attempts),
        (AccountState::Available, 0)
    );
    assert_eq!(store.available_count(None).await.unwrap(), 1);
}

both_databases!(a_close_that_cannot_settle_changes_nothing);
/// If the account is no longer this server's (another process took it over), the close is
/// refused with `LeaseLost` and nothing is half done: the binding stays open as it was and
/// the account stays as the other process left it.
async fn a_close_that_cannot_settle_changes_nothing(db: TestDb) {
    let store = &db.store;
    let s = servers(store, 2).await;
    import(store, "b1", 0..1).await;
    let mut b = bind(store, s[0].id, None).await;
    transacting(store, &mut b, 20_000).await;
    reassign_lease(store, b.account.id, s[1].id).await;

    let (id, account_id) = (b.id, b.account.id);
    let res = store
        .close_binding(
            b,
            BindingEvent::LoggedOut(LogoutReason::Exhausted),
            Settle::Exhausted,
            no_patch(),
        )
        .await;
    assert_lease_lost(res, account_id, s[0].id);
    let row = binding_row(store, id).await;
    assert_eq!(
        (row.state.as_str(), row.end_reason, row.ended_at),
        ("TRANSACTING", None, None)
    );
    let account = account_row(store, account_id).await;
    assert_eq!(
        (account.status, account.leased_server_id),
        (AccountState::Leased, Some(s[1].id))
    );
    assert_eq!(account.last_error, None);
    assert_eq!(open_binding_id(store, s[0].id).await.unwrap(), id);
}

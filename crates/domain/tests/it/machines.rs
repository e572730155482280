//! Random event sequences never leave a terminal state, and a state is only ever reached along
//! the path that gives it meaning (no `TRANSACTING` without a verified OTP, no `SUKSES` without
//! a voucher, …). Refused events leave the state untouched, as the runtime relies on.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

use proptest::prelude::*;
use simrotor_domain::{
    AccountEvent, AccountState, BindingEvent, BindingState, ServerEvent, ServerState, StateMachine,
    TrxEvent, TrxStatus,
};

use crate::helpers::{account_event, binding_event, server_event, trx_event};

/// Walks `events` from `start`, checking after every step that a terminal state refuses
/// everything, and hands each accepted (before, event, after) to `check`.
fn walk<M: StateMachine>(start: M, events: &[M::Event], mut check: impl FnMut(&M, &M::Event, &M)) {
    let mut state = start;
    for event in events {
        match state.apply(event) {
            Ok(next) => {
                assert!(!state.is_terminal(), "left terminal {state:?} by {event:?}");
                check(&state, event, &next);
                state = next;
            }
            Err(err) => assert_eq!(err.state, state.as_str()),
        }
    }
}

/// Every state the machine can reach from `start` with `events`.
fn reachable<M: StateMachine + Eq + Hash>(start: M, events: &[M::Event]) -> HashSet<M> {
    let mut seen = HashSet::from([start.clone()]);
    let mut queue = VecDeque::from([start]);
    while let Some(state) = queue.pop_front() {
        for event in events {
            if let Ok(next) = state.apply(event)
                && seen.insert(next.clone())
            {
                queue.push_back(next);
            }
        }
    }
    seen
}

#[test]
fn every_binding_state_is_reachable_from_bound() {
    let all: HashSet<_> = BindingState::all().into_iter().collect();
    assert_eq!(reachable(BindingState::INITIAL, &BindingEvent::all()), all);
}

#[test]
fn every_server_state_is_reachable_from_idle() {
    let all: HashSet<_> = ServerState::ALL.iter().copied().collect();
    assert_eq!(reachable(ServerState::Idle, ServerEvent::ALL), all);
}

#[test]
fn every_transaction_status_is_reachable_from_processing() {
    let all: HashSet<_> = TrxStatus::ALL.iter().copied().collect();
    assert_eq!(reachable(TrxStatus::Processing, TrxEvent::ALL), all);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_binding_transacts_only_after_a_full_login(events in prop::collection::vec(binding_event(), 0..60)) {
        // Login progress since the last time the binding was (re)bound.
        let mut verified = false;
        let mut tokens = false;
        walk(BindingState::INITIAL, &events, |before, event, after| {
            if *after == BindingState::Bound || *after == BindingState::OtpRequested {
                verified = false;
                tokens = false;
            }
            if *event == BindingEvent::OtpAccepted {
                assert_eq!(*before, BindingState::OtpVerification);
                verified = true;
            }
            if *event == BindingEvent::LoginTokensFetched {
                assert!(verified);
                tokens = true;
            }
            if *after == BindingState::Transacting {
                assert!(verified && tokens, "{before:?} -> TRANSACTING without login");
            }
            if let BindingState::LoggedOut(_) = after {
                assert!(verified, "logged out of a session that never logged in");
            }
        });
    }

    #[test]
    fn an_account_ends_only_after_a_lease(events in prop::collection::vec(account_event(), 0..40)) {
        walk(AccountState::Available, &events, |before, event, after| {
            if after.is_terminal() || *after == AccountState::Available {
                assert_eq!(*before, AccountState::Leased, "{event:?}");
            }
            if *after == AccountState::Failed {
                let AccountEvent::LoginFailed { attempts, max_attempts } = event else {
                    panic!("failed by {event:?}");
                };
                assert!(attempts >= max_attempts);
            }
        });
    }

    #[test]
    fn a_server_faults_only_by_a_fault_and_drains_only_when_asked(
        events in prop::collection::vec(server_event(), 0..80)
    ) {
        walk(ServerState::Idle, &events, |before, event, after| {
            if *after == ServerState::Faulted {
                assert_eq!(*event, ServerEvent::Fault);
            }
            if *after == ServerState::Draining && *before != ServerState::Draining {
                assert_eq!(*event, ServerEvent::Drain);
            }
            if *before == ServerState::Faulted {
                assert_eq!(*event, ServerEvent::Reset);
            }
        });
    }

    #[test]
    fn a_transaction_succeeds_only_with_a_voucher(events in prop::collection::vec(trx_event(), 0..20)) {
        walk(TrxStatus::Processing, &events, |before, event, after| {
            if *after == TrxStatus::Success {
                assert_eq!(*event, TrxEvent::VoucherReceived);
            }
            if *after == TrxStatus::Failed {
                assert_eq!(*before, TrxStatus::Processing, "a suspect purchase is never written off");
            }
        });
    }
}

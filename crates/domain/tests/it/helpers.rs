//! Strategies shared by the property tests.

use proptest::prelude::*;
use simrotor_domain::{AccountEvent, BindingEvent, ServerEvent, TrxEvent};

pub fn binding_event() -> impl Strategy<Value = BindingEvent> {
    proptest::sample::select(BindingEvent::all())
}

pub fn account_event() -> impl Strategy<Value = AccountEvent> {
    prop_oneof![
        Just(AccountEvent::Leased),
        Just(AccountEvent::Exhausted),
        Just(AccountEvent::NotReseller),
        Just(AccountEvent::Blocked),
        Just(AccountEvent::Released),
        (0u32..6, 1u32..5).prop_map(|(attempts, max_attempts)| AccountEvent::LoginFailed {
            attempts,
            max_attempts
        }),
    ]
}

pub fn server_event() -> impl Strategy<Value = ServerEvent> {
    proptest::sample::select(ServerEvent::ALL)
}

pub fn trx_event() -> impl Strategy<Value = TrxEvent> {
    proptest::sample::select(TrxEvent::ALL)
}

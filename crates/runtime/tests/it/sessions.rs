//! One session per server, against a simulator whose servers refuse a second number's login
//! while the first one's session is open (`one_session`, as the real servers may): a number
//! whose logout could not be read is logged out before the next number logs in, and a login
//! refused because the server is in use logs the holder out and tries once more.

use simrotor_domain::{AccountState, Msisdn, Rupiah};
use simrotor_persistence::{AnswerFilter, AnswerKind};
use simrotor_slot::{Call, ProtocolProblem, RawBody, SlotError};
use simrotor_test_support::ScriptedSlot;

use crate::scenario_helpers::{
    Setup, World, accounts, assert_all_settled, free_port, ledger_problems, numbers_where,
    sim_config,
};

/// An unreadable logout answer, with a token in it that must be kept masked.
fn lost_logout() -> SlotError {
    SlotError::protocol(Call::Logout, ProtocolProblem::Truncated).with_raw(Some(RawBody::new(
        r#"{"res":{"status":"0","token":"eyJhbGciOiJIUzUxMiJ9.e30.leak"#,
    )))
}

/// Runs two numbers, `a` then `b`, on one server whose client loses `a`'s first
/// `lost_logouts` logouts; the calls as the double saw them.
async fn two_numbers_one_server(lost_logouts: u32) -> (Vec<String>, Msisdn, Msisdn) {
    let sim = sim_config(15_000);
    assert!(
        sim.one_session,
        "the simulator refuses a second login by default"
    );
    let numbers = numbers_where(&sim, 7_000, 2, |p| p.reseller && !p.blocked);
    let (a, b) = (numbers[0].clone(), numbers[1].clone());
    let port = free_port();
    let holder = a.clone();
    let double = ScriptedSlot::over_port(
        port,
        Box::new(move |call, m, nth| {
            (call == Call::Logout && *m == holder && nth <= lost_logouts).then(lost_logout)
        }),
    );
    let calls = double.calls();
    let mut world = World::start(Setup::one_scripted(sim, numbers.clone(), port, double)).await;
    world.finished().await;
    let row = world.server_row(port).await;
    assert_eq!(row.session_msisdn, None, "the last number was logged out");

    let (store, ledger, sim, _dir) = world.stop().await;
    for account in accounts(&store).await {
        assert_eq!(account.status, AccountState::Done, "{account:?}");
    }
    for m in [&a, &b] {
        assert_eq!(sim.pulsa(m), Rupiah::new(0), "{m} bought its pulsa up");
    }
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    assert_all_settled(&store).await;

    // The unreadable logouts are kept with their binding, the token in them masked.
    let kept = store
        .unusable_answers(&AnswerFilter::default())
        .await
        .unwrap();
    let logouts: Vec<_> = kept.iter().filter(|k| k.call == "logout").collect();
    assert_eq!(logouts.len(), lost_logouts as usize, "{kept:?}");
    for k in logouts {
        assert_eq!((k.kind, k.port), (AnswerKind::Unusable, Some(port)));
        assert!(k.binding_id.is_some());
        let body = k.body.as_deref().unwrap();
        assert!(!body.contains("eyJ") && !body.contains("leak"), "{body}");
        assert!(body.contains("****"), "{body}");
    }
    sim.stop().await;
    let calls = calls.of(&[Call::RequestOtp, Call::Logout]);
    (calls, a, b)
}

/// The first number's logout is lost: the server is marked as maybe holding it, and the next
/// number's binding logs it out before its own `/otp` — the server never refuses.
#[actix_rt::test]
async fn a_number_whose_logout_was_lost_is_logged_out_before_the_next_logs_in() {
    let (calls, a, b) = two_numbers_one_server(1).await;
    let (a, b) = (a.local(), b.local());
    assert_eq!(
        calls,
        [
            format!("otp {a} ok"),
            format!("logout {a} unusable"),
            format!("logout {a} ok"),
            format!("otp {b} ok"),
            format!("logout {b} ok"),
        ]
    );
}

/// The first number's logout is lost twice (its own, and the one before the next login): the
/// server refuses the next number's login as in use, the holder is logged out, and the login
/// is asked once more.
#[actix_rt::test]
async fn a_login_refused_as_server_in_use_logs_the_holder_out_and_tries_again() {
    let (calls, a, b) = two_numbers_one_server(2).await;
    let (a, b) = (a.local(), b.local());
    assert_eq!(
        calls,
        [
            format!("otp {a} ok"),
            format!("logout {a} unusable"),
            format!("logout {a} unusable"),
            format!("otp {b} refused: server in use by another number"),
            format!("logout {a} ok"),
            format!("otp {b} ok"),
            format!("logout {b} ok"),
        ]
    );
}

//! A session that expires in the middle of a binding is logged in again on the same binding,
//! within the same drive: the drive does not end on a binding that is still open.

use simrotor_domain::{AccountState, Rupiah};
use simrotor_slot::{Call, SlotError};
use simrotor_test_support::ScriptedSlot;

use crate::scenario_helpers::{
    Setup, World, account, assert_all_settled, bindings_of, free_port, ledger_problems, log_lines,
    numbers_where, sim_config,
};

/// The product list (the login's one `/list_idv`, the reseller check) is refused as an expired
/// session: the binding goes back to `BOUND` and logs in again at once, not after the server's
/// loop ended the drive and resumed the binding from the database as if it had closed; the new
/// login's list serves its purchases too.
#[actix_rt::test]
async fn a_session_that_expires_while_listing_products_logs_in_again_in_the_same_drive() {
    let sim = sim_config(15_000);
    let m = numbers_where(&sim, 13_100, 1, |p| p.reseller && !p.blocked).remove(0);
    let port = free_port();
    let double = ScriptedSlot::over_port(
        port,
        Box::new(|call, _, nth| {
            (call == Call::ListProducts && nth == 1)
                .then(|| SlotError::refused(Call::ListProducts, "0", "token expired"))
        }),
    );
    let calls = double.calls();
    let mut world = World::start(Setup::one_scripted(sim, vec![m.clone()], port, double)).await;
    world.finished().await;
    let (store, ledger, sim, _dir) = world.stop().await;

    assert_eq!(account(&store, &m).await.status, AccountState::Done);
    assert_eq!(sim.pulsa(&m), Rupiah::new(0), "{m} bought its pulsa up");
    assert_eq!(
        bindings_of(&store, &m).await.len(),
        1,
        "one binding, logged in twice"
    );
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    assert_all_settled(&store).await;
    let l = m.local();
    assert_eq!(
        calls.of(&[Call::RequestOtp, Call::ListProducts]),
        [
            format!("otp {l} ok"),
            format!("list_idv {l} refused: session expired"),
            format!("otp {l} ok"),
            format!("list_idv {l} ok"),
        ]
    );
    assert_eq!(
        log_lines("The session expired", &m),
        0,
        "it came in the product list, not in a purchase"
    );
    assert_eq!(
        log_lines("Resuming the open binding.", &m),
        0,
        "the drive went on"
    );
    sim.stop().await;
}

//! The protocol's minimum: per number one `/otp`, `/verifyOtp`, `balance_pulsa`,
//! `token_location3`, `list_idv` and `/logout`; per purchase `trx_idv`, the status polls the
//! server needs and one `balance_pulsa` (the balance after a purchase is the one before the
//! next).

use simrotor_domain::AccountState;
use simrotor_test_support::ScriptedSlot;

use crate::scenario_helpers::{
    Setup, World, account, assert_all_settled, free_port, ledger_problems, numbers_where,
    sim_config,
};

#[actix_rt::test]
async fn a_number_costs_the_protocols_minimum_calls_and_no_more() {
    // 15,000: 647 (10,000) then 646 (5,000); the simulator answers "processing" once.
    let sim = sim_config(15_000);
    let m = numbers_where(&sim, 8_400, 1, |p| p.reseller && !p.blocked).remove(0);
    let port = free_port();
    let double = ScriptedSlot::over_port(port, Box::new(|_, _, _| None));
    let calls = double.calls();
    let mut world = World::start(Setup::one_scripted(sim, vec![m.clone()], port, double)).await;
    world.finished().await;
    let (store, ledger, sim, _dir) = world.stop().await;

    let l = m.local();
    let login = [
        "otp",
        "verifyOtp",
        "balance_pulsa",
        "token_location3",
        "list_idv",
    ];
    let purchase = ["trx_idv", "status_idv", "status_idv", "balance_pulsa"];
    let expected: Vec<String> = login
        .iter()
        .chain(&purchase)
        .chain(&purchase)
        .chain(&["logout"])
        .map(|c| format!("{c} {l} ok"))
        .collect();
    assert_eq!(calls.all(), expected);
    assert_eq!(account(&store, &m).await.status, AccountState::Done);
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    assert_all_settled(&store).await;
    sim.stop().await;
}

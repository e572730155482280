//! The runtime end to end: the real Supervisor, ServerActors, AccountPool, Driver and OtpHub
//! against the simulator of the operator's servers, each scenario on its own database and
//! ports, judged by what the operator would see in the database and by the simulator's ledger.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use simrotor_domain::{AccountState, Msisdn, Rupiah, ServerState, TrxStatus};
use simrotor_runtime::mode::Mode;
use simrotor_runtime::supervisor::SetServerMode;
use simrotor_simulator::{SimulatorConfig, SimulatorFaults};
use simrotor_slot::{ProtocolProblem, SlotError, SlotErrorKind};
use simrotor_test_support::ScriptedSlot;

use crate::scenario_helpers::{
    Setup, World, account, accounts, all_purchases, assert_all_settled, binding_rows, bindings_of,
    free_ports, ledger_problems, left_after_default_products, log_lines, numbers_where,
    port_of_server_id, purchases_on, server_row, sim_config, wait_for,
};

/// 1. A reseller number is bound, logs in with the OTP its SMS brought, buys until its pulsa is
///    below the cheapest wanted product, logs out; the next number takes its place.
#[actix_rt::test]
async fn resellers_buy_until_exhausted_log_out_and_rotate() {
    let sim = SimulatorConfig {
        pulsa_min: Rupiah::new(12_000),
        pulsa_max: Rupiah::new(40_000),
        ..sim_config(0)
    };
    let numbers = numbers_where(&sim, 1_000, 3, |p| p.reseller && !p.blocked);
    let mut world = World::start(Setup::new(sim, 2, numbers.clone())).await;
    world.finished().await;
    let (store, ledger, sim, _dir) = world.stop().await;

    let mut total_start = 0;
    let mut total_left = 0;
    for m in &numbers {
        let start = sim.profile(m).starting_pulsa.get();
        let left = left_after_default_products(start);
        total_start += start;
        total_left += left;

        let a = account(&store, m).await;
        assert_eq!(a.status, AccountState::Done, "{a:?}");
        assert_eq!(a.is_reseller, Some(true));
        assert_eq!((a.attempts, a.leased_server_id), (0, None));

        let bindings = bindings_of(&store, m).await;
        assert_eq!(bindings.len(), 1, "{bindings:?}");
        let b = &bindings[0];
        assert_eq!(b.state, "LOGGED_OUT");
        assert_eq!(b.end_reason.as_deref(), Some("EXHAUSTED"));
        assert!(b.ended_at.is_some());
        assert!(b.token_login.is_some() && b.token_location.is_some());
        let port = port_of_server_id(&store, b.server_id).await;
        assert_eq!(b.device_id, sim.device_id(port));
        assert_eq!(b.balance_start, Some(start as i64));
        assert_eq!(b.balance_last, Some(left as i64));
        assert_eq!(sim.pulsa(m).get(), left);

        let purchases = store.purchases_of_binding(b.id).await.unwrap();
        let executed: Vec<_> = ledger.iter().filter(|e| &e.msisdn == m).collect();
        assert!(!purchases.is_empty());
        assert_eq!(purchases.len(), executed.len());
        for (p, e) in purchases.iter().zip(&executed) {
            assert_eq!(p.status, TrxStatus::Success, "{p:?}");
            assert_eq!(p.trx_id.as_deref(), Some(e.trx_id.as_str()));
            assert_eq!((p.price, p.pulsa_awal), (e.price, e.pulsa_before));
            assert_eq!(p.pulsa_akhir, Some(e.pulsa_after));
            assert_eq!(p.voucher, e.voucher);
            assert!(p.voucher.is_some());
        }
        let spent: u64 = purchases.iter().map(|p| p.price.get()).sum();
        assert_eq!(start - spent, left);
        // One login, one SMS: the forwarder brought the code, nobody typed it.
        assert_eq!(sim.sms(Some(m)).len(), 1);
    }
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    let recap = store.recap(None).await.unwrap().total;
    assert_eq!((recap.numbers.total, recap.numbers.done), (3, 3));
    assert_eq!(recap.transactions.success, ledger.len() as u64);
    assert_eq!(recap.transactions.total, ledger.len() as u64);
    assert_eq!(recap.pulsa.start.get(), total_start);
    assert_eq!(recap.pulsa.left.get(), total_left);
    assert_eq!(recap.pulsa.spent.get(), total_start - total_left);
    assert_all_settled(&store).await;
    sim.stop().await;
}

/// 2. A number that is not a reseller is marked so, logged out, and the server takes the next.
#[actix_rt::test]
async fn a_non_reseller_is_logged_out_and_the_server_takes_the_next_number() {
    let sim = SimulatorConfig {
        reseller_rate: 0.5,
        ..sim_config(15_000)
    };
    let mut numbers = numbers_where(&sim, 2_000, 1, |p| !p.reseller);
    numbers.extend(numbers_where(&sim, 2_000, 1, |p| p.reseller));
    let (not_reseller, reseller) = (&numbers[0], &numbers[1]);
    let mut world = World::start(Setup::new(sim, 1, numbers.clone())).await;
    world.finished().await;
    let (store, ledger, sim, _dir) = world.stop().await;

    let a = account(&store, not_reseller).await;
    assert_eq!(a.status, AccountState::NonReseller, "{a:?}");
    assert_eq!(a.is_reseller, Some(false));
    let bindings = bindings_of(&store, not_reseller).await;
    assert_eq!(bindings.len(), 1, "{bindings:?}");
    assert_eq!(bindings[0].state, "LOGGED_OUT");
    assert_eq!(bindings[0].end_reason.as_deref(), Some("NOT_RESELLER"));
    // It logged in (the product list is asked after login), so its balance is known.
    assert_eq!(bindings[0].balance_start, Some(15_000));
    assert!(
        store
            .purchases_of_binding(bindings[0].id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(ledger.iter().all(|e| &e.msisdn != not_reseller));
    assert_eq!(sim.pulsa(not_reseller), Rupiah::new(15_000));

    // The same server went on with the next number.
    assert_eq!(account(&store, reseller).await.status, AccountState::Done);
    assert_eq!(ledger.len(), 2); // 10,000 then 5,000
    let recap = store.recap(None).await.unwrap().total;
    assert_eq!((recap.numbers.non_reseller, recap.numbers.done), (1, 1));
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    assert_all_settled(&store).await;
    sim.stop().await;
}

/// 3. A blocked number fails its binding as BLOCKED and is never leased again.
#[actix_rt::test]
async fn a_blocked_number_fails_and_is_never_leased_again() {
    let sim = SimulatorConfig {
        blocked_rate: 0.5,
        ..sim_config(10_000)
    };
    let mut numbers = numbers_where(&sim, 3_000, 1, |p| p.blocked);
    numbers.extend(numbers_where(&sim, 3_000, 2, |p| !p.blocked));
    let blocked = numbers[0].clone();
    // Two servers, so that a blocked number handed back by mistake would have somewhere to go.
    let mut world = World::start(Setup::new(sim, 2, numbers.clone())).await;
    world.finished().await;
    let (store, ledger, sim, _dir) = world.stop().await;

    let a = account(&store, &blocked).await;
    assert_eq!(a.status, AccountState::Blocked, "{a:?}");
    assert_eq!(a.last_error.as_deref(), Some("BLOCKED"));
    let bindings = bindings_of(&store, &blocked).await;
    assert_eq!(bindings.len(), 1, "leased again: {bindings:?}");
    assert_eq!(bindings[0].state, "FAILED");
    assert_eq!(bindings[0].end_reason.as_deref(), Some("BLOCKED"));
    assert_eq!(bindings[0].balance_start, None);
    // The telco refused the login: no SMS was ever sent.
    assert!(sim.sms(Some(&blocked)).is_empty());
    for m in &numbers[1..] {
        assert_eq!(account(&store, m).await.status, AccountState::Done);
    }
    let recap = store.recap(None).await.unwrap().total;
    assert_eq!((recap.numbers.blocked, recap.numbers.done), (1, 2));
    assert_eq!(ledger.len(), 2);
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    assert_all_settled(&store).await;
    sim.stop().await;
}

/// Waits until `m`'s open binding waits for its login OTP (the `/otp` call was acknowledged, so
/// its SMS has been sent), and `sms` SMS have been sent to it; returns the server's port.
async fn waiting_for_login_otp(world: &World, m: &Msisdn, sms: usize) -> u16 {
    let store = world.store.clone();
    let server_id = wait_for("the binding to wait for its OTP", || {
        let store = store.clone();
        let sim_sms = world.sim.sms(Some(m)).len();
        async move {
            let b = bindings_of(&store, m).await.pop()?;
            (b.ended_at.is_none() && b.state == "OTP_VERIFICATION" && sim_sms >= sms)
                .then_some(b.server_id)
        }
    })
    .await;
    port_of_server_id(&store, server_id).await
}

/// One server and one number (found from `base`, with `pulsa`) whose login OTP no forwarder
/// brings: someone must type it.
fn without_forwarder(pulsa: u64, base: u32) -> (Setup, Msisdn) {
    let sim = sim_config(pulsa);
    let numbers = numbers_where(&sim, base, 1, |_| true);
    let m = numbers[0].clone();
    let setup = Setup {
        forward_sms: false,
        ..Setup::new(sim, 1, numbers)
    };
    (setup, m)
}

/// 4. A wrong code sends the binding back to OTP_REQUESTED, which asks for a fresh OTP; the
///    right code then logs it in and it finishes.
#[actix_rt::test]
async fn a_wrong_otp_asks_for_a_fresh_one_and_the_right_one_logs_in() {
    let (setup, m) = without_forwarder(10_000, 4_000);
    let m = &m;
    let mut world = World::start(setup).await;

    let port = waiting_for_login_otp(&world, m, 1).await;
    let first = world.sim.latest_otp(m).unwrap();
    let wrong = if first == "000000" {
        "000001"
    } else {
        "000000"
    };
    let delivered = world.running.otp.deliver_for_server(port, wrong).unwrap();
    assert_eq!(&delivered.msisdn, m);

    // The refusal was persisted (back to OTP_REQUESTED) and a fresh OTP was asked for: a
    // second SMS, and the binding waits again.
    let port_again = waiting_for_login_otp(&world, m, 2).await;
    assert_eq!(port_again, port);
    assert_eq!(
        log_lines("The OTP was refused; requesting a fresh one.", m),
        1
    );
    let right = world.sim.latest_otp(m).unwrap();
    let (status, body) = world
        .post_admin("/otp", &json!({"server": port, "code": right}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "delivered");

    world.finished().await;
    let (store, ledger, sim, _dir) = world.stop().await;
    let a = account(&store, m).await;
    assert_eq!(a.status, AccountState::Done, "{a:?}");
    assert_eq!(a.attempts, 0, "a wrong code is not a failed login");
    let bindings = bindings_of(&store, m).await;
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].end_reason.as_deref(), Some("EXHAUSTED"));
    assert_eq!(sim.sms(Some(m)).len(), 2);
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    assert_all_settled(&store).await;
    sim.stop().await;
}

/// 5. With the forwarder off, the operator sees which server waits and types the code in.
#[actix_rt::test]
async fn the_operator_sees_the_waiting_server_and_types_the_code() {
    let (setup, m) = without_forwarder(20_000, 5_000);
    let m = &m;
    let mut world = World::start(setup).await;

    let port = waiting_for_login_otp(&world, m, 1).await;
    // What the operator sees meanwhile: the server WAITING_OTP, the recap's count, the list.
    let row = wait_for("the server to show WAITING_OTP", || async {
        let row = world.server_row(port).await;
        (row.state == ServerState::WaitingOtp).then_some(row)
    })
    .await;
    assert_eq!(row.port, port);
    let recap = world.store.recap(None).await.unwrap().total;
    assert_eq!((recap.numbers.waiting_otp, recap.numbers.in_use), (1, 1));
    let waiting = world.get_admin("/otp/waiting").await;
    assert_eq!(waiting[0]["server"], port, "{waiting}");
    assert_eq!(waiting[0]["msisdn"], m.as_str());
    assert_eq!(waiting[0]["purpose"], "login");

    let code = world.sim.latest_otp(m).unwrap();
    let (status, body) = world
        .post_admin("/otp", &json!({"server": port, "code": code}))
        .await;
    assert_eq!(status, 200, "{body}");
    world.finished().await;
    let (store, ledger, sim, _dir) = world.stop().await;
    assert_eq!(account(&store, m).await.status, AccountState::Done);
    assert_eq!(sim.sms(Some(m)).len(), 1);
    assert_eq!(ledger.len(), 2);
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    assert_eq!(
        store.recap(None).await.unwrap().total.numbers.waiting_otp,
        0
    );
    assert_all_settled(&store).await;
    sim.stop().await;
}

/// [`without_forwarder`] where nobody types the code either: a 1 s OTP timeout and
/// `max_attempts` logins.
async fn otp_never_comes(base: u32, max_attempts: u32) -> (World, Msisdn) {
    let (mut setup, m) = without_forwarder(10_000, base);
    setup.config.otp.timeout = Duration::from_secs(1);
    setup.config.login.max_attempts = max_attempts;
    (World::start(setup).await, m)
}

/// 6a. No OTP comes: the binding times out, and with one attempt allowed the number is FAILED.
#[actix_rt::test]
async fn an_otp_that_never_comes_times_out_and_fails_the_number() {
    let (mut world, m) = otp_never_comes(6_000, 1).await;
    let m = &m;
    world.finished().await;
    assert!(world.running.otp.waiting().is_empty());
    let (store, ledger, sim, _dir) = world.stop().await;

    let a = account(&store, m).await;
    assert_eq!(a.status, AccountState::Failed, "{a:?}");
    assert_eq!(
        (a.attempts, a.last_error.as_deref()),
        (1, Some("OTP_TIMEOUT"))
    );
    let bindings = bindings_of(&store, m).await;
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].state, "FAILED");
    assert_eq!(bindings[0].end_reason.as_deref(), Some("OTP_TIMEOUT"));
    assert!(ledger.is_empty());
    assert!(all_purchases(&store).await.is_empty());
    assert_eq!(store.recap(None).await.unwrap().total.numbers.failed, 1);
    assert_all_settled(&store).await;
    sim.stop().await;
}

/// 6b. With two attempts allowed, a timed-out number goes back to the pool once (one attempt
///     counted), is leased again, and fails for good on its second timeout.
#[actix_rt::test]
async fn a_timed_out_number_goes_back_to_the_pool_until_its_attempts_are_spent() {
    let (mut world, m) = otp_never_comes(6_500, 2).await;
    let m = &m;

    let store = world.store.clone();
    let between = wait_for("the first binding to time out", || {
        let store = store.clone();
        async move {
            let bindings = bindings_of(&store, m).await;
            let first_ended = bindings.first()?.ended_at.is_some();
            let a = account(&store, m).await;
            // Back in the pool (or already leased again for the second try), one attempt down.
            (first_ended && a.status != AccountState::Failed).then_some((bindings, a))
        }
    })
    .await;
    let (bindings, a) = between;
    assert_eq!(bindings[0].end_reason.as_deref(), Some("OTP_TIMEOUT"));
    assert_eq!(a.attempts, 1);
    assert!(
        matches!(a.status, AccountState::Available | AccountState::Leased),
        "{a:?}"
    );

    world.finished().await;
    let (store, ledger, sim, _dir) = world.stop().await;
    let a = account(&store, m).await;
    assert_eq!((a.status, a.attempts), (AccountState::Failed, 2), "{a:?}");
    let bindings = bindings_of(&store, m).await;
    assert_eq!(bindings.len(), 2, "{bindings:?}");
    assert!(
        bindings
            .iter()
            .all(|b| b.state == "FAILED" && b.end_reason.as_deref() == Some("OTP_TIMEOUT"))
    );
    assert_eq!(sim.sms(Some(m)).len(), 2);
    assert!(ledger.is_empty());
    assert_all_settled(&store).await;
    sim.stop().await;
}

/// 7. The first purchase of a number on a device new to it waits for the transaction OTP, which
///    the forwarder brings; later purchases need none.
#[actix_rt::test]
async fn the_first_purchase_on_a_new_device_waits_for_the_transaction_otp() {
    let sim = SimulatorConfig {
        transaction_otp: true,
        ..sim_config(27_000)
    };
    let numbers = numbers_where(&sim, 7_000, 1, |_| true);
    let m = &numbers[0];
    let mut setup = Setup::new(sim, 1, numbers.clone());
    setup.config.otp.transaction_otp = true;
    let mut world = World::start(setup).await;
    world.finished().await;
    let port = world.ports[0];
    let (store, ledger, sim, _dir) = world.stop().await;

    assert_eq!(account(&store, m).await.status, AccountState::Done);
    let bindings = bindings_of(&store, m).await;
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].end_reason.as_deref(), Some("EXHAUSTED"));
    assert_eq!(bindings[0].device_id, sim.device_id(port));
    assert_eq!(
        server_row(&store, port).await.device_id,
        sim.device_id(port)
    );
    // 10,000 + 10,000 + 5,000, every one executed and SUKSES.
    assert_eq!(ledger.len(), 3);
    assert_eq!(sim.pulsa(m), Rupiah::new(2_000));
    let purchases = store.purchases_of_binding(bindings[0].id).await.unwrap();
    assert!(purchases.iter().all(|p| p.status == TrxStatus::Success));
    assert_eq!(purchases.len(), 3);
    // The login SMS and one transaction OTP SMS, for the first purchase only.
    assert_eq!(sim.sms(Some(m)).len(), 2);
    assert_eq!(
        log_lines("Waiting for the transaction OTP of a new device.", m),
        1
    );
    assert_eq!(log_lines("No transaction OTP came", m), 0);
    assert_eq!(log_lines("The transaction OTP was refused", m), 0);
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    assert_all_settled(&store).await;
    sim.stop().await;
}

/// 8. The login token expires mid-run: the binding logs in again on the same row, keeps the
///    `balance_start` of its first login, and still ends DONE with the ledger reconciled.
#[actix_rt::test]
async fn an_expired_token_logs_in_again_on_the_same_binding() {
    // Eight purchases of five 20 ms calls and a 20 ms poll each (at least 960 ms) outlast a
    // 600 ms token for sure; the end of a login plus one purchase fits in it five times over.
    let sim = SimulatorConfig {
        token_ttl: Duration::from_millis(600),
        faults: SimulatorFaults {
            latency: Duration::from_millis(20),
            ..SimulatorFaults::default()
        },
        ..sim_config(80_000)
    };
    let numbers = numbers_where(&sim, 8_000, 1, |_| true);
    let m = &numbers[0];
    let mut world = World::start(Setup::new(sim, 1, numbers.clone())).await;
    world.finished().await;
    let (store, ledger, sim, _dir) = world.stop().await;

    let logins = sim.sms(Some(m)).len();
    assert!(logins > 1, "the token never expired ({logins} logins)");
    let a = account(&store, m).await;
    assert_eq!((a.status, a.attempts), (AccountState::Done, 0), "{a:?}");
    let bindings = bindings_of(&store, m).await;
    assert_eq!(bindings.len(), 1, "a re-login keeps its binding row");
    let b = &bindings[0];
    assert_eq!(b.end_reason.as_deref(), Some("EXHAUSTED"));
    assert_eq!(b.balance_start, Some(80_000));
    assert_eq!(b.balance_last, Some(0));
    assert_eq!(ledger.len(), 8);
    assert_eq!(sim.pulsa(m), Rupiah::ZERO);
    let purchases = store.purchases_of_binding(b.id).await.unwrap();
    assert_eq!(
        purchases
            .iter()
            .filter(|p| p.status == TrxStatus::Success)
            .count(),
        8,
        "{purchases:?}"
    );
    // A purchase refused for the expired session is GAGAL and executed nothing.
    assert!(
        purchases
            .iter()
            .all(|p| matches!(p.status, TrxStatus::Success | TrxStatus::Failed))
    );
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    let recap = store.recap(None).await.unwrap().total;
    assert_eq!(
        (
            recap.pulsa.start.get(),
            recap.pulsa.spent.get(),
            recap.pulsa.left.get()
        ),
        (80_000, 80_000, 0)
    );
    assert_all_settled(&store).await;
    sim.stop().await;
}

/// 9. A server that stops answering is OFFLINE while its binding waits; it comes back, resumes
///    where it was, and nothing is lost.
#[actix_rt::test]
async fn a_server_down_for_a_while_goes_offline_and_resumes_its_number() {
    let ports = free_ports(2);
    let down = ports[0];
    let sim = SimulatorConfig {
        faults: SimulatorFaults {
            down_ports: vec![down],
            down_after: Duration::ZERO,
            down_for: Duration::from_secs(3),
            ..SimulatorFaults::default()
        },
        ..sim_config(27_000)
    };
    let numbers = numbers_where(&sim, 9_000, 3, |_| true);
    let setup = Setup {
        ports: Some(ports.clone()),
        ..Setup::new(sim, 2, numbers.clone())
    };
    let mut world = World::start(setup).await;

    let store = world.store.clone();
    let held = wait_for("the down server to be OFFLINE with its binding", || {
        let store = store.clone();
        async move {
            let row = server_row(&store, down).await;
            if row.state != ServerState::Offline {
                return None;
            }
            binding_rows(&store)
                .await
                .into_iter()
                .find(|b| b.server_id == row.id && b.ended_at.is_none())
        }
    })
    .await;
    world.finished().await;
    let (store, ledger, sim, _dir) = world.stop().await;

    // The number it held while down finished on it, in one binding.
    let bindings = binding_rows(&store).await;
    let same: Vec<_> = bindings
        .iter()
        .filter(|b| b.msisdn == held.msisdn)
        .collect();
    assert_eq!(same.len(), 1, "{same:?}");
    assert_eq!(same[0].id, held.id);
    assert_eq!(same[0].end_reason.as_deref(), Some("EXHAUSTED"));
    for a in accounts(&store).await {
        assert_eq!(a.status, AccountState::Done, "{a:?}");
    }
    assert_eq!(ledger.len(), 9);
    assert!(ledger.iter().any(|e| e.port == down));
    for m in &numbers {
        assert_eq!(sim.pulsa(m), Rupiah::new(2_000));
    }
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    assert_all_settled(&store).await;
    sim.stop().await;
}

/// A server whose every call panics.
fn broken() -> ScriptedSlot {
    ScriptedSlot::alone(Box::new(|_, _, _| panic!("{BROKEN}")))
}

const BROKEN: &str = "the test double's server is broken";

/// 10. A server that always fails is restarted until the limit, then FAULTED with its reason;
///     the others finish the pool and the run ends.
#[actix_rt::test]
async fn a_server_that_always_fails_is_faulted_while_the_others_finish() {
    let sim = sim_config(15_000);
    let numbers = numbers_where(&sim, 10_000, 4, |_| true);
    let mut setup = Setup {
        double: Some((0, Arc::new(broken()))),
        ..Setup::new(sim, 2, numbers.clone())
    };
    setup.config.restart.max_restarts = 2;
    setup.config.restart.window = Duration::from_secs(60);
    setup.config.restart.backoff_min = Duration::from_millis(10);
    setup.config.restart.backoff_max = Duration::from_millis(50);
    let mut world = World::start(setup).await;
    let (broken, good) = (world.ports[0], world.ports[1]);
    world.finished().await;
    let (store, ledger, sim, _dir) = world.stop().await;

    let row = server_row(&store, broken).await;
    assert_eq!(row.state, ServerState::Faulted, "{row:?}");
    let reason = row.state_reason.unwrap();
    assert!(reason.contains("restarted 3 times"), "{reason}");
    assert!(reason.contains(BROKEN), "{reason}");
    assert_eq!(server_row(&store, good).await.state, ServerState::Idle);

    // The number the faulted server held goes back to the pool (its binding FAILED with
    // SERVER_FAULTED, no attempt counted) and the good server finishes it: nothing is parked.
    let bindings = binding_rows(&store).await;
    assert!(
        bindings.iter().all(|b| b.ended_at.is_some()),
        "{bindings:?}"
    );
    let faulted: Vec<_> = bindings.iter().filter(|b| b.server_id == row.id).collect();
    assert_eq!(faulted.len(), 1, "{faulted:?}");
    assert_eq!(faulted[0].state, "FAILED");
    assert_eq!(faulted[0].end_reason.as_deref(), Some("SERVER_FAULTED"));
    for a in accounts(&store).await {
        assert_eq!(a.status, AccountState::Done, "{a:?}");
        assert_eq!(a.attempts, 0, "{a:?}");
    }
    assert!(ledger.iter().all(|e| e.port == good));
    assert_eq!(ledger.len(), 4 * 2);
    let recap = store.recap(None).await.unwrap().total;
    assert_eq!((recap.numbers.done, recap.numbers.in_use), (4, 0));
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    sim.stop().await;
}

/// A server whose every call answers an HTML error page (a proxy in front of a dead server).
fn garbage() -> ScriptedSlot {
    ScriptedSlot::alone(Box::new(|call, _, _| {
        Some(SlotError::new(
            call,
            SlotErrorKind::Protocol {
                what: ProtocolProblem::Html,
            },
        ))
    }))
}

/// 10b. A server that answers only garbage never reaches the Supervisor (the driver handles
///      every slot error itself): each binding fails PROTOCOL and hands its number back, and
///      the numbers all end DONE on the good server.
#[actix_rt::test]
async fn a_server_answering_garbage_hands_every_number_back_to_the_pool() {
    let sim = sim_config(15_000);
    let numbers = numbers_where(&sim, 10_500, 3, |_| true);
    let setup = Setup {
        double: Some((0, Arc::new(garbage()))),
        ..Setup::new(sim, 2, numbers.clone())
    };
    let mut world = World::start(setup).await;
    let (garbage, good) = (world.ports[0], world.ports[1]);
    world.finished().await;
    let (store, ledger, sim, _dir) = world.stop().await;

    let row = server_row(&store, garbage).await;
    assert_eq!(row.state, ServerState::Idle, "{row:?}");
    let on_garbage: Vec<_> = binding_rows(&store)
        .await
        .into_iter()
        .filter(|b| b.server_id == row.id)
        .collect();
    // Each unusable answer is asked again after a backoff, each binding that ends on them hands
    // its number back without an attempt counted, and three such bindings in a row report the
    // server to the supervisor (backoff, restart limit). How many bindings it went through is
    // timing, so only that it tried is asserted.
    assert!(!on_garbage.is_empty());
    assert!(
        on_garbage
            .iter()
            .all(|b| b.state == "FAILED" && b.end_reason.as_deref() == Some("PROTOCOL")),
        "{on_garbage:?}"
    );
    for a in accounts(&store).await {
        assert_eq!((a.status, a.attempts), (AccountState::Done, 0), "{a:?}");
    }
    assert_eq!(ledger.len(), 3 * 2);
    assert!(ledger.iter().all(|e| e.port == good));
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    assert_all_settled(&store).await;
    sim.stop().await;
}

/// The simulator and configuration of the pause and drain scenarios: long numbers of many
/// small purchases, each call a little slow, so a server is surely mid-number when told.
fn slow_buyers(pulsa: u64, product: &str) -> (SimulatorConfig, simrotor_config::Config) {
    let sim = SimulatorConfig {
        faults: SimulatorFaults {
            latency: Duration::from_millis(15),
            ..SimulatorFaults::default()
        },
        ..sim_config(pulsa)
    };
    let mut config = crate::scenario_helpers::runtime_config();
    config.products.wanted = vec![product.to_owned()];
    (sim, config)
}

/// The server that has made the first SUKSES purchase: (port, server id, binding id).
async fn first_buyer(world: &World) -> (u16, i64, i64) {
    let store = world.store.clone();
    let (server_id, binding_id) = wait_for("a first purchase", || {
        let store = store.clone();
        async move {
            store
                .purchases_with_status(TrxStatus::Success)
                .await
                .unwrap()
                .first()
                .map(|p| (p.server_id, p.binding_id))
        }
    })
    .await;
    (
        port_of_server_id(&store, server_id).await,
        server_id,
        binding_id,
    )
}

/// 11a. Pause holds a server at its next step boundary while the others go on; resume lets it
///      finish its number.
#[actix_rt::test]
async fn a_paused_server_buys_nothing_until_resumed_while_the_others_go_on() {
    let (sim, config) = slow_buyers(60_000, "646");
    let numbers = numbers_where(&sim, 11_000, 4, |_| true);
    let setup = Setup {
        config,
        ..Setup::new(sim, 2, numbers.clone())
    };
    let mut world = World::start(setup).await;
    let (port, server_id, binding_id) = first_buyer(&world).await;
    let other_id = world
        .store
        .servers()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.id != server_id)
        .unwrap()
        .id;
    let told = world
        .running
        .supervisor
        .send(SetServerMode {
            port,
            mode: Mode::Pause,
        })
        .await
        .unwrap();
    assert!(told);

    // The purchase in flight finishes; then nothing moves on this server.
    let store = world.store.clone();
    let held = wait_for("the paused server to settle", || {
        let store = store.clone();
        async move {
            let before = purchases_on(&store, server_id).await;
            if before.iter().any(|p| p.status == TrxStatus::Processing) {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            let after = purchases_on(&store, server_id).await;
            (after.len() == before.len()).then_some(after.len())
        }
    })
    .await;
    let others_before = purchases_on(&world.store, other_id).await.len();
    let paused_at = tokio::time::Instant::now();
    wait_for("a second of pause while the other server buys", || {
        let store = store.clone();
        async move {
            let others = purchases_on(&store, other_id).await.len();
            (paused_at.elapsed() >= Duration::from_secs(1) && others >= others_before + 2)
                .then_some(())
        }
    })
    .await;
    let now = purchases_on(&world.store, server_id).await;
    assert_eq!(now.len(), held, "a paused server bought: {now:?}");
    assert!(now.iter().all(|p| p.status == TrxStatus::Success));
    let b = world.store.binding_row(binding_id).await.unwrap().unwrap();
    assert!(b.ended_at.is_none(), "the paused number kept its binding");
    assert_eq!(b.state, "TRANSACTING");
    // The pause is recorded where every view reads it.
    assert_eq!(world.server_row(port).await.state, ServerState::Paused);

    let told = world
        .running
        .supervisor
        .send(SetServerMode {
            port,
            mode: Mode::Run,
        })
        .await
        .unwrap();
    assert!(told);
    world.finished().await;
    let (store, ledger, sim, _dir) = world.stop().await;
    let b = store.binding_row(binding_id).await.unwrap().unwrap();
    assert_eq!(b.end_reason.as_deref(), Some("EXHAUSTED"));
    assert_eq!(
        store.purchases_of_binding(binding_id).await.unwrap().len(),
        12
    );
    for a in accounts(&store).await {
        assert_eq!(a.status, AccountState::Done, "{a:?}");
    }
    assert_eq!(ledger.len(), 4 * 12);
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    assert_all_settled(&store).await;
    sim.stop().await;
}

/// 11b. Drain: the server finishes the number it holds, then takes no new one and ends PAUSED,
///      while the other server works through the rest of the pool.
#[actix_rt::test]
async fn a_drained_server_finishes_its_number_then_stays_paused() {
    let (sim, config) = slow_buyers(60_000, "647");
    let numbers = numbers_where(&sim, 11_500, 4, |_| true);
    let setup = Setup {
        config,
        ..Setup::new(sim, 2, numbers.clone())
    };
    let mut world = World::start(setup).await;
    let (port, server_id, binding_id) = first_buyer(&world).await;
    let told = world
        .running
        .supervisor
        .send(SetServerMode {
            port,
            mode: Mode::Drain,
        })
        .await
        .unwrap();
    assert!(told);

    let store = world.store.clone();
    wait_for("the drained server to end PAUSED", || {
        let store = store.clone();
        async move { (server_row(&store, port).await.state == ServerState::Paused).then_some(()) }
    })
    .await;
    world.finished().await;
    let (store, ledger, sim, _dir) = world.stop().await;

    let on_drained: Vec<_> = binding_rows(&store)
        .await
        .into_iter()
        .filter(|b| b.server_id == server_id)
        .collect();
    assert_eq!(on_drained.len(), 1, "took a new number: {on_drained:?}");
    assert_eq!(on_drained[0].id, binding_id);
    assert_eq!(on_drained[0].end_reason.as_deref(), Some("EXHAUSTED"));
    assert_eq!(server_row(&store, port).await.state, ServerState::Paused);
    for a in accounts(&store).await {
        assert_eq!(a.status, AccountState::Done, "{a:?}");
    }
    assert_eq!(ledger.len(), 4 * 6);
    assert_eq!(ledger.iter().filter(|e| e.port == port).count(), 6);
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    sim.stop().await;
}

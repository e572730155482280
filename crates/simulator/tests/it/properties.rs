//! Per-number properties follow from the seed, not from the order numbers are seen in.

use simrotor_simulator::{AnswerShapes, SimulatorConfig};

use crate::helpers::{Sim, number};

/// What a caller learns about a number: blocked, reseller, balance.
async fn observe(sim: &Sim, n: u32) -> (bool, bool, String) {
    let m = number(n);
    let otp = sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
    if otp.message().contains("diblokir") {
        return (true, false, String::new());
    }
    let code = sim.handle.latest_otp(&m).unwrap();
    sim.call(0, "/verifyOtp", &m, &[("otp", &code)]).await;
    let reseller = sim.call(0, "/list_idv", &m, &[]).await.res()["status"] == "0";
    let balance = sim.balance(0, &m).await;
    // Free the server for the next number.
    sim.call(0, "/logout", &m, &[]).await;
    (false, reseller, balance)
}

#[tokio::test]
async fn the_same_seed_gives_the_same_numbers_in_any_order() {
    let config = SimulatorConfig {
        reseller_rate: 0.5,
        blocked_rate: 0.2,
        shapes: AnswerShapes::Legacy,
        ..SimulatorConfig::default()
    };
    let first = Sim::start(config.clone(), 1).await;
    let second = Sim::start(config.clone(), 1).await;
    let mut forward = Vec::new();
    for n in 0..30 {
        forward.push(observe(&first, n).await);
    }
    let mut backward = Vec::new();
    for n in (0..30).rev() {
        backward.push(observe(&second, n).await);
    }
    backward.reverse();
    assert_eq!(forward, backward);
    // The runs are not trivially alike: some of each kind.
    assert!(forward.iter().any(|o| o.0) && forward.iter().any(|o| !o.0));
    assert!(forward.iter().any(|o| o.1) && forward.iter().any(|o| !o.0 && !o.1));
    for (n, (blocked, reseller, balance)) in forward.iter().enumerate() {
        let profile = first.handle.profile(&number(n as u32));
        assert_eq!(profile.blocked, *blocked);
        if !blocked {
            assert_eq!(profile.reseller, *reseller);
            assert_eq!(profile.starting_pulsa.get().to_string(), *balance);
        }
    }

    let other = Sim::start(SimulatorConfig { seed: 99, ..config }, 1).await;
    let mut differ = 0;
    for n in 0..30 {
        if observe(&other, n).await != forward[n as usize] {
            differ += 1;
        }
    }
    assert!(
        differ > 10,
        "another seed changed only {differ} of 30 numbers"
    );
    for sim in [first, second, other] {
        sim.stop().await;
    }
}

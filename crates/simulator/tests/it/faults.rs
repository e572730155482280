//! Each fault knob at rate 1 produces its fault, and only where it should.

use std::time::{Duration, Instant};

use simrotor_simulator::{Simulator, SimulatorConfig, SimulatorError, SimulatorFaults};
use simrotor_test_support::Patience;

use crate::helpers::{Sim, config, free_port, number};

fn with_faults(faults: SimulatorFaults) -> SimulatorConfig {
    SimulatorConfig { faults, ..config() }
}

#[tokio::test]
async fn at_error_rate_one_every_call_is_an_html_5xx_and_runs_nothing() {
    let sim = Sim::start(
        with_faults(SimulatorFaults {
            error_rate: 1.0,
            ..SimulatorFaults::default()
        }),
        1,
    )
    .await;
    let m = number(60);
    for _ in 0..5 {
        let page = sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
        assert!((500..600).contains(&page.status), "{page:?}");
        assert!(page.content_type.starts_with("text/html"), "{page:?}");
        assert!(page.body.contains("<html>"), "{page:?}");
    }
    assert!(sim.handle.sms(None).is_empty(), "no OTP was sent");
    // The /_sim pages are never faulted.
    assert_eq!(sim.get(0, "/_sim/ledger", &[]).await.status, 200);
    sim.stop().await;
}

#[tokio::test]
async fn at_malformed_rate_one_json_answers_are_cut_but_the_call_runs() {
    let sim = Sim::start(
        with_faults(SimulatorFaults {
            malformed_rate: 1.0,
            ..SimulatorFaults::default()
        }),
        1,
    )
    .await;
    let m = number(61);
    let cut = sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
    assert_eq!(cut.status, 200);
    assert!(cut.content_type.starts_with("application/json"));
    assert!(
        serde_json::from_str::<serde_json::Value>(&cut.body).is_err(),
        "{cut:?}"
    );
    assert!(cut.body.starts_with("{\"re"), "{cut:?}");
    assert_eq!(sim.handle.sms(Some(&m)).len(), 1, "the OTP went out");
    sim.stop().await;
}

#[tokio::test]
async fn at_slow_body_rate_one_the_headers_come_and_the_body_stalls() {
    let sim = Sim::start(
        with_faults(SimulatorFaults {
            slow_body_rate: 1.0,
            slow_body_delay: Duration::from_secs(3600),
            ..SimulatorFaults::default()
        }),
        1,
    )
    .await;
    let resp = sim
        .client
        .get(sim.url_with(
            0,
            "/otp",
            &[("username", number(62).local().as_str()), ("pin", "1234")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the headers arrived");
    let body = tokio::time::timeout(Duration::from_millis(300), resp.text()).await;
    assert!(body.is_err(), "the body came before its hour: {body:?}");
    sim.stop().await;
}

#[tokio::test]
async fn a_slow_body_arrives_whole_after_its_delay() {
    let sim = Sim::start(
        with_faults(SimulatorFaults {
            slow_body_rate: 1.0,
            slow_body_delay: Duration::from_millis(100),
            ..SimulatorFaults::default()
        }),
        1,
    )
    .await;
    let started = Instant::now();
    let m = number(63);
    let ack = sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(ack.res()["status"], "0");
    sim.stop().await;
}

#[tokio::test]
async fn latency_and_jitter_delay_every_answer() {
    let sim = Sim::start(
        with_faults(SimulatorFaults {
            latency: Duration::from_millis(150),
            jitter: Duration::from_millis(50),
            ..SimulatorFaults::default()
        }),
        1,
    )
    .await;
    let m = number(64);
    for _ in 0..3 {
        let started = Instant::now();
        let ack = sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert_eq!(ack.res()["status"], "0");
    }
    sim.stop().await;
}

#[tokio::test]
async fn at_lost_answer_rate_one_a_purchase_is_debited_and_its_answer_never_comes() {
    let sim = Sim::start(
        with_faults(SimulatorFaults {
            lost_answer_rate: 1.0,
            ..SimulatorFaults::default()
        }),
        1,
    )
    .await;
    let m = number(65);
    // Only a purchase that executes loses its answer: login and refusals answer.
    sim.login(0, &m).await;
    let refused = sim.buy(0, &m, "VCR25", "10500").await;
    assert!(
        refused.message().contains("melebihi limit_harga"),
        "{refused:?}"
    );

    let lost = sim
        .try_get(
            0,
            "/trx_idv",
            &[
                ("username", &m.local()),
                ("product_id", "VCR10"),
                ("email", "buyer@example.id"),
                ("limit_harga", "10500"),
            ],
        )
        .await;
    let err = lost.expect_err("no answer expected");
    assert!(
        err.is_request() && !err.is_timeout(),
        "closed before any answer, not stalled: {err:?}"
    );

    assert_eq!(
        sim.balance(0, &m).await,
        "17000",
        "the purchase was executed"
    );
    let ledger = sim.handle.ledger();
    assert_eq!(ledger.len(), 1, "executed exactly once: {ledger:?}");
    assert!(ledger[0].answer_lost);
    assert_eq!(
        ledger[0].pulsa_before.get() - ledger[0].pulsa_after.get(),
        10_000
    );
    sim.stop().await;
}

/// How long a port's down window may take to begin or end, and how often to look.
fn port_patience() -> Patience {
    Patience::new(Duration::from_secs(30), Duration::from_millis(50))
}

async fn refused(sim: &Sim, server: usize) -> bool {
    match sim.try_get(server, "/_sim/ledger", &[]).await {
        Ok(_) => false,
        Err(err) => {
            assert!(err.is_connect(), "{err:?}");
            true
        }
    }
}

#[tokio::test]
async fn a_port_in_its_down_window_refuses_connections_and_the_others_serve() {
    let down = free_port();
    let sim = Sim::on(
        with_faults(SimulatorFaults {
            down_ports: vec![down],
            down_after: Duration::ZERO,
            down_for: Duration::from_secs(3600),
            ..SimulatorFaults::default()
        }),
        &[down, 0],
    )
    .await;
    assert!(refused(&sim, 0).await);
    let m = number(66);
    sim.login(1, &m).await;
    assert_eq!(sim.balance(1, &m).await, "27000");
    sim.stop().await;
}

#[tokio::test]
async fn a_port_comes_back_after_its_down_window() {
    let down = free_port();
    let sim = Sim::on(
        with_faults(SimulatorFaults {
            down_ports: vec![down],
            down_after: Duration::ZERO,
            down_for: Duration::from_millis(200),
            ..SimulatorFaults::default()
        }),
        &[down],
    )
    .await;
    port_patience()
        .wait_for("the port to come back", || async {
            (!refused(&sim, 0).await).then_some(())
        })
        .await;
    let m = number(67);
    sim.login(0, &m).await;
    sim.stop().await;
}

#[tokio::test]
async fn a_port_goes_down_when_its_window_begins() {
    let down = free_port();
    let sim = Sim::on(
        with_faults(SimulatorFaults {
            down_ports: vec![down],
            down_after: Duration::from_millis(300),
            down_for: Duration::from_secs(3600),
            ..SimulatorFaults::default()
        }),
        &[down],
    )
    .await;
    port_patience()
        .wait_for("the port to go down", || async {
            refused(&sim, 0).await.then_some(())
        })
        .await;
    sim.stop().await;
}

#[tokio::test]
async fn a_down_port_that_is_not_served_is_refused_at_start() {
    let config = with_faults(SimulatorFaults {
        down_ports: vec![1],
        down_for: Duration::from_secs(1),
        ..SimulatorFaults::default()
    });
    let err = Simulator::start(config, "127.0.0.1", &[0])
        .await
        .expect_err("port 1 is not served");
    assert!(
        matches!(err, SimulatorError::DownPortNotServed(1, _)),
        "{err}"
    );
    assert!(
        err.to_string().contains("simulator.faults.down_ports = 1"),
        "{err}"
    );
}

//! Every fault knob of the simulator at rate 1, through the real client: what the client says,
//! which calls it repeats (counted at the server where the server can tell), and what the server
//! really did (ledger, SMS, pulsa). The repeat budget's exact bounds against every kind of
//! failure are the stub tests' (`retries`); here it is held against a real server's state.

use std::time::{Duration, Instant};

use simrotor_simulator::{SimulatorConfig, SimulatorFaults};
use simrotor_slot::{
    ProtocolProblem, RefusalReason, SlotClient, SlotErrorKind, TransportKind, TrxProgress,
};

use crate::helpers::Logs;
use crate::sim_helpers::{
    LIMIT, PULSA, Sim, VCR10, config, email, eventually, free_port, number, pin, refusal,
    transport, with_faults,
};

/// How long a stalled body stalls: far above the impatient client's timeout, well below the
/// patient one's.
const STALL: Duration = Duration::from_millis(1500);
/// The timeout of a client that gives up on a stalled body.
const IMPATIENT: Duration = Duration::from_millis(500);

/// How many times the client said it would send a call to `path` again.
fn repeats(logs: &Logs, path: &str) -> usize {
    logs.text()
        .lines()
        .filter(|l| l.contains("safe to repeat") && l.contains(path))
        .count()
}

fn unexpected_5xx(kind: &SlotErrorKind) -> bool {
    matches!(
        kind,
        SlotErrorKind::Protocol {
            what: ProtocolProblem::UnexpectedStatus {
                http_status: 500..=599
            }
        }
    )
}

#[tokio::test]
async fn at_error_rate_one_a_safe_call_is_repeated_then_the_5xx_page_is_a_protocol_error() {
    let sim = Sim::start(
        with_faults(SimulatorFaults {
            error_rate: 1.0,
            ..SimulatorFaults::default()
        }),
        1,
    )
    .await;
    let slot = sim.client(0);
    let m = number(30);
    let logs = Logs::default();
    let _guard = logs.capture();

    // A 5xx page runs nothing at the simulator, so only the client can count its repeats.
    let err = slot.balance(&m).await.expect_err("every answer is a 5xx");
    assert!(unexpected_5xx(&err.kind), "{err}");
    let page = err.raw_body().expect("the page is kept");
    assert!(page.contains("<html>") && page.contains("nginx"), "{page}");
    assert_eq!(
        repeats(&logs, "/balance_pulsa"),
        2,
        "the configured retries"
    );

    // An OTP request is not repeated after an answer: a second SMS could void the first.
    let err = slot.request_otp(&m, &pin()).await.expect_err("a 5xx");
    assert!(unexpected_5xx(&err.kind), "{err}");
    assert_eq!(repeats(&logs, "/otp"), 0);
    assert_eq!(sim.sms_count(&m), 0, "not executed");

    // The purchase is sent once and is not "outcome unknown": an answer came.
    let err = slot
        .buy(&m, "647", &email(), LIMIT)
        .await
        .expect_err("a 5xx");
    assert!(unexpected_5xx(&err.kind), "{err}");
    assert_eq!(repeats(&logs, "/trx_idv"), 0);
    assert!(sim.handle.ledger().is_empty(), "a 5xx page ran nothing");
    // The client cannot know that the page ran nothing (a proxy's 5xx may come after the
    // backend acted), so it keeps the conservative answer and the runtime reconciles.
    assert!(err.may_have_taken_effect());
    sim.stop().await;
}

#[tokio::test]
async fn at_malformed_rate_one_answers_are_protocol_errors_with_the_body_kept_and_the_calls_ran() {
    let sim = Sim::start(
        with_faults(SimulatorFaults {
            malformed_rate: 1.0,
            ..SimulatorFaults::default()
        }),
        1,
    )
    .await;
    let slot = sim.client(0);
    let m = number(31);
    let truncated = SlotErrorKind::Protocol {
        what: ProtocolProblem::Truncated,
    };

    let err = slot.request_otp(&m, &pin()).await.expect_err("cut short");
    assert_eq!(err.kind, truncated);
    let raw = err.raw_body().expect("the fragment is kept");
    // The real `/otp` answer is myim3's, unwrapped.
    assert!(
        raw.starts_with('{') && !raw.starts_with(r#"{"req":"#),
        "{raw}"
    );
    assert!(raw.contains(r#""code":"00000""#), "{raw}");
    assert!(serde_json::from_str::<serde_json::Value>(raw).is_err());
    assert!(err.may_have_taken_effect());
    assert_eq!(sim.sms_count(&m), 1, "the OTP went out all the same");

    let err = slot
        .verify_otp(&m, &sim.sms_code(&m))
        .await
        .expect_err("cut short");
    assert_eq!(err.kind, truncated);
    // Logged in all the same: the location token is plain text, which is never cut.
    slot.token_location(&m)
        .await
        .expect("a plain-text answer is whole");
    let err = slot.balance(&m).await.expect_err("cut short");
    assert_eq!(err.kind, truncated);

    let err = slot
        .buy(&m, "647", &email(), LIMIT)
        .await
        .expect_err("cut short");
    assert_eq!(err.kind, truncated, "an answer came: not outcome unknown");
    assert!(err.may_have_taken_effect(), "the purchase may have run");
    // The real `/trx_idv` answer is upoint's, in `{"req", "res"}`.
    assert!(
        err.raw_body()
            .is_some_and(|raw| raw.starts_with(r#"{"req":"#))
    );
    let ledger = sim.handle.ledger();
    assert_eq!(ledger.len(), 1, "it ran, once: {ledger:?}");
    assert_eq!(
        (ledger[0].msisdn.clone(), ledger[0].price),
        (m.clone(), VCR10)
    );
    assert!(!ledger[0].answer_lost);
    assert_eq!(PULSA.checked_sub(VCR10), Some(sim.handle.pulsa(&m)));
    sim.stop().await;
}

fn stalling(config: SimulatorConfig) -> SimulatorConfig {
    SimulatorConfig {
        faults: SimulatorFaults {
            slow_body_rate: 1.0,
            slow_body_delay: STALL,
            ..SimulatorFaults::default()
        },
        ..config
    }
}

#[tokio::test]
async fn a_stalled_purchase_answer_is_outcome_unknown_and_the_purchase_ran_once() {
    let sim = Sim::start(stalling(config()), 1).await;
    // The patient client waits the stall out; the impatient one gives up.
    let patient = sim.client(0);
    let impatient = sim.client_with(0, IMPATIENT, 2);
    let m = number(32);
    sim.login(&patient, &m).await;

    let started = Instant::now();
    let err = impatient
        .buy(&m, "647", &email(), LIMIT)
        .await
        .expect_err("the answer stalls");
    assert!(started.elapsed() >= IMPATIENT);
    assert!(
        matches!(
            err.kind,
            SlotErrorKind::OutcomeUnknown {
                cause: TransportKind::TimedOut,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.may_have_taken_effect());
    assert!(err.to_string().contains("reconcile"), "{err}");

    // A safe call that stalls is a timeout that may have reached the server.
    let err = impatient.balance(&m).await.expect_err("the answer stalls");
    assert_eq!(transport(&err), (TransportKind::TimedOut, true));

    // Reconciling by the balance finds the debit; the server ran the purchase once.
    let pulsa = patient.balance(&m).await.expect("balance").value.pulsa;
    assert_eq!(PULSA.checked_sub(VCR10), Some(pulsa));
    let ledger = sim.handle.ledger();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert!(!ledger[0].answer_lost);
    sim.stop().await;
}

#[tokio::test]
async fn a_stalled_status_poll_is_repeated_within_the_budget_and_a_stalled_otp_request_is_not() {
    let sim = Sim::start(
        stalling(SimulatorConfig {
            status_polls: 5,
            ..config()
        }),
        1,
    )
    .await;
    let patient = sim.client(0);
    let impatient = sim.client_with(0, IMPATIENT, 2);
    let m = number(33);
    sim.login(&patient, &m).await;
    let trx_id = patient
        .buy(&m, "647", &email(), LIMIT)
        .await
        .expect("accepted")
        .value
        .trx_id;

    let err = impatient
        .trx_status(&m, &trx_id)
        .await
        .expect_err("every attempt stalls");
    assert_eq!(transport(&err), (TransportKind::TimedOut, true));
    // The server counts polls: 5 answer "processing", the 6th the outcome. The impatient
    // client's attempts were polls 1 to 3 (one call, two repeats), so two more are processing.
    for poll in 4..=5 {
        let progress = patient.trx_status(&m, &trx_id).await.expect("/status_idv");
        assert_eq!(progress.value, TrxProgress::Processing, "poll {poll}");
    }
    let done = patient.trx_status(&m, &trx_id).await.expect("/status_idv");
    assert!(
        matches!(done.value, TrxProgress::Success { .. }),
        "{:?}",
        done.value
    );

    // An OTP request that may have reached the server is not repeated: one more SMS, not three.
    let err = impatient
        .request_otp(&m, &pin())
        .await
        .expect_err("the answer stalls");
    assert_eq!(transport(&err), (TransportKind::TimedOut, true));
    eventually("the second OTP is sent", || sim.sms_count(&m) >= 2).await;
    patient
        .verify_otp(&m, &sim.sms_code(&m))
        .await
        .expect("the OTP sent by the stalled call logs in");
    assert_eq!(sim.sms_count(&m), 2);
    sim.stop().await;
}

#[tokio::test]
async fn a_lost_purchase_answer_is_outcome_unknown_and_the_purchase_ran_exactly_once() {
    let sim = Sim::start(
        with_faults(SimulatorFaults {
            lost_answer_rate: 1.0,
            ..SimulatorFaults::default()
        }),
        1,
    )
    .await;
    let slot = sim.client(0);
    let m = number(34);
    // Only a purchase that runs loses its answer: the login and a refusal answer as usual.
    sim.login(&slot, &m).await;
    let err = slot
        .buy(&m, "648", &email(), LIMIT)
        .await
        .expect_err("above the limit");
    assert_eq!(refusal(&err).2, RefusalReason::Other);

    let err = slot
        .buy(&m, "647", &email(), LIMIT)
        .await
        .expect_err("the answer is lost");
    assert!(
        matches!(
            err.kind,
            SlotErrorKind::OutcomeUnknown {
                cause: TransportKind::Reset,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.may_have_taken_effect());
    assert_eq!(err.raw_body(), None, "not a byte came back");

    let ledger = sim.handle.ledger();
    assert_eq!(ledger.len(), 1, "run once, never sent again: {ledger:?}");
    assert!(ledger[0].answer_lost);
    assert_eq!((ledger[0].pulsa_before, ledger[0].price), (PULSA, VCR10));
    let pulsa = slot.balance(&m).await.expect("balance").value.pulsa;
    assert_eq!(pulsa, ledger[0].pulsa_after, "the balance shows the debit");
    sim.stop().await;
}

#[tokio::test]
async fn with_latency_and_jitter_every_call_still_succeeds_no_sooner_than_the_latency() {
    let latency = Duration::from_millis(300);
    let sim = Sim::start(
        with_faults(SimulatorFaults {
            latency,
            jitter: Duration::from_millis(100),
            ..SimulatorFaults::default()
        }),
        1,
    )
    .await;
    let slot = sim.client(0);
    let m = number(35);

    let started = Instant::now();
    slot.request_otp(&m, &pin()).await.expect("/otp");
    assert!(started.elapsed() >= latency);
    let started = Instant::now();
    slot.verify_otp(&m, &sim.sms_code(&m))
        .await
        .expect("/verifyOtp");
    assert!(started.elapsed() >= latency);
    let started = Instant::now();
    let balance = slot.balance(&m).await.expect("/balance_pulsa");
    assert!(started.elapsed() >= latency);
    assert_eq!(balance.value.pulsa, PULSA);
    sim.stop().await;
}

#[tokio::test]
async fn a_server_in_its_down_window_refuses_connections_then_the_same_call_works() {
    let port = free_port();
    let sim = Sim::on(
        with_faults(SimulatorFaults {
            down_ports: vec![port],
            down_after: Duration::ZERO,
            down_for: Duration::from_secs(2),
            ..SimulatorFaults::default()
        }),
        &[port],
    )
    .await;
    let slot = sim.client(0);
    let m = number(36);

    let err = slot.request_otp(&m, &pin()).await.expect_err("down");
    assert_eq!(transport(&err), (TransportKind::ConnectRefused, false));
    assert!(!err.may_have_taken_effect());
    // A purchase that never connected certainly did not run: not "outcome unknown".
    let err = slot
        .buy(&m, "647", &email(), LIMIT)
        .await
        .expect_err("down");
    assert_eq!(transport(&err), (TransportKind::ConnectRefused, false));
    assert!(!err.may_have_taken_effect());

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match slot.request_otp(&m, &pin()).await {
            Ok(_) => break,
            Err(err) => {
                assert_eq!(transport(&err), (TransportKind::ConnectRefused, false));
                assert!(Instant::now() < deadline, "the server never came back");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    slot.verify_otp(&m, &sim.sms_code(&m))
        .await
        .expect("/verifyOtp");
    let balance = slot.balance(&m).await.expect("/balance_pulsa");
    assert_eq!(balance.value.pulsa, PULSA);
    assert_eq!(
        sim.sms_count(&m),
        1,
        "no attempt in the window reached the server"
    );
    assert!(sim.handle.ledger().is_empty());
    sim.stop().await;
}

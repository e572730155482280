//! OTPs end to end: the simulator of the operator's servers sends each OTP by SMS to its
//! forwarder URL, which is the admin API's `/sms`, and the binding waiting in the hub
//! gets the code the telco sent; or the operator reads the code and posts it to `/otp`.

use serde_json::{Value, json};
use simrotor_config::OtpSource;
use simrotor_domain::{Msisdn, Rupiah};
use simrotor_runtime::otp::{OtpFrom, OtpPurpose, ReceivedOtp};
use simrotor_simulator::{Simulator, SimulatorConfig, SimulatorHandle};

use crate::helpers::{AdminApi, PATIENCE, logs, number};

/// Every number a reseller with 27,000 of pulsa; SMS forwarded to `forwarder` when given.
async fn simulator(forwarder: Option<String>, transaction_otp: bool) -> SimulatorHandle {
    let config = SimulatorConfig {
        pulsa_min: Rupiah::new(27_000),
        pulsa_max: Rupiah::new(27_000),
        reseller_rate: 1.0,
        blocked_rate: 0.0,
        status_polls: 0,
        transaction_otp,
        sms_forwarder_url: forwarder,
        // These tests read raw answers by hand, in the first version's envelope: the real
        // shapes are the slot client's business, tested there.
        shapes: simrotor_config::AnswerShapes::Legacy,
        ..SimulatorConfig::default()
    };
    Simulator::start(config, "127.0.0.1", &[0]).await.unwrap()
}

/// One slot API call on the simulator; returns the telco's answer (`res`).
async fn call(
    control: &AdminApi,
    sim: &SimulatorHandle,
    path: &str,
    msisdn: &Msisdn,
    more: &[(&str, &str)],
) -> Value {
    let local = msisdn.local();
    let mut query = vec![("username", local.as_str())];
    query.extend_from_slice(more);
    let url =
        reqwest::Url::parse_with_params(&format!("{}{path}", sim.base_urls()[0]), &query).unwrap();
    let answer: Value = control
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["res"].clone()
}

/// Answers `path` (`/verifyOtp`, `/otp_idv`) with the code `received` brought: it must be
/// accepted.
async fn answer_with(
    control: &AdminApi,
    sim: &SimulatorHandle,
    path: &str,
    m: &Msisdn,
    received: &ReceivedOtp,
) {
    let ack = call(control, sim, path, m, &[("otp", received.otp.expose())]).await;
    assert_eq!(ack["status"], "0", "{ack}");
}

#[tokio::test]
async fn a_binding_gets_the_login_and_transaction_codes_the_simulator_sends_by_sms() {
    let control = AdminApi::start(OtpSource::Both).await;
    let sim = simulator(Some(control.url("/sms")), true).await;
    let port = sim.addrs()[0].port();
    let m = number(201);

    // Registered before asking: the forwarder may post before `/otp` has even answered.
    let waiter = control.hub.register(port, &m, OtpPurpose::Login);
    let ack = call(&control, &sim, "/otp", &m, &[("pin", "1234")]).await;
    assert_eq!(ack["status"], "0", "{ack}");
    let received = waiter.wait(PATIENCE).await.unwrap();
    assert_eq!(received.from, OtpFrom::Forwarder);
    assert_eq!(Some(received.otp.expose()), sim.latest_otp(&m).as_deref());
    answer_with(&control, &sim, "/verifyOtp", &m, &received).await;
    assert!(control.hub.waiting().is_empty());

    // The first purchase on this device asks for a transaction OTP, also by SMS.
    let waiter = control.hub.register(port, &m, OtpPurpose::Transaction);
    let trx = call(
        &control,
        &sim,
        "/trx_idv",
        &m,
        &[
            ("product_id", "647"),
            ("email", "buyer@example.id"),
            ("limit_harga", "10500"),
        ],
    )
    .await;
    assert_eq!(trx["data"]["is_success"], 1, "{trx}");
    let received = waiter.wait(PATIENCE).await.unwrap();
    assert_eq!(Some(received.otp.expose()), sim.latest_otp(&m).as_deref());
    answer_with(&control, &sim, "/otp_idv", &m, &received).await;
    assert_eq!(sim.pulsa(&m), Rupiah::new(17_000));

    sim.stop().await;
    control.handle.stop().await;
}

#[tokio::test]
async fn the_operator_types_the_code_read_from_the_phone() {
    let control = AdminApi::start(OtpSource::Operator).await;
    let sim = simulator(None, false).await;
    let port = sim.addrs()[0].port();
    let m = number(202);

    let waiter = control.hub.register(port, &m, OtpPurpose::Login);
    let ack = call(&control, &sim, "/otp", &m, &[("pin", "1234")]).await;
    assert_eq!(ack["status"], "0", "{ack}");
    let (_, waiting) = control.get("/otp/waiting").await;
    assert_eq!(waiting[0]["server"], port);
    assert_eq!(waiting[0]["msisdn"], m.as_str());

    let code = sim.latest_otp(&m).unwrap();
    let (status, body) = control
        .post("/otp", &json!({"server": port, "code": code}))
        .await;
    assert_eq!(status, 200, "{body}");
    let received = waiter.wait(PATIENCE).await.unwrap();
    assert_eq!(received.from, OtpFrom::Operator);
    answer_with(&control, &sim, "/verifyOtp", &m, &received).await;

    sim.stop().await;
    control.handle.stop().await;
}

#[tokio::test]
async fn an_sms_for_a_number_that_waits_for_nothing_is_ignored_and_not_kept() {
    let control = AdminApi::start(OtpSource::Both).await;
    let sim = simulator(Some(control.url("/sms")), false).await;
    let port = sim.addrs()[0].port();
    let m = number(203);

    // Posted by hand, so that it is surely handled before the wait starts (the simulator's
    // forwarder posts on a task of its own, at a moment the test does not control).
    let stale = json!({"msisdn": m.local(), "message": "Kode OTP Anda: 555555 untuk masuk."});
    assert_eq!(
        control.post("/sms", &stale).await,
        (200, json!({"outcome": "no_waiter"}))
    );
    let waiter = control.hub.register(port, &m, OtpPurpose::Login);
    call(&control, &sim, "/otp", &m, &[("pin", "1234")]).await;
    let received = waiter.wait(PATIENCE).await.unwrap();
    assert_eq!(Some(received.otp.expose()), sim.latest_otp(&m).as_deref());
    assert_ne!(received.otp.expose(), "555555");
    sim.stop().await;
    control.handle.stop().await;
}

#[tokio::test]
async fn no_code_reaches_the_log() {
    let logs = logs();
    let control = AdminApi::start(OtpSource::Both).await;
    let sim = simulator(Some(control.url("/sms")), false).await;
    let port = sim.addrs()[0].port();
    let m = number(204);

    let waiter = control.hub.register(port, &m, OtpPurpose::Login);
    call(&control, &sim, "/otp", &m, &[("pin", "1234")]).await;
    let forwarded = waiter.wait(PATIENCE).await.unwrap();

    let typed = "731946";
    let waiter = control.hub.register(port, &m, OtpPurpose::Login);
    control
        .post("/otp", &json!({"server": port, "code": "73x946"}))
        .await;
    control
        .post_raw("/otp", &format!(r#"{{"server": {port}, "code": {typed}}}"#))
        .await;
    let (status, _) = control
        .post("/otp", &json!({"server": port, "code": typed}))
        .await;
    assert_eq!(status, 200);
    waiter.wait(PATIENCE).await.unwrap();
    control
        .post("/otp", &json!({"server": port, "code": typed}))
        .await;
    control
        .post(
            "/sms",
            &json!({"msisdn": m.as_str(), "message": format!("Kode OTP Anda: {typed}")}),
        )
        .await;

    sim.stop().await;
    control.handle.stop().await;
    let text = logs.text();
    assert!(
        text.contains("Delivered an OTP to the waiting binding."),
        "{text}"
    );
    assert!(text.contains(&format!("msisdn={m}")), "{text}");
    assert!(!logs.shows_number(forwarded.otp.expose()), "{text}");
    assert!(!logs.shows_number(typed), "{text}");
    assert!(!text.contains("73x946"), "{text}");
    assert!(!text.contains("Kode OTP Anda"), "{text}");
}

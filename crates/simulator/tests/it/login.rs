//! Logging in: OTP by SMS, PIN, expiry of codes and tokens, blocked numbers, bad numbers.

use std::time::Duration;

use simrotor_config::ConfigPin;
use simrotor_domain::Pin;
use simrotor_simulator::SimulatorConfig;

use crate::helpers::{Sim, config, number};

#[tokio::test]
async fn a_wrong_otp_is_refused_and_the_right_one_logs_in() {
    let sim = Sim::start(config(), 1).await;
    let m = number(1);
    let ack = sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
    assert_eq!(ack.status, 200);
    assert_eq!(ack.res()["status"], "0");
    assert_eq!(
        ack.json()["req"]["pin"],
        "****",
        "the PIN is masked in the echo"
    );
    assert_eq!(ack.json()["req"]["username"], m.local());

    let code = sim.handle.latest_otp(&m).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = sim.call(0, "/verifyOtp", &m, &[("otp", wrong)]).await;
    assert_eq!(refused.res()["status"], "1");
    assert_eq!(refused.message(), "Kode OTP salah");
    let still_out = sim.call(0, "/balance_pulsa", &m, &[]).await;
    assert!(
        still_out.message().contains("token expired"),
        "{still_out:?}"
    );

    let ok = sim.call(0, "/verifyOtp", &m, &[("otp", &code)]).await;
    assert_eq!(ok.res()["status"], "0");
    assert_eq!(ok.json()["req"]["otp"], "****");
    assert!(ok.res()["data"]["token_login"].as_str().unwrap().len() >= 16);

    let balance = sim.call(0, "/balance_pulsa", &m, &[]).await.res();
    assert_eq!(balance["balance"], "27000");
    for field in ["cardactiveuntil", "graceperioduntil"] {
        let date = balance[field].as_str().unwrap();
        assert!(
            chrono::NaiveDate::parse_from_str(date, "%d %b %Y").is_ok(),
            "{date}"
        );
    }
    assert!(
        balance["expires"]
            .as_str()
            .unwrap()
            .starts_with("Berlaku hingga ")
    );
    sim.stop().await;
}

#[tokio::test]
async fn the_configured_pin_is_checked_and_a_wrong_one_sends_no_sms() {
    let sim = Sim::start(
        SimulatorConfig {
            pin: Some(ConfigPin(Pin::parse("135790").unwrap())),
            ..config()
        },
        1,
    )
    .await;
    let m = number(2);
    let refused = sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
    assert_eq!(refused.res()["status"], "1");
    assert_eq!(refused.message(), "PIN salah");
    assert!(sim.handle.sms(Some(&m)).is_empty());
    let ack = sim.call(0, "/otp", &m, &[("pin", "135790")]).await;
    assert_eq!(ack.res()["status"], "0");
    assert_eq!(sim.handle.sms(Some(&m)).len(), 1);
    sim.stop().await;
}

#[tokio::test]
async fn an_expired_otp_is_refused() {
    let sim = Sim::start(
        SimulatorConfig {
            otp_ttl: Duration::from_millis(1),
            ..config()
        },
        1,
    )
    .await;
    let m = number(3);
    sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
    let code = sim.handle.latest_otp(&m).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let refused = sim.call(0, "/verifyOtp", &m, &[("otp", &code)]).await;
    assert_eq!(refused.res()["status"], "1");
    assert!(
        refused.message().contains("Kode OTP kadaluarsa"),
        "{refused:?}"
    );
    sim.stop().await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let sim = Sim::start(
        SimulatorConfig {
            token_ttl: Duration::from_millis(1),
            ..config()
        },
        1,
    )
    .await;
    let m = number(4);
    sim.login(0, &m).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    for path in ["/balance_pulsa", "/list_idv", "/logout"] {
        let refused = sim.call(0, path, &m, &[]).await;
        assert_eq!(refused.res()["status"], "1", "{path}");
        assert!(
            refused.message().contains("token expired"),
            "{path}: {refused:?}"
        );
    }
    sim.stop().await;
}

#[tokio::test]
async fn a_server_holds_one_number_and_forgets_it_at_logout() {
    let sim = Sim::start(
        SimulatorConfig {
            one_session: false,
            ..config()
        },
        1,
    )
    .await;
    let (a, b) = (number(5), number(6));
    sim.login(0, &a).await;
    assert_eq!(sim.balance(0, &a).await, "27000");
    // Another number's OTP takes the server: the first one is out.
    sim.call(0, "/otp", &b, &[("pin", "1234")]).await;
    let out = sim.call(0, "/balance_pulsa", &a, &[]).await;
    assert!(out.message().contains("token expired"), "{out:?}");

    sim.login(0, &a).await;
    let bye = sim.call(0, "/logout", &a, &[]).await;
    assert_eq!(bye.res()["status"], "0");
    let out = sim.call(0, "/balance_pulsa", &a, &[]).await;
    assert!(out.message().contains("token expired"), "{out:?}");
    sim.stop().await;
}

#[tokio::test]
async fn with_one_session_a_live_login_refuses_another_number_until_its_logout() {
    let sim = Sim::start(config(), 1).await;
    let (a, b) = (number(10), number(11));
    sim.login(0, &a).await;
    let busy = sim.call(0, "/otp", &b, &[("pin", "1234")]).await;
    assert_eq!(busy.res()["status"], "1", "{busy:?}");
    assert!(
        busy.message().contains("sedang digunakan oleh nomor lain"),
        "{busy:?}"
    );
    assert!(sim.handle.sms(Some(&b)).is_empty());
    assert_eq!(sim.balance(0, &a).await, "27000", "the holder is still in");
    sim.call(0, "/logout", &a, &[]).await;
    sim.login(0, &b).await;
    sim.stop().await;
}

#[tokio::test]
async fn a_blocked_number_cannot_log_in() {
    let sim = Sim::start(
        SimulatorConfig {
            blocked_rate: 1.0,
            ..config()
        },
        1,
    )
    .await;
    let m = number(7);
    let refused = sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
    assert_eq!(refused.res()["status"], "1");
    assert!(refused.message().contains("diblokir"), "{refused:?}");
    assert!(sim.handle.sms(Some(&m)).is_empty());
    sim.stop().await;
}

#[tokio::test]
async fn any_form_of_a_number_is_accepted_and_a_bad_one_is_a_400() {
    let sim = Sim::start(config(), 1).await;
    let ack = sim
        .get(
            0,
            "/otp",
            &[("username", "+62 812-0000-0008"), ("pin", "1234")],
        )
        .await;
    assert_eq!(ack.res()["status"], "0", "{ack:?}");
    assert_eq!(sim.handle.sms(Some(&number(8))).len(), 1);

    for bad in ["12345", "0812x", ""] {
        let refused = sim
            .get(0, "/otp", &[("username", bad), ("pin", "1234")])
            .await;
        assert_eq!(refused.status, 400, "{bad:?}");
        assert_eq!(refused.res()["status"], "1", "{bad:?}");
    }
    let missing = sim.get(0, "/otp", &[("username", "081200000008")]).await;
    assert_eq!(missing.status, 400);
    assert!(missing.message().contains("pin"), "{missing:?}");
    let unknown = sim.get(0, "/nope", &[]).await;
    assert_eq!(unknown.status, 404);
    sim.stop().await;
}

#[tokio::test]
async fn the_location_token_is_plain_text() {
    let sim = Sim::start(config(), 1).await;
    let m = number(9);
    let token_login = sim.login(0, &m).await;
    let location = sim.call(0, "/token_location3", &m, &[]).await;
    assert_eq!(location.status, 200);
    assert!(
        location.content_type.starts_with("text/plain"),
        "{location:?}"
    );
    assert!(serde_json::from_str::<serde_json::Value>(&location.body).is_err());
    assert!(location.body.len() >= 32 && location.body.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(location.body, token_login);
    // The same session gives the same token.
    assert_eq!(
        sim.call(0, "/token_location3", &m, &[]).await.body,
        location.body
    );
    sim.stop().await;
}

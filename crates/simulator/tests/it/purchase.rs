//! Products and purchases: the catalogue, resellers, debits, status polls, refusals, suspects
//! and the transaction OTP.

use simrotor_domain::Rupiah;
use simrotor_simulator::SimulatorConfig;

use crate::helpers::{Sim, config, number};

#[tokio::test]
async fn the_product_list_carries_prices_and_the_servers_device_id() {
    let sim = Sim::start(config(), 2).await;
    let m = number(20);
    sim.login(0, &m).await;
    let res = sim.call(0, "/list_idv", &m, &[]).await.res();
    assert_eq!(res["status"], "0");
    let products = res["data"]["products"].as_array().unwrap();
    let vcr10 = products
        .iter()
        .find(|p| p["product_id"] == "VCR10")
        .unwrap();
    assert_eq!(vcr10["price"], 10_000);
    assert!(vcr10["name"].as_str().is_some());
    assert!(
        products
            .iter()
            .any(|p| p["product_id"] == "VCR5" && p["price"] == 5_000)
    );
    let device = res["data"]["identifier"]["device_id"].as_str().unwrap();
    assert_eq!(Some(device.to_owned()), sim.handle.device_id(sim.port(0)));

    sim.login(1, &m).await;
    let other = sim.call(1, "/list_idv", &m, &[]).await.res();
    assert_ne!(other["data"]["identifier"]["device_id"], device);
    sim.stop().await;
}

#[tokio::test]
async fn a_non_reseller_is_refused_the_products_and_the_purchase() {
    let sim = Sim::start(
        SimulatorConfig {
            reseller_rate: 0.0,
            ..config()
        },
        1,
    )
    .await;
    let m = number(21);
    sim.login(0, &m).await;
    let want = serde_json::json!({
        "status": "401",
        "status_msg": "Unauthorized",
        "message": "Anda bukan Reseller, tidak diperkenankan mengakses halaman ini",
    });
    assert_eq!(sim.call(0, "/list_idv", &m, &[]).await.res(), want);
    assert_eq!(sim.buy(0, &m, "VCR5", "10500").await.res(), want);
    assert_eq!(sim.balance(0, &m).await, "27000");
    sim.stop().await;
}

#[tokio::test]
async fn a_purchase_debits_then_succeeds_after_the_configured_polls() {
    let sim = Sim::start(
        SimulatorConfig {
            status_polls: 2,
            ..config()
        },
        1,
    )
    .await;
    let m = number(22);
    sim.login(0, &m).await;
    let trx = sim.buy(0, &m, "VCR10", "10500").await.res();
    assert_eq!(trx["status"], "0", "{trx}");
    assert_eq!(trx["data"]["is_success"], 1);
    assert!(trx["data"]["t_id"].as_str().is_some());
    let trx_id = trx["data"]["trx_id"].as_str().unwrap();
    assert_eq!(sim.balance(0, &m).await, "17000");

    for _ in 0..2 {
        let status = sim.status(0, &m, trx_id).await;
        assert_eq!(status["data"]["is_success"], 1, "{status}");
        assert!(status["data"].get("voucher").is_none(), "{status}");
    }
    let done = sim.status(0, &m, trx_id).await;
    assert_eq!(done["status"], "0");
    assert_eq!(done["data"]["is_success"], 2);
    let voucher = done["data"]["voucher"].as_str().unwrap();
    assert!(!voucher.is_empty());
    // Polls after the end keep telling the end.
    assert_eq!(sim.status(0, &m, trx_id).await["data"]["voucher"], voucher);

    let unknown = sim.status(0, &m, "NOPE").await;
    assert_eq!(unknown["status"], "1");
    sim.stop().await;
}

#[tokio::test]
async fn a_purchase_is_refused_when_pulsa_is_short_or_the_price_above_the_limit() {
    let sim = Sim::start(
        SimulatorConfig {
            pulsa_min: Rupiah::new(7_000),
            pulsa_max: Rupiah::new(7_000),
            ..config()
        },
        1,
    )
    .await;
    let m = number(23);
    sim.login(0, &m).await;
    let short = sim.buy(0, &m, "VCR10", "10500").await;
    assert_eq!(short.res()["status"], "1");
    assert!(short.message().contains("pulsa tidak cukup"), "{short:?}");
    let above = sim.buy(0, &m, "VCR10", "9000").await;
    assert_eq!(above.res()["status"], "1");
    assert!(
        above.message().contains("melebihi limit_harga"),
        "{above:?}"
    );
    let unknown = sim.buy(0, &m, "VCR99", "10500").await;
    assert_eq!(unknown.res()["status"], "1");
    assert_eq!(sim.balance(0, &m).await, "7000");
    assert!(sim.handle.ledger().is_empty());

    let fits = sim.buy(0, &m, "VCR5", "Rp 10.500").await;
    assert_eq!(fits.res()["status"], "0", "{fits:?}");
    assert_eq!(sim.balance(0, &m).await, "2000");
    sim.stop().await;
}

#[tokio::test]
async fn at_suspect_rate_one_a_purchase_finishes_without_a_voucher() {
    let sim = Sim::start(
        SimulatorConfig {
            suspect_rate: 1.0,
            status_polls: 0,
            ..config()
        },
        1,
    )
    .await;
    let m = number(24);
    sim.login(0, &m).await;
    let trx = sim.buy(0, &m, "VCR10", "10500").await.res();
    let done = sim
        .status(0, &m, trx["data"]["trx_id"].as_str().unwrap())
        .await;
    assert_eq!(done["data"]["is_success"], 2, "{done}");
    assert!(done["data"]["voucher"].is_null(), "{done}");
    assert_eq!(sim.balance(0, &m).await, "17000", "the money is gone");
    assert_eq!(sim.handle.ledger()[0].voucher, None);
    sim.stop().await;
}

#[tokio::test]
async fn the_first_purchase_on_a_new_device_waits_for_the_transaction_otp() {
    let sim = Sim::start(
        SimulatorConfig {
            transaction_otp: true,
            status_polls: 0,
            ..config()
        },
        2,
    )
    .await;
    let m = number(25);
    sim.login(0, &m).await;
    let sms_before = sim.handle.sms(Some(&m)).len();
    let trx = sim.buy(0, &m, "VCR10", "10500").await.res();
    assert_eq!(trx["data"]["is_success"], 1, "{trx}");
    let trx_id = trx["data"]["trx_id"].as_str().unwrap().to_owned();
    assert_eq!(
        sim.balance(0, &m).await,
        "27000",
        "nothing debited before the OTP"
    );
    let sms = sim.handle.sms(Some(&m));
    assert_eq!(sms.len(), sms_before + 1);
    assert!(sms[0].message.contains("transaksi"), "{:?}", sms[0]);
    assert_eq!(sim.status(0, &m, &trx_id).await["data"]["is_success"], 1);

    let code = sim.handle.latest_otp(&m).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = sim.call(0, "/otp_idv", &m, &[("otp", wrong)]).await;
    assert_eq!(refused.message(), "Kode OTP salah");
    let ack = sim.call(0, "/otp_idv", &m, &[("otp", &code)]).await;
    assert_eq!(ack.res()["status"], "0", "{ack:?}");
    assert_eq!(ack.json()["req"]["otp"], "****");
    assert_eq!(sim.balance(0, &m).await, "17000");
    let done = sim.status(0, &m, &trx_id).await;
    assert_eq!(done["data"]["is_success"], 2, "{done}");

    // The device is known now: the next purchase there is debited at once.
    let again = sim.buy(0, &m, "VCR5", "10500").await.res();
    assert_eq!(again["status"], "0");
    assert_eq!(sim.balance(0, &m).await, "12000");
    let nothing = sim.call(0, "/otp_idv", &m, &[("otp", &code)]).await;
    assert_eq!(nothing.res()["status"], "1");

    // Another server is another device: the OTP again.
    sim.login(1, &m).await;
    sim.buy(1, &m, "VCR5", "10500").await;
    assert_eq!(sim.balance(1, &m).await, "12000");
    assert_eq!(sim.handle.ledger().len(), 2);
    sim.stop().await;
}

#[tokio::test]
async fn without_the_switch_no_transaction_otp_is_asked() {
    let sim = Sim::start(config(), 1).await;
    let m = number(26);
    sim.login(0, &m).await;
    let sent = sim.handle.sms(Some(&m)).len();
    sim.buy(0, &m, "VCR10", "10500").await;
    assert_eq!(sim.balance(0, &m).await, "17000");
    assert_eq!(sim.handle.sms(Some(&m)).len(), sent);
    sim.stop().await;
}

#[tokio::test]
async fn a_number_takes_its_pulsa_from_server_to_server() {
    let sim = Sim::start(config(), 2).await;
    let m = number(27);
    sim.login(0, &m).await;
    sim.buy(0, &m, "VCR10", "10500").await;
    sim.call(0, "/logout", &m, &[]).await;
    sim.login(1, &m).await;
    assert_eq!(sim.balance(1, &m).await, "17000");
    assert_eq!(sim.handle.pulsa(&m), Rupiah::new(17_000));
    sim.stop().await;
}

//! The real answer shapes (`shapes = "real"`, the default), one call at a time, each held to
//! the contract's example of that shape (`tests/fixtures/real/`): the same keys at every level,
//! the same JSON type for every value, and the same status codes.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use simrotor_config::ConfigPin;
use simrotor_domain::{Pin, Rupiah};
use simrotor_simulator::SimulatorConfig;

use crate::helpers::{Answer, Sim, number, real_config};

const TOKEN_EXPIRED: &str = "Sesi tidak berlaku (token expired), silakan login kembali";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/real/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

/// Values compared exactly wherever they appear: the codes a client decides on.
const CODES: [&str; 7] = [
    "status",
    "code",
    "status_msg",
    "is_success",
    "product_type",
    "page_id",
    "products_group_page_id",
];

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "float",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn same_shape(want: &Value, got: &Value, at: &str) {
    assert_eq!(kind(want), kind(got), "{at}: {got}");
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            let (wk, gk): (BTreeSet<_>, BTreeSet<_>) = (w.keys().collect(), g.keys().collect());
            assert_eq!(wk, gk, "{at}: the keys differ");
            for (key, w) in w {
                let at = format!("{at}.{key}");
                if CODES.contains(&key.as_str()) {
                    assert_eq!(w, &g[key], "{at}");
                }
                same_shape(w, &g[key], &at);
            }
        }
        (Value::Array(w), Value::Array(g)) => match w.first() {
            // Every item of ours against the example's first.
            Some(w) => {
                assert!(!g.is_empty(), "{at}: empty");
                for (i, g) in g.iter().enumerate() {
                    same_shape(w, g, &format!("{at}[{i}]"));
                }
            }
            None => assert!(g.is_empty(), "{at}: {got}"),
        },
        _ => {}
    }
}

/// The answer is HTTP 200 JSON of the example's shape; returns its body.
fn like(answer: &Answer, name: &str) -> Value {
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer.content_type.starts_with("application/json"),
        "{answer:?}"
    );
    let got = answer.json();
    same_shape(&fixture_json(name), &got, name);
    got
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

fn is_jwt(s: &str) -> bool {
    s.starts_with("eyJ") && s.split('.').count() == 3 && s.split('.').all(|p| !p.is_empty())
}

#[tokio::test]
async fn otp_answers_in_the_myim3_shape() {
    let sim = Sim::start(
        SimulatorConfig {
            pin: Some(ConfigPin(Pin::parse("135790").unwrap())),
            ..real_config()
        },
        1,
    )
    .await;
    let m = number(100);
    let ok = like(
        &sim.call(0, "/otp", &m, &[("pin", "135790")]).await,
        "otp__ok.json",
    );
    assert_eq!(ok["message"], "OTP_SENT");
    assert_eq!(ok["transid"], ok["data"]["transid"]);
    assert_eq!(sim.handle.sms(Some(&m)).len(), 1);

    let wrong_pin = like(
        &sim.call(0, "/otp", &m, &[("pin", "1234")]).await,
        "otp__failed_inferred.json",
    );
    assert_eq!(wrong_pin["message"], "PIN salah");
    assert_ne!(wrong_pin["transid"], ok["transid"], "a transid per answer");
    sim.stop().await;

    let blocked = Sim::start(
        SimulatorConfig {
            blocked_rate: 1.0,
            ..real_config()
        },
        1,
    )
    .await;
    let refused = like(
        &blocked.call(0, "/otp", &m, &[("pin", "1234")]).await,
        "otp__failed_inferred.json",
    );
    assert!(
        refused["message"].as_str().unwrap().contains("diblokir"),
        "{refused}"
    );
    blocked.stop().await;
}

#[tokio::test]
async fn verify_otp_answers_a_jwt_in_data_tokenid() {
    let sim = Sim::start(real_config(), 1).await;
    let m = number(101);
    let none = like(
        &sim.call(0, "/verifyOtp", &m, &[("otp", "123456")]).await,
        "verifyOtp__failed_inferred.json",
    );
    assert_eq!(none["message"], "Silakan minta kode OTP terlebih dahulu");
    sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
    let code = sim.handle.latest_otp(&m).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = like(
        &sim.call(0, "/verifyOtp", &m, &[("otp", wrong)]).await,
        "verifyOtp__failed_inferred.json",
    );
    assert_eq!(refused["message"], "Kode OTP salah");

    let ok = like(
        &sim.call(0, "/verifyOtp", &m, &[("otp", &code)]).await,
        "verifyOtp__ok.json",
    );
    assert_eq!(ok["message"], "success");
    let token = ok["data"]["tokenid"].as_str().unwrap();
    assert!(is_jwt(token), "{token}");
    assert!(!ok.to_string().contains(&code), "no OTP echoed: {ok}");
    sim.stop().await;
}

#[tokio::test]
async fn balance_and_the_location_token_answer_as_seen() {
    let sim = Sim::start(real_config(), 1).await;
    let m = number(102);
    let token_login = sim.login(0, &m).await;
    let balance = like(
        &sim.call(0, "/balance_pulsa", &m, &[]).await,
        "balance_pulsa__ok.json",
    );
    assert_eq!(balance["req"], json!({"username": m.local()}));
    assert_eq!(balance["res"]["balance"], "27000");

    let location = sim.call(0, "/token_location3", &m, &[]).await;
    assert_eq!(location.status, 200);
    assert!(
        location.content_type.starts_with("text/plain"),
        "{location:?}"
    );
    assert!(is_jwt(&location.body), "{location:?}");
    assert!(fixture("token_location3__ok.txt").starts_with("eyJ"));
    assert_ne!(location.body, token_login);
    sim.stop().await;
}

#[tokio::test]
async fn the_product_list_is_unwrapped_with_integer_ids_and_the_device_id() {
    let sim = Sim::start(real_config(), 1).await;
    let m = number(103);
    sim.login(0, &m).await;
    let page = like(
        &sim.call(0, "/list_idv", &m, &[]).await,
        "list_idv__reseller.json",
    );
    let list = page["data"]["product_list"].as_array().unwrap();
    let listed: Vec<(u64, &str, &str)> = list
        .iter()
        .map(|p| {
            (
                p["id"].as_u64().unwrap(),
                p["name"].as_str().unwrap(),
                p["lower_price"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (646, "IDV Voucher Rp. 5.000", "5000"),
            (647, "IDV Voucher Rp. 10.000", "10000"),
            (648, "IDV Voucher Rp. 25.000", "25000"),
            (650, "IDV Voucher Rp. 100.000", "100000"),
        ]
    );
    let identifier = &page["data"]["identifier"];
    let device = identifier["device_id"].as_str().unwrap();
    assert!(is_hex(device, 16), "{device}");
    assert_eq!(Some(device.to_owned()), sim.handle.device_id(sim.port(0)));
    assert_eq!(identifier["mobile_number"], m.as_str());
    sim.stop().await;
}

#[tokio::test]
async fn a_non_reseller_gets_the_seen_refusal_on_the_list_and_inside_res_on_a_purchase() {
    let sim = Sim::start(
        SimulatorConfig {
            reseller_rate: 0.0,
            ..real_config()
        },
        1,
    )
    .await;
    let m = number(104);
    sim.login(0, &m).await;
    let listed = sim.call(0, "/list_idv", &m, &[]).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json(), fixture_json("list_idv__not_reseller.json"));
    let bought = sim.buy(0, &m, "650", "100000").await;
    assert_eq!(bought.res(), fixture_json("list_idv__not_reseller.json"));
    sim.stop().await;
}

#[tokio::test]
async fn a_purchase_is_accepted_with_hex_ids_and_refused_as_failed() {
    let sim = Sim::start(real_config(), 1).await;
    let m = number(105);
    sim.login(0, &m).await;
    let accepted = like(
        &sim.buy(0, &m, "647", "100000").await,
        "trx_idv__accepted.json",
    );
    let data = &accepted["res"]["data"];
    assert!(is_hex(data["trx_id"].as_str().unwrap(), 32), "{data}");
    assert!(is_hex(data["t_id"].as_str().unwrap(), 32), "{data}");
    assert_eq!(accepted["req"]["product_id"], "647");
    assert_eq!(sim.balance(0, &m).await, "17000");
    let second = sim.buy(0, &m, "646", "100000").await.res();
    assert_ne!(second["data"]["trx_id"], data["trx_id"]);

    for (product, limit, text) in [
        ("650", "100000", "pulsa tidak cukup"),
        ("648", "20000", "melebihi limit_harga"),
        ("999", "100000", "tidak ditemukan"),
    ] {
        let refused = like(
            &sim.buy(0, &m, product, limit).await,
            "trx_idv__refused_inferred.json",
        );
        let message = refused["res"]["message"].as_str().unwrap();
        assert!(message.contains(text), "{product}: {refused}");
    }
    assert_eq!(sim.handle.ledger().len(), 2);
    sim.stop().await;
}

#[tokio::test]
async fn status_tells_processing_then_the_voucher_and_a_suspect_without_one() {
    let sim = Sim::start(
        SimulatorConfig {
            status_polls: 1,
            ..real_config()
        },
        1,
    )
    .await;
    let m = number(106);
    sim.login(0, &m).await;
    let trx = sim.buy(0, &m, "647", "100000").await.res();
    let trx_id = trx["data"]["trx_id"].as_str().unwrap();
    let processing = like(
        &sim.call(0, "/status_idv", &m, &[("trx_id", trx_id)]).await,
        "status_idv__processing_inferred.json",
    );
    assert_eq!(processing["res"]["data"]["trx_id"], trx_id);
    let done = like(
        &sim.call(0, "/status_idv", &m, &[("trx_id", trx_id)]).await,
        "status_idv__success.json",
    );
    let voucher = done["res"]["data"]["voucher"].as_str().unwrap();
    assert!(
        voucher.len() == 16
            && voucher
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
        "{voucher}"
    );
    assert_eq!(sim.handle.ledger()[0].voucher.as_deref(), Some(voucher));

    let unknown = sim
        .call(0, "/status_idv", &m, &[("trx_id", "nope")])
        .await
        .res();
    assert_eq!(
        unknown,
        json!({"status": "404", "status_msg": "failed", "message": "Transaksi tidak ditemukan"})
    );
    sim.stop().await;

    let suspect = Sim::start(
        SimulatorConfig {
            suspect_rate: 1.0,
            status_polls: 0,
            ..real_config()
        },
        1,
    )
    .await;
    suspect.login(0, &m).await;
    let trx = suspect.buy(0, &m, "647", "100000").await.res();
    let trx_id = trx["data"]["trx_id"].as_str().unwrap();
    like(
        &suspect
            .call(0, "/status_idv", &m, &[("trx_id", trx_id)])
            .await,
        "status_idv__suspect.json",
    );
    suspect.stop().await;
}

#[tokio::test]
async fn the_transaction_otp_answers_success_invalid_and_a_failure_after_it() {
    let sim = Sim::start(
        SimulatorConfig {
            transaction_otp: true,
            status_polls: 0,
            ..real_config()
        },
        2,
    )
    .await;
    let m = number(107);
    sim.login(0, &m).await;
    let none = sim.call(0, "/otp_idv", &m, &[("otp", "123456")]).await;
    let none = like(&none, "otp_idv__failed_inferred.json");
    assert_eq!(
        none["res"]["message"],
        "Tidak ada transaksi yang menunggu OTP"
    );

    // Two purchases wait for their OTP on two servers; the pulsa covers only one of them.
    let first = sim.buy(0, &m, "648", "100000").await.res();
    let first_id = first["data"]["trx_id"].as_str().unwrap().to_owned();
    let first_code = sim.handle.latest_otp(&m).unwrap();
    sim.login(1, &m).await;
    sim.buy(1, &m, "648", "100000").await;
    let second_code = sim.handle.latest_otp(&m).unwrap();
    let wrong = if second_code == "000000" {
        "111111"
    } else {
        "000000"
    };
    let invalid = like(
        &sim.call(1, "/otp_idv", &m, &[("otp", wrong)]).await,
        "otp_idv__failed_inferred.json",
    );
    assert_eq!(invalid["res"]["message"], "Invalid OTP");
    let ok = like(
        &sim.call(1, "/otp_idv", &m, &[("otp", &second_code)]).await,
        "otp_idv__ok.json",
    );
    assert_eq!(ok["req"]["otp"], "****");
    assert_eq!(sim.handle.pulsa(&m), Rupiah::new(2_000));

    let failed = sim.call(0, "/otp_idv", &m, &[("otp", &first_code)]).await;
    let failed = like(&failed, "otp_idv__failed_inferred.json");
    assert!(
        failed["res"]["message"]
            .as_str()
            .unwrap()
            .contains("pulsa tidak cukup"),
        "{failed}"
    );
    let status = sim
        .call(0, "/status_idv", &m, &[("trx_id", &first_id)])
        .await
        .res();
    assert_eq!(
        (
            status["status"].as_str(),
            status["status_msg"].as_str(),
            status["data"]["is_success"].as_u64()
        ),
        (Some("400"), Some("failed"), Some(3)),
        "{status}"
    );
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .starts_with("Transaksi gagal: "),
        "{status}"
    );
    assert_eq!(sim.handle.ledger().len(), 1);
    sim.stop().await;
}

#[tokio::test]
async fn logout_acks_and_calls_after_it_are_refused_per_app() {
    let sim = Sim::start(real_config(), 1).await;
    let m = number(108);
    sim.login(0, &m).await;
    like(
        &sim.call(0, "/logout", &m, &[]).await,
        "logout__ack_inferred.json",
    );

    for path in ["/balance_pulsa", "/logout", "/token_location3"] {
        let refused = sim.call(0, path, &m, &[]).await;
        assert_eq!(
            refused.json(),
            json!({"req": {"username": m.local()},
                   "res": {"status": "401", "message": TOKEN_EXPIRED}}),
            "{path}"
        );
    }
    assert_eq!(
        sim.call(0, "/list_idv", &m, &[]).await.json(),
        json!({"status": "401", "status_msg": "Unauthorized", "message": TOKEN_EXPIRED})
    );
    let upoint = [
        sim.buy(0, &m, "646", "100000").await,
        sim.call(0, "/otp_idv", &m, &[("otp", "123456")]).await,
        sim.call(0, "/status_idv", &m, &[("trx_id", "x")]).await,
    ];
    for refused in upoint {
        assert_eq!(
            refused.res(),
            json!({"status": "401", "status_msg": "failed", "message": TOKEN_EXPIRED}),
            "{refused:?}"
        );
    }
    sim.stop().await;
}

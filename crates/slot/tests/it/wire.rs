//! What goes on the wire — paths, the number in `08…` form, the parameters, an `X-Request-Id` —
//! and what comes back as typed values; and that no PIN, OTP or token ever leaks into an error,
//! a `Debug` print or a log line.

use std::collections::HashSet;

use simrotor_domain::{Email, Pin, Rupiah};
use simrotor_slot::{
    Ack, Balance, HttpSlotClient, Otp, Product, ProductListing, SlotClient, TrxAccepted,
    TrxProgress,
};

use crate::helpers::{
    Act, Logs, MSISDN_LOCAL, Seen, Stub, client, closed_port_url, msisdn, options,
};

const PIN: &str = "924711";
const LOGIN_OTP: &str = "482913";
const TRX_OTP: &str = "771204";
const LOGIN_TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.sim-login-token";
const LOCATION_TOKEN: &str = "LOC-6f1c2a9e-0b7d-4e51-a3f2-91d0c3b7e8aa";

/// A well-behaved server answering each path with the simulator's shape.
fn simulator_like(_: usize, seen: &Seen) -> Act {
    match seen.path.as_str() {
        "/otp" => Act::json(include_str!("../fixtures/otp/success.json")),
        "/verifyOtp" => Act::json(include_str!(
            "../fixtures/verifyOtp/token_login_in_res_data.json"
        )),
        "/balance_pulsa" => Act::json(include_str!("../fixtures/balance_pulsa/success.json")),
        "/token_location3" => Act::text(include_str!("../fixtures/token_location3/plain_text.txt")),
        "/list_idv" => Act::json(include_str!(
            "../fixtures/list_idv/products_in_res_data.json"
        )),
        "/trx_idv" => Act::json(include_str!("../fixtures/trx_idv/accepted.json")),
        "/otp_idv" => Act::json(include_str!("../fixtures/otp_idv/success.json")),
        "/status_idv" => Act::json(include_str!(
            "../fixtures/status_idv/success_with_voucher.json"
        )),
        "/logout" => Act::json(include_str!("../fixtures/logout/success.json")),
        _ => Act::html(404, "<html>not found</html>"),
    }
}

/// Every call once, in the order a binding makes them; the request ids of the replies.
async fn whole_life(slot: &HttpSlotClient) -> Vec<String> {
    let m = msisdn();
    let pin = Pin::parse(PIN).unwrap();
    let email = Email::parse("buyer@example.com").unwrap();
    let mut ids = Vec::new();

    let r = slot.request_otp(&m, &pin).await.unwrap();
    assert_eq!(
        r.value.message.as_deref(),
        Some("OTP telah dikirim ke nomor Anda")
    );
    ids.push(r.request_id);

    let r = slot.verify_otp(&m, &Otp::new(LOGIN_OTP)).await.unwrap();
    assert_eq!(r.value.expose(), LOGIN_TOKEN);
    ids.push(r.request_id);

    let r = slot.balance(&m).await.unwrap();
    assert_eq!(
        r.value,
        Balance {
            pulsa: Rupiah::new(5604),
            card_active_until: Some("02 Mar 2027".into()),
            grace_period_until: Some("01 May 2027".into()),
            expires: Some("Berlaku hingga 02 Mar 27".into()),
        }
    );
    assert_eq!(r.raw.as_json().unwrap()["res"]["balance"], "5604");
    ids.push(r.request_id);

    let r = slot.token_location(&m).await.unwrap();
    assert_eq!(r.value.expose(), LOCATION_TOKEN);
    assert_eq!(r.raw.to_text(), LOCATION_TOKEN);
    ids.push(r.request_id);

    let r = slot.list_products(&m).await.unwrap();
    let ProductListing::Products {
        products,
        device_id,
    } = &r.value
    else {
        panic!("expected products, got {:?}", r.value)
    };
    assert_eq!(device_id.as_deref(), Some("dev-9914-a1"));
    assert_eq!(
        products[0],
        Product {
            id: "VCR10".into(),
            name: Some("Voucher 10rb".into()),
            price: Some(Rupiah::new(10_000)),
        }
    );
    ids.push(r.request_id);

    let r = slot
        .buy(&m, "VCR10", &email, Rupiah::new(10_000))
        .await
        .unwrap();
    assert_eq!(
        r.value,
        TrxAccepted {
            trx_id: "TRX-20261124-0001".into(),
            t_id: Some("T-88123".into()),
            is_success: Some(1),
        }
    );
    ids.push(r.request_id);

    let r = slot.transaction_otp(&m, &Otp::new(TRX_OTP)).await.unwrap();
    assert_eq!(
        r.value,
        Ack {
            code: Some("200".into()),
            message: Some("OTP transaksi diterima".into()),
        }
    );
    ids.push(r.request_id);

    let r = slot.trx_status(&m, "TRX-20261124-0001").await.unwrap();
    assert_eq!(
        r.value,
        TrxProgress::Success {
            voucher: "ABCD-EFGH-1234-5678".into()
        }
    );
    ids.push(r.request_id);

    let r = slot.logout(&m).await.unwrap();
    assert_eq!(r.value.message.as_deref(), Some("Logout berhasil"));
    ids.push(r.request_id);
    ids
}

#[tokio::test]
async fn every_call_sends_its_path_and_parameters_with_the_number_in_local_form() {
    let stub = Stub::start(simulator_like).await;
    whole_life(&client(options(stub.url()))).await;
    let targets: Vec<Vec<(String, String)>> = stub.seen().into_iter().map(|s| s.query).collect();
    let paths: Vec<String> = stub.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        [
            "/otp",
            "/verifyOtp",
            "/balance_pulsa",
            "/token_location3",
            "/list_idv",
            "/trx_idv",
            "/otp_idv",
            "/status_idv",
            "/logout"
        ]
    );
    let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let u = ("username", MSISDN_LOCAL);
    assert_eq!(
        targets,
        [
            q(&[u, ("pin", PIN)]),
            q(&[u, ("otp", LOGIN_OTP)]),
            q(&[u]),
            q(&[u]),
            q(&[u]),
            q(&[
                u,
                ("product_id", "VCR10"),
                ("email", "buyer@example.com"),
                ("limit_harga", "10000"),
            ]),
            q(&[u, ("otp", TRX_OTP)]),
            q(&[u, ("trx_id", "TRX-20261124-0001")]),
            q(&[u]),
        ]
    );
}

#[tokio::test]
async fn every_call_carries_its_own_request_id_and_the_reply_names_it() {
    let stub = Stub::start(simulator_like).await;
    let ids = whole_life(&client(options(stub.url()))).await;
    let sent: Vec<String> = stub
        .seen()
        .iter()
        .map(|s| s.header("x-request-id").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(sent, ids);
    assert!(sent.iter().all(|id| id.len() >= 16), "{sent:?}");
    assert_eq!(sent.iter().collect::<HashSet<_>>().len(), sent.len());
}

#[tokio::test]
async fn secrets_stay_out_of_replies_errors_and_logs() {
    let logs = Logs::default();
    let _capture = logs.capture();
    let m = msisdn();
    let pin = Pin::parse(PIN).unwrap();

    // Success: the replies hold the tokens, their Debug does not show them.
    let stub = Stub::start(simulator_like).await;
    let slot = client(options(stub.url()));
    let login = slot.verify_otp(&m, &Otp::new(LOGIN_OTP)).await.unwrap();
    let location = slot.token_location(&m).await.unwrap();
    let printed = format!("{login:?} {location:?}");
    assert!(printed.contains("TokenLogin(****)"), "{printed}");

    // Failures of every kind on the calls whose query holds a PIN or an OTP.
    let mut errors = Vec::new();
    let refused = slot_answering(include_str!("../fixtures/verifyOtp/wrong_otp.json")).await;
    errors.push(
        refused
            .1
            .verify_otp(&m, &Otp::new(LOGIN_OTP))
            .await
            .unwrap_err(),
    );
    let garbage = slot_answering("<html>oops</html>").await;
    errors.push(garbage.1.request_otp(&m, &pin).await.unwrap_err());
    let closed = client(options(closed_port_url()));
    errors.push(closed.request_otp(&m, &pin).await.unwrap_err());
    errors.push(
        closed
            .transaction_otp(&m, &Otp::new(TRX_OTP))
            .await
            .unwrap_err(),
    );
    let reset = Stub::always(Act::ResetBeforeAnswer).await;
    errors.push(
        client(options(reset.url()))
            .verify_otp(&m, &Otp::new(LOGIN_OTP))
            .await
            .unwrap_err(),
    );

    let logged = logs.text();
    assert!(
        logged.contains("/verifyOtp"),
        "the calls were logged:\n{logged}"
    );
    assert!(logged.contains("request_id"), "{logged}");
    for secret in [PIN, LOGIN_OTP, TRX_OTP, LOGIN_TOKEN, LOCATION_TOKEN] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
        assert!(!logged.contains(secret), "{secret} in the logs:\n{logged}");
        for err in &errors {
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
}

async fn slot_answering(body: &str) -> (Stub, HttpSlotClient) {
    let stub = Stub::always(if body.starts_with('<') {
        Act::html(200, body)
    } else {
        Act::json(body)
    })
    .await;
    let slot = client(options(stub.url()));
    (stub, slot)
}

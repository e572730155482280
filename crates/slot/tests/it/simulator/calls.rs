//! Every call on the happy path, in a binding's order, and the purchase variants that still end
//! well or as the contract says: the transaction OTP, the suspect purchase.

use simrotor_domain::Rupiah;
use simrotor_simulator::{AnswerShapes, SimulatorConfig};
use simrotor_slot::{
    Ack, Product, ProductListing, RawAnswer, RefusalReason, SlotClient, TrxProgress,
};

use crate::helpers::Logs;
use crate::sim_helpers::{
    EMAIL, LIMIT, PIN, PULSA, Sim, VCR10, answered_in, code_in, config, email, number, pin,
    refusal, refused_in, shaped, wrong,
};

#[tokio::test]
async fn every_call_of_a_binding_works_in_order_and_matches_what_the_server_did_real() {
    every_call_of_a_binding_works_in_order_and_matches_what_the_server_did(AnswerShapes::Real)
        .await;
}

#[tokio::test]
async fn every_call_of_a_binding_works_in_order_and_matches_what_the_server_did_legacy() {
    every_call_of_a_binding_works_in_order_and_matches_what_the_server_did(AnswerShapes::Legacy)
        .await;
}

#[tokio::test]
async fn every_call_of_a_binding_works_in_order_and_matches_what_the_server_did_mixed() {
    every_call_of_a_binding_works_in_order_and_matches_what_the_server_did(AnswerShapes::Mixed)
        .await;
}

/// The binding's life in `shapes`: the values the client gives are the same in every shape;
/// what differs (the ack's code and message, where the fields sit, `is_success` on acceptance)
/// is asserted for the shape each answer came in.
async fn every_call_of_a_binding_works_in_order_and_matches_what_the_server_did(
    shapes: AnswerShapes,
) {
    let sim = Sim::start(
        SimulatorConfig {
            status_polls: 3,
            ..shaped(shapes)
        },
        1,
    )
    .await;
    let slot = sim.client(0);
    let m = number(1);
    let logs = Logs::default();
    let _guard = logs.capture();
    // The identifiers follow the real formats unless the servers speak legacy only.
    let real_ids = shapes != AnswerShapes::Legacy;
    // The shape of every answer whose body tells, in order.
    let mut seen = Vec::new();

    // 1. The OTP goes out by SMS.
    let ack = slot.request_otp(&m, &pin()).await.expect("/otp");
    let raw = ack.raw.as_json().expect("a JSON answer");
    seen.push(answered_in(shapes, raw));
    match seen[seen.len() - 1] {
        AnswerShapes::Legacy => {
            assert_eq!(
                ack.value,
                Ack {
                    code: Some("200".into()),
                    message: Some("Kode OTP telah dikirim ke nomor Anda".into()),
                }
            );
            let req = &raw["req"];
            assert_eq!(req["username"], m.local(), "the number goes out as 08…");
            assert_eq!(req["pin"], "****", "the server echoes the PIN masked");
        }
        _ => {
            assert_eq!(
                ack.value,
                Ack {
                    code: Some("00000".into()),
                    message: Some("OTP_SENT".into()),
                }
            );
            // myim3 answers unwrapped, echoing nothing.
            assert!(
                raw.get("req").is_none() && raw.get("res").is_none(),
                "{raw}"
            );
            assert_eq!(raw["status"], "0");
            assert_eq!(raw["data"]["status"], "true");
            assert_eq!(raw["data"]["transid"], raw["transid"]);
        }
    }
    assert!(!raw.to_string().contains(PIN), "the PIN never comes back");
    let sms = sim.handle.sms(Some(&m));
    assert_eq!(sms.len(), 1);
    let code = sim.sms_code(&m);
    assert!(sms[0].message.contains(code.expose()), "{:?}", sms[0]);

    // 2. The code from the SMS gives the login token.
    let login = slot.verify_otp(&m, &code).await.expect("/verifyOtp");
    let raw = login.raw.as_json().expect("a JSON answer");
    seen.push(answered_in(shapes, raw));
    match seen[seen.len() - 1] {
        AnswerShapes::Legacy => {
            assert_eq!(raw["res"]["data"]["token_login"], login.value.expose());
        }
        _ => {
            assert_eq!(raw["data"]["tokenid"], login.value.expose());
            assert_eq!(
                (&raw["code"], &raw["data"]["status"]),
                (&"00000".into(), &"true".into())
            );
        }
    }
    assert!(login.value.expose().len() >= 16);
    assert_eq!(
        login.value.expose().starts_with("eyJ"),
        real_ids,
        "a JWT exactly when the ids are real"
    );

    // 3. The balance is the pulsa the telco keeps for the number (the same body in both shapes).
    let balance = slot.balance(&m).await.expect("/balance_pulsa");
    let raw = balance.raw.as_json().expect("a JSON answer");
    assert_eq!(
        raw["req"]["username"],
        m.local(),
        "the number goes out as 08…"
    );
    let before = balance.value;
    assert_eq!(before.pulsa, PULSA);
    assert_eq!(before.pulsa, sim.handle.pulsa(&m));
    assert!(before.card_active_until.is_some() && before.grace_period_until.is_some());
    assert!(
        before
            .expires
            .as_deref()
            .is_some_and(|e| e.starts_with("Berlaku hingga ")),
        "{before:?}"
    );

    // 4. The location token, a plain-text body.
    let location = slot.token_location(&m).await.expect("/token_location3");
    assert!(matches!(location.raw, RawAnswer::Text(_)));
    assert_eq!(location.raw.to_text(), location.value.expose());
    assert!(!location.value.expose().is_empty());
    assert_ne!(location.value.expose(), login.value.expose());
    assert_eq!(location.value.expose().starts_with("eyJ"), real_ids);

    // 5. The products and the server's device id.
    let answer = slot.list_products(&m).await.expect("/list_idv");
    let raw = answer.raw.as_json().expect("a JSON answer");
    seen.push(answered_in(shapes, raw));
    match seen[seen.len() - 1] {
        AnswerShapes::Legacy => {
            assert_eq!(
                raw["res"]["data"]["products"].as_array().map(Vec::len),
                Some(4)
            );
        }
        _ => {
            assert_eq!(
                (&raw["status"], &raw["status_msg"]),
                (&"200".into(), &"success".into())
            );
            assert_eq!(
                raw["data"]["product_list"].as_array().map(Vec::len),
                Some(4)
            );
            assert_eq!(raw["data"]["product_list"][0]["id"], 646, "an integer id");
        }
    }
    let listing = answer.value;
    let product = |id: &str, name: &str, price: u64| Product {
        id: id.into(),
        name: Some(name.into()),
        price: Some(Rupiah::new(price)),
    };
    assert_eq!(
        listing,
        ProductListing::Products {
            products: vec![
                product("646", "IDV Voucher Rp. 5.000", 5_000),
                product("647", "IDV Voucher Rp. 10.000", 10_000),
                product("648", "IDV Voucher Rp. 25.000", 25_000),
                product("650", "IDV Voucher Rp. 100.000", 100_000),
            ],
            device_id: sim.handle.device_id(sim.port(0)),
        }
    );
    assert!(listing.device_id().is_some());

    // 6. The purchase is accepted…
    let answer = slot
        .buy(&m, "647", &email(), LIMIT)
        .await
        .expect("/trx_idv");
    let raw = answer.raw.as_json().expect("a JSON answer");
    seen.push(answered_in(shapes, raw));
    let accepted = answer.value;
    match seen[seen.len() - 1] {
        AnswerShapes::Legacy => {
            assert_eq!(raw["res"]["code"], "200");
            assert_eq!(accepted.is_success, Some(1));
        }
        _ => {
            assert_eq!(
                (&raw["res"]["status"], &raw["res"]["status_msg"]),
                (&"200".into(), &"success".into())
            );
            // Not final: the purchase is followed with `/status_idv` all the same.
            assert_eq!(accepted.is_success, Some(2));
        }
    }
    let trx_id = accepted.trx_id.clone();

    // 8. …stays processing for the configured polls, then succeeds with a voucher. (7, the
    // transaction OTP, is off by default: see below.)
    for poll in 0..3 {
        let progress = slot.trx_status(&m, &trx_id).await.expect("/status_idv");
        seen.push(answered_in(shapes, progress.raw.as_json().expect("JSON")));
        assert_eq!(progress.value, TrxProgress::Processing, "poll {poll}");
    }
    let done = slot.trx_status(&m, &trx_id).await.expect("/status_idv");
    seen.push(answered_in(shapes, done.raw.as_json().expect("JSON")));
    let TrxProgress::Success { voucher } = done.value else {
        panic!("expected a voucher, got {:?}", done.value);
    };
    if real_ids {
        assert!(
            voucher.len() == 16
                && voucher
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
            "{voucher}"
        );
    } else {
        assert!(voucher.starts_with("VC-"), "{voucher}");
    }

    // 3 again: the pulsa dropped by the price.
    let after = slot.balance(&m).await.expect("/balance_pulsa").value;
    assert_eq!(before.pulsa.checked_sub(VCR10), Some(after.pulsa));

    // What the server really did: one purchase, the one the client was told about.
    let ledger = sim.handle.ledger();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    let entry = &ledger[0];
    assert_eq!(entry.trx_id, trx_id);
    assert_eq!(Some(&entry.t_id), accepted.t_id.as_ref());
    assert_eq!(entry.msisdn, m);
    assert_eq!(entry.port, sim.port(0));
    assert_eq!(Some(entry.device_id.as_str()), listing.device_id());
    assert_eq!(entry.product_id, "647");
    assert_eq!(entry.price, VCR10);
    assert_eq!(entry.email, EMAIL);
    assert_eq!(entry.pulsa_before, before.pulsa);
    assert_eq!(entry.pulsa_after, after.pulsa);
    assert_eq!(entry.voucher.as_deref(), Some(voucher.as_str()));
    assert!(!entry.answer_lost);

    // 9. Logged out, the number's session is over.
    let bye = slot.logout(&m).await.expect("/logout");
    seen.push(answered_in(shapes, bye.raw.as_json().expect("JSON")));
    let expected = match seen[seen.len() - 1] {
        AnswerShapes::Legacy => Ack {
            code: Some("200".into()),
            message: Some("Logout berhasil".into()),
        },
        _ => Ack {
            code: Some("00000".into()),
            message: Some("success".into()),
        },
    };
    assert_eq!(bye.value, expected);
    let err = slot.balance(&m).await.expect_err("logged out");
    assert_eq!(err.refusal_reason(), Some(RefusalReason::TokenExpired));
    seen.push(refused_in(shapes, &err));

    if shapes == AnswerShapes::Mixed {
        for shape in [AnswerShapes::Real, AnswerShapes::Legacy] {
            assert!(
                seen.contains(&shape),
                "no {shape:?} answer in the mix: {seen:?}"
            );
        }
    }

    // No secret went into a log line.
    let logged = logs.text();
    assert!(logged.contains("/trx_idv"), "the capture works: {logged}");
    for secret in [
        PIN,
        code.expose(),
        login.value.expose(),
        location.value.expose(),
    ] {
        assert!(!logged.contains(secret), "a secret leaked into the logs");
    }
    sim.stop().await;
}

#[tokio::test]
async fn each_client_talks_to_its_own_server_and_the_pulsa_follows_the_number() {
    let sim = Sim::start(config(), 2).await;
    let (first, second) = (sim.client(0), sim.client(1));
    let m = number(2);
    sim.login(&first, &m).await;

    // Logged in on the first server only: the second holds no session for the number.
    let err = second.balance(&m).await.expect_err("not logged in there");
    assert_eq!(err.refusal_reason(), Some(RefusalReason::TokenExpired));

    first
        .buy(&m, "647", &email(), LIMIT)
        .await
        .expect("bought on the first server");
    sim.login(&second, &m).await;
    let pulsa = second.balance(&m).await.expect("balance").value.pulsa;
    assert_eq!(PULSA.checked_sub(VCR10), Some(pulsa));

    let devices = [
        sim.handle.device_id(sim.port(0)),
        sim.handle.device_id(sim.port(1)),
    ];
    assert_ne!(devices[0], devices[1]);
    // Each machine keeps its own session: the number is logged in on both.
    for (i, slot) in [&first, &second].into_iter().enumerate() {
        let listing = slot.list_products(&m).await.expect("/list_idv").value;
        assert_eq!(listing.device_id(), devices[i].as_deref(), "server {i}");
    }
    sim.stop().await;
}

#[tokio::test]
async fn a_suspect_purchase_completes_without_a_voucher_and_its_pulsa_is_gone() {
    let sim = Sim::start(
        SimulatorConfig {
            suspect_rate: 1.0,
            status_polls: 1,
            ..config()
        },
        1,
    )
    .await;
    let slot = sim.client(0);
    let m = number(3);
    sim.login(&slot, &m).await;
    let trx_id = slot
        .buy(&m, "647", &email(), LIMIT)
        .await
        .expect("accepted")
        .value
        .trx_id;
    let first = slot.trx_status(&m, &trx_id).await.expect("/status_idv");
    assert_eq!(first.value, TrxProgress::Processing);
    let done = slot.trx_status(&m, &trx_id).await.expect("/status_idv");
    assert_eq!(done.value, TrxProgress::CompletedWithoutVoucher);
    let raw = done.raw.as_json().expect("a JSON answer");
    assert_eq!(raw["res"]["data"]["is_success"], 2);
    assert!(raw["res"]["data"]["voucher"].is_null(), "{raw}");

    let ledger = sim.handle.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].voucher, None);
    let pulsa = slot.balance(&m).await.expect("balance").value.pulsa;
    assert_eq!(PULSA.checked_sub(VCR10), Some(pulsa), "the money is gone");
    sim.stop().await;
}

#[tokio::test]
async fn the_first_purchase_on_a_new_device_waits_for_the_transaction_otp_and_the_next_does_not() {
    let sim = Sim::start(
        SimulatorConfig {
            transaction_otp: true,
            status_polls: 1,
            ..config()
        },
        1,
    )
    .await;
    let slot = sim.client(0);
    let m = number(4);
    sim.login(&slot, &m).await;
    let login_code = sim.sms_code(&m);

    let accepted = slot
        .buy(&m, "647", &email(), LIMIT)
        .await
        .expect("accepted, waiting for its OTP");
    // The real acceptance says 2, yet nothing is final before `/status_idv` says so.
    assert_eq!(accepted.value.is_success, Some(2));
    let trx_id = accepted.value.trx_id;
    assert_eq!(sim.sms_count(&m), 2, "the transaction OTP came by SMS");
    let trx_code = sim.sms_code(&m);
    assert_ne!(trx_code, login_code);

    // However often it is polled, nothing moves until the OTP comes.
    for _ in 0..4 {
        let progress = slot.trx_status(&m, &trx_id).await.expect("/status_idv");
        assert_eq!(progress.value, TrxProgress::Processing);
    }
    assert!(sim.handle.ledger().is_empty());
    assert_eq!(sim.handle.pulsa(&m), PULSA);

    let err = slot
        .transaction_otp(&m, &wrong(&trx_code))
        .await
        .expect_err("a wrong code");
    assert_eq!(
        refusal(&err),
        ("400", "Invalid OTP", RefusalReason::WrongOtp)
    );
    assert!(!err.to_string().contains(wrong(&trx_code).expose()));
    let raw: serde_json::Value =
        serde_json::from_str(err.raw_body().expect("the refusal's body is kept")).unwrap();
    assert_eq!(raw["req"]["otp"], "****", "the code is masked in the echo");
    assert!(sim.handle.ledger().is_empty());

    let ack = slot.transaction_otp(&m, &trx_code).await.expect("/otp_idv");
    assert_eq!(
        ack.value,
        Ack {
            code: None,
            message: Some("success".into()),
        }
    );
    let raw = ack.raw.as_json().expect("a JSON answer");
    assert_eq!(
        (&raw["res"]["status"], &raw["res"]["status_msg"]),
        (&"200".into(), &"success".into())
    );
    assert_eq!(sim.handle.ledger().len(), 1, "executed once the OTP came");
    let polls = [
        slot.trx_status(&m, &trx_id)
            .await
            .expect("/status_idv")
            .value,
        slot.trx_status(&m, &trx_id)
            .await
            .expect("/status_idv")
            .value,
    ];
    assert_eq!(polls[0], TrxProgress::Processing);
    assert!(
        matches!(&polls[1], TrxProgress::Success { voucher }
            if sim.handle.ledger()[0].voucher.as_ref() == Some(voucher)),
        "{polls:?}"
    );

    // The number has now used this device: the next purchase needs no OTP.
    let second = slot
        .buy(&m, "646", &email(), LIMIT)
        .await
        .expect("accepted")
        .value
        .trx_id;
    assert_eq!(sim.sms_count(&m), 2, "no new SMS");
    assert_eq!(sim.handle.ledger().len(), 2, "executed at once");
    slot.trx_status(&m, &second).await.expect("/status_idv");
    let done = slot.trx_status(&m, &second).await.expect("/status_idv");
    assert!(
        matches!(done.value, TrxProgress::Success { .. }),
        "{:?}",
        done.value
    );
    let err = slot
        .transaction_otp(&m, &trx_code)
        .await
        .expect_err("nothing waits for an OTP");
    assert_eq!(
        refusal(&err),
        (
            "400",
            "Tidak ada transaksi yang menunggu OTP",
            RefusalReason::Other
        )
    );
    assert_eq!(
        sim.handle.pulsa(&m),
        Rupiah::new(PULSA.get() - 10_000 - 5_000)
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_purchase_whose_pulsa_is_gone_when_its_otp_comes_is_failed() {
    let sim = Sim::start(
        SimulatorConfig {
            transaction_otp: true,
            ..config()
        },
        1,
    )
    .await;
    let slot = sim.client(0);
    let m = number(5);
    sim.login(&slot, &m).await;
    let limit = Rupiah::new(25_000);
    // Two purchases wait for their OTP; the pulsa covers one of them.
    let first = slot
        .buy(&m, "648", &email(), limit)
        .await
        .expect("accepted")
        .value
        .trx_id;
    slot.buy(&m, "648", &email(), limit)
        .await
        .expect("accepted");
    let sms = sim.handle.sms(Some(&m));
    assert_eq!(sms.len(), 3, "login and two transaction OTPs: {sms:?}");
    let (second_code, first_code) = (code_in(&sms[0].message), code_in(&sms[1].message));

    // The OTP goes to the latest purchase waiting for one.
    slot.transaction_otp(&m, &second_code)
        .await
        .expect("the second purchase runs");
    let err = slot
        .transaction_otp(&m, &first_code)
        .await
        .expect_err("the first no longer fits the pulsa");
    let (_, message, reason) = refusal(&err);
    assert_eq!(reason, RefusalReason::InsufficientPulsa, "{message}");
    assert!(!err.may_have_taken_effect());

    let status = slot.trx_status(&m, &first).await.expect("/status_idv");
    let TrxProgress::Failed { status, message } = status.value else {
        panic!("expected a failed purchase, got {:?}", status.value);
    };
    assert_eq!(status, "400");
    assert!(message.contains("pulsa tidak cukup"), "{message}");
    assert_eq!(sim.handle.ledger().len(), 1);
    assert_eq!(sim.handle.pulsa(&m), Rupiah::new(2_000));
    sim.stop().await;
}

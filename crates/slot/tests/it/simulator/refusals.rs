//! Every refusal the simulated telco gives, as the typed error the client makes of it (or, for
//! "not a reseller", the outcome), with the telco's message kept; none of them moved pulsa.

use std::time::Duration;

use simrotor_config::ConfigPin;
use simrotor_domain::{Pin, Rupiah};
use simrotor_simulator::{AnswerShapes, SimulatorConfig};
use simrotor_slot::{Otp, ProductListing, RefusalReason, SlotClient, SlotErrorKind};

use crate::sim_helpers::{
    LIMIT, PIN, PULSA, Sim, config, email, number, pin, refusal, refused_in, shaped, wrong,
};

#[tokio::test]
async fn a_wrong_otp_is_refused_as_wrong_and_the_right_one_then_logs_in() {
    let sim = Sim::start(config(), 1).await;
    let slot = sim.client(0);
    let m = number(10);

    // Nothing requested yet: a refusal no rule names, the message kept.
    let err = slot
        .verify_otp(&m, &Otp::new("123456"))
        .await
        .expect_err("no OTP was requested");
    assert_eq!(
        refusal(&err),
        (
            "1",
            "Silakan minta kode OTP terlebih dahulu",
            RefusalReason::Other
        )
    );

    slot.request_otp(&m, &pin()).await.expect("/otp");
    let code = sim.sms_code(&m);
    let bad = wrong(&code);
    let err = slot.verify_otp(&m, &bad).await.expect_err("a wrong code");
    assert_eq!(
        refusal(&err),
        ("1", "Kode OTP salah", RefusalReason::WrongOtp)
    );
    assert!(!err.may_have_taken_effect());
    let raw = err.raw_body().expect("the refusal's body is kept");
    assert!(raw.contains("Kode OTP salah"), "{raw}");
    assert!(
        !raw.contains(bad.expose()) && !err.to_string().contains(bad.expose()),
        "the code shows neither in the echo nor in the error"
    );
    let err = slot.balance(&m).await.expect_err("still logged out");
    assert_eq!(err.refusal_reason(), Some(RefusalReason::TokenExpired));

    // The code is still pending: the right one logs in.
    slot.verify_otp(&m, &code).await.expect("the right code");
    assert_eq!(slot.balance(&m).await.expect("balance").value.pulsa, PULSA);
    sim.stop().await;
}

#[tokio::test]
async fn an_expired_otp_is_refused_as_a_wrong_otp() {
    let ttl = Duration::from_millis(200);
    let sim = Sim::start(
        SimulatorConfig {
            otp_ttl: ttl,
            ..config()
        },
        1,
    )
    .await;
    let slot = sim.client(0);
    let m = number(11);
    slot.request_otp(&m, &pin()).await.expect("/otp");
    let code = sim.sms_code(&m);
    tokio::time::sleep(ttl * 2).await;
    let err = slot.verify_otp(&m, &code).await.expect_err("expired");
    let (_, message, reason) = refusal(&err);
    assert_eq!(reason, RefusalReason::WrongOtp, "{message}");
    assert_eq!(message, "Kode OTP kadaluarsa, silakan minta kode baru");
    sim.stop().await;
}

#[tokio::test]
async fn a_wrong_pin_is_refused_with_its_message_and_sends_no_sms() {
    let sim = Sim::start(
        SimulatorConfig {
            pin: Some(ConfigPin(Pin::parse("135790").unwrap())),
            ..config()
        },
        1,
    )
    .await;
    let slot = sim.client(0);
    let m = number(12);
    let err = slot
        .request_otp(&m, &pin())
        .await
        .expect_err("not the configured PIN");
    // No rule names a wrong PIN (RefusalReason has no such reason): the runtime sees `Other`
    // and the telco's message.
    assert_eq!(refusal(&err), ("1", "PIN salah", RefusalReason::Other));
    assert!(!err.to_string().contains(PIN));
    assert_eq!(sim.sms_count(&m), 0);

    slot.request_otp(&m, &Pin::parse("135790").unwrap())
        .await
        .expect("the configured PIN");
    assert_eq!(sim.sms_count(&m), 1);
    sim.stop().await;
}

#[tokio::test]
async fn a_blocked_number_is_refused_as_blocked() {
    let sim = Sim::start(
        SimulatorConfig {
            blocked_rate: 1.0,
            ..config()
        },
        1,
    )
    .await;
    let slot = sim.client(0);
    let m = number(13);
    let err = slot.request_otp(&m, &pin()).await.expect_err("blocked");
    let (status, message, reason) = refusal(&err);
    assert_eq!((status, reason), ("1", RefusalReason::Blocked));
    assert!(message.contains("diblokir"), "{message}");
    assert_eq!(sim.sms_count(&m), 0);
    sim.stop().await;
}

#[tokio::test]
async fn a_number_that_is_not_a_reseller_is_an_outcome_of_the_listing_and_a_refused_purchase() {
    let sim = Sim::start(
        SimulatorConfig {
            reseller_rate: 0.0,
            ..config()
        },
        1,
    )
    .await;
    let slot = sim.client(0);
    let m = number(14);
    sim.login(&slot, &m).await;
    let message = "Anda bukan Reseller, tidak diperkenankan mengakses halaman ini";

    let listing = slot
        .list_products(&m)
        .await
        .expect("not a reseller is an answer, not an error");
    assert_eq!(
        listing.value,
        ProductListing::NotReseller {
            status: "401".into(),
            message: message.into(),
            device_id: None,
        }
    );

    let err = slot
        .buy(&m, "646", &email(), LIMIT)
        .await
        .expect_err("a non-reseller cannot buy");
    assert_eq!(refusal(&err), ("401", message, RefusalReason::NotReseller));
    assert!(!err.may_have_taken_effect());
    assert!(sim.handle.ledger().is_empty());
    assert_eq!(sim.handle.pulsa(&m), PULSA);
    sim.stop().await;
}

#[tokio::test]
async fn purchases_the_telco_refuses_keep_their_message_and_move_no_pulsa() {
    let sim = Sim::start(
        SimulatorConfig {
            pulsa_min: Rupiah::new(3_000),
            pulsa_max: Rupiah::new(3_000),
            ..config()
        },
        1,
    )
    .await;
    let slot = sim.client(0);
    let m = number(15);
    sim.login(&slot, &m).await;

    let err = slot
        .buy(&m, "646", &email(), LIMIT)
        .await
        .expect_err("3,000 does not pay 5,000");
    let (status, message, reason) = refusal(&err);
    assert_eq!((status, reason), ("400", RefusalReason::InsufficientPulsa));
    assert_eq!(
        message,
        "Transaksi gagal: pulsa tidak cukup (sisa Rp 3.000, harga Rp 5.000)"
    );
    assert!(!err.may_have_taken_effect());

    // Above limit_harga: a refusal no rule names, its message kept for the operator.
    let err = slot
        .buy(&m, "648", &email(), LIMIT)
        .await
        .expect_err("25,000 is above the limit");
    let (status, message, reason) = refusal(&err);
    assert_eq!((status, reason), ("400", RefusalReason::Other));
    assert_eq!(
        message,
        "Transaksi gagal: harga produk Rp 25.000 melebihi limit_harga Rp 10.500"
    );
    assert!(
        err.raw_body()
            .is_some_and(|raw| raw.contains("melebihi limit_harga"))
    );

    let err = slot
        .buy(&m, "VCR99", &email(), LIMIT)
        .await
        .expect_err("no such product");
    assert_eq!(
        refusal(&err),
        ("400", "Produk VCR99 tidak ditemukan", RefusalReason::Other)
    );

    assert!(sim.handle.ledger().is_empty());
    assert_eq!(
        slot.balance(&m).await.expect("balance").value.pulsa,
        Rupiah::new(3_000)
    );
    sim.stop().await;
}

#[tokio::test]
async fn every_call_without_a_session_is_refused_as_an_expired_session_real() {
    every_call_without_a_session_is_refused_as_an_expired_session(AnswerShapes::Real).await;
}

#[tokio::test]
async fn every_call_without_a_session_is_refused_as_an_expired_session_legacy() {
    every_call_without_a_session_is_refused_as_an_expired_session(AnswerShapes::Legacy).await;
}

#[tokio::test]
async fn every_call_without_a_session_is_refused_as_an_expired_session_mixed() {
    every_call_without_a_session_is_refused_as_an_expired_session(AnswerShapes::Mixed).await;
}

/// Every call without a session, in `shapes`: an expired session whatever the shape; the status
/// is the shape's ("401" real, "1" legacy).
async fn every_call_without_a_session_is_refused_as_an_expired_session(shapes: AnswerShapes) {
    let sim = Sim::start(shaped(shapes), 1).await;
    let slot = sim.client(0);
    let m = number(16);
    let errors = [
        slot.balance(&m).await.map(drop),
        slot.token_location(&m).await.map(drop),
        slot.list_products(&m).await.map(drop),
        slot.buy(&m, "646", &email(), LIMIT).await.map(drop),
        slot.transaction_otp(&m, &Otp::new("123456"))
            .await
            .map(drop),
        slot.trx_status(&m, "IDV0001").await.map(drop),
        slot.logout(&m).await.map(drop),
    ];
    let mut seen = Vec::new();
    for result in errors {
        let err = result.expect_err("no session");
        let shape = refused_in(shapes, &err);
        seen.push(shape);
        let expected = match shape {
            AnswerShapes::Legacy => "1",
            _ => "401",
        };
        let (status, message, reason) = refusal(&err);
        assert_eq!(
            (status, reason),
            (expected, RefusalReason::TokenExpired),
            "{}: {message}",
            err.call
        );
        assert!(message.contains("token expired"), "{message}");
    }
    if shapes == AnswerShapes::Mixed {
        for shape in [AnswerShapes::Real, AnswerShapes::Legacy] {
            assert!(
                seen.contains(&shape),
                "no {shape:?} refusal in the mix: {seen:?}"
            );
        }
    }

    // One machine holds one SIM: while the number's login is live, another number's `/otp` is
    // refused as a busy server (no SMS goes out) and the first session stays.
    sim.login(&slot, &m).await;
    slot.balance(&m).await.expect("logged in");
    let other = number(17);
    let err = slot
        .request_otp(&other, &pin())
        .await
        .expect_err("the server holds another number");
    let (status, message, reason) = refusal(&err);
    assert_eq!(
        (status, reason),
        ("1", RefusalReason::ServerBusy),
        "{message}"
    );
    assert!(
        message.contains("sedang digunakan oleh nomor lain"),
        "{message}"
    );
    assert_eq!(sim.sms_count(&other), 0);
    slot.balance(&m).await.expect("still logged in");
    // Once it logs out, the other number may log in.
    slot.logout(&m).await.expect("/logout");
    sim.login(&slot, &other).await;
    let err = slot.balance(&m).await.expect_err("logged out");
    assert_eq!(err.refusal_reason(), Some(RefusalReason::TokenExpired));
    sim.stop().await;

    // Without `one_session`, another number's `/otp` ends the first one's session.
    let sim = Sim::start(
        SimulatorConfig {
            one_session: false,
            ..shaped(shapes)
        },
        1,
    )
    .await;
    let slot = sim.client(0);
    sim.login(&slot, &m).await;
    slot.balance(&m).await.expect("logged in");
    slot.request_otp(&other, &pin())
        .await
        .expect("another number");
    let err = slot.balance(&m).await.expect_err("replaced");
    assert_eq!(err.refusal_reason(), Some(RefusalReason::TokenExpired));
    sim.stop().await;
}

#[tokio::test]
async fn calls_after_the_login_token_expired_are_refused_as_an_expired_session() {
    let ttl = Duration::from_millis(300);
    let sim = Sim::start(
        SimulatorConfig {
            token_ttl: ttl,
            ..config()
        },
        1,
    )
    .await;
    let slot = sim.client(0);
    let m = number(18);
    sim.login(&slot, &m).await;
    tokio::time::sleep(ttl * 2).await;

    let err = slot.balance(&m).await.expect_err("expired");
    assert_eq!(err.refusal_reason(), Some(RefusalReason::TokenExpired));
    // Not "not a reseller": the listing is an error, not an outcome.
    let err = slot.list_products(&m).await.expect_err("expired");
    assert_eq!(err.refusal_reason(), Some(RefusalReason::TokenExpired));
    // Not a verdict on the transaction: the status is an error, not `Failed`.
    let err = slot.trx_status(&m, "IDV0001").await.expect_err("expired");
    assert_eq!(err.refusal_reason(), Some(RefusalReason::TokenExpired));
    sim.stop().await;
}

#[tokio::test]
async fn the_status_of_an_unknown_transaction_stays_an_error() {
    let sim = Sim::start(config(), 1).await;
    let slot = sim.client(0);
    let m = number(19);
    sim.login(&slot, &m).await;
    let err = slot
        .trx_status(&m, "IDV-NO-SUCH-TRX")
        .await
        .expect_err("not a verdict on the purchase");
    // "Transaksi tidak ditemukan" says the server does not know the trx_id, not that the
    // purchase failed: reading it as GAGAL could write off a debited purchase. It stays a
    // refusal, so the runtime keeps polling and, at the deadline, keeps the purchase SUSPECT.
    match &err.kind {
        SlotErrorKind::Refused { message, .. } => assert_eq!(message, "Transaksi tidak ditemukan"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let pulsa = slot.balance(&m).await.expect("the session is intact");
    assert_eq!(pulsa.value.pulsa, PULSA);
    sim.stop().await;
}

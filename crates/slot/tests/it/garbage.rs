//! Every way a server can answer badly, and the typed error each becomes: no panic, the request
//! id that was sent, and the raw body wherever there was one.

use std::time::Duration;

use simrotor_domain::{Email, Rupiah};
use simrotor_slot::{
    Call, HttpOptions, HttpSlotClient, Otp, ProtocolProblem, SlotClient, SlotError, SlotErrorKind,
    TransportKind,
};

use crate::helpers::{Act, Stub, client, closed_port_url, msisdn, options};

const HTML: &str = include_str!("../fixtures/garbage/html_error_page.html");
const TRUNCATED: &str = include_str!("../fixtures/garbage/truncated.json");
const PARTIAL: &str = r#"{"req": {"username": "085712345678"}, "res": {"balance": "56"#;

/// One attempt only, so that each error is the answer to one request.
fn once(url: String) -> HttpSlotClient {
    client(HttpOptions {
        retries: 0,
        ..options(url)
    })
}

fn transport(err: &SlotError) -> (TransportKind, bool) {
    match &err.kind {
        SlotErrorKind::Transport {
            kind,
            may_have_reached,
            ..
        } => (*kind, *may_have_reached),
        other => panic!("expected a transport failure, got {other:?}"),
    }
}

fn protocol(what: ProtocolProblem) -> SlotErrorKind {
    SlotErrorKind::Protocol { what }
}

/// The request id on the error is the one the stub received.
fn assert_same_request(stub: &Stub, err: &SlotError) {
    let seen = stub.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(err.request_id.as_deref(), seen[0].header("x-request-id"));
}

#[tokio::test]
async fn an_html_error_page_is_an_unexpected_status_with_the_page_kept() {
    let stub = Stub::always(Act::html(500, HTML)).await;
    let err = once(stub.url()).balance(&msisdn()).await.unwrap_err();
    assert_eq!(err.call, Call::Balance);
    assert_eq!(
        err.kind,
        protocol(ProtocolProblem::UnexpectedStatus { http_status: 500 })
    );
    assert_eq!(err.raw_body(), Some(HTML));
    assert!(
        err.to_string().contains("unexpected HTTP status 500"),
        "{err}"
    );
    assert_same_request(&stub, &err);
}

#[tokio::test]
async fn an_html_page_with_status_200_is_still_not_an_answer() {
    let stub = Stub::always(Act::html(200, HTML)).await;
    let err = once(stub.url()).list_products(&msisdn()).await.unwrap_err();
    assert_eq!(err.kind, protocol(ProtocolProblem::Html));
    assert_eq!(err.raw_body(), Some(HTML));
}

#[tokio::test]
async fn truncated_json_is_a_protocol_error_with_the_fragment_kept() {
    let stub = Stub::always(Act::json(TRUNCATED)).await;
    let err = once(stub.url()).balance(&msisdn()).await.unwrap_err();
    assert_eq!(err.kind, protocol(ProtocolProblem::Truncated));
    assert_eq!(err.raw_body(), Some(TRUNCATED));
}

#[tokio::test]
async fn an_empty_200_is_a_protocol_error_without_a_body() {
    let stub = Stub::always(Act::json("")).await;
    let err = once(stub.url()).balance(&msisdn()).await.unwrap_err();
    assert_eq!(err.kind, protocol(ProtocolProblem::Empty));
    assert_eq!(err.raw_body(), None);
    // The logout's answer was never read by anyone: any 2xx that is not a refusal will do.
    let ack = once(stub.url()).logout(&msisdn()).await.unwrap();
    assert_eq!(ack.value, simrotor_slot::Ack::default());
}

async fn answering(body: &str) -> (Stub, HttpSlotClient) {
    let stub = Stub::always(Act::json(body)).await;
    let slot = once(stub.url());
    (stub, slot)
}

fn assert_missing(err: &SlotError, field: &'static str, body: &str) {
    assert_eq!(
        err.kind,
        protocol(ProtocolProblem::MissingField { field }),
        "{field}"
    );
    assert_eq!(err.raw_body(), Some(body), "{field}");
}

#[tokio::test]
async fn a_200_with_missing_fields_names_the_field() {
    let m = msisdn();

    let body = include_str!("../fixtures/balance_pulsa/missing_balance.json");
    let (_stub, slot) = answering(body).await;
    let err = slot.balance(&m).await.unwrap_err();
    assert_missing(&err, "res.balance", body);

    let body = include_str!("../fixtures/verifyOtp/success_without_token.json");
    let (_stub, slot) = answering(body).await;
    let err = slot.verify_otp(&m, &Otp::new("482913")).await.unwrap_err();
    assert_missing(
        &err,
        "the login token (data.tokenid, token_login or token)",
        body,
    );

    let body = include_str!("../fixtures/trx_idv/missing_trx_id.json");
    let (_stub, slot) = answering(body).await;
    let email = Email::parse("buyer@example.com").unwrap();
    let err = slot
        .buy(&m, "647", &email, Rupiah::new(10_000))
        .await
        .unwrap_err();
    assert_missing(&err, "res.data.trx_id", body);
    assert!(err.may_have_taken_effect(), "an unreadable purchase answer");

    let body = include_str!("../fixtures/status_idv/missing_flag.json");
    let (_stub, slot) = answering(body).await;
    let err = slot.trx_status(&m, "TRX-1").await.unwrap_err();
    assert_missing(&err, "res.data.is_success", body);
}

#[tokio::test]
async fn a_body_that_never_ends_times_out_with_what_arrived_kept() {
    let stub = Stub::always(Act::Stall {
        partial: PARTIAL.into(),
    })
    .await;
    let slot = client(HttpOptions {
        timeout: Duration::from_millis(300),
        retries: 0,
        ..options(stub.url())
    });
    let err = slot.balance(&msisdn()).await.unwrap_err();
    assert_eq!(transport(&err), (TransportKind::TimedOut, true));
    assert_eq!(err.raw_body(), Some(PARTIAL));
    assert_same_request(&stub, &err);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let stub = Stub::always(Act::Silent).await;
    let slot = client(HttpOptions {
        timeout: Duration::from_millis(300),
        retries: 0,
        ..options(stub.url())
    });
    let err = slot.token_location(&msisdn()).await.unwrap_err();
    assert_eq!(transport(&err), (TransportKind::TimedOut, true));
    assert_eq!(err.raw_body(), None);
}

#[tokio::test]
async fn an_endless_body_stops_at_the_size_limit() {
    let stub = Stub::always(Act::Endless).await;
    let limit = 64 * 1024;
    let slot = client(HttpOptions {
        retries: 0,
        max_body_bytes: limit,
        ..options(stub.url())
    });
    let err = slot.balance(&msisdn()).await.unwrap_err();
    assert_eq!(err.kind, protocol(ProtocolProblem::TooLarge { limit }));
    let kept = err.raw_body().unwrap();
    assert_eq!(kept.len(), limit);
    assert!(kept.bytes().all(|b| b == b'x'));
}

#[tokio::test]
async fn an_answer_cut_short_is_a_broken_connection_with_the_fragment_kept() {
    let stub = Stub::always(Act::CutMidAnswer {
        partial: PARTIAL.into(),
    })
    .await;
    let err = once(stub.url()).balance(&msisdn()).await.unwrap_err();
    assert_eq!(transport(&err), (TransportKind::Reset, true));
    assert_eq!(err.raw_body(), Some(PARTIAL));
}

#[tokio::test]
async fn a_reset_mid_answer_is_a_reset_that_may_have_reached() {
    let stub = Stub::always(Act::ResetMidAnswer {
        partial: PARTIAL.into(),
    })
    .await;
    let err = once(stub.url()).balance(&msisdn()).await.unwrap_err();
    assert_eq!(transport(&err), (TransportKind::Reset, true));
    // A reset may discard what was in flight; whatever was kept is what the server sent.
    if let Some(kept) = err.raw_body() {
        assert!(PARTIAL.starts_with(kept), "{kept:?}");
    }
    assert_same_request(&stub, &err);
}

#[tokio::test]
async fn a_connection_dropped_before_any_answer_is_a_reset_that_may_have_reached() {
    for act in [Act::ResetBeforeAnswer, Act::CloseBeforeAnswer] {
        let stub = Stub::always(act.clone()).await;
        let err = once(stub.url()).balance(&msisdn()).await.unwrap_err();
        assert_eq!(transport(&err), (TransportKind::Reset, true), "{act:?}");
        assert_eq!(err.raw_body(), None, "{act:?}");
    }
}

#[tokio::test]
async fn a_closed_port_is_refused_and_certainly_not_reached() {
    let err = once(closed_port_url())
        .balance(&msisdn())
        .await
        .unwrap_err();
    assert_eq!(transport(&err), (TransportKind::ConnectRefused, false));
    assert_eq!(err.raw_body(), None);
    assert!(err.request_id.is_some());
    assert!(!err.may_have_taken_effect());
}

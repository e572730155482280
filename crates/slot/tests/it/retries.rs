//! Which calls are sent again after a failure, how often, and the one that never is: counted at
//! the stub, since a repeat the server does not see did not happen.

use std::time::Duration;

use simrotor_domain::{Email, Pin, Rupiah};
use simrotor_slot::{
    CallGate, HttpOptions, Otp, ProtocolProblem, RefusalReason, SlotClient, SlotErrorKind,
    TransportKind,
};

use crate::helpers::{Act, Stub, client, closed_port_url, msisdn, options};

const HTML: &str = include_str!("../fixtures/garbage/html_error_page.html");
const BALANCE: &str = include_str!("../fixtures/balance_pulsa/success.json");
const ACCEPTED: &str = include_str!("../fixtures/trx_idv/accepted.json");

fn email() -> Email {
    Email::parse("buyer@example.com").unwrap()
}

#[tokio::test]
async fn a_safe_call_is_repeated_until_it_succeeds_under_one_request_id() {
    let stub = Stub::start(|i, _| {
        if i < 2 {
            Act::html(502, HTML)
        } else {
            Act::json(BALANCE)
        }
    })
    .await;
    let reply = client(options(stub.url()))
        .balance(&msisdn())
        .await
        .unwrap();
    assert_eq!(reply.value.pulsa, Rupiah::new(5604));
    let seen = stub.seen();
    assert_eq!(seen.len(), 3);
    for request in &seen {
        assert_eq!(
            request.header("x-request-id"),
            Some(reply.request_id.as_str())
        );
    }
}

#[tokio::test]
async fn repeats_are_bounded_by_the_configured_retries() {
    let stub = Stub::always(Act::html(503, HTML)).await;
    let slot = client(HttpOptions {
        retries: 3,
        ..options(stub.url())
    });
    let err = slot.list_products(&msisdn()).await.unwrap_err();
    assert_eq!(
        err.kind,
        SlotErrorKind::Protocol {
            what: ProtocolProblem::UnexpectedStatus { http_status: 503 }
        }
    );
    assert_eq!(err.raw_body(), Some(HTML));
    assert_eq!(stub.seen().len(), 4, "one call and three repeats");
}

#[tokio::test]
async fn a_closed_gate_stops_the_repeats_but_not_the_first_call() {
    // The runtime's lease on the server lapsed while the call was out: the failure is
    // answered as it is, the server is not called again.
    let stub = Stub::always(Act::html(503, HTML)).await;
    let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let gate = {
        let open = open.clone();
        CallGate::new(move || open.load(std::sync::atomic::Ordering::SeqCst))
    };
    let slot = client(HttpOptions {
        retries: 3,
        ..options(stub.url())
    })
    .gated(gate);
    open.store(false, std::sync::atomic::Ordering::SeqCst);
    let err = slot.list_products(&msisdn()).await.unwrap_err();
    assert_eq!(
        err.kind,
        SlotErrorKind::Protocol {
            what: ProtocolProblem::UnexpectedStatus { http_status: 503 }
        }
    );
    assert_eq!(stub.seen().len(), 1, "no repeat while the gate is closed");
    open.store(true, std::sync::atomic::Ordering::SeqCst);
    slot.list_products(&msisdn()).await.unwrap_err();
    assert_eq!(stub.seen().len(), 5, "an open gate repeats as configured");
}

#[tokio::test]
async fn a_safe_call_is_repeated_after_a_lost_connection() {
    let token = include_str!("../fixtures/token_location3/plain_text.txt");
    let stub = Stub::start(move |i, _| match i {
        0 => Act::ResetBeforeAnswer,
        1 => Act::CutMidAnswer {
            partial: "LOC-".into(),
        },
        _ => Act::text(token),
    })
    .await;
    let reply = client(options(stub.url()))
        .token_location(&msisdn())
        .await
        .unwrap();
    assert_eq!(reply.value.expose(), token);
    assert_eq!(stub.seen().len(), 3);
}

#[tokio::test]
async fn refusals_and_unreadable_200s_are_not_repeated() {
    let expired = include_str!("../fixtures/balance_pulsa/token_expired.json");
    let stub = Stub::always(Act::json(expired)).await;
    let err = client(options(stub.url()))
        .balance(&msisdn())
        .await
        .unwrap_err();
    assert_eq!(err.refusal_reason(), Some(RefusalReason::TokenExpired));
    assert_eq!(stub.seen().len(), 1);

    let truncated = include_str!("../fixtures/garbage/truncated.json");
    let stub = Stub::always(Act::json(truncated)).await;
    let err = client(options(stub.url()))
        .balance(&msisdn())
        .await
        .unwrap_err();
    assert_eq!(
        err.kind,
        SlotErrorKind::Protocol {
            what: ProtocolProblem::Truncated
        }
    );
    assert_eq!(stub.seen().len(), 1);
}

#[tokio::test]
async fn a_purchase_is_never_repeated_and_a_lost_answer_is_outcome_unknown() {
    let cases = [
        (Act::ResetBeforeAnswer, Some(TransportKind::Reset)),
        (
            Act::ResetMidAnswer {
                partial: r#"{"res": {"status": "0", "data": {"trx_id""#.into(),
            },
            Some(TransportKind::Reset),
        ),
        (
            Act::CutMidAnswer {
                partial: r#"{"res": {"status": "0""#.into(),
            },
            Some(TransportKind::Reset),
        ),
        (Act::CloseBeforeAnswer, Some(TransportKind::Reset)),
        (Act::Silent, Some(TransportKind::TimedOut)),
        (Act::html(502, HTML), None),
    ];
    for (act, lost) in cases {
        let stub = Stub::always(act.clone()).await;
        let slot = client(HttpOptions {
            retries: 5,
            timeout: Duration::from_millis(300),
            ..options(stub.url())
        });
        let err = slot
            .buy(&msisdn(), "647", &email(), Rupiah::new(10_000))
            .await
            .unwrap_err();
        assert_eq!(stub.seen().len(), 1, "{act:?} was repeated");
        assert!(err.may_have_taken_effect(), "{act:?}");
        match lost {
            Some(cause) => {
                assert!(
                    matches!(err.kind, SlotErrorKind::OutcomeUnknown { cause: c, .. } if c == cause),
                    "{act:?}: {:?}",
                    err.kind
                );
                assert!(err.to_string().contains("outcome unknown"), "{err}");
            }
            None => assert_eq!(
                err.kind,
                SlotErrorKind::Protocol {
                    what: ProtocolProblem::UnexpectedStatus { http_status: 502 }
                }
            ),
        }
    }
}

#[tokio::test]
async fn a_purchase_that_never_connected_is_not_outcome_unknown() {
    let slot = client(options(closed_port_url()));
    let err = slot
        .buy(&msisdn(), "647", &email(), Rupiah::new(10_000))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.kind,
            SlotErrorKind::Transport {
                kind: TransportKind::ConnectRefused,
                may_have_reached: false,
                ..
            }
        ),
        "{:?}",
        err.kind
    );
    assert!(!err.may_have_taken_effect());
}

#[tokio::test]
async fn an_accepted_purchase_is_sent_once() {
    let stub = Stub::always(Act::json(ACCEPTED)).await;
    let reply = client(options(stub.url()))
        .buy(&msisdn(), "647", &email(), Rupiah::new(10_000))
        .await
        .unwrap();
    assert_eq!(reply.value.trx_id, "TRX-20261124-0001");
    assert_eq!(stub.seen().len(), 1);
}

#[tokio::test]
async fn otp_calls_are_not_repeated_once_they_may_have_been_sent() {
    let m = msisdn();
    let stub = Stub::always(Act::ResetBeforeAnswer).await;
    let slot = client(options(stub.url()));
    let err = slot.verify_otp(&m, &Otp::new("482913")).await.unwrap_err();
    assert!(matches!(
        err.kind,
        SlotErrorKind::Transport {
            kind: TransportKind::Reset,
            may_have_reached: true,
            ..
        }
    ));
    let pin = Pin::parse("123456").unwrap();
    slot.request_otp(&m, &pin).await.unwrap_err();
    slot.transaction_otp(&m, &Otp::new("771204"))
        .await
        .unwrap_err();
    assert_eq!(
        stub.seen()
            .iter()
            .map(|s| s.path.as_str())
            .collect::<Vec<_>>(),
        ["/verifyOtp", "/otp", "/otp_idv"],
        "each sent exactly once"
    );

    let stub = Stub::always(Act::html(502, HTML)).await;
    client(options(stub.url()))
        .request_otp(&m, &pin)
        .await
        .unwrap_err();
    assert_eq!(
        stub.seen().len(),
        1,
        "a second /otp would send a second SMS"
    );
}

#[tokio::test]
async fn calls_to_one_server_are_spaced_by_its_pacing() {
    let stub = Stub::always(Act::json(BALANCE)).await;
    let pacing = Duration::from_millis(200);
    let slot = client(HttpOptions {
        pacing,
        ..options(stub.url())
    });
    slot.balance(&msisdn()).await.unwrap();
    slot.balance(&msisdn()).await.unwrap();
    let seen = stub.seen();
    assert_eq!(seen.len(), 2);
    let gap = seen[1].arrived - seen[0].arrived;
    assert!(gap >= pacing, "only {gap:?} between two calls");
}

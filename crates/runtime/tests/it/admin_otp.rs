//! The admin API's OTP routes and its lifecycle over HTTP, started inside an actix System as the
//! runtime starts it (serving OTPs only: no runtime attached).

use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use simrotor_config::OtpSource;
use simrotor_runtime::http::{self, AdminError, AdminState};
use simrotor_runtime::otp::OtpPurpose;

use crate::helpers::{AdminApi, PATIENCE, hub, number};

const SIM_TEXT: &str =
    "Kode OTP Anda: 123456 untuk masuk ke aplikasi. JANGAN BERIKAN kode ini kepada siapa pun.";

#[actix_web::test]
async fn health_answers_and_unknown_paths_say_what_exists() {
    let api = AdminApi::start(OtpSource::Both).await;
    assert_eq!(api.handle.addr().ip().to_string(), "127.0.0.1");
    assert_ne!(api.handle.addr().port(), 0);
    assert_eq!(api.get("/health").await, (200, json!({"status": "ok"})));
    let (status, body) = api.get("/nope").await;
    assert_eq!(status, 404);
    assert!(
        body["error"].as_str().unwrap().contains("POST /sms"),
        "{body}"
    );
    // The right path with the wrong method is no route either.
    assert_eq!(api.get("/sms").await.0, 404);
    api.handle.stop().await;
}

#[actix_web::test]
async fn a_forwarded_sms_reaches_the_binding_that_waits_for_its_number() {
    let api = AdminApi::start(OtpSource::Both).await;
    let m = number(101);
    let waiter = api.hub.register(9903, &m, OtpPurpose::Login);
    let sms = json!({
        "msisdn": m.local(),
        "message": SIM_TEXT,
        // Received now, by the phone's clock: an SMS received before the wait began is stale.
        "received_at": chrono::Utc::now().to_rfc3339(),
    });
    assert_eq!(
        api.post("/sms", &sms).await,
        (
            200,
            json!({"outcome": "delivered", "server": 9903, "purpose": "login"})
        )
    );
    let old = json!({
        "msisdn": m.local(),
        "message": "Kode OTP Anda: 654321",
        "received_at": "2026-11-24T08:00:00Z",
    });
    let second = api.hub.register(9903, &m, OtpPurpose::Login);
    assert_eq!(
        api.post("/sms", &old).await,
        (200, json!({"outcome": "stale"}))
    );
    drop(second);
    let received = waiter.wait(PATIENCE).await.unwrap();
    assert_eq!(received.otp.expose(), "123456");
    // Consumed: the same SMS again (a forwarder's retry) is acknowledged, not used.
    assert_eq!(
        api.post("/sms", &sms).await,
        (200, json!({"outcome": "duplicate"}))
    );
    api.handle.stop().await;
}

#[actix_web::test]
async fn every_other_sms_outcome_has_its_answer() {
    let api = AdminApi::start(OtpSource::Both).await;
    let m = number(102);
    let _waiter = api.hub.register(9904, &m, OtpPurpose::Transaction);

    let no_code = json!({"msisdn": m.as_str(), "message": "Promo kuota murah!"});
    assert_eq!(
        api.post("/sms", &no_code).await,
        (200, json!({"outcome": "no_code"}))
    );
    let bad = json!({"msisdn": "12345", "message": SIM_TEXT});
    let (status, body) = api.post("/sms", &bad).await;
    assert_eq!(status, 400);
    assert_eq!(body["outcome"], "bad_msisdn");
    assert!(
        body["error"].as_str().unwrap().starts_with("msisdn: "),
        "{body}"
    );
    // A JSON number for the MSISDN, as some forwarder apps send it; no received_at.
    let (status, body) = api
        .post_raw(
            "/sms",
            &format!(r#"{{"msisdn": {}, "message": "OTP 2468"}}"#, m.as_str()),
        )
        .await;
    assert_eq!((status, body["outcome"].clone()), (200, json!("delivered")));
    assert_eq!(body["purpose"], "transaction");
    api.handle.stop().await;
}

#[actix_web::test]
async fn a_body_that_is_not_an_sms_is_refused_without_echoing_it() {
    let api = AdminApi::start(OtpSource::Both).await;
    for body in [
        "",
        "not json",
        r#"{"msisdn": "081200000103"}"#,
        r#"{"msisdn": "081200000103", "message": 864209}"#,
        r#"{"msisdn": "081200000103", "message": "Kode 864209""#,
    ] {
        let (status, answer) = api.post_raw("/sms", body).await;
        assert_eq!(status, 400, "{body}");
        let message = answer["error"].as_str().unwrap();
        assert!(message.starts_with("the body "), "{message}");
        assert!(message.contains("expected {\"msisdn\""), "{message}");
        assert!(!message.contains("864209"), "{message}");
    }
    api.handle.stop().await;
}

#[actix_web::test]
async fn the_body_is_read_whatever_its_content_type() {
    let api = AdminApi::start(OtpSource::Both).await;
    let m = number(104);
    let _waiter = api.hub.register(9905, &m, OtpPurpose::Login);
    let resp = api
        .client
        .post(api.url("/sms"))
        .header("content-type", "text/plain")
        .body(json!({"msisdn": m.as_str(), "message": SIM_TEXT}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["outcome"], "delivered");
    api.handle.stop().await;
}

#[actix_web::test]
async fn the_operator_delivers_a_typed_code_to_a_server() {
    let api = AdminApi::start(OtpSource::Both).await;
    let m = number(105);
    let waiter = api.hub.register(9906, &m, OtpPurpose::Login);

    let (status, body) = api
        .post("/otp", &json!({"server": 9907, "code": "123456"}))
        .await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"error": "server 9907 is not waiting for an OTP"})
        )
    );
    for bad in ["12ab56", "123", "   "] {
        let (status, body) = api
            .post("/otp", &json!({"server": 9906, "code": bad}))
            .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"].as_str().unwrap().starts_with("the code "),
            "{body}"
        );
    }
    // A code as a JSON number would lose its leading zeros: the body is refused.
    let (status, _) = api
        .post("/otp", &json!({"server": 9906, "code": 12345}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(api.hub.waiting().len(), 1, "still waiting after refusals");

    let (status, body) = api
        .post("/otp", &json!({"server": 9906, "code": " 012345 "}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"outcome": "delivered", "server": 9906, "msisdn": m.as_str(), "purpose": "login"})
    );
    assert_eq!(waiter.wait(PATIENCE).await.unwrap().otp.expose(), "012345");
    api.handle.stop().await;
}

#[actix_web::test]
async fn the_waiting_list_shows_each_waiting_server() {
    let api = AdminApi::start(OtpSource::Both).await;
    assert_eq!(api.get("/otp/waiting").await, (200, json!([])));
    let (a, b) = (number(106), number(107));
    let _wa = api.hub.register(9919, &a, OtpPurpose::Login);
    let _wb = api.hub.register(9901, &b, OtpPurpose::Transaction);
    let (status, body) = api.get("/otp/waiting").await;
    assert_eq!(status, 200);
    let listed = body.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["server"], 9901);
    assert_eq!(listed[0]["msisdn"], b.as_str());
    assert_eq!(listed[0]["purpose"], "transaction");
    assert_eq!(listed[1]["server"], 9919);
    assert!(
        chrono::DateTime::parse_from_rfc3339(listed[1]["since"].as_str().unwrap()).is_ok(),
        "{body}"
    );
    assert_eq!(listed[1]["deadline"], Value::Null);
    drop(_wa);
    let (_, body) = api.get("/otp/waiting").await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    api.handle.stop().await;
}

#[actix_web::test]
async fn a_refilled_pool_calls_the_callback() {
    let api = AdminApi::start(OtpSource::Both).await;
    let (status, body) = api.post_raw("/pool/refilled", "").await;
    assert_eq!((status, body), (204, Value::Null));
    api.post_raw("/pool/refilled", "").await;
    assert_eq!(api.refills.load(Ordering::SeqCst), 2);
    api.handle.stop().await;
}

#[actix_web::test]
async fn a_source_that_is_off_is_refused_with_the_setting_named() {
    let operator_only = AdminApi::start(OtpSource::Operator).await;
    let m = number(108);
    let _waiter = operator_only.hub.register(9908, &m, OtpPurpose::Login);
    let (status, body) = operator_only
        .post("/sms", &json!({"msisdn": m.as_str(), "message": SIM_TEXT}))
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["outcome"], "source_off");
    assert!(
        body["error"].as_str().unwrap().contains("otp.source"),
        "{body}"
    );
    operator_only.handle.stop().await;

    let forwarder_only = AdminApi::start(OtpSource::Forwarder).await;
    let _waiter = forwarder_only.hub.register(9908, &m, OtpPurpose::Login);
    let (status, body) = forwarder_only
        .post("/otp", &json!({"server": 9908, "code": "123456"}))
        .await;
    assert_eq!(status, 403);
    assert!(
        body["error"].as_str().unwrap().contains("otp.source"),
        "{body}"
    );
    assert_eq!(forwarder_only.hub.waiting().len(), 1);
    forwarder_only.handle.stop().await;
}

#[actix_web::test]
async fn a_taken_port_is_a_bind_error_and_a_stopped_endpoint_is_gone() {
    let api = AdminApi::start(OtpSource::Both).await;
    let addr = api.handle.addr();
    let err = http::serve(&addr.to_string(), AdminState::new(hub(OtpSource::Both)))
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::Bind { .. }), "{err}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");

    let client = api.client.clone();
    api.handle.stop().await;
    let gone = client.get(format!("http://{addr}/health")).send().await;
    assert!(gone.is_err(), "{gone:?}");
}

#[tokio::test]
async fn it_serves_from_a_plain_tokio_runtime_too() {
    let api = AdminApi::start(OtpSource::Both).await;
    assert_eq!(api.get("/health").await.0, 200);
    // Dropping the handle stops the server as well.
    let addr = api.handle.addr();
    let client = api.client.clone();
    drop(api);
    let mut refused = false;
    // Polls until refused; the bound only keeps a broken stop from hanging the run.
    for _ in 0..600 {
        if client
            .get(format!("http://{addr}/health"))
            .send()
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        refused,
        "the endpoint still answers after its handle was dropped"
    );
}

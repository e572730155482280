//! The admin API's OTP routes: where codes come in from outside (an SMS forwarder posting the
//! SMS a number received, the operator typing a code for a server) and the list of servers
//! waiting for one. They hand everything to the [`OtpHub`](crate::otp::OtpHub); all take JSON:
//!
//! | call | body | answers |
//! |---|---|---|
//! | `POST /sms` | `{"msisdn": "6281…", "message": "…", "received_at": "…"}` (`received_at` optional) | 200 `{"outcome": "delivered", "server": 9903, "purpose": "login"}`, 200 `{"outcome": "no_waiter"}`, 200 `{"outcome": "no_code"}`; 400 `{"outcome": "bad_msisdn", "error": …}`; 403 `{"outcome": "source_off", "error": …}` |
//! | `POST /api/otp` (`POST /otp`) | `{"server": 9903, "code": "123456"}` (the code a JSON string) | 200 `{"outcome": "delivered", "server", "msisdn", "purpose"}`; 400 bad code; 404 `{"error": "server 9903 is not waiting for an OTP"}`; 403 typed codes off |
//! | `GET /api/otp` (`GET /otp/waiting`) | | 200 `[{"server", "msisdn", "purpose", "since", "deadline"}]` |
//!
//! A body that is not the JSON asked for gets 400 `{"error": …}`; the message names the line
//! and column, never the value found there, since that value may be the code. Bodies are read
//! whatever their content type: forwarder apps are not careful about it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::AdminState;
use super::reply::{ApiError, parse_body};
use crate::otp::{DeliverError, IncomingSms, SmsOutcome};

#[derive(Deserialize)]
pub(super) struct OperatorOtp {
    server: u16,
    code: String,
}

pub async fn post_sms(
    state: web::Data<AdminState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let sms: IncomingSms = parse_body(
        &body,
        r#"{"msisdn": "6281234567890", "message": "…", "received_at": "2026-11-24T08:00:00Z"}"#,
    )
    .inspect_err(|_| {
        tracing::warn!("An SMS forwarder posted a body that is not an SMS; it is refused.");
    })?;
    match state.otp.deliver_sms(&sms) {
        SmsOutcome::Delivered(d) => Ok(HttpResponse::Ok().json(json!({
            "outcome": "delivered",
            "server": d.port,
            "purpose": d.purpose,
        }))),
        SmsOutcome::BadMsisdn(err) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("msisdn: {err}"),
        )
        .with_outcome("bad_msisdn")),
        SmsOutcome::SourceOff => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "OTPs from an SMS forwarder are switched off (otp.source = \"operator\")",
        )
        .with_outcome("source_off")),
        // Taken, not used: the forwarder must not retry it.
        other => Ok(HttpResponse::Ok().json(json!({ "outcome": other.name() }))),
    }
}

pub async fn post_otp(
    state: web::Data<AdminState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let typed: OperatorOtp = parse_body(&body, r#"{"server": 9903, "code": "123456"}"#)?;
    match state.otp.deliver_for_server(typed.server, &typed.code) {
        Ok(d) => {
            crate::audit::operator("otp", Some(d.port), None, "operator", "typed the OTP");
            Ok(HttpResponse::Ok().json(json!({
                "outcome": "delivered",
                "server": d.port,
                "msisdn": d.msisdn,
                "purpose": d.purpose,
            })))
        }
        Err(err) => {
            let status = match err {
                DeliverError::NotWaiting { .. } => StatusCode::NOT_FOUND,
                DeliverError::NotAsked { .. } => StatusCode::CONFLICT,
                DeliverError::BadCode(_) => StatusCode::BAD_REQUEST,
                DeliverError::SourceOff => StatusCode::FORBIDDEN,
            };
            Err(ApiError::new(status, err))
        }
    }
}

pub async fn waiting(state: web::Data<AdminState>) -> HttpResponse {
    HttpResponse::Ok().json(state.otp.waiting())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use actix_web::test;
    use simrotor_config::OtpConfig;
    use simrotor_domain::Msisdn;

    use super::*;
    use crate::http::app;
    use crate::otp::{OtpHub, OtpPurpose};

    fn state() -> AdminState {
        AdminState::new(OtpHub::new(&OtpConfig::default()).unwrap())
    }

    #[actix_web::test]
    async fn routes_answer_in_process() {
        let state = state();
        let hub = state.otp.clone();
        let app = test::init_service(app(web::Data::new(state))).await;
        let health: serde_json::Value = test::call_and_read_body_json(
            &app,
            test::TestRequest::get().uri("/health").to_request(),
        )
        .await;
        assert_eq!(health, json!({"status": "ok"}));

        let m = Msisdn::parse("081234567890").unwrap();
        let waiter = hub.register(9903, &m, OtpPurpose::Login);
        let req = test::TestRequest::post()
            .uri("/otp")
            .set_payload(r#"{"server": 9903, "code": "123456"}"#)
            .to_request();
        let resp = test::call_service(&app, req).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            waiter
                .wait(std::time::Duration::from_secs(1))
                .await
                .unwrap()
                .otp
                .expose(),
            "123456"
        );
    }

    #[actix_web::test]
    async fn a_body_of_the_wrong_shape_is_refused_without_echoing_it() {
        let app = test::init_service(app(web::Data::new(state()))).await;
        for body in [
            r#"{"server": 9903, "code": 987654}"#,
            r#"{"server": "987654", "code": "1"}"#,
            r#"{"server": 9903, "code": "987654""#,
            "987654",
        ] {
            let req = test::TestRequest::post()
                .uri("/otp")
                .set_payload(body)
                .to_request();
            let resp = test::call_service(&app, req).await;
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
            let answer: serde_json::Value = test::read_body_json(resp).await;
            let message = answer["error"].as_str().unwrap();
            assert!(message.starts_with("the body "), "{message}");
            assert!(!message.contains("987654"), "{message}");
        }
    }
}

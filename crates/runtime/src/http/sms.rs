//! The forwarder apps' intakes: `POST /sms/<app>` (and `GET`, for the apps that send one), one
//! per app of [`simrotor_sms::App`], beside simrotor's own `POST /sms`.
//!
//! Each request goes the same way: the intake must be open (`[sms.<app>]`; 404 until then);
//! the request must prove it comes from the app (its signature or token with the configured
//! secret, or the admin bearer token; 401 and a log line without the secret otherwise, and the
//! SMS is not used); the app's decoder turns it into neutral SMS (400 naming the field when it
//! cannot); each SMS goes to the [`OtpHub`](crate::otp::OtpHub)'s one matching; a capcom6
//! `app:started` declares its SIMs' channels. Every SMS taken is answered 2xx, used or not —
//! the apps retry anything else, and a retry cannot make an unused SMS useful — with
//! `{"outcome": …, "sms": [{"outcome"}]}` (the reasons are the operator's: `GET /api/sms`);
//! SMSSync gets the reply it
//! requires.
//!
//! | call | answers |
//! |---|---|
//! | `POST /sms/<app>` (`GET` too) | 200 `{"outcome": "delivered", "sms": [{"outcome": "delivered"}]}`; 200 `{"outcome": "unused", "sms": [{"outcome": "no_waiter"}]}`; 200 `{"outcome": "inventory", "channels": 1}`; 200 `{"outcome": "ignored", "why": "…"}`; 400 `{"error"}` a body the app does not send; 401 `{"error"}` bad or missing proof; 404 intake closed or unknown |
//! | `GET /api/sms` | 200 `{"turns": bool, "intakes": [{"app", "open", "proof"}], "channels": [{"device", "slot", "number"}], "waiting": […], "recent": [SmsRecord…]}` |
//! | `POST /api/sms/channels/reload` | 200 `{"channels": n}`: re-reads `[[sms.channels]]` and the database's channels |

use std::collections::BTreeMap;

use actix_web::http::{Method as HttpMethod, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use simrotor_config::{IntakeConfig, SmsConfig};
use simrotor_sms::{App, AuthKind, Decoded, Method, Posted, decode, verify};

use super::AdminState;
use super::guard::{Attached, bearer_matches};
use super::reply::ApiError;
use crate::otp::SmsOutcome;

/// The intakes as configured: which apps are open, with which secret.
#[derive(Debug, Clone, Default)]
pub struct Intakes {
    by_app: BTreeMap<App, IntakeConfig>,
    /// The configuration's own `[[sms.channels]]`, kept for a reload.
    config_channels: Vec<(String, Option<String>, simrotor_domain::Msisdn)>,
}

impl Intakes {
    pub fn from_config(sms: &SmsConfig) -> Self {
        Self {
            by_app: App::ALL
                .into_iter()
                .filter_map(|app| sms.intake(app).map(|i| (app, i.clone())))
                .collect(),
            config_channels: sms
                .channels
                .iter()
                .map(|c| (c.device.clone(), c.slot.clone(), c.number.clone()))
                .collect(),
        }
    }

    fn open(&self, app: App) -> Option<&IntakeConfig> {
        self.by_app.get(&app).filter(|i| i.is_open())
    }
}

fn proof_name(app: App, intake: Option<&IntakeConfig>) -> &'static str {
    match intake.and_then(|i| i.secret.as_ref()) {
        None => "none",
        Some(_) => match app.auth() {
            AuthKind::SmsForwarderSign
            | AuthKind::Capcom6Signature
            | AuthKind::TextbeeSignature
            | AuthKind::HttpsmsJwt => "signature",
            AuthKind::SmssyncSecret => "secret field",
            AuthKind::Token => "token",
        },
    }
}

/// `GET|POST /sms/{app}`.
pub async fn intake(
    state: web::Data<AdminState>,
    req: HttpRequest,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let Some(app) = App::from_name(&name) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no SMS intake {:?}: the apps are {}",
                name.as_str(),
                App::ALL.map(App::name).join(", ")
            ),
        ));
    };
    let Some(intake) = state.intakes.open(app) else {
        tracing::warn!(
            app = app.name(),
            "An SMS came to an intake that is closed; it is refused."
        );
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "the {app} intake is closed: open it with [sms.{app}] secret = \"…\" (or SIMROTOR_SMS__{}__SECRET), see README \"SMS forwarder apps\"",
                app.name().to_ascii_uppercase()
            ),
        ));
    };
    let method = if req.method() == HttpMethod::GET {
        Method::Get
    } else {
        Method::Post
    };
    let mut posted = Posted::new(method, req.query_string(), &body);
    for (name, value) in req.headers() {
        if let Ok(value) = value.to_str() {
            posted = posted.with_header(name.as_str(), value);
        }
    }
    let by_admin_token = state
        .token
        .as_ref()
        .is_some_and(|token| bearer_matches(token, &req));
    if !by_admin_token
        && let Some(secret) = &intake.secret
        && let Err(err) = verify(app, &posted, secret.expose(), state.otp.now())
    {
        let peer = req
            .peer_addr()
            .map_or_else(|| "unknown".to_owned(), |a| a.to_string());
        tracing::warn!(app = app.name(), peer = %peer, problem = %err, "Refused an SMS whose proof does not hold; it is not used.");
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, err));
    }
    let decoded = decode(app, &posted).map_err(|err| {
        tracing::warn!(app = app.name(), problem = %err, "An SMS forwarder app posted a body it does not send; it is refused.");
        ApiError::new(StatusCode::BAD_REQUEST, err)
    })?;
    let answer = match decoded {
        Decoded::Sms(list) => {
            let mut results = Vec::with_capacity(list.len());
            let mut any_delivered = false;
            for sms in list {
                let outcome = state.otp.deliver_incoming(&sms);
                any_delivered |= matches!(outcome, SmsOutcome::Delivered(_));
                results.push(outcome_json(&outcome));
            }
            json!({
                "outcome": if any_delivered { "delivered" } else { "unused" },
                "sms": results,
            })
        }
        Decoded::Inventory { device, cards, .. } => {
            let store = Attached::of(&state).map(|a| a.runtime.store);
            let mut declared = 0usize;
            let declared_before = state.otp.channels();
            for card in &cards {
                let Some(number) = &card.number else { continue };
                // What the operator declared for this slot stays: a device's report never
                // overrides it (a wrong report would send codes to the wrong binding).
                if let Some((_, _, other)) = declared_before.iter().find(|(d, s, m)| {
                    d == &device && s.as_deref() == Some(card.slot.as_str()) && m != number
                }) {
                    tracing::warn!(app = app.name(), device = %device, slot = %card.slot, reported = %number, declared = %other, "A device reports another number for a slot than the declared channel; the declared one stays (simrotor sms channel to change it).");
                    continue;
                }
                state.otp.declare_channel(&device, Some(&card.slot), number);
                if let Some(store) = &store
                    && let Err(err) = store
                        .declare_sms_channel(&device, Some(&card.slot), number, app.name())
                        .await
                {
                    tracing::error!(app = app.name(), device = %device, slot = %card.slot, error = %err, "Cannot keep a reported SIM channel in the database; it holds until the runtime stops.");
                }
                declared += 1;
            }
            tracing::info!(app = app.name(), device = %device, sims = cards.len(), with_number = declared, "A device reported its SIMs; the slots that know their number are declared channels.");
            json!({ "outcome": "inventory", "channels": declared })
        }
        Decoded::Ignored { why } => {
            tracing::debug!(
                app = app.name(),
                why,
                "An SMS forwarder app posted an event that is not an SMS; acknowledged."
            );
            json!({ "outcome": "ignored", "why": why })
        }
    };
    // SMSSync treats anything but its own reply as a failure and retries; the others take any
    // 2xx with our answer.
    Ok(match simrotor_sms::reply(app, true) {
        Some((content_type, body)) => HttpResponse::Ok().content_type(content_type).body(body),
        None => HttpResponse::Ok().json(answer),
    })
}

/// What the app is told of one SMS: its outcome's name only. Who waits, on which server, for
/// which number is the operator's business (`GET /api/sms`), not any poster's.
fn outcome_json(outcome: &SmsOutcome) -> Value {
    json!({ "outcome": outcome.name() })
}

/// `GET /api/sms`: the intakes, the declared channels, who waits (with the turns) and the last
/// SMS per intake, matched or not and why not.
pub async fn view(state: web::Data<AdminState>) -> HttpResponse {
    let intakes: Vec<Value> = App::ALL
        .into_iter()
        .map(|app| {
            let intake = state.intakes.by_app.get(&app);
            json!({
                "app": app.name(),
                "path": app.path(),
                "open": intake.is_some_and(IntakeConfig::is_open),
                "proof": proof_name(app, intake),
            })
        })
        .collect();
    let channels: Vec<Value> = state
        .otp
        .channels()
        .into_iter()
        .map(|(device, slot, number)| json!({"device": device, "slot": slot, "number": number}))
        .collect();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "turns": state.otp.turns(),
            "intakes": intakes,
            "channels": channels,
            "waiting": state.otp.waiting(),
            "recent": state.otp.recent_sms(),
        }))
}

/// `POST /api/sms/channels/reload`: the channels of the configuration and the database, again
/// (after `simrotor sms channel` changed the database).
pub async fn reload_channels(
    state: web::Data<AdminState>,
    at: Attached,
) -> Result<HttpResponse, ApiError> {
    let stored = at.runtime.store.sms_channels().await.map_err(|err| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the SMS channels: {err}"),
        )
    })?;
    let mut all = state.intakes.config_channels.clone();
    all.extend(stored.into_iter().map(|c| (c.device, c.slot, c.msisdn)));
    let n = all.len();
    state.otp.set_channels(all);
    tracing::info!(channels = n, "The declared SMS channels were read again.");
    Ok(HttpResponse::Ok().json(json!({ "channels": n })))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use actix_web::test;
    use chrono::{DateTime, TimeZone, Utc};
    use simrotor_config::{AdminToken, OtpConfig};
    use simrotor_domain::Msisdn;
    use simrotor_sms::fixture::{self, Example};

    use super::*;
    use crate::http::app as admin_app;
    use crate::otp::{OtpHub, OtpPurpose, OtpWaiter};

    /// Five seconds after the examples' SIM received their SMS.
    fn examples_now() -> DateTime<Utc> {
        Utc.timestamp_opt(fixture::RECEIVED_AT + 5, 0).unwrap()
    }

    /// The examples' own proof: the signed apps and SMSSync carry `test-secret`; the apps that
    /// can only add a static header are open without a secret (their examples carry none).
    fn intake_for_example(app: App) -> IntakeConfig {
        match app.auth() {
            AuthKind::Token => IntakeConfig {
                enabled: Some(true),
                secret: None,
            },
            _ => IntakeConfig::with_secret(fixture::SECRET),
        }
    }

    fn state_with(apps: &[(App, IntakeConfig)], token: Option<&str>) -> AdminState {
        let mut sms = SmsConfig::default();
        for (app, intake) in apps {
            sms.set_intake(*app, intake.clone());
        }
        let hub = OtpHub::clocked(&OtpConfig::default(), &sms, Arc::new(examples_now)).unwrap();
        AdminState::new(hub)
            .with_intakes(&sms)
            .with_token(token.map(AdminToken::new))
    }

    fn request(example: &Example, path: &str) -> test::TestRequest {
        let mut req = match example.method {
            Method::Get => test::TestRequest::get().uri(&format!(
                "{path}?{}",
                std::str::from_utf8(example.body).unwrap()
            )),
            Method::Post => test::TestRequest::post()
                .uri(path)
                .set_payload(example.body.to_vec()),
        };
        if let Some(ct) = example.content_type {
            req = req.insert_header((header::CONTENT_TYPE, ct));
        }
        for (name, value) in &example.headers {
            req = req.insert_header((*name, *value));
        }
        req
    }

    fn our_sim() -> Msisdn {
        Msisdn::parse(fixture::RECEIVING).unwrap()
    }

    async fn code_of(waiter: OtpWaiter) -> String {
        waiter
            .wait(Duration::from_millis(200))
            .await
            .map(|r| r.otp.expose().to_owned())
            .unwrap_or_else(|e| format!("no code: {e}"))
    }

    fn sms_examples() -> Vec<(App, Example)> {
        fixture::all()
            .into_iter()
            .filter(|e| !e.name.ends_with("app-started"))
            .filter_map(|e| fixture::app_of(e.name).map(|app| (app, e)))
            .collect()
    }

    #[actix_web::test]
    async fn every_apps_example_request_reaches_the_waiting_binding_once() {
        let examples = sms_examples();
        assert_eq!(
            examples.len(),
            13,
            "one example per app, two for SmsForwarder and Kannel"
        );
        for (app, example) in examples {
            let state = state_with(&[(app, intake_for_example(app))], None);
            let hub = state.otp.clone();
            let service = test::init_service(admin_app(web::Data::new(state))).await;
            let waiter = hub.register(9901, &our_sim(), OtpPurpose::Login);
            waiter.turn().await;
            let resp =
                test::call_service(&service, request(&example, &app.path()).to_request()).await;
            let status = resp.status();
            let answer: Value = test::read_body_json(resp).await;
            assert_eq!(status, StatusCode::OK, "{}: {answer}", example.name);
            if app == App::Smssync {
                assert_eq!(
                    answer,
                    json!({"payload": {"success": true, "error": null}}),
                    "{}",
                    example.name
                );
            } else {
                assert_eq!(answer["outcome"], "delivered", "{}: {answer}", example.name);
                // The app learns the outcome, not who waits where.
                assert_eq!(
                    answer["sms"][0],
                    json!({"outcome": "delivered"}),
                    "{}",
                    example.name
                );
            }
            assert_eq!(code_of(waiter).await, fixture::CODE, "{}", example.name);
            // The app retries: acknowledged, not used for the next wait of the same number.
            let again = hub.register(9901, &our_sim(), OtpPurpose::Login);
            again.turn().await;
            let resp =
                test::call_service(&service, request(&example, &app.path()).to_request()).await;
            assert_eq!(resp.status(), StatusCode::OK, "{}", example.name);
            let recent = hub.recent_sms();
            assert_eq!(recent[0].outcome, "duplicate", "{}", example.name);
            assert_eq!(recent[1].outcome, "delivered", "{}", example.name);
            assert!(
                again.is_queued() || hub.waiting().len() == 1,
                "{}",
                example.name
            );
        }
    }

    #[actix_web::test]
    async fn a_forged_or_unproven_request_is_refused_401_and_the_binding_keeps_waiting() {
        for (app, example) in sms_examples() {
            let state = state_with(&[(app, IntakeConfig::with_secret("another-secret"))], None);
            let hub = state.otp.clone();
            let service = test::init_service(admin_app(web::Data::new(state))).await;
            let waiter = hub.register(9901, &our_sim(), OtpPurpose::Login);
            waiter.turn().await;
            let resp =
                test::call_service(&service, request(&example, &app.path()).to_request()).await;
            let status = resp.status();
            let answer: Value = test::read_body_json(resp).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{}: {answer}",
                example.name
            );
            let message = answer["error"].as_str().unwrap();
            for secret in ["another-secret", fixture::SECRET, fixture::CODE] {
                assert!(!message.contains(secret), "{}: {message}", example.name);
            }
            assert_eq!(hub.waiting().len(), 1, "{}", example.name);
            assert!(
                hub.recent_sms().is_empty(),
                "{}: not even seen",
                example.name
            );
            drop(waiter);
        }
    }

    #[actix_web::test]
    async fn a_changed_byte_breaks_a_signature() {
        for name in ["capcom6-android-sms-gateway", "textbee"] {
            let mut example = fixture::get(name).unwrap();
            let app = fixture::app_of(name).unwrap();
            let forged = String::from_utf8(example.body.to_vec())
                .unwrap()
                .replace("123456", "654321");
            example.body = Box::leak(forged.into_bytes().into_boxed_slice());
            let state = state_with(&[(app, intake_for_example(app))], None);
            let hub = state.otp.clone();
            let service = test::init_service(admin_app(web::Data::new(state))).await;
            let waiter = hub.register(9901, &our_sim(), OtpPurpose::Login);
            let resp =
                test::call_service(&service, request(&example, &app.path()).to_request()).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{name}");
            assert_eq!(hub.waiting().len(), 1, "{name}");
            drop(waiter);
        }
    }

    #[actix_web::test]
    async fn a_token_app_proves_itself_by_the_url_token_and_the_admin_token_is_valid_for_all() {
        let example = fixture::get("gammu-smsd-runonreceive-shim").unwrap();
        let state = state_with(
            &[(App::Gammu, IntakeConfig::with_secret("modem-token-1"))],
            Some("admin-token-0123456789"),
        );
        let hub = state.otp.clone();
        let service = test::init_service(admin_app(web::Data::new(state))).await;
        let waiter = hub.register(9901, &our_sim(), OtpPurpose::Login);
        waiter.turn().await;
        // As it is (no token): refused, though the admin API has a token it does not carry.
        let resp = test::call_service(&service, request(&example, "/sms/gammu").to_request()).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let resp = test::call_service(
            &service,
            request(&example, "/sms/gammu?token=modem-token-1").to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(code_of(waiter).await, fixture::CODE);
        // The admin bearer token is valid for every intake.
        let example = fixture::get("capcom6-android-sms-gateway").unwrap();
        let state = state_with(
            &[(
                App::Capcom6,
                IntakeConfig::with_secret("not-what-it-signed"),
            )],
            Some("admin-token-0123456789"),
        );
        let hub = state.otp.clone();
        let service = test::init_service(admin_app(web::Data::new(state))).await;
        let waiter = hub.register(9901, &our_sim(), OtpPurpose::Login);
        waiter.turn().await;
        let resp = test::call_service(
            &service,
            request(&example, "/sms/capcom6")
                .insert_header((header::AUTHORIZATION, "Bearer admin-token-0123456789"))
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(code_of(waiter).await, fixture::CODE);
    }

    #[actix_web::test]
    async fn an_intake_is_closed_until_configured_and_unknown_apps_are_404() {
        let example = fixture::get("capcom6-android-sms-gateway").unwrap();
        let closed = IntakeConfig {
            enabled: Some(false),
            secret: Some(simrotor_config::ForwarderSecret::new(fixture::SECRET)),
        };
        for apps in [vec![], vec![(App::Capcom6, closed)]] {
            let state = state_with(&apps, None);
            let service = test::init_service(admin_app(web::Data::new(state))).await;
            let resp =
                test::call_service(&service, request(&example, "/sms/capcom6").to_request()).await;
            assert_eq!(resp.status(), StatusCode::NOT_FOUND);
            let answer: Value = test::read_body_json(resp).await;
            assert!(
                answer["error"].as_str().unwrap().contains("[sms.capcom6]"),
                "{answer}"
            );
        }
        let state = state_with(&[], None);
        let service = test::init_service(admin_app(web::Data::new(state))).await;
        let resp =
            test::call_service(&service, request(&example, "/sms/whatsapp").to_request()).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        // Twilio, in the contract but not taken (it serves no physical SIM): its request is
        // refused with the apps that are, and nothing reaches the hub.
        let twilio = fixture::get("twilio-inbound-sms").unwrap();
        assert_eq!(fixture::app_of(twilio.name), None);
        let resp = test::call_service(&service, request(&twilio, "/sms/twilio").to_request()).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let answer: Value = test::read_body_json(resp).await;
        assert!(
            answer["error"].as_str().unwrap().contains("ibnux"),
            "{answer}"
        );
    }

    #[actix_web::test]
    async fn capcom6_app_started_declares_the_sims_that_know_their_number() {
        let example = fixture::get("capcom6-android-sms-gateway-app-started").unwrap();
        let state = state_with(&[(App::Capcom6, intake_for_example(App::Capcom6))], None);
        let hub = state.otp.clone();
        let service = test::init_service(admin_app(web::Data::new(state))).await;
        let resp =
            test::call_service(&service, request(&example, "/sms/capcom6").to_request()).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let answer: Value = test::read_body_json(resp).await;
        assert_eq!(answer, json!({"outcome": "inventory", "channels": 1}));
        assert_eq!(
            hub.channels(),
            [(
                "ffffffffceb0b1db0000018e937c815b".to_owned(),
                Some("1".to_owned()),
                our_sim()
            )]
        );
        // From then on that number needs no turn: its SMS from slot 1 name it.
        let waiter = hub.register(9901, &our_sim(), OtpPurpose::Login);
        assert!(!waiter.is_queued());
    }

    #[actix_web::test]
    async fn a_body_the_app_does_not_send_is_400_without_echoing_it() {
        let state = state_with(&[(App::Dinstar, intake_for_example(App::Dinstar))], None);
        let service = test::init_service(admin_app(web::Data::new(state))).await;
        for body in [
            "Kode OTP Anda: 987654",
            r#"{"sn": "gw", "sms": [{"port": 1, "number": "+62812", "text": 987654}]}"#,
        ] {
            let resp = test::call_service(
                &service,
                test::TestRequest::post()
                    .uri("/sms/dinstar")
                    .insert_header((header::CONTENT_TYPE, "application/json"))
                    .set_payload(body)
                    .to_request(),
            )
            .await;
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
            let answer: Value = test::read_body_json(resp).await;
            assert!(
                !answer["error"].as_str().unwrap().contains("987654"),
                "{answer}"
            );
        }
    }
}

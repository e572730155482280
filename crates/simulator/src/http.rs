//! The HTTP face of the simulated servers: the slot API as the operator's servers speak it
//! (GET, query parameters; the bodies come shaped from the world, see `shapes`), the faults
//! applied around each call, and the `/_sim/…` pages a test or the operator reads (never
//! faulted): the SMS, the ledger, the strikes.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::json;
use simrotor_domain::Msisdn;
use tokio::sync::mpsc;

use crate::calls::CallLog;
use crate::faults;
use crate::shapes::{self, Reply};
use crate::sms::Sms;
use simrotor_domain::Call;

use crate::params::Params;
use crate::world::World;

/// What every worker of every port shares.
#[derive(Debug)]
pub(crate) struct Shared {
    world: Mutex<World>,
    /// To the SMS forwarder, when one is configured.
    forward: Option<mpsc::UnboundedSender<Sms>>,
    calls: Arc<Mutex<CallLog>>,
}

/// The lock's value even after a panic elsewhere: its state is still the best record there is.
pub(crate) fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(
        world: World,
        forward: Option<mpsc::UnboundedSender<Sms>>,
        calls: Arc<Mutex<CallLog>>,
    ) -> Self {
        Self {
            world: Mutex::new(world),
            forward,
            calls,
        }
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        locked(&self.world)
    }

    pub(crate) fn calls(&self) -> MutexGuard<'_, CallLog> {
        locked(&self.calls)
    }
}

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

/// Registers the `/_sim` pages and the slot API on an app.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/_sim/sms", web::get().to(sim_sms))
        .route("/_sim/ledger", web::get().to(sim_ledger))
        .route("/_sim/strikes", web::get().to(sim_strikes))
        .route("/_sim/calls", web::get().to(sim_calls));
}

fn query(req: &HttpRequest) -> Result<Params, String> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| Params::from_pairs(q.into_inner()))
        .map_err(|e| e.to_string())
}

/// Every slot API call: answered, then logged (see [`CallLog`]).
pub(crate) async fn contract(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let arrived = Instant::now();
    if req.method() != Method::GET {
        return faults::error_page(StatusCode::METHOD_NOT_ALLOWED);
    }
    let Some(call) = Call::from_path(req.path()) else {
        return faults::error_page(StatusCode::NOT_FOUND);
    };
    let port = req.app_config().local_addr().port();
    let (response, number) = answer(&req, &shared, call, port).await;
    shared
        .calls()
        .served(port, call, number.as_ref(), arrived, Instant::now());
    response
}

/// One call: faults drawn, the call run on the world, the answer shaped; with the number the
/// call named, for the log.
async fn answer(
    req: &HttpRequest,
    shared: &Shared,
    call: Call,
    port: u16,
) -> (HttpResponse, Option<Msisdn>) {
    let draw = shared.world().draw_faults();
    if !draw.delay.is_zero() {
        actix_rt::time::sleep(draw.delay).await;
    }
    if let Some(status) = draw.server_error {
        tracing::debug!(port, ?call, %status, "A simulated server answers an HTML error page.");
        return (faults::error_page(status), None);
    }
    let params = match query(req) {
        Ok(params) => params,
        Err(err) => {
            let body = shapes::unreadable_query(format!("Parameter tidak valid: {err}"));
            let response = HttpResponse::BadRequest()
                .content_type(JSON)
                .body(body.to_string());
            return (response, None);
        }
    };
    let number = params.get("username").and_then(|u| Msisdn::parse(u).ok());
    let outcome = shared.world().call(
        port,
        call,
        &params,
        Instant::now(),
        Utc::now(),
        draw.lose_answer,
    );
    if let (Some(sms), Some(forward)) = (outcome.sms, &shared.forward) {
        // The receiver lives as long as the simulator; after a stop nothing is left to post to.
        let _ = forward.send(sms);
    }
    if call == Call::Buy && outcome.purchased && draw.lose_answer {
        tracing::debug!(port, "A simulated server loses a purchase's answer.");
        return (faults::lost(), number);
    }
    let (status, content_type, body) = match outcome.reply {
        Reply::Json { http, body } => {
            let status = StatusCode::from_u16(http).unwrap_or(StatusCode::OK);
            let body = body.to_string();
            let body = if draw.malformed {
                tracing::debug!(port, ?call, "A simulated server cuts a JSON answer short.");
                faults::cut_short(body.as_bytes())
            } else {
                body.into()
            };
            (status, JSON, body)
        }
        Reply::Text(text) => (StatusCode::OK, TEXT, text.into()),
    };
    if let Some(delay) = draw.slow {
        tracing::debug!(port, ?call, "A simulated server stalls an answer's body.");
        return (faults::slow(status, content_type, body, delay), number);
    }
    let response = HttpResponse::build(status)
        .content_type(content_type)
        .body(body);
    (response, number)
}

/// `GET /_sim/sms[?username=…]`: the SMS sent, latest first, of one number or of all.
async fn sim_sms(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let params = match query(&req) {
        Ok(params) => params,
        Err(err) => return HttpResponse::BadRequest().json(json!({"error": err})),
    };
    let msisdn = match params.0.get("username").map(|u| Msisdn::parse(u)) {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(err)) => {
            return HttpResponse::BadRequest().json(json!({"error": err.to_string()}));
        }
    };
    HttpResponse::Ok().json(shared.world().sms(msisdn.as_ref()))
}

/// `GET /_sim/ledger`: every executed purchase, in execution order.
async fn sim_ledger(shared: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(shared.world().ledger())
}

/// `GET /_sim/calls`: the calls served, counted by name, and listed when recording.
async fn sim_calls(shared: web::Data<Shared>) -> HttpResponse {
    let report = shared.calls().report();
    HttpResponse::Ok().json(report)
}

/// `GET /_sim/strikes`: the wrong or expired codes sent, in total and per number.
async fn sim_strikes(shared: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(shared.world().strikes())
}

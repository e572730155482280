//! The running runtime's HTTP door (the admin API): the one way other processes reach it.
//!
//! The runtime runs for days in the background; an SMS forwarder posts the SMS the numbers
//! receive, the operator's tools (`simrotor otp`, `servers`, `pause`, `watch`, the web page)
//! ask and steer it, an import tells the pool that new numbers are there, and Prometheus scrapes
//! it. One small actix-web server, bound to loopback by default (`admin.listen`,
//! `127.0.0.1:9800`), serves all of it; beyond loopback it refuses to start without
//! `admin.token`, and with a token every route but the page needs it ([`crate::admin`]). This
//! module holds the server and the OTP routes; [`crate::admin`] the views, actions and metrics
//! (`docs/admin-api.md` documents every route). The OTP routes take JSON:
//!
//! | call | body | answers |
//! |---|---|---|
//! | `POST /sms` | `{"msisdn": "6281…", "message": "…", "received_at": "…"}` (`received_at` optional) | 200 `{"outcome": "delivered", "server": 9903, "purpose": "login"}`, 200 `{"outcome": "no_waiter"}`, 200 `{"outcome": "no_code"}`; 400 `{"outcome": "bad_msisdn", "error": …}`; 403 `{"outcome": "source_off", "error": …}` |
//! | `POST /otp` | `{"server": 9903, "code": "123456"}` (the code a JSON string) | 200 `{"outcome": "delivered", "server", "msisdn", "purpose"}`; 400 bad code; 404 `{"error": "server 9903 is not waiting for an OTP"}`; 403 typed codes off |
//! | `GET /otp/waiting` | | 200 `[{"server", "msisdn", "purpose", "since", "deadline"}]` |
//! | `POST /pool/refilled` | | 204 |
//! | `GET /health` | | 200 `{"status": "ok"}` |
//!
//! A body that is not the JSON asked for gets 400 `{"error": …}`; the message names the line
//! and column, never the value found there, since that value may be the code. Bodies are read
//! whatever their content type: forwarder apps are not careful about it.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use simrotor_config::AdminToken;

use crate::admin::{self, Admin};
use crate::otp::{DeliverError, IncomingSms, OtpHub, SmsOutcome};

/// Where the control endpoint listens unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:9800";
/// An SMS or a typed code is a few hundred bytes; anything near this is not one.
const BODY_LIMIT: usize = 64 * 1024;
/// How long a graceful stop waits for requests in flight.
const SHUTDOWN_TIMEOUT_SECS: u64 = 2;

/// What the control endpoint acts on.
#[derive(Clone)]
pub struct ControlState {
    pub otp: OtpHub,
    /// Called on `POST /pool/refilled`: an import added numbers, idle servers may lease again.
    pub on_pool_refilled: Arc<dyn Fn() + Send + Sync>,
    /// The admin views and actions; without them only the OTP routes answer.
    pub admin: Option<Admin>,
    /// When set, every request but `GET /` must carry it as a bearer token.
    pub token: Option<AdminToken>,
}

impl ControlState {
    /// A state whose pool callback does nothing, for tests and for a runtime without a pool yet.
    pub fn new(otp: OtpHub) -> Self {
        Self {
            otp,
            on_pool_refilled: Arc::new(|| {}),
            admin: None,
            token: None,
        }
    }

    pub fn with_admin(mut self, admin: Admin) -> Self {
        self.admin = Some(admin);
        self
    }

    pub fn with_token(mut self, token: Option<AdminToken>) -> Self {
        self.token = token;
        self
    }

    pub fn with_pool_refilled(mut self, callback: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_pool_refilled = Arc::new(callback);
        self
    }
}

impl fmt::Debug for ControlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControlState")
            .field("otp", &self.otp)
            .field("admin", &self.admin)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// The control endpoint cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot listen for control requests on {addr}: {source}")]
    Bind { addr: String, source: io::Error },
    #[error("cannot start the control endpoint on {addr}: {source}")]
    Start { addr: SocketAddr, source: io::Error },
    #[error(
        "the admin API would listen on {addr}, beyond loopback, without a token: set admin.token (or SIMROTOR_ADMIN__TOKEN)"
    )]
    NoToken { addr: SocketAddr },
}

/// Registers the control routes on an `App` that holds a `web::Data<ControlState>`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sms", web::post().to(post_sms))
        .route("/otp", web::post().to(post_otp))
        .route("/otp/waiting", web::get().to(get_waiting))
        .route("/pool/refilled", web::post().to(post_pool_refilled))
        .route("/health", web::get().to(get_health))
        .configure(admin::routes);
}

/// Binds `addr` (`HOST:PORT`, port 0 for any free one) and serves the control routes until the
/// handle is stopped or dropped. Works inside an actix `System` and in a plain tokio runtime:
/// the server runs as a tokio task, its one worker on a thread of its own.
pub async fn serve(addr: &str, state: ControlState) -> Result<ControlHandle, ControlError> {
    let has_token = state.token.is_some();
    serve_on(bind(addr, has_token)?, state).await
}

/// Binds `addr` first, so that a runtime whose port is taken, or that would listen beyond
/// loopback without a token, stops before any server starts.
pub fn bind(addr: &str, has_token: bool) -> Result<TcpListener, ControlError> {
    let listener = TcpListener::bind(addr).map_err(|source| ControlError::Bind {
        addr: addr.to_owned(),
        source,
    })?;
    let local = listener.local_addr().map_err(|source| ControlError::Bind {
        addr: addr.to_owned(),
        source,
    })?;
    // Beyond loopback anyone who reaches the port could hand codes to bindings or pause
    // servers: refuse to listen there without a token.
    if !local.ip().is_loopback() && !has_token {
        return Err(ControlError::NoToken { addr: local });
    }
    Ok(listener)
}

/// Serves the routes on a listener from [`bind`].
pub async fn serve_on(
    listener: TcpListener,
    state: ControlState,
) -> Result<ControlHandle, ControlError> {
    let local = listener.local_addr().map_err(|source| ControlError::Bind {
        addr: "the bound listener".to_owned(),
        source,
    })?;
    if !local.ip().is_loopback() && state.token.is_none() {
        return Err(ControlError::NoToken { addr: local });
    }
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(BODY_LIMIT))
            .wrap(actix_web::middleware::from_fn(admin::require_token))
            .configure(routes)
            .default_service(web::to(not_found))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
    .listen(listener)
    .map_err(|source| ControlError::Start {
        addr: local,
        source,
    })?
    .run();
    let server_handle = server.handle();
    let task = tokio::spawn(async move {
        if let Err(err) = server.await {
            tracing::error!(addr = %local, error = %err, "The control endpoint stopped with an error.");
        }
    });
    tracing::info!(addr = %local, "The control endpoint listens.");
    Ok(ControlHandle {
        addr: local,
        server: Some(server_handle),
        task: Some(task),
    })
}

/// A running control endpoint. Dropping it stops the server without waiting; [`stop`] waits.
///
/// [`stop`]: ControlHandle::stop
#[derive(Debug)]
pub struct ControlHandle {
    addr: SocketAddr,
    server: Option<ServerHandle>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ControlHandle {
    /// The bound address (the real port when 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR{path}`, e.g. the URL to give an SMS forwarder: `url("/sms")`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops accepting, lets requests in flight finish, and waits until the server is gone.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop(true).await;
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        tracing::info!(addr = %self.addr, "The control endpoint stopped.");
    }
}

impl Drop for ControlHandle {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            // The stop command is sent at once; the returned future only reports completion.
            drop(server.stop(false));
        }
    }
}

#[derive(Deserialize)]
struct OperatorOtp {
    server: u16,
    code: String,
}

pub(crate) fn error(status: StatusCode, message: impl fmt::Display) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": message.to_string() }))
}

/// Reads a JSON body without ever echoing a value from it (it may be the code); the error is
/// the 400 answer.
pub(crate) fn parse_body<T: DeserializeOwned>(
    body: &[u8],
    expected: &str,
) -> Result<T, Box<HttpResponse>> {
    serde_json::from_slice(body).map_err(|err| {
        let problem = match err.classify() {
            serde_json::error::Category::Data => "does not have the expected fields and types",
            serde_json::error::Category::Eof => "ends too early",
            serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                "is not valid JSON"
            }
        };
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!(
                "the body {problem} (line {}, column {}); expected {expected}",
                err.line(),
                err.column()
            ),
        ))
    })
}

async fn post_sms(state: web::Data<ControlState>, body: web::Bytes) -> HttpResponse {
    let sms: IncomingSms = match parse_body(
        &body,
        r#"{"msisdn": "6281234567890", "message": "…", "received_at": "2026-11-24T08:00:00Z"}"#,
    ) {
        Ok(sms) => sms,
        Err(response) => {
            tracing::warn!("An SMS forwarder posted a body that is not an SMS; it is refused.");
            return *response;
        }
    };
    match state.otp.deliver_sms(&sms) {
        SmsOutcome::Delivered(d) => HttpResponse::Ok().json(json!({
            "outcome": "delivered",
            "server": d.port,
            "purpose": d.purpose,
        })),
        SmsOutcome::NoWaiter { .. } => HttpResponse::Ok().json(json!({ "outcome": "no_waiter" })),
        SmsOutcome::NoCode { .. } => HttpResponse::Ok().json(json!({ "outcome": "no_code" })),
        SmsOutcome::BadMsisdn(err) => HttpResponse::BadRequest().json(json!({
            "outcome": "bad_msisdn",
            "error": format!("msisdn: {err}"),
        })),
        SmsOutcome::SourceOff => HttpResponse::Forbidden().json(json!({
            "outcome": "source_off",
            "error": "OTPs from an SMS forwarder are switched off (otp.source = \"operator\")",
        })),
    }
}

pub(crate) async fn post_otp(state: web::Data<ControlState>, body: web::Bytes) -> HttpResponse {
    let typed: OperatorOtp = match parse_body(&body, r#"{"server": 9903, "code": "123456"}"#) {
        Ok(typed) => typed,
        Err(response) => return *response,
    };
    match state.otp.deliver_for_server(typed.server, &typed.code) {
        Ok(d) => {
            crate::audit::operator("otp", Some(d.port), None, "operator", "typed the OTP");
            HttpResponse::Ok().json(json!({
            "outcome": "delivered",
            "server": d.port,
            "msisdn": d.msisdn,
            "purpose": d.purpose,
            }))
        }
        Err(err @ DeliverError::NotWaiting { .. }) => error(StatusCode::NOT_FOUND, err),
        Err(err @ DeliverError::BadCode(_)) => error(StatusCode::BAD_REQUEST, err),
        Err(err @ DeliverError::SourceOff) => error(StatusCode::FORBIDDEN, err),
    }
}

pub(crate) async fn get_waiting(state: web::Data<ControlState>) -> HttpResponse {
    HttpResponse::Ok().json(state.otp.waiting())
}

async fn post_pool_refilled(state: web::Data<ControlState>) -> HttpResponse {
    tracing::info!("The pool was refilled; idle servers are woken.");
    (state.on_pool_refilled)();
    HttpResponse::NoContent().finish()
}

async fn get_health(state: web::Data<ControlState>) -> HttpResponse {
    admin::health(&state).await
}

async fn not_found() -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint (see docs/admin-api.md: GET /, /health, /metrics, /api/servers, /api/otp, /api/batches, /api/suspects; POST /sms, /api/otp, /api/servers/PORT/ACTION)",
    )
}

#[cfg(test)]
mod tests {
    use actix_web::test;
    use simrotor_config::OtpConfig;
    use simrotor_domain::Msisdn;

    use super::*;
    use crate::otp::OtpPurpose;

    fn state() -> ControlState {
        ControlState::new(OtpHub::new(&OtpConfig::default()).unwrap())
    }

    #[actix_web::test]
    async fn routes_answer_in_process() {
        let state = state();
        let hub = state.otp.clone();
        let app =
            test::init_service(App::new().app_data(web::Data::new(state)).configure(routes)).await;
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
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(state()))
                .configure(routes),
        )
        .await;
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

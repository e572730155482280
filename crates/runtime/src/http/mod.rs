//! The running runtime's admin API: the one HTTP door other processes reach it through.
//!
//! The runtime runs for days in the background; an SMS forwarder posts the SMS the numbers
//! receive, the operator's tools (`simrotor otp`, `servers`, `pause`, `watch`, the web page)
//! ask and steer it, an import tells the pool that new numbers are there, and Prometheus scrapes
//! it. One small actix-web server, bound to loopback by default (`admin.listen`,
//! `127.0.0.1:9800`), serves all of it; beyond loopback it refuses to start without
//! `admin.token`. `docs/admin-api.md` documents every route.
//!
//! - this module: the state, binding and serving, the route table;
//! - [`guard`]: who may use it (token, cross-site, literal host, the runtime attached);
//! - [`reply`]: the one shape of every error answer, actix-web's own included;
//! - [`otp`]: `POST /sms`, the operator's OTP, the waiting list;
//! - [`sms`]: the forwarder apps' intakes `/sms/<app>`, the SMS view, the channels' reload;
//! - [`admin`]: the views, the actions, `/metrics`, `/health` and the page;
//! - [`books`]: the vouchers, a number's history, the hourly series.

mod admin;
mod books;
#[cfg(test)]
mod fuzz;
mod guard;
mod otp;
mod reply;
mod sms;

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix::Addr;
use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, middleware, web};
use chrono::{DateTime, Utc};
use simrotor_config::AdminToken;
use simrotor_persistence::Store;

pub use admin::{ServerView, server_views};
pub use sms::Intakes;

use reply::ApiError;

use crate::metrics::Metrics;
use crate::otp::OtpHub;
use crate::supervisor::Supervisor;

/// Where the admin API listens unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:9800";
/// An SMS or a typed code is a few hundred bytes; anything near this is not one.
const BODY_LIMIT: usize = 64 * 1024;
/// How long a graceful stop waits for requests in flight.
const SHUTDOWN_TIMEOUT_SECS: u64 = 2;

/// The runtime's parts the views and actions read; without them only the OTP routes answer.
#[derive(Clone)]
pub struct AdminRuntime {
    pub supervisor: Addr<Supervisor>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub started_at: DateTime<Utc>,
}

impl fmt::Debug for AdminRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminRuntime")
            .field("started_at", &self.started_at)
            .finish_non_exhaustive()
    }
}

/// What the admin API acts on.
#[derive(Clone)]
pub struct AdminState {
    pub otp: OtpHub,
    /// Called on `POST /pool/refilled`: an import added numbers, idle servers may lease again.
    pub on_pool_refilled: Arc<dyn Fn() + Send + Sync>,
    /// The views and actions' parts; without them only the OTP routes answer.
    pub runtime: Option<AdminRuntime>,
    /// When set, every request but `GET /` must carry it as a bearer token (the app intakes
    /// take it too, beside their own proof).
    pub token: Option<AdminToken>,
    /// The forwarder apps' intakes: which are open, with which secret. Their signatures'
    /// windows are checked by the hub's clock.
    pub intakes: Intakes,
}

impl AdminState {
    /// A state whose pool callback does nothing, for tests and for a runtime without a pool yet.
    pub fn new(otp: OtpHub) -> Self {
        Self {
            otp,
            on_pool_refilled: Arc::new(|| {}),
            runtime: None,
            token: None,
            intakes: Intakes::default(),
        }
    }

    /// Opens the intakes `[sms]` configures.
    pub fn with_intakes(mut self, sms: &simrotor_config::SmsConfig) -> Self {
        self.intakes = Intakes::from_config(sms);
        self
    }

    pub fn with_runtime(mut self, runtime: AdminRuntime) -> Self {
        self.runtime = Some(runtime);
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

impl fmt::Debug for AdminState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminState")
            .field("otp", &self.otp)
            .field("runtime", &self.runtime)
            .field("token", &self.token)
            .field("intakes", &self.intakes)
            .finish_non_exhaustive()
    }
}

/// The admin API cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot listen for admin requests on {addr}: {source}")]
    Bind { addr: String, source: io::Error },
    #[error("cannot start the admin API on {addr}: {source}")]
    Start { addr: SocketAddr, source: io::Error },
    #[error(
        "the admin API would listen on {addr}, beyond loopback, without a token: set admin.token (or SIMROTOR_ADMIN__TOKEN)"
    )]
    NoToken { addr: SocketAddr },
}

/// The route table: every route of the admin API, and which handler answers it.
fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(admin::page))
        .route("/health", web::get().to(admin::health))
        .route("/metrics", web::get().to(admin::metrics))
        // OTPs, under their names and their older ones (`/otp`, `/otp/waiting`).
        .route("/sms", web::post().to(otp::post_sms))
        .route("/sms/{app}", web::post().to(sms::intake))
        .route("/sms/{app}", web::get().to(sms::intake))
        .route("/api/sms", web::get().to(sms::view))
        .route(
            "/api/sms/channels/reload",
            web::post().to(sms::reload_channels),
        )
        .route("/api/otp", web::get().to(otp::waiting))
        .route("/api/otp", web::post().to(otp::post_otp))
        .route("/otp", web::post().to(otp::post_otp))
        .route("/otp/waiting", web::get().to(otp::waiting))
        // The operator's views and actions.
        .route("/api/servers", web::get().to(admin::servers))
        .route(
            "/api/servers/{port}/{action}",
            web::post().to(admin::action),
        )
        .route("/api/batches", web::get().to(admin::batches))
        .route("/api/today", web::get().to(admin::today))
        .route("/api/suspects", web::get().to(admin::suspects))
        .route("/api/suspects/{id}/resolve", web::post().to(admin::resolve))
        .route("/api/vouchers", web::get().to(books::vouchers))
        .route("/api/history/{msisdn}", web::get().to(books::history))
        .route("/api/hourly", web::get().to(books::hourly))
        .route("/pool/refilled", web::post().to(admin::pool_refilled));
}

/// Any method and path the table does not have (a known path with another method too).
async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint (see docs/admin-api.md: GET /, /health, /metrics, /api/servers, /api/otp, /api/sms, /api/batches, /api/suspects, /api/vouchers, /api/history/MSISDN, /api/hourly; POST /sms, /sms/APP, /api/otp, /api/servers/PORT/ACTION)",
    ))
}

/// The whole app: the state, the extractors' error answers, the guard, the routes.
pub(crate) fn app(
    state: web::Data<AdminState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .app_data(web::PayloadConfig::new(BODY_LIMIT))
        .app_data(
            web::JsonConfig::default()
                .limit(BODY_LIMIT)
                .error_handler(reply::json_error),
        )
        .app_data(
            web::FormConfig::default()
                .limit(BODY_LIMIT)
                .error_handler(reply::form_error),
        )
        .app_data(web::QueryConfig::default().error_handler(reply::query_error))
        .app_data(web::PathConfig::default().error_handler(reply::path_error))
        .wrap(middleware::from_fn(guard::admit))
        .wrap(reply::fallback())
        .configure(routes)
        .default_service(web::to(not_found))
}

/// Binds `addr` (`HOST:PORT`, port 0 for any free one) and serves the admin API until the
/// handle is stopped or dropped. Works inside an actix `System` and in a plain tokio runtime:
/// the server runs as a tokio task, its one worker on a thread of its own.
pub async fn serve(addr: &str, state: AdminState) -> Result<AdminHandle, AdminError> {
    let has_token = state.token.is_some();
    serve_on(bind(addr, has_token)?, state).await
}

/// Binds `addr` first, so that a runtime whose port is taken, or that would listen beyond
/// loopback without a token, stops before any server starts.
pub fn bind(addr: &str, has_token: bool) -> Result<TcpListener, AdminError> {
    let listener = TcpListener::bind(addr).map_err(|source| AdminError::Bind {
        addr: addr.to_owned(),
        source,
    })?;
    let local = listener.local_addr().map_err(|source| AdminError::Bind {
        addr: addr.to_owned(),
        source,
    })?;
    // Beyond loopback anyone who reaches the port could hand codes to bindings or pause
    // servers: refuse to listen there without a token.
    if !local.ip().is_loopback() && !has_token {
        return Err(AdminError::NoToken { addr: local });
    }
    Ok(listener)
}

/// Serves the admin API on a listener from [`bind`].
pub async fn serve_on(listener: TcpListener, state: AdminState) -> Result<AdminHandle, AdminError> {
    let local = listener.local_addr().map_err(|source| AdminError::Bind {
        addr: "the bound listener".to_owned(),
        source,
    })?;
    if !local.ip().is_loopback() && state.token.is_none() {
        return Err(AdminError::NoToken { addr: local });
    }
    let data = web::Data::new(state);
    let server = HttpServer::new(move || app(data.clone()))
        .workers(1)
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .listen(listener)
        .map_err(|source| AdminError::Start {
            addr: local,
            source,
        })?
        .run();
    let server_handle = server.handle();
    let task = tokio::spawn(async move {
        if let Err(err) = server.await {
            tracing::error!(addr = %local, error = %err, "The admin API stopped with an error.");
        }
    });
    tracing::info!(addr = %local, "The admin API listens.");
    Ok(AdminHandle {
        addr: local,
        server: Some(server_handle),
        task: Some(task),
    })
}

/// A running admin API. Dropping it stops the server without waiting; [`stop`] waits.
///
/// [`stop`]: AdminHandle::stop
#[derive(Debug)]
pub struct AdminHandle {
    addr: SocketAddr,
    server: Option<ServerHandle>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl AdminHandle {
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
        tracing::info!(addr = %self.addr, "The admin API stopped.");
    }
}

impl Drop for AdminHandle {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            // The stop command is sent at once; the returned future only reports completion.
            drop(server.stop(false));
        }
    }
}

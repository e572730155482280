//! The admin API: what the operator's tools (the CLI verbs, `simrotor watch`, the web page, a
//! Prometheus scraper) ask the running runtime. Live state comes from where it lives — the
//! servers' rows and open bindings from the database, the operator's modes from the
//! Supervisor, the OTP queue from the OtpHub — so every view agrees with `simrotor recap`.
//! The routes and their JSON are documented in `docs/admin-api.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use actix::Addr;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use simrotor_config::AdminToken;
use simrotor_domain::Rupiah;
use simrotor_persistence::{ServerOverview, Store, StoreError};

use crate::audit;
use crate::control::{ControlState, error, parse_body};
use crate::metrics::Metrics;
use crate::otp::{OtpHub, Waiting};
use crate::supervisor::{Action, Operate, OperateError, SlotView, SlotViews, Supervisor};

/// The page at `/`: one file, no build step; it polls `/api/servers` and posts OTPs.
const PAGE: &str = include_str!("admin/page.html");

/// What the admin routes need beyond the control endpoint's OTP hub.
#[derive(Clone)]
pub struct Admin {
    pub supervisor: Addr<Supervisor>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub started_at: DateTime<Utc>,
}

impl fmt::Debug for Admin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admin")
            .field("started_at", &self.started_at)
            .finish_non_exhaustive()
    }
}

/// One server as the operator sees it (`docs/admin-api.md`, ServerView).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServerView {
    pub port: u16,
    pub enabled: bool,
    pub state: String,
    pub mode: String,
    pub state_reason: Option<String>,
    pub device_id: Option<String>,
    pub binding: Option<i64>,
    pub msisdn: Option<String>,
    pub batch: Option<String>,
    pub binding_state: Option<String>,
    pub pulsa: Option<Rupiah>,
    pub purchases: u64,
    pub step_since: Option<DateTime<Utc>>,
    pub waiting_otp_since: Option<DateTime<Utc>>,
    pub otp_purpose: Option<String>,
    pub restarts: u32,
}

/// Joins the three sources into the operator's view; servers waiting for an OTP first.
pub fn server_views(
    rows: Vec<ServerOverview>,
    slots: &[SlotView],
    waiting: &[Waiting],
) -> Vec<ServerView> {
    let slots: BTreeMap<u16, &SlotView> = slots.iter().map(|s| (s.port, s)).collect();
    let mut views: Vec<ServerView> = rows
        .into_iter()
        .map(|row| {
            let slot = slots.get(&row.port);
            let wait = waiting.iter().find(|w| w.port == row.port);
            let b = row.binding.as_ref();
            ServerView {
                port: row.port,
                enabled: row.enabled && slot.is_none_or(|s| s.mode != "disabled"),
                state: row.state.to_string(),
                mode: slot.map_or("off", |s| s.mode).to_owned(),
                state_reason: row.state_reason.clone(),
                device_id: row.device_id.clone(),
                binding: b.map(|b| b.id),
                msisdn: b.map(|b| b.msisdn.clone()),
                batch: b.map(|b| b.batch.clone()),
                binding_state: b.map(|b| b.state.clone()),
                pulsa: b.and_then(|b| b.pulsa),
                purchases: b.map_or(0, |b| b.purchases),
                step_since: b.map(|b| b.step_since),
                waiting_otp_since: wait.map(|w| w.since),
                otp_purpose: wait.map(|w| w.purpose.as_str().to_owned()),
                restarts: slot.map_or(0, |s| s.restarts),
            }
        })
        .collect();
    views.sort_by_key(|v| (v.waiting_otp_since.is_none(), v.waiting_otp_since, v.port));
    views
}

/// Registers the admin routes on an `App` holding a `web::Data<ControlState>`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(get_page))
        .route("/metrics", web::get().to(get_metrics))
        .route("/api/servers", web::get().to(get_servers))
        .route("/api/servers/{port}/{action}", web::post().to(post_action))
        .route("/api/otp", web::get().to(crate::control::get_waiting))
        .route("/api/otp", web::post().to(crate::control::post_otp))
        .route("/api/batches", web::get().to(get_batches))
        .route("/api/today", web::get().to(get_today))
        .route("/api/suspects", web::get().to(get_suspects))
        .route("/api/suspects/{id}/resolve", web::post().to(post_resolve));
}

/// Whether a browser sent this request from another site (its `Origin` names another host than
/// the one it asked): a page the operator happens to open must not steer the runtime.
fn cross_site(req: &ServiceRequest) -> bool {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        // Not a browser's cross-site request: the CLI, curl, an SMS forwarder app.
        return false;
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    !origin_host.eq_ignore_ascii_case(host)
}

/// Whether the `Host` asked for is an address or `localhost`, not a name some DNS could point
/// at us (DNS rebinding would let a web page read the API without a token).
fn host_is_literal(req: &ServiceRequest) -> bool {
    let Some(host) = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

fn refuse(req: ServiceRequest, status: StatusCode, why: &str) -> ServiceResponse<BoxBody> {
    let peer = req
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.to_string());
    tracing::warn!(peer = %peer, method = %req.method(), path = req.path(), why, "Refused an admin request.");
    let message = match status {
        StatusCode::UNAUTHORIZED => format!("{why}: send `Authorization: Bearer <admin.token>`"),
        _ => why.to_owned(),
    };
    req.into_response(error(status, message))
}

/// The door's rules, on every request: no cross-site browser requests; without a token, only a
/// literal `Host` (the API is then open to whoever reaches loopback, so no web page may reach it
/// by a DNS name); with a token, the bearer token on every route but the page, which holds no
/// data. Compared in constant time; the token never reaches a log line.
pub async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if cross_site(&req) {
        return Ok(refuse(
            req,
            StatusCode::FORBIDDEN,
            "a cross-site request (its Origin is another site)",
        ));
    }
    let token = req
        .app_data::<web::Data<ControlState>>()
        .and_then(|s| s.token.clone());
    let Some(token) = token else {
        if !host_is_literal(&req) {
            return Ok(refuse(
                req,
                StatusCode::FORBIDDEN,
                "a Host that is a name, not an address (set admin.token to use names)",
            ));
        }
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    };
    if req.method() == actix_web::http::Method::GET && req.path() == "/" {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if presented.is_some_and(|p| token_matches(&token, p)) {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    }
    let why = if presented.is_none() {
        "no bearer token"
    } else {
        "a wrong bearer token"
    };
    Ok(refuse(req, StatusCode::UNAUTHORIZED, why))
}

fn token_matches(token: &AdminToken, presented: &str) -> bool {
    let (a, b) = (token.expose().as_bytes(), presented.as_bytes());
    // No early exit on the first differing byte: the time says nothing about the token.
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn admin(state: &ControlState) -> Result<&Admin, Box<HttpResponse>> {
    state.admin.as_ref().ok_or_else(|| {
        Box::new(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this endpoint serves OTPs only; the runtime's admin views are not attached",
        ))
    })
}

fn store_error(e: StoreError) -> HttpResponse {
    tracing::error!(error = %e, "An admin request failed on the database.");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("the database: {e}"),
    )
}

async fn get_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(PAGE)
}

/// The health check: the process answers, the database answers, and what the servers do.
pub async fn health(state: &ControlState) -> HttpResponse {
    let Some(admin) = state.admin.as_ref() else {
        return HttpResponse::Ok().json(json!({ "status": "ok" }));
    };
    match admin.store.server_overview().await {
        Ok(rows) => {
            let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
            for row in &rows {
                *by_state.entry(row.state.to_string()).or_default() += 1;
            }
            let now = Utc::now();
            HttpResponse::Ok().json(json!({
                "status": "ok",
                "pid": std::process::id(),
                "started_at": admin.started_at,
                "uptime_secs": (now - admin.started_at).num_seconds().max(0),
                "servers": by_state,
                "waiting_otp": state.otp.waiting().len(),
            }))
        }
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database does not answer: {e}"),
        ),
    }
}

async fn views(admin: &Admin, otp: &OtpHub) -> Result<Vec<ServerView>, Box<HttpResponse>> {
    let rows = admin
        .store
        .server_overview()
        .await
        .map_err(|e| Box::new(store_error(e)))?;
    let slots = admin.supervisor.send(SlotViews).await.map_err(|_| {
        Box::new(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the runtime is stopping",
        ))
    })?;
    Ok(server_views(rows, &slots, &otp.waiting()))
}

async fn get_servers(state: web::Data<ControlState>) -> HttpResponse {
    let admin = match admin(&state) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    match views(admin, &state.otp).await {
        Ok(v) => HttpResponse::Ok().json(v),
        Err(r) => *r,
    }
}

/// Who acted and why, for the audit trail. Both optional for server actions.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Note {
    #[serde(default)]
    who: Option<String>,
    #[serde(default)]
    why: Option<String>,
}

fn note(body: &[u8], expected: &str) -> Result<Note, Box<HttpResponse>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Note::default());
    }
    parse_body(body, expected)
}

async fn post_action(
    state: web::Data<ControlState>,
    path: web::Path<(u16, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let admin = match admin(&state) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let (port, action) = path.into_inner();
    let action: Action = match action.parse() {
        Ok(a) => a,
        Err(e) => return error(StatusCode::NOT_FOUND, e),
    };
    let note = match note(&body, r#"{"who": "budi", "why": "…"}"#) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    match admin.supervisor.send(Operate { port, action }).await {
        Ok(Ok(())) => {}
        Ok(Err(e @ OperateError::UnknownServer(_))) => return error(StatusCode::NOT_FOUND, e),
        Ok(Err(e @ OperateError::NotNow { .. })) => return error(StatusCode::CONFLICT, e),
        Err(_) => return error(StatusCode::SERVICE_UNAVAILABLE, "the runtime is stopping"),
    }
    audit::operator(
        action.as_str(),
        Some(port),
        None,
        note.who.as_deref().unwrap_or("operator"),
        note.why.as_deref().unwrap_or(""),
    );
    match views(admin, &state.otp).await {
        Ok(v) => match v.into_iter().find(|v| v.port == port) {
            Some(view) => HttpResponse::Ok().json(view),
            None => error(StatusCode::NOT_FOUND, format!("server {port} is not known")),
        },
        Err(r) => *r,
    }
}

async fn get_batches(state: web::Data<ControlState>) -> HttpResponse {
    let admin = match admin(&state) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    match admin.store.recap(None).await {
        Ok(recap) => HttpResponse::Ok().json(recap),
        Err(e) => store_error(e),
    }
}

/// Since the start of the operator's day (local midnight of the machine the runtime runs on).
async fn get_today(state: web::Data<ControlState>) -> HttpResponse {
    let admin = match admin(&state) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let midnight = chrono::Local::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
    match admin.store.totals_since(midnight).await {
        Ok(totals) => HttpResponse::Ok().json(totals),
        Err(e) => store_error(e),
    }
}

#[derive(Debug, Deserialize)]
struct SuspectsQuery {
    #[serde(default)]
    all: bool,
}

async fn get_suspects(
    state: web::Data<ControlState>,
    query: web::Query<SuspectsQuery>,
) -> HttpResponse {
    let admin = match admin(&state) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    match admin.store.suspects(query.all).await {
        Ok(list) => HttpResponse::Ok().json(list),
        Err(e) => store_error(e),
    }
}

async fn post_resolve(
    state: web::Data<ControlState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let admin = match admin(&state) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let id = id.into_inner();
    let expected = r#"{"who": "budi", "why": "voucher seen in the telco portal"}"#;
    let note = match note(&body, expected) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let (Some(who), Some(why)) = (note.who, note.why) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("say who resolves it and why: {expected}"),
        );
    };
    match admin.store.resolve_suspect(id, &who, &why).await {
        Ok(suspect) => {
            audit::operator("resolve", suspect.server, Some(id), &who, &why);
            HttpResponse::Ok().json(suspect)
        }
        Err(e @ StoreError::TransactionNotFound { .. }) => error(StatusCode::NOT_FOUND, e),
        Err(e @ (StoreError::NotSuspect { .. } | StoreError::AlreadyResolved { .. })) => {
            error(StatusCode::CONFLICT, e)
        }
        Err(e @ StoreError::Invalid { .. }) => error(StatusCode::BAD_REQUEST, e),
        Err(e) => store_error(e),
    }
}

async fn get_metrics(state: web::Data<ControlState>) -> HttpResponse {
    let admin = match admin(&state) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let rows = match admin.store.server_overview().await {
        Ok(rows) => rows,
        Err(e) => return store_error(e),
    };
    let pool = match admin.store.available_by_batch().await {
        Ok(pool) => pool,
        Err(e) => return store_error(e),
    };
    let mut by_state: BTreeMap<String, i64> = BTreeMap::new();
    for row in &rows {
        *by_state.entry(row.state.to_string()).or_default() += 1;
    }
    admin
        .metrics
        .set_gauges(by_state.iter().map(|(s, n)| (s.as_str(), *n)), pool);
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(admin.metrics.render())
}

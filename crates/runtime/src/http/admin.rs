//! The admin API's views and actions: what the operator's tools (the CLI verbs, `simrotor
//! watch`, the web page, a Prometheus scraper) ask the running runtime, and what they tell it.
//! Live state comes from where it lives — the servers' rows and open bindings from the
//! database, the operator's modes from the Supervisor, the OTP queue from the OtpHub — so
//! every view agrees with `simrotor recap`. The routes and their JSON are documented in
//! `docs/admin-api.md`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use simrotor_domain::Rupiah;
use simrotor_persistence::{ServerOverview, StoreError};

use super::AdminState;
use super::guard::Attached;
use super::reply::{ApiError, parse_body};
use crate::audit;
use crate::otp::Waiting;
use crate::supervisor::{Action, ModeView, ModeViews, Operate, OperateError};

/// The page at `/`: one file, no build step. It polls `/api/servers` (and posts OTPs) every 2 s,
/// and the books (`/api/batches`, `/api/hourly`, `/api/suspects`, `/api/today`) every 15 s.
const PAGE: &str = include_str!("page.html");

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
    /// `"holding"` the turn for an SMS that names no SIM, or `"queued"` for it (it has not
    /// asked for its code yet); absent when its SMS is named.
    #[serde(default)]
    pub otp_turn: Option<String>,
    /// For a queued server: how many wait for the turn before it.
    #[serde(default)]
    pub otp_ahead: Option<usize>,
    pub restarts: u32,
    /// The runtime whose lease holds the server (several may share the database).
    #[serde(default)]
    pub owner: Option<String>,
    /// Milliseconds until that lease expires unless renewed (negative: its owner is gone).
    #[serde(default)]
    pub lease_expires_in_ms: Option<i64>,
}

/// Joins the three sources into the operator's view; servers waiting for an OTP first.
pub fn server_views(
    rows: Vec<ServerOverview>,
    modes: &[ModeView],
    waiting: &[Waiting],
) -> Vec<ServerView> {
    let modes: BTreeMap<u16, &ModeView> = modes.iter().map(|s| (s.port, s)).collect();
    let mut views: Vec<ServerView> = rows
        .into_iter()
        .map(|row| {
            let supervised = modes.get(&row.port);
            let wait = waiting.iter().find(|w| w.port == row.port);
            let b = row.binding.as_ref();
            ServerView {
                port: row.port,
                enabled: row.enabled && supervised.is_none_or(|s| s.mode != "disabled"),
                state: row.state.to_string(),
                mode: supervised.map_or("off", |s| s.mode).to_owned(),
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
                otp_turn: wait.and_then(|w| w.turn.clone()),
                otp_ahead: wait.and_then(|w| w.ahead),
                restarts: supervised.map_or(0, |s| s.restarts),
                owner: row.owner.clone(),
                lease_expires_in_ms: row.lease_expires_in_ms,
            }
        })
        .collect();
    views.sort_by_key(|v| (v.waiting_otp_since.is_none(), v.waiting_otp_since, v.port));
    views
}

pub(super) fn store_error(e: StoreError) -> ApiError {
    tracing::error!(error = %e, "An admin request failed on the database.");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("the database: {e}"),
    )
}

fn stopping() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the runtime is stopping")
}

pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(PAGE)
}

/// The health check: the process answers, the database answers, and what the servers do.
pub async fn health(state: web::Data<AdminState>) -> Result<HttpResponse, ApiError> {
    let Some(runtime) = state.runtime.as_ref() else {
        return Ok(HttpResponse::Ok().json(json!({ "status": "ok" })));
    };
    let rows = runtime.store.server_overview().await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database does not answer: {e}"),
        )
    })?;
    let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
    for row in &rows {
        *by_state.entry(row.state.to_string()).or_default() += 1;
    }
    let now = Utc::now();
    Ok(HttpResponse::Ok().json(json!({
        "status": "ok",
        "pid": std::process::id(),
        "started_at": runtime.started_at,
        "uptime_secs": (now - runtime.started_at).num_seconds().max(0),
        "servers": by_state,
        "waiting_otp": state.otp.waiting().len(),
    })))
}

/// Called by an import: new numbers are there, idle servers may lease again.
pub async fn pool_refilled(state: web::Data<AdminState>) -> HttpResponse {
    tracing::info!("The pool was refilled; idle servers are woken.");
    (state.on_pool_refilled)();
    HttpResponse::NoContent().finish()
}

async fn views(at: &Attached) -> Result<Vec<ServerView>, ApiError> {
    let rows = at
        .runtime
        .store
        .server_overview()
        .await
        .map_err(store_error)?;
    let modes = at
        .runtime
        .supervisor
        .send(ModeViews)
        .await
        .map_err(|_| stopping())?;
    Ok(server_views(rows, &modes, &at.otp.waiting()))
}

pub async fn servers(at: Attached) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(views(&at).await?))
}

/// Who acted and why, for the audit trail. Both optional for server actions.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Note {
    #[serde(default)]
    who: Option<String>,
    #[serde(default)]
    why: Option<String>,
}

pub(super) fn note(body: &[u8], expected: &str) -> Result<Note, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Note::default());
    }
    parse_body(body, expected)
}

pub async fn action(
    path: web::Path<(u16, String)>,
    body: web::Bytes,
    at: Attached,
) -> Result<HttpResponse, ApiError> {
    let (port, action) = path.into_inner();
    let action: Action = action
        .parse()
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, e))?;
    let note = note(&body, r#"{"who": "budi", "why": "…"}"#)?;
    match at.runtime.supervisor.send(Operate { port, action }).await {
        Ok(Ok(())) => {}
        Ok(Err(e @ OperateError::UnknownServer(_))) => {
            return Err(ApiError::new(StatusCode::NOT_FOUND, e));
        }
        Ok(Err(e @ OperateError::NotNow { .. })) => {
            return Err(ApiError::new(StatusCode::CONFLICT, e));
        }
        Err(_) => return Err(stopping()),
    }
    audit::operator(
        action.as_str(),
        Some(port),
        None,
        note.who.as_deref().unwrap_or("operator"),
        note.why.as_deref().unwrap_or(""),
    );
    match views(&at).await?.into_iter().find(|v| v.port == port) {
        Some(view) => Ok(HttpResponse::Ok().json(view)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("server {port} is not known"),
        )),
    }
}

pub async fn batches(at: Attached) -> Result<HttpResponse, ApiError> {
    let recap = at.runtime.store.recap(None).await.map_err(store_error)?;
    Ok(HttpResponse::Ok().json(recap))
}

/// Since the start of the operator's day (local midnight of the machine the runtime runs on).
pub async fn today(at: Attached) -> Result<HttpResponse, ApiError> {
    let midnight = chrono::Local::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
    let totals = at
        .runtime
        .store
        .totals_since(midnight)
        .await
        .map_err(store_error)?;
    Ok(HttpResponse::Ok().json(totals))
}

#[derive(Debug, Deserialize)]
pub struct SuspectsQuery {
    #[serde(default)]
    all: bool,
}

pub async fn suspects(
    query: web::Query<SuspectsQuery>,
    at: Attached,
) -> Result<HttpResponse, ApiError> {
    let list = at
        .runtime
        .store
        .suspects(query.all)
        .await
        .map_err(store_error)?;
    Ok(HttpResponse::Ok().json(list))
}

pub async fn resolve(
    id: web::Path<i64>,
    body: web::Bytes,
    at: Attached,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let expected = r#"{"who": "budi", "why": "voucher seen in the telco portal"}"#;
    let note = note(&body, expected)?;
    let (Some(who), Some(why)) = (note.who, note.why) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("say who resolves it and why: {expected}"),
        ));
    };
    match at.runtime.store.resolve_suspect(id, &who, &why).await {
        Ok(suspect) => {
            audit::operator("resolve", suspect.server, Some(id), &who, &why);
            Ok(HttpResponse::Ok().json(suspect))
        }
        Err(e @ StoreError::TransactionNotFound { .. }) => {
            Err(ApiError::new(StatusCode::NOT_FOUND, e))
        }
        Err(e @ (StoreError::NotSuspect { .. } | StoreError::AlreadyResolved { .. })) => {
            Err(ApiError::new(StatusCode::CONFLICT, e))
        }
        Err(e @ StoreError::Invalid { .. }) => Err(ApiError::new(StatusCode::BAD_REQUEST, e)),
        Err(e) => Err(store_error(e)),
    }
}

pub async fn metrics(at: Attached) -> Result<HttpResponse, ApiError> {
    let store = &at.runtime.store;
    let rows = store.server_overview().await.map_err(store_error)?;
    let pool = store.available_by_batch().await.map_err(store_error)?;
    let mut by_state: BTreeMap<String, i64> = BTreeMap::new();
    for row in &rows {
        *by_state.entry(row.state.to_string()).or_default() += 1;
    }
    let metrics = &at.runtime.metrics;
    metrics.set_gauges(by_state.iter().map(|(s, n)| (s.as_str(), *n)), pool);
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.render()))
}

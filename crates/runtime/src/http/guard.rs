//! Who may use the admin API, every rule in one place ahead of every handler.
//!
//! [`admit`] runs on every request: no cross-site browser request; without a token only a
//! literal `Host` (the API is then open to whoever reaches loopback, so no web page may reach
//! it by a DNS name); with a token, the bearer token on every route but the page, which holds
//! no data. [`Attached`] is what a view or action asks for instead of checking by hand that
//! the runtime's parts are there: a door serving OTPs only answers those routes 503.

use std::future::{Ready, ready};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, ResponseError, web};
use simrotor_config::AdminToken;

use super::reply::ApiError;
use super::{AdminRuntime, AdminState};
use crate::otp::OtpHub;

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
    req.into_response(ApiError::new(status, message).error_response())
}

/// The door's rules, on every request (the middleware). The token is compared in constant
/// time and never reaches a log line.
pub async fn admit(
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
        .app_data::<web::Data<AdminState>>()
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
    if req.method() == Method::GET && req.path() == "/" {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    }
    // The forwarder apps' intakes prove themselves with their own signature or token (or this
    // bearer token): they check it, with the request's bytes in hand (`http::sms`).
    if req
        .path()
        .strip_prefix("/sms/")
        .is_some_and(|name| simrotor_sms::App::from_name(name).is_some())
    {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    }
    let presented = presented_bearer(req.request());
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

fn presented_bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Whether the request carries the admin bearer token (compared in constant time).
pub fn bearer_matches(token: &AdminToken, req: &HttpRequest) -> bool {
    presented_bearer(req).is_some_and(|p| token_matches(token, p))
}

fn token_matches(token: &AdminToken, presented: &str) -> bool {
    // No early exit on the first differing byte: the time says nothing about the token.
    simrotor_sms::sign::same(token.expose(), presented)
}

/// The runtime's parts a view or an action reads, present only when they are attached to the
/// door; as a handler's argument it answers 503 for a door that serves OTPs only.
#[derive(Debug)]
pub struct Attached {
    pub runtime: AdminRuntime,
    pub otp: OtpHub,
}

impl Attached {
    /// The runtime's parts, when attached to this door.
    pub fn of(state: &AdminState) -> Option<Self> {
        state.runtime.as_ref().map(|runtime| Self {
            runtime: runtime.clone(),
            otp: state.otp.clone(),
        })
    }
}

impl FromRequest for Attached {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AdminState>>() else {
            return ready(Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the admin API was started without its state",
            )));
        };
        ready(match &state.runtime {
            Some(runtime) => Ok(Self {
                runtime: runtime.clone(),
                otp: state.otp.clone(),
            }),
            None => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "this endpoint serves OTPs only; the runtime's admin views are not attached",
            )),
        })
    }
}

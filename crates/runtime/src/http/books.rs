//! The operator's books over the admin API: the vouchers (JSON, or CSV for the spreadsheet the
//! operator sells from), a number's history, and the purchases hour by hour for the page's
//! chart. Read from the database on demand, like the recap; the filters are the CLI's
//! (`simrotor vouchers`, `simrotor history`), read by the same parsers.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use simrotor_domain::{BatchId, Msisdn};
use simrotor_persistence::{VoucherFilter, VoucherRow, VoucherStatus, VoucherSummary};

use super::guard::Attached;
use super::reply::ApiError;
use crate::http::admin::store_error;

/// `GET /api/vouchers`'s query: the CLI's flags by the same names.
#[derive(Debug, Default, Deserialize)]
pub struct VouchersQuery {
    batch: Option<String>,
    since: Option<String>,
    until: Option<String>,
    status: Option<String>,
    format: Option<String>,
}

fn bad_request(message: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

impl VouchersQuery {
    fn filter(&self) -> Result<VoucherFilter, ApiError> {
        let when = |flag: &'static str, v: &Option<String>| {
            v.as_deref()
                .filter(|v| !v.trim().is_empty())
                .map(|v| simrotor_auditlog::parse_when(flag, v))
                .transpose()
                .map_err(bad_request)
        };
        let filter = VoucherFilter {
            batch: self
                .batch
                .as_deref()
                .filter(|b| !b.is_empty())
                .map(BatchId::parse)
                .transpose()
                .map_err(|e| bad_request(format!("batch: {e}")))?,
            since: when("since", &self.since)?,
            until: when("until", &self.until)?,
            status: self
                .status
                .as_deref()
                .map(str::parse::<VoucherStatus>)
                .transpose()
                .map_err(bad_request)?
                .unwrap_or_default(),
        };
        filter.validate().map_err(bad_request)?;
        Ok(filter)
    }

    /// CSV when `?format=csv`, or when the client asks for `text/csv` and no format is named.
    fn wants_csv(&self, req: &HttpRequest) -> Result<bool, ApiError> {
        match self
            .format
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Ok(true),
            Some("json") => Ok(false),
            Some(other) => Err(bad_request(format!(
                "format {other:?} is not one of csv, json"
            ))),
            None => Ok(req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|accept| accept.contains("text/csv"))),
        }
    }
}

/// The export as CSV: [`VoucherRow::HEADER`], then one record per row.
pub fn vouchers_csv(rows: &[VoucherRow]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(VoucherRow::HEADER)?;
    for row in rows {
        w.write_record(row.record())?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

pub async fn vouchers(
    req: HttpRequest,
    query: web::Query<VouchersQuery>,
    at: Attached,
) -> Result<HttpResponse, ApiError> {
    let filter = query.filter()?;
    let csv = query.wants_csv(&req)?;
    let rows = at
        .runtime
        .store
        .vouchers(&filter)
        .await
        .map_err(store_error)?;
    let mut summary = VoucherSummary::default();
    rows.iter().for_each(|r| summary.add(r));
    if csv {
        let body = vouchers_csv(&rows).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot write the CSV: {e}"),
            )
        })?;
        let name = match filter.since {
            Some(since) => format!(
                "vouchers-{}.csv",
                since.with_timezone(&chrono::Local).format("%Y-%m-%d")
            ),
            None => "vouchers.csv".to_owned(),
        };
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ))
            .insert_header(("X-Voucher-Count", summary.count.to_string()))
            .insert_header(("X-Voucher-Total", summary.total_price.get().to_string()))
            .body(body));
    }
    Ok(HttpResponse::Ok().json(json!({ "summary": summary, "vouchers": rows })))
}

/// `GET /api/history/{msisdn}`: the number in any form (`08…`, `+62…`, `62…`).
pub async fn history(msisdn: web::Path<String>, at: Attached) -> Result<HttpResponse, ApiError> {
    let typed = msisdn.into_inner();
    let msisdn = Msisdn::parse(&typed).map_err(|e| bad_request(format!("msisdn: {e}")))?;
    match at
        .runtime
        .store
        .history(&msisdn)
        .await
        .map_err(store_error)?
    {
        Some(history) => Ok(HttpResponse::Ok().json(history)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{msisdn} was never imported"),
        )),
    }
}

#[derive(Debug, Deserialize)]
pub struct HourlyQuery {
    hours: Option<u32>,
}

/// `GET /api/hourly?hours=24`: the last hours' purchases and pulsa, oldest first.
pub async fn hourly(
    query: web::Query<HourlyQuery>,
    at: Attached,
) -> Result<HttpResponse, ApiError> {
    let hours = query.hours.unwrap_or(24);
    if !(1..=168).contains(&hours) {
        return Err(bad_request(format!(
            "hours {hours} is not between 1 and 168 (a week)"
        )));
    }
    let series = at
        .runtime
        .store
        .hourly(hours, Utc::now())
        .await
        .map_err(store_error)?;
    Ok(HttpResponse::Ok().json(series))
}

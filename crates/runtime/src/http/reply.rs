//! The one shape of every error answer of the admin API: `{"error": "a sentence"}` with a
//! 4xx/5xx status (`POST /sms` adds its `outcome`, since forwarder apps read that field).
//!
//! The handlers' refusals, the guard's, the router's (no such route) and actix-web's own
//! extractors' (a path, query string, JSON or form body they cannot read) all come out of here,
//! so a client reads one field whatever went wrong; [`fallback`] catches what has no hook of
//! its own (a body over the size limit). A message never echoes a value from a body: it may
//! be the code.

use std::fmt;

use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError, UrlencodedError};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::de::DeserializeOwned;
use serde_json::json;

/// An error answer: its status and its sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    status: StatusCode,
    message: String,
    outcome: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl fmt::Display) -> Self {
        Self {
            status,
            message: message.to_string(),
            outcome: None,
        }
    }

    /// The same answer with an `outcome` field next to the `error` (the `/sms` answers).
    pub fn with_outcome(mut self, outcome: &'static str) -> Self {
        self.outcome = Some(outcome);
        self
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self.outcome {
            Some(outcome) => json!({ "outcome": outcome, "error": self.message }),
            None => json!({ "error": self.message }),
        };
        HttpResponse::build(self.status).json(body)
    }
}

/// What is wrong with a JSON body, by line and column, never by the value found there.
fn body_problem(err: &serde_json::Error) -> String {
    let problem = match err.classify() {
        serde_json::error::Category::Data => "does not have the expected fields and types",
        serde_json::error::Category::Eof => "ends too early",
        serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
            "is not valid JSON"
        }
    };
    format!(
        "the body {problem} (line {}, column {})",
        err.line(),
        err.column()
    )
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is larger than the {limit} bytes allowed"),
    )
}

/// [`body_problem`], naming the field when a field is what is wrong: its path (`server`,
/// `sms[0].text`), or serde's own words for a missing or unknown field, which quote a name and
/// never a value.
fn field_problem(err: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = err.inner();
    if inner.classify() != serde_json::error::Category::Data {
        return body_problem(inner);
    }
    let message = inner.to_string();
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| {
            let rest = message.strip_prefix(prefix)?;
            let end = rest.find('`')?;
            Some(format!("{prefix}{}`", &rest[..end]))
        });
    let path = err.path().to_string();
    let at = (path != ".").then(|| format!("`{path}`"));
    let what = match (at, named) {
        (Some(at), Some(named)) => format!("{at}: {named}"),
        (Some(at), None) => format!("{at} is not of the expected type or value"),
        (None, Some(named)) => named,
        (None, None) => return body_problem(inner),
    };
    format!(
        "the body does not have the expected fields and types: {what} (line {}, column {})",
        inner.line(),
        inner.column()
    )
}

/// Reads a JSON body without ever echoing a value from it; the error is the 400 answer, which
/// names the field at fault (when a field is) and shows `expected`, an example of the body
/// asked for.
pub fn parse_body<T: DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, ApiError> {
    let refuse = |problem: String| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{problem}; expected {expected}"),
        )
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| refuse(field_problem(&e)))?;
    // What `serde_json::from_slice` also refuses: anything after the value.
    de.end().map_err(|e| refuse(body_problem(&e)))?;
    Ok(value)
}

/// `web::JsonConfig`'s error handler: the status actix-web gives, the one shape.
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let status = err.status_code();
    match err {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => too_large(limit),
        JsonPayloadError::ContentType => ApiError::new(
            status,
            "the body must be sent as JSON (Content-Type: application/json)",
        ),
        JsonPayloadError::Deserialize(e) => ApiError::new(status, body_problem(&e)),
        JsonPayloadError::Payload(e) => {
            ApiError::new(status, format!("the body could not be read: {e}"))
        }
        _ => ApiError::new(status, "the body could not be read as JSON"),
    }
    .into()
}

/// `web::FormConfig`'s error handler; a form that does not parse is not quoted.
pub fn form_error(err: UrlencodedError, _req: &HttpRequest) -> actix_web::Error {
    let status = err.status_code();
    match err {
        UrlencodedError::Overflow { limit, .. } => too_large(limit),
        UrlencodedError::ContentType => ApiError::new(
            status,
            "the body must be sent as a form (Content-Type: application/x-www-form-urlencoded)",
        ),
        UrlencodedError::Parse(_) => ApiError::new(
            status,
            "the form does not have the expected fields and types",
        ),
        _ => ApiError::new(status, "the form could not be read"),
    }
    .into()
}

/// `web::QueryConfig`'s error handler (400). Query strings of this API carry no secrets, so
/// the parser's reason is shown.
pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let status = err.status_code();
    let message = match err {
        QueryPayloadError::Deserialize(e) => {
            format!("the query string does not have the expected fields and types: {e}")
        }
        _ => "the query string could not be read".to_owned(),
    };
    ApiError::new(status, message).into()
}

/// `web::PathConfig`'s error handler: a path whose parts do not parse (a port that is not a
/// number) names no resource, 404 as actix-web answers it without a handler.
pub fn path_error(err: PathError, req: &HttpRequest) -> actix_web::Error {
    let reason = match err {
        PathError::Deserialize(e) => e.to_string(),
        _ => "its parts do not parse".to_owned(),
    };
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such resource: {} ({reason})", req.path()),
    )
    .into()
}

/// The last net, outermost: an error answer that is not JSON yet (actix-web's own, from where
/// it offers no hook, such as `web::Bytes` over the body limit) gets the one shape, its status
/// kept.
pub fn fallback<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(reshape)
}

fn reshape<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let message = match (status, res.response().error()) {
        (StatusCode::PAYLOAD_TOO_LARGE, _) => "the body is larger than allowed".to_owned(),
        (_, Some(err)) => format!("the request could not be served: {err}"),
        (_, None) => format!(
            "the request could not be served ({})",
            status.canonical_reason().unwrap_or("error")
        ),
    };
    let (req, _) = res.into_parts();
    let response = ApiError::new(status, message).error_response();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use actix_web::body::to_bytes;
    use actix_web::test::TestRequest;

    use super::*;

    async fn answer(err: actix_web::Error) -> (StatusCode, serde_json::Value) {
        let response = err.error_response();
        let status = response.status();
        let body = to_bytes(response.into_body()).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[actix_web::test]
    async fn json_and_form_errors_answer_the_one_shape_without_the_value() {
        let req = TestRequest::default().to_http_request();
        let not_json = serde_json::from_str::<u32>("\"987654\"").unwrap_err();
        let cases = [
            (
                json_error(JsonPayloadError::Deserialize(not_json), &req),
                StatusCode::BAD_REQUEST,
            ),
            (
                json_error(JsonPayloadError::ContentType, &req),
                StatusCode::BAD_REQUEST,
            ),
            (
                json_error(JsonPayloadError::Overflow { limit: 10 }, &req),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                form_error(UrlencodedError::ContentType, &req),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                form_error(
                    UrlencodedError::Overflow {
                        size: 20,
                        limit: 10,
                    },
                    &req,
                ),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
        ];
        for (err, expected) in cases {
            let (status, body) = answer(err).await;
            assert_eq!(status, expected, "{body}");
            let fields: Vec<&String> = body.as_object().unwrap().keys().collect();
            assert_eq!(fields, ["error"], "{body}");
            let message = body["error"].as_str().unwrap();
            assert!(message.starts_with("the "), "{message}");
            assert!(!message.contains("987654"), "{message}");
        }
    }

    #[actix_web::test]
    async fn an_outcome_goes_next_to_the_error() {
        let err = ApiError::new(StatusCode::FORBIDDEN, "off").with_outcome("source_off");
        assert_eq!(
            answer(err.into()).await,
            (
                StatusCode::FORBIDDEN,
                json!({"outcome": "source_off", "error": "off"})
            )
        );
    }
}

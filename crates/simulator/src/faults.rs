//! The faults a real server shows, injected on purpose so the runtime's handling of each is
//! exercised: latency, 5xx HTML pages, JSON cut short, a body that stalls, a purchase whose
//! answer is lost, and (in the runner) a port that is down for a while.
//!
//! Every fault of a call is drawn at once, from the simulator's seeded generator, before the
//! call runs: whether a purchase's answer will be lost must be known when its ledger entry is
//! written.

use std::convert::Infallible;
use std::io;
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use bytes::Bytes;
use rand::Rng;
use rand::rngs::StdRng;
use simrotor_config::SimulatorFaults;

/// The faults drawn for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Draw {
    pub delay: Duration,
    /// Answer this 5xx page instead of running the call.
    pub server_error: Option<StatusCode>,
    pub malformed: bool,
    /// Stall the body this long after the headers.
    pub slow: Option<Duration>,
    /// If the call executes a purchase, close the connection instead of answering.
    pub lose_answer: bool,
}

const ERROR_STATUSES: [StatusCode; 3] = [
    StatusCode::BAD_GATEWAY,
    StatusCode::SERVICE_UNAVAILABLE,
    StatusCode::INTERNAL_SERVER_ERROR,
];

impl Draw {
    pub(crate) fn new(rng: &mut StdRng, faults: &SimulatorFaults) -> Self {
        let jitter = if faults.jitter.is_zero() {
            Duration::ZERO
        } else {
            let nanos = u64::try_from(faults.jitter.as_nanos()).unwrap_or(u64::MAX);
            Duration::from_nanos(rng.random_range(0..=nanos))
        };
        let server_error = rng
            .random_bool(faults.error_rate)
            .then(|| ERROR_STATUSES[rng.random_range(0..ERROR_STATUSES.len())]);
        Self {
            delay: faults.latency.saturating_add(jitter),
            server_error,
            malformed: rng.random_bool(faults.malformed_rate),
            slow: rng
                .random_bool(faults.slow_body_rate)
                .then_some(faults.slow_body_delay),
            lose_answer: rng.random_bool(faults.lost_answer_rate),
        }
    }
}

/// The page a reverse proxy shows when the application behind it fails.
pub(crate) fn error_page(status: StatusCode) -> HttpResponse {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1>\
             </center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        ))
}

/// A JSON body cut in the middle: a proper prefix of a JSON object never parses.
pub(crate) fn cut_short(body: &[u8]) -> Bytes {
    Bytes::copy_from_slice(&body[..body.len() / 2])
}

/// The status line and headers now, the body after `delay`.
pub(crate) fn slow(
    status: StatusCode,
    content_type: &str,
    body: Bytes,
    delay: Duration,
) -> HttpResponse {
    let stream = futures::stream::once(async move {
        actix_rt::time::sleep(delay).await;
        Ok::<_, Infallible>(body)
    });
    HttpResponse::build(status)
        .content_type(content_type)
        .streaming(stream)
}

/// No answer at all. A body that fails before its first byte makes actix drop the connection
/// before the status line leaves the write buffer, so the caller sees the connection closed
/// (an integration test holds actix to this).
pub(crate) fn lost() -> HttpResponse {
    let stream = futures::stream::once(async {
        Err::<Bytes, _>(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "the simulator loses this purchase's answer on purpose",
        ))
    });
    HttpResponse::Ok().streaming(stream)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn rates_at_the_ends_are_exact_and_latency_is_bounded() {
        let mut rng = StdRng::seed_from_u64(7);
        let none = SimulatorFaults::default();
        let all = SimulatorFaults {
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(5),
            error_rate: 1.0,
            malformed_rate: 1.0,
            slow_body_rate: 1.0,
            lost_answer_rate: 1.0,
            ..SimulatorFaults::default()
        };
        for _ in 0..500 {
            assert_eq!(Draw::new(&mut rng, &none), Draw::default());
            let d = Draw::new(&mut rng, &all);
            assert!(d.server_error.is_some_and(|s| s.is_server_error()));
            assert!(d.malformed && d.slow == Some(all.slow_body_delay) && d.lose_answer);
            assert!(d.delay >= Duration::from_millis(10) && d.delay <= Duration::from_millis(15));
        }
    }

    #[test]
    fn a_cut_body_never_parses() {
        let body = br#"{"req":{"username":"081234567890"},"res":{"status":"0"}}"#;
        assert!(serde_json::from_slice::<serde_json::Value>(&cut_short(body)).is_err());
    }
}

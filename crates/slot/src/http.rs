//! The slot API over HTTP, one client (and so one connection pool) per resource server.
//!
//! Each call gets an `X-Request-Id` (the same on every attempt of that call, so the server can
//! tell a repeat from a new call), the server's timeout covers the whole exchange including the
//! body, and calls to one server are spaced by its pacing. Calls are repeated, with exponential
//! backoff and jitter, only where repeating is harmless (see [`RepeatPolicy`]); the purchase
//! never is.
//!
//! The query string holds the PIN or an OTP, so no URL with its query is ever logged or put in
//! an error: logs name the server, the path and the request id.

use std::error::Error as _;
use std::io;
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use simrotor_config::ServerSpec;
use simrotor_domain::{Backoff, Email, Jitter, Msisdn, Pin, Rupiah};
use tokio::time::{Instant, sleep, sleep_until, timeout_at};

use crate::Call;
use crate::client::SlotClient;
use crate::error::{ProtocolProblem, SlotError, SlotErrorKind, SlotResult, TransportKind};
use crate::parse::{self, HttpAnswer, Parsed};
use crate::secret::{Otp, TokenLocation, TokenLogin};
use crate::types::{Ack, Balance, ProductListing, RawBody, Reply, TrxAccepted, TrxProgress};

/// The header that carries each call's id.
pub const REQUEST_ID_HEADER: &str = "X-Request-Id";

/// How to talk to one server. [`HttpOptions::from_spec`] takes the configured values; the
/// backoff and the body limit have defaults that tests may shorten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// `http://HOST:PORT` (a path prefix is kept).
    pub base_url: String,
    /// For the whole exchange of one attempt: connecting, sending, and reading the whole body.
    pub timeout: Duration,
    /// How many times a call that is safe to repeat is sent again after a failure.
    pub retries: u32,
    /// The pause between the end of one call to the server and the start of the next.
    pub pacing: Duration,
    /// The first pause before a repeat; it doubles on each further repeat.
    pub backoff_base: Duration,
    /// The longest pause before a repeat.
    pub backoff_max: Duration,
    /// A body longer than this is a protocol error (a server that never stops sending).
    pub max_body_bytes: usize,
}

impl HttpOptions {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_RETRIES: u32 = 2;
    pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(250);
    pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(5);
    pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

    /// The defaults, the same as the configuration's.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            timeout: Self::DEFAULT_TIMEOUT,
            retries: Self::DEFAULT_RETRIES,
            pacing: Duration::ZERO,
            backoff_base: Self::DEFAULT_BACKOFF_BASE,
            backoff_max: Self::DEFAULT_BACKOFF_MAX,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// The pause before repeat number `attempt + 1`: `backoff_base · 2^attempt`, at most
    /// `backoff_max`, with jitter in its upper half so that servers that failed together do not
    /// retry in step, and the cap holds.
    pub fn repeat_backoff(&self) -> Backoff {
        Backoff::new(self.backoff_base, self.backoff_max, Jitter::UpperHalf)
    }

    /// The configured server: its base URL, timeout, retries and pacing.
    pub fn from_spec(spec: &ServerSpec) -> Self {
        Self {
            timeout: spec.timeout,
            retries: spec.retries,
            pacing: spec.pacing,
            ..Self::new(spec.base_url())
        }
    }
}

impl From<&ServerSpec> for HttpOptions {
    fn from(spec: &ServerSpec) -> Self {
        Self::from_spec(spec)
    }
}

/// Why a client for a server cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpClientError {
    #[error("the server's base URL {url:?} is not usable: {reason}")]
    BadBaseUrl { url: String, reason: String },
    #[error("the HTTP client cannot be built: {0}")]
    Build(String),
}

/// One answer as [`HttpSlotClient::probe`] got it. `Debug` shows the body's size only: it may
/// hold a token.
pub struct Probed {
    pub http_status: u16,
    /// The body, byte for byte.
    pub body: Vec<u8>,
    /// What the parser made of it.
    pub meaning: Result<parse::Meaning, SlotError>,
    pub request_id: String,
}

impl std::fmt::Debug for Probed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probed")
            .field("http_status", &self.http_status)
            .field("body_bytes", &self.body.len())
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

/// Which failures a call may be sent again after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepeatPolicy {
    /// Reads and the logout: repeating them changes nothing. Repeated after any transport
    /// failure and after a 5xx or 429 status.
    Always,
    /// Calls that send or consume an OTP: a second `/otp` sends a second SMS that may void the
    /// first, a second `/verifyOtp` may be refused because the first used the OTP up. Repeated
    /// only when the request certainly never reached the server.
    OnlyIfNotSent,
    /// `/trx_idv`: no idempotency key, a repeat may buy twice. Never repeated.
    Never,
}

impl RepeatPolicy {
    pub fn of(call: Call) -> Self {
        match call {
            Call::Balance
            | Call::TokenLocation
            | Call::ListProducts
            | Call::TrxStatus
            | Call::Logout => RepeatPolicy::Always,
            Call::RequestOtp | Call::VerifyOtp | Call::TransactionOtp => {
                RepeatPolicy::OnlyIfNotSent
            }
            Call::Buy => RepeatPolicy::Never,
        }
    }

    /// Whether a call that failed with `err` may be sent again.
    pub fn allows_repeat_after(self, err: &SlotError) -> bool {
        match (self, &err.kind) {
            (RepeatPolicy::Never, _) => false,
            (
                _,
                SlotErrorKind::Transport {
                    may_have_reached: false,
                    ..
                },
            ) => true,
            (RepeatPolicy::Always, SlotErrorKind::Transport { .. }) => true,
            (
                RepeatPolicy::Always,
                SlotErrorKind::Protocol {
                    what: ProtocolProblem::UnexpectedStatus { http_status },
                },
            ) => *http_status >= 500 || *http_status == 429,
            _ => false,
        }
    }
}

/// The HTTP client of every server with this connect timeout, built once per process: its
/// connection pool is keyed by host and port, so servers share the client without sharing a
/// connection, and the TLS roots are loaded once instead of once per server (at a thousand
/// servers, hundreds of megabytes).
fn shared_http(connect_timeout: Duration) -> Result<reqwest::Client, HttpClientError> {
    static BUILT: Mutex<Vec<(Duration, reqwest::Client)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, client)) = built.iter().find(|(t, _)| *t == connect_timeout) {
        return Ok(client.clone());
    }
    install_crypto_provider();
    let client = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .pool_max_idle_per_host(POOL_IDLE_PER_SERVER)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        // A redirect would carry the PIN or OTP elsewhere; the contract has none.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("simrotor-slot/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| HttpClientError::Build(error_chain(&e)))?;
    built.push((connect_timeout, client.clone()));
    Ok(client)
}

/// The slot API of one server, over HTTP.
/// Whether the caller may still call the server: asked before each repeat of a call (the
/// runtime answers with its lease on the server, so a call is never repeated once another
/// runtime may drive it).
#[derive(Clone)]
pub struct CallGate(Arc<dyn Fn() -> bool + Send + Sync>);

impl CallGate {
    pub fn new(open: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(open))
    }

    pub fn is_open(&self) -> bool {
        (self.0)()
    }
}

impl std::fmt::Debug for CallGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallGate")
    }
}

#[derive(Debug)]
pub struct HttpSlotClient {
    http: reqwest::Client,
    base: Url,
    /// The base URL as configured, for log lines.
    server: String,
    options: HttpOptions,
    pacer: Pacer,
    gate: Option<CallGate>,
}

/// Idle connections kept per server: one binding calls at a time, a spare covers overlap.
const POOL_IDLE_PER_SERVER: usize = 2;
/// Servers close idle keep-alive connections; reusing one they are closing could lose a
/// purchase's answer, so idle connections are dropped well before a typical server timeout.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(15);

impl HttpSlotClient {
    /// A client for a configured server.
    pub fn new(spec: &ServerSpec) -> Result<Self, HttpClientError> {
        Self::with_options(HttpOptions::from_spec(spec))
    }

    pub fn with_options(options: HttpOptions) -> Result<Self, HttpClientError> {
        let bad = |reason: &str| HttpClientError::BadBaseUrl {
            url: options.base_url.clone(),
            reason: reason.to_owned(),
        };
        let base = Url::parse(&options.base_url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(bad("it must be an http:// or https:// URL"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(bad("it must not have a query or a fragment"));
        }
        let http = shared_http(options.timeout)?;
        Ok(Self {
            http,
            base,
            server: options.base_url.clone(),
            pacer: Pacer::new(options.pacing),
            options,
            gate: None,
        })
    }

    /// This client, which repeats a call only while `gate` is open.
    pub fn gated(mut self, gate: CallGate) -> Self {
        self.gate = Some(gate);
        self
    }

    /// The server's base URL, as configured.
    pub fn base_url(&self) -> &str {
        &self.server
    }

    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    fn endpoint(&self, call: Call, query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        // Always Ok: `with_options` refused URLs that cannot be a base.
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .push(call.path().trim_start_matches('/'));
        }
        url.query_pairs_mut().extend_pairs(query);
        url
    }

    /// One call sent once, never repeated, with the exact status and body it got and what the
    /// parser made of them: `simrotor probe`, the operator's tool for capturing real answers.
    /// `Err` only when no answer came (the network failed).
    pub async fn probe(&self, call: Call, query: &[(&str, &str)]) -> SlotResult<Probed> {
        let url = self.endpoint(call, query);
        let request_id = uuid::Uuid::new_v4().to_string();
        let (http_status, body) = self
            .exchange(call, &url, &request_id)
            .await
            .map_err(|e| e.with_request_id(request_id.clone()))?;
        let meaning = parse::interpret(call, http_status, &body);
        Ok(Probed {
            http_status,
            body,
            meaning,
            request_id,
        })
    }

    /// One call: attempts, repeats where the policy allows, and the typed result.
    async fn run<T>(
        &self,
        call: Call,
        query: &[(&str, &str)],
        parse: impl Fn(HttpAnswer<'_>) -> Parsed<T> + Send,
    ) -> SlotResult<Reply<T>> {
        let url = self.endpoint(call, query);
        let request_id = uuid::Uuid::new_v4().to_string();
        let policy = RepeatPolicy::of(call);
        let mut attempt: u32 = 0;
        loop {
            let started = Instant::now();
            let outcome = match self.exchange(call, &url, &request_id).await {
                Ok((http_status, body)) => parse(HttpAnswer {
                    http_status,
                    body: &body,
                }),
                Err(err) => Err(err),
            };
            let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let err = match outcome {
                Ok((value, raw)) => {
                    tracing::debug!(
                        server = %self.server, path = call.path(), request_id, attempt, elapsed_ms,
                        "The server answered the call."
                    );
                    return Ok(Reply::new(value, raw, request_id));
                }
                Err(err) => err.with_request_id(request_id.clone()),
            };
            let gate_open = self.gate.as_ref().is_none_or(CallGate::is_open);
            if attempt < self.options.retries && policy.allows_repeat_after(&err) && !gate_open {
                tracing::warn!(
                    server = %self.server, path = call.path(), request_id, attempt,
                    error = %err,
                    "The call failed and is not sent again: this runtime may not call the server now."
                );
            }
            if attempt < self.options.retries && policy.allows_repeat_after(&err) && gate_open {
                let pause = self.options.repeat_backoff().delay(attempt);
                tracing::warn!(
                    server = %self.server, path = call.path(), request_id, attempt, elapsed_ms,
                    pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                    error = %err,
                    "The call failed and is safe to repeat, so it will be sent again after a pause."
                );
                sleep(pause).await;
                attempt += 1;
                continue;
            }
            let err = if call == Call::Buy {
                err.into_outcome_unknown()
            } else {
                err
            };
            if matches!(err.kind, SlotErrorKind::Refused { .. }) {
                tracing::info!(
                    server = %self.server, path = call.path(), request_id, attempt, elapsed_ms,
                    error = %err, "The telco refused the call."
                );
            } else {
                tracing::warn!(
                    server = %self.server, path = call.path(), request_id, attempt, elapsed_ms,
                    error = %err, "The call failed."
                );
            }
            return Err(err);
        }
    }

    /// One attempt, paced: the status and the whole body, or why there are none.
    async fn exchange(
        &self,
        call: Call,
        url: &Url,
        request_id: &str,
    ) -> Result<(u16, Vec<u8>), SlotError> {
        self.pacer.wait().await;
        tracing::debug!(
            server = %self.server, path = call.path(), request_id,
            "Sending a call to the server."
        );
        let result = self.exchange_unpaced(call, url, request_id).await;
        self.pacer.done();
        result
    }

    async fn exchange_unpaced(
        &self,
        call: Call,
        url: &Url,
        request_id: &str,
    ) -> Result<(u16, Vec<u8>), SlotError> {
        let deadline = Instant::now() + self.options.timeout;
        let request = self
            .http
            .get(url.clone())
            .header(REQUEST_ID_HEADER, request_id)
            .header(reqwest::header::ACCEPT, "application/json, text/plain");
        let mut response = match timeout_at(deadline, request.send()).await {
            // Whether it was still connecting or already waiting cannot be told: assume the
            // request got through, the safe assumption for a purchase.
            Err(_) => {
                return Err(SlotError::transport(
                    call,
                    TransportKind::TimedOut,
                    true,
                    "no answer within the timeout",
                ));
            }
            Ok(Err(e)) => return Err(send_error(call, &e)),
            Ok(Ok(response)) => response,
        };
        let http_status = response.status().as_u16();
        let limit = self.options.max_body_bytes;
        let mut body = Vec::new();
        loop {
            // Headers arrived, so from here on the request certainly reached the server.
            let chunk = match timeout_at(deadline, response.chunk()).await {
                Err(_) => {
                    return Err(SlotError::transport(
                        call,
                        TransportKind::TimedOut,
                        true,
                        "the answer stopped before its end",
                    )
                    .with_raw(partial(&body)));
                }
                Ok(Err(e)) => {
                    let kind = match io_kind(&e) {
                        Some(kind) => kind,
                        None if e.is_timeout() => TransportKind::TimedOut,
                        None => TransportKind::Reset,
                    };
                    return Err(SlotError::transport(call, kind, true, error_chain(&e))
                        .with_raw(partial(&body)));
                }
                Ok(Ok(None)) => return Ok((http_status, body)),
                Ok(Ok(Some(chunk))) => chunk,
            };
            if body.len() + chunk.len() > limit {
                let room = limit.saturating_sub(body.len());
                body.extend_from_slice(chunk.get(..room).unwrap_or_default());
                return Err(
                    SlotError::protocol(call, ProtocolProblem::TooLarge { limit })
                        .with_raw(partial(&body)),
                );
            }
            body.extend_from_slice(&chunk);
        }
    }
}

#[async_trait]
impl SlotClient for HttpSlotClient {
    async fn request_otp(&self, msisdn: &Msisdn, pin: &Pin) -> SlotResult<Reply<Ack>> {
        let username = msisdn.local();
        let query = [("username", username.as_str()), ("pin", pin.expose())];
        self.run(Call::RequestOtp, &query, |a| {
            parse::ack(Call::RequestOtp, a)
        })
        .await
    }

    async fn verify_otp(&self, msisdn: &Msisdn, otp: &Otp) -> SlotResult<Reply<TokenLogin>> {
        let username = msisdn.local();
        let query = [("username", username.as_str()), ("otp", otp.expose())];
        self.run(Call::VerifyOtp, &query, parse::verify_otp).await
    }

    async fn balance(&self, msisdn: &Msisdn) -> SlotResult<Reply<Balance>> {
        let username = msisdn.local();
        self.run(Call::Balance, &[("username", &username)], parse::balance)
            .await
    }

    async fn token_location(&self, msisdn: &Msisdn) -> SlotResult<Reply<TokenLocation>> {
        let username = msisdn.local();
        self.run(
            Call::TokenLocation,
            &[("username", &username)],
            parse::token_location,
        )
        .await
    }

    async fn list_products(&self, msisdn: &Msisdn) -> SlotResult<Reply<ProductListing>> {
        let username = msisdn.local();
        self.run(
            Call::ListProducts,
            &[("username", &username)],
            parse::list_products,
        )
        .await
    }

    async fn buy(
        &self,
        msisdn: &Msisdn,
        product_id: &str,
        email: &Email,
        limit_harga: Rupiah,
    ) -> SlotResult<Reply<TrxAccepted>> {
        let username = msisdn.local();
        let limit = limit_harga.get().to_string();
        let query = [
            ("username", username.as_str()),
            ("product_id", product_id),
            ("email", email.as_str()),
            ("limit_harga", limit.as_str()),
        ];
        self.run(Call::Buy, &query, parse::buy).await
    }

    async fn transaction_otp(&self, msisdn: &Msisdn, otp: &Otp) -> SlotResult<Reply<Ack>> {
        let username = msisdn.local();
        let query = [("username", username.as_str()), ("otp", otp.expose())];
        self.run(Call::TransactionOtp, &query, |a| {
            parse::ack(Call::TransactionOtp, a)
        })
        .await
    }

    async fn trx_status(&self, msisdn: &Msisdn, trx_id: &str) -> SlotResult<Reply<TrxProgress>> {
        let username = msisdn.local();
        let query = [("username", username.as_str()), ("trx_id", trx_id)];
        self.run(Call::TrxStatus, &query, parse::trx_status).await
    }

    async fn logout(&self, msisdn: &Msisdn) -> SlotResult<Reply<Ack>> {
        let username = msisdn.local();
        self.run(Call::Logout, &[("username", &username)], |a| {
            parse::ack(Call::Logout, a)
        })
        .await
    }
}

/// reqwest is built without a default TLS provider; without one installed, building a client
/// panics. Another crate may have installed it first, which is as good.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Spaces the calls to one server: the next starts no earlier than `gap` after the last ended.
#[derive(Debug)]
struct Pacer {
    gap: Duration,
    next_start: Mutex<Option<Instant>>,
}

impl Pacer {
    fn new(gap: Duration) -> Self {
        Self {
            gap,
            next_start: Mutex::new(None),
        }
    }

    async fn wait(&self) {
        if self.gap.is_zero() {
            return;
        }
        let next = *self
            .next_start
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = next {
            sleep_until(at).await;
        }
    }

    fn done(&self) {
        if self.gap.is_zero() {
            return;
        }
        *self
            .next_start
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + self.gap);
    }
}

fn partial(body: &[u8]) -> Option<RawBody> {
    (!body.is_empty()).then(|| RawBody::new(String::from_utf8_lossy(body).into_owned()))
}

/// A failure before any answer arrived. Only a failure to connect proves the request never
/// reached the server.
fn send_error(call: Call, err: &reqwest::Error) -> SlotError {
    let kind = match io_kind(err) {
        Some(kind) => kind,
        None if err.is_timeout() => TransportKind::TimedOut,
        None if err.is_connect() => TransportKind::Other,
        // hyper's "connection closed before message completed" and the like.
        None if err.is_request() || err.is_body() => TransportKind::Reset,
        None => TransportKind::Other,
    };
    SlotError::transport(call, kind, !err.is_connect(), error_chain(err))
}

fn io_kind(err: &reqwest::Error) -> Option<TransportKind> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = err.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::ConnectionRefused => return Some(TransportKind::ConnectRefused),
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof => return Some(TransportKind::Reset),
                io::ErrorKind::TimedOut => return Some(TransportKind::TimedOut),
                _ => {}
            }
        }
        source = e.source();
    }
    None
}

/// What the network stack said, from the causes only: reqwest's own message would carry the
/// URL, and with it the PIN or the OTP.
fn error_chain(err: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = err.source();
    while let Some(e) = source {
        parts.push(e.to_string());
        source = e.source();
    }
    if parts.is_empty() {
        parts.push(
            if err.is_timeout() {
                "timed out"
            } else if err.is_connect() {
                "cannot connect"
            } else {
                "HTTP failure"
            }
            .to_owned(),
        );
    }
    parts.join(": ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails
mod tests {
    use super::*;
    use crate::error::RefusalReason;

    fn spec() -> ServerSpec {
        ServerSpec {
            port: 9914,
            host: "10.0.0.7".into(),
            timeout: Duration::from_secs(7),
            retries: 4,
            pacing: Duration::from_millis(150),
            enabled: true,
        }
    }

    #[test]
    fn options_come_from_the_server_spec() {
        let options = HttpOptions::from_spec(&spec());
        assert_eq!(
            options,
            HttpOptions {
                base_url: "http://10.0.0.7:9914".into(),
                timeout: Duration::from_secs(7),
                retries: 4,
                pacing: Duration::from_millis(150),
                backoff_base: HttpOptions::DEFAULT_BACKOFF_BASE,
                backoff_max: HttpOptions::DEFAULT_BACKOFF_MAX,
                max_body_bytes: HttpOptions::DEFAULT_MAX_BODY_BYTES,
            }
        );
        let client = HttpSlotClient::new(&spec()).unwrap();
        assert_eq!(client.base_url(), "http://10.0.0.7:9914");
    }

    #[test]
    fn endpoints_keep_a_path_prefix_and_encode_the_query() {
        let client = HttpSlotClient::with_options(HttpOptions::new("http://h:1")).unwrap();
        let url = client.endpoint(Call::VerifyOtp, &[("username", "0857"), ("otp", "1 2&3")]);
        assert_eq!(
            url.as_str(),
            "http://h:1/verifyOtp?username=0857&otp=1+2%263"
        );
        let client =
            HttpSlotClient::with_options(HttpOptions::new("http://h:1/slot/9914/")).unwrap();
        let url = client.endpoint(Call::Logout, &[("username", "0857")]);
        assert_eq!(url.as_str(), "http://h:1/slot/9914/logout?username=0857");
    }

    #[test]
    fn unusable_base_urls_are_refused() {
        for url in ["", "9900", "ftp://h:1", "http://h:1/?x=1", "mailto:a@b.c"] {
            let err = HttpSlotClient::with_options(HttpOptions::new(url)).unwrap_err();
            assert!(matches!(err, HttpClientError::BadBaseUrl { .. }), "{url}");
        }
    }

    #[test]
    fn the_repeat_policy_of_every_call() {
        use RepeatPolicy as P;
        let unreached =
            SlotError::transport(Call::Balance, TransportKind::ConnectRefused, false, "");
        let lost = SlotError::transport(Call::Balance, TransportKind::Reset, true, "");
        let bad_gateway = SlotError::protocol(
            Call::Balance,
            ProtocolProblem::UnexpectedStatus { http_status: 502 },
        );
        let not_found = SlotError::protocol(
            Call::Balance,
            ProtocolProblem::UnexpectedStatus { http_status: 404 },
        );
        let truncated = SlotError::protocol(Call::Balance, ProtocolProblem::Truncated);
        let refused = SlotError::refused(Call::Balance, "1", "token expired");
        assert_eq!(refused.refusal_reason(), Some(RefusalReason::TokenExpired));
        for &call in Call::ALL {
            let policy = P::of(call);
            let allowed: Vec<bool> = [
                &unreached,
                &lost,
                &bad_gateway,
                &not_found,
                &truncated,
                &refused,
            ]
            .iter()
            .map(|e| policy.allows_repeat_after(e))
            .collect();
            let want = match call {
                Call::Buy => [false; 6],
                Call::RequestOtp | Call::VerifyOtp | Call::TransactionOtp => {
                    [true, false, false, false, false, false]
                }
                _ => [true, true, true, false, false, false],
            };
            assert_eq!(allowed, want, "{call}");
        }
    }

    #[test]
    fn backoff_doubles_within_its_cap_and_jitters_in_the_upper_half() {
        let base = Duration::from_millis(100);
        let max = Duration::from_millis(350);
        let backoff = |base, max, attempt| {
            HttpOptions {
                backoff_base: base,
                backoff_max: max,
                ..HttpOptions::new("http://127.0.0.1:1")
            }
            .repeat_backoff()
            .delay(attempt)
        };
        for _ in 0..200 {
            let first = backoff(base, max, 0);
            assert!(first >= base / 2 && first <= base, "{first:?}");
            let third = backoff(base, max, 2);
            assert!(third >= max / 2 && third <= max, "{third:?}");
            assert!(backoff(base, max, 40) <= max);
        }
        assert_eq!(backoff(Duration::ZERO, max, 3), Duration::ZERO);
    }
}

//! What every topic needs: a client, numbers, a running admin API, captured logs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use simrotor_config::{OtpConfig, OtpSource};
use simrotor_runtime::http::{self, AdminHandle, AdminState};
use simrotor_runtime::otp::OtpHub;

/// Long enough for a loaded 2-core machine; a passing test never waits for it.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(PATIENCE)
        .build()
        .unwrap()
}

pub use simrotor_test_support::number;

pub fn hub(source: OtpSource) -> OtpHub {
    OtpHub::new(&OtpConfig {
        source,
        ..OtpConfig::default()
    })
    .unwrap()
}

/// An admin API serving OTPs only, on a free loopback port, with a counter of pool wake-ups.
pub struct AdminApi {
    pub handle: AdminHandle,
    pub hub: OtpHub,
    pub refills: Arc<AtomicUsize>,
    pub client: reqwest::Client,
}

impl AdminApi {
    pub async fn start(source: OtpSource) -> AdminApi {
        let hub = hub(source);
        let refills = Arc::new(AtomicUsize::new(0));
        let counter = refills.clone();
        let state = AdminState::new(hub.clone()).with_pool_refilled(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let handle = http::serve("127.0.0.1:0", state).await.unwrap();
        AdminApi {
            handle,
            hub,
            refills,
            client: client(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.handle.url(path)
    }

    /// POSTs `body` as given (not necessarily JSON); returns the status and the JSON answer
    /// (`Null` for an empty body).
    pub async fn post_raw(&self, path: &str, body: &str) -> (u16, Value) {
        let resp = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        answer(resp).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_raw(path, &body.to_string()).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        answer(self.client.get(self.url(path)).send().await.unwrap()).await
    }
}

async fn answer(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    let value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
    };
    (status, value)
}

/// Every log line of this test binary, from every thread (the admin API's worker and
/// the simulator run on their own), without timestamps, whose digits could look like a code.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Whether `digits` shows up as a number of its own (not inside a longer run of digits,
    /// such as a port or an MSISDN, where it could appear by chance).
    pub fn shows_number(&self, digits: &str) -> bool {
        self.text()
            .split(|c: char| !c.is_ascii_digit())
            .any(|run| run == digits)
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process-wide capture, installed by the first test that asks; tests run in parallel, so
/// a test looks only for what it alone logged.
pub fn logs() -> Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .without_time()
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("only helpers::logs sets the global subscriber");
        logs
    })
    .clone()
}

//! The numbers a monitoring stack scrapes (`GET /metrics`, Prometheus/OpenMetrics text). Counters
//! and histograms are fed as things happen; the gauges (servers by state, pool per batch) are read
//! from the database at scrape time, so they are never stale. Counters count since the process
//! started; the database keeps the totals (`simrotor recap`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use simrotor_domain::{Call, Email, Msisdn, Pin, Rupiah, TrxStatus};
use simrotor_slot::{
    Ack, Balance, Otp, ProductListing, Reply, SlotClient, SlotResult, TokenLocation, TokenLogin,
    TrxAccepted, TrxProgress,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PurposeLabel {
    purpose: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    call: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabel {
    server: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BatchLabel {
    batch: String,
}

/// Every metric of the runtime, shared by the actors and the admin API.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    purchases: Family<StatusLabel, Counter>,
    pulsa_spent: Counter,
    bindings_ended: Family<ReasonLabel, Counter>,
    servers: Family<StateLabel, Gauge>,
    otp_wait: Family<PurposeLabel, Histogram>,
    slot_calls: Family<CallLabels, Histogram>,
    pool_available: Family<BatchLabel, Gauge>,
    restarts: Family<ServerLabel, Counter>,
}

fn otp_wait_histogram() -> Histogram {
    // 1 s … about 17 min: an operator reading a phone takes seconds to minutes.
    Histogram::new(exponential_buckets(1.0, 2.0, 11))
}

fn slot_call_histogram() -> Histogram {
    // 1 ms … about 33 s: the per-call timeout is 30 s by default.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("simrotor");
        let purchases = Family::<StatusLabel, Counter>::default();
        registry.register(
            "purchases",
            "Purchases that reached an outcome, by status",
            purchases.clone(),
        );
        let pulsa_spent = Counter::default();
        registry.register(
            "pulsa_spent_rupiah",
            "Pulsa spent on executed purchases (SUKSES and SUSPECT), in rupiah",
            pulsa_spent.clone(),
        );
        let bindings_ended = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "bindings_ended",
            "Bindings that ended, by end reason",
            bindings_ended.clone(),
        );
        let servers = Family::<StateLabel, Gauge>::default();
        registry.register("servers", "Servers by persisted state", servers.clone());
        let otp_wait = Family::<PurposeLabel, Histogram>::new_with_constructor(
            otp_wait_histogram as fn() -> Histogram,
        );
        registry.register(
            "otp_wait_seconds",
            "How long a binding waited for its OTP until it came",
            otp_wait.clone(),
        );
        let slot_calls = Family::<CallLabels, Histogram>::new_with_constructor(
            slot_call_histogram as fn() -> Histogram,
        );
        registry.register(
            "slot_call_seconds",
            "Latency of calls to the resource servers, by call and outcome",
            slot_calls.clone(),
        );
        let pool_available = Family::<BatchLabel, Gauge>::default();
        registry.register(
            "pool_available",
            "Accounts available to lease, by batch",
            pool_available.clone(),
        );
        let restarts = Family::<ServerLabel, Counter>::default();
        registry.register(
            "server_restarts",
            "Restarts of a server's actor by the supervisor",
            restarts.clone(),
        );
        Self {
            registry,
            purchases,
            pulsa_spent,
            bindings_ended,
            servers,
            otp_wait,
            slot_calls,
            pool_available,
            restarts,
        }
    }

    /// A purchase reached `status`; an executed one spent `price`.
    pub fn purchase_final(&self, status: TrxStatus, price: Rupiah) {
        if status == TrxStatus::Processing {
            return;
        }
        self.purchases
            .get_or_create(&StatusLabel {
                status: status.to_string(),
            })
            .inc();
        if matches!(status, TrxStatus::Success | TrxStatus::Suspect) {
            self.pulsa_spent.inc_by(price.get());
        }
    }

    /// A binding ended; `reason` is its end reason (`EXHAUSTED`, `OTP_TIMEOUT`, …).
    pub fn binding_ended(&self, reason: &str) {
        self.bindings_ended
            .get_or_create(&ReasonLabel {
                reason: reason.to_owned(),
            })
            .inc();
    }

    pub fn otp_waited(&self, purpose: &str, waited: Duration) {
        self.otp_wait
            .get_or_create(&PurposeLabel {
                purpose: purpose.to_owned(),
            })
            .observe(waited.as_secs_f64());
    }

    /// Times one call, labelled by its name (the path without its slash, as in the contract).
    pub fn slot_call(&self, call: Call, ok: bool, took: Duration) {
        self.slot_calls
            .get_or_create(&CallLabels {
                call: call.name(),
                outcome: if ok { "ok" } else { "error" },
            })
            .observe(took.as_secs_f64());
    }

    pub fn server_restarted(&self, port: u16) {
        self.restarts
            .get_or_create(&ServerLabel { server: port })
            .inc();
    }

    /// Sets the gauges read from the database at scrape time; labels no longer present vanish.
    pub fn set_gauges<'a>(
        &self,
        servers_by_state: impl IntoIterator<Item = (&'a str, i64)>,
        available_by_batch: impl IntoIterator<Item = (String, u64)>,
    ) {
        self.servers.clear();
        for (state, n) in servers_by_state {
            self.servers
                .get_or_create(&StateLabel {
                    state: state.to_owned(),
                })
                .set(n);
        }
        self.pool_available.clear();
        for (batch, n) in available_by_batch {
            self.pool_available
                .get_or_create(&BatchLabel { batch })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// The text a Prometheus scrape gets.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// A [`SlotClient`] that times every call into [`Metrics`], around whatever client it wraps.
pub struct MeteredClient {
    inner: Arc<dyn SlotClient>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for MeteredClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteredClient").finish_non_exhaustive()
    }
}

impl MeteredClient {
    pub fn wrap(inner: Arc<dyn SlotClient>, metrics: Arc<Metrics>) -> Arc<dyn SlotClient> {
        Arc::new(Self { inner, metrics })
    }

    async fn timed<T>(
        &self,
        call: Call,
        fut: impl std::future::Future<Output = SlotResult<T>>,
    ) -> SlotResult<T> {
        let started = std::time::Instant::now();
        let result = fut.await;
        self.metrics
            .slot_call(call, result.is_ok(), started.elapsed());
        result
    }
}

#[async_trait]
impl SlotClient for MeteredClient {
    async fn request_otp(&self, msisdn: &Msisdn, pin: &Pin) -> SlotResult<Reply<Ack>> {
        self.timed(Call::RequestOtp, self.inner.request_otp(msisdn, pin))
            .await
    }
    async fn verify_otp(&self, msisdn: &Msisdn, otp: &Otp) -> SlotResult<Reply<TokenLogin>> {
        self.timed(Call::VerifyOtp, self.inner.verify_otp(msisdn, otp))
            .await
    }
    async fn balance(&self, msisdn: &Msisdn) -> SlotResult<Reply<Balance>> {
        self.timed(Call::Balance, self.inner.balance(msisdn)).await
    }
    async fn token_location(&self, msisdn: &Msisdn) -> SlotResult<Reply<TokenLocation>> {
        self.timed(Call::TokenLocation, self.inner.token_location(msisdn))
            .await
    }
    async fn list_products(&self, msisdn: &Msisdn) -> SlotResult<Reply<ProductListing>> {
        self.timed(Call::ListProducts, self.inner.list_products(msisdn))
            .await
    }
    async fn buy(
        &self,
        msisdn: &Msisdn,
        product_id: &str,
        email: &Email,
        limit_harga: Rupiah,
    ) -> SlotResult<Reply<TrxAccepted>> {
        self.timed(
            Call::Buy,
            self.inner.buy(msisdn, product_id, email, limit_harga),
        )
        .await
    }
    async fn transaction_otp(&self, msisdn: &Msisdn, otp: &Otp) -> SlotResult<Reply<Ack>> {
        self.timed(
            Call::TransactionOtp,
            self.inner.transaction_otp(msisdn, otp),
        )
        .await
    }
    async fn trx_status(&self, msisdn: &Msisdn, trx_id: &str) -> SlotResult<Reply<TrxProgress>> {
        self.timed(Call::TrxStatus, self.inner.trx_status(msisdn, trx_id))
            .await
    }
    async fn logout(&self, msisdn: &Msisdn) -> SlotResult<Reply<Ack>> {
        self.timed(Call::Logout, self.inner.logout(msisdn)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_every_metric_and_counts_what_happened() {
        let m = Metrics::new();
        m.purchase_final(TrxStatus::Success, Rupiah::new(10_000));
        m.purchase_final(TrxStatus::Suspect, Rupiah::new(5_000));
        m.purchase_final(TrxStatus::Failed, Rupiah::new(10_000));
        m.binding_ended("EXHAUSTED");
        m.otp_waited("login", Duration::from_secs(3));
        m.slot_call(Call::Balance, true, Duration::from_millis(12));
        m.server_restarted(9903);
        m.set_gauges([("BUSY", 18), ("WAITING_OTP", 2)], [("B1".to_owned(), 200)]);
        let text = m.render();
        for line in [
            "simrotor_purchases_total{status=\"SUKSES\"} 1",
            "simrotor_purchases_total{status=\"SUSPECT\"} 1",
            "simrotor_purchases_total{status=\"GAGAL\"} 1",
            "simrotor_pulsa_spent_rupiah_total 15000",
            "simrotor_bindings_ended_total{reason=\"EXHAUSTED\"} 1",
            "simrotor_servers{state=\"BUSY\"} 18",
            "simrotor_pool_available{batch=\"B1\"} 200",
            "simrotor_server_restarts_total{server=\"9903\"} 1",
            "simrotor_otp_wait_seconds_count{purpose=\"login\"} 1",
            "simrotor_slot_call_seconds_count{call=\"balance_pulsa\",outcome=\"ok\"} 1",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        // Gauges follow the database: a state no server is in any more disappears.
        m.set_gauges([("IDLE", 20)], []);
        let text = m.render();
        assert!(!text.contains("state=\"BUSY\""), "{text}");
        assert!(
            text.contains("simrotor_servers{state=\"IDLE\"} 20"),
            "{text}"
        );
    }
}

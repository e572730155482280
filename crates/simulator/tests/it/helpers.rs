//! A started simulator with a client, and the calls every topic repeats.

use std::time::Duration;

use serde_json::Value;
use simrotor_domain::{Msisdn, Rupiah};
use simrotor_simulator::{AnswerShapes, SimProduct, Simulator, SimulatorConfig, SimulatorHandle};

/// Every number is a reseller, none is blocked, and each starts with 27,000; the default
/// (real) shapes and catalogue.
pub fn real_config() -> SimulatorConfig {
    SimulatorConfig {
        pulsa_min: Rupiah::new(27_000),
        pulsa_max: Rupiah::new(27_000),
        reseller_rate: 1.0,
        blocked_rate: 0.0,
        ..SimulatorConfig::default()
    }
}

/// As [`real_config`], with the legacy shapes and the simulator's earlier catalogue (`VCR5`,
/// `VCR10`, `VCR25`), which most topics' tests were written against.
pub fn config() -> SimulatorConfig {
    SimulatorConfig {
        shapes: AnswerShapes::Legacy,
        products: vec![
            SimProduct::new("VCR5", "Voucher Belanja 5.000", 5_000),
            SimProduct::new("VCR10", "Voucher Belanja 10.000", 10_000),
            SimProduct::new("VCR25", "Voucher Belanja 25.000", 25_000),
        ],
        ..real_config()
    }
}

pub use simrotor_test_support::{free_port, number};

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// One HTTP answer, kept whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// The telco's answer inside the envelope.
    pub fn res(&self) -> Value {
        self.json()["res"].clone()
    }

    /// `res` when the answer is enveloped, the whole body otherwise (as a tolerant client reads).
    pub fn payload(&self) -> Value {
        let body = self.json();
        body.get("res").cloned().unwrap_or(body)
    }

    pub fn message(&self) -> String {
        self.res()["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

pub struct Sim {
    pub handle: SimulatorHandle,
    pub client: reqwest::Client,
}

impl Sim {
    pub async fn start(config: SimulatorConfig, servers: usize) -> Sim {
        Self::on(config, &vec![0; servers]).await
    }

    pub async fn on(config: SimulatorConfig, ports: &[u16]) -> Sim {
        let handle = Simulator::start(config, "127.0.0.1", ports).await.unwrap();
        Sim {
            handle,
            client: client(),
        }
    }

    pub fn port(&self, server: usize) -> u16 {
        self.handle.addrs()[server].port()
    }

    pub fn url(&self, server: usize, path: &str) -> String {
        format!("{}{path}", self.handle.base_urls()[server])
    }

    /// The URL with its query encoded (reqwest's `query` needs a feature the workspace leaves off).
    pub fn url_with(&self, server: usize, path: &str, query: &[(&str, &str)]) -> reqwest::Url {
        reqwest::Url::parse_with_params(&self.url(server, path), query).unwrap()
    }

    pub async fn try_get(
        &self,
        server: usize,
        path: &str,
        query: &[(&str, &str)],
    ) -> reqwest::Result<Answer> {
        let resp = self
            .client
            .get(self.url_with(server, path, query))
            .send()
            .await?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = resp.text().await?;
        Ok(Answer {
            status,
            content_type,
            body,
        })
    }

    pub async fn get(&self, server: usize, path: &str, query: &[(&str, &str)]) -> Answer {
        self.try_get(server, path, query).await.unwrap()
    }

    /// A call with `username` = the number's local form.
    pub async fn call(
        &self,
        server: usize,
        path: &str,
        msisdn: &Msisdn,
        more: &[(&str, &str)],
    ) -> Answer {
        let local = msisdn.local();
        let mut query = vec![("username", local.as_str())];
        query.extend_from_slice(more);
        self.get(server, path, &query).await
    }

    /// `/otp` then `/verifyOtp` with the code from the SMS, in either shape; returns the login
    /// token (legacy `data.token_login`, real `data.tokenid`).
    pub async fn login(&self, server: usize, msisdn: &Msisdn) -> String {
        let ack = self.call(server, "/otp", msisdn, &[("pin", "1234")]).await;
        assert_eq!(ack.payload()["status"], "0", "{ack:?}");
        let code = self.handle.latest_otp(msisdn).unwrap();
        let verified = self
            .call(server, "/verifyOtp", msisdn, &[("otp", &code)])
            .await;
        let data = &verified.payload()["data"];
        assert_eq!(verified.payload()["status"], "0", "{verified:?}");
        data["token_login"]
            .as_str()
            .or(data["tokenid"].as_str())
            .unwrap_or_else(|| panic!("no token: {verified:?}"))
            .to_owned()
    }

    pub async fn balance(&self, server: usize, msisdn: &Msisdn) -> String {
        let answer = self.call(server, "/balance_pulsa", msisdn, &[]).await;
        answer.res()["balance"]
            .as_str()
            .unwrap_or_else(|| panic!("no balance: {answer:?}"))
            .to_owned()
    }

    pub async fn buy(&self, server: usize, msisdn: &Msisdn, product: &str, limit: &str) -> Answer {
        self.call(
            server,
            "/trx_idv",
            msisdn,
            &[
                ("product_id", product),
                ("email", "buyer@example.id"),
                ("limit_harga", limit),
            ],
        )
        .await
    }

    pub async fn status(&self, server: usize, msisdn: &Msisdn, trx_id: &str) -> Value {
        self.call(server, "/status_idv", msisdn, &[("trx_id", trx_id)])
            .await
            .res()
    }

    pub async fn stop(self) {
        self.handle.stop().await;
    }
}

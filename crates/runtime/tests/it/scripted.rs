//! One scriptable test double for the scenarios: the real HTTP client to the simulator, with a
//! script that may replace any call's answer by an error (the `n`th call of a kind for a number,
//! counted from 1), and every call written down with its outcome.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use simrotor_domain::{Email, Msisdn, Pin, Rupiah};
use simrotor_slot::{
    Ack, Balance, Call, HttpOptions, HttpSlotClient, Otp, ProductListing, Reply, SlotClient,
    SlotError, SlotResult, TokenLocation, TokenLogin, TrxAccepted, TrxProgress,
};

/// Decides, per call, whether the server's answer is replaced: `(call, number, nth)`.
pub type Script = Box<dyn Fn(Call, &Msisdn, u32) -> Option<SlotError> + Send + Sync>;

pub struct Scripted {
    inner: HttpSlotClient,
    script: Script,
    counts: Mutex<HashMap<(Call, Msisdn), u32>>,
    /// `"<call> <08…> <ok | refused: reason | unusable>"`, in order.
    pub calls: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripted").finish_non_exhaustive()
    }
}

impl Scripted {
    /// The simulator's server on `port`, answering through `script`.
    pub fn new(port: u16, script: Script) -> Self {
        let options = HttpOptions::new(format!("http://127.0.0.1:{port}"));
        Self {
            inner: HttpSlotClient::with_options(options).unwrap(),
            script,
            counts: Mutex::new(HashMap::new()),
            calls: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The calls of these kinds, in order.
    pub fn calls_of(calls: &Mutex<Vec<String>>, kinds: &[Call]) -> Vec<String> {
        calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| {
                kinds
                    .iter()
                    .any(|k| c.starts_with(&format!("{} ", k.name())))
            })
            .cloned()
            .collect()
    }

    async fn run<T>(
        &self,
        call: Call,
        m: &Msisdn,
        real: impl Future<Output = SlotResult<T>>,
    ) -> SlotResult<T> {
        let nth = {
            let mut counts = self.counts.lock().unwrap();
            let n = counts.entry((call, m.clone())).or_default();
            *n += 1;
            *n
        };
        let res = match (self.script)(call, m, nth) {
            Some(e) => Err(e),
            None => real.await,
        };
        let outcome = match &res {
            Ok(_) => "ok".to_owned(),
            Err(e) => match e.refusal_reason() {
                Some(reason) => format!("refused: {reason}"),
                None => "unusable".to_owned(),
            },
        };
        self.calls
            .lock()
            .unwrap()
            .push(format!("{} {} {outcome}", call.name(), m.local()));
        res
    }
}

#[async_trait]
impl SlotClient for Scripted {
    async fn request_otp(&self, m: &Msisdn, pin: &Pin) -> SlotResult<Reply<Ack>> {
        self.run(Call::RequestOtp, m, self.inner.request_otp(m, pin))
            .await
    }
    async fn verify_otp(&self, m: &Msisdn, otp: &Otp) -> SlotResult<Reply<TokenLogin>> {
        self.run(Call::VerifyOtp, m, self.inner.verify_otp(m, otp))
            .await
    }
    async fn balance(&self, m: &Msisdn) -> SlotResult<Reply<Balance>> {
        self.run(Call::Balance, m, self.inner.balance(m)).await
    }
    async fn token_location(&self, m: &Msisdn) -> SlotResult<Reply<TokenLocation>> {
        self.run(Call::TokenLocation, m, self.inner.token_location(m))
            .await
    }
    async fn list_products(&self, m: &Msisdn) -> SlotResult<Reply<ProductListing>> {
        self.run(Call::ListProducts, m, self.inner.list_products(m))
            .await
    }
    async fn buy(
        &self,
        m: &Msisdn,
        product: &str,
        email: &Email,
        limit: Rupiah,
    ) -> SlotResult<Reply<TrxAccepted>> {
        self.run(Call::Buy, m, self.inner.buy(m, product, email, limit))
            .await
    }
    async fn transaction_otp(&self, m: &Msisdn, otp: &Otp) -> SlotResult<Reply<Ack>> {
        self.run(Call::TransactionOtp, m, self.inner.transaction_otp(m, otp))
            .await
    }
    async fn trx_status(&self, m: &Msisdn, trx: &str) -> SlotResult<Reply<TrxProgress>> {
        self.run(Call::TrxStatus, m, self.inner.trx_status(m, trx))
            .await
    }
    async fn logout(&self, m: &Msisdn) -> SlotResult<Reply<Ack>> {
        self.run(Call::Logout, m, self.inner.logout(m)).await
    }
}

//! One scriptable `SlotClient` for the tests: a script decides, per call, whether the answer is
//! replaced by an error (or the call panics); the others go to the server behind it, when there
//! is one. Every call is written down with its outcome.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use simrotor_domain::{Email, Msisdn, Pin, Rupiah};
use simrotor_slot::{
    Ack, Balance, Call, HttpOptions, HttpSlotClient, Otp, ProductListing, Reply, SlotClient,
    SlotError, SlotResult, TokenLocation, TokenLogin, TrxAccepted, TrxProgress,
};

/// Decides, per call, whether the server's answer is replaced: `(call, number, nth)`, the `nth`
/// call of that kind for that number counted from 1. `None`: the server behind answers.
pub type Script = Box<dyn Fn(Call, &Msisdn, u32) -> Option<SlotError> + Send + Sync>;

/// The calls a [`ScriptedSlot`] saw: `"<call> <08…> <ok | refused: reason | unusable>"`, in
/// order. A clone is the same log.
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<String>>>);

impl CallLog {
    /// Every call, in order.
    pub fn all(&self) -> Vec<String> {
        self.0.lock().expect("the call log").clone()
    }

    /// The calls of these kinds, in order.
    pub fn of(&self, kinds: &[Call]) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|c| {
                kinds
                    .iter()
                    .any(|k| c.starts_with(&format!("{} ", k.name())))
            })
            .collect()
    }

    fn push(&self, line: String) {
        self.0.lock().expect("the call log").push(line);
    }
}

/// The scriptable test double.
pub struct ScriptedSlot {
    server: Option<Arc<dyn SlotClient>>,
    script: Script,
    counts: Mutex<HashMap<(Call, Msisdn), u32>>,
    calls: CallLog,
}

impl std::fmt::Debug for ScriptedSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedSlot")
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

impl ScriptedSlot {
    /// `server` answering through `script`.
    pub fn over(server: Arc<dyn SlotClient>, script: Script) -> Self {
        Self::with(Some(server), script)
    }

    /// The real HTTP client to the server on loopback `port`, answering through `script`.
    pub fn over_port(port: u16, script: Script) -> Self {
        let options = HttpOptions::new(format!("http://127.0.0.1:{port}"));
        let client = HttpSlotClient::with_options(options).expect("an HTTP slot client");
        Self::over(Arc::new(client), script)
    }

    /// No server: `script` must answer every call (a call it leaves fails the test).
    pub fn alone(script: Script) -> Self {
        Self::with(None, script)
    }

    fn with(server: Option<Arc<dyn SlotClient>>, script: Script) -> Self {
        Self {
            server,
            script,
            counts: Mutex::new(HashMap::new()),
            calls: CallLog::default(),
        }
    }

    /// The log of the calls (shared: it keeps filling while the double is used).
    pub fn calls(&self) -> CallLog {
        self.calls.clone()
    }

    fn server(&self, call: Call) -> &dyn SlotClient {
        match &self.server {
            Some(server) => server.as_ref(),
            None => panic!("the script left {call} unanswered and no server is behind it"),
        }
    }

    async fn run<'a, T, Fut>(
        &'a self,
        call: Call,
        m: &Msisdn,
        real: impl FnOnce(&'a dyn SlotClient) -> Fut,
    ) -> SlotResult<T>
    where
        Fut: Future<Output = SlotResult<T>>,
    {
        let nth = {
            let mut counts = self.counts.lock().expect("the call counts");
            let n = counts.entry((call, m.clone())).or_default();
            *n += 1;
            *n
        };
        let res = match (self.script)(call, m, nth) {
            Some(e) => Err(e),
            None => real(self.server(call)).await,
        };
        let outcome = match &res {
            Ok(_) => "ok".to_owned(),
            Err(e) => match e.refusal_reason() {
                Some(reason) => format!("refused: {reason}"),
                None => "unusable".to_owned(),
            },
        };
        self.calls
            .push(format!("{} {} {outcome}", call.name(), m.local()));
        res
    }
}

#[async_trait]
impl SlotClient for ScriptedSlot {
    async fn request_otp(&self, m: &Msisdn, pin: &Pin) -> SlotResult<Reply<Ack>> {
        self.run(Call::RequestOtp, m, |s| s.request_otp(m, pin))
            .await
    }
    async fn verify_otp(&self, m: &Msisdn, otp: &Otp) -> SlotResult<Reply<TokenLogin>> {
        self.run(Call::VerifyOtp, m, |s| s.verify_otp(m, otp)).await
    }
    async fn balance(&self, m: &Msisdn) -> SlotResult<Reply<Balance>> {
        self.run(Call::Balance, m, |s| s.balance(m)).await
    }
    async fn token_location(&self, m: &Msisdn) -> SlotResult<Reply<TokenLocation>> {
        self.run(Call::TokenLocation, m, |s| s.token_location(m))
            .await
    }
    async fn list_products(&self, m: &Msisdn) -> SlotResult<Reply<ProductListing>> {
        self.run(Call::ListProducts, m, |s| s.list_products(m))
            .await
    }
    async fn buy(
        &self,
        m: &Msisdn,
        product: &str,
        email: &Email,
        limit: Rupiah,
    ) -> SlotResult<Reply<TrxAccepted>> {
        self.run(Call::Buy, m, |s| s.buy(m, product, email, limit))
            .await
    }
    async fn transaction_otp(&self, m: &Msisdn, otp: &Otp) -> SlotResult<Reply<Ack>> {
        self.run(Call::TransactionOtp, m, |s| s.transaction_otp(m, otp))
            .await
    }
    async fn trx_status(&self, m: &Msisdn, trx: &str) -> SlotResult<Reply<TrxProgress>> {
        self.run(Call::TrxStatus, m, |s| s.trx_status(m, trx)).await
    }
    async fn logout(&self, m: &Msisdn) -> SlotResult<Reply<Ack>> {
        self.run(Call::Logout, m, |s| s.logout(m)).await
    }
}

#[cfg(test)]
mod tests {
    use simrotor_slot::ProtocolProblem;

    use super::*;
    use crate::number;

    fn unusable(call: Call) -> SlotError {
        SlotError::protocol(call, ProtocolProblem::Truncated)
    }

    #[tokio::test]
    async fn the_script_counts_each_call_per_number_and_the_log_keeps_them() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let behind = seen.clone();
        let server = ScriptedSlot::alone(Box::new(move |call, m, nth| {
            behind.lock().unwrap().push((call, m.local(), nth));
            Some(unusable(call))
        }));
        let double = ScriptedSlot::over(
            Arc::new(server),
            Box::new(|call, _, nth| (call == Call::Logout && nth == 2).then(|| unusable(call))),
        );
        let (a, b) = (number(1), number(2));
        for m in [&a, &b, &a] {
            assert!(double.logout(m).await.is_err());
        }
        assert!(double.balance(&a).await.is_err());
        // The second logout of `a` was the script's; the others reached the server.
        let reached: Vec<u32> = seen.lock().unwrap().iter().map(|s| s.2).collect();
        assert_eq!(reached, [1, 1, 1]);
        assert_eq!(double.calls().all().len(), 4);
        assert_eq!(
            double.calls().of(&[Call::Logout]),
            [
                format!("logout {} unusable", a.local()),
                format!("logout {} unusable", b.local()),
                format!("logout {} unusable", a.local()),
            ]
        );
    }

    #[tokio::test]
    #[should_panic(expected = "left /balance_pulsa unanswered")]
    async fn a_call_the_script_leaves_fails_without_a_server() {
        let double = ScriptedSlot::alone(Box::new(|_, _, _| None));
        let _ = double.balance(&number(1)).await;
    }
}

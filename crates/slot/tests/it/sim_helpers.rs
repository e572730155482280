//! The simulator started in-process on ephemeral ports, and a real [`HttpSlotClient`] for each
//! of its servers built from a [`ServerSpec`], the way the runtime builds one from configuration.

use std::time::Duration;

use serde_json::Value;
use simrotor_config::ServerSpec;
use simrotor_domain::{Email, Msisdn, Pin, Rupiah};
use simrotor_simulator::{
    AnswerShapes, Simulator, SimulatorConfig, SimulatorFaults, SimulatorHandle,
};
use simrotor_slot::{
    HttpOptions, HttpSlotClient, Otp, RefusalReason, SlotClient, SlotError, SlotErrorKind,
    TokenLogin, TransportKind,
};
use simrotor_test_support::{Patience, number_with_prefix};

/// The PIN every test logs in with (the simulator learns a number's PIN from its first `/otp`).
pub const PIN: &str = "246810";
pub const EMAIL: &str = "buyer@example.id";
/// Every number's starting pulsa in [`config`].
pub const PULSA: Rupiah = Rupiah::new(27_000);
/// The configured default `products.limit_harga`.
pub const LIMIT: Rupiah = Rupiah::new(10_500);
/// The price of `647` ("IDV Voucher Rp. 10.000") in the default catalogue.
pub const VCR10: Rupiah = Rupiah::new(10_000);
/// A healthy call's timeout: short, yet far above what a call takes on a loaded machine.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Every number a reseller, none blocked, each starting with [`PULSA`]; no faults.
pub fn config() -> SimulatorConfig {
    SimulatorConfig {
        pulsa_min: PULSA,
        pulsa_max: PULSA,
        reseller_rate: 1.0,
        blocked_rate: 0.0,
        ..SimulatorConfig::default()
    }
}

/// [`config`] with the servers answering in `shapes`.
pub fn shaped(shapes: AnswerShapes) -> SimulatorConfig {
    SimulatorConfig { shapes, ..config() }
}

pub fn with_faults(faults: SimulatorFaults) -> SimulatorConfig {
    SimulatorConfig { faults, ..config() }
}

pub fn number(n: u32) -> Msisdn {
    number_with_prefix("0857", n)
}

pub fn pin() -> Pin {
    Pin::parse(PIN).unwrap()
}

pub fn email() -> Email {
    Email::parse(EMAIL).unwrap()
}

pub use simrotor_test_support::free_port;

/// The client for `spec`, with the repeats' backoff shortened so that tests do not sleep.
pub fn client_for(spec: &ServerSpec) -> HttpSlotClient {
    HttpSlotClient::with_options(HttpOptions {
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
        ..HttpOptions::from_spec(spec)
    })
    .unwrap()
}

/// A running simulator; each test starts its own.
pub struct Sim {
    pub handle: SimulatorHandle,
}

impl Sim {
    pub async fn start(config: SimulatorConfig, servers: usize) -> Sim {
        Self::on(config, &vec![0; servers]).await
    }

    pub async fn on(config: SimulatorConfig, ports: &[u16]) -> Sim {
        let handle = Simulator::start(config, "127.0.0.1", ports).await.unwrap();
        Sim { handle }
    }

    pub fn port(&self, server: usize) -> u16 {
        self.handle.addrs()[server].port()
    }

    /// The server as the configuration describes it: host, the bound port, [`TIMEOUT`], two
    /// retries, no pacing.
    pub fn spec(&self, server: usize) -> ServerSpec {
        ServerSpec {
            port: self.port(server),
            host: "127.0.0.1".to_owned(),
            timeout: TIMEOUT,
            retries: 2,
            pacing: Duration::ZERO,
            enabled: true,
        }
    }

    pub fn client(&self, server: usize) -> HttpSlotClient {
        client_for(&self.spec(server))
    }

    pub fn client_with(&self, server: usize, timeout: Duration, retries: u32) -> HttpSlotClient {
        client_for(&ServerSpec {
            timeout,
            retries,
            ..self.spec(server)
        })
    }

    /// The code of the latest SMS the number received, as the operator reads it off the phone.
    pub fn sms_code(&self, msisdn: &Msisdn) -> Otp {
        Otp::new(
            self.handle
                .latest_otp(msisdn)
                .expect("the number received an SMS with a code"),
        )
    }

    pub fn sms_count(&self, msisdn: &Msisdn) -> usize {
        self.handle.sms(Some(msisdn)).len()
    }

    /// `/otp`, then `/verifyOtp` with the code from the SMS.
    pub async fn login(&self, slot: &HttpSlotClient, msisdn: &Msisdn) -> TokenLogin {
        slot.request_otp(msisdn, &pin())
            .await
            .expect("the OTP is sent");
        slot.verify_otp(msisdn, &self.sms_code(msisdn))
            .await
            .expect("the OTP from the SMS logs in")
            .value
    }

    pub async fn stop(self) {
        self.handle.stop().await;
    }
}

/// A code that is certainly not `code`, of the same length.
pub fn wrong(code: &Otp) -> Otp {
    let flipped: String = code
        .expose()
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    Otp::new(flipped)
}

/// The digits of an SMS text: the simulator's texts carry the code as their only number.
pub fn code_in(message: &str) -> Otp {
    Otp::new(
        message
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>(),
    )
}

/// The shape one answer came in, as its body tells: a legacy body carries a `res.code` other
/// than myim3's `"00000"`, a real one never does. (Every legacy answer has it but the balance
/// and "not a reseller", which read the same in both shapes: do not ask about those.) Under
/// [`AnswerShapes::Real`] or [`AnswerShapes::Legacy`] the answer must be in that shape; under
/// [`AnswerShapes::Mixed`] it may be in either, and the one it was is returned.
pub fn answered_in(shapes: AnswerShapes, raw: &Value) -> AnswerShapes {
    let legacy = raw["res"]["code"].as_str().is_some_and(|c| c != "00000");
    let seen = if legacy {
        AnswerShapes::Legacy
    } else {
        AnswerShapes::Real
    };
    if shapes != AnswerShapes::Mixed {
        assert_eq!(seen, shapes, "an answer in the other shape: {raw}");
    }
    seen
}

/// [`answered_in`] for the body kept with an error.
pub fn refused_in(shapes: AnswerShapes, err: &SlotError) -> AnswerShapes {
    let body = err.raw_body().expect("the refusal's body is kept");
    let raw: Value = serde_json::from_str(body).expect("a JSON refusal");
    answered_in(shapes, &raw)
}

/// What a refusal says: `(status, message, reason)`; a panic naming the error otherwise.
pub fn refusal(err: &SlotError) -> (&str, &str, RefusalReason) {
    match &err.kind {
        SlotErrorKind::Refused {
            status,
            message,
            reason,
        } => (status.as_str(), message.as_str(), *reason),
        other => panic!("expected a refusal, got {other}"),
    }
}

/// What a transport failure says: `(kind, may_have_reached)`; a panic otherwise.
pub fn transport(err: &SlotError) -> (TransportKind, bool) {
    match &err.kind {
        SlotErrorKind::Transport {
            kind,
            may_have_reached,
            ..
        } => (*kind, *may_have_reached),
        other => panic!("expected a transport failure, got {other}"),
    }
}

/// Waits, within a generous bound, until `done` holds: for effects of a call that the server
/// made before the client gave up on the answer.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    Patience::new(Duration::from_secs(30), Duration::from_millis(20))
        .wait_for(what, || std::future::ready(done().then_some(())))
        .await;
}

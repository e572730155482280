//! The SMS the simulated telco "sends" to a number: kept for the operator to read (as if reading
//! the phone) and, when configured, posted to an SMS-forwarder URL the way a forwarder app posts
//! an incoming SMS, so a demo can log in without anyone typing a code.
//!
//! **The format** (`simulator.forward_as`): `native` posts simrotor's own `{"msisdn", "message",
//! "received_at"}` JSON ([`Sms`]); an app's name posts each SMS as that app does
//! ([`simrotor_sms::encode()`]: its fields, its encoding, its `Content-Type`, GET for Kannel),
//! signed or tokened with `forward_secret`, and naming the receiving SIM only when
//! `forward_number` is on (most real apps never do).
//!
//! **The phones.** Each simulated number's SIM sits in a phone, the same on every run
//! ([`sim_of`]): the phone `phone-<the number without its last digit>-<last digit / 2>`, slot
//! `1 + last digit % 2`. So the numbers `…0` and `…1` share one phone (slots 1 and 2), `…2` and
//! `…3` the next, and so on: a test declares its channels (`device` + `slot` → number) from it.
//! (Ejoin names the slot's port `<slot>A`. Some apps cannot be told apart by channel: without
//! a device, bogkonstantin, Ejoin and httpSMS; without a slot, SMSSync, textbee, Kannel, Gammu.)
//!
//! **Retries and forgeries.** With `forward_duplicates` every SMS is posted twice, the second
//! byte for byte the first (an app's retry); with `forward_forgeries` each real SMS is preceded
//! by a forged copy: another code in the text, another message id, and a signature or token made
//! with a wrong secret. The runtime must refuse it (401: logged at debug); it taking a forgery is
//! logged at warn, like any other answer but a 2xx to a real SMS.
//!
//! Forwarding is best effort: a short timeout, a failure logged, never in the way of the answer
//! to the caller (the posts run on their own task after the answer's state is settled).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use simrotor_config::{ForwardAs, ForwarderSecret, SimulatorConfig};
use simrotor_domain::{Msisdn, mask_digits};
use simrotor_sms::{App, Encoded, Method, Outgoing, encode};
use tokio::sync::{mpsc, watch};

use crate::calls::CallLog;
use crate::http::locked;

/// How long the forwarder waits for the receiving system.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(2);

/// Who the simulated telco's OTP SMS come from, as the forwarder apps report the sender.
pub const SENDER: &str = "INDOSAT";

/// One SMS as an SMS forwarder posts it, and as `GET /_sim/sms` lists it:
/// `{"msisdn": "6281234567890", "message": "Kode OTP Anda: 123456 …", "received_at":
/// "2026-11-24T08:00:00Z"}` (`msisdn` in the stored `62…` form; `received_at` RFC 3339, UTC,
/// whole seconds).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sms {
    pub msisdn: Msisdn,
    pub message: String,
    pub received_at: DateTime<Utc>,
}

/// The message carries a code: Debug shows its shape, never its digits.
impl fmt::Debug for Sms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sms")
            .field("msisdn", &self.msisdn)
            .field("message", &mask_digits(&self.message))
            .field("received_at", &self.received_at)
            .finish()
    }
}

/// Text of the login OTP SMS. The code is the only run of digits in it, so a forwarder pattern
/// such as `\b(\d{4,8})\b` finds it.
pub(crate) fn login_text(code: &str) -> String {
    format!(
        "Kode OTP Anda: {code} untuk masuk ke aplikasi. JANGAN BERIKAN kode ini kepada siapa pun."
    )
}

/// Text of the transaction OTP SMS (first purchase on a device new to the number).
pub(crate) fn transaction_text(code: &str) -> String {
    format!(
        "Kode OTP Anda: {code} untuk verifikasi transaksi di perangkat baru. JANGAN BERIKAN kode \
         ini kepada siapa pun."
    )
}

/// The phone and the slot holding `msisdn`'s SIM: `("phone-<number without its last
/// digit>-<last digit / 2>", 1 + last digit % 2)`; two numbers share each phone.
pub fn sim_of(msisdn: &Msisdn) -> (String, u8) {
    let digits = msisdn.as_str();
    let (head, last) = digits.split_at(digits.len().saturating_sub(1));
    let last = last
        .bytes()
        .next()
        .map_or(0, |b| b.saturating_sub(b'0') % 10);
    (format!("phone-{head}-{}", last / 2), 1 + last % 2)
}

/// The same text with every digit moved on by one: another code, the same shape.
fn forged_text(text: &str) -> String {
    text.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_digit((d + 1) % 10, 10).unwrap_or(c),
            None => c,
        })
        .collect()
}

/// What the forwarder does with each SMS (from `[simulator]`).
#[derive(Debug)]
pub(crate) struct Forwarder {
    client: reqwest::Client,
    url: String,
    format: ForwardAs,
    with_number: bool,
    secret: Option<ForwarderSecret>,
    duplicates: bool,
    forgeries: bool,
    /// Where each real SMS's delivery is logged.
    calls: Arc<Mutex<CallLog>>,
    /// More URLs each SMS is posted to, as an app with several webhooks does (one per
    /// runtime when several share the database); deliveries there are not logged twice.
    also: Vec<String>,
}

impl Forwarder {
    /// The forwarder `config` asks for, when it names a URL.
    pub(crate) fn new(
        client: reqwest::Client,
        config: &SimulatorConfig,
        calls: Arc<Mutex<CallLog>>,
    ) -> Option<Self> {
        Some(Self {
            calls,
            client,
            url: config.sms_forwarder_url.clone()?,
            format: config.forward_as,
            with_number: config.forward_number,
            secret: config.forward_secret.clone(),
            duplicates: config.forward_duplicates,
            forgeries: config.forward_forgeries,
            also: config.sms_forwarder_also.clone(),
        })
    }

    /// The same forwarder posting to `url`, its deliveries not logged.
    fn to(&self, url: &str) -> Self {
        Self {
            client: self.client.clone(),
            url: url.to_owned(),
            format: self.format,
            with_number: self.with_number,
            secret: self.secret.clone(),
            duplicates: self.duplicates,
            forgeries: self.forgeries,
            calls: Arc::new(Mutex::new(CallLog::new(Instant::now(), false))),
            also: Vec::new(),
        }
    }
}

/// Posts each SMS from `inbox` until `shutdown` turns true.
pub(crate) async fn forward(
    forwarder: Forwarder,
    mut inbox: mpsc::UnboundedReceiver<Sms>,
    mut shutdown: watch::Receiver<bool>,
) {
    let also: Vec<Arc<Forwarder>> = forwarder
        .also
        .iter()
        .map(|url| Arc::new(forwarder.to(url)))
        .collect();
    let forwarder = Arc::new(forwarder);
    // The apps' message ids: the start time and a counter, so that no two runs share one.
    let prefix = format!("{:x}", Utc::now().timestamp_micros());
    let mut next = 0u64;
    loop {
        tokio::select! {
            received = inbox.recv() => {
                let Some(sms) = received else { return };
                next += 1;
                let id = format!("{prefix}-{next:06}");
                // One task per SMS and URL: a slow receiver delays no other SMS.
                for other in &also {
                    actix_rt::spawn(deliver(other.clone(), sms.clone(), id.clone()));
                }
                actix_rt::spawn(deliver(forwarder.clone(), sms, id));
            }
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

/// What one post was: the SMS, its retry, or a forgery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Real,
    Duplicate,
    Forgery,
}

async fn deliver(f: Arc<Forwarder>, sms: Sms, id: String) {
    let Some(app) = f.format.app() else {
        let posted = Instant::now();
        let sent = f.client.post(&f.url).json(&sms).send().await;
        locked(&f.calls).delivered(&sms.msisdn, posted, Instant::now());
        report(&f, &sms, None, Kind::Real, sent);
        if f.duplicates {
            let sent = f.client.post(&f.url).json(&sms).send().await;
            report(&f, &sms, None, Kind::Duplicate, sent);
        }
        return;
    };
    let (device, slot) = sim_of(&sms.msisdn);
    let secret = f.secret.as_ref().map(ForwarderSecret::expose);
    if f.forgeries {
        let text = forged_text(&sms.message);
        let forged_id = format!("{id}-forged");
        let outgoing = Outgoing {
            receiving: &sms.msisdn,
            with_number: f.with_number,
            device: &device,
            slot,
            sender: SENDER,
            text: &text,
            at: sms.received_at,
            posted_at: Utc::now(),
            id: &forged_id,
            url: &f.url,
        };
        let wrong = format!("{}-forged", secret.unwrap_or("none"));
        let sent = send(&f, &encode(app, &outgoing, Some(&wrong))).await;
        report(&f, &sms, Some(app), Kind::Forgery, sent);
    }
    let outgoing = Outgoing {
        receiving: &sms.msisdn,
        with_number: f.with_number,
        device: &device,
        slot,
        sender: SENDER,
        text: &sms.message,
        at: sms.received_at,
        posted_at: Utc::now(),
        id: &id,
        url: &f.url,
    };
    let encoded = encode(app, &outgoing, secret);
    let posted = Instant::now();
    let sent = send(&f, &encoded).await;
    locked(&f.calls).delivered(&sms.msisdn, posted, Instant::now());
    report(&f, &sms, Some(app), Kind::Real, sent);
    if f.duplicates {
        let sent = send(&f, &encoded).await;
        report(&f, &sms, Some(app), Kind::Duplicate, sent);
    }
}

/// One request as the app sends it: its method, the intake URL and its query, its headers.
async fn send(f: &Forwarder, encoded: &Encoded) -> Result<reqwest::Response, reqwest::Error> {
    let target = encoded.target(&f.url);
    let mut request = match encoded.method {
        Method::Get => f.client.get(&target),
        Method::Post => f.client.post(&target).body(encoded.body.clone()),
    };
    for (name, value) in &encoded.headers {
        request = request.header(name, value);
    }
    request.send().await
}

/// Logs how a post went. The URL is logged without its query: it may hold the token.
fn report(
    f: &Forwarder,
    sms: &Sms,
    app: Option<App>,
    kind: Kind,
    sent: Result<reqwest::Response, reqwest::Error>,
) {
    let format = app.map_or(ForwardAs::NATIVE, App::name);
    let url = f.url.as_str();
    let msisdn = &sms.msisdn;
    let status = match sent {
        Ok(answer) => answer.status(),
        Err(err) => {
            tracing::warn!(
                %msisdn, format, url, error = %err, ?kind,
                "The SMS forwarder could not deliver an SMS; it stays readable at /_sim/sms."
            );
            return;
        }
    };
    let code = status.as_u16();
    match (kind, status) {
        (Kind::Forgery, StatusCode::UNAUTHORIZED) => tracing::debug!(
            %msisdn, format, url, status = code,
            "The receiving system refused a forged SMS, as it should."
        ),
        (Kind::Forgery, s) if s.is_success() => tracing::warn!(
            %msisdn, format, url, status = code,
            "The receiving system took a forged SMS with a wrong signature or token."
        ),
        (Kind::Forgery, _) => tracing::warn!(
            %msisdn, format, url, status = code,
            "The receiving system answered a forged SMS with neither 2xx nor 401."
        ),
        (_, s) if s.is_success() => tracing::debug!(
            %msisdn, format, url, status = code, ?kind,
            "The SMS forwarder delivered an SMS."
        ),
        (_, _) => tracing::warn!(
            %msisdn, format, url, status = code, ?kind,
            "The receiving system refused an SMS; it stays readable at /_sim/sms."
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_payload_has_the_contract_shape_and_debug_hides_the_code() {
        let sms = Sms {
            msisdn: Msisdn::parse("081234567890").unwrap(),
            message: login_text("975310"),
            received_at: Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap(),
        };
        let json = serde_json::to_value(&sms).unwrap();
        assert_eq!(json["msisdn"], "6281234567890");
        assert_eq!(json["received_at"], "2026-11-24T08:00:00Z");
        assert!(
            json["message"]
                .as_str()
                .unwrap()
                .contains("Kode OTP Anda: 975310")
        );
        assert_eq!(json.as_object().unwrap().len(), 3);
        let shown = format!("{sms:?}");
        assert!(!shown.contains("975310"), "{shown}");
        assert!(shown.contains("Kode OTP Anda: ******"), "{shown}");
    }

    #[test]
    fn the_code_is_the_only_number_in_the_text() {
        for text in [login_text("0042"), transaction_text("98765432")] {
            let runs = text
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .count();
            assert_eq!(runs, 1, "{text}");
        }
    }

    #[test]
    fn two_numbers_share_each_phone_in_slots_one_and_two() {
        let sim = |n: &str| sim_of(&Msisdn::parse(n).unwrap());
        assert_eq!(sim("081200000000"), ("phone-628120000000-0".to_owned(), 1));
        assert_eq!(sim("081200000001"), ("phone-628120000000-0".to_owned(), 2));
        assert_eq!(sim("081200000002"), ("phone-628120000000-1".to_owned(), 1));
        assert_eq!(sim("081200000009"), ("phone-628120000000-4".to_owned(), 2));
        // No two of ten neighbours sit in the same slot of the same phone.
        let all: std::collections::BTreeSet<_> =
            (0..10).map(|i| sim(&format!("08120000001{i}"))).collect();
        assert_eq!(all.len(), 10);
    }

    #[test]
    fn a_forged_text_carries_another_code_of_the_same_length() {
        let real = login_text("123490");
        let forged = forged_text(&real);
        assert_eq!(forged, login_text("234501"));
        assert_ne!(forged, real);
    }
}

//! What the SMS forwarder apps the operators really install post, turned into one neutral value.
//!
//! An operator does not write a forwarder: they install SmsForwarder, capcom6 SMS Gateway, a
//! SIM gateway's push, … on the phones or modems holding the SIMs and point it at simrotor.
//! Each app posts its own shape (`../shared/contract/sms-forwarders.md`, one example request
//! each in `fixtures/`), and most of them do **not** say which SIM received the SMS. This crate
//! is pure (no I/O, no clock: the caller passes `now`):
//!
//! - [`App`]: the apps, their names and intake paths;
//! - [`decode()`]: one decoder per app, from a [`Posted`] request into [`Decoded`]: the
//!   [`ForwardedSms`] values (receiving number if any, device, slot, sender, text, time, the
//!   app's message id), a SIM inventory, or nothing to use (a delivery report);
//! - [`verify()`]: each app's own authenticity (its signature with its time window, or a
//!   static token), over the bytes as they came;
//! - [`sign`]: the signatures themselves, shared by [`verify()`] and [`encode()`];
//! - [`encode()`]: the other way, for the simulator: one SMS posted as a given app posts it;
//! - [`code`]: the OTP cut from the SMS text (keywords first, never an amount or a date);
//! - [`fixture`]: the contract's example requests, byte-exact, for the tests of every layer.
//!
//! Texts hold codes and secrets sign requests: nothing here prints either ([`SmsText`] and the
//! errors show shapes, never values).

pub mod code;
mod decode;
mod encode;
pub mod fixture;
mod posted;
pub mod sign;
mod verify;

pub use decode::{DecodeError, decode, phone_slot, reply, smssync_reply};
pub use encode::{Encoded, Outgoing, encode};
pub use posted::{Method, Posted};
pub use verify::{AuthError, verify};

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use simrotor_domain::{Msisdn, mask_digits};

/// The forwarder apps simrotor takes as they send, each at `POST /sms/<name>` of the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum App {
    /// pppscn/SmsForwarder: its JSON templates and its default form; `sign` over the timestamp.
    SmsForwarder,
    /// capcom6 SMS Gateway for Android: `sms:received`, `app:started`; `X-Signature`.
    Capcom6,
    /// bogkonstantin's "Incoming SMS to URL forwarder": a JSON template, sent chunked.
    Bogkonstantin,
    /// Gammu smsd's RunOnReceive with the curl shim: a form of `SMS_1_TEXT`, ….
    Gammu,
    /// Kannel smsbox: the get-url query or the post-url body with `X-Kannel-*` headers.
    Kannel,
    /// Ushahidi SMSSync: a form with a plain `secret`; the reply must be its JSON.
    Smssync,
    /// Ejoin / Skyline SIM gateways: `recv-sms`, several SMS per request, base64 text.
    Ejoin,
    /// Dinstar SIM gateways: `{sn, sms: [...]}`.
    Dinstar,
    /// httpSMS: CloudEvents, `Authorization: Bearer <JWT HS256>`.
    Httpsms,
    /// textbee: JSON, `X-Signature` over the body.
    Textbee,
    /// ibnux Android SMS Gateway: a form per SMS part, nothing that names the SIM.
    Ibnux,
}

impl App {
    pub const ALL: [App; 11] = [
        App::SmsForwarder,
        App::Capcom6,
        App::Bogkonstantin,
        App::Gammu,
        App::Kannel,
        App::Smssync,
        App::Ejoin,
        App::Dinstar,
        App::Httpsms,
        App::Textbee,
        App::Ibnux,
    ];

    /// The name in paths, configuration keys (`[sms.<name>]`) and logs.
    pub fn name(self) -> &'static str {
        match self {
            App::SmsForwarder => "smsforwarder",
            App::Capcom6 => "capcom6",
            App::Bogkonstantin => "bogkonstantin",
            App::Gammu => "gammu",
            App::Kannel => "kannel",
            App::Smssync => "smssync",
            App::Ejoin => "ejoin",
            App::Dinstar => "dinstar",
            App::Httpsms => "httpsms",
            App::Textbee => "textbee",
            App::Ibnux => "ibnux",
        }
    }

    pub fn from_name(name: &str) -> Option<App> {
        App::ALL.into_iter().find(|app| app.name() == name)
    }

    /// The intake's path on the admin API.
    pub fn path(self) -> String {
        format!("/sms/{}", self.name())
    }

    /// What the app itself proves a request with, given the secret configured for it.
    pub fn auth(self) -> AuthKind {
        match self {
            App::SmsForwarder => AuthKind::SmsForwarderSign,
            App::Capcom6 => AuthKind::Capcom6Signature,
            App::Textbee => AuthKind::TextbeeSignature,
            App::Httpsms => AuthKind::HttpsmsJwt,
            App::Smssync => AuthKind::SmssyncSecret,
            App::Bogkonstantin
            | App::Gammu
            | App::Kannel
            | App::Ejoin
            | App::Dinstar
            | App::Ibnux => AuthKind::Token,
        }
    }
}

impl fmt::Display for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an app's requests are proven to come from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// `sign` = URL-encode(Base64(HMAC-SHA256(secret, `"<timestamp>\n<secret>"`))), timestamp in
    /// ms within an hour.
    SmsForwarderSign,
    /// `X-Signature` = hex(HMAC-SHA256(secret, body ‖ X-Timestamp)), X-Timestamp within ±5 min.
    Capcom6Signature,
    /// `X-Signature` = hex(HMAC-SHA256(secret, body)).
    TextbeeSignature,
    /// `Authorization: Bearer <JWT>`, HS256 with the secret, `exp`/`nbf` honoured.
    HttpsmsJwt,
    /// The form's `secret` field equals the secret.
    SmssyncSecret,
    /// Apps that can only add a static header or a URL: `?token=<secret>` in the URL, or
    /// `X-Simrotor-Token: <secret>`, or `Authorization: Bearer <secret>`.
    Token,
}

/// The text of an SMS. It holds the code: `Debug` shows its shape with every digit masked.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SmsText(String);

impl SmsText {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text in clear, to cut the code from; never for a log line.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The text with every digit replaced by `*`, for the operator's view.
    pub fn masked(&self) -> String {
        mask_digits(&self.0)
    }
}

impl fmt::Debug for SmsText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmsText({:?})", self.masked())
    }
}

/// Which door an SMS came in by: simrotor's own `POST /sms`, or an app's `POST /sms/<app>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Intake {
    /// `POST /sms`: simrotor's own JSON, always with the receiving number.
    Native,
    App(App),
}

impl Intake {
    pub fn name(self) -> &'static str {
        match self {
            Intake::Native => "native",
            Intake::App(app) => app.name(),
        }
    }
}

impl fmt::Display for Intake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Intake {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One incoming SMS, whichever intake it came by: what the matching needs, nothing
/// app-specific. The one neutral value every decoder (and the native `POST /sms`) produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedSms {
    pub intake: Intake,
    /// The SIM that received it, when the request says (and it is a number we can read).
    pub receiving: Option<Msisdn>,
    /// The phone, modem or gateway that posted it (capcom6 `deviceId`, SmsForwarder's device
    /// mark, Dinstar's `sn`, Gammu's `PHONE_ID`, Kannel's `smsc`, …).
    pub device: Option<String>,
    /// The SIM slot or gateway port on that device, as the app names it, normalised: `"1"`,
    /// `"2"` for phone slots (`sim1`, `SIM1`, `simNumber: 1` all give `"1"`), the port as sent
    /// for gateways (`"1A"`, `"1.01"`, `"3"`).
    pub slot: Option<String>,
    /// Who sent it (the telco's short code or number); never a source of the code.
    pub sender: Option<String>,
    pub text: SmsText,
    /// When the SIM received it, when the app says so with a zone (a local time without one is
    /// left out rather than guessed).
    pub received_at: Option<DateTime<Utc>>,
    /// The app's own id of this SMS, when it sends one: the key against the app's retries.
    pub message_id: Option<String>,
}

impl ForwardedSms {
    /// An SMS of simrotor's own `POST /sms`: it names its number, nothing else.
    pub fn native(receiving: Msisdn, text: SmsText, received_at: Option<DateTime<Utc>>) -> Self {
        Self {
            intake: Intake::Native,
            receiving: Some(receiving),
            device: None,
            slot: None,
            sender: None,
            text,
            received_at,
            message_id: None,
        }
    }

    /// The key the same SMS posted again has: the intake and the app's message id, or, for
    /// apps that send none, everything the SMS is made of.
    pub fn dedupe_key(&self) -> String {
        match &self.message_id {
            // The text too: a gateway's counter (Dinstar's `incoming_sms_id`) may start again
            // after a reboot, and a new SMS must not pass for an old one.
            Some(id) => fingerprint_parts(&[
                self.intake.name(),
                self.device.as_deref().unwrap_or(""),
                id,
                self.text.expose(),
            ]),
            None => {
                let at = self
                    .received_at
                    .map(|t| t.timestamp_millis().to_string())
                    .unwrap_or_default();
                fingerprint_parts(&[
                    self.intake.name(),
                    self.receiving.as_ref().map_or("", |m| m.as_str()),
                    self.device.as_deref().unwrap_or(""),
                    self.slot.as_deref().unwrap_or(""),
                    self.sender.as_deref().unwrap_or(""),
                    self.text.expose(),
                    &at,
                ])
            }
        }
    }
}

fn fingerprint_parts(parts: &[&str]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for part in parts {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    format!("#{}", hex::encode(&h.finalize()[..12]))
}

/// One SIM of a device's inventory (capcom6 `app:started`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCard {
    /// The slot, normalised as [`ForwardedSms::slot`].
    pub slot: String,
    /// The SIM's number, when the phone knows it.
    pub number: Option<Msisdn>,
    pub iccid: Option<String>,
}

/// What one request carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// One or more SMS (SIM gateways post several at once).
    Sms(Vec<ForwardedSms>),
    /// A device told which SIMs it holds.
    Inventory {
        app: App,
        device: String,
        cards: Vec<SimCard>,
    },
    /// Nothing to use, acknowledged all the same (a delivery report, an event we do not use).
    Ignored { why: &'static str },
}

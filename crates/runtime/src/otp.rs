//! The OTP hub: where a binding that waits for an OTP meets the code, whichever way it comes.
//!
//! The servers cannot read SMS, so every login (and the first purchase on a new device) stalls
//! until a code reaches the system from outside: the operator types it for a server
//! ([`OtpHub::deliver_for_server`]), or an SMS forwarder posts the SMS the number received
//! ([`OtpHub::deliver_sms`]), from which the code is cut with `otp.pattern` and matched to the
//! waiting binding by MSISDN. `otp.source` switches either way off; a code from a way that is
//! off is refused, never silently dropped.
//!
//! # Rules
//! - **One waiter per server and per number.** A new wait on a server, or for a number another
//!   server already waits for, replaces the old one, whose future ends with
//!   [`OtpWaitError::Replaced`]. The database already allows one open binding per server and
//!   per number, so an older waiter can only be stale.
//! - **A code is consumed once.** Delivering removes the waiter; a second SMS, or the operator
//!   typing after the forwarder was faster, finds nobody waiting.
//! - **Nothing is kept for later.** An SMS for a number that waits for nothing is logged and
//!   ignored, and is not handed to a wait that starts afterwards: the binding asks for a fresh
//!   OTP before it waits, so an earlier code is stale at best, and a stale code sent to
//!   `/verifyOtp` counts as a wrong code against `otp.max_wrong`. Since a forwarder may post
//!   the SMS before the server has even answered `/otp`, a binding registers *before* it asks
//!   ([`OtpHub::register`], then [`OtpWaiter::wait`]); [`OtpHub::wait`] does both at once for
//!   callers that need no such ordering.
//! - **A code is digits.** Whatever the pattern captures must be ASCII digits; a code the
//!   operator types is trimmed and must be digits that the pattern, run on them alone, captures
//!   whole (so the default `\b(\d{4,8})\b` refuses `123` and `123456789`).
//! - **Codes never print.** They travel as [`Otp`] (masked `Debug`); log lines say that a code
//!   was delivered, to which server and number, never the code; the text of an SMS holds the
//!   code, so it is never logged either, and errors never echo what was typed.
//! - **Every wait ends**: with the code, at its deadline ([`OtpWaitError::TimedOut`]), when
//!   replaced or cancelled; and it unregisters itself even when its future is simply dropped
//!   (an actor stopped mid-await), so [`OtpHub::waiting`] never lists a ghost.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize};
use simrotor_config::{OtpConfig, OtpSource};
use simrotor_domain::{Msisdn, MsisdnError, mask_digits};
use simrotor_slot::Otp;
use tokio::sync::oneshot;

/// What the awaited OTP is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OtpPurpose {
    /// `/verifyOtp`, at login.
    Login,
    /// `/otp_idv`, on the first purchase of a number on a device it has not used.
    Transaction,
}

impl OtpPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Transaction => "transaction",
        }
    }
}

impl fmt::Display for OtpPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way a code reached the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OtpFrom {
    /// Typed by the operator for a server.
    Operator,
    /// Cut from an SMS an SMS forwarder posted.
    Forwarder,
}

impl OtpFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Forwarder => "forwarder",
        }
    }
}

/// The configuration cannot make a hub.
#[derive(Debug, thiserror::Error)]
pub enum OtpError {
    #[error("otp.pattern = {pattern:?} is not a valid regular expression: {source}")]
    Pattern {
        pattern: String,
        source: Box<regex::Error>,
    },
    #[error("otp.pattern = {pattern:?} needs a capturing group ( … ) around the code")]
    NoGroup { pattern: String },
}

/// Why a typed code is refused. Never carries the code: it is a secret even when wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("the code is empty")]
    Empty,
    #[error("the code must be digits only (0-9)")]
    NotDigits,
    #[error(
        "the code does not look like an OTP: otp.pattern, run on the code alone, does not find it whole (wrong length?)"
    )]
    NotAsPattern,
}

/// Why an operator's code was not handed to a binding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliverError {
    #[error("codes typed by the operator are switched off (otp.source = \"forwarder\")")]
    SourceOff,
    #[error(transparent)]
    BadCode(#[from] CodeError),
    #[error("server {port} is not waiting for an OTP")]
    NotWaiting { port: u16 },
}

/// Why a wait ended without a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OtpWaitError {
    #[error("no OTP came within {}s", after.as_secs_f64())]
    TimedOut { after: Duration },
    #[error("a newer wait on the same server or for the same number replaced this one")]
    Replaced,
    #[error("the wait was cancelled")]
    Cancelled,
}

/// A code handed to the binding that waited for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivered {
    #[serde(rename = "server")]
    pub port: u16,
    pub msisdn: Msisdn,
    pub purpose: OtpPurpose,
}

/// What became of a forwarded SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsOutcome {
    /// The code went to the binding on server `port`.
    Delivered(Delivered),
    /// No binding waits for this number: the SMS is logged and ignored.
    NoWaiter { msisdn: Msisdn },
    /// A binding waits for this number, but the SMS holds no code; it keeps waiting.
    NoCode { port: u16, msisdn: Msisdn },
    /// The SMS names no number we could read.
    BadMsisdn(MsisdnError),
    /// Codes from an SMS forwarder are switched off (`otp.source = "operator"`).
    SourceOff,
}

/// One SMS as a forwarder posts it: `{"msisdn": "6281234567890", "message": "… Kode OTP Anda:
/// 123456 …", "received_at": "2026-11-24T08:00:00Z"}`.
#[derive(Clone, Serialize, Deserialize)]
pub struct IncomingSms {
    /// The number that received the SMS, in any form [`Msisdn::parse`] accepts (a JSON number
    /// is taken too: some forwarder apps send one).
    #[serde(deserialize_with = "string_or_number")]
    pub msisdn: String,
    /// The text; it holds the code, so it is never logged.
    pub message: String,
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
}

/// The message holds the code: `Debug` shows its shape, never a digit.
impl fmt::Debug for IncomingSms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingSms")
            .field("msisdn", &self.msisdn)
            .field("message", &mask_digits(&self.message))
            .field("received_at", &self.received_at)
            .finish()
    }
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Number(u64),
    }
    Ok(match Either::deserialize(d)? {
        Either::Text(text) => text,
        Either::Number(n) => n.to_string(),
    })
}

/// A binding that waits now, for the operator's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    #[serde(rename = "server")]
    pub port: u16,
    pub msisdn: Msisdn,
    pub purpose: OtpPurpose,
    /// When the binding registered (just before it asked for the OTP).
    pub since: DateTime<Utc>,
    /// When it gives up; unknown between registering and starting to wait.
    pub deadline: Option<DateTime<Utc>>,
}

/// A code received by a waiter, with the way it came (for the audit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedOtp {
    pub otp: Otp,
    pub from: OtpFrom,
}

/// What a waiter's channel carries.
#[derive(Debug)]
enum Arrival {
    Code(ReceivedOtp),
    Replaced,
    Cancelled,
}

#[derive(Debug)]
struct Entry {
    /// Tells this registration from a later one on the same port, for the guard.
    id: u64,
    msisdn: Msisdn,
    purpose: OtpPurpose,
    since: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
    tx: oneshot::Sender<Arrival>,
}

#[derive(Debug, Default)]
struct Waiters {
    next_id: u64,
    by_port: BTreeMap<u16, Entry>,
}

#[derive(Debug)]
struct Inner {
    source: OtpSource,
    pattern: Regex,
    timeout: Duration,
    waiters: Mutex<Waiters>,
}

/// The meeting point of waiting bindings and incoming codes; cheap to clone, shared by the
/// server actors and the admin API.
#[derive(Clone)]
pub struct OtpHub {
    inner: Arc<Inner>,
}

/// Shows the settings and who waits; the hub never holds a code for longer than a handover.
impl fmt::Debug for OtpHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpHub")
            .field("source", &self.inner.source)
            .field("pattern", &self.inner.pattern.as_str())
            .field("waiting", &self.lock().by_port.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl OtpHub {
    /// A hub with `config.source` and `config.pattern` (whose first group is the code).
    pub fn new(config: &OtpConfig) -> Result<Self, OtpError> {
        let pattern = Regex::new(&config.pattern).map_err(|source| OtpError::Pattern {
            pattern: config.pattern.clone(),
            source: Box::new(source),
        })?;
        if pattern.captures_len() < 2 {
            return Err(OtpError::NoGroup {
                pattern: config.pattern.clone(),
            });
        }
        Ok(Self {
            inner: Arc::new(Inner {
                source: config.source,
                pattern,
                timeout: config.timeout,
                waiters: Mutex::new(Waiters::default()),
            }),
        })
    }

    pub fn source(&self) -> OtpSource {
        self.inner.source
    }

    /// `otp.timeout`: how long a binding waits, for callers that do not choose.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    fn accepts(&self, from: OtpFrom) -> bool {
        matches!(
            (self.inner.source, from),
            (OtpSource::Both, _)
                | (OtpSource::Operator, OtpFrom::Operator)
                | (OtpSource::Forwarder, OtpFrom::Forwarder)
        )
    }

    fn lock(&self) -> MutexGuard<'_, Waiters> {
        // Nothing panics while holding the lock, and the map stays consistent at every step,
        // so a poisoned lock is still a good one.
        self.inner
            .waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers that the binding on server `port` (holding `msisdn`) waits for an OTP, from
    /// now on: call it before asking the server for the OTP, then [`OtpWaiter::wait`].
    /// Dropping the waiter unregisters it.
    pub fn register(&self, port: u16, msisdn: &Msisdn, purpose: OtpPurpose) -> OtpWaiter {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut waiters = self.lock();
            let id = waiters.next_id;
            waiters.next_id += 1;
            let stale: Vec<u16> = waiters
                .by_port
                .iter()
                .filter(|(p, e)| **p == port || e.msisdn == *msisdn)
                .map(|(p, _)| *p)
                .collect();
            for old_port in stale {
                if let Some(old) = waiters.by_port.remove(&old_port) {
                    // The same binding asking again (a retried `/otp`) is routine; another
                    // server or number taking over a wait is worth the operator's eye.
                    if old_port == port && old.msisdn == *msisdn && old.purpose == purpose {
                        tracing::debug!(server = port, msisdn = %msisdn, "A fresh OTP wait replaced this binding's previous one.");
                    } else {
                        tracing::warn!(
                            server = old_port,
                            msisdn = %old.msisdn,
                            purpose = %old.purpose,
                            by_server = port,
                            "A newer OTP wait replaced one that was still open."
                        );
                    }
                    let _ = old.tx.send(Arrival::Replaced);
                }
            }
            waiters.by_port.insert(
                port,
                Entry {
                    id,
                    msisdn: msisdn.clone(),
                    purpose,
                    since: Utc::now(),
                    deadline: None,
                    tx,
                },
            );
            id
        };
        tracing::info!(server = port, msisdn = %msisdn, purpose = %purpose, "A binding waits for an OTP.");
        OtpWaiter {
            hub: self.clone(),
            port,
            id,
            msisdn: msisdn.clone(),
            purpose,
            rx,
        }
    }

    /// Registers that the binding on server `port` (holding `msisdn`) waits for an OTP, and
    /// waits for it up to `timeout`. Registration happens when the future is first polled: a
    /// binding that asks for the OTP first should use [`register`](Self::register) instead.
    pub async fn wait(
        &self,
        port: u16,
        msisdn: &Msisdn,
        purpose: OtpPurpose,
        timeout: Duration,
    ) -> Result<Otp, OtpWaitError> {
        self.register(port, msisdn, purpose)
            .wait(timeout)
            .await
            .map(|received| received.otp)
    }

    /// The operator typed `code` for server `port`.
    pub fn deliver_for_server(&self, port: u16, code: &str) -> Result<Delivered, DeliverError> {
        if !self.accepts(OtpFrom::Operator) {
            tracing::warn!(
                server = port,
                "The operator typed an OTP, but typed OTPs are switched off (otp.source); it is refused."
            );
            return Err(DeliverError::SourceOff);
        }
        let otp = match self.check_code(code) {
            Ok(otp) => otp,
            Err(err) => {
                tracing::warn!(server = port, problem = %err, "The operator typed an OTP that is refused.");
                return Err(err.into());
            }
        };
        let mut waiters = self.lock();
        let Some(entry) = waiters.by_port.remove(&port) else {
            drop(waiters);
            tracing::info!(
                server = port,
                "The operator typed an OTP for a server that waits for none; it is refused."
            );
            return Err(DeliverError::NotWaiting { port });
        };
        let delivered = hand_over(entry, port, otp, OtpFrom::Operator);
        drop(waiters);
        Ok(delivered)
    }

    /// An SMS forwarder posted an incoming SMS: its code goes to the binding that waits for its
    /// number, if any.
    pub fn deliver_sms(&self, sms: &IncomingSms) -> SmsOutcome {
        if !self.accepts(OtpFrom::Forwarder) {
            tracing::warn!(
                "An SMS forwarder posted an SMS, but forwarded OTPs are switched off (otp.source); it is refused."
            );
            return SmsOutcome::SourceOff;
        }
        let msisdn = match Msisdn::parse(&sms.msisdn) {
            Ok(msisdn) => msisdn,
            Err(err) => {
                tracing::warn!(
                    problem = %err,
                    "An SMS forwarder posted an SMS for a number that cannot be read; it is ignored."
                );
                return SmsOutcome::BadMsisdn(err);
            }
        };
        let mut waiters = self.lock();
        let Some(port) = waiters
            .by_port
            .iter()
            .find(|(_, e)| e.msisdn == msisdn)
            .map(|(p, _)| *p)
        else {
            drop(waiters);
            tracing::info!(
                msisdn = %msisdn,
                received_at = ?sms.received_at,
                "An SMS came for a number that waits for no OTP; it is ignored, not kept for later."
            );
            return SmsOutcome::NoWaiter { msisdn };
        };
        let Some(otp) = self.extract_code(&sms.message) else {
            drop(waiters);
            tracing::warn!(
                server = port,
                msisdn = %msisdn,
                received_at = ?sms.received_at,
                "An SMS came for a number that waits for an OTP, but otp.pattern finds no code in it; the binding keeps waiting."
            );
            return SmsOutcome::NoCode { port, msisdn };
        };
        let Some(entry) = waiters.by_port.remove(&port) else {
            // Found under this same lock a moment ago.
            return SmsOutcome::NoWaiter { msisdn };
        };
        let delivered = hand_over(entry, port, otp, OtpFrom::Forwarder);
        drop(waiters);
        SmsOutcome::Delivered(delivered)
    }

    /// The code in an SMS text: the first group of the first match of `otp.pattern` that is
    /// all digits.
    pub fn extract_code(&self, message: &str) -> Option<Otp> {
        self.inner
            .pattern
            .captures_iter(message)
            .filter_map(|c| c.get(1))
            .map(|m| m.as_str())
            .find(|code| is_digits(code))
            .map(Otp::new)
    }

    /// A code as the operator typed it: trimmed, digits, and what the pattern finds on its own.
    pub fn check_code(&self, typed: &str) -> Result<Otp, CodeError> {
        let code = typed.trim();
        if code.is_empty() {
            return Err(CodeError::Empty);
        }
        if !is_digits(code) {
            return Err(CodeError::NotDigits);
        }
        let whole = self
            .inner
            .pattern
            .captures_iter(code)
            .filter_map(|c| c.get(1))
            .any(|m| m.as_str() == code);
        if !whole {
            return Err(CodeError::NotAsPattern);
        }
        Ok(Otp::new(code))
    }

    /// Who waits now, by server.
    pub fn waiting(&self) -> Vec<Waiting> {
        self.lock()
            .by_port
            .iter()
            .map(|(port, e)| Waiting {
                port: *port,
                msisdn: e.msisdn.clone(),
                purpose: e.purpose,
                since: e.since,
                deadline: e.deadline,
            })
            .collect()
    }

    /// Ends the wait on server `port` (its future gets [`OtpWaitError::Cancelled`]), for a
    /// server stopped by the operator. False when it waited for nothing.
    pub fn cancel(&self, port: u16) -> bool {
        let entry = self.lock().by_port.remove(&port);
        match entry {
            Some(entry) => {
                tracing::info!(server = port, msisdn = %entry.msisdn, purpose = %entry.purpose, "An OTP wait was cancelled.");
                let _ = entry.tx.send(Arrival::Cancelled);
                true
            }
            None => false,
        }
    }

    /// Removes the entry of registration `id` on `port`, if still there (not a newer one).
    fn unregister(&self, port: u16, id: u64) -> bool {
        let mut waiters = self.lock();
        if waiters.by_port.get(&port).is_some_and(|e| e.id == id) {
            waiters.by_port.remove(&port);
            true
        } else {
            false
        }
    }

    fn set_deadline(&self, port: u16, id: u64, deadline: DateTime<Utc>) {
        if let Some(entry) = self.lock().by_port.get_mut(&port)
            && entry.id == id
        {
            entry.deadline = Some(deadline);
        }
    }
}

/// Sends the code to a removed entry's waiter. Called under the lock, so the waiter's guard
/// cannot run between the removal and the send: its receiver is alive.
fn hand_over(entry: Entry, port: u16, otp: Otp, from: OtpFrom) -> Delivered {
    let delivered = Delivered {
        port,
        msisdn: entry.msisdn,
        purpose: entry.purpose,
    };
    let sent = entry.tx.send(Arrival::Code(ReceivedOtp { otp, from }));
    if sent.is_ok() {
        tracing::info!(
            server = port,
            msisdn = %delivered.msisdn,
            purpose = %delivered.purpose,
            from = from.as_str(),
            "Delivered an OTP to the waiting binding."
        );
    } else {
        // Unreachable while the guard unregisters under the lock; said rather than hidden.
        tracing::warn!(
            server = port,
            msisdn = %delivered.msisdn,
            purpose = %delivered.purpose,
            from = from.as_str(),
            "An OTP came for a binding that had just stopped waiting; it is lost."
        );
    }
    delivered
}

fn is_digits(code: &str) -> bool {
    !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit())
}

/// One registered wait. It stays registered until it receives a code, its wait ends, or it is
/// dropped: the guard that keeps [`OtpHub::waiting`] honest when an actor stops mid-await.
#[derive(Debug)]
pub struct OtpWaiter {
    hub: OtpHub,
    port: u16,
    id: u64,
    msisdn: Msisdn,
    purpose: OtpPurpose,
    rx: oneshot::Receiver<Arrival>,
}

impl OtpWaiter {
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn msisdn(&self) -> &Msisdn {
        &self.msisdn
    }

    pub fn purpose(&self) -> OtpPurpose {
        self.purpose
    }

    /// Waits up to `timeout` for the code (a code that came before this call is already here).
    pub async fn wait(mut self, timeout: Duration) -> Result<ReceivedOtp, OtpWaitError> {
        if let Some(deadline) = chrono::Duration::from_std(timeout)
            .ok()
            .and_then(|span| Utc::now().checked_add_signed(span))
        {
            self.hub.set_deadline(self.port, self.id, deadline);
        }
        let arrival = match tokio::time::timeout(timeout, &mut self.rx).await {
            Ok(arrival) => arrival,
            Err(_) => {
                // A code may have been handed over in the same instant: look once more after
                // leaving the map, so nothing delivered is lost.
                self.hub.unregister(self.port, self.id);
                match self.rx.try_recv() {
                    Ok(Arrival::Code(received)) => Ok(Arrival::Code(received)),
                    _ => {
                        tracing::warn!(
                            server = self.port,
                            msisdn = %self.msisdn,
                            purpose = %self.purpose,
                            timeout_s = timeout.as_secs_f64(),
                            "No OTP came in time; the binding stops waiting."
                        );
                        return Err(OtpWaitError::TimedOut { after: timeout });
                    }
                }
            }
        };
        match arrival {
            Ok(Arrival::Code(received)) => Ok(received),
            Ok(Arrival::Replaced) => Err(OtpWaitError::Replaced),
            // The sender only goes away by one of the sends above; treat its loss as a cancel.
            Ok(Arrival::Cancelled) | Err(_) => Err(OtpWaitError::Cancelled),
        }
    }
}

impl Drop for OtpWaiter {
    fn drop(&mut self) {
        if self.hub.unregister(self.port, self.id) {
            tracing::debug!(
                server = self.port,
                msisdn = %self.msisdn,
                purpose = %self.purpose,
                "A binding stopped waiting for an OTP before one came."
            );
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn config(source: OtpSource) -> OtpConfig {
        OtpConfig {
            source,
            ..OtpConfig::default()
        }
    }

    fn hub() -> OtpHub {
        OtpHub::new(&config(OtpSource::Both)).unwrap()
    }

    fn number(n: u32) -> Msisdn {
        Msisdn::parse(&format!("0812{n:08}")).unwrap()
    }

    fn sms(msisdn: &str, message: &str) -> IncomingSms {
        IncomingSms {
            msisdn: msisdn.to_owned(),
            message: message.to_owned(),
            received_at: None,
        }
    }

    const SIM_TEXT: &str =
        "Kode OTP Anda: 123456 untuk masuk ke aplikasi. JANGAN BERIKAN kode ini kepada siapa pun.";

    fn extracted(hub: &OtpHub, text: &str) -> Option<String> {
        hub.extract_code(text).map(|otp| otp.expose().to_owned())
    }

    #[test]
    fn the_default_pattern_finds_the_code_in_the_simulators_sms() {
        let hub = hub();
        assert_eq!(extracted(&hub, SIM_TEXT).as_deref(), Some("123456"));
        let trx = "Kode OTP Anda: 98765432 untuk verifikasi transaksi di perangkat baru.";
        assert_eq!(extracted(&hub, trx).as_deref(), Some("98765432"));
        assert_eq!(extracted(&hub, "OTP:0042").as_deref(), Some("0042"));
        assert_eq!(
            extracted(&hub, "4821 adalah kode Anda").as_deref(),
            Some("4821")
        );
    }

    #[test]
    fn a_text_without_a_code_gives_none() {
        let hub = hub();
        for text in [
            "",
            "Selamat! Anda mendapat bonus kuota.",
            "Kode: 123 terlalu pendek",
            "Nomor 6281234567890 terlalu panjang",
            "abc123456def tanpa batas kata",
        ] {
            assert_eq!(extracted(&hub, text), None, "{text}");
        }
    }

    #[test]
    fn with_several_numbers_the_first_that_fits_is_the_code() {
        let hub = hub();
        // Too short and too long runs are skipped; the first 4–8 digit run wins.
        let text = "Info 5 menit dari 6281234567890: Kode OTP Anda 482913, berlaku s.d. 24/11/2026";
        assert_eq!(extracted(&hub, text).as_deref(), Some("482913"));
        // The default pattern cannot tell an amount from a code: the first run is taken.
        let text = "Transaksi Rp 10000 perlu kode 4321";
        assert_eq!(extracted(&hub, text).as_deref(), Some("10000"));
    }

    #[test]
    fn a_pattern_with_context_picks_the_code_after_it() {
        let hub = OtpHub::new(&OtpConfig {
            pattern: r"(?i)kode\D{0,12}(\d{4,8})".to_owned(),
            ..OtpConfig::default()
        })
        .unwrap();
        let text = "Transaksi Rp 10000 perlu kode: 4321";
        assert_eq!(extracted(&hub, text).as_deref(), Some("4321"));
    }

    #[test]
    fn a_group_that_is_not_digits_is_no_code() {
        let hub = OtpHub::new(&OtpConfig {
            pattern: r"Kode: (\w+)".to_owned(),
            ..OtpConfig::default()
        })
        .unwrap();
        assert_eq!(extracted(&hub, "Kode: ABC123"), None);
        assert_eq!(
            extracted(&hub, "Kode: ABC Kode: 5555").as_deref(),
            Some("5555")
        );
    }

    #[test]
    fn a_bad_pattern_is_refused_with_the_key_named() {
        let err = OtpHub::new(&OtpConfig {
            pattern: r"(\d{4".to_owned(),
            ..OtpConfig::default()
        })
        .unwrap_err();
        assert!(matches!(err, OtpError::Pattern { .. }));
        assert!(err.to_string().contains("otp.pattern"), "{err}");
        let err = OtpHub::new(&OtpConfig {
            pattern: r"\d{4,8}".to_owned(),
            ..OtpConfig::default()
        })
        .unwrap_err();
        assert!(matches!(err, OtpError::NoGroup { .. }), "{err}");
    }

    #[test]
    fn typed_codes_are_trimmed_digits_the_pattern_finds_whole() {
        let hub = hub();
        assert_eq!(hub.check_code(" 123456\n").unwrap().expose(), "123456");
        assert_eq!(hub.check_code("0042").unwrap().expose(), "0042");
        assert_eq!(hub.check_code("  ").unwrap_err(), CodeError::Empty);
        assert_eq!(hub.check_code("12a456").unwrap_err(), CodeError::NotDigits);
        assert_eq!(hub.check_code("123 456").unwrap_err(), CodeError::NotDigits);
        assert_eq!(hub.check_code("١٢٣٤٥٦").unwrap_err(), CodeError::NotDigits);
        assert_eq!(hub.check_code("123").unwrap_err(), CodeError::NotAsPattern);
        assert_eq!(
            hub.check_code("123456789").unwrap_err(),
            CodeError::NotAsPattern
        );
    }

    #[test]
    fn errors_never_echo_the_code() {
        let hub = hub();
        for typed in ["98x765", "987", "98765432109"] {
            let err = hub.deliver_for_server(9903, typed).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("987"), "{shown}");
        }
    }

    /// The code `waiter` gets within a second.
    async fn code_of(waiter: OtpWaiter) -> String {
        let received = waiter.wait(Duration::from_secs(1)).await.unwrap();
        received.otp.expose().to_owned()
    }

    #[tokio::test]
    async fn the_operator_delivers_to_the_server_that_waits() {
        let hub = hub();
        let m = number(1);
        let waiter = hub.register(9903, &m, OtpPurpose::Login);
        assert_eq!(
            hub.deliver_for_server(9904, "123456").unwrap_err(),
            DeliverError::NotWaiting { port: 9904 }
        );
        let delivered = hub.deliver_for_server(9903, " 123456 ").unwrap();
        assert_eq!(
            delivered,
            Delivered {
                port: 9903,
                msisdn: m.clone(),
                purpose: OtpPurpose::Login
            }
        );
        let received = waiter.wait(Duration::from_secs(1)).await.unwrap();
        assert_eq!(received.otp.expose(), "123456");
        assert_eq!(received.from, OtpFrom::Operator);
        // Consumed: a second code finds nobody.
        assert_eq!(
            hub.deliver_for_server(9903, "654321").unwrap_err(),
            DeliverError::NotWaiting { port: 9903 }
        );
        assert!(hub.waiting().is_empty());
    }

    #[tokio::test]
    async fn an_sms_matches_its_waiter_whatever_form_the_number_takes() {
        let hub = hub();
        let m = Msisdn::parse("081234567890").unwrap();
        for (i, form) in [
            "081234567890",
            "6281234567890",
            "+6281234567890",
            "+62 812-3456-7890",
        ]
        .into_iter()
        .enumerate()
        {
            let purpose = if i % 2 == 0 {
                OtpPurpose::Login
            } else {
                OtpPurpose::Transaction
            };
            let waiter = hub.register(9910, &m, purpose);
            let outcome = hub.deliver_sms(&sms(form, SIM_TEXT));
            assert_eq!(
                outcome,
                SmsOutcome::Delivered(Delivered {
                    port: 9910,
                    msisdn: m.clone(),
                    purpose
                }),
                "{form}"
            );
            let received = waiter.wait(Duration::from_secs(1)).await.unwrap();
            assert_eq!(received.otp.expose(), "123456");
            assert_eq!(received.from, OtpFrom::Forwarder);
        }
    }

    #[tokio::test]
    async fn other_numbers_bad_numbers_and_texts_without_code_deliver_nothing() {
        let hub = hub();
        let m = number(2);
        let waiter = hub.register(9901, &m, OtpPurpose::Login);
        assert_eq!(
            hub.deliver_sms(&sms(&number(3).local(), SIM_TEXT)),
            SmsOutcome::NoWaiter { msisdn: number(3) }
        );
        assert!(matches!(
            hub.deliver_sms(&sms("12345", SIM_TEXT)),
            SmsOutcome::BadMsisdn(_)
        ));
        assert_eq!(
            hub.deliver_sms(&sms(m.as_str(), "Promo kuota murah!")),
            SmsOutcome::NoCode {
                port: 9901,
                msisdn: m.clone()
            }
        );
        // Still waiting after all of them.
        assert_eq!(hub.waiting().len(), 1);
        hub.deliver_sms(&sms(m.as_str(), SIM_TEXT));
        assert_eq!(code_of(waiter).await, "123456");
    }

    #[tokio::test]
    async fn an_sms_before_the_wait_is_not_kept_for_it() {
        let hub = hub();
        let m = number(4);
        assert_eq!(
            hub.deliver_sms(&sms(m.as_str(), SIM_TEXT)),
            SmsOutcome::NoWaiter { msisdn: m.clone() }
        );
        let waiter = hub.register(9902, &m, OtpPurpose::Login);
        hub.deliver_sms(&sms(
            m.as_str(),
            "Kode OTP Anda: 777777 untuk masuk ke aplikasi.",
        ));
        assert_eq!(code_of(waiter).await, "777777");
    }

    #[tokio::test]
    async fn a_second_wait_on_a_server_replaces_the_first() {
        let hub = hub();
        let first = hub.register(9905, &number(5), OtpPurpose::Login);
        let second = hub.register(9905, &number(6), OtpPurpose::Transaction);
        assert_eq!(
            first.wait(Duration::from_secs(1)).await.unwrap_err(),
            OtpWaitError::Replaced
        );
        // The replaced waiter's guard must not remove its successor.
        let waiting = hub.waiting();
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].msisdn, number(6));
        assert_eq!(waiting[0].purpose, OtpPurpose::Transaction);
        hub.deliver_for_server(9905, "4444").unwrap();
        assert_eq!(code_of(second).await, "4444");
    }

    #[tokio::test]
    async fn a_wait_for_the_same_number_on_another_server_replaces_the_first() {
        let hub = hub();
        let m = number(7);
        let first = hub.register(9906, &m, OtpPurpose::Login);
        let _second = hub.register(9907, &m, OtpPurpose::Login);
        assert_eq!(
            first.wait(Duration::from_secs(1)).await.unwrap_err(),
            OtpWaitError::Replaced
        );
        let ports: Vec<u16> = hub.waiting().iter().map(|w| w.port).collect();
        assert_eq!(ports, [9907]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_times_out_at_its_deadline_and_unregisters() {
        let hub = hub();
        let m = number(8);
        let started = tokio::time::Instant::now();
        let err = hub
            .wait(9908, &m, OtpPurpose::Login, Duration::from_secs(300))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            OtpWaitError::TimedOut {
                after: Duration::from_secs(300)
            }
        );
        assert_eq!(started.elapsed(), Duration::from_secs(300));
        assert!(hub.waiting().is_empty());
        assert_eq!(
            hub.deliver_for_server(9908, "123456").unwrap_err(),
            DeliverError::NotWaiting { port: 9908 }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_code_just_before_the_deadline_arrives() {
        let hub = hub();
        let m = number(9);
        let waiter = hub.register(9909, &m, OtpPurpose::Login);
        let typist = hub.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(299)).await;
            typist.deliver_for_server(9909, "246810").unwrap();
        });
        let received = waiter.wait(Duration::from_secs(300)).await.unwrap();
        assert_eq!(received.otp.expose(), "246810");
    }

    #[tokio::test(start_paused = true)]
    async fn the_waiting_list_shows_who_waits_and_until_when() {
        let hub = hub();
        let m = number(10);
        let waiter = hub.register(9911, &m, OtpPurpose::Transaction);
        let listed = hub.waiting();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].port, 9911);
        assert_eq!(listed[0].msisdn, m);
        assert_eq!(listed[0].purpose, OtpPurpose::Transaction);
        assert_eq!(listed[0].deadline, None);
        let task = tokio::spawn(waiter.wait(Duration::from_secs(60)));
        tokio::task::yield_now().await;
        let listed = hub.waiting();
        let deadline = listed[0].deadline.unwrap();
        assert_eq!((deadline - listed[0].since).num_seconds(), 60);
        let json = serde_json::to_value(&listed[0]).unwrap();
        assert_eq!(json["server"], 9911);
        assert_eq!(json["msisdn"], m.as_str());
        assert_eq!(json["purpose"], "transaction");
        assert!(hub.cancel(9911));
        assert_eq!(task.await.unwrap().unwrap_err(), OtpWaitError::Cancelled);
        assert!(!hub.cancel(9911));
    }

    #[tokio::test]
    async fn a_dropped_wait_unregisters() {
        let hub = hub();
        let m = number(11);
        let waiter = hub.register(9912, &m, OtpPurpose::Login);
        assert_eq!(hub.waiting().len(), 1);
        drop(waiter);
        assert!(hub.waiting().is_empty());

        // The same through a future dropped mid-await, as when an actor stops.
        let task = tokio::spawn({
            let hub = hub.clone();
            let m = m.clone();
            async move {
                hub.wait(9912, &m, OtpPurpose::Login, Duration::from_secs(3600))
                    .await
            }
        });
        while hub.waiting().is_empty() {
            tokio::task::yield_now().await;
        }
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert!(hub.waiting().is_empty());
        assert_eq!(
            hub.deliver_sms(&sms(m.as_str(), SIM_TEXT)),
            SmsOutcome::NoWaiter { msisdn: m }
        );
    }

    #[tokio::test]
    async fn the_source_switch_refuses_the_way_that_is_off() {
        let m = number(12);
        let operator_only = OtpHub::new(&config(OtpSource::Operator)).unwrap();
        let waiter = operator_only.register(9913, &m, OtpPurpose::Login);
        assert_eq!(
            operator_only.deliver_sms(&sms(m.as_str(), SIM_TEXT)),
            SmsOutcome::SourceOff
        );
        operator_only.deliver_for_server(9913, "123456").unwrap();
        assert_eq!(
            waiter.wait(Duration::from_secs(1)).await.unwrap().from,
            OtpFrom::Operator
        );

        let forwarder_only = OtpHub::new(&config(OtpSource::Forwarder)).unwrap();
        let waiter = forwarder_only.register(9913, &m, OtpPurpose::Login);
        let err = forwarder_only
            .deliver_for_server(9913, "123456")
            .unwrap_err();
        assert_eq!(err, DeliverError::SourceOff);
        assert!(err.to_string().contains("otp.source"), "{err}");
        assert!(matches!(
            forwarder_only.deliver_sms(&sms(m.as_str(), SIM_TEXT)),
            SmsOutcome::Delivered(_)
        ));
        assert_eq!(
            waiter.wait(Duration::from_secs(1)).await.unwrap().from,
            OtpFrom::Forwarder
        );
    }

    #[test]
    fn debug_shows_no_code() {
        let hub = hub();
        let m = number(13);
        let waiter = hub.register(9914, &m, OtpPurpose::Login);
        let incoming = sms(m.as_str(), SIM_TEXT);
        let shown = format!("{hub:?} {waiter:?} {incoming:?}");
        assert!(!shown.contains("123456"), "{shown}");
        assert!(shown.contains("Kode OTP Anda: ******"), "{shown}");
    }

    #[test]
    fn a_forwarder_may_send_the_number_as_a_json_number() {
        let parsed: IncomingSms =
            serde_json::from_str(r#"{"msisdn": 6281234567890, "message": "x"}"#).unwrap();
        assert_eq!(parsed.msisdn, "6281234567890");
        assert_eq!(parsed.received_at, None);
        let parsed: IncomingSms = serde_json::from_str(
            r#"{"msisdn": "0812 3456 7890", "message": "x", "received_at": "2026-11-24T08:00:00Z"}"#,
        )
        .unwrap();
        assert!(parsed.received_at.is_some());
    }
}

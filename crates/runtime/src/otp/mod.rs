//! The OTP hub: where a binding that waits for an OTP meets the code, whichever way it comes.
//!
//! The servers cannot read SMS, so every login (and the first purchase on a new device) stalls
//! until a code reaches the system from outside: the operator types it for a server
//! ([`OtpHub::deliver_for_server`]), or an SMS forwarder posts the SMS the number received
//! ([`OtpHub::deliver_incoming`], from the native `POST /sms` or an app's `POST /sms/<app>`),
//! from which the code is cut with `otp.patterns`. `otp.source` switches either way off; a code
//! from a way that is off is refused, never silently dropped.
//!
//! # Which binding an SMS is for
//! Most forwarder apps do not say which SIM received the SMS, and a code handed to the wrong
//! binding is a wrong code at the telco (a strike). An SMS is matched, in order:
//! 1. by the **receiving number**, when the request has one: only that number's wait;
//! 2. by a **declared channel** (`device` + `slot` → number: `[[sms.channels]]`,
//!    `simrotor sms channel`, capcom6's `app:started`): only that number's wait;
//! 3. otherwise by the **turn**: with `sms.turns` on and an app intake open, a binding whose
//!    number no channel names takes a turn before it asks for its code ([`OtpWaiter::turn`]);
//!    one binding holds the turn at a time, the others queue in order, so an SMS that names no
//!    SIM can only be the answer of the one binding that holds it. After a turn ends without a
//!    code, `sms.late_quiet` passes before the next one begins, and an unnamed SMS in that time
//!    is dropped as the late answer it is.
//!
//! A named SMS never goes to the turn's holder, an unnamed one never to any other binding.
//!
//! # Rules
//! - **One waiter per server and per number.** A new wait on a server, or for a number another
//!   server already waits for, replaces the old one, whose future ends with
//!   [`OtpWaitError::Replaced`]. The database already allows one open binding per server and
//!   per number, so an older waiter can only be stale. The same binding asking again keeps its
//!   turn.
//! - **A code is consumed once.** Delivering removes the waiter; a second SMS, or the operator
//!   typing after the forwarder was faster, finds nobody waiting. The same SMS posted again (an
//!   app's retry) is acknowledged as a duplicate and not used.
//! - **Nothing is kept for later.** An SMS for a number that waits for nothing is logged and
//!   ignored, and is not handed to a wait that starts afterwards: the binding asks for a fresh
//!   OTP before it waits, so an earlier code is stale at best, and a stale code sent to
//!   `/verifyOtp` counts as a wrong code against `otp.max_wrong`. An SMS the app says was
//!   received before the wait began (beyond `sms.clock_skew`) is stale too. Since a forwarder
//!   may post the SMS before the server has even answered `/otp`, a binding registers *before*
//!   it asks ([`OtpHub::register`], then [`OtpWaiter::wait`]); [`OtpHub::wait`] does both at
//!   once for callers that need no such ordering.
//! - **A code is digits.** Whatever the patterns capture must be ASCII digits (and not an
//!   amount, a date or a piece of a longer number: `simrotor_sms::code`); a code the operator
//!   types is trimmed and must be digits that a pattern, run on them alone, captures whole (so
//!   the default `\b(\d{4,8})\b` refuses `123` and `123456789`).
//! - **Codes never print.** They travel as [`Otp`] (masked `Debug`); log lines say that a code
//!   was delivered, to which server and number, never the code; the text of an SMS holds the
//!   code, so it is never logged either (the intake log keeps it with its digits masked), and
//!   errors never echo what was typed.
//! - **Every wait ends**: with the code, at its deadline ([`OtpWaitError::TimedOut`]), when
//!   replaced or cancelled; and it unregisters itself (giving up its turn) even when its future
//!   is simply dropped (an actor stopped mid-await), so [`OtpHub::waiting`] never lists a ghost.

mod incoming;

pub use incoming::{MatchedBy, SmsOutcome, SmsRecord};
pub use simrotor_sms::{ForwardedSms, Intake};

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use simrotor_config::{OtpConfig, OtpSource, SmsConfig};
use simrotor_domain::{Msisdn, mask_digits};
use simrotor_slot::Otp;
use simrotor_sms::SmsText;
use simrotor_sms::code::{CodeFinder, PatternError};
use tokio::sync::{Notify, oneshot};

use incoming::IntakeLog;
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
    /// `otp.patterns` is empty, or one of them is no regular expression or has no group.
    #[error(transparent)]
    Patterns(#[from] PatternError),
}

/// Why a typed code is refused. Never carries the code: it is a secret even when wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("the code is empty")]
    Empty,
    #[error("the code must be digits only (0-9)")]
    NotDigits,
    #[error(
        "the code does not look like an OTP: no pattern of otp.patterns, run on the code alone, finds it whole (wrong length?)"
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
    #[error(
        "server {port} has not asked for its code yet (it waits for its turn): a code now can only be an old one"
    )]
    NotAsked { port: u16 },
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
    /// `"holding"` the turn, or `"queued"` for it; absent when its SMS is named (by number or
    /// channel) and it needs no turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<String>,
    /// For a queued binding: how many wait for the turn before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ahead: Option<usize>,
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

/// Where a wait stands in the turns of the SMS that name no SIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// Its SMS will be named (a declared channel), or turns are off.
    NotNeeded,
    /// In the queue: it has not asked for its code yet.
    Queued,
    /// It holds the turn since then: an unnamed SMS is its answer.
    Holding(DateTime<Utc>),
}

#[derive(Debug)]
struct Entry {
    /// Tells this registration from a later one on the same port, for the guard.
    id: u64,
    msisdn: Msisdn,
    purpose: OtpPurpose,
    since: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
    turn: Turn,
    /// How many times the binding asked for this code (a retried `/otp` sends another SMS).
    asks: u32,
    tx: oneshot::Sender<Arrival>,
}

impl Entry {
    /// When the binding asked (or was about to ask) for the code this SMS would answer.
    fn asked_since(&self) -> DateTime<Utc> {
        match self.turn {
            Turn::Holding(since) => since,
            Turn::NotNeeded | Turn::Queued => self.since,
        }
    }
}

/// A declared channel's key: the device and its slot (`""` for all of a one-SIM device).
type ChannelKey = (String, String);

/// Everything under the hub's one lock.
#[derive(Debug, Default)]
struct State {
    next_id: u64,
    by_port: BTreeMap<u16, Entry>,
    /// The queued waits, in the order they registered: `(port, id)`.
    queue: VecDeque<(u16, u64)>,
    /// No turn begins before this (after a turn ended without a code).
    quiet_until: Option<tokio::time::Instant>,
    channels: BTreeMap<ChannelKey, Msisdn>,
    log: IntakeLog,
}

impl State {
    fn holder(&self) -> Option<u16> {
        self.by_port
            .iter()
            .find(|(_, e)| matches!(e.turn, Turn::Holding(_)))
            .map(|(p, _)| *p)
    }

    /// The number a declared channel names for this device and slot.
    fn channel(&self, device: Option<&str>, slot: Option<&str>) -> Option<&Msisdn> {
        let device = device?;
        channel_slot(slot)
            .and_then(|slot| self.channels.get(&(device.to_owned(), slot)))
            .or_else(|| self.channels.get(&(device.to_owned(), String::new())))
    }

    /// Whether a channel is declared for any slot of `device`.
    fn declared_device(&self, device: &str) -> bool {
        self.channels.keys().any(|(d, _)| d == device)
    }

    fn named_by_channel(&self, msisdn: &Msisdn) -> bool {
        self.channels.values().any(|m| m == msisdn)
    }

    /// Takes `port`'s entry out, giving up its turn: the next queued wait may take it at once
    /// when it ended `clean` (its own one SMS came by a forwarder), else after the quiet time:
    /// a code typed by the operator, a wait that ended without a code, or a binding that asked
    /// more than once all leave an SMS that may still come, unnamed, for the binding that gave
    /// the turn up.
    fn take(&mut self, port: u16, clean: bool, late_quiet: Duration) -> Option<Entry> {
        let entry = self.by_port.remove(&port)?;
        match entry.turn {
            Turn::Queued => self
                .queue
                .retain(|(p, id)| !(*p == port && *id == entry.id)),
            Turn::Holding(_) if !(late_quiet.is_zero() || (clean && entry.asks <= 1)) => {
                self.quiet_until = Some(tokio::time::Instant::now() + late_quiet);
                tracing::info!(
                    server = port,
                    msisdn = %entry.msisdn,
                    asks = entry.asks,
                    quiet_s = late_quiet.as_secs_f64(),
                    "A turn ended while an SMS for it may still come; the next one begins after the quiet time."
                );
            }
            Turn::Holding(_) | Turn::NotNeeded => {}
        }
        Some(entry)
    }
}

/// A slot as channels are keyed: the decoders' normal form (`sim1`, `SIM1`, `01` → `"1"`), so a
/// channel typed by the operator meets the slot an app sends.
fn channel_slot(slot: Option<&str>) -> Option<String> {
    simrotor_sms::phone_slot(slot)
}

/// Whether a text speaks of a code at all (a word like `kode`, `OTP`, `PIN`): an SMS that names
/// no SIM is taken as the turn holder's answer only then, never a promo or a receipt whose
/// number would pass for a code.
fn speaks_of_a_code(text: &str) -> bool {
    const WORDS: [&str; 8] = [
        "kode",
        "otp",
        "code",
        "pin",
        "sandi",
        "token",
        "verifikasi",
        "verification",
    ];
    text.split(|c: char| !c.is_alphanumeric())
        .any(|word| WORDS.iter().any(|w| word.eq_ignore_ascii_case(w)))
}

/// The `[sms]` settings the hub applies.
#[derive(Debug, Clone)]
struct Matching {
    /// Whether bindings whose SMS no channel names take turns.
    turns: bool,
    late_quiet: Duration,
    clock_skew: Duration,
}

struct Inner {
    source: OtpSource,
    finder: CodeFinder,
    timeout: Duration,
    matching: Matching,
    state: Mutex<State>,
    /// Woken whenever the turn may pass.
    turn_changed: Notify,
    /// Other live runtimes share the database: a turn cannot tell whose an unnamed SMS is.
    shared: std::sync::atomic::AtomicBool,
    clock: Clock,
}

/// The hub's time (a test's fixed clock, else the system's).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

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
            .field("patterns", &self.inner.finder)
            .field("turns", &self.inner.matching.turns)
            .field("waiting", &self.lock().by_port.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl OtpHub {
    /// A hub with `config.source` and `config.patterns` (tried in order for the code), and no
    /// app intake open (so no turns): every SMS names its number.
    pub fn new(config: &OtpConfig) -> Result<Self, OtpError> {
        Self::with_sms(config, &SmsConfig::default())
    }

    /// A hub that also applies `[sms]`: turns when `sms.turns` is on and an app's intake is
    /// open, the declared channels of `[[sms.channels]]`, the intake log's length.
    pub fn with_sms(config: &OtpConfig, sms: &SmsConfig) -> Result<Self, OtpError> {
        Self::clocked(config, sms, Arc::new(Utc::now))
    }

    /// [`with_sms`](Self::with_sms) on `clock` instead of the system's time: what a wait's start
    /// is compared with an SMS's time by, and what the intakes check signatures' windows by.
    pub fn clocked(config: &OtpConfig, sms: &SmsConfig, clock: Clock) -> Result<Self, OtpError> {
        let finder = CodeFinder::new(&config.patterns)?;
        let turns =
            sms.turns && config.source != OtpSource::Operator && !sms.open_apps().is_empty();
        let mut state = State {
            log: IntakeLog::new(sms.keep),
            ..State::default()
        };
        for channel in &sms.channels {
            state.channels.insert(
                (
                    channel.device.clone(),
                    channel_slot(channel.slot.as_deref()).unwrap_or_default(),
                ),
                channel.number.clone(),
            );
        }
        Ok(Self {
            inner: Arc::new(Inner {
                source: config.source,
                finder,
                timeout: config.timeout,
                matching: Matching {
                    turns,
                    late_quiet: sms.late_quiet,
                    clock_skew: sms.clock_skew,
                },
                state: Mutex::new(state),
                turn_changed: Notify::new(),
                shared: std::sync::atomic::AtomicBool::new(false),
                clock,
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

    /// Now, by the hub's clock.
    pub fn now(&self) -> DateTime<Utc> {
        (self.inner.clock)()
    }

    /// Other live runtimes share the database (or no longer do): while they do, an SMS that
    /// names no SIM is never taken by turn, since the turn of this runtime is not theirs.
    pub fn set_shared(&self, shared: bool) {
        self.inner
            .shared
            .store(shared, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether bindings take turns for the SMS that name no SIM.
    pub fn turns(&self) -> bool {
        self.inner.matching.turns
    }

    fn accepts(&self, from: OtpFrom) -> bool {
        matches!(
            (self.inner.source, from),
            (OtpSource::Both, _)
                | (OtpSource::Operator, OtpFrom::Operator)
                | (OtpSource::Forwarder, OtpFrom::Forwarder)
        )
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, and the state stays consistent at every step,
        // so a poisoned lock is still a good one.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers that the binding on server `port` (holding `msisdn`) waits for an OTP, from
    /// now on: call it before asking the server for the OTP, then [`OtpWaiter::turn`], then ask,
    /// then [`OtpWaiter::wait`]. Dropping the waiter unregisters it.
    pub fn register(&self, port: u16, msisdn: &Msisdn, purpose: OtpPurpose) -> OtpWaiter {
        let (tx, rx) = oneshot::channel();
        let late_quiet = self.inner.matching.late_quiet;
        let (id, turn) = {
            let mut state = self.lock();
            let id = state.next_id;
            state.next_id += 1;
            let stale: Vec<u16> = state
                .by_port
                .iter()
                .filter(|(p, e)| **p == port || e.msisdn == *msisdn)
                .map(|(p, _)| *p)
                .collect();
            let mut kept_turn = None;
            let mut asks = 1;
            for old_port in stale {
                let same_binding = state
                    .by_port
                    .get(&old_port)
                    .is_some_and(|old| old_port == port && old.msisdn == *msisdn);
                // The same binding asking again (a retried `/otp`, a fresh code after a wrong
                // one) keeps its place: its turn, or its place in the queue.
                let old_turn = state.by_port.get(&old_port).map(|e| e.turn);
                let removed = if same_binding {
                    // Asking again while holding the turn: the new request's SMS is the one
                    // awaited from now on, and the old one may still come.
                    kept_turn = old_turn.map(|turn| match turn {
                        Turn::Holding(_) => Turn::Holding(self.now()),
                        other => other,
                    });
                    asks = state.by_port.get(&old_port).map_or(1, |e| e.asks + 1);
                    let entry = state.by_port.remove(&old_port);
                    if let Some(entry) = &entry
                        && entry.turn == Turn::Queued
                    {
                        for slot in state.queue.iter_mut() {
                            if *slot == (old_port, entry.id) {
                                *slot = (port, id);
                            }
                        }
                    }
                    entry
                } else {
                    state.take(old_port, false, late_quiet)
                };
                if let Some(old) = removed {
                    if same_binding && old.purpose == purpose {
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
            let turn = match kept_turn {
                Some(turn) => turn,
                None if self.inner.matching.turns && !state.named_by_channel(msisdn) => {
                    state.queue.push_back((port, id));
                    Turn::Queued
                }
                None => Turn::NotNeeded,
            };
            state.by_port.insert(
                port,
                Entry {
                    id,
                    msisdn: msisdn.clone(),
                    purpose,
                    since: self.now(),
                    deadline: None,
                    turn,
                    asks,
                    tx,
                },
            );
            (id, turn)
        };
        self.inner.turn_changed.notify_waiters();
        match turn {
            Turn::Queued => {
                tracing::info!(server = port, msisdn = %msisdn, purpose = %purpose, "A binding waits for an OTP; it waits for its turn first (its SMS will not name the SIM).")
            }
            Turn::NotNeeded | Turn::Holding(_) => {
                tracing::info!(server = port, msisdn = %msisdn, purpose = %purpose, "A binding waits for an OTP.")
            }
        }
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
        let waiter = self.register(port, msisdn, purpose);
        waiter.turn().await;
        waiter.wait(timeout).await.map(|received| received.otp)
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
        let mut state = self.lock();
        if state
            .by_port
            .get(&port)
            .is_some_and(|e| e.turn == Turn::Queued)
        {
            drop(state);
            tracing::warn!(
                server = port,
                "The operator typed an OTP for a server that has not asked for its code yet (it waits for its turn); it is refused."
            );
            return Err(DeliverError::NotAsked { port });
        }
        let Some(entry) = state.take(port, false, self.inner.matching.late_quiet) else {
            drop(state);
            tracing::info!(
                server = port,
                "The operator typed an OTP for a server that waits for none; it is refused."
            );
            return Err(DeliverError::NotWaiting { port });
        };
        let delivered = hand_over(entry, port, otp, OtpFrom::Operator);
        drop(state);
        self.inner.turn_changed.notify_waiters();
        Ok(delivered)
    }

    /// The native `POST /sms`: an SMS that names its number.
    pub fn deliver_sms(&self, sms: &IncomingSms) -> SmsOutcome {
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
        self.deliver_incoming(&ForwardedSms::native(
            msisdn,
            SmsText::new(sms.message.clone()),
            sms.received_at,
        ))
    }

    /// An SMS came by an intake: its code goes to the one binding it can be for, if any (see
    /// the module's "Which binding an SMS is for"). Every SMS is recorded in the intake log and
    /// the audit trail, used or not.
    pub fn deliver_incoming(&self, sms: &ForwardedSms) -> SmsOutcome {
        let (outcome, matched_by) = self.match_incoming(sms);
        if let SmsOutcome::Delivered(_) = &outcome {
            self.inner.turn_changed.notify_waiters();
        }
        let (server, msisdn, purpose) = match &outcome {
            SmsOutcome::Delivered(d) => (Some(d.port), Some(d.msisdn.clone()), Some(d.purpose)),
            SmsOutcome::NoWaiter { msisdn } => (None, Some(msisdn.clone()), None),
            SmsOutcome::NotAsked { port, msisdn }
            | SmsOutcome::Stale { port, msisdn }
            | SmsOutcome::NoCode { port, msisdn } => (Some(*port), Some(msisdn.clone()), None),
            _ => (None, sms.receiving.clone(), None),
        };
        let record = SmsRecord {
            at: self.now(),
            intake: sms.intake,
            receiving: sms.receiving.clone(),
            device: sms.device.clone(),
            slot: sms.slot.clone(),
            sender: sms.sender.clone(),
            text: sms.text.masked(),
            outcome: outcome.name(),
            server,
            msisdn,
            purpose,
            matched_by,
            why_not: outcome.why_not(),
        };
        crate::audit::sms(&record);
        self.lock().log.record(record);
        outcome
    }

    fn match_incoming(&self, sms: &ForwardedSms) -> (SmsOutcome, Option<MatchedBy>) {
        if !self.accepts(OtpFrom::Forwarder) {
            tracing::warn!(
                intake = %sms.intake,
                "An SMS forwarder posted an SMS, but forwarded OTPs are switched off (otp.source); it is refused."
            );
            return (SmsOutcome::SourceOff, None);
        }
        let matching = &self.inner.matching;
        let mut state = self.lock();
        if !state.log.first_time(&sms.dedupe_key()) {
            tracing::info!(intake = %sms.intake, "The same SMS came again (the app retried); acknowledged, not used twice.");
            return (SmsOutcome::Duplicate, None);
        }
        let named = match &sms.receiving {
            Some(msisdn) => Some((msisdn.clone(), MatchedBy::Number)),
            None => state
                .channel(sms.device.as_deref(), sms.slot.as_deref())
                .map(|m| (m.clone(), MatchedBy::Channel)),
        };
        let (port, by) = match named {
            Some((msisdn, by)) => {
                let Some((port, entry)) = state.by_port.iter().find(|(_, e)| e.msisdn == msisdn)
                else {
                    drop(state);
                    tracing::info!(intake = %sms.intake, msisdn = %msisdn, by = by.as_str(), received_at = ?sms.received_at, "An SMS came for a number that waits for no OTP; it is ignored, not kept for later.");
                    return (SmsOutcome::NoWaiter { msisdn }, Some(by));
                };
                if entry.turn == Turn::Queued {
                    let port = *port;
                    drop(state);
                    tracing::warn!(intake = %sms.intake, server = port, msisdn = %msisdn, "An SMS came for a number that has not asked for its code yet (it waits for its turn); it is ignored.");
                    return (SmsOutcome::NotAsked { port, msisdn }, Some(by));
                }
                (*port, by)
            }
            None if !matching.turns => {
                drop(state);
                tracing::warn!(intake = %sms.intake, device = sms.device.as_deref(), slot = sms.slot.as_deref(), "An SMS names no SIM (no receiving number, no declared channel) and turns are off; it is ignored.");
                return (SmsOutcome::Unidentified, None);
            }
            None if self.inner.shared.load(std::sync::atomic::Ordering::Relaxed) => {
                drop(state);
                tracing::warn!(intake = %sms.intake, device = sms.device.as_deref(), slot = sms.slot.as_deref(), "An SMS names no SIM while other runtimes share the database: it could be the answer of any runtime's binding, so it is ignored (declare its channel, or use a forwarder that sends the receiving number).");
                return (SmsOutcome::Unidentified, None);
            }
            None => match state.holder() {
                // A number behind a declared channel takes no turn: its SMS name their device.
                // One that names no device at all could still be its answer, so while such a
                // number waits it goes to nobody.
                Some(_)
                    if sms
                        .device
                        .as_deref()
                        .is_none_or(|device| state.declared_device(device))
                        && state.by_port.values().any(|e| {
                            e.turn == Turn::NotNeeded && state.named_by_channel(&e.msisdn)
                        }) =>
                {
                    drop(state);
                    tracing::warn!(intake = %sms.intake, "An SMS names neither SIM nor device while a number behind a declared channel waits too; it could be for either, so it is ignored.");
                    return (SmsOutcome::Ambiguous, None);
                }
                Some(port) => (port, MatchedBy::Turn),
                None => {
                    let late = state
                        .quiet_until
                        .is_some_and(|until| tokio::time::Instant::now() < until);
                    drop(state);
                    let outcome = if late {
                        tracing::warn!(intake = %sms.intake, device = sms.device.as_deref(), slot = sms.slot.as_deref(), "An SMS that names no SIM came just after a turn ended without a code; it is dropped as that binding's late answer.");
                        SmsOutcome::Late
                    } else {
                        tracing::warn!(intake = %sms.intake, device = sms.device.as_deref(), slot = sms.slot.as_deref(), "An SMS names no SIM and no binding holds the turn; it is ignored.");
                        SmsOutcome::Unidentified
                    };
                    return (outcome, None);
                }
            },
        };
        let Some(entry) = state.by_port.get(&port) else {
            return (SmsOutcome::Unidentified, Some(by));
        };
        let msisdn = entry.msisdn.clone();
        if let Some(at) = sms.received_at
            && at
                .checked_add_signed(
                    chrono::Duration::from_std(matching.clock_skew).unwrap_or_default(),
                )
                .is_some_and(|latest| latest < entry.asked_since())
        {
            drop(state);
            tracing::warn!(intake = %sms.intake, server = port, msisdn = %msisdn, received_at = %at, "An SMS was received before its binding began to wait; it is an older SMS and is ignored.");
            return (SmsOutcome::Stale { port, msisdn }, Some(by));
        }
        let code = if by == MatchedBy::Turn && !speaks_of_a_code(sms.text.expose()) {
            None
        } else {
            self.extract_code(sms.text.expose())
        };
        let Some(otp) = code else {
            drop(state);
            tracing::warn!(intake = %sms.intake, server = port, msisdn = %msisdn, received_at = ?sms.received_at, "An SMS came for a number that waits for an OTP, but otp.patterns find no code in it; the binding keeps waiting.");
            return (SmsOutcome::NoCode { port, msisdn }, Some(by));
        };
        let Some(entry) = state.take(port, true, matching.late_quiet) else {
            return (SmsOutcome::NoWaiter { msisdn }, Some(by));
        };
        let delivered = hand_over(entry, port, otp, OtpFrom::Forwarder);
        drop(state);
        tracing::info!(intake = %sms.intake, server = port, msisdn = %delivered.msisdn, by = by.as_str(), "The SMS was matched to its binding.");
        (SmsOutcome::Delivered(delivered), Some(by))
    }

    /// The code in an SMS text: the first candidate of `otp.patterns`, in order, that is
    /// digits and not an amount, a date or a piece of a longer number.
    pub fn extract_code(&self, message: &str) -> Option<Otp> {
        self.inner.finder.find(message).map(Otp::new)
    }

    /// A code as the operator typed it: trimmed, digits, and what a pattern finds on its own.
    pub fn check_code(&self, typed: &str) -> Result<Otp, CodeError> {
        let code = typed.trim();
        if code.is_empty() {
            return Err(CodeError::Empty);
        }
        if !is_digits(code) {
            return Err(CodeError::NotDigits);
        }
        if !self.inner.finder.whole(code) {
            return Err(CodeError::NotAsPattern);
        }
        Ok(Otp::new(code))
    }

    /// Who waits now, by server, with their place in the turns.
    pub fn waiting(&self) -> Vec<Waiting> {
        let state = self.lock();
        state
            .by_port
            .iter()
            .map(|(port, e)| {
                let (turn, ahead) = match e.turn {
                    Turn::NotNeeded => (None, None),
                    Turn::Holding(_) => (Some("holding".to_owned()), None),
                    Turn::Queued => (
                        Some("queued".to_owned()),
                        state
                            .queue
                            .iter()
                            .position(|(p, id)| *p == *port && *id == e.id),
                    ),
                };
                Waiting {
                    port: *port,
                    msisdn: e.msisdn.clone(),
                    purpose: e.purpose,
                    since: e.since,
                    deadline: e.deadline,
                    turn,
                    ahead,
                }
            })
            .collect()
    }

    /// Ends the wait on server `port` (its future gets [`OtpWaitError::Cancelled`]), for a
    /// server stopped by the operator. False when it waited for nothing.
    pub fn cancel(&self, port: u16) -> bool {
        let entry = self
            .lock()
            .take(port, false, self.inner.matching.late_quiet);
        match entry {
            Some(entry) => {
                tracing::info!(server = port, msisdn = %entry.msisdn, purpose = %entry.purpose, "An OTP wait was cancelled.");
                let _ = entry.tx.send(Arrival::Cancelled);
                self.inner.turn_changed.notify_waiters();
                true
            }
            None => false,
        }
    }

    /// Declares that `device`'s `slot` (every slot of it, when `None`) holds `msisdn`'s SIM.
    pub fn declare_channel(&self, device: &str, slot: Option<&str>, msisdn: &Msisdn) {
        self.lock().channels.insert(
            (device.to_owned(), channel_slot(slot).unwrap_or_default()),
            msisdn.clone(),
        );
    }

    /// Replaces every declared channel (at start-up and after `simrotor sms channel`): the
    /// configuration's and the database's.
    pub fn set_channels(
        &self,
        channels: impl IntoIterator<Item = (String, Option<String>, Msisdn)>,
    ) {
        let map: BTreeMap<ChannelKey, Msisdn> = channels
            .into_iter()
            .map(|(device, slot, m)| {
                (
                    (device, channel_slot(slot.as_deref()).unwrap_or_default()),
                    m,
                )
            })
            .collect();
        self.lock().channels = map;
    }

    /// The declared channels: `(device, slot, number)`.
    pub fn channels(&self) -> Vec<(String, Option<String>, Msisdn)> {
        self.lock()
            .channels
            .iter()
            .map(|((device, slot), m)| {
                (
                    device.clone(),
                    (!slot.is_empty()).then(|| slot.clone()),
                    m.clone(),
                )
            })
            .collect()
    }

    /// The numbers a declared channel names (they need no turn).
    pub fn channel_numbers(&self) -> BTreeSet<Msisdn> {
        self.lock().channels.values().cloned().collect()
    }

    /// The last SMS of every intake, newest first.
    pub fn recent_sms(&self) -> Vec<SmsRecord> {
        self.lock().log.recent()
    }

    /// Removes the entry of registration `id` on `port`, if still there (not a newer one).
    fn unregister(&self, port: u16, id: u64) -> bool {
        let removed = {
            let mut state = self.lock();
            if state.by_port.get(&port).is_some_and(|e| e.id == id) {
                state
                    .take(port, false, self.inner.matching.late_quiet)
                    .is_some()
            } else {
                false
            }
        };
        if removed {
            self.inner.turn_changed.notify_waiters();
        }
        removed
    }

    fn set_deadline(&self, port: u16, id: u64, deadline: DateTime<Utc>) {
        if let Some(entry) = self.lock().by_port.get_mut(&port)
            && entry.id == id
        {
            entry.deadline = Some(deadline);
        }
    }

    /// Takes the turn for registration `id` on `port` if it is first in the queue, nobody
    /// holds it and the quiet time is over. `Ok(())` when it holds the turn (or needs none, or
    /// is no longer registered: its wait then ends at once); `Err(until)` to wait for a change,
    /// or until the quiet time ends.
    fn try_take_turn(&self, port: u16, id: u64) -> Result<(), Option<tokio::time::Instant>> {
        let mut state = self.lock();
        let Some(entry) = state.by_port.get(&port).filter(|e| e.id == id) else {
            return Ok(());
        };
        if entry.turn != Turn::Queued {
            return Ok(());
        }
        if state.holder().is_some() || state.queue.front() != Some(&(port, id)) {
            return Err(None);
        }
        if let Some(until) = state.quiet_until {
            if tokio::time::Instant::now() < until {
                return Err(Some(until));
            }
            state.quiet_until = None;
        }
        state.queue.pop_front();
        if let Some(entry) = state.by_port.get_mut(&port) {
            entry.turn = Turn::Holding((self.inner.clock)());
            tracing::info!(server = port, msisdn = %entry.msisdn, purpose = %entry.purpose, "The binding's turn has come: it may ask for its code.");
        }
        Ok(())
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

    /// Whether this wait is queued for the turn now.
    pub fn is_queued(&self) -> bool {
        self.hub
            .lock()
            .by_port
            .get(&self.port)
            .is_some_and(|e| e.id == self.id && e.turn == Turn::Queued)
    }

    /// Resolves when the binding may ask for its code: at once when its SMS will be named (or
    /// turns are off), else when its turn comes. Cancel-safe: dropping it keeps the place in the
    /// queue (the waiter itself holds it).
    pub async fn turn(&self) {
        loop {
            let changed = self.hub.inner.turn_changed.notified();
            match self.hub.try_take_turn(self.port, self.id) {
                Ok(()) => return,
                Err(None) => changed.await,
                Err(Some(until)) => {
                    tokio::select! {
                        () = changed => {}
                        () = tokio::time::sleep_until(until) => {}
                    }
                }
            }
        }
    }

    /// Waits up to `timeout` for the code (a code that came before this call is already here).
    pub async fn wait(mut self, timeout: Duration) -> Result<ReceivedOtp, OtpWaitError> {
        if let Some(deadline) = chrono::Duration::from_std(timeout)
            .ok()
            .and_then(|span| self.hub.now().checked_add_signed(span))
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
        // The default patterns take the digits next to the keyword, never the amount.
        let text = "Transaksi Rp 10000 perlu kode 4321";
        assert_eq!(extracted(&hub, text).as_deref(), Some("4321"));
    }

    #[test]
    fn a_pattern_with_context_picks_the_code_after_it() {
        let hub = OtpHub::new(&OtpConfig {
            patterns: vec![r"(?i)kode\D{0,12}(\d{4,8})".to_owned()],
            ..OtpConfig::default()
        })
        .unwrap();
        let text = "Transaksi Rp 10000 perlu kode: 4321";
        assert_eq!(extracted(&hub, text).as_deref(), Some("4321"));
    }

    #[test]
    fn a_group_that_is_not_digits_is_no_code() {
        let hub = OtpHub::new(&OtpConfig {
            patterns: vec![r"Kode: (\w+)".to_owned()],
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
            patterns: vec![r"(\d{4".to_owned()],
            ..OtpConfig::default()
        })
        .unwrap_err();
        assert!(
            matches!(err, OtpError::Patterns(PatternError::Invalid { .. })),
            "{err}"
        );
        assert!(err.to_string().contains("otp.patterns[0]"), "{err}");
        let err = OtpHub::new(&OtpConfig {
            patterns: vec![r"\b(\d{4,8})\b".to_owned(), r"\d{4,8}".to_owned()],
            ..OtpConfig::default()
        })
        .unwrap_err();
        assert!(
            matches!(
                err,
                OtpError::Patterns(PatternError::NoGroup { index: 1, .. })
            ),
            "{err}"
        );
        let err = OtpHub::new(&OtpConfig {
            patterns: vec![],
            ..OtpConfig::default()
        })
        .unwrap_err();
        assert!(
            matches!(err, OtpError::Patterns(PatternError::Empty)),
            "{err}"
        );
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
            // A fresh code each time: the same SMS twice is a retry, not a new code.
            let text = format!("Kode OTP Anda: 12345{i} untuk masuk ke aplikasi.");
            let outcome = hub.deliver_sms(&sms(form, &text));
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
            assert_eq!(received.otp.expose(), format!("12345{i}"));
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

    /// A hub with the capcom6 intake open: bindings whose SMS no channel names take turns.
    fn turn_hub(channels: &[(&str, Option<&str>, Msisdn)]) -> OtpHub {
        let mut sms_config = SmsConfig::default();
        sms_config.set_intake(
            simrotor_sms::App::Capcom6,
            simrotor_config::IntakeConfig::with_secret("test-secret"),
        );
        let hub = OtpHub::with_sms(&config(OtpSource::Both), &sms_config).unwrap();
        hub.set_channels(
            channels
                .iter()
                .map(|(d, s, m)| ((*d).to_owned(), s.map(str::to_owned), m.clone())),
        );
        hub
    }

    /// An SMS from the capcom6 app on `device`/`slot`, naming the receiving SIM or not.
    fn app_sms(receiving: Option<&Msisdn>, device: &str, slot: &str, text: &str) -> ForwardedSms {
        ForwardedSms {
            intake: Intake::App(simrotor_sms::App::Capcom6),
            receiving: receiving.cloned(),
            device: Some(device.to_owned()),
            slot: Some(slot.to_owned()),
            sender: Some("TELKOMSEL".to_owned()),
            text: SmsText::new(text),
            received_at: Some(Utc::now()),
            message_id: None,
        }
    }

    fn login_text(code: &str) -> String {
        format!("Kode OTP Anda: {code}. JANGAN BERIKAN kode ini kepada siapapun.")
    }

    #[tokio::test]
    async fn unnamed_sms_go_to_the_one_binding_whose_turn_it_is_in_order() {
        let hub = turn_hub(&[]);
        assert!(hub.turns());
        let (a, b, c) = (number(21), number(22), number(23));
        let first = hub.register(9901, &a, OtpPurpose::Login);
        let second = hub.register(9902, &b, OtpPurpose::Login);
        let third = hub.register(9903, &c, OtpPurpose::Transaction);
        // Before anyone holds the turn, an SMS that names no SIM is nobody's.
        assert_eq!(
            hub.deliver_incoming(&app_sms(None, "phone-x", "1", &login_text("999111"))),
            SmsOutcome::Unidentified
        );
        first.turn().await;
        assert!(!first.is_queued() && second.is_queued() && third.is_queued());
        let shown = hub.waiting();
        let view = |port: u16| shown.iter().find(|w| w.port == port).unwrap().clone();
        assert_eq!(view(9901).turn.as_deref(), Some("holding"));
        assert_eq!(
            (view(9902).turn.as_deref(), view(9902).ahead),
            (Some("queued"), Some(0))
        );
        assert_eq!(view(9903).ahead, Some(1));
        // The second cannot take the turn while the first holds it.
        assert!(
            tokio::time::timeout(Duration::from_millis(20), second.turn())
                .await
                .is_err()
        );
        // Nor can the operator type a code for it.
        assert_eq!(
            hub.deliver_for_server(9902, "222333").unwrap_err(),
            DeliverError::NotAsked { port: 9902 }
        );
        // A named SMS for a queued number is not its answer: it has not asked yet.
        assert_eq!(
            hub.deliver_incoming(&app_sms(Some(&b), "phone-x", "2", &login_text("222333"))),
            SmsOutcome::NotAsked {
                port: 9902,
                msisdn: b.clone()
            }
        );
        assert!(matches!(
            hub.deliver_incoming(&app_sms(None, "phone-x", "1", &login_text("111222"))),
            SmsOutcome::Delivered(Delivered { port: 9901, .. })
        ));
        assert_eq!(code_of(first).await, "111222");
        second.turn().await;
        assert!(matches!(
            hub.deliver_incoming(&app_sms(None, "phone-y", "2", &login_text("333444"))),
            SmsOutcome::Delivered(Delivered { port: 9902, .. })
        ));
        assert_eq!(code_of(second).await, "333444");
        third.turn().await;
        assert_eq!(
            code_of_after(&hub, third, "Transaksi Rp 5000 kode 4444").await,
            "4444"
        );
    }

    async fn code_of_after(hub: &OtpHub, waiter: OtpWaiter, text: &str) -> String {
        hub.deliver_incoming(&app_sms(None, "phone-z", "1", text));
        code_of(waiter).await
    }

    #[tokio::test]
    async fn a_declared_channel_names_the_number_and_needs_no_turn() {
        let (a, b) = (number(31), number(32));
        let hub = turn_hub(&[("phone-a", Some("1"), a.clone())]);
        let holder = hub.register(9902, &b, OtpPurpose::Login);
        holder.turn().await;
        let named = hub.register(9901, &a, OtpPurpose::Login);
        assert!(
            !named.is_queued(),
            "a number behind a declared channel takes no turn"
        );
        // From the declared channel: only `a`'s wait, never the turn's holder.
        assert!(matches!(
            hub.deliver_incoming(&app_sms(None, "phone-a", "1", &login_text("515151"))),
            SmsOutcome::Delivered(Delivered { port: 9901, .. })
        ));
        assert_eq!(code_of(named).await, "515151");
        // The channel's number waits no more: its next SMS is nobody's, not the holder's.
        assert_eq!(
            hub.deliver_incoming(&app_sms(None, "phone-a", "1", &login_text("525252"))),
            SmsOutcome::NoWaiter { msisdn: a.clone() }
        );
        // A named number that waits for nothing is never handed to the holder either.
        assert_eq!(
            hub.deliver_incoming(&app_sms(
                Some(&number(39)),
                "phone-q",
                "1",
                &login_text("535353")
            )),
            SmsOutcome::NoWaiter { msisdn: number(39) }
        );
        // With `a` waiting too, an SMS that names neither SIM nor device could be for either.
        let a_again = hub.register(9901, &a, OtpPurpose::Login);
        let mut bare = app_sms(None, "x", "1", &login_text("545400"));
        (bare.device, bare.slot) = (None, None);
        assert_eq!(hub.deliver_incoming(&bare), SmsOutcome::Ambiguous);
        drop(a_again);
        assert_eq!(
            code_of_after(&hub, holder, &login_text("545454")).await,
            "545454"
        );
        // A channel declared without a slot covers every slot of its device.
        hub.declare_channel("modem-9", None, &a);
        let again = hub.register(9901, &a, OtpPurpose::Transaction);
        assert!(matches!(
            hub.deliver_incoming(&app_sms(None, "modem-9", "3", &login_text("565656"))),
            SmsOutcome::Delivered(Delivered { port: 9901, .. })
        ));
        assert_eq!(code_of(again).await, "565656");
    }

    #[tokio::test]
    async fn the_same_sms_again_is_acknowledged_and_not_used_twice() {
        let hub = turn_hub(&[]);
        let m = number(41);
        let first = hub.register(9901, &m, OtpPurpose::Login);
        first.turn().await;
        let sms = app_sms(Some(&m), "phone-a", "1", &login_text("616161"));
        assert!(matches!(
            hub.deliver_incoming(&sms),
            SmsOutcome::Delivered(_)
        ));
        assert_eq!(code_of(first).await, "616161");
        // The binding asks again (say the code was refused); the app retries the old SMS.
        let second = hub.register(9901, &m, OtpPurpose::Login);
        second.turn().await;
        assert_eq!(hub.deliver_incoming(&sms), SmsOutcome::Duplicate);
        assert_eq!(hub.waiting().len(), 1, "still waiting for a fresh code");
        let recent = hub.recent_sms();
        assert_eq!(recent[0].outcome, "duplicate");
        assert_eq!(recent[1].outcome, "delivered");
        assert_eq!(recent[1].server, Some(9901));
        assert_eq!(recent[1].matched_by, Some(MatchedBy::Number));
        assert!(!format!("{recent:?}").contains("616161"), "{recent:?}");
        drop(second);
    }

    #[tokio::test]
    async fn an_sms_received_before_the_wait_began_is_stale() {
        let hub = turn_hub(&[]);
        let m = number(42);
        let waiter = hub.register(9901, &m, OtpPurpose::Login);
        waiter.turn().await;
        let mut old = app_sms(Some(&m), "phone-a", "1", &login_text("717171"));
        old.received_at = Some(Utc::now() - chrono::Duration::minutes(10));
        assert_eq!(
            hub.deliver_incoming(&old),
            SmsOutcome::Stale {
                port: 9901,
                msisdn: m.clone()
            }
        );
        assert_eq!(
            code_of_after(&hub, waiter, &login_text("727272")).await,
            "727272"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_turn_ends_without_a_code_an_unnamed_sms_is_late_and_the_next_turn_waits() {
        let hub = turn_hub(&[]);
        let (a, b) = (number(51), number(52));
        let first = hub.register(9901, &a, OtpPurpose::Login);
        let second = hub.register(9902, &b, OtpPurpose::Login);
        first.turn().await;
        assert_eq!(
            first.wait(Duration::from_secs(300)).await.unwrap_err(),
            OtpWaitError::TimedOut {
                after: Duration::from_secs(300)
            }
        );
        // `a`'s code comes late: it must not reach `b`, who has not even asked yet.
        assert_eq!(
            hub.deliver_incoming(&app_sms(None, "phone-a", "1", &login_text("818181"))),
            SmsOutcome::Late
        );
        let started = tokio::time::Instant::now();
        second.turn().await;
        assert_eq!(started.elapsed(), SmsConfig::default().late_quiet);
        assert_eq!(
            code_of_after(&hub, second, &login_text("828282")).await,
            "828282"
        );
    }

    #[tokio::test]
    async fn a_dropped_holder_passes_the_turn_and_a_retry_keeps_its_place() {
        let hub = turn_hub(&[]);
        let (a, b, c) = (number(61), number(62), number(63));
        let first = hub.register(9901, &a, OtpPurpose::Login);
        let second = hub.register(9902, &b, OtpPurpose::Login);
        let third = hub.register(9903, &c, OtpPurpose::Login);
        // The second binding asks again while queued: it keeps its place before the third.
        let second = {
            let again = hub.register(9902, &b, OtpPurpose::Login);
            drop(second);
            again
        };
        let order: Vec<(u16, Option<usize>)> =
            hub.waiting().iter().map(|w| (w.port, w.ahead)).collect();
        assert_eq!(order, [(9901, Some(0)), (9902, Some(1)), (9903, Some(2))]);
        first.turn().await;
        // The same binding registering again while it holds the turn keeps it.
        let first = hub.register(9901, &a, OtpPurpose::Login);
        assert!(!first.is_queued());
        assert_eq!(hub.waiting()[0].turn.as_deref(), Some("holding"));
        hub.deliver_for_server(9901, "123456").unwrap();
        assert_eq!(code_of(first).await, "123456");
        second.turn().await;
        drop(second);
        // Dropped without a code: the next turn comes after the quiet time.
        assert!(third.is_queued());
        cancel_quiet_for_test(&hub);
        third.turn().await;
        assert!(!third.is_queued());
    }

    fn cancel_quiet_for_test(hub: &OtpHub) {
        hub.lock().quiet_until = None;
        hub.inner.turn_changed.notify_waiters();
    }

    #[test]
    fn turns_are_off_without_an_open_app_or_with_typed_codes_only() {
        assert!(!hub().turns());
        let mut sms_config = SmsConfig::default();
        sms_config.set_intake(
            simrotor_sms::App::Gammu,
            simrotor_config::IntakeConfig {
                enabled: Some(true),
                secret: None,
            },
        );
        assert!(
            OtpHub::with_sms(&config(OtpSource::Both), &sms_config)
                .unwrap()
                .turns()
        );
        assert!(
            !OtpHub::with_sms(&config(OtpSource::Operator), &sms_config)
                .unwrap()
                .turns()
        );
        sms_config.turns = false;
        assert!(
            !OtpHub::with_sms(&config(OtpSource::Both), &sms_config)
                .unwrap()
                .turns()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_typed_code_or_a_second_ask_the_next_turn_waits_the_quiet_time() {
        let quiet = SmsConfig::default().late_quiet;
        let hub = turn_hub(&[]);
        let (a, b, c) = (number(71), number(72), number(73));
        let first = hub.register(9901, &a, OtpPurpose::Login);
        let second = hub.register(9902, &b, OtpPurpose::Login);
        let third = hub.register(9903, &c, OtpPurpose::Login);
        first.turn().await;
        // The operator typed `a`'s code: the forwarder's SMS of it may still come, unnamed.
        hub.deliver_for_server(9901, "135790").unwrap();
        assert_eq!(code_of(first).await, "135790");
        let started = tokio::time::Instant::now();
        second.turn().await;
        assert_eq!(started.elapsed(), quiet);
        // `b` asks twice (a retried `/otp`): two SMS are out, so its turn ends with the quiet
        // time too, though its code came by SMS.
        let second = hub.register(9902, &b, OtpPurpose::Login);
        assert!(!second.is_queued());
        assert_eq!(
            code_of_after(&hub, second, &login_text("246802")).await,
            "246802"
        );
        let started = tokio::time::Instant::now();
        third.turn().await;
        assert_eq!(started.elapsed(), quiet);
        // Its own one SMS: the turn passes at once.
        let fourth = hub.register(9904, &number(74), OtpPurpose::Login);
        assert_eq!(
            code_of_after(&hub, third, &login_text("246804")).await,
            "246804"
        );
        let started = tokio::time::Instant::now();
        fourth.turn().await;
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test]
    async fn an_unnamed_sms_that_speaks_of_no_code_is_not_the_holders_answer() {
        let hub = turn_hub(&[]);
        let m = number(75);
        let waiter = hub.register(9901, &m, OtpPurpose::Login);
        waiter.turn().await;
        assert_eq!(
            hub.deliver_incoming(&app_sms(
                None,
                "phone-a",
                "1",
                "Isi ulang 50000 berhasil. Ref 83910245"
            )),
            SmsOutcome::NoCode {
                port: 9901,
                msisdn: m.clone()
            }
        );
        assert_eq!(
            code_of_after(&hub, waiter, &login_text("314159")).await,
            "314159"
        );
    }

    #[tokio::test]
    async fn channels_meet_the_apps_slots_and_a_declared_devices_other_sms_is_nobodys() {
        let (a, b) = (number(81), number(82));
        // Typed `sim1` by the operator; the apps send `1`.
        let hub = turn_hub(&[("phone-a", Some("SIM1"), a.clone())]);
        let holder = hub.register(9902, &b, OtpPurpose::Login);
        holder.turn().await;
        let named = hub.register(9901, &a, OtpPurpose::Login);
        assert!(!named.is_queued());
        // From the declared device but no slot: it could be `a`'s, so nobody's.
        let mut slotless = app_sms(None, "phone-a", "1", &login_text("161616"));
        slotless.slot = None;
        assert_eq!(hub.deliver_incoming(&slotless), SmsOutcome::Ambiguous);
        assert!(matches!(
            hub.deliver_incoming(&app_sms(None, "phone-a", "1", &login_text("171717"))),
            SmsOutcome::Delivered(Delivered { port: 9901, .. })
        ));
        assert_eq!(code_of(named).await, "171717");
        drop(holder);
    }
}

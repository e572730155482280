//! What became of an SMS, whichever intake it came by.
//!
//! Every intake — the native `POST /sms` and each forwarder app's `POST /sms/<app>` — hands the
//! hub one [`ForwardedSms`](simrotor_sms::ForwardedSms); the hub answers one [`SmsOutcome`] and
//! keeps an [`SmsRecord`] of it in its [`IntakeLog`] (the last few per intake, for `simrotor
//! sms`), which also remembers the keys of the SMS already taken, so an app's retry is
//! acknowledged and not used twice.

use std::collections::{BTreeMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::Serialize;
use simrotor_domain::{Msisdn, MsisdnError};
use simrotor_sms::Intake;

use super::{Delivered, OtpPurpose};

/// How many SMS keys are remembered against retries (capcom6 retries for two days; a few
/// thousand SMS a day per operator).
const REMEMBERED_KEYS: usize = 20_000;

/// How an SMS found its binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// The request named the receiving number.
    Number,
    /// A declared channel (device + slot → number).
    Channel,
    /// Nothing named the SIM: the one binding whose turn it is.
    Turn,
}

impl MatchedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchedBy::Number => "number",
            MatchedBy::Channel => "channel",
            MatchedBy::Turn => "turn",
        }
    }
}

/// What became of an SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsOutcome {
    /// The code went to the binding on server `port`.
    Delivered(Delivered),
    /// The same SMS came before (an app's retry): acknowledged, not used again.
    Duplicate,
    /// The SMS names a number (or a channel's number) that waits for no OTP.
    NoWaiter { msisdn: Msisdn },
    /// The number waits, but its turn has not come: it has not asked for a code yet, so this
    /// SMS cannot be its answer.
    NotAsked { port: u16, msisdn: Msisdn },
    /// The SMS was received before its binding began to wait (beyond `sms.clock_skew`): an
    /// older SMS, never a fresh code.
    Stale { port: u16, msisdn: Msisdn },
    /// A binding waits for this number, but the SMS holds no code; it keeps waiting.
    NoCode { port: u16, msisdn: Msisdn },
    /// Nothing names the SIM and no binding holds the turn (or turns are off).
    Unidentified,
    /// Nothing names the SIM or even the device, and besides the turn's holder a number behind
    /// a declared channel waits: it could be for either.
    Ambiguous,
    /// Nothing names the SIM and it came in the quiet time after a turn ended without a code:
    /// taken as that binding's late answer, and dropped.
    Late,
    /// The native SMS names no number we could read.
    BadMsisdn(MsisdnError),
    /// Codes from an SMS forwarder are switched off (`otp.source = "operator"`).
    SourceOff,
}

impl SmsOutcome {
    /// The outcome's name in answers, the audit log and `simrotor sms`.
    pub fn name(&self) -> &'static str {
        match self {
            SmsOutcome::Delivered(_) => "delivered",
            SmsOutcome::Duplicate => "duplicate",
            SmsOutcome::NoWaiter { .. } => "no_waiter",
            SmsOutcome::NotAsked { .. } => "not_asked",
            SmsOutcome::Stale { .. } => "stale",
            SmsOutcome::NoCode { .. } => "no_code",
            SmsOutcome::Unidentified => "unidentified",
            SmsOutcome::Ambiguous => "ambiguous",
            SmsOutcome::Late => "late",
            SmsOutcome::BadMsisdn(_) => "bad_msisdn",
            SmsOutcome::SourceOff => "source_off",
        }
    }

    /// Why it was not used, in the operator's words (`None` when it was).
    pub fn why_not(&self) -> Option<String> {
        Some(match self {
            SmsOutcome::Delivered(_) => return None,
            SmsOutcome::Duplicate => "the same SMS came before (the app retried)".to_owned(),
            SmsOutcome::NoWaiter { msisdn } => format!("{msisdn} waits for no OTP"),
            SmsOutcome::NotAsked { port, msisdn } => format!(
                "{msisdn} on server {port} waits for its turn and has not asked for a code yet"
            ),
            SmsOutcome::Stale { port, msisdn } => format!(
                "received before {msisdn} on server {port} began to wait: an older SMS"
            ),
            SmsOutcome::NoCode { port, msisdn } => {
                format!("no code in the text ({msisdn} on server {port} keeps waiting)")
            }
            SmsOutcome::Unidentified => "it names no SIM (no receiving number, no declared channel) and no binding holds the turn".to_owned(),
            SmsOutcome::Ambiguous => "it names neither SIM nor device, and a number behind a declared channel waits besides the turn's holder: it could be for either".to_owned(),
            SmsOutcome::Late => "it names no SIM and came just after a turn ended without a code: dropped as that binding's late answer".to_owned(),
            SmsOutcome::BadMsisdn(e) => format!("the number cannot be read: {e}"),
            SmsOutcome::SourceOff => "OTPs from SMS forwarders are switched off (otp.source)".to_owned(),
        })
    }
}

/// One SMS as `simrotor sms` shows it: no code, no text in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmsRecord {
    pub at: DateTime<Utc>,
    pub intake: Intake,
    pub receiving: Option<Msisdn>,
    pub device: Option<String>,
    pub slot: Option<String>,
    pub sender: Option<String>,
    /// The text with every digit masked.
    pub text: String,
    pub outcome: &'static str,
    /// The server it went to, or the one it was refused for.
    pub server: Option<u16>,
    pub msisdn: Option<Msisdn>,
    pub purpose: Option<OtpPurpose>,
    pub matched_by: Option<MatchedBy>,
    pub why_not: Option<String>,
}

/// The last SMS per intake and the keys of those already taken.
#[derive(Debug, Default)]
pub(super) struct IntakeLog {
    keep: usize,
    recent: BTreeMap<Intake, VecDeque<SmsRecord>>,
    keys: HashSet<String>,
    key_order: VecDeque<String>,
}

impl IntakeLog {
    pub(super) fn new(keep: usize) -> Self {
        Self {
            keep,
            ..Self::default()
        }
    }

    /// Remembers `key`; false when it was already there (a retry).
    pub(super) fn first_time(&mut self, key: &str) -> bool {
        if self.keys.contains(key) {
            return false;
        }
        self.keys.insert(key.to_owned());
        self.key_order.push_back(key.to_owned());
        while self.key_order.len() > REMEMBERED_KEYS {
            if let Some(old) = self.key_order.pop_front() {
                self.keys.remove(&old);
            }
        }
        true
    }

    pub(super) fn record(&mut self, record: SmsRecord) {
        if self.keep == 0 {
            return;
        }
        let list = self.recent.entry(record.intake).or_default();
        list.push_front(record);
        list.truncate(self.keep);
    }

    /// The last SMS of every intake that got any, newest first.
    pub(super) fn recent(&self) -> Vec<SmsRecord> {
        let mut all: Vec<SmsRecord> = self.recent.values().flatten().cloned().collect();
        all.sort_by_key(|r| std::cmp::Reverse(r.at));
        all
    }
}

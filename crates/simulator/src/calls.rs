//! What the simulated servers were asked, and when. Every call is counted by name (the
//! benchmark holds the counts against the protocol's minimum); with `simulator.record_calls`
//! each call is also kept with its port, number and times, and each SMS with the time the
//! forwarder's post was answered, so that a benchmark can see, per server, the time spent in
//! calls, waiting for an OTP, and between them (`GET /_sim/calls`).

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use simrotor_domain::{Call, Msisdn};

/// The name an SMS delivery is logged under (it is not a slot call; its port is 0).
pub const SMS: &str = "sms";

/// One slot call as it was served, or one SMS as it was delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedCall {
    /// The port the call came in on; 0 for an SMS.
    pub port: u16,
    /// The call's name (`otp`, `trx_idv`, …, see [`Call::name`]) or [`SMS`].
    pub call: String,
    /// The `username` the call named, or the SMS's number, normalised (`62…`).
    pub number: Option<String>,
    /// When the request came in (for an SMS: its post went out), µs since the simulator started.
    pub arrived_us: u64,
    /// When its answer left (for an SMS: the post was answered), µs since the start.
    pub answered_us: u64,
}

/// `GET /_sim/calls`: the counts by name, and the calls kept when recording is on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallReport {
    pub counts: BTreeMap<String, u64>,
    pub calls: Vec<ServedCall>,
}

/// The simulator's log of calls.
#[derive(Debug)]
pub(crate) struct CallLog {
    started: Instant,
    counts: BTreeMap<&'static str, u64>,
    records: Option<Vec<ServedCall>>,
}

impl CallLog {
    pub(crate) fn new(started: Instant, record: bool) -> Self {
        Self {
            started,
            counts: BTreeMap::new(),
            records: record.then(Vec::new),
        }
    }

    fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.started).as_micros()).unwrap_or(u64::MAX)
    }

    fn note(
        &mut self,
        port: u16,
        name: &'static str,
        number: Option<&Msisdn>,
        from: Instant,
        to: Instant,
    ) {
        *self.counts.entry(name).or_default() += 1;
        let (arrived_us, answered_us) = (self.micros(from), self.micros(to));
        if let Some(records) = &mut self.records {
            records.push(ServedCall {
                port,
                call: name.to_owned(),
                number: number.map(|m| m.as_str().to_owned()),
                arrived_us,
                answered_us,
            });
        }
    }

    /// A slot call was answered.
    pub(crate) fn served(
        &mut self,
        port: u16,
        call: Call,
        number: Option<&Msisdn>,
        arrived: Instant,
        answered: Instant,
    ) {
        self.note(port, call.name(), number, arrived, answered);
    }

    /// An SMS was posted to the forwarder's URL, and the post answered.
    pub(crate) fn delivered(&mut self, number: &Msisdn, posted: Instant, answered: Instant) {
        self.note(0, SMS, Some(number), posted, answered);
    }

    pub(crate) fn report(&self) -> CallReport {
        CallReport {
            counts: self
                .counts
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            calls: self.records.clone().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn calls_are_counted_always_and_kept_only_when_recording() {
        let t0 = Instant::now();
        let ms = Duration::from_millis(1);
        let number = Msisdn::parse("081234567890").unwrap();
        let mut quiet = CallLog::new(t0, false);
        quiet.served(9900, Call::Buy, Some(&number), t0, t0 + ms);
        quiet.served(9900, Call::Buy, None, t0, t0 + ms);
        let report = quiet.report();
        assert_eq!(report.counts.get("trx_idv"), Some(&2));
        assert!(report.calls.is_empty());

        let mut kept = CallLog::new(t0, true);
        kept.served(9901, Call::RequestOtp, Some(&number), t0 + ms, t0 + 3 * ms);
        kept.delivered(&number, t0 + 4 * ms, t0 + 5 * ms);
        let report = kept.report();
        assert_eq!(
            report.calls,
            [
                ServedCall {
                    port: 9901,
                    call: "otp".to_owned(),
                    number: Some("6281234567890".to_owned()),
                    arrived_us: 1_000,
                    answered_us: 3_000,
                },
                ServedCall {
                    port: 0,
                    call: SMS.to_owned(),
                    number: Some("6281234567890".to_owned()),
                    arrived_us: 4_000,
                    answered_us: 5_000,
                },
            ]
        );
        assert_eq!(report.counts.get("sms"), Some(&1));
    }
}

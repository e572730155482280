//! A resource server is an asset: it never ends, it moves between working, waiting, paused and
//! broken. The operator's controls (pause, resume, drain) are events like any other.

use crate::machine::{IllegalTransition, StateMachine, stable_names};

/// The state of a resource server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerState {
    /// No binding; will lease the next account.
    Idle,
    /// Working on a binding.
    Busy,
    /// Its binding waits for an OTP.
    WaitingOtp,
    /// The operator paused it (or a drain finished): no new step starts.
    Paused,
    /// Finishing its current number, then it pauses.
    Draining,
    /// Does not answer; probed with backoff; keeps its binding.
    Offline,
    /// Restarted too often; the runtime gave up until the operator resets it.
    Faulted,
}

stable_names!(ServerState, "server", {
    Idle => "IDLE",
    Busy => "BUSY",
    WaitingOtp => "WAITING_OTP",
    Paused => "PAUSED",
    Draining => "DRAINING",
    Offline => "OFFLINE",
    Faulted => "FAULTED",
});

/// What happened to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerEvent {
    /// Started work on a binding (a new one, or the one it kept while paused or offline).
    Working,
    /// Its binding now waits for an OTP.
    AwaitingOtp,
    /// The OTP came; the binding goes on.
    OtpReceived,
    /// Its binding ended.
    BindingEnded,
    /// The operator paused it.
    Pause,
    /// The operator resumed it (or cancelled a drain).
    Resume,
    /// The operator asked it to finish its number and stop.
    Drain,
    /// A call failed at the transport level.
    Unreachable,
    /// A probe got an answer again.
    Reachable,
    /// The supervisor gave up on it.
    Fault,
    /// A new runtime started: the live state an earlier run left (busy, waiting, paused,
    /// draining, offline) describes nothing any more. A faulted server stays faulted.
    Restarted,
    /// The operator cleared the fault.
    Reset,
}

impl ServerEvent {
    pub const ALL: &'static [ServerEvent] = &[
        ServerEvent::Working,
        ServerEvent::AwaitingOtp,
        ServerEvent::OtpReceived,
        ServerEvent::BindingEnded,
        ServerEvent::Pause,
        ServerEvent::Resume,
        ServerEvent::Drain,
        ServerEvent::Unreachable,
        ServerEvent::Reachable,
        ServerEvent::Fault,
        ServerEvent::Reset,
        ServerEvent::Restarted,
    ];
}

impl StateMachine for ServerState {
    type Event = ServerEvent;
    const MACHINE: &'static str = "server";

    fn apply(&self, event: &ServerEvent) -> Result<Self, IllegalTransition> {
        use ServerEvent as E;
        use ServerState as S;
        Ok(match (*self, *event) {
            (S::Idle, E::Working) => S::Busy,
            (S::Busy, E::AwaitingOtp) => S::WaitingOtp,
            (S::WaitingOtp, E::OtpReceived) => S::Busy,
            (S::Busy | S::WaitingOtp, E::BindingEnded) => S::Idle,
            (S::Draining, E::BindingEnded) => S::Paused,
            (S::Draining, E::AwaitingOtp | E::OtpReceived) => S::Draining,
            (S::Idle | S::Busy | S::WaitingOtp | S::Draining, E::Pause) => S::Paused,
            (S::Paused, E::Resume) => S::Idle,
            (S::Draining, E::Resume) => S::Busy,
            (S::Busy | S::WaitingOtp, E::Drain) => S::Draining,
            (S::Idle, E::Drain) => S::Paused,
            (S::Idle | S::Busy | S::WaitingOtp | S::Draining, E::Unreachable) => S::Offline,
            (S::Offline, E::Reachable) => S::Idle,
            (S::Faulted, E::Reset) => S::Idle,
            (S::Busy | S::WaitingOtp | S::Paused | S::Draining | S::Offline, E::Restarted) => {
                S::Idle
            }
            (s, E::Fault) if s != S::Faulted => S::Faulted,
            _ => return Err(self.refuse(event)),
        })
    }

    /// A server is an asset: even a faulted one can be reset by the operator.
    fn is_terminal(&self) -> bool {
        false
    }

    fn as_str(&self) -> &'static str {
        self.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::check_table;
    use ServerEvent as E;
    use ServerState as S;

    const TABLE: &[(S, E, S)] = &[
        (S::Idle, E::Working, S::Busy),
        (S::Idle, E::Pause, S::Paused),
        (S::Idle, E::Drain, S::Paused),
        (S::Idle, E::Unreachable, S::Offline),
        (S::Idle, E::Fault, S::Faulted),
        (S::Busy, E::AwaitingOtp, S::WaitingOtp),
        (S::Busy, E::BindingEnded, S::Idle),
        (S::Busy, E::Pause, S::Paused),
        (S::Busy, E::Drain, S::Draining),
        (S::Busy, E::Unreachable, S::Offline),
        (S::Busy, E::Fault, S::Faulted),
        (S::WaitingOtp, E::OtpReceived, S::Busy),
        (S::WaitingOtp, E::BindingEnded, S::Idle),
        (S::WaitingOtp, E::Pause, S::Paused),
        (S::WaitingOtp, E::Drain, S::Draining),
        (S::WaitingOtp, E::Unreachable, S::Offline),
        (S::WaitingOtp, E::Fault, S::Faulted),
        (S::Paused, E::Resume, S::Idle),
        (S::Paused, E::Fault, S::Faulted),
        (S::Draining, E::AwaitingOtp, S::Draining),
        (S::Draining, E::OtpReceived, S::Draining),
        (S::Draining, E::BindingEnded, S::Paused),
        (S::Draining, E::Pause, S::Paused),
        (S::Draining, E::Resume, S::Busy),
        (S::Draining, E::Unreachable, S::Offline),
        (S::Draining, E::Fault, S::Faulted),
        (S::Offline, E::Reachable, S::Idle),
        (S::Offline, E::Fault, S::Faulted),
        (S::Faulted, E::Reset, S::Idle),
        (S::Busy, E::Restarted, S::Idle),
        (S::WaitingOtp, E::Restarted, S::Idle),
        (S::Paused, E::Restarted, S::Idle),
        (S::Draining, E::Restarted, S::Idle),
        (S::Offline, E::Restarted, S::Idle),
    ];

    #[test]
    fn every_state_event_pair_matches_the_table() {
        check_table(S::ALL, E::ALL, TABLE);
    }

    #[test]
    fn every_state_round_trips() {
        for state in S::ALL {
            assert_eq!(state.name().parse::<S>().unwrap(), *state);
        }
    }
}

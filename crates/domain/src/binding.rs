//! A binding is one number's session on one server, from bind to logout. Its states are the
//! owner's names; the transition function is the only way from one to the next.

use crate::machine::{IllegalTransition, StateMachine, UnknownState, stable_names};

/// Why a binding ended with a logout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogoutReason {
    /// The pulsa is below the cheapest wanted product: the number is used up.
    Exhausted,
    /// `list_idv` refused: the number is not a reseller.
    NotReseller,
    /// The telco says the number is blocked.
    Blocked,
    /// The operator or a shutdown took the number off the server; it goes back to the pool.
    Released,
}

stable_names!(LogoutReason, "logout reason", {
    Exhausted => "EXHAUSTED",
    NotReseller => "NOT_RESELLER",
    Blocked => "BLOCKED",
    Released => "RELEASED",
});

/// Why a binding ended without a clean logout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// No OTP arrived before the timeout.
    OtpTimeout,
    /// The OTP was refused too many times.
    OtpRejected,
    /// The telco refused the login (wrong PIN, unknown number, …).
    LoginRefused,
    /// The telco says the number is blocked.
    Blocked,
    /// The server gave up (restart limit reached) while holding the binding.
    ServerFaulted,
    /// The server answered something the client could not understand, repeatedly.
    Protocol,
    /// Found open at start-up in a state that cannot be resumed.
    Abandoned,
}

stable_names!(FailReason, "fail reason", {
    OtpTimeout => "OTP_TIMEOUT",
    OtpRejected => "OTP_REJECTED",
    LoginRefused => "LOGIN_REFUSED",
    Blocked => "BLOCKED",
    ServerFaulted => "SERVER_FAULTED",
    Protocol => "PROTOCOL",
    Abandoned => "ABANDONED",
});

/// The state of a binding.
///
/// `BOUND → OTP_REQUESTED → OTP_VERIFICATION → OTP_VERIFIED → TOKEN_LOGIN_FETCHED → LOGGED_OUT`
/// are the owner's; `TRANSACTING` (products listed, the number is a reseller) and `FAILED` are
/// ours. `OTP_VERIFICATION` is where a binding waits for its login OTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindingState {
    /// An account is leased and bound to the server; nothing sent yet.
    Bound,
    /// `/otp` was called: the telco is sending an SMS.
    OtpRequested,
    /// Waiting for the login OTP, then verifying it.
    OtpVerification,
    /// `verifyOtp` accepted the code: `token_login` is known.
    OtpVerified,
    /// `balance_start` and `token_location` are known: login is complete.
    TokenLoginFetched,
    /// The product list came back: a reseller, buying until exhausted.
    Transacting,
    /// Logged out; terminal.
    LoggedOut(LogoutReason),
    /// Ended without a clean logout; terminal.
    Failed(FailReason),
}

/// What happened to a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindingEvent {
    /// `/otp` was sent.
    OtpRequestSent,
    /// `/otp` was acknowledged: now waiting for the SMS.
    OtpRequestAcknowledged,
    /// `verifyOtp` refused the code; a fresh OTP will be requested.
    OtpRejected,
    /// `verifyOtp` gave `token_login`.
    OtpAccepted,
    /// `balance_start` and `token_location` were fetched.
    LoginTokensFetched,
    /// `list_idv` answered with products.
    ResellerConfirmed,
    /// The session's token expired: log in again on the same binding.
    SessionExpired,
    /// The binding was logged out.
    LoggedOut(LogoutReason),
    /// The binding ended without a logout.
    Failed(FailReason),
}

impl BindingState {
    /// The state a new binding starts in.
    pub const INITIAL: BindingState = BindingState::Bound;

    /// Every state, with one representative reason for the terminal ones.
    pub fn all() -> Vec<BindingState> {
        use BindingState::*;
        let mut all = vec![
            Bound,
            OtpRequested,
            OtpVerification,
            OtpVerified,
            TokenLoginFetched,
            Transacting,
        ];
        all.extend(LogoutReason::ALL.iter().map(|r| LoggedOut(*r)));
        all.extend(FailReason::ALL.iter().map(|r| Failed(*r)));
        all
    }

    /// Logged in: `token_login` is valid as far as we know.
    pub fn is_logged_in(&self) -> bool {
        matches!(
            self,
            BindingState::OtpVerified | BindingState::TokenLoginFetched | BindingState::Transacting
        )
    }

    /// Waiting for the operator or the SMS forwarder to deliver the login OTP.
    pub fn waits_for_otp(&self) -> bool {
        matches!(self, BindingState::OtpVerification)
    }

    /// The reason stored beside the state, for the terminal states.
    pub fn end_reason(&self) -> Option<&'static str> {
        match self {
            BindingState::LoggedOut(r) => Some(r.name()),
            BindingState::Failed(r) => Some(r.name()),
            _ => None,
        }
    }

    /// Rebuilds a state from its stored name and reason.
    pub fn from_stored(state: &str, reason: Option<&str>) -> Result<Self, UnknownState> {
        use BindingState::*;
        let missing = || UnknownState {
            machine: "binding",
            value: format!("{state} without a reason"),
        };
        Ok(match state {
            "BOUND" => Bound,
            "OTP_REQUESTED" => OtpRequested,
            "OTP_VERIFICATION" => OtpVerification,
            "OTP_VERIFIED" => OtpVerified,
            "TOKEN_LOGIN_FETCHED" => TokenLoginFetched,
            "TRANSACTING" => Transacting,
            "LOGGED_OUT" => LoggedOut(reason.ok_or_else(missing)?.parse()?),
            "FAILED" => Failed(reason.ok_or_else(missing)?.parse()?),
            other => {
                return Err(UnknownState {
                    machine: "binding",
                    value: other.to_owned(),
                });
            }
        })
    }
}

impl StateMachine for BindingState {
    type Event = BindingEvent;
    const MACHINE: &'static str = "binding";

    fn apply(&self, event: &BindingEvent) -> Result<Self, IllegalTransition> {
        use BindingEvent as E;
        use BindingState as S;
        let next = match (*self, *event) {
            (S::LoggedOut(_) | S::Failed(_), _) => return Err(self.refuse(event)),
            (S::Bound, E::OtpRequestSent) => S::OtpRequested,
            (S::OtpRequested, E::OtpRequestAcknowledged) => S::OtpVerification,
            (S::OtpVerification, E::OtpRejected) => S::OtpRequested,
            (S::OtpVerification, E::OtpAccepted) => S::OtpVerified,
            (S::OtpVerified, E::LoginTokensFetched) => S::TokenLoginFetched,
            (S::TokenLoginFetched, E::ResellerConfirmed) => S::Transacting,
            (s, E::SessionExpired) if s.is_logged_in() => S::Bound,
            (s, E::LoggedOut(reason)) if s.is_logged_in() => S::LoggedOut(reason),
            (_, E::Failed(reason)) => S::Failed(reason),
            _ => return Err(self.refuse(event)),
        };
        Ok(next)
    }

    fn is_terminal(&self) -> bool {
        matches!(self, BindingState::LoggedOut(_) | BindingState::Failed(_))
    }

    fn as_str(&self) -> &'static str {
        match self {
            BindingState::Bound => "BOUND",
            BindingState::OtpRequested => "OTP_REQUESTED",
            BindingState::OtpVerification => "OTP_VERIFICATION",
            BindingState::OtpVerified => "OTP_VERIFIED",
            BindingState::TokenLoginFetched => "TOKEN_LOGIN_FETCHED",
            BindingState::Transacting => "TRANSACTING",
            BindingState::LoggedOut(_) => "LOGGED_OUT",
            BindingState::Failed(_) => "FAILED",
        }
    }
}

impl std::fmt::Display for BindingState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.end_reason() {
            Some(reason) => write!(f, "{} ({reason})", self.as_str()),
            None => f.write_str(self.as_str()),
        }
    }
}

impl BindingEvent {
    /// Every event, with every reason, for exhaustive tests.
    pub fn all() -> Vec<BindingEvent> {
        use BindingEvent::*;
        let mut all = vec![
            OtpRequestSent,
            OtpRequestAcknowledged,
            OtpRejected,
            OtpAccepted,
            LoginTokensFetched,
            ResellerConfirmed,
            SessionExpired,
        ];
        all.extend(LogoutReason::ALL.iter().map(|r| LoggedOut(*r)));
        all.extend(FailReason::ALL.iter().map(|r| Failed(*r)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::check_every_pair;
    use BindingEvent as E;
    use BindingState as S;

    /// The legal moves, written out by hand: the specification the transition function must meet.
    fn legal(state: S, event: E) -> Option<S> {
        let logged_in = [S::OtpVerified, S::TokenLoginFetched, S::Transacting];
        match (state, event) {
            (S::Bound, E::OtpRequestSent) => Some(S::OtpRequested),
            (S::OtpRequested, E::OtpRequestAcknowledged) => Some(S::OtpVerification),
            (S::OtpVerification, E::OtpRejected) => Some(S::OtpRequested),
            (S::OtpVerification, E::OtpAccepted) => Some(S::OtpVerified),
            (S::OtpVerified, E::LoginTokensFetched) => Some(S::TokenLoginFetched),
            (S::TokenLoginFetched, E::ResellerConfirmed) => Some(S::Transacting),
            (s, E::SessionExpired) if logged_in.contains(&s) => Some(S::Bound),
            (s, E::LoggedOut(r)) if logged_in.contains(&s) => Some(S::LoggedOut(r)),
            (S::LoggedOut(_) | S::Failed(_), _) => None,
            (_, E::Failed(r)) => Some(S::Failed(r)),
            _ => None,
        }
    }

    #[test]
    fn every_state_event_pair_matches_the_table() {
        let allowed = check_every_pair(&S::all(), &E::all(), |state, event| legal(*state, *event));
        // 6 happy-path moves, 3 logged-in states × (1 expiry + 4 logouts), 6 live states × 7 fails.
        assert_eq!(allowed, 6 + 3 * 5 + 6 * 7);
    }

    #[test]
    fn the_owner_path_reaches_logged_out() {
        let path = [
            E::OtpRequestSent,
            E::OtpRequestAcknowledged,
            E::OtpAccepted,
            E::LoginTokensFetched,
            E::ResellerConfirmed,
            E::LoggedOut(LogoutReason::Exhausted),
        ];
        let names: Vec<&str> = path
            .iter()
            .scan(S::INITIAL, |s, e| {
                *s = s.apply(e).unwrap();
                Some(s.as_str())
            })
            .collect();
        assert_eq!(
            names,
            [
                "OTP_REQUESTED",
                "OTP_VERIFICATION",
                "OTP_VERIFIED",
                "TOKEN_LOGIN_FETCHED",
                "TRANSACTING",
                "LOGGED_OUT"
            ]
        );
    }

    #[test]
    fn every_state_round_trips_through_storage() {
        for state in S::all() {
            let back = S::from_stored(state.as_str(), state.end_reason()).unwrap();
            assert_eq!(back, state);
        }
        assert!(S::from_stored("LOGGED_OUT", None).is_err());
        assert!(S::from_stored("FAILED", Some("NOPE")).is_err());
        assert!(S::from_stored("bound", None).is_err());
    }

    #[test]
    fn display_names_the_reason() {
        assert_eq!(
            S::Failed(FailReason::OtpTimeout).to_string(),
            "FAILED (OTP_TIMEOUT)"
        );
        assert_eq!(S::Bound.to_string(), "BOUND");
    }
}

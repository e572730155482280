//! An account is one imported number with its email and PIN. The pool leases it to one server
//! at a time and settles it when its binding ends.

use crate::machine::{IllegalTransition, StateMachine, stable_names};

/// The state of an account in the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountState {
    /// In the pool, ready to be leased.
    Available,
    /// Leased to exactly one server.
    Leased,
    /// Pulsa used up; terminal.
    Done,
    /// Not a reseller; terminal.
    NonReseller,
    /// Blocked by the telco; never retried; terminal.
    Blocked,
    /// Login failed `max_attempts` times; terminal.
    Failed,
}

stable_names!(AccountState, "account", {
    Available => "AVAILABLE",
    Leased => "LEASED",
    Done => "DONE",
    NonReseller => "NON_RESELLER",
    Blocked => "BLOCKED",
    Failed => "FAILED",
});

/// What happened to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountEvent {
    /// The pool handed it to a server.
    Leased,
    /// Its pulsa is exhausted.
    Exhausted,
    /// Its product list was refused.
    NotReseller,
    /// The telco blocked it.
    Blocked,
    /// Its login failed; `attempts` counts this failure. Back to the pool while
    /// `attempts < max_attempts`, failed for good after.
    LoginFailed { attempts: u32, max_attempts: u32 },
    /// Handed back through no fault of the number (shutdown, server faulted, stale lease).
    Released,
}

impl StateMachine for AccountState {
    type Event = AccountEvent;
    const MACHINE: &'static str = "account";

    fn apply(&self, event: &AccountEvent) -> Result<Self, IllegalTransition> {
        use AccountEvent as E;
        use AccountState as S;
        Ok(match (*self, *event) {
            (S::Available, E::Leased) => S::Leased,
            (S::Leased, E::Exhausted) => S::Done,
            (S::Leased, E::NotReseller) => S::NonReseller,
            (S::Leased, E::Blocked) => S::Blocked,
            (
                S::Leased,
                E::LoginFailed {
                    attempts,
                    max_attempts,
                },
            ) if attempts < max_attempts => S::Available,
            (S::Leased, E::LoginFailed { .. }) => S::Failed,
            (S::Leased, E::Released) => S::Available,
            _ => return Err(self.refuse(event)),
        })
    }

    fn is_terminal(&self) -> bool {
        matches!(
            self,
            AccountState::Done
                | AccountState::NonReseller
                | AccountState::Blocked
                | AccountState::Failed
        )
    }

    fn as_str(&self) -> &'static str {
        self.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::check_every_pair;
    use AccountEvent as E;
    use AccountState as S;

    fn events() -> Vec<E> {
        vec![
            E::Leased,
            E::Exhausted,
            E::NotReseller,
            E::Blocked,
            E::LoginFailed {
                attempts: 1,
                max_attempts: 3,
            },
            E::LoginFailed {
                attempts: 3,
                max_attempts: 3,
            },
            E::Released,
        ]
    }

    fn legal(state: S, event: E) -> Option<S> {
        match (state, event) {
            (S::Available, E::Leased) => Some(S::Leased),
            (S::Leased, E::Exhausted) => Some(S::Done),
            (S::Leased, E::NotReseller) => Some(S::NonReseller),
            (S::Leased, E::Blocked) => Some(S::Blocked),
            (S::Leased, E::LoginFailed { attempts: 1, .. }) => Some(S::Available),
            (S::Leased, E::LoginFailed { attempts: 3, .. }) => Some(S::Failed),
            (S::Leased, E::Released) => Some(S::Available),
            _ => None,
        }
    }

    #[test]
    fn every_state_event_pair_matches_the_table() {
        check_every_pair(S::ALL, &events(), |state, event| legal(*state, *event));
    }

    #[test]
    fn every_state_round_trips() {
        for state in S::ALL {
            assert_eq!(state.name().parse::<S>().unwrap(), *state);
            assert_eq!(state.as_str(), state.to_string());
        }
        assert!("available".parse::<S>().is_err());
    }
}

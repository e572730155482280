//! What every state machine of the domain has in common, so that persistence and the runtime
//! can store, parse and move any of them the same way.

use std::fmt;

/// A move that the state machine does not allow from the current state.
///
/// Carries the stable names of the state and the event so the message reads like the audit log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{machine}: event {event} is not allowed in state {state}")]
pub struct IllegalTransition {
    pub machine: &'static str,
    pub state: String,
    pub event: String,
}

/// A stored state string that names no state of the machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{machine}: unknown state {value:?}")]
pub struct UnknownState {
    pub machine: &'static str,
    pub value: String,
}

/// A typed state machine: one transition function, stable names, and terminal states.
pub trait StateMachine: Sized + Clone + PartialEq + fmt::Debug {
    type Event: Clone + fmt::Debug;

    /// The machine's name in messages (`binding`, `account`, …).
    const MACHINE: &'static str;

    /// The one transition function: the next state, or a typed refusal.
    fn apply(&self, event: &Self::Event) -> Result<Self, IllegalTransition>;

    /// No event leaves a terminal state.
    fn is_terminal(&self) -> bool;

    /// The stable uppercase name stored in the database.
    fn as_str(&self) -> &'static str;

    /// Builds the refusal for `event` in this state.
    fn refuse(&self, event: &Self::Event) -> IllegalTransition {
        IllegalTransition {
            machine: Self::MACHINE,
            state: self.as_str().to_owned(),
            event: format!("{event:?}"),
        }
    }
}

/// Checks a machine against its rules, for its tests: every state × event pair moves where
/// `legal` says, and every other pair is refused naming the machine and the state. Returns how
/// many pairs were allowed.
#[cfg(test)]
pub(crate) fn check_every_pair<S: StateMachine>(
    states: &[S],
    events: &[S::Event],
    legal: impl Fn(&S, &S::Event) -> Option<S>,
) -> usize {
    let mut allowed = 0;
    for state in states {
        for event in events {
            let got = state.apply(event);
            match legal(state, event) {
                Some(want) => {
                    allowed += 1;
                    assert_eq!(got, Ok(want), "{state:?} + {event:?}");
                }
                None => {
                    let err = got.expect_err("must be refused");
                    assert_eq!(err.state, state.as_str(), "{state:?} + {event:?}");
                    assert_eq!(err.machine, S::MACHINE, "{state:?} + {event:?}");
                }
            }
        }
    }
    allowed
}

/// [`check_every_pair`] for a machine written as a table of `(state, event, next)` moves: every
/// move in the table is allowed and nothing else is.
#[cfg(test)]
pub(crate) fn check_table<S: StateMachine>(
    states: &[S],
    events: &[S::Event],
    table: &[(S, S::Event, S)],
) where
    S::Event: PartialEq,
{
    let allowed = check_every_pair(states, events, |state, event| {
        table
            .iter()
            .find(|(s, e, _)| s == state && e == event)
            .map(|(_, _, next)| next.clone())
    });
    assert_eq!(
        allowed,
        table.len(),
        "every move in the table is a legal one, once"
    );
}

/// Implements `Display`, `FromStr` and serde as the stable name for a fieldless state enum.
macro_rules! stable_names {
    ($ty:ident, $machine:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every state, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The stable uppercase name stored in the database.
            pub const fn name(&self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::machine::UnknownState;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    other => Err($crate::machine::UnknownState {
                        machine: $machine,
                        value: other.to_owned(),
                    }),
                }
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use stable_names;

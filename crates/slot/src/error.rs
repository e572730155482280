//! One error type for every slot call, shaped by what the runtime must decide: the telco said no
//! (and why), the network failed (and whether the request may have got through), the server
//! answered something unreadable, or — for a purchase — nobody knows whether money moved.
//!
//! Messages name the call, never its query string: the query holds the PIN or the OTP. The raw
//! body is kept on the error for the audit but never printed.

use std::fmt;

use crate::Call;
use crate::types::RawBody;

pub type SlotResult<T> = Result<T, SlotError>;

/// A slot call that did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{call}{}: {kind}", RequestIdSuffix(.request_id.as_deref()))]
pub struct SlotError {
    pub call: Call,
    pub kind: SlotErrorKind,
    /// The body of the answer, when there was one (even a partial one).
    pub raw: Option<RawBody>,
    /// The `X-Request-Id` the call was sent with, when it was sent.
    pub request_id: Option<String>,
}

struct RequestIdSuffix<'a>(Option<&'a str>);

impl fmt::Display for RequestIdSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, " (request {id})"),
            None => Ok(()),
        }
    }
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotErrorKind {
    /// The telco answered with a status other than success.
    #[error("the telco refused ({reason}, status {status:?}): {message}")]
    Refused {
        status: String,
        message: String,
        reason: RefusalReason,
    },
    /// No usable answer arrived.
    #[error("{kind}; {}{}", reached_text(*.may_have_reached), detail_text(.detail))]
    Transport {
        kind: TransportKind,
        /// `false` only when the request certainly never reached the server (the connection
        /// was never made); a timeout or a cut connection may come after the server acted.
        may_have_reached: bool,
        /// What the network stack said, without the URL.
        detail: String,
    },
    /// The server answered, but not in a shape the contract allows.
    #[error("the answer is unusable: {what}")]
    Protocol { what: ProtocolProblem },
    /// `/trx_idv` only: the request may have reached the server and no answer came back, so
    /// the voucher may have been bought. The runtime must reconcile (read the balance) and
    /// never resend blindly.
    #[error(
        "outcome unknown: {cause} after the purchase may have reached the server{}; reconcile before anything else",
        detail_text(.detail)
    )]
    OutcomeUnknown {
        cause: TransportKind,
        detail: String,
    },
}

fn reached_text(may_have_reached: bool) -> &'static str {
    if may_have_reached {
        "the request may have reached the server"
    } else {
        "the request did not reach the server"
    }
}

fn detail_text(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

/// Why the telco refused, read from its message with the rules in the parsing module (see
/// [`RefusalReason::from_message`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    /// The OTP was wrong or expired: ask for a new one.
    WrongOtp,
    /// The number is blocked: never retry it.
    Blocked,
    /// The number may not buy vouchers.
    NotReseller,
    /// Not enough pulsa for the purchase.
    InsufficientPulsa,
    /// The login session is over: log in again.
    TokenExpired,
    /// The server still holds another number's session: log that number out first.
    ServerBusy,
    /// A message no rule knows; the raw body has the rest.
    Other,
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefusalReason::WrongOtp => "wrong OTP",
            RefusalReason::Blocked => "number blocked",
            RefusalReason::NotReseller => "not a reseller",
            RefusalReason::InsufficientPulsa => "insufficient pulsa",
            RefusalReason::TokenExpired => "session expired",
            RefusalReason::ServerBusy => "server in use by another number",
            RefusalReason::Other => "other refusal",
        })
    }
}

/// How the network failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// Nobody listens on the server's port.
    ConnectRefused,
    /// The connection broke (reset, or closed before the answer was complete).
    Reset,
    /// No complete answer within the server's timeout.
    TimedOut,
    /// Anything else (DNS, TLS, …); the detail says what.
    Other,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::ConnectRefused => "connection refused",
            TransportKind::Reset => "connection reset",
            TransportKind::TimedOut => "timed out",
            TransportKind::Other => "transport failure",
        })
    }
}

/// How an answer broke the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolProblem {
    /// An HTTP status other than 2xx, without a telco refusal in the body.
    #[error("unexpected HTTP status {http_status}")]
    UnexpectedStatus { http_status: u16 },
    #[error("the body is empty")]
    Empty,
    #[error("the body is an HTML page")]
    Html,
    /// JSON that ends before it is complete.
    #[error("the JSON is truncated")]
    Truncated,
    /// Not JSON, or JSON that is not an object; the detail never quotes the body.
    #[error("the body is not a JSON object ({detail})")]
    NotJson { detail: String },
    /// A field the call needs is absent.
    #[error("{field} is missing")]
    MissingField { field: &'static str },
    /// A field is present but cannot be read as what it should be.
    #[error("{field} cannot be read")]
    BadValue { field: &'static str },
    /// The body went on past the size limit.
    #[error("the body is longer than {limit} bytes")]
    TooLarge { limit: usize },
}

impl SlotError {
    pub fn new(call: Call, kind: SlotErrorKind) -> Self {
        Self {
            call,
            kind,
            raw: None,
            request_id: None,
        }
    }

    /// A refusal, its reason classified from the message (and `status_msg`).
    pub fn refused(call: Call, status: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let reason = RefusalReason::from_message(&message);
        Self::new(
            call,
            SlotErrorKind::Refused {
                status: status.into(),
                message,
                reason,
            },
        )
    }

    pub fn transport(
        call: Call,
        kind: TransportKind,
        may_have_reached: bool,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(
            call,
            SlotErrorKind::Transport {
                kind,
                may_have_reached,
                detail: detail.into(),
            },
        )
    }

    pub fn protocol(call: Call, what: ProtocolProblem) -> Self {
        Self::new(call, SlotErrorKind::Protocol { what })
    }

    pub fn with_raw(mut self, raw: Option<RawBody>) -> Self {
        self.raw = raw;
        self
    }

    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// The body of the answer, when there was one.
    pub fn raw_body(&self) -> Option<&str> {
        self.raw.as_ref().map(RawBody::as_str)
    }

    /// The refusal's reason, when the telco refused.
    pub fn refusal_reason(&self) -> Option<RefusalReason> {
        match self.kind {
            SlotErrorKind::Refused { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// Whether the call may have had its effect despite the error. For `/trx_idv` this is the
    /// question that matters: `true` means the voucher may have been bought (reconcile), `false`
    /// means the pulsa is untouched (a refusal, or a connection that was never made).
    pub fn may_have_taken_effect(&self) -> bool {
        match &self.kind {
            SlotErrorKind::Refused { .. } => false,
            SlotErrorKind::Transport {
                may_have_reached, ..
            } => *may_have_reached,
            // The server answered; what it did is unreadable.
            SlotErrorKind::Protocol { .. } | SlotErrorKind::OutcomeUnknown { .. } => true,
        }
    }

    /// Turns a transport failure that may have reached the server into "outcome unknown": what
    /// a lost answer means for a call that must never be repeated.
    pub(crate) fn into_outcome_unknown(self) -> Self {
        match self.kind {
            SlotErrorKind::Transport {
                kind,
                may_have_reached: true,
                detail,
            } => Self {
                kind: SlotErrorKind::OutcomeUnknown {
                    cause: kind,
                    detail,
                },
                ..self
            },
            _ => self,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_call_and_the_request() {
        let err = SlotError::refused(Call::VerifyOtp, "1", "Kode OTP salah")
            .with_request_id("r-1")
            .with_raw(Some(RawBody::new(r#"{"res":{"status":"1"}}"#)));
        assert_eq!(
            err.to_string(),
            "/verifyOtp (request r-1): the telco refused (wrong OTP, status \"1\"): Kode OTP salah"
        );
        assert_eq!(err.refusal_reason(), Some(RefusalReason::WrongOtp));
        assert_eq!(err.raw_body(), Some(r#"{"res":{"status":"1"}}"#));
    }

    #[test]
    fn transport_messages_say_whether_the_request_got_through() {
        let never = SlotError::transport(
            Call::Balance,
            TransportKind::ConnectRefused,
            false,
            "tcp connect error",
        );
        assert_eq!(
            never.to_string(),
            "/balance_pulsa: connection refused; the request did not reach the server (tcp connect error)"
        );
        assert!(!never.may_have_taken_effect());
        let maybe = SlotError::transport(Call::Balance, TransportKind::TimedOut, true, "");
        assert_eq!(
            maybe.to_string(),
            "/balance_pulsa: timed out; the request may have reached the server"
        );
    }

    #[test]
    fn only_a_transport_failure_that_may_have_reached_becomes_outcome_unknown() {
        let lost = SlotError::transport(Call::Buy, TransportKind::Reset, true, "reset")
            .into_outcome_unknown();
        assert_eq!(
            lost.kind,
            SlotErrorKind::OutcomeUnknown {
                cause: TransportKind::Reset,
                detail: "reset".into()
            }
        );
        assert!(lost.may_have_taken_effect());
        assert!(lost.to_string().contains("reconcile"), "{lost}");

        let never =
            SlotError::transport(Call::Buy, TransportKind::ConnectRefused, false, "refused");
        assert_eq!(never.clone().into_outcome_unknown(), never);
        let refused = SlotError::refused(Call::Buy, "3", "Pulsa tidak cukup");
        assert_eq!(refused.clone().into_outcome_unknown(), refused);
        assert!(!refused.may_have_taken_effect());
    }
}

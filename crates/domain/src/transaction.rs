//! A transaction is one purchase of a voucher with pulsa. Its status is the operator's audit:
//! a suspect one is money that may be gone without a voucher, kept with the evidence.

use crate::machine::{IllegalTransition, StateMachine, stable_names};

/// The status of a transaction. Stored with the earlier system's names so the operator's
/// existing reports still read: `PROCESSING`, `SUKSES`, `SUSPECT`, `GAGAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrxStatus {
    /// The intent is written (and `trx_idv` maybe sent); not final.
    Processing,
    /// The voucher was received; terminal.
    Success,
    /// Money may be gone without a voucher seen (answer lost, no voucher, deadline passed).
    Suspect,
    /// The telco refused, or the balance proves it never executed; pulsa unchanged; terminal.
    Failed,
}

stable_names!(TrxStatus, "transaction", {
    Processing => "PROCESSING",
    Success => "SUKSES",
    Suspect => "SUSPECT",
    Failed => "GAGAL",
});

/// What happened to a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrxEvent {
    /// A status answer with `is_success == 2` and a voucher.
    VoucherReceived,
    /// A status answer with `is_success == 2` but no voucher.
    CompletedWithoutVoucher,
    /// The telco refused the purchase.
    Refused,
    /// The status never became final before the deadline.
    DeadlineExpired,
    /// The answer to `trx_idv` was lost and the balance dropped by the price: it executed.
    AnswerLostBalanceDropped,
    /// The answer to `trx_idv` was lost (or never sent) and the balance is unchanged.
    NotExecuted,
}

impl TrxEvent {
    pub const ALL: &'static [TrxEvent] = &[
        TrxEvent::VoucherReceived,
        TrxEvent::CompletedWithoutVoucher,
        TrxEvent::Refused,
        TrxEvent::DeadlineExpired,
        TrxEvent::AnswerLostBalanceDropped,
        TrxEvent::NotExecuted,
    ];
}

impl StateMachine for TrxStatus {
    type Event = TrxEvent;
    const MACHINE: &'static str = "transaction";

    fn apply(&self, event: &TrxEvent) -> Result<Self, IllegalTransition> {
        use TrxEvent as E;
        use TrxStatus as S;
        Ok(match (*self, *event) {
            (S::Processing | S::Suspect, E::VoucherReceived) => S::Success,
            (
                S::Processing,
                E::CompletedWithoutVoucher | E::DeadlineExpired | E::AnswerLostBalanceDropped,
            ) => S::Suspect,
            (S::Processing, E::Refused | E::NotExecuted) => S::Failed,
            _ => return Err(self.refuse(event)),
        })
    }

    fn is_terminal(&self) -> bool {
        matches!(self, TrxStatus::Success | TrxStatus::Failed)
    }

    fn as_str(&self) -> &'static str {
        self.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::check_table;
    use TrxEvent as E;
    use TrxStatus as S;

    const TABLE: &[(S, E, S)] = &[
        (S::Processing, E::VoucherReceived, S::Success),
        (S::Processing, E::CompletedWithoutVoucher, S::Suspect),
        (S::Processing, E::Refused, S::Failed),
        (S::Processing, E::DeadlineExpired, S::Suspect),
        (S::Processing, E::AnswerLostBalanceDropped, S::Suspect),
        (S::Processing, E::NotExecuted, S::Failed),
        (S::Suspect, E::VoucherReceived, S::Success),
    ];

    #[test]
    fn every_state_event_pair_matches_the_table() {
        check_table(S::ALL, E::ALL, TABLE);
    }

    #[test]
    fn stored_names_are_the_earlier_systems() {
        let names: Vec<_> = S::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["PROCESSING", "SUKSES", "SUSPECT", "GAGAL"]);
        for state in S::ALL {
            assert_eq!(state.name().parse::<S>().unwrap(), *state);
            let json = serde_json::to_string(state).unwrap();
            assert_eq!(serde_json::from_str::<S>(&json).unwrap(), *state);
        }
    }
}

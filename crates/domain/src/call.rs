//! The nine calls of the slot API, named once: the client calls them, the simulator answers
//! them, the metrics and the kept answers are labelled by them. One enum, so a call has one name
//! everywhere (its path, as the contract and the operator know it).

use std::fmt;

/// The nine calls of the slot API, in the contract's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// `/otp`: ask the telco to send the login OTP by SMS.
    RequestOtp,
    /// `/verifyOtp`: trade the login OTP for `token_login`.
    VerifyOtp,
    /// `/balance_pulsa`: the pulsa and the card's dates.
    Balance,
    /// `/token_location3`: the location token, as plain text.
    TokenLocation,
    /// `/list_idv`: the products a reseller may buy, and the server's `device_id`.
    ListProducts,
    /// `/trx_idv`: buy a voucher. Has no idempotency key: never repeated by the client.
    Buy,
    /// `/otp_idv`: the OTP of the first transaction on a new device.
    TransactionOtp,
    /// `/status_idv`: how a transaction is going.
    TrxStatus,
    /// `/logout`.
    Logout,
}

impl Call {
    pub const ALL: &'static [Call] = &[
        Call::RequestOtp,
        Call::VerifyOtp,
        Call::Balance,
        Call::TokenLocation,
        Call::ListProducts,
        Call::Buy,
        Call::TransactionOtp,
        Call::TrxStatus,
        Call::Logout,
    ];

    /// The call named by its path, with or without the slash, in any case (`otp`, `/verifyOtp`,
    /// `balance_pulsa`, `TRX_IDV`).
    pub fn from_name(name: &str) -> Option<Call> {
        let name = name.trim().trim_start_matches('/');
        Call::ALL
            .iter()
            .copied()
            .find(|c| c.path()[1..].eq_ignore_ascii_case(name))
    }

    /// The call at exactly this path (as a server routes it: case and slash matter).
    pub fn from_path(path: &str) -> Option<Call> {
        Call::ALL.iter().copied().find(|c| c.path() == path)
    }

    /// The path without its slash: the name of its fixtures and of `simrotor probe`'s CALL.
    pub fn name(self) -> &'static str {
        self.path().trim_start_matches('/')
    }

    /// The path on the server, as the contract names it.
    pub const fn path(self) -> &'static str {
        match self {
            Call::RequestOtp => "/otp",
            Call::VerifyOtp => "/verifyOtp",
            Call::Balance => "/balance_pulsa",
            Call::TokenLocation => "/token_location3",
            Call::ListProducts => "/list_idv",
            Call::Buy => "/trx_idv",
            Call::TransactionOtp => "/otp_idv",
            Call::TrxStatus => "/status_idv",
            Call::Logout => "/logout",
        }
    }
}

/// The path: the name the operator knows the call by.
impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

#[cfg(test)]
mod tests {
    use super::Call;

    #[test]
    fn every_call_is_found_by_its_name_and_path() {
        for &call in Call::ALL {
            assert_eq!(Call::from_name(call.name()), Some(call));
            assert_eq!(Call::from_name(call.path()), Some(call));
            assert_eq!(Call::from_name(&call.name().to_uppercase()), Some(call));
        }
        assert_eq!(Call::from_name("/nope"), None);
        assert_eq!(Call::from_path("/trx_idv"), Some(Call::Buy));
        assert_eq!(Call::from_path("trx_idv"), None);
        assert_eq!(Call::from_path("/TRX_IDV"), None);
        assert_eq!(Call::ALL.len(), 9);
    }

    #[test]
    fn every_call_has_its_contract_path() {
        let paths: Vec<_> = Call::ALL.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            paths,
            [
                "/otp",
                "/verifyOtp",
                "/balance_pulsa",
                "/token_location3",
                "/list_idv",
                "/trx_idv",
                "/otp_idv",
                "/status_idv",
                "/logout"
            ]
        );
    }
}

//! Test numbers: the `n`th of a prefix, so that each suite has its own and a simulated profile
//! (derived from the number) stays the same from run to run.

use simrotor_domain::Msisdn;

/// The `n`th test number, `0812` and eight digits.
pub fn number(n: u32) -> Msisdn {
    number_with_prefix("0812", n)
}

/// The `n`th number of `prefix` (local form, `08…`): `prefix` and eight digits.
pub fn number_with_prefix(prefix: &str, n: u32) -> Msisdn {
    Msisdn::parse(&format!("{prefix}{n:08}"))
        .unwrap_or_else(|e| panic!("{prefix}{n:08} is no test number: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_stored_in_their_international_form() {
        assert_eq!(number(7).as_str(), "6281200000007");
        assert_eq!(number_with_prefix("0857", 12).local(), "085700000012");
    }
}

//! Indonesian mobile numbers, parsed once at the edge and trusted everywhere after.

use std::fmt;
use std::str::FromStr;

/// An Indonesian mobile number, stored normalised as `628…`.
///
/// Accepted input: `08…`, `+62…`, `62…` (and `8…` is *not* accepted: too easy to confuse with a
/// truncated number). Spaces, dashes, dots and parentheses are ignored.
///
/// Length rule: the national significant number (what follows `62`) starts with `8` and has
/// 9 to 12 digits, the range Indonesian operators issue (`0812-345-678` … `0812-3456-78901`).
/// So the stored form has 11 to 14 digits and the local form `08…` 10 to 13.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Msisdn(String);

/// Why a string is not an Indonesian mobile number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsisdnError {
    #[error("the number is empty")]
    Empty,
    #[error("the number has a character that is not a digit: {0:?}")]
    NotDigits(char),
    #[error("not an Indonesian mobile number: it must start with 08, +628 or 628")]
    NotIndonesianMobile,
    #[error("too short: {digits} digits after 62, at least {min} expected")]
    TooShort { digits: usize, min: usize },
    #[error("too long: {digits} digits after 62, at most {max} expected")]
    TooLong { digits: usize, max: usize },
}

impl Msisdn {
    /// Fewest digits after the country code `62`.
    pub const MIN_NATIONAL_DIGITS: usize = 9;
    /// Most digits after the country code `62`.
    pub const MAX_NATIONAL_DIGITS: usize = 12;

    /// Parses any accepted form into the normalised number.
    pub fn parse(input: &str) -> Result<Self, MsisdnError> {
        let trimmed = input.trim();
        let (plus, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                other => return Err(MsisdnError::NotDigits(other)),
            }
        }
        if digits.is_empty() {
            return Err(MsisdnError::Empty);
        }
        let national = if let Some(n) = digits.strip_prefix("62") {
            n
        } else if let (false, Some(n)) = (plus, digits.strip_prefix('0')) {
            n
        } else {
            return Err(MsisdnError::NotIndonesianMobile);
        };
        if !national.starts_with('8') {
            return Err(MsisdnError::NotIndonesianMobile);
        }
        match national.len() {
            n if n < Self::MIN_NATIONAL_DIGITS => Err(MsisdnError::TooShort {
                digits: n,
                min: Self::MIN_NATIONAL_DIGITS,
            }),
            n if n > Self::MAX_NATIONAL_DIGITS => Err(MsisdnError::TooLong {
                digits: n,
                max: Self::MAX_NATIONAL_DIGITS,
            }),
            _ => Ok(Self(format!("62{national}"))),
        }
    }

    /// The stored, international form: `628…`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The local form the servers expect as `username`: `08…`.
    pub fn local(&self) -> String {
        format!("0{}", &self.0[2..])
    }
}

impl FromStr for Msisdn {
    type Err = MsisdnError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Compared with its stored text (`62…` for a number), as the tables and the tests write it.
impl PartialEq<&str> for Msisdn {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Msisdn({})", self.0)
    }
}

impl serde::Serialize for Msisdn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Msisdn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_form_normalises_to_62() {
        for input in [
            "081234567890",
            "+6281234567890",
            "6281234567890",
            "0812-3456-7890",
            "0812 3456 7890",
            "+62 812.3456.7890",
            " (0812) 3456-7890 ",
        ] {
            let m = Msisdn::parse(input).unwrap();
            assert_eq!(m.as_str(), "6281234567890", "{input}");
            assert_eq!(m.local(), "081234567890", "{input}");
        }
    }

    #[test]
    fn length_bounds_are_inclusive() {
        assert_eq!(Msisdn::parse("0812345678").unwrap().as_str(), "62812345678");
        assert_eq!(
            Msisdn::parse("0812345678901").unwrap().as_str(),
            "62812345678901"
        );
        assert_eq!(
            Msisdn::parse("081234567"),
            Err(MsisdnError::TooShort { digits: 8, min: 9 })
        );
        assert_eq!(
            Msisdn::parse("08123456789012"),
            Err(MsisdnError::TooLong {
                digits: 13,
                max: 12
            })
        );
    }

    #[test]
    fn rejects_with_a_reason() {
        assert_eq!(Msisdn::parse(""), Err(MsisdnError::Empty));
        assert_eq!(Msisdn::parse("  - "), Err(MsisdnError::Empty));
        assert_eq!(
            Msisdn::parse("0812x4567890"),
            Err(MsisdnError::NotDigits('x'))
        );
        assert_eq!(
            Msisdn::parse("+0812345678"),
            Err(MsisdnError::NotIndonesianMobile)
        );
        assert_eq!(
            Msisdn::parse("0212345678"),
            Err(MsisdnError::NotIndonesianMobile)
        );
        assert_eq!(
            Msisdn::parse("6221234567"),
            Err(MsisdnError::NotIndonesianMobile)
        );
        assert_eq!(
            Msisdn::parse("+6581234567"),
            Err(MsisdnError::NotIndonesianMobile)
        );
        assert_eq!(
            Msisdn::parse("81234567890"),
            Err(MsisdnError::NotIndonesianMobile)
        );
        assert!(
            Msisdn::parse("0812x")
                .unwrap_err()
                .to_string()
                .contains("not a digit")
        );
    }

    #[test]
    fn serde_uses_the_stored_form_and_validates() {
        let m: Msisdn = serde_json::from_str("\"0812-3456-7890\"").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"6281234567890\"");
        assert!(serde_json::from_str::<Msisdn>("\"12\"").is_err());
    }
}

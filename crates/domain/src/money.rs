//! Money: whole rupiah, integers only. No float ever holds a balance or a price.

use std::fmt;
use std::iter::Sum;
use std::ops::Add;
use std::str::FromStr;

/// An amount of pulsa or a price, in whole rupiah; never negative.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rupiah(u64);

/// Why a value is not an amount of rupiah.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RupiahError {
    #[error("an amount of rupiah cannot be negative: {0}")]
    Negative(i64),
    #[error("not an amount of rupiah: {0:?}")]
    NotAnAmount(String),
    #[error("amount too large: {0:?}")]
    TooLarge(String),
}

impl Rupiah {
    pub const ZERO: Rupiah = Rupiah(0);

    pub const fn new(amount: u64) -> Self {
        Self(amount)
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    /// The amount as the signed integer the database stores. Amounts above `i64::MAX` cannot be
    /// built from the database or from text, so this never wraps for a stored value.
    pub fn as_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }

    /// From a stored signed integer; a negative value is corrupt data, not money.
    pub fn from_i64(amount: i64) -> Result<Self, RupiahError> {
        u64::try_from(amount)
            .map(Self)
            .map_err(|_| RupiahError::Negative(amount))
    }

    pub fn checked_sub(self, other: Rupiah) -> Option<Rupiah> {
        self.0.checked_sub(other.0).map(Rupiah)
    }

    pub fn saturating_sub(self, other: Rupiah) -> Rupiah {
        Rupiah(self.0.saturating_sub(other.0))
    }

    /// Reads an amount as telcos write it: `5604`, `"Rp 50.000"`, `"Rp50,000"`, `"50.000,00"`.
    ///
    /// Dots and commas are thousands separators, except a final group of exactly two digits after
    /// a comma, which is a zero cent part (`,00`); non-zero cents are refused, since pulsa is
    /// whole rupiah and guessing would be worse than failing.
    pub fn parse_lenient(input: &str) -> Result<Self, RupiahError> {
        let bad = || RupiahError::NotAnAmount(input.to_owned());
        let mut s = input.trim();
        for prefix in ["Rp.", "Rp", "IDR", "rp"] {
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest.trim_start();
                break;
            }
        }
        if let Some((whole, cents)) = s.rsplit_once(',')
            && cents.len() == 2
            && cents.chars().all(|c| c.is_ascii_digit())
            && whole.contains('.')
        {
            if cents != "00" {
                return Err(bad());
            }
            s = whole;
        }
        let mut digits = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '0'..='9' => digits.push(c),
                '.' | ',' | ' ' | '_' => {}
                _ => return Err(bad()),
            }
        }
        if digits.is_empty() {
            return Err(bad());
        }
        let value: u64 = digits
            .parse()
            .map_err(|_| RupiahError::TooLarge(input.to_owned()))?;
        if i64::try_from(value).is_err() {
            return Err(RupiahError::TooLarge(input.to_owned()));
        }
        Ok(Self(value))
    }
}

impl Add for Rupiah {
    type Output = Rupiah;
    fn add(self, rhs: Rupiah) -> Rupiah {
        Rupiah(self.0.saturating_add(rhs.0))
    }
}

impl Sum for Rupiah {
    fn sum<I: Iterator<Item = Rupiah>>(iter: I) -> Rupiah {
        iter.fold(Rupiah::ZERO, Add::add)
    }
}

impl FromStr for Rupiah {
    type Err = RupiahError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_lenient(s)
    }
}

/// `Rp 50.000`, the way the operator reads money.
impl fmt::Display for Rupiah {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 3);
        out.push_str("Rp ");
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push('.');
            }
            out.push(c);
        }
        f.write_str(&out)
    }
}

impl fmt::Debug for Rupiah {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rupiah({})", self.0)
    }
}

impl serde::Serialize for Rupiah {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Rupiah {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw<'a> {
            Int(i64),
            #[serde(borrow)]
            Text(std::borrow::Cow<'a, str>),
        }
        match Raw::deserialize(d)? {
            Raw::Int(i) => Rupiah::from_i64(i).map_err(serde::de::Error::custom),
            Raw::Text(t) => Rupiah::parse_lenient(&t).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_shapes_telcos_send() {
        for (input, want) in [
            ("5604", 5604),
            (" 5604 ", 5604),
            ("Rp 50.000", 50_000),
            ("Rp50.000", 50_000),
            ("Rp. 1.250.000", 1_250_000),
            ("50,000", 50_000),
            ("IDR 10.000,00", 10_000),
            ("0", 0),
        ] {
            assert_eq!(
                Rupiah::parse_lenient(input),
                Ok(Rupiah::new(want)),
                "{input}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_money() {
        for input in ["", "Rp", "-5", "5.5e3", "abc", "10.000,50"] {
            assert!(Rupiah::parse_lenient(input).is_err(), "{input}");
        }
        assert!(matches!(
            Rupiah::parse_lenient("99999999999999999999999"),
            Err(RupiahError::TooLarge(_))
        ));
        assert_eq!(Rupiah::from_i64(-1), Err(RupiahError::Negative(-1)));
    }

    #[test]
    fn displays_with_thousands_dots() {
        assert_eq!(Rupiah::new(0).to_string(), "Rp 0");
        assert_eq!(Rupiah::new(999).to_string(), "Rp 999");
        assert_eq!(Rupiah::new(5_604).to_string(), "Rp 5.604");
        assert_eq!(Rupiah::new(1_250_000).to_string(), "Rp 1.250.000");
    }

    #[test]
    fn arithmetic_never_goes_negative() {
        assert_eq!(Rupiah::new(5).checked_sub(Rupiah::new(6)), None);
        assert_eq!(Rupiah::new(5).saturating_sub(Rupiah::new(6)), Rupiah::ZERO);
        let total: Rupiah = [1, 2, 3].into_iter().map(Rupiah::new).sum();
        assert_eq!(total, Rupiah::new(6));
    }

    #[test]
    fn serde_accepts_numbers_and_strings() {
        assert_eq!(
            serde_json::from_str::<Rupiah>("5604").unwrap(),
            Rupiah::new(5604)
        );
        assert_eq!(
            serde_json::from_str::<Rupiah>("\"Rp 5.604\"").unwrap(),
            Rupiah::new(5604)
        );
        assert!(serde_json::from_str::<Rupiah>("-1").is_err());
        assert!(serde_json::from_str::<Rupiah>("5.5").is_err());
    }
}

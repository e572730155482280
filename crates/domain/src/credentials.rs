//! The email and PIN that come with an account. The PIN is a secret: it can be used, never shown.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// The email address vouchers are delivered to. Trimmed; checked for one `@`, a non-empty local
/// part and a dotted domain, no whitespace, at most 254 characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the email is empty")]
    Empty,
    #[error("the email has no @")]
    NoAt,
    #[error("the email has more than one @")]
    SeveralAt,
    #[error("the email has whitespace in it")]
    Whitespace,
    #[error("the email has nothing before the @")]
    EmptyLocalPart,
    #[error("the email's domain {0:?} is not a domain name")]
    BadDomain(String),
    #[error("the email is longer than 254 characters")]
    TooLong,
}

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.len() > 254 {
            return Err(EmailError::TooLong);
        }
        if s.chars().any(char::is_whitespace) {
            return Err(EmailError::Whitespace);
        }
        let (local, domain) = s.split_once('@').ok_or(EmailError::NoAt)?;
        if domain.contains('@') {
            return Err(EmailError::SeveralAt);
        }
        if local.is_empty() {
            return Err(EmailError::EmptyLocalPart);
        }
        let labels_ok = domain.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if !domain.contains('.') || !labels_ok {
            return Err(EmailError::BadDomain(domain.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Written as its text, as the store and the listings show it.
impl serde::Serialize for Email {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Compared with its stored text (`62…` for a number), as the tables and the tests write it.
impl PartialEq<&str> for Email {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

/// The account's PIN for `/otp`: 4 to 8 digits. `Debug` and `Display` never show it; use
/// [`Pin::expose`] only where it is sent or stored.
#[derive(Clone)]
pub struct Pin(SecretString);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("the PIN is empty")]
    Empty,
    #[error("the PIN must be digits only")]
    NotDigits,
    #[error("the PIN must have 4 to 8 digits, it has {0}")]
    BadLength(usize),
}

impl Pin {
    pub fn parse(input: &str) -> Result<Self, PinError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(PinError::Empty);
        }
        // Never echo the value: an error message is a log line.
        if !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(PinError::NotDigits);
        }
        if !(4..=8).contains(&s.len()) {
            return Err(PinError::BadLength(s.len()));
        }
        Ok(Self(SecretString::from(s.to_owned())))
    }

    /// The PIN in clear, for the `/otp` call and the database only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for Pin {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}
impl Eq for Pin {}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(****)")
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_accepts_ordinary_addresses() {
        for ok in [
            "a@b.co",
            " user.name+tag@mail.example.id ",
            "x@sub-domain.example.com",
        ] {
            assert_eq!(Email::parse(ok).unwrap().as_str(), ok.trim());
        }
    }

    #[test]
    fn email_rejects_with_a_reason() {
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
        assert_eq!(Email::parse("user.example.com"), Err(EmailError::NoAt));
        assert_eq!(Email::parse("a@b@c.com"), Err(EmailError::SeveralAt));
        assert_eq!(Email::parse("a b@c.com"), Err(EmailError::Whitespace));
        assert_eq!(Email::parse("@c.com"), Err(EmailError::EmptyLocalPart));
        assert_eq!(
            Email::parse("a@localhost"),
            Err(EmailError::BadDomain("localhost".into()))
        );
        assert_eq!(
            Email::parse("a@b..com"),
            Err(EmailError::BadDomain("b..com".into()))
        );
        assert_eq!(
            Email::parse(&format!("{}@b.com", "a".repeat(260))),
            Err(EmailError::TooLong)
        );
    }

    #[test]
    fn pin_is_digits_and_never_printed() {
        let pin = Pin::parse(" 123456 ").unwrap();
        assert_eq!(pin.expose(), "123456");
        assert_eq!(format!("{pin:?}"), "Pin(****)");
        assert_eq!(pin.to_string(), "****");
        assert_eq!(Pin::parse("").unwrap_err(), PinError::Empty);
        assert_eq!(Pin::parse("12a4").unwrap_err(), PinError::NotDigits);
        assert_eq!(Pin::parse("123").unwrap_err(), PinError::BadLength(3));
        assert_eq!(Pin::parse("123456789").unwrap_err(), PinError::BadLength(9));
        let err = Pin::parse("98x765").unwrap_err().to_string();
        assert!(!err.contains("98x765"), "{err}");
    }
}

/// A text that may carry a code (an SMS, an OTP message), as a `Debug` print may show it: its
/// shape, every digit masked.
pub fn mask_digits(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_digit() { '*' } else { c })
        .collect()
}

#[cfg(test)]
mod masking_tests {
    #[test]
    fn every_digit_is_masked_and_nothing_else() {
        assert_eq!(
            super::mask_digits("Kode OTP 4821, Rp 10.000"),
            "Kode OTP ****, Rp **.***"
        );
    }
}

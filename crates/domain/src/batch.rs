//! A batch names one import of numbers; recaps and leases can be limited to one.

use std::fmt;

/// A batch id: 1 to 64 characters of letters, digits, `.`, `_` and `-`, so it is safe in file
/// names, URLs and log filters alike.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchIdError {
    #[error("the batch id is empty")]
    Empty,
    #[error("the batch id is longer than 64 characters")]
    TooLong,
    #[error("the batch id may only hold letters, digits, '.', '_' and '-', not {0:?}")]
    BadChar(char),
}

impl BatchId {
    pub fn parse(input: &str) -> Result<Self, BatchIdError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(BatchIdError::Empty);
        }
        if s.chars().count() > 64 {
            return Err(BatchIdError::TooLong);
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(BatchIdError::BadChar(c));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for BatchId {
    type Err = BatchIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Written as its text, as the store and the listings show it.
impl serde::Serialize for BatchId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Compared with its stored text (`62…` for a number), as the tables and the tests write it.
impl PartialEq<&str> for BatchId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BatchId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_safe_names_and_rejects_others() {
        assert_eq!(
            BatchId::parse(" 2026-11_b1.a ").unwrap().as_str(),
            "2026-11_b1.a"
        );
        assert_eq!(BatchId::parse(""), Err(BatchIdError::Empty));
        assert_eq!(BatchId::parse("a/b"), Err(BatchIdError::BadChar('/')));
        assert_eq!(BatchId::parse(&"x".repeat(65)), Err(BatchIdError::TooLong));
    }
}

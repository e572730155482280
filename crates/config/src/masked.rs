//! Secrets in the configuration: usable by the program, printed as `****` by `config check`.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use simrotor_domain::Pin;

/// A PIN from the configuration. Deserialises through [`Pin::parse`]; serialises masked.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigPin(pub Pin);

impl fmt::Debug for ConfigPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Serialize for ConfigPin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("****")
    }
}

impl<'de> Deserialize<'de> for ConfigPin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u64),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Text(t) => t,
            Raw::Number(n) => n.to_string(),
        };
        Pin::parse(&text)
            .map(ConfigPin)
            .map_err(serde::de::Error::custom)
    }
}

/// A database URL: the password never prints.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(SecretString::from(url.into()))
    }

    /// The URL in clear, for connecting only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL with any password replaced by `****`.
    pub fn masked(&self) -> String {
        mask_password(self.expose())
    }

    pub fn is_sqlite(&self) -> bool {
        self.expose().starts_with("sqlite:")
    }
}

impl PartialEq for DatabaseUrl {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.masked())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // `config check` and `Serialized::defaults` both go through here. Defaults carry no
        // password, so masking here loses nothing and keeps every printed form safe.
        s.serialize_str(&self.masked())
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(DatabaseUrl::new)
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:****@host/db`.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:****@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_password("postgres://simrotor:hunter2@db:5432/simrotor"),
            "postgres://simrotor:****@db:5432/simrotor"
        );
        assert_eq!(mask_password("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(
            mask_password("sqlite://data/x.db?mode=rwc"),
            "sqlite://data/x.db?mode=rwc"
        );
        let url = DatabaseUrl::new("postgres://a:b@c/d");
        assert!(!format!("{url:?} {url}").contains(":b@"));
    }
}

/// The admin API's bearer token: usable by the program, never printed.
#[derive(Clone)]
pub struct AdminToken(SecretString);

impl AdminToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(SecretString::from(token.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for AdminToken {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(****)")
    }
}

impl Serialize for AdminToken {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("****")
    }
}

impl<'de> Deserialize<'de> for AdminToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let token = secret_text(
            d,
            "the admin token must be a string of at least 16 characters",
        )?;
        if token.trim().len() < 16 {
            return Err(serde::de::Error::custom(
                "the admin token must be at least 16 characters (use a random one, e.g. `openssl rand -hex 24`)",
            ));
        }
        Ok(AdminToken::new(token.trim()))
    }
}

/// A secret's text from the configuration, whatever shape it came in: an all-digit secret
/// arrives as a number (from TOML or the environment), and serde's own type error would quote
/// it, so every shape is taken and the value never echoed (`other` is the error for the rest).
fn secret_text<'de, D: Deserializer<'de>>(d: D, other: &'static str) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Number(u64),
        Other(serde::de::IgnoredAny),
    }
    match Raw::deserialize(d)? {
        Raw::Text(t) => Ok(t),
        Raw::Number(n) => Ok(n.to_string()),
        Raw::Other(_) => Err(serde::de::Error::custom(other)),
    }
}

/// A forwarder app's secret (`[sms.<app>] secret`): usable by the intake, never printed.
#[derive(Clone)]
pub struct ForwarderSecret(SecretString);

impl ForwarderSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(SecretString::from(secret.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for ForwarderSecret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl fmt::Debug for ForwarderSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ForwarderSecret(****)")
    }
}

impl Serialize for ForwarderSecret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("****")
    }
}

impl<'de> Deserialize<'de> for ForwarderSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        secret_text(d, "a forwarder secret must be a string").map(Self::new)
    }
}

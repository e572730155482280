//! The secrets that cross the slot API: the OTPs the operator or the SMS forwarder hands in, and
//! the tokens the servers hand out. Each is its own type so that it can be sent and stored but
//! never printed by accident: `Debug` shows `****`, there is no `Display`, and the clear text is
//! only reachable through `expose()`, which is easy to find in a review.

use std::fmt;

use std::sync::LazyLock;

use regex::{Captures, Regex};
use secrecy::{ExposeSecret, SecretString};

macro_rules! secret_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a value received from the operator, an SMS or a server.
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }

            /// The value in clear: for the query string of a call and for the database only.
            pub fn expose(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.expose() == other.expose()
            }
        }

        impl Eq for $name {}

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(****)"))
            }
        }
    };
}

secret_newtype!(
    /// A one-time password that came by SMS: for `/verifyOtp` (login) or `/otp_idv` (the first
    /// transaction on a new device).
    Otp
);

secret_newtype!(
    /// The `token_login` a server hands out when the login OTP is verified.
    TokenLogin
);

secret_newtype!(
    /// The `token_location` from `/token_location3`, a plain-text body.
    TokenLocation
);

/// Whether a key names a secret wherever it stands in an answer (the servers echo the query,
/// PIN and OTP included, in `req`): any `…token…` or `…password…`, and `otp`, `pin` or a key
/// ending in `_otp`/`_pin`.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("token")
        || key.contains("password")
        || ["otp", "pin"]
            .iter()
            .any(|s| key == *s || key.ends_with(&format!("_{s}")))
}

/// An answer's body with its secrets masked, its shape kept: the whole value of a secret key
/// (a string, a number or a whole object), any `eyJ…` run (a JWT), and the whole body of
/// `/token_location3` (the token itself) become `****`. A body that is not JSON (cut short, an
/// HTML page) is masked by its text: `"otp": "…"`, `pin=…` and JWT runs. For keeping and
/// showing answers nobody could read.
pub fn mask_secrets(call: crate::Call, body: &str) -> String {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    if is_secret_key(key) && !v.is_null() && !v.is_boolean() {
                        *v = serde_json::Value::String(MASK.to_owned());
                    } else {
                        walk(v);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            serde_json::Value::String(s) if s.contains("eyJ") => *s = mask_jwt_runs(s),
            _ => {}
        }
    }
    if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(body.trim()) {
        walk(&mut value);
        return value.to_string();
    }
    if call == crate::Call::TokenLocation && !body.trim().is_empty() {
        return MASK.to_owned();
    }
    mask_text(&mask_jwt_runs(body))
}

/// `"key": "value"` (also cut short, without its closing quote) and `key=value` of secret keys,
/// in text that is not JSON.
fn mask_text(text: &str) -> String {
    static QUOTED: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r#"(?i)("([a-z_]*)"\s*:\s*)("[^"]*"?|-?[0-9][0-9.]*)"#).ok());
    static QUERY: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r#"(?i)\b([a-z_]+)=([^&\s"'<>]*)"#).ok());
    let mut out = text.to_owned();
    if let Some(re) = QUOTED.as_ref() {
        out = re
            .replace_all(&out, |c: &Captures<'_>| {
                if is_secret_key(&c[2]) {
                    format!("{}\"{MASK}\"", &c[1])
                } else {
                    c[0].to_owned()
                }
            })
            .into_owned();
    }
    if let Some(re) = QUERY.as_ref() {
        out = re
            .replace_all(&out, |c: &Captures<'_>| {
                if is_secret_key(&c[1]) {
                    format!("{}={MASK}", &c[1])
                } else {
                    c[0].to_owned()
                }
            })
            .into_owned();
    }
    out
}

/// Every run of token characters that starts with `eyJ` (a JWT's header), masked.
fn mask_jwt_runs(text: &str) -> String {
    let token_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("eyJ") {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let end = from.find(|c: char| !token_char(c)).unwrap_or(from.len());
        out.push_str(MASK);
        rest = &from[end..];
    }
    out.push_str(rest);
    out
}

const MASK: &str = "****";

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let otp = Otp::new("482913");
        let login = TokenLogin::new("eyJhbGciOi.secret");
        let location = TokenLocation::new("LOC-7781-secret");
        assert_eq!(format!("{otp:?}"), "Otp(****)");
        assert_eq!(format!("{login:?}"), "TokenLogin(****)");
        assert_eq!(format!("{location:?}"), "TokenLocation(****)");
        let nested = format!("{:?}", Some(vec![login.clone()]));
        assert!(!nested.contains("secret"), "{nested}");
    }

    #[test]
    fn expose_gives_the_value_back_and_equality_compares_it() {
        let otp = Otp::new("482913");
        assert_eq!(otp.expose(), "482913");
        assert_eq!(otp, Otp::new(String::from("482913")));
        assert_ne!(otp, Otp::new("482914"));
    }

    #[test]
    fn masking_keeps_the_shape_and_hides_the_secrets() {
        let body = r#"{"req":{"username":"0812","otp":"123456","pin":"1234"},"status":"0","data":{"status":"true","tokenid":"eyJhbGciOiJIUzUxMiJ9.e30.x"},"list":["eyJabcdefghijk"]}"#;
        let masked = super::mask_secrets(crate::Call::VerifyOtp, body);
        for secret in ["123456", "1234\"", "eyJ"] {
            assert!(!masked.contains(secret), "{masked}");
        }
        assert!(masked.contains(r#""username":"0812""#), "{masked}");
        assert!(masked.contains(r#""tokenid":"****""#), "{masked}");
        assert_eq!(
            super::mask_secrets(crate::Call::TokenLocation, "LOC-abc\n"),
            "****"
        );
        assert_eq!(
            super::mask_secrets(
                crate::Call::Balance,
                "<html>eyJhbGciOiJIUzUxMiJ9.e30.x</html>"
            ),
            "<html>****</html>"
        );
        assert_eq!(
            super::mask_secrets(crate::Call::Balance, "bad eyJhbGciOiJIUzUxMiJ9 x"),
            "bad **** x"
        );
        // Cut short: not JSON any more, the secrets still masked by their keys.
        let cut =
            r#"{"req":{"username":"0812","otp":"123456","pin": 4321},"res":{"access_token":"abc"#;
        let masked = super::mask_secrets(crate::Call::VerifyOtp, cut);
        for secret in ["123456", "4321", "abc"] {
            assert!(!masked.contains(secret), "{masked}");
        }
        assert!(masked.contains(r#""username":"0812""#), "{masked}");
        // A page that echoes the query.
        let page = "<p>GET /otp?username=0812&pin=975310&otp=111222 failed</p>";
        assert_eq!(
            super::mask_secrets(crate::Call::RequestOtp, page),
            "<p>GET /otp?username=0812&pin=****&otp=**** failed</p>"
        );
        // A secret held in an object is masked whole; harmless keys stay.
        let nested = r#"{"otp":{"code":"123456"},"shipping":"x","status":"0"}"#;
        assert_eq!(
            super::mask_secrets(crate::Call::TransactionOtp, nested),
            r#"{"otp":"****","shipping":"x","status":"0"}"#
        );
    }
}

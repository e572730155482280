//! The secrets that cross the slot API: the OTPs the operator or the SMS forwarder hands in, and
//! the tokens the servers hand out. Each is its own type so that it can be sent and stored but
//! never printed by accident: `Debug` shows `****`, there is no `Display`, and the clear text is
//! only reachable through `expose()`, which is easy to find in a review.

use std::fmt;

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
    LoginToken
);

secret_newtype!(
    /// The `token_location` from `/token_location3`, a plain-text body.
    LocationToken
);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let otp = Otp::new("482913");
        let login = LoginToken::new("eyJhbGciOi.secret");
        let location = LocationToken::new("LOC-7781-secret");
        assert_eq!(format!("{otp:?}"), "Otp(****)");
        assert_eq!(format!("{login:?}"), "LoginToken(****)");
        assert_eq!(format!("{location:?}"), "LocationToken(****)");
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
}

//! What the slot calls return: typed values the runtime can decide on, each delivered with the
//! raw answer it came from, because the operator's audit keeps every answer and a shape nobody
//! predicted must never be lost.

use std::fmt;

use simrotor_domain::Rupiah;

/// A successful call: the typed value, the raw answer it was read from, and the `X-Request-Id`
/// it was sent with.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<T> {
    pub value: T,
    pub raw: RawAnswer,
    pub request_id: String,
}

impl<T> Reply<T> {
    pub fn new(value: T, raw: RawAnswer, request_id: impl Into<String>) -> Self {
        Self {
            value,
            raw,
            request_id: request_id.into(),
        }
    }
}

/// An answer as the server sent it, for the audit. JSON for every call but the location token,
/// whose body is plain text.
///
/// `Debug` shows only the kind and size: the answer to `/verifyOtp` holds the login token and
/// the one to `/token_location3` is the location token.
#[derive(Clone, PartialEq)]
pub enum RawAnswer {
    Json(serde_json::Value),
    Text(String),
}

impl RawAnswer {
    /// The answer as text, the form it is stored in.
    pub fn to_text(&self) -> String {
        match self {
            RawAnswer::Json(value) => value.to_string(),
            RawAnswer::Text(text) => text.clone(),
        }
    }

    pub fn as_json(&self) -> Option<&serde_json::Value> {
        match self {
            RawAnswer::Json(value) => Some(value),
            RawAnswer::Text(_) => None,
        }
    }
}

impl fmt::Debug for RawAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawAnswer::Json(_) => write!(f, "RawAnswer::Json({} bytes)", self.to_text().len()),
            RawAnswer::Text(text) => write!(f, "RawAnswer::Text({} bytes)", text.len()),
        }
    }
}

/// The body of an answer that could not be used (a refusal, garbage, a cut-off answer), kept
/// with the error as evidence. `Debug` shows only its size, for the same reason as
/// [`RawAnswer`]; an error's message never includes it.
#[derive(Clone, PartialEq, Eq)]
pub struct RawBody(String);

impl RawBody {
    pub fn new(body: impl Into<String>) -> Self {
        Self(body.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for RawBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawBody({} bytes)", self.0.len())
    }
}

/// The acknowledgement of `/otp`, `/otp_idv` and `/logout`: the telco's `code` and `message`
/// when it sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ack {
    pub code: Option<String>,
    pub message: Option<String>,
}

/// The answer to `/balance_pulsa`. The card's dates are kept as the telco writes them
/// (`"02 Mar 2027"`, `"Berlaku hingga 02 Mar 27"`): they are shown to the operator, never
/// computed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub pulsa: Rupiah,
    pub card_active_until: Option<String>,
    pub grace_period_until: Option<String>,
    pub expires: Option<String>,
}

/// One product a reseller may buy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// What `/trx_idv` takes as `product_id`.
    pub id: String,
    pub name: Option<String>,
    /// `None` when the server did not say.
    pub price: Option<Rupiah>,
}

/// The answer to `/list_idv`. A number that is not a reseller is an expected outcome of the
/// reseller check, not a failure of the call, so it is a value here rather than an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductListing {
    Products {
        products: Vec<Product>,
        /// `res.data.identifier.device_id`, the server's device id, when present.
        device_id: Option<String>,
    },
    NotReseller {
        status: String,
        message: String,
        device_id: Option<String>,
    },
}

impl ProductListing {
    pub fn device_id(&self) -> Option<&str> {
        match self {
            ProductListing::Products { device_id, .. }
            | ProductListing::NotReseller { device_id, .. } => device_id.as_deref(),
        }
    }
}

/// The answer to `/trx_idv`: the purchase was accepted and can be followed with `/status_idv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrxAccepted {
    pub trx_id: String,
    pub t_id: Option<String>,
    /// `res.data.is_success` as sent with the acceptance, if it was.
    pub is_success: Option<i64>,
}

/// The answer to `/status_idv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrxProgress {
    /// Not final yet: poll again.
    Processing,
    /// `is_success == 2` with a voucher.
    Success { voucher: String },
    /// `is_success == 2` without a voucher: money may be gone, the transaction is suspect.
    CompletedWithoutVoucher,
    /// The telco said the transaction failed.
    Failed { status: String, message: String },
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn raw_answers_print_their_size_not_their_content() {
        let json = RawAnswer::Json(json!({"res": {"token_login": "tok-secret"}}));
        let text = RawAnswer::Text("loc-secret".into());
        let body = RawBody::new("<html>tok-secret</html>");
        for printed in [
            format!("{json:?}"),
            format!("{text:?}"),
            format!("{body:?}"),
        ] {
            assert!(!printed.contains("secret"), "{printed}");
            assert!(printed.contains("bytes"), "{printed}");
        }
        assert_eq!(text.to_text(), "loc-secret");
        assert_eq!(json.to_text(), r#"{"res":{"token_login":"tok-secret"}}"#);
        assert_eq!(body.as_str(), "<html>tok-secret</html>");
    }
}

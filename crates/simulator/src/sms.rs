//! The SMS the simulated telco "sends" to a number: kept for the operator to read (as if reading
//! the phone) and, when configured, posted to an SMS-forwarder URL the way a forwarder app posts
//! an incoming SMS, so a demo can log in without anyone typing a code.
//!
//! Forwarding is best effort: a short timeout, a failure logged, never in the way of the answer
//! to the caller (the post runs on its own task after the answer's state is settled).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use simrotor_domain::{Msisdn, mask_digits};
use tokio::sync::{mpsc, watch};

/// How long the forwarder waits for the receiving system.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(2);

/// One SMS as an SMS forwarder posts it, and as `GET /_sim/sms` lists it:
/// `{"msisdn": "6281234567890", "message": "Kode OTP Anda: 123456 …", "received_at":
/// "2026-11-24T08:00:00Z"}` (`msisdn` in the stored `62…` form; `received_at` RFC 3339, UTC,
/// whole seconds).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sms {
    pub msisdn: Msisdn,
    pub message: String,
    pub received_at: DateTime<Utc>,
}

/// The message carries a code: Debug shows its shape, never its digits.
impl fmt::Debug for Sms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sms")
            .field("msisdn", &self.msisdn)
            .field("message", &mask_digits(&self.message))
            .field("received_at", &self.received_at)
            .finish()
    }
}

/// Text of the login OTP SMS. The code is the only run of digits in it, so a forwarder pattern
/// such as `\b(\d{4,8})\b` finds it.
pub(crate) fn login_text(code: &str) -> String {
    format!(
        "Kode OTP Anda: {code} untuk masuk ke aplikasi. JANGAN BERIKAN kode ini kepada siapa pun."
    )
}

/// Text of the transaction OTP SMS (first purchase on a device new to the number).
pub(crate) fn transaction_text(code: &str) -> String {
    format!(
        "Kode OTP Anda: {code} untuk verifikasi transaksi di perangkat baru. JANGAN BERIKAN kode \
         ini kepada siapa pun."
    )
}

/// Posts each SMS from `inbox` to `url` until `shutdown` turns true.
pub(crate) async fn forward(
    client: reqwest::Client,
    url: String,
    mut inbox: mpsc::UnboundedReceiver<Sms>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            next = inbox.recv() => {
                let Some(sms) = next else { return };
                // One task per SMS: a slow receiver delays no other SMS.
                actix_rt::spawn(post(client.clone(), url.clone(), sms));
            }
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

async fn post(client: reqwest::Client, url: String, sms: Sms) {
    let sent = client
        .post(&url)
        .json(&sms)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status);
    match sent {
        Ok(_) => tracing::debug!(msisdn = %sms.msisdn, url, "The SMS forwarder delivered an SMS."),
        Err(err) => tracing::warn!(
            msisdn = %sms.msisdn,
            url,
            error = %err,
            "The SMS forwarder could not deliver an SMS; it stays readable at /_sim/sms."
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_payload_has_the_contract_shape_and_debug_hides_the_code() {
        let sms = Sms {
            msisdn: Msisdn::parse("081234567890").unwrap(),
            message: login_text("975310"),
            received_at: Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap(),
        };
        let json = serde_json::to_value(&sms).unwrap();
        assert_eq!(json["msisdn"], "6281234567890");
        assert_eq!(json["received_at"], "2026-11-24T08:00:00Z");
        assert!(
            json["message"]
                .as_str()
                .unwrap()
                .contains("Kode OTP Anda: 975310")
        );
        assert_eq!(json.as_object().unwrap().len(), 3);
        let shown = format!("{sms:?}");
        assert!(!shown.contains("975310"), "{shown}");
        assert!(shown.contains("Kode OTP Anda: ******"), "{shown}");
    }

    #[test]
    fn the_code_is_the_only_number_in_the_text() {
        for text in [login_text("0042"), transaction_text("98765432")] {
            let runs = text
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .count();
            assert_eq!(runs, 1, "{text}");
        }
    }
}

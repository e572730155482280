//! One decoder per app, from the request as it came into [`Decoded`].
//!
//! Each app's module reads what that app really sends (`contract/sms-forwarders.md`, and the
//! example request of each in `fixtures/`) and nothing more: which field is the text, which the
//! sender, the device, the slot or port, the receiving number (kept only when it reads as an
//! Indonesian mobile number: most apps send none or a placeholder), the time (only with a zone)
//! and the app's own message id (the key against its retries). Events that carry no incoming
//! SMS (delivery reports, sent, pings) decode to [`Decoded::Ignored`], so that the intake
//! acknowledges them and the app stops retrying.
//!
//! Errors name the app and the field, never a value: the text holds the code.

mod bogkonstantin;
mod capcom6;
mod dinstar;
mod ejoin;
pub(crate) mod fields;

pub use fields::phone_slot;
mod gammu;
mod httpsms;
mod ibnux;
mod kannel;
mod smsforwarder;
mod smssync;
mod textbee;

pub use smssync::smssync_reply;

use crate::{App, Decoded, Posted};

/// Why a request is not one the app sends. Names the app and the field; never echoes a value
/// (the text holds the code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body does not parse as JSON: where it stops, and the kind of problem.
    #[error("{app}: the body is not valid JSON ({problem} at line {line}, column {column})")]
    NotJson {
        app: App,
        line: usize,
        column: usize,
        problem: &'static str,
    },
    /// The body is not a URL-encoded form.
    #[error("{app}: the body is not a URL-encoded form")]
    NotForm { app: App },
    /// Bytes that should be text are not UTF-8.
    #[error("{app}: {what} is not UTF-8 text")]
    NotText { app: App, what: &'static str },
    /// A field the app always sends (the text, the event) is absent or empty.
    #[error("{app}: {field} is missing or empty")]
    Missing { app: App, field: String },
    /// A field has the wrong JSON type.
    #[error("{app}: {field} is {found}, {expected} expected")]
    WrongType {
        app: App,
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    /// A field has the right type but cannot be read (bad base64, not a number, …).
    #[error("{app}: {field} is not {expected}")]
    Invalid {
        app: App,
        field: String,
        expected: &'static str,
    },
}

/// The SMS (or the inventory) in a request `app` posted.
pub fn decode(app: App, posted: &Posted<'_>) -> Result<Decoded, DecodeError> {
    match app {
        App::SmsForwarder => smsforwarder::decode(posted),
        App::Capcom6 => capcom6::decode(posted),
        App::Bogkonstantin => bogkonstantin::decode(posted),
        App::Gammu => gammu::decode(posted),
        App::Kannel => kannel::decode(posted),
        App::Smssync => smssync::decode(posted),
        App::Ejoin => ejoin::decode(posted),
        App::Dinstar => dinstar::decode(posted),
        App::Httpsms => httpsms::decode(posted),
        App::Textbee => textbee::decode(posted),
        App::Ibnux => ibnux::decode(posted),
    }
}

/// The body an app requires in the reply, as `(content type, body)`; `None` for the apps that
/// take any 2xx (all but SMSSync). `accepted`: the request was taken (used, a duplicate, or
/// ignored on purpose); `false` when it was refused.
pub fn reply(app: App, accepted: bool) -> Option<(&'static str, String)> {
    match app {
        App::Smssync => Some(("application/json", smssync_reply(accepted).to_string())),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::fixture::{self, CODE, SENDER};
    use crate::{ForwardedSms, Method};

    /// The contract's SMS text, as every example carries it.
    pub(crate) const TEXT: &str = "Kode OTP Anda: 123456. JANGAN BERIKAN kode ini kepada siapapun.";

    /// The one SMS a request decodes to.
    pub(crate) fn one(app: App, posted: &Posted<'_>) -> ForwardedSms {
        match decode(app, posted).unwrap() {
            Decoded::Sms(mut list) if list.len() == 1 => list.remove(0),
            other => panic!("{app}: expected one SMS, got {other:?}"),
        }
    }

    /// The decode error of a request, checked not to show the code.
    pub(crate) fn error(app: App, posted: &Posted<'_>) -> String {
        let err = decode(app, posted).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains(CODE), "{text}");
        assert!(!format!("{err:?}").contains(CODE), "{err:?}");
        text
    }

    pub(crate) fn json_post(body: &str) -> Posted<'_> {
        Posted::new(Method::Post, "", body.as_bytes())
            .with_header("Content-Type", "application/json")
    }

    pub(crate) fn form_post(body: &str) -> Posted<'_> {
        Posted::new(Method::Post, "", body.as_bytes())
            .with_header("Content-Type", "application/x-www-form-urlencoded")
    }

    fn at(rfc3339: &str) -> Option<DateTime<Utc>> {
        Some(
            DateTime::parse_from_rfc3339(rfc3339)
                .unwrap()
                .with_timezone(&Utc),
        )
    }

    struct Expected {
        receiving: Option<&'static str>,
        device: Option<&'static str>,
        slot: Option<&'static str>,
        received_at: Option<DateTime<Utc>>,
        message_id: Option<&'static str>,
    }

    /// What each example request says, read by hand from its file.
    fn expected(name: &str) -> Expected {
        let e =
            |receiving, device, slot, received_at: Option<DateTime<Utc>>, message_id| Expected {
                receiving,
                device,
                slot,
                received_at,
                message_id,
            };
        let ours = Some(fixture::RECEIVING);
        match name {
            // `receivedStamp` 1795507200123 ms; no receiving number; `sim1`.
            "bogkonstantin-incoming-sms-to-url" => {
                e(None, None, Some("1"), at("2026-11-24T08:00:00.123Z"), None)
            }
            "capcom6-android-sms-gateway" => e(
                ours,
                Some("ffffffffceb0b1db0000018e937c815b"),
                Some("1"),
                at("2026-11-24T08:00:00Z"),
                Some("Ey6ECgOkVVFjz3CL48B8C"),
            ),
            // Gateway local time without a zone: left out.
            "dinstar-push-sms" => e(
                None,
                Some("xxxx-xxxx-xxxx-xxxx"),
                Some("1"),
                None,
                Some("1"),
            ),
            // ts 1795507198 (Unix s).
            "ejoin-skyline-recv-sms" => e(ours, None, Some("1A"), at("2026-11-24T07:59:58Z"), None),
            "gammu-smsd-runonreceive-shim" => e(
                ours,
                Some("6281200000001"),
                None,
                at("2026-11-24T08:00:00Z"),
                None,
            ),
            "httpsms" => e(
                ours,
                None,
                Some("1"),
                at("2026-11-24T08:00:00.123Z"),
                Some("7c9e6679-7425-40de-944b-e07fc1f90ae7"),
            ),
            // timestamp 1795507198000 ms; nothing names the SIM.
            "ibnux-android-sms-gateway" => e(None, None, None, at("2026-11-24T07:59:58Z"), None),
            "kannel-smsbox-get-url" => e(
                ours,
                Some("modem-6281200000001"),
                None,
                at("2026-11-24T07:59:58Z"),
                Some("9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b"),
            ),
            "kannel-smsbox-post-url" => e(
                ours,
                Some("modem-6281200000001"),
                None,
                at("2026-11-24T07:59:58Z"),
                None,
            ),
            // The date line in `content` has no zone; `timestamp` is the send time.
            "pppscn-smsforwarder-default-form" => e(ours, Some("HP-01"), Some("1"), None, None),
            "pppscn-smsforwarder-json-template" => e(
                ours,
                Some("HP-01"),
                Some("1"),
                at("2026-11-24T08:00:00Z"),
                None,
            ),
            "textbee" => e(
                None,
                Some("6742e0aa11bb22cc33dd44ee"),
                None,
                at("2026-11-24T08:00:00Z"),
                Some("6742f0c1a9b8c7d6e5f40123"),
            ),
            // sent_timestamp 1795507198000 ms.
            "ushahidi-smssync" => e(
                ours,
                Some("HP-01"),
                None,
                at("2026-11-24T07:59:58Z"),
                Some("c7a1e2b3-4d5f-4a6b-9c8d-0e1f2a3b4c5d"),
            ),
            other => panic!("no expectation written for {other}"),
        }
    }

    #[test]
    fn every_example_request_decodes_to_the_sms_it_carries() {
        let mut seen = 0;
        for example in fixture::all() {
            let Some(app) = fixture::app_of(example.name) else {
                continue;
            };
            if example.name == "capcom6-android-sms-gateway-app-started" {
                continue;
            }
            seen += 1;
            let sms = one(app, &example.posted());
            let want = expected(example.name);
            let name = example.name;
            assert_eq!(sms.intake, crate::Intake::App(app), "{name}");
            assert_eq!(sms.text.expose(), TEXT, "{name}");
            assert_eq!(sms.sender.as_deref(), Some(SENDER), "{name}");
            assert_eq!(
                sms.receiving.as_ref().map(|m| m.as_str()),
                want.receiving,
                "{name}"
            );
            assert_eq!(sms.device.as_deref(), want.device, "{name}");
            assert_eq!(sms.slot.as_deref(), want.slot, "{name}");
            assert_eq!(sms.received_at, want.received_at, "{name}");
            assert_eq!(sms.message_id.as_deref(), want.message_id, "{name}");
        }
        assert_eq!(seen, 13);
    }

    #[test]
    fn every_app_refuses_a_body_that_is_not_its_shape_without_echoing_it() {
        let junk = "Kode OTP Anda: 123456";
        // Kannel's post-url body is the text itself: any text is its shape.
        for app in App::ALL.into_iter().filter(|a| *a != App::Kannel) {
            let posted = Posted::new(Method::Post, "", junk.as_bytes());
            let text = error(app, &posted);
            assert!(text.starts_with(&format!("{app}: ")), "{text}");
        }
    }

    #[test]
    fn only_smssync_needs_a_reply_body() {
        assert_eq!(
            reply(App::Smssync, true),
            Some((
                "application/json",
                r#"{"payload":{"error":null,"success":true}}"#.to_owned()
            ))
        );
        for app in App::ALL.into_iter().filter(|a| *a != App::Smssync) {
            assert_eq!(reply(app, true), None, "{app}");
        }
    }
}

//! Ushahidi SMSSync: a form `secret, from, message, sent_timestamp (ms), sent_to, message_id,
//! device_id`. `sent_to` is the phone's own number for the default SIM only, often empty. Unlike
//! the other apps, SMSSync does not take any 2xx: it needs [`smssync_reply`] as the body, else it
//! counts the SMS as not delivered.

use serde_json::{Value, json};

use super::DecodeError;
use super::fields::{self, Record, Unit};
use crate::{App, Decoded, ForwardedSms, Intake, Posted, SmsText};

const APP: App = App::Smssync;

pub(super) fn decode(posted: &Posted<'_>) -> Result<Decoded, DecodeError> {
    let form = Record::form(APP, fields::form_text(APP, posted)?)?;
    let text = form.text(&["message"])?;
    Ok(Decoded::Sms(vec![ForwardedSms {
        intake: Intake::App(APP),
        receiving: fields::receiving(form.string("sent_to")?.as_deref()),
        device: form.string("device_id")?,
        slot: None,
        sender: form.string("from")?,
        text: SmsText::new(text),
        received_at: form.stamp("sent_timestamp", Unit::Millis)?,
        message_id: form.string("message_id")?,
    }]))
}

/// The reply SMSSync requires: `{"payload":{"success":true,"error":null}}` when the SMS was
/// taken; with `success: false` it keeps the SMS and tries again later.
pub fn smssync_reply(success: bool) -> Value {
    json!({
        "payload": {
            "success": success,
            "error": if success { Value::Null } else { Value::from("not accepted") },
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decode::tests::{error, form_post, one};

    #[test]
    fn the_reply_is_the_one_smssync_reads() {
        assert_eq!(
            smssync_reply(true),
            serde_json::from_str::<Value>(r#"{"payload":{"success":true,"error":null}}"#).unwrap()
        );
        assert_eq!(smssync_reply(false)["payload"]["success"], false);
    }

    #[test]
    fn an_empty_sent_to_is_no_receiving_number() {
        let sms = one(
            APP,
            &form_post(
                "secret=s&from=%2B6281200000099&message=kode%204321&sent_to=&device_id=HP-02",
            ),
        );
        assert_eq!(sms.receiving, None);
        assert_eq!(sms.device.as_deref(), Some("HP-02"));
        assert_eq!(sms.message_id, None);
        assert_eq!(sms.received_at, None);
    }

    #[test]
    fn broken_requests_name_the_field() {
        assert_eq!(
            error(APP, &form_post("secret=s&from=%2B6281200000099&sent_to=")),
            "smssync: message is missing or empty"
        );
    }
}

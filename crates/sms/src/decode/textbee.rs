//! textbee, a cloud relay for an Android phone: JSON `{smsId, message, deviceId, sender,
//! receivedAt, idempotencyKey, webhookEvent, …}`. No receiving number, no slot: the device
//! only. `smsId` (else `idempotencyKey`) is the key against retries. Events other than
//! `MESSAGE_RECEIVED` are ignored.

use super::DecodeError;
use super::fields::{self, Record};
use crate::{App, Decoded, ForwardedSms, Intake, Posted, SmsText};

const APP: App = App::Textbee;

pub(super) fn decode(posted: &Posted<'_>) -> Result<Decoded, DecodeError> {
    let value = fields::json(APP, posted.body)?;
    let body = Record::body(APP, &value)?;
    if let Some(event) = body.string("webhookEvent")?
        && event.trim() != "MESSAGE_RECEIVED"
    {
        return Ok(Decoded::Ignored {
            why: "a textbee event other than an incoming SMS",
        });
    }
    let text = body.text(&["message"])?;
    Ok(Decoded::Sms(vec![ForwardedSms {
        intake: Intake::App(APP),
        receiving: None,
        device: body.scalar("deviceId")?,
        slot: None,
        sender: body.scalar("sender")?,
        text: SmsText::new(text),
        received_at: body.string("receivedAt")?.and_then(|t| fields::zoned(&t)),
        message_id: body.first_scalar(&["smsId", "idempotencyKey"])?,
    }]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decode::decode;
    use crate::decode::tests::{error, json_post, one};

    #[test]
    fn other_events_are_ignored_and_the_idempotency_key_stands_in() {
        let body = r#"{"message":"kode 4321","webhookEvent":"MESSAGE_SENT","smsId":"s1"}"#;
        assert!(matches!(
            decode(APP, &json_post(body)).unwrap(),
            Decoded::Ignored { .. }
        ));
        let body = r#"{"message":"kode 4321","idempotencyKey":"k1","deviceId":"d1"}"#;
        assert_eq!(one(APP, &json_post(body)).message_id.as_deref(), Some("k1"));
    }

    #[test]
    fn broken_requests_name_the_field() {
        assert_eq!(
            error(
                APP,
                &json_post(r#"{"smsId":"s1","webhookEvent":"MESSAGE_RECEIVED"}"#)
            ),
            "textbee: message is missing or empty"
        );
        assert_eq!(
            error(
                APP,
                &json_post(r#"{"message":123456,"webhookEvent":"MESSAGE_RECEIVED"}"#)
            ),
            "textbee: message is a number, a string expected"
        );
    }
}

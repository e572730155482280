//! bogkonstantin's "Incoming SMS to URL forwarder": a JSON template the user may edit, by
//! default `{from, text, sentStamp, receivedStamp, sim}` with the stamps as bare numbers (ms)
//! and `sim` as `sim1`/`sim2`/`undetected`. It sends no receiving number; its maintainer's
//! advice is one forwarding rule per slot with the number written into the template, so a
//! `to`/`recipient`/`phone` field holding one is taken. Extra fields are ignored. The app
//! sends chunked; the HTTP layer hands over the de-chunked bytes.

use super::DecodeError;
use super::fields::{self, Record, Unit};
use crate::{App, Decoded, ForwardedSms, Intake, Posted, SmsText};

const APP: App = App::Bogkonstantin;

pub(super) fn decode(posted: &Posted<'_>) -> Result<Decoded, DecodeError> {
    let value = fields::json(APP, posted.body)?;
    let body = Record::body(APP, &value)?;
    let text = body.text(&["text", "message", "content"])?;
    let received_at = match body.stamp("receivedStamp", Unit::Millis)? {
        Some(at) => Some(at),
        None => body.stamp("sentStamp", Unit::Millis)?,
    };
    Ok(Decoded::Sms(vec![ForwardedSms {
        intake: Intake::App(APP),
        receiving: fields::receiving(body.first_scalar(&["to", "recipient", "phone"])?.as_deref()),
        device: body.first_scalar(&["device", "deviceId"])?,
        slot: fields::phone_slot(body.scalar("sim")?.as_deref()),
        sender: body.first_scalar(&["from", "sender"])?,
        text: SmsText::new(text),
        received_at,
        message_id: None,
    }]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::decode::tests::{error, json_post, one};

    #[test]
    fn an_edited_template_gives_slot_number_and_string_stamps() {
        let body = r#"{"from":"+6281200000099","text":"kode 4321","sentStamp":"1795507198000","receivedStamp":"1795507200000","sim":"sim2","to":"081200000002","rule":"SIM2 Telkomsel"}"#;
        let sms = one(APP, &json_post(body));
        assert_eq!(sms.slot.as_deref(), Some("2"));
        assert_eq!(sms.receiving.unwrap(), "6281200000002");
        assert_eq!(sms.received_at, DateTime::from_timestamp(1_795_507_200, 0));
    }

    #[test]
    fn an_undetected_slot_and_a_placeholder_number_are_absent() {
        let body = r#"{"from":"+6281200000099","text":"kode 4321","sentStamp":1795507198000,"sim":"undetected","to":"%to%"}"#;
        let sms = one(APP, &json_post(body));
        assert_eq!(sms.slot, None);
        assert_eq!(sms.receiving, None);
        // No receivedStamp: the sent stamp stands in.
        assert_eq!(sms.received_at, DateTime::from_timestamp(1_795_507_198, 0));
    }

    #[test]
    fn broken_requests_name_the_field() {
        assert_eq!(
            error(APP, &json_post(r#"{"from":"+6281200000099","sim":"sim1"}"#)),
            "bogkonstantin: text / message / content is missing or empty"
        );
        assert_eq!(
            error(
                APP,
                &json_post(r#"{"text":"Kode 123456","receivedStamp":{"ms":1}}"#)
            ),
            "bogkonstantin: receivedStamp is an object, a number or a time expected"
        );
        assert_eq!(
            error(APP, &json_post(r#"["Kode 123456"]"#)),
            "bogkonstantin: the body is an array, an object expected"
        );
    }
}

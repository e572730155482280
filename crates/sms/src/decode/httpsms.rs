//! httpSMS, a cloud relay for an Android phone: CloudEvents `{id, type, data: {owner, contact,
//! content, sim, timestamp}}`. `message.phone.received` is an incoming SMS; `owner` is the
//! phone number the user typed in per SIM (reliable), `contact` the sender, `sim` `SIM1`/`SIM2`.
//! The event `id` is the key against retries. Other events (sent, delivered, failed, expired,
//! heartbeats) are ignored.

use super::DecodeError;
use super::fields::{self, Record};
use crate::{App, Decoded, ForwardedSms, Intake, Posted, SmsText};

const APP: App = App::Httpsms;

const RECEIVED: &str = "message.phone.received";

pub(super) fn decode(posted: &Posted<'_>) -> Result<Decoded, DecodeError> {
    let value = fields::json(APP, posted.body)?;
    let body = Record::body(APP, &value)?;
    let kind = match body.string("type")? {
        Some(kind) => kind,
        None => posted
            .header("X-Event-Type")
            .map(str::to_owned)
            .ok_or_else(|| body.missing("type"))?,
    };
    if kind.trim() != RECEIVED {
        return Ok(Decoded::Ignored {
            why: "an httpSMS event other than an incoming SMS",
        });
    }
    let data = body.required_object("data")?;
    let text = data.text(&["content"])?;
    Ok(Decoded::Sms(vec![ForwardedSms {
        intake: Intake::App(APP),
        receiving: fields::receiving(data.scalar("owner")?.as_deref()),
        device: None,
        slot: fields::phone_slot(data.scalar("sim")?.as_deref()),
        sender: data.scalar("contact")?,
        text: SmsText::new(text),
        received_at: data.string("timestamp")?.and_then(|t| fields::zoned(&t)),
        message_id: body.scalar("id")?,
    }]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decode::decode;
    use crate::decode::tests::{error, json_post};

    #[test]
    fn other_events_are_ignored() {
        for kind in [
            "message.phone.sent",
            "message.phone.delivered",
            "message.send.failed",
            "phone.heartbeat.offline",
        ] {
            let body = format!(r#"{{"id":"e1","type":"{kind}","data":{{"content":"kode 4321"}}}}"#);
            assert!(
                matches!(
                    decode(APP, &json_post(&body)).unwrap(),
                    Decoded::Ignored { .. }
                ),
                "{kind}"
            );
        }
    }

    #[test]
    fn broken_requests_name_the_field() {
        assert_eq!(
            error(
                APP,
                &json_post(
                    r#"{"id":"e1","type":"message.phone.received","data":{"owner":"+6281200000001"}}"#
                )
            ),
            "httpsms: data.content is missing or empty"
        );
        assert_eq!(
            error(
                APP,
                &json_post(
                    r#"{"id":"e1","type":"message.phone.received","data":{"content":["Kode 123456"]}}"#
                )
            ),
            "httpsms: data.content is an array, a string expected"
        );
        assert_eq!(
            error(
                APP,
                &json_post(r#"{"id":"e1","type":"message.phone.received"}"#)
            ),
            "httpsms: data is missing or empty"
        );
    }
}

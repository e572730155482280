//! Dinstar SIM gateways' SMS push: `{sn, sms: [{incoming_sms_id, port, number, smsc,
//! timestamp, text}, …]}`, several SMS per request. `sn` names the gateway, `port` the SIM's
//! port on it, `incoming_sms_id` is the gateway's id of each SMS. The timestamp is the
//! gateway's local time without a zone: left out. Dinstar sends no receiving number. The text is
//! taken as sent (no encoding field is documented for the push).

use super::DecodeError;
use super::fields::{self, Record};
use crate::{App, Decoded, ForwardedSms, Intake, Posted, SmsText};

const APP: App = App::Dinstar;

pub(super) fn decode(posted: &Posted<'_>) -> Result<Decoded, DecodeError> {
    let value = fields::json(APP, posted.body)?;
    let body = Record::body(APP, &value)?;
    let device = body.scalar("sn")?;
    let entries = body.array("sms")?.ok_or_else(|| body.missing("sms"))?;
    let mut list = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let sms = Record::json(APP, entry, &format!("sms[{i}]"))?;
        let text = sms.text(&["text"])?;
        list.push(ForwardedSms {
            intake: Intake::App(APP),
            receiving: None,
            device: device.clone(),
            slot: fields::port(sms.scalar("port")?),
            sender: sms.scalar("number")?,
            text: SmsText::new(text),
            received_at: None,
            message_id: sms.scalar("incoming_sms_id")?,
        });
    }
    if list.is_empty() {
        return Ok(Decoded::Ignored {
            why: "a Dinstar push without SMS",
        });
    }
    Ok(Decoded::Sms(list))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decode::decode;
    use crate::decode::tests::{error, json_post};

    #[test]
    fn several_sms_per_request_each_with_its_port_and_id() {
        let body = r#"{"sn":"DG-01","sms":[{"incoming_sms_id":7,"port":2,"number":"+6281200000099","smsc":"+62811000000","timestamp":"2026-11-24 15:00:00","text":"kode 1111"},{"incoming_sms_id":8,"port":"5","number":"+6281200000098","text":"kode 2222"}]}"#;
        let Decoded::Sms(list) = decode(APP, &json_post(body)).unwrap() else {
            panic!("no SMS");
        };
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].slot.as_deref(), Some("2"));
        assert_eq!(list[0].message_id.as_deref(), Some("7"));
        assert_eq!(list[0].received_at, None);
        assert_eq!(list[1].slot.as_deref(), Some("5"));
        assert_eq!(list[1].sender.as_deref(), Some("+6281200000098"));
        assert_eq!(list[1].text.expose(), "kode 2222");
        assert!(list.iter().all(|s| s.device.as_deref() == Some("DG-01")));
    }

    #[test]
    fn broken_requests_name_the_entry_and_the_field() {
        assert_eq!(
            error(
                APP,
                &json_post(r#"{"sn":"x","sms":[{"port":1,"text":"kode 1"},{"port":2}]}"#)
            ),
            "dinstar: sms[1].text is missing or empty"
        );
        assert_eq!(
            error(
                APP,
                &json_post(r#"{"sn":"x","sms":[{"port":[1],"text":"Kode 123456"}]}"#)
            ),
            "dinstar: sms[0].port is an array, a string or a number expected"
        );
        assert_eq!(
            error(APP, &json_post(r#"{"sn":"x"}"#)),
            "dinstar: sms is missing or empty"
        );
    }
}

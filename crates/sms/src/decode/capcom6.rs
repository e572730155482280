//! capcom6 SMS Gateway for Android: webhooks `{id, webhookId, event, deviceId, payload}`.
//!
//! `sms:received` is one SMS; its top-level `id` is what the app retries with (for about two
//! days, until a 2xx), so it is the message id. `app:started` reports the phone's SIMs per slot,
//! with the number when the phone knows it: a device's inventory. Every other event (`sms:sent`,
//! `sms:delivered`, `sms:failed`, `sms:data-received`, `system:ping`, …) carries no incoming
//! text SMS and is acknowledged as ignored, so the app does not retry it.

use super::DecodeError;
use super::fields::{self, Record};
use crate::{App, Decoded, ForwardedSms, Intake, Posted, SimCard, SmsText};

const APP: App = App::Capcom6;

pub(super) fn decode(posted: &Posted<'_>) -> Result<Decoded, DecodeError> {
    let value = fields::json(APP, posted.body)?;
    let body = Record::body(APP, &value)?;
    let event = body.string("event")?.ok_or_else(|| body.missing("event"))?;
    match event.as_str() {
        "sms:received" => received(&body),
        "app:started" => started(&body),
        _ => Ok(Decoded::Ignored {
            why: "a capcom6 event other than an incoming SMS",
        }),
    }
}

fn received(body: &Record<'_>) -> Result<Decoded, DecodeError> {
    let payload = body.required_object("payload")?;
    let text = payload.text(&["message"])?;
    Ok(Decoded::Sms(vec![ForwardedSms {
        intake: Intake::App(APP),
        receiving: fields::receiving(payload.scalar("recipient")?.as_deref()),
        device: body.scalar("deviceId")?,
        slot: fields::phone_slot(payload.scalar("simNumber")?.as_deref()),
        // `sender` since 1.5x; before, `phoneNumber` was the sender.
        sender: payload.first_scalar(&["sender", "phoneNumber"])?,
        text: SmsText::new(text),
        received_at: payload
            .string("receivedAt")?
            .and_then(|t| fields::zoned(&t)),
        message_id: body.scalar("id")?,
    }]))
}

fn started(body: &Record<'_>) -> Result<Decoded, DecodeError> {
    let device = body
        .scalar("deviceId")?
        .ok_or_else(|| body.missing("deviceId"))?;
    let payload = body.required_object("payload")?;
    let mut cards = Vec::new();
    for (i, card) in payload.array("simCards")?.unwrap_or(&[]).iter().enumerate() {
        let card = Record::json(APP, card, &payload.name(&format!("simCards[{i}]")))?;
        // `simNumber` is 1-based; `slotIndex` 0-based.
        let slot = match card.scalar("simNumber")? {
            Some(n) => fields::phone_slot(Some(&n)),
            None => card
                .int("slotIndex")?
                .and_then(|i| fields::phone_slot(Some(&(i + 1).to_string()))),
        }
        .ok_or_else(|| card.missing("simNumber"))?;
        cards.push(SimCard {
            slot,
            number: fields::receiving(card.scalar("phoneNumber")?.as_deref()),
            iccid: card.scalar("iccid")?,
        });
    }
    Ok(Decoded::Inventory {
        app: APP,
        device,
        cards,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decode::decode;
    use crate::decode::tests::{error, json_post, one};
    use crate::fixture;

    #[test]
    fn app_started_is_the_devices_sim_inventory() {
        let example = fixture::get("capcom6-android-sms-gateway-app-started").unwrap();
        let Decoded::Inventory { app, device, cards } = decode(APP, &example.posted()).unwrap()
        else {
            panic!("not an inventory");
        };
        assert_eq!(app, APP);
        assert_eq!(device, "ffffffffceb0b1db0000018e937c815b");
        assert_eq!(cards.len(), 2);
        assert_eq!(cards[0].slot, "1");
        assert_eq!(cards[0].number.as_ref().unwrap(), &"6281200000001");
        assert_eq!(cards[0].iccid.as_deref(), Some("8962100000000000001"));
        assert_eq!(cards[1].slot, "2");
        assert_eq!(cards[1].number, None);
        assert_eq!(cards[1].iccid.as_deref(), Some("8962010000000000002"));
    }

    #[test]
    fn other_events_are_ignored() {
        for event in [
            "sms:sent",
            "sms:delivered",
            "sms:failed",
            "sms:data-received",
            "system:ping",
        ] {
            let body = format!(
                r#"{{"id":"a","event":"{event}","deviceId":"d","payload":{{"messageId":"m","phoneNumber":"+6281200000099","data":"AAEC"}}}}"#
            );
            assert!(
                matches!(
                    decode(APP, &json_post(&body)).unwrap(),
                    Decoded::Ignored { .. }
                ),
                "{event}"
            );
        }
    }

    #[test]
    fn an_older_app_without_sender_or_recipient_still_gives_the_sms() {
        let body = r#"{"id":"x1","event":"sms:received","deviceId":"dev","payload":{"message":"kode 4321","phoneNumber":"+6281200000099","simNumber":null,"receivedAt":"2026-11-24T15:00:00.000+07:00"}}"#;
        let sms = one(APP, &json_post(body));
        assert_eq!(sms.sender.as_deref(), Some("+6281200000099"));
        assert_eq!(sms.receiving, None);
        assert_eq!(sms.slot, None);
        assert_eq!(sms.message_id.as_deref(), Some("x1"));
    }

    #[test]
    fn broken_requests_name_the_field() {
        assert_eq!(
            error(
                APP,
                &json_post(r#"{"id":"a","event":"sms:received","payload":{"sender":"x"}}"#)
            ),
            "capcom6: payload.message is missing or empty"
        );
        assert_eq!(
            error(
                APP,
                &json_post(r#"{"id":"a","event":"sms:received","payload":"Kode 123456"}"#)
            ),
            "capcom6: payload is a string, an object expected"
        );
        assert_eq!(
            error(
                APP,
                &json_post(r#"{"id":"a","payload":{"message":"Kode 123456"}}"#)
            ),
            "capcom6: event is missing or empty"
        );
        assert_eq!(
            error(
                APP,
                &json_post(
                    r#"{"event":"app:started","deviceId":"d","payload":{"simCards":[{"iccid":"1"}]}}"#
                )
            ),
            "capcom6: payload.simCards[0].simNumber is missing or empty"
        );
    }
}

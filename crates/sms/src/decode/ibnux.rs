//! ibnux Android SMS Gateway (Indonesian, often on the phones holding the SIMs): a form
//! `number, message, type=received, timestamp` (ms), **one POST per SMS part**, with nothing that
//! names the device or the SIM: its SMS are matched by the turn only. A `type` other than
//! `received` (a sent or delivered report) is acknowledged and not used.

use super::DecodeError;
use super::fields::{self, Record, Unit};
use crate::{App, Decoded, ForwardedSms, Intake, Posted, SmsText};

const APP: App = App::Ibnux;

pub(super) fn decode(posted: &Posted<'_>) -> Result<Decoded, DecodeError> {
    let form = Record::form(APP, fields::form_text(APP, posted)?)?;
    if let Some(kind) = form.string("type")?
        && !kind.eq_ignore_ascii_case("received")
    {
        return Ok(Decoded::Ignored {
            why: "an ibnux report that is not an incoming SMS",
        });
    }
    let text = form.text(&["message"])?;
    Ok(Decoded::Sms(vec![ForwardedSms {
        intake: Intake::App(APP),
        receiving: None,
        device: None,
        slot: None,
        sender: form.string("number")?,
        text: SmsText::new(text),
        received_at: form.stamp("timestamp", Unit::Millis)?,
        message_id: None,
    }]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::tests::{TEXT, error, one};
    use super::*;
    use crate::Method;

    fn form(body: &str) -> Posted<'_> {
        Posted::new(Method::Post, "", body.as_bytes())
            .with_header("Content-Type", "application/x-www-form-urlencoded")
    }

    #[test]
    fn the_example_gives_its_sms_without_any_sim() {
        let example = crate::fixture::get("ibnux-android-sms-gateway").unwrap();
        let sms = one(APP, &example.posted());
        assert_eq!(sms.text.expose(), TEXT);
        assert_eq!(sms.sender.as_deref(), Some("+6281200000099"));
        assert_eq!((sms.receiving, sms.device, sms.slot), (None, None, None));
        assert_eq!(
            sms.received_at.unwrap().timestamp_millis(),
            1_795_507_198_000
        );
    }

    #[test]
    fn a_report_is_ignored_and_a_form_without_message_names_the_field() {
        let report = form("number=%2B62812&message=x&type=sent&timestamp=1");
        assert!(matches!(decode(&report).unwrap(), Decoded::Ignored { .. }));
        let text = error(APP, &form("number=%2B62812&type=received&timestamp=1"));
        assert!(text.contains("message"), "{text}");
    }
}

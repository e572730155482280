//! Gammu smsd's RunOnReceive with a curl shim posting its environment as a form: `PHONE_ID`
//! (the modem's smsd `PhoneID`, the SIM's number when the operator configured it so),
//! `SMS_MESSAGES` = n and the parts `SMS_1_TEXT … SMS_n_TEXT` of one long SMS, the sender in
//! `SMS_1_NUMBER`. When gammu could decode the long SMS it also sets `DECODED_PARTS` and
//! `DECODED_1_TEXT`, the whole text: preferred when not empty. `RECEIVED_AT` is the shim's
//! RFC 3339 time.

use super::DecodeError;
use super::fields::{self, Record, Unit};
use crate::{App, Decoded, ForwardedSms, Intake, Posted, SmsText};

const APP: App = App::Gammu;

/// More parts than a concatenated SMS can have (the UDH counts them in one byte).
const MAX_PARTS: i64 = 255;

pub(super) fn decode(posted: &Posted<'_>) -> Result<Decoded, DecodeError> {
    let form = Record::form(APP, fields::form_text(APP, posted)?)?;
    let text = match form.string("DECODED_1_TEXT")? {
        Some(decoded) => decoded,
        None => parts(&form)?,
    };
    let phone_id = form.string("PHONE_ID")?;
    Ok(Decoded::Sms(vec![ForwardedSms {
        intake: Intake::App(APP),
        receiving: fields::receiving(phone_id.as_deref()),
        device: phone_id,
        slot: None,
        sender: form.string("SMS_1_NUMBER")?,
        text: SmsText::new(text),
        received_at: form.stamp("RECEIVED_AT", Unit::Seconds)?,
        message_id: None,
    }]))
}

/// `SMS_1_TEXT` … `SMS_n_TEXT` joined.
fn parts(form: &Record<'_>) -> Result<String, DecodeError> {
    let count = form.int("SMS_MESSAGES")?.unwrap_or(1);
    if !(1..=MAX_PARTS).contains(&count) {
        return Err(form.invalid("SMS_MESSAGES", "a count of parts from 1 to 255"));
    }
    let mut text = String::new();
    for i in 1..=count {
        let field = format!("SMS_{i}_TEXT");
        text.push_str(&form.string(&field)?.ok_or_else(|| form.missing(&field))?);
    }
    Ok(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decode::tests::{error, form_post, one};

    #[test]
    fn the_parts_of_a_long_sms_are_joined() {
        let body = "PHONE_ID=modem-3&SMS_MESSAGES=2&DECODED_PARTS=0&SMS_1_NUMBER=%2B6281200000099&SMS_1_TEXT=Transaksi%20Rp%2010000%20perlu%20&SMS_2_NUMBER=%2B6281200000099&SMS_2_TEXT=kode%204321";
        let sms = one(APP, &form_post(body));
        assert_eq!(sms.text.expose(), "Transaksi Rp 10000 perlu kode 4321");
        assert_eq!(sms.device.as_deref(), Some("modem-3"));
        // A PhoneID that is not a number names the modem only.
        assert_eq!(sms.receiving, None);
        assert_eq!(sms.received_at, None);
    }

    #[test]
    fn gammus_decoded_text_is_preferred() {
        let body = "PHONE_ID=081200000001&SMS_MESSAGES=2&DECODED_PARTS=1&DECODED_1_TEXT=kode%204321&SMS_1_TEXT=%05%00&SMS_2_TEXT=junk";
        let sms = one(APP, &form_post(body));
        assert_eq!(sms.text.expose(), "kode 4321");
        assert_eq!(sms.receiving.unwrap(), "6281200000001");
        let body =
            "PHONE_ID=m&SMS_MESSAGES=1&DECODED_PARTS=1&DECODED_1_TEXT=&SMS_1_TEXT=kode%204321";
        assert_eq!(one(APP, &form_post(body)).text.expose(), "kode 4321");
    }

    #[test]
    fn broken_requests_name_the_field() {
        assert_eq!(
            error(
                APP,
                &form_post("PHONE_ID=m&SMS_MESSAGES=2&SMS_1_TEXT=Kode%20123456")
            ),
            "gammu: SMS_2_TEXT is missing or empty"
        );
        assert_eq!(
            error(APP, &form_post("SMS_MESSAGES=two&SMS_1_TEXT=Kode%20123456")),
            "gammu: SMS_MESSAGES is not a whole number"
        );
        assert_eq!(
            error(APP, &form_post("SMS_MESSAGES=0&SMS_1_TEXT=Kode%20123456")),
            "gammu: SMS_MESSAGES is not a count of parts from 1 to 255"
        );
        assert_eq!(
            error(APP, &form_post("PHONE_ID=m&SMS_1_NUMBER=x")),
            "gammu: SMS_1_TEXT is missing or empty"
        );
    }
}

//! Kannel smsbox, as the operator's `sms-service` posts it: the get-url query from a template
//! such as `from=%p&to=%P&smsc=%i&time=%T&id=%I&text=%a`, or the post-url body (the text
//! itself, `text/plain`) with `X-Kannel-From`, `X-Kannel-To`, `X-Kannel-Time` (GMT,
//! `YYYY-MM-DD HH:MM:SS`) and `X-Kannel-SMSC`. `to` is the modem's `my-number`, `1234` when
//! the operator left it unset: taken only when it reads as a number. The SMSC id names the
//! modem (the device).

use super::DecodeError;
use super::fields::{self, Record, Unit};
use crate::{App, Decoded, ForwardedSms, Intake, Method, Posted, SmsText};

const APP: App = App::Kannel;

pub(super) fn decode(posted: &Posted<'_>) -> Result<Decoded, DecodeError> {
    let query = Record::form(APP, posted.query)?;
    let header = |name: &str| {
        posted
            .header(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let body_text = match posted.method {
        Method::Post => body_text(posted)?,
        Method::Get => None,
    };
    let text = match body_text {
        Some(text) => text,
        None => query.text(&["text"])?,
    };
    let received_at = match header("X-Kannel-Time") {
        Some(time) => fields::gmt(&time),
        None => match query.string("time")? {
            Some(time) => fields::gmt(&time).or(fields::unix_or_zoned(&time, Unit::Seconds)),
            None => None,
        },
    };
    let to = header("X-Kannel-To").or(query.scalar("to")?);
    Ok(Decoded::Sms(vec![ForwardedSms {
        intake: Intake::App(APP),
        receiving: fields::receiving(to.as_deref()),
        device: header("X-Kannel-SMSC").or(query.scalar("smsc")?),
        slot: None,
        sender: header("X-Kannel-From").or(query.scalar("from")?),
        text: SmsText::new(text),
        received_at,
        message_id: query.scalar("id")?,
    }]))
}

/// The post-url body as text: UTF-8, or UTF-16BE when Kannel says `charset=UTF-16BE` (its
/// UCS-2 messages when the service does not convert them).
fn body_text(posted: &Posted<'_>) -> Result<Option<String>, DecodeError> {
    if posted.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let utf16 = posted.header("content-type").is_some_and(|ct| {
        let ct = ct.to_ascii_lowercase();
        ct.contains("utf-16be") || ct.contains("ucs-2") || ct.contains("ucs2")
    });
    let not_text = DecodeError::NotText {
        app: APP,
        what: "the body",
    };
    let text = if utf16 {
        if !posted.body.len().is_multiple_of(2) {
            return Err(not_text);
        }
        let units = posted
            .body
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|_| not_text)?
    } else {
        std::str::from_utf8(posted.body)
            .map_err(|_| not_text)?
            .to_owned()
    };
    Ok(Some(text))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decode::tests::{error, one};

    #[test]
    fn an_unset_my_number_is_no_receiving_number() {
        let query = "from=%2B6281200000099&to=1234&smsc=modem-2&time=1795507198&text=kode%204321";
        let sms = one(APP, &Posted::new(Method::Get, query, b""));
        assert_eq!(sms.receiving, None);
        assert_eq!(sms.device.as_deref(), Some("modem-2"));
        assert_eq!(sms.message_id, None);
        let posted = Posted::new(Method::Post, "", b"kode 4321").with_header("X-Kannel-To", "1234");
        assert_eq!(one(APP, &posted).receiving, None);
    }

    #[test]
    fn a_ucs2_body_is_read() {
        let body: Vec<u8> = "kode 4321 ✓"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        let posted = Posted::new(Method::Post, "", &body)
            .with_header("Content-Type", "text/plain; charset=UTF-16BE")
            .with_header("X-Kannel-From", "+6281200000099");
        assert_eq!(one(APP, &posted).text.expose(), "kode 4321 ✓");
    }

    #[test]
    fn broken_requests_name_the_field() {
        assert_eq!(
            error(APP, &Posted::new(Method::Get, "from=x&to=1234", b"")),
            "kannel: text is missing or empty"
        );
        assert_eq!(
            error(APP, &Posted::new(Method::Post, "", b"Kode 123456 \xff")),
            "kannel: the body is not UTF-8 text"
        );
    }
}

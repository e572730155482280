//! Ejoin / Skyline SIM gateways: `{"type":"recv-sms","sms_num":n,"sms":[[dr_flag, port, ts,
//! sender, recipient, text], …]}`, several SMS per request. `dr_flag` non-zero marks a
//! delivery report, skipped; `port` is the gateway's port as it names it (`"1A"`, `"1.01"`);
//! `ts` Unix seconds; `recipient` the SIM's number when configured on the gateway; the text is
//! standard base64 of UTF-8. Other `type`s (`dev-status`, `port-status`, …) are ignored.

use base64::Engine;
use serde_json::Value;

use super::DecodeError;
use super::fields::{self, Record, Unit};
use crate::{App, Decoded, ForwardedSms, Intake, Posted, SmsText};

const APP: App = App::Ejoin;

/// What each place of an entry holds, for the errors.
const PLACES: [&str; 6] = ["dr_flag", "port", "ts", "sender", "recipient", "text"];

pub(super) fn decode(posted: &Posted<'_>) -> Result<Decoded, DecodeError> {
    let value = fields::json(APP, posted.body)?;
    let body = Record::body(APP, &value)?;
    let kind = body.string("type")?.ok_or_else(|| body.missing("type"))?;
    if kind != "recv-sms" {
        return Ok(Decoded::Ignored {
            why: "an Ejoin report other than an incoming SMS",
        });
    }
    let device = body.first_scalar(&["mac", "sn"])?;
    let entries = body.array("sms")?.ok_or_else(|| body.missing("sms"))?;
    let mut list = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        if let Some(sms) = one(i, entry, device.as_ref())? {
            list.push(sms);
        }
    }
    if list.is_empty() {
        return Ok(Decoded::Ignored {
            why: "Ejoin delivery reports only",
        });
    }
    Ok(Decoded::Sms(list))
}

/// Entry `i`, or `None` for a delivery report.
fn one(
    i: usize,
    entry: &Value,
    device: Option<&String>,
) -> Result<Option<ForwardedSms>, DecodeError> {
    let name = |place: usize| format!("sms[{i}][{place}] ({})", PLACES[place]);
    let items = match entry {
        Value::Array(items) if items.len() >= PLACES.len() => items,
        Value::Array(_) => {
            return Err(DecodeError::Invalid {
                app: APP,
                field: format!("sms[{i}]"),
                expected: "an array of 6: dr_flag, port, ts, sender, recipient, text",
            });
        }
        other => {
            return Err(DecodeError::WrongType {
                app: APP,
                field: format!("sms[{i}]"),
                expected: "an array",
                found: fields::type_name(other),
            });
        }
    };
    let scalar = |place: usize| {
        fields::scalar_text(&items[place]).map_err(|()| DecodeError::WrongType {
            app: APP,
            field: name(place),
            expected: "a string or a number",
            found: fields::type_name(&items[place]),
        })
    };
    let report = match &items[0] {
        Value::Bool(flag) => *flag,
        _ => match scalar(0)? {
            None => false,
            Some(flag) => {
                flag.trim()
                    .parse::<i64>()
                    .map_err(|_| DecodeError::Invalid {
                        app: APP,
                        field: name(0),
                        expected: "a whole number",
                    })?
                    != 0
            }
        },
    };
    if report {
        return Ok(None);
    }
    let encoded = match &items[5] {
        Value::String(s) => s.trim(),
        other => {
            return Err(DecodeError::WrongType {
                app: APP,
                field: name(5),
                expected: "a base64 string",
                found: fields::type_name(other),
            });
        }
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| DecodeError::Invalid {
            app: APP,
            field: name(5),
            expected: "base64",
        })?;
    let text = String::from_utf8(bytes).map_err(|_| DecodeError::Invalid {
        app: APP,
        field: name(5),
        expected: "base64 of UTF-8 text",
    })?;
    if text.trim().is_empty() {
        return Err(DecodeError::Missing {
            app: APP,
            field: name(5),
        });
    }
    Ok(Some(ForwardedSms {
        intake: Intake::App(APP),
        receiving: fields::receiving(scalar(4)?.as_deref()),
        device: device.cloned(),
        slot: fields::port(scalar(1)?),
        sender: scalar(3)?,
        text: SmsText::new(text),
        received_at: scalar(2)?.and_then(|ts| fields::unix_or_zoned(&ts, Unit::Seconds)),
        message_id: None,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decode::decode;
    use crate::decode::tests::{error, json_post};

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    #[test]
    fn several_sms_in_one_request_and_delivery_reports_skipped() {
        let body = format!(
            r#"{{"type":"recv-sms","sms_num":3,"mac":"00:1f:d6:aa:bb:cc","sms":[[0,"1.01",1795507198,"+6281200000099","",{a}],[1,"2.01",1795507199,"+6281200000099","6281200000002",{b}],[0,"3.01",1795507200,"+6281200000099","081200000003",{c}]]}}"#,
            a = serde_json::to_string(&b64("kode 1111")).unwrap(),
            b = serde_json::to_string(&b64("delivered")).unwrap(),
            c = serde_json::to_string(&b64("kode 3333")).unwrap(),
        );
        let Decoded::Sms(list) = decode(APP, &json_post(&body)).unwrap() else {
            panic!("no SMS");
        };
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].text.expose(), "kode 1111");
        assert_eq!(list[0].slot.as_deref(), Some("1.01"));
        assert_eq!(list[0].receiving, None);
        assert_eq!(list[0].device.as_deref(), Some("00:1f:d6:aa:bb:cc"));
        assert_eq!(list[1].text.expose(), "kode 3333");
        assert_eq!(list[1].slot.as_deref(), Some("3.01"));
        assert_eq!(list[1].receiving.as_ref().unwrap(), &"6281200000003");
    }

    #[test]
    fn reports_and_status_are_ignored() {
        let only_reports = format!(
            r#"{{"type":"recv-sms","sms_num":1,"sms":[[1,"1A",1795507198,"+6281200000099","",{}]]}}"#,
            serde_json::to_string(&b64("delivered")).unwrap()
        );
        for body in [
            only_reports.as_str(),
            r#"{"type":"dev-status","seq":1,"status":0}"#,
            r#"{"type":"port-status","port":"1A","status":"1"}"#,
        ] {
            assert!(
                matches!(
                    decode(APP, &json_post(body)).unwrap(),
                    Decoded::Ignored { .. }
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn broken_requests_name_the_entry_and_the_field() {
        let good = serde_json::to_string(&b64("kode 4321")).unwrap();
        let body = format!(
            r#"{{"type":"recv-sms","sms":[[0,"1A",1,"x","",{good}],[0,"1B",1,"x","","Kode 123456!"]]}}"#
        );
        assert_eq!(
            error(APP, &json_post(&body)),
            "ejoin: sms[1][5] (text) is not base64"
        );
        let body = r#"{"type":"recv-sms","sms":[[0,"1A",1,"x","",123456]]}"#;
        assert_eq!(
            error(APP, &json_post(body)),
            "ejoin: sms[0][5] (text) is a number, a base64 string expected"
        );
        let body = r#"{"type":"recv-sms","sms":[[0,"1A",1,"x"]]}"#;
        assert_eq!(
            error(APP, &json_post(body)),
            "ejoin: sms[0] is not an array of 6: dr_flag, port, ts, sender, recipient, text"
        );
        assert_eq!(
            error(
                APP,
                &json_post(r#"{"type":"recv-sms","sms":"Kode 123456"}"#)
            ),
            "ejoin: sms is a string, an array expected"
        );
        assert_eq!(
            error(APP, &json_post(r#"{"sms":[]}"#)),
            "ejoin: type is missing or empty"
        );
    }
}

//! pppscn/SmsForwarder, the most installed forwarder: a JSON body from the user's template, or
//! its default form (`from, content, timestamp, sign`, POST body or GET query).
//!
//! In the default form `content` is not the SMS but a block the app builds around it
//! (`MsgInfo.getContentForSend`): the sender, the SMS text (maybe several lines), the SIM label
//! `SIM<n>_<remark>`, `SubId：<n>`, the receive time and the device mark, one per line. The SMS
//! text is only the lines between the sender and the label, so that no code is ever cut from
//! the sender, the label or the date. The same block arrives through a template's `[content]`
//! or `[msg]`; `[org_content]` is the SMS alone.
//!
//! The label's remark is what the user typed for that SIM (the app's auto-fill writes
//! `<carrier>_<number>`): it gives the receiving number when it, or one `_` piece of it, reads
//! as an Indonesian mobile number.

use simrotor_domain::Msisdn;

use super::DecodeError;
use super::fields::{self, Record};
use crate::{App, Decoded, ForwardedSms, Intake, Posted, SmsText};

const APP: App = App::SmsForwarder;

/// Where a template may put the text: the SMS alone first, then the block.
const TEXT_FIELDS: &[&str] = &["org_content", "text", "msg", "content"];

pub(super) fn decode(posted: &Posted<'_>) -> Result<Decoded, DecodeError> {
    let value;
    let record = if fields::is_json(posted) {
        value = fields::json(APP, posted.body)?;
        Record::body(APP, &value)?
    } else {
        Record::form(APP, fields::form_text(APP, posted)?)?
    };
    let from = record.scalar("from")?;
    let raw = record.text(TEXT_FIELDS)?;
    let block = Block::parse(&raw, from.as_deref());
    let (text, block) = match block {
        Some(block) => (block.text.clone(), Some(block)),
        None => (raw.trim().to_owned(), None),
    };
    if text.is_empty() {
        return Err(DecodeError::Missing {
            app: APP,
            field: "the SMS text in content".to_owned(),
        });
    }
    let label = match record.string("card_slot")? {
        Some(slot) => SimLabel::parse(&slot),
        None => None,
    }
    .or_else(|| block.as_ref().and_then(|b| b.label.clone()));
    let device = record
        .first_scalar(&["device", "device_mark"])?
        .or_else(|| block.as_ref().and_then(|b| b.device.clone()));
    let sender = from.or_else(|| block.as_ref().and_then(|b| b.sender.clone()));
    let received_at = record
        .string("receive_time")?
        .and_then(|t| fields::zoned(&t));
    Ok(Decoded::Sms(vec![ForwardedSms {
        intake: Intake::App(APP),
        receiving: label.as_ref().and_then(|l| l.number.clone()),
        device,
        slot: label.and_then(|l| l.slot),
        sender,
        text: SmsText::new(text),
        received_at,
        message_id: None,
    }]))
}

/// `SIM1_6281200000001`, `SIM2_TELKOMSEL_+6281200000001`, `SIM1`, `SIM0_` (slot unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SimLabel {
    slot: Option<String>,
    number: Option<Msisdn>,
}

impl SimLabel {
    fn parse(line: &str) -> Option<Self> {
        let line = line.trim();
        let rest = line
            .get(..3)
            .filter(|p| p.eq_ignore_ascii_case("sim"))
            .map(|_| &line[3..])?;
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (digits, remark) = rest.split_at(digits_end);
        if digits.is_empty() {
            return None;
        }
        let remark = match remark {
            "" => "",
            r => r.strip_prefix('_')?,
        };
        Some(Self {
            slot: fields::phone_slot(Some(digits)),
            number: remark_number(remark),
        })
    }
}

/// The number in a SIM remark: the whole remark, or its one `_` piece that reads as a number.
fn remark_number(remark: &str) -> Option<Msisdn> {
    if let Ok(number) = Msisdn::parse(remark) {
        return Some(number);
    }
    let mut found = remark.split('_').filter_map(|p| Msisdn::parse(p).ok());
    let first = found.next()?;
    // Two different numbers in one remark: which is the SIM's is a guess; take none.
    found.all(|n| n == first).then_some(first)
}

/// The default `content` block, taken apart.
#[derive(Debug)]
struct Block {
    text: String,
    sender: Option<String>,
    label: Option<SimLabel>,
    device: Option<String>,
}

impl Block {
    /// The block's parts, or `None` when `raw` is not laid out as the app's default block (a
    /// raw SMS, or a user's own layout): then the whole of it is the text.
    fn parse(raw: &str, from: Option<&str>) -> Option<Self> {
        let lines: Vec<&str> = raw.lines().collect();
        let label_at = lines.iter().rposition(|l| SimLabel::parse(l).is_some())?;
        let label = SimLabel::parse(lines[label_at]);
        let tail = &lines[label_at + 1..];
        if tail.len() > 3 {
            return None;
        }
        let mut device = None;
        for (i, line) in tail.iter().enumerate() {
            let line = line.trim();
            if line.is_empty() || is_subid(line) || is_date(line) {
                continue;
            }
            if i + 1 == tail.len() {
                device = Some(line.to_owned());
            } else {
                return None;
            }
        }
        let head = &lines[..label_at];
        let (sender, body) = match head.split_first() {
            Some((first, rest)) if from.is_some_and(|f| f.trim() == first.trim()) => {
                (Some(first.trim().to_owned()), rest)
            }
            Some((first, rest)) if from.is_none() && !rest.is_empty() => {
                (Some(first.trim().to_owned()), rest)
            }
            _ => (None, head),
        };
        Some(Self {
            text: body.join("\n").trim().to_owned(),
            sender,
            label,
            device,
        })
    }
}

/// `SubId：1` (a full-width colon in the app's template) or `SubId:1`.
fn is_subid(line: &str) -> bool {
    line.strip_prefix("SubId")
        .map(|r| r.trim_start_matches([':', '：']).trim())
        .is_some_and(|n| {
            let n = n.strip_prefix('-').unwrap_or(n);
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
        })
}

/// A line that starts `YYYY-MM-DD` (the app's receive time).
fn is_date(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Method;
    use crate::decode::tests::{TEXT, error, form_post, json_post, one};
    use crate::fixture;

    #[test]
    fn the_default_form_gives_only_the_sms_line_and_the_slot_label_gives_the_number() {
        let example = fixture::get("pppscn-smsforwarder-default-form").unwrap();
        let sms = one(APP, &example.posted());
        assert_eq!(sms.text.expose(), TEXT);
        assert_eq!(sms.slot.as_deref(), Some("1"));
        assert_eq!(sms.receiving.unwrap(), "6281200000001");
        assert_eq!(sms.device.as_deref(), Some("HP-01"));
        assert_eq!(sms.sender.as_deref(), Some(fixture::SENDER));
        assert_eq!(sms.received_at, None);
    }

    #[test]
    fn the_default_form_by_get_reads_the_query() {
        let example = fixture::get("pppscn-smsforwarder-default-form").unwrap();
        let query = std::str::from_utf8(example.body).unwrap();
        let sms = one(APP, &Posted::new(Method::Get, query, b""));
        assert_eq!(sms.text.expose(), TEXT);
        assert_eq!(sms.receiving.unwrap(), "6281200000001");
    }

    #[test]
    fn a_multi_line_sms_keeps_its_lines_and_loses_the_frame() {
        let content = "+6281200000099\nTransaksi Rp 10000\nkode 4321\nSIM2_TELKOMSEL_+6281200000002\nSubId：3\n2026-11-24 15:00:00";
        let body = serde_urlencoded::to_string([("from", "+6281200000099"), ("content", content)])
            .unwrap();
        let sms = one(APP, &form_post(&body));
        assert_eq!(sms.text.expose(), "Transaksi Rp 10000\nkode 4321");
        assert_eq!(sms.slot.as_deref(), Some("2"));
        assert_eq!(sms.receiving.unwrap(), "6281200000002");
        // No device mark set: the block ends with the date.
        assert_eq!(sms.device, None);
    }

    #[test]
    fn a_label_without_a_number_gives_the_slot_only() {
        let body = r#"{"from":"+6281200000099","org_content":"kode 4321","card_slot":"SIM2_Kartu kerja","device_mark":"HP-02","receive_time":"2026-11-24 15:00:00"}"#;
        let sms = one(APP, &json_post(body));
        assert_eq!(sms.text.expose(), "kode 4321");
        assert_eq!(sms.slot.as_deref(), Some("2"));
        assert_eq!(sms.receiving, None);
        assert_eq!(sms.device.as_deref(), Some("HP-02"));
        // Phone local time without a zone: not guessed.
        assert_eq!(sms.received_at, None);
    }

    #[test]
    fn a_template_with_the_block_in_content_is_taken_apart_too() {
        let body = r#"{"from":"+6281200000099","content":"+6281200000099\nkode 4321\nSIM1_6281200000001\nSubId：1\n2026-11-24 15:00:00\nHP-01","timestamp":1795507201000}"#;
        let sms = one(APP, &json_post(body));
        assert_eq!(sms.text.expose(), "kode 4321");
        assert_eq!(sms.receiving.unwrap(), "6281200000001");
        assert_eq!(sms.device.as_deref(), Some("HP-01"));
    }

    #[test]
    fn org_content_wins_over_the_block() {
        let body = r#"{"from":"X","org_content":"kode 4321","content":"X\nkode 4321\nSIM1_\n2026-11-24 15:00:00"}"#;
        let sms = one(APP, &json_post(body));
        assert_eq!(sms.text.expose(), "kode 4321");
        assert_eq!(sms.slot, None);
    }

    #[test]
    fn two_numbers_in_a_remark_give_none() {
        let label = SimLabel::parse("SIM1_6281200000001_6281200000002").unwrap();
        assert_eq!(label.number, None);
        assert_eq!(label.slot.as_deref(), Some("1"));
        assert_eq!(SimLabel::parse("SIMPATI 4321"), None);
        assert_eq!(SimLabel::parse("SIM0_").unwrap().slot, None);
    }

    #[test]
    fn broken_requests_name_the_field() {
        assert_eq!(
            error(
                APP,
                &json_post(r#"{"from":"+6281200000099","card_slot":"SIM1"}"#)
            ),
            "smsforwarder: org_content / text / msg / content is missing or empty"
        );
        assert_eq!(
            error(APP, &json_post(r#"{"content":123456}"#)),
            "smsforwarder: content is a number, a string expected"
        );
        assert_eq!(
            error(APP, &json_post(r#"{"content":"Kode OTP Anda: 123456}"#)),
            "smsforwarder: the body is not valid JSON (an early end at line 1, column 34)"
        );
        // A block with nothing between the sender and the label.
        let body = serde_urlencoded::to_string([
            ("from", "+6281200000099"),
            (
                "content",
                "+6281200000099\nSIM1_6281200000001\n2026-11-24 15:00:00",
            ),
        ])
        .unwrap();
        assert_eq!(
            error(APP, &form_post(&body)),
            "smsforwarder: the SMS text in content is missing or empty"
        );
    }
}

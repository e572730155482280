//! The fields of a request, read one way by every decoder (and by [`crate::verify()`]): a JSON
//! object or a URL-encoded form behind one accessor whose errors name the field (a path such as
//! `payload.message`) and the type found, never the value — the value may be the code.
//!
//! Also the small readings the apps share: times (Unix seconds or milliseconds, RFC 3339 with
//! a zone; a time without a zone is left out), SIM slots (`sim1`, `SIM1`, `1` → `"1"`) and
//! receiving numbers (kept only when they read as an Indonesian mobile number).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};
use simrotor_domain::Msisdn;

use super::DecodeError;
use crate::{App, Posted};

/// Whether the body is JSON: by its content type, or by its first character for apps whose
/// users pick the content type themselves.
pub(crate) fn is_json(posted: &Posted<'_>) -> bool {
    posted.content_type().is_some_and(|ct| ct.contains("json"))
        || without_bom(posted.body)
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{' || *b == b'[')
}

fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// The body as a JSON value. The error says where the body stops being JSON and what kind of
/// problem it is, built from `line()`/`column()`/`classify()`: serde_json's own message quotes
/// the offending value.
pub(crate) fn json(app: App, body: &[u8]) -> Result<Value, DecodeError> {
    serde_json::from_slice(without_bom(body)).map_err(|e| DecodeError::NotJson {
        app,
        line: e.line(),
        column: e.column(),
        problem: match e.classify() {
            serde_json::error::Category::Syntax => "a syntax error",
            serde_json::error::Category::Eof => "an early end",
            serde_json::error::Category::Data => "a value of the wrong type",
            serde_json::error::Category::Io => "a read error",
        },
    })
}

/// The form a request carries: its body when it has one, else its query string (GET).
pub(crate) fn form_text<'a>(app: App, posted: &Posted<'a>) -> Result<&'a str, DecodeError> {
    if posted.body.iter().all(u8::is_ascii_whitespace) {
        Ok(posted.query)
    } else {
        std::str::from_utf8(posted.body).map_err(|_| DecodeError::NotText {
            app,
            what: "the body",
        })
    }
}

/// A name for a JSON value's type, for the errors.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One object's fields: a JSON object or a flat form. Forms have no nested objects or arrays.
#[derive(Debug)]
pub(crate) struct Record<'a> {
    app: App,
    /// Prepended to field names in errors: `""` at the top, `"payload."` inside `payload`.
    prefix: String,
    fields: Fields<'a>,
}

#[derive(Debug)]
enum Fields<'a> {
    Json(&'a Map<String, Value>),
    Form(Vec<(String, String)>),
}

impl<'a> Record<'a> {
    /// The body as an object.
    pub(crate) fn body(app: App, value: &'a Value) -> Result<Self, DecodeError> {
        Self::new(app, value, "the body", String::new())
    }

    /// `value`, found at `name` (`payload`, `sms[0]`), as an object.
    pub(crate) fn json(app: App, value: &'a Value, name: &str) -> Result<Self, DecodeError> {
        Self::new(app, value, name, format!("{name}."))
    }

    fn new(app: App, value: &'a Value, name: &str, prefix: String) -> Result<Self, DecodeError> {
        match value {
            Value::Object(map) => Ok(Self {
                app,
                prefix,
                fields: Fields::Json(map),
            }),
            other => Err(DecodeError::WrongType {
                app,
                field: name.to_owned(),
                expected: "an object",
                found: type_name(other),
            }),
        }
    }

    /// A URL-encoded form (`a=1&b=2`); a key given twice counts once, the first.
    pub(crate) fn form(app: App, text: &str) -> Result<Record<'static>, DecodeError> {
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(text)
            .map_err(|_| DecodeError::NotForm { app })?;
        Ok(Record {
            app,
            prefix: String::new(),
            fields: Fields::Form(pairs),
        })
    }

    /// The field's name as errors show it.
    pub(crate) fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    fn names(&self, fields: &[&str]) -> String {
        fields
            .iter()
            .map(|f| self.name(f))
            .collect::<Vec<_>>()
            .join(" / ")
    }

    pub(crate) fn missing(&self, field: &str) -> DecodeError {
        DecodeError::Missing {
            app: self.app,
            field: self.name(field),
        }
    }

    fn wrong(&self, field: &str, expected: &'static str, found: &Value) -> DecodeError {
        DecodeError::WrongType {
            app: self.app,
            field: self.name(field),
            expected,
            found: type_name(found),
        }
    }

    pub(crate) fn invalid(&self, field: &str, expected: &'static str) -> DecodeError {
        DecodeError::Invalid {
            app: self.app,
            field: self.name(field),
            expected,
        }
    }

    /// The raw JSON value of a field (`null` counts as absent); forms have none.
    fn value(&self, field: &str) -> Option<&'a Value> {
        match &self.fields {
            Fields::Json(map) => map.get(field).filter(|v| !v.is_null()),
            Fields::Form(_) => None,
        }
    }

    fn form_value(&self, field: &str) -> Option<&str> {
        match &self.fields {
            Fields::Json(_) => None,
            Fields::Form(pairs) => pairs
                .iter()
                .find(|(k, _)| k == field)
                .map(|(_, v)| v.as_str()),
        }
    }

    /// A text field: a JSON string or a form value; empty (or blank) counts as absent.
    pub(crate) fn string(&self, field: &str) -> Result<Option<String>, DecodeError> {
        if let Some(v) = self.form_value(field) {
            return Ok(non_blank(v));
        }
        match self.value(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(non_blank(s)),
            Some(other) => Err(self.wrong(field, "a string", other)),
        }
    }

    /// A field that may come as a string or a number (ids, ports, stamps), as text.
    pub(crate) fn scalar(&self, field: &str) -> Result<Option<String>, DecodeError> {
        if let Some(v) = self.form_value(field) {
            return Ok(non_blank(v));
        }
        match self.value(field) {
            None => Ok(None),
            Some(v) => scalar_text(v).map_err(|_| self.wrong(field, "a string or a number", v)),
        }
    }

    /// The first of `fields` that is present, as a string.
    pub(crate) fn first_string(&self, fields: &[&str]) -> Result<Option<String>, DecodeError> {
        for field in fields {
            if let Some(v) = self.string(field)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// The first of `fields` that is present, as a string or a number.
    pub(crate) fn first_scalar(&self, fields: &[&str]) -> Result<Option<String>, DecodeError> {
        for field in fields {
            if let Some(v) = self.scalar(field)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// The SMS text: the first of `fields` present; none of them is an error naming them all.
    pub(crate) fn text(&self, fields: &[&str]) -> Result<String, DecodeError> {
        self.first_string(fields)?
            .ok_or_else(|| DecodeError::Missing {
                app: self.app,
                field: self.names(fields),
            })
    }

    /// A whole number, sent as a number or as digits.
    pub(crate) fn int(&self, field: &str) -> Result<Option<i64>, DecodeError> {
        if let Some(v) = self.form_value(field) {
            return match non_blank(v) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| self.invalid(field, "a whole number")),
            };
        }
        match self.value(field) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.invalid(field, "a whole number")),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.invalid(field, "a whole number")),
            Some(other) => Err(self.wrong(field, "a whole number", other)),
        }
    }

    /// A nested object.
    pub(crate) fn object(&self, field: &str) -> Result<Option<Record<'a>>, DecodeError> {
        match self.value(field) {
            None => Ok(None),
            Some(v) => Record::json(self.app, v, &self.name(field)).map(Some),
        }
    }

    /// A nested object that must be there.
    pub(crate) fn required_object(&self, field: &str) -> Result<Record<'a>, DecodeError> {
        self.object(field)?.ok_or_else(|| self.missing(field))
    }

    /// A nested array.
    pub(crate) fn array(&self, field: &str) -> Result<Option<&'a [Value]>, DecodeError> {
        match self.value(field) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.wrong(field, "an array", other)),
        }
    }

    /// A point in time sent as Unix seconds or milliseconds (a number or digits), or as
    /// RFC 3339 text with a zone. Text that reads as none of these is left out: a time helps
    /// the matching, its absence never loses an SMS.
    pub(crate) fn stamp(
        &self,
        field: &str,
        unit: Unit,
    ) -> Result<Option<DateTime<Utc>>, DecodeError> {
        let text = match self.value(field) {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => return Err(self.wrong(field, "a number or a time", other)),
            None => match self.form_value(field) {
                Some(v) => v.to_owned(),
                None => return Ok(None),
            },
        };
        Ok(unix_or_zoned(&text, unit))
    }
}

/// A JSON string or number as text (anything else: `Err(())`, the caller names the field).
pub(crate) fn scalar_text(value: &Value) -> Result<Option<String>, ()> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(non_blank(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(()),
    }
}

fn non_blank(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.to_owned())
}

/// What a bare number counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Seconds,
    Millis,
}

/// Digits in `unit`, or RFC 3339 with a zone; else `None`.
pub(crate) fn unix_or_zoned(text: &str, unit: Unit) -> Option<DateTime<Utc>> {
    let text = text.trim();
    match text.parse::<i64>() {
        Ok(n) => match unit {
            Unit::Seconds => DateTime::from_timestamp(n, 0),
            Unit::Millis => DateTime::from_timestamp_millis(n),
        },
        Err(_) => zoned(text),
    }
}

/// RFC 3339 with its offset (`2026-11-24T15:00:00+07:00`, `…Z`); a time without a zone is the
/// phone's local time, which we do not guess: `None`.
pub(crate) fn zoned(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `YYYY-MM-DD HH:MM:SS` known to be GMT (Kannel's `X-Kannel-Time`).
pub(crate) fn gmt(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

/// The receiving SIM's number, when the field reads as an Indonesian mobile number. Anything
/// else (`1234`, a name, a foreign number) is treated as absent: the matching then goes by the
/// device and slot, never by a guess.
pub(crate) fn receiving(text: Option<&str>) -> Option<Msisdn> {
    text.and_then(|t| Msisdn::parse(t).ok())
}

/// A phone's SIM slot as the apps name it: `sim1`, `SIM1`, `1` → `"1"`; `undetected`, `0`,
/// `-1` or nothing → `None`; any other word is kept as sent (the operator's channel names it).
pub fn phone_slot(text: Option<&str>) -> Option<String> {
    let text = text?.trim();
    let lower = text.to_ascii_lowercase();
    let rest = lower.strip_prefix("sim").unwrap_or(&lower).trim();
    if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
        let n = rest.trim_start_matches('0');
        return (!n.is_empty()).then(|| n.to_owned());
    }
    match lower.as_str() {
        "" | "-1" | "undetected" | "unknown" => None,
        _ => Some(text.to_owned()),
    }
}

/// A gateway's port as sent (`"1A"`, `"1.01"`, `3`), trimmed.
pub(crate) fn port(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn slots_read_as_the_apps_write_them() {
        assert_eq!(phone_slot(Some("sim1")).as_deref(), Some("1"));
        assert_eq!(phone_slot(Some("SIM2")).as_deref(), Some("2"));
        assert_eq!(phone_slot(Some("1")).as_deref(), Some("1"));
        assert_eq!(phone_slot(Some("undetected")), None);
        assert_eq!(phone_slot(Some("0")), None);
        assert_eq!(phone_slot(Some("-1")), None);
        assert_eq!(phone_slot(Some(" ")), None);
        assert_eq!(phone_slot(Some("esim")).as_deref(), Some("esim"));
    }

    #[test]
    fn times_without_a_zone_are_left_out() {
        let at = DateTime::from_timestamp(1_795_507_200, 0);
        assert_eq!(zoned("2026-11-24T15:00:00+07:00"), at);
        assert_eq!(zoned("2026-11-24 15:00:00+07:00"), at);
        assert_eq!(zoned("2026-11-24T08:00:00Z"), at);
        assert_eq!(zoned("2026-11-24 15:00:00"), None);
        assert_eq!(unix_or_zoned("1795507200000", Unit::Millis), at);
        assert_eq!(unix_or_zoned("1795507200", Unit::Seconds), at);
        assert_eq!(unix_or_zoned("yesterday", Unit::Seconds), None);
        assert_eq!(gmt("2026-11-24 08:00:00"), at);
    }

    #[test]
    fn a_receiving_number_that_is_not_a_mobile_number_is_absent() {
        assert_eq!(receiving(Some("+6281200000001")).unwrap(), "6281200000001");
        assert_eq!(receiving(Some("081200000001")).unwrap(), "6281200000001");
        assert_eq!(receiving(Some("1234")), None);
        assert_eq!(receiving(Some("modem-1")), None);
        assert_eq!(receiving(None), None);
    }

    #[test]
    fn field_errors_name_the_field_and_the_type_never_the_value() {
        let value: Value =
            serde_json::from_str(r#"{"payload": {"message": ["Kode 123456"], "n": "x12"}}"#)
                .unwrap();
        let top = Record::body(App::Capcom6, &value).unwrap();
        let payload = top.required_object("payload").unwrap();
        let err = payload.string("message").unwrap_err();
        assert_eq!(
            err.to_string(),
            "capcom6: payload.message is an array, a string expected"
        );
        let err = payload.int("n").unwrap_err().to_string();
        assert_eq!(err, "capcom6: payload.n is not a whole number");
        let err = top.text(&["text", "message"]).unwrap_err().to_string();
        assert_eq!(err, "capcom6: text / message is missing or empty");
        let err = json(App::Textbee, br#"{"message": "Kode 123456" "#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "textbee: the body is not valid JSON (an early end at line 1, column 26)"
        );
    }
}

//! One audit line, typed.
//!
//! The keys the operator filters and reads by (server, msisdn, batch, binding, trx, the event
//! kind) are typed once here; everything else stays a JSON value in the line's order, so a key
//! the runtime adds tomorrow is still shown. The parser is hand-written over serde's map access
//! because it runs once per line on files of millions of lines: no intermediate
//! `serde_json::Value` for the whole line, and unknown top-level keys (`span`, `threadId`) are
//! skipped without being built.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::ParseError;

/// A tracing level. Ordered from the most severe: `Error < Warn < … < Trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Error,
        Level::Warn,
        Level::Info,
        Level::Debug,
        Level::Trace,
    ];

    /// As written in the file: `ERROR`, `WARN`, …
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }

    /// `self` is `min` or more severe.
    pub fn is_at_least(self, min: Level) -> bool {
        self <= min
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Case-insensitive; `warning` is accepted for `warn`.
impl FromStr for Level {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let s = s.trim();
        Level::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s))
            .or_else(|| s.eq_ignore_ascii_case("warning").then_some(Level::Warn))
            .ok_or(())
    }
}

/// `fields.event`: what kind of line this is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventKind {
    Binding,
    Purchase,
    Server,
    Operator,
    /// A kind this reader does not know (a newer runtime's): shown as a plain line.
    Other(String),
}

impl EventKind {
    fn from_name(name: String) -> Self {
        match name.as_str() {
            "binding" => EventKind::Binding,
            "purchase" => EventKind::Purchase,
            "server" => EventKind::Server,
            "operator" => EventKind::Operator,
            _ => EventKind::Other(name),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            EventKind::Binding => "binding",
            EventKind::Purchase => "purchase",
            EventKind::Server => "server",
            EventKind::Operator => "operator",
            EventKind::Other(name) => name,
        }
    }
}

/// One line of the trail.
///
/// A well-known key whose value has an unexpected type (a `server` that is not a port) is not
/// typed: it stays in [`AuditLine::fields`], so it is still shown, and it matches no filter on
/// that key.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditLine {
    pub timestamp: DateTime<Utc>,
    pub level: Level,
    /// `fields.message`.
    pub message: Option<String>,
    /// `fields.event`; `None` on the runtime's plain log lines.
    pub event: Option<EventKind>,
    /// `fields.server`: the server's port.
    pub server: Option<u16>,
    /// `fields.msisdn`, as written (the `62…` form).
    pub msisdn: Option<String>,
    pub batch: Option<String>,
    pub binding: Option<i64>,
    pub trx: Option<String>,
    /// Every other key of `fields`, in the line's order.
    pub fields: Vec<(String, Value)>,
    /// The tracing target (`simrotor_runtime::audit`), when written.
    pub target: Option<String>,
}

impl AuditLine {
    /// Parses one line (without its newline).
    pub fn parse(line: &str) -> Result<Self, ParseError> {
        let mut de = serde_json::Deserializer::from_str(line);
        let parsed = AuditLine::deserialize(&mut de).map_err(|e| ParseError::from_json(&e))?;
        de.end().map_err(|e| ParseError::from_json(&e))?;
        Ok(parsed)
    }

    /// A key of `fields` that is not one of the typed ones.
    pub fn field(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// A string that borrows from the line when it has no escapes (the common case).
#[derive(Deserialize)]
struct Str<'a>(#[serde(borrow)] Cow<'a, str>);

impl<'de> Deserialize<'de> for AuditLine {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(LineVisitor)
    }
}

struct LineVisitor;

impl<'de> Visitor<'de> for LineVisitor {
    type Value = AuditLine;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with timestamp, level and fields")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AuditLine, A::Error> {
        let mut timestamp = None;
        let mut level = None;
        let mut fields = None;
        let mut target = None;
        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            match key.as_ref() {
                "timestamp" => {
                    let Str(text) = map.next_value::<Str<'de>>()?;
                    let at = DateTime::parse_from_rfc3339(&text).map_err(|e| {
                        de::Error::custom(format_args!("timestamp {text:?} is not RFC 3339: {e}"))
                    })?;
                    timestamp = Some(at.with_timezone(&Utc));
                }
                "level" => {
                    let Str(text) = map.next_value::<Str<'de>>()?;
                    level =
                        Some(text.parse::<Level>().map_err(|()| {
                            de::Error::custom(format_args!("unknown level {text:?}"))
                        })?);
                }
                "fields" => fields = Some(map.next_value::<Fields>()?),
                "target" => target = Some(map.next_value::<String>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let timestamp = timestamp.ok_or_else(|| de::Error::missing_field("timestamp"))?;
        let level = level.ok_or_else(|| de::Error::missing_field("level"))?;
        let Fields {
            message,
            event,
            server,
            msisdn,
            batch,
            binding,
            trx,
            rest,
        } = fields.unwrap_or_default();
        Ok(AuditLine {
            timestamp,
            level,
            message,
            event,
            server,
            msisdn,
            batch,
            binding,
            trx,
            fields: rest,
            target,
        })
    }
}

#[derive(Default)]
struct Fields {
    message: Option<String>,
    event: Option<EventKind>,
    server: Option<u16>,
    msisdn: Option<String>,
    batch: Option<String>,
    binding: Option<i64>,
    trx: Option<String>,
    rest: Vec<(String, Value)>,
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

/// A string, or a number written as one (a numeric trx id).
fn text(value: Value) -> Result<String, Value> {
    match value {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(other),
    }
}

/// A number, or a string holding one (a field recorded with `%`).
fn integer<T: TryFrom<i64> + FromStr>(value: &Value) -> Option<T> {
    match value {
        Value::Number(n) => n.as_i64().and_then(|n| T::try_from(n).ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the fields object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut out = Fields::default();
        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            let value = map.next_value::<Value>()?;
            let kept = match key.as_ref() {
                "message" => match value {
                    Value::String(s) => {
                        out.message = Some(s);
                        None
                    }
                    other => Some(other),
                },
                "event" => match value {
                    Value::String(s) => {
                        out.event = Some(EventKind::from_name(s));
                        None
                    }
                    other => Some(other),
                },
                "server" => match integer::<u16>(&value) {
                    Some(port) => {
                        out.server = Some(port);
                        None
                    }
                    None => Some(value),
                },
                "binding" => match integer::<i64>(&value) {
                    Some(id) => {
                        out.binding = Some(id);
                        None
                    }
                    None => Some(value),
                },
                "msisdn" | "batch" | "trx" => match text(value) {
                    Ok(s) => {
                        let slot = match key.as_ref() {
                            "msisdn" => &mut out.msisdn,
                            "batch" => &mut out.batch,
                            _ => &mut out.trx,
                        };
                        *slot = Some(s);
                        None
                    }
                    Err(other) => Some(other),
                },
                _ => Some(value),
            };
            if let Some(value) = kept {
                out.rest.push((key.into_owned(), value));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BINDING: &str = r#"{"timestamp":"2026-11-24T08:00:01.234567Z","level":"INFO","fields":{"message":"The binding moved.","event":"binding","server":9903,"batch":"B1","msisdn":"6281234567890","binding":12,"from":"OTP_VERIFIED","to":"TOKEN_LOGIN_FETCHED"},"target":"simrotor_runtime::audit"}"#;

    #[test]
    fn parses_the_documented_line() {
        let line = AuditLine::parse(BINDING).unwrap();
        assert_eq!(
            line.timestamp,
            DateTime::parse_from_rfc3339("2026-11-24T08:00:01.234567Z").unwrap()
        );
        assert_eq!(line.level, Level::Info);
        assert_eq!(line.message.as_deref(), Some("The binding moved."));
        assert_eq!(line.event, Some(EventKind::Binding));
        assert_eq!(line.server, Some(9903));
        assert_eq!(line.batch.as_deref(), Some("B1"));
        assert_eq!(line.msisdn.as_deref(), Some("6281234567890"));
        assert_eq!(line.binding, Some(12));
        assert_eq!(line.trx, None);
        assert_eq!(
            line.fields,
            [
                ("from".to_owned(), Value::from("OTP_VERIFIED")),
                ("to".to_owned(), Value::from("TOKEN_LOGIN_FETCHED")),
            ]
        );
        assert_eq!(line.field("to"), Some(&Value::from("TOKEN_LOGIN_FETCHED")));
        assert_eq!(line.target.as_deref(), Some("simrotor_runtime::audit"));
    }

    #[test]
    fn key_order_escapes_and_extra_top_level_keys_do_not_matter() {
        let line = AuditLine::parse(
            r#"{"target":"x","span":{"name":"s"},"fields":{"message":"Said \"hi\"","b\u0061tch":"B\u00e9"},"level":"WARN","timestamp":"2026-11-24T15:00:00+07:00"}"#,
        )
        .unwrap();
        assert_eq!(line.level, Level::Warn);
        assert_eq!(line.message.as_deref(), Some("Said \"hi\""));
        assert_eq!(line.batch.as_deref(), Some("Bé"));
        assert_eq!(
            line.timestamp,
            DateTime::parse_from_rfc3339("2026-11-24T08:00:00Z").unwrap()
        );
    }

    #[test]
    fn typed_keys_accept_numbers_written_as_strings_and_keep_odd_values_untyped() {
        let line = AuditLine::parse(
            r#"{"timestamp":"2026-11-24T08:00:00Z","level":"INFO","fields":{"server":"9903","binding":"7","trx":123456,"msisdn":6281234567890,"event":5}}"#,
        )
        .unwrap();
        assert_eq!(line.server, Some(9903));
        assert_eq!(line.binding, Some(7));
        assert_eq!(line.trx.as_deref(), Some("123456"));
        assert_eq!(line.msisdn.as_deref(), Some("6281234567890"));
        assert_eq!(line.event, None);
        assert_eq!(line.field("event"), Some(&Value::from(5)));

        let odd = AuditLine::parse(
            r#"{"timestamp":"2026-11-24T08:00:00Z","level":"INFO","fields":{"server":70000,"binding":1.5}}"#,
        )
        .unwrap();
        assert_eq!((odd.server, odd.binding), (None, None));
        assert_eq!(odd.field("server"), Some(&Value::from(70000)));
        assert_eq!(odd.field("binding"), Some(&Value::from(1.5)));
    }

    #[test]
    fn a_line_without_fields_is_still_a_line() {
        let line =
            AuditLine::parse(r#"{"timestamp":"2026-11-24T08:00:00Z","level":"error"}"#).unwrap();
        assert_eq!(line.level, Level::Error);
        assert_eq!(line.message, None);
        assert!(line.fields.is_empty());
    }

    #[test]
    fn unknown_event_kinds_are_kept_by_name() {
        let line = AuditLine::parse(
            r#"{"timestamp":"2026-11-24T08:00:00Z","level":"INFO","fields":{"event":"sms"}}"#,
        )
        .unwrap();
        assert_eq!(line.event, Some(EventKind::Other("sms".to_owned())));
        assert_eq!(line.event.unwrap().name(), "sms");
    }

    #[test]
    fn bad_lines_say_why() {
        let cases = [
            ("", "EOF"),
            ("not json", "expected"),
            (
                r#"{"timestamp":"2026-11-24T08:00:01Z","level":"INFO","fields":{"mess"#,
                "EOF",
            ),
            (r#"{"level":"INFO"}"#, "missing field `timestamp`"),
            (
                r#"{"timestamp":"2026-11-24T08:00:01Z"}"#,
                "missing field `level`",
            ),
            (
                r#"{"timestamp":"yesterday","level":"INFO"}"#,
                "timestamp \"yesterday\" is not RFC 3339",
            ),
            (
                r#"{"timestamp":"2026-11-24T08:00:01Z","level":"LOUD"}"#,
                "unknown level \"LOUD\"",
            ),
            (
                r#"{"timestamp":"2026-11-24T08:00:01Z","level":"INFO"} {}"#,
                "trailing characters",
            ),
            ("[1,2]", "a JSON object"),
        ];
        for (input, want) in cases {
            let err = AuditLine::parse(input).unwrap_err().to_string();
            assert!(err.contains(want), "{input:?}: {err}");
            assert!(!err.contains("line 1"), "{input:?}: {err}");
        }
    }

    #[test]
    fn levels_order_by_severity_and_parse_in_any_case() {
        assert!(Level::Error.is_at_least(Level::Warn));
        assert!(Level::Warn.is_at_least(Level::Warn));
        assert!(!Level::Info.is_at_least(Level::Warn));
        assert_eq!("warning".parse(), Ok(Level::Warn));
        assert_eq!("Debug".parse(), Ok(Level::Debug));
        assert_eq!(" TRACE ".parse(), Ok(Level::Trace));
        assert_eq!("loud".parse::<Level>(), Err(()));
        for level in Level::ALL {
            assert_eq!(level.to_string().parse(), Ok(level));
        }
    }
}

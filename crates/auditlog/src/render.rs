//! One readable line per audit line, for an operator scanning a terminal.
//!
//! The columns are those an operator's eye looks for first: when (in the machine's local time,
//! to the second), how bad (only when not INFO, so warnings stand out), which server, which
//! number; then what happened, in the words of the state machines (`OTP_VERIFIED →
//! TOKEN_LOGIN_FETCHED`) rather than the sentence in `message`. Keys the event kind does not
//! document are appended as `key=value`, so nothing a newer runtime writes is hidden.

use std::fmt::Write as _;

use chrono::{Datelike as _, Local, TimeZone, Timelike as _};
use serde_json::Value;

use crate::{AuditLine, EventKind, Level};

/// Between columns: wide enough to tell them apart when a value has a space.
const GAP: &str = "  ";

/// Renders lines with times in `Tz` (the machine's local zone for the operator).
#[derive(Debug, Clone)]
pub struct Renderer<Tz: TimeZone = Local> {
    tz: Tz,
}

impl Renderer<Local> {
    pub fn local() -> Self {
        Self { tz: Local }
    }
}

impl<Tz: TimeZone> Renderer<Tz> {
    pub fn new(tz: Tz) -> Self {
        Self { tz }
    }

    /// Appends the rendered line to `out`, without a newline.
    pub fn render(&self, line: &AuditLine, out: &mut String) {
        let at = line.timestamp.with_timezone(&self.tz);
        let _ = write!(
            out,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            at.year(),
            at.month(),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        );
        if line.level != Level::Info {
            out.push_str(GAP);
            out.push_str(line.level.name());
        }
        if let Some(port) = line.server {
            let _ = write!(out, "{GAP}{port}");
        }
        if let Some(msisdn) = &line.msisdn {
            out.push_str(GAP);
            push_clean(out, msisdn);
        }
        out.push_str(GAP);
        let start = out.len();
        let shown: &[&str] = match &line.event {
            Some(EventKind::Binding) => {
                binding(line, out);
                &["from", "to"]
            }
            Some(EventKind::Purchase) => purchase(line, out),
            Some(EventKind::Server) => {
                server(line, out);
                &["from", "to", "reason"]
            }
            Some(EventKind::Operator) => {
                operator(line, out);
                &["action", "who", "why"]
            }
            Some(EventKind::Other(_)) | None => {
                plain(line, out);
                &[]
            }
        };
        if matches!(
            line.event,
            Some(
                EventKind::Binding | EventKind::Purchase | EventKind::Server | EventKind::Operator
            )
        ) {
            let mut first = true;
            for (key, value) in line
                .fields
                .iter()
                .filter(|(k, _)| !shown.contains(&k.as_str()))
            {
                out.push_str(if first { GAP } else { " " });
                first = false;
                push_pair(out, key, value);
            }
        }
        // Nothing after the last column: no trailing gap to trip a `grep '…$'`.
        if out.len() == start {
            out.truncate(start - GAP.len());
        }
    }

    /// The rendered line as a new string.
    pub fn to_line(&self, line: &AuditLine) -> String {
        let mut out = String::with_capacity(128);
        self.render(line, &mut out);
        out
    }
}

/// `binding 12  OTP_VERIFIED → TOKEN_LOGIN_FETCHED` (the opening has no `from`).
fn binding(line: &AuditLine, out: &mut String) {
    out.push_str("binding");
    if let Some(id) = line.binding {
        let _ = write!(out, " {id}");
    }
    let mark = out.len();
    out.push_str(GAP);
    if !transition(line, out) {
        out.truncate(mark);
    }
}

/// `purchase TRX123 VCR10 10000 SUKSES  pulsa 45000 → 35000`; before the telco has answered
/// there is no trx, and the attempt's key is what ties the intent to its outcome.
fn purchase(line: &AuditLine, out: &mut String) -> &'static [&'static str] {
    out.push_str("purchase");
    let shown: &'static [&'static str] = match (&line.trx, line.field("attempt")) {
        (Some(trx), _) => {
            out.push(' ');
            push_clean(out, trx);
            &["product", "price", "status", "pulsa_awal", "pulsa_akhir"]
        }
        (None, Some(attempt)) => {
            out.push_str(" attempt ");
            push_value(out, attempt);
            &[
                "attempt",
                "product",
                "price",
                "status",
                "pulsa_awal",
                "pulsa_akhir",
            ]
        }
        (None, None) => &["product", "price", "status", "pulsa_awal", "pulsa_akhir"],
    };
    for key in ["product", "price", "status"] {
        if let Some(value) = present(line, key) {
            out.push(' ');
            push_value(out, value);
        }
    }
    match (present(line, "pulsa_awal"), present(line, "pulsa_akhir")) {
        (None, None) => {}
        (before, after) => {
            out.push_str(GAP);
            out.push_str("pulsa");
            if let Some(before) = before {
                out.push(' ');
                push_value(out, before);
            }
            if let Some(after) = after {
                out.push_str(" → ");
                push_value(out, after);
            }
        }
    }
    shown
}

/// `server IDLE → BUSY (reason)`.
fn server(line: &AuditLine, out: &mut String) {
    out.push_str("server ");
    if !transition(line, out) {
        out.pop();
    }
    if let Some(reason) = present(line, "reason") {
        out.push_str(" (");
        push_value(out, reason);
        out.push(')');
    }
}

/// `operator pause by who: why`.
fn operator(line: &AuditLine, out: &mut String) {
    out.push_str("operator");
    if let Some(action) = present(line, "action") {
        out.push(' ');
        push_value(out, action);
    }
    if let Some(who) = present(line, "who") {
        out.push_str(" by ");
        push_value(out, who);
    }
    if let Some(why) = present(line, "why") {
        out.push_str(": ");
        push_value(out, why);
    }
}

/// The message, then every key not already in a column.
fn plain(line: &AuditLine, out: &mut String) {
    if let Some(message) = &line.message {
        push_clean(out, message);
    }
    let mut first = true;
    let mut pair = |out: &mut String, key: &str, value: &Value| {
        if !first {
            out.push(' ');
        } else if line.message.is_some() {
            out.push_str(GAP);
        }
        first = false;
        push_pair(out, key, value);
    };
    if let Some(EventKind::Other(kind)) = &line.event {
        pair(out, "event", &Value::from(kind.as_str()));
    }
    if let Some(batch) = &line.batch {
        pair(out, "batch", &Value::from(batch.as_str()));
    }
    if let Some(id) = line.binding {
        pair(out, "binding", &Value::from(id));
    }
    if let Some(trx) = &line.trx {
        pair(out, "trx", &Value::from(trx.as_str()));
    }
    for (key, value) in &line.fields {
        pair(out, key, value);
    }
}

/// `FROM → TO`, `TO` alone when it is an opening; whether anything was written.
fn transition(line: &AuditLine, out: &mut String) -> bool {
    match (present(line, "from"), present(line, "to")) {
        (Some(from), Some(to)) => {
            push_value(out, from);
            out.push_str(" → ");
            push_value(out, to);
        }
        (None, Some(to)) => push_value(out, to),
        (Some(from), None) => {
            push_value(out, from);
            out.push_str(" →");
        }
        (None, None) => return false,
    }
    true
}

/// A field that says something (`null` is the runtime's "not known").
fn present<'a>(line: &'a AuditLine, key: &str) -> Option<&'a Value> {
    line.field(key).filter(|v| !v.is_null())
}

/// A value in running text: strings as they are, anything else as compact JSON.
fn push_value(out: &mut String, value: &Value) {
    match value {
        Value::String(s) => push_clean(out, s),
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// `key=value`, the value quoted when it would otherwise be ambiguous.
fn push_pair(out: &mut String, key: &str, value: &Value) {
    push_clean(out, key);
    out.push('=');
    match value {
        Value::String(s)
            if s.is_empty()
                || s.chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '=') =>
        {
            let _ = write!(out, "{value}");
        }
        _ => push_value(out, value),
    }
}

/// Text with its control characters escaped: one event stays one line.
fn push_clean(out: &mut String, s: &str) {
    if !s.contains(|c: char| c.is_control()) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, Utc};

    use super::*;

    fn render(level: &str, fields: &str) -> String {
        let raw = format!(
            r#"{{"timestamp":"2026-11-24T08:03:12.987654Z","level":"{level}","fields":{fields}}}"#
        );
        let line = AuditLine::parse(&raw).unwrap();
        Renderer::new(FixedOffset::east_opt(7 * 3600).unwrap()).to_line(&line)
    }

    #[test]
    fn binding_lines_show_the_transition() {
        assert_eq!(
            render(
                "INFO",
                r#"{"message":"The binding moved.","event":"binding","server":9903,"batch":"B1","msisdn":"6281234567890","binding":12,"from":"OTP_VERIFIED","to":"TOKEN_LOGIN_FETCHED"}"#
            ),
            "2026-11-24 15:03:12  9903  6281234567890  binding 12  OTP_VERIFIED → TOKEN_LOGIN_FETCHED"
        );
        assert_eq!(
            render(
                "INFO",
                r#"{"event":"binding","server":9903,"binding":12,"to":"BOUND"}"#
            ),
            "2026-11-24 15:03:12  9903  binding 12  BOUND"
        );
        assert_eq!(
            render(
                "WARN",
                r#"{"event":"binding","binding":12,"from":"LOGGED_IN","to":"FAILED (OTP_TIMEOUT)"}"#
            ),
            "2026-11-24 15:03:12  WARN  binding 12  LOGGED_IN → FAILED (OTP_TIMEOUT)"
        );
        assert_eq!(
            render("INFO", r#"{"event":"binding"}"#),
            "2026-11-24 15:03:12  binding"
        );
    }

    #[test]
    fn purchase_lines_omit_what_is_missing() {
        assert_eq!(
            render(
                "INFO",
                r#"{"event":"purchase","server":9903,"msisdn":"6281234567890","binding":12,"trx":"TRX123","attempt":"a-1","product":"VCR10","price":10000,"status":"SUKSES","pulsa_awal":45000,"pulsa_akhir":35000}"#
            ),
            "2026-11-24 15:03:12  9903  6281234567890  purchase TRX123 VCR10 10000 SUKSES  pulsa 45000 → 35000  attempt=a-1"
        );
        assert_eq!(
            render(
                "INFO",
                r#"{"event":"purchase","server":9903,"attempt":"a-1","product":"VCR10","price":10000,"status":"PROCESSING","pulsa_awal":45000}"#
            ),
            "2026-11-24 15:03:12  9903  purchase attempt a-1 VCR10 10000 PROCESSING  pulsa 45000"
        );
        assert_eq!(
            render(
                "ERROR",
                r#"{"event":"purchase","trx":"T9","status":"SUSPECT","pulsa_akhir":null}"#
            ),
            "2026-11-24 15:03:12  ERROR  purchase T9 SUSPECT"
        );
        assert_eq!(
            render("INFO", r#"{"event":"purchase","pulsa_akhir":35000}"#),
            "2026-11-24 15:03:12  purchase  pulsa → 35000"
        );
    }

    #[test]
    fn server_and_operator_lines() {
        assert_eq!(
            render(
                "INFO",
                r#"{"event":"server","server":9903,"from":"IDLE","to":"BUSY","reason":"leased 6281234567890"}"#
            ),
            "2026-11-24 15:03:12  9903  server IDLE → BUSY (leased 6281234567890)"
        );
        assert_eq!(
            render(
                "INFO",
                r#"{"event":"server","server":9903,"from":"IDLE","to":"BUSY"}"#
            ),
            "2026-11-24 15:03:12  9903  server IDLE → BUSY"
        );
        assert_eq!(
            render("INFO", r#"{"event":"server","reason":"probe"}"#),
            "2026-11-24 15:03:12  server (probe)"
        );
        assert_eq!(
            render(
                "INFO",
                r#"{"event":"operator","server":9903,"action":"pause","who":"ani","why":"SIM swap"}"#
            ),
            "2026-11-24 15:03:12  9903  operator pause by ani: SIM swap"
        );
        assert_eq!(
            render("INFO", r#"{"event":"operator","action":"resume"}"#),
            "2026-11-24 15:03:12  operator resume"
        );
    }

    #[test]
    fn plain_lines_show_the_message_and_the_other_keys() {
        assert_eq!(
            render(
                "WARN",
                r#"{"message":"The telco refused the login.","server":9903,"msisdn":"6281234567890","error":"wrong PIN","batch":"B1","wrong":true}"#
            ),
            "2026-11-24 15:03:12  WARN  9903  6281234567890  The telco refused the login.  batch=B1 error=\"wrong PIN\" wrong=true"
        );
        assert_eq!(
            render(
                "INFO",
                r#"{"message":"Starting the servers.","servers":20}"#
            ),
            "2026-11-24 15:03:12  Starting the servers.  servers=20"
        );
        assert_eq!(
            render("INFO", r#"{"message":"Done."}"#),
            "2026-11-24 15:03:12  Done."
        );
        assert_eq!(render("DEBUG", "{}"), "2026-11-24 15:03:12  DEBUG");
        assert_eq!(
            render(
                "INFO",
                r#"{"event":"sms","binding":3,"trx":"T1","text":""}"#
            ),
            "2026-11-24 15:03:12  event=sms binding=3 trx=T1 text=\"\""
        );
    }

    #[test]
    fn unknown_keys_of_known_events_are_kept_and_one_event_is_one_line() {
        assert_eq!(
            render(
                "INFO",
                r#"{"event":"binding","binding":1,"to":"BOUND","note":"two\nlines","n":[1,2]}"#
            ),
            "2026-11-24 15:03:12  binding 1  BOUND  note=\"two\\nlines\" n=[1,2]"
        );
        assert_eq!(
            render("INFO", r#"{"message":"a\nb"}"#),
            "2026-11-24 15:03:12  a\\nb"
        );
    }

    #[test]
    fn times_are_shown_in_the_renderers_zone() {
        let line = AuditLine::parse(
            r#"{"timestamp":"2026-11-24T23:59:59.999Z","level":"INFO","fields":{"message":"m"}}"#,
        )
        .unwrap();
        assert_eq!(Renderer::new(Utc).to_line(&line), "2026-11-24 23:59:59  m");
        assert_eq!(
            Renderer::new(FixedOffset::east_opt(7 * 3600).unwrap()).to_line(&line),
            "2026-11-25 06:59:59  m"
        );
    }
}

//! Which lines the operator asked for, and a cheap way to skip the others.
//!
//! A trail holds millions of lines and a question is usually about one number or one server, so
//! [`Matcher::may_match`] rejects most lines by a substring search on the raw bytes before any
//! JSON is parsed. It only ever answers "no" for lines [`Filter::matches`] would also reject (see
//! its comment), so the pre-check changes the speed, never the result.

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
use memchr::memmem::Finder;
use simrotor_domain::Msisdn;

use crate::{AuditLine, FilterError, Level};

/// What to keep; every criterion set must hold. The default keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// `fields.server`, the port.
    pub server: Option<u16>,
    pub msisdn: Option<Msisdn>,
    pub batch: Option<String>,
    pub binding: Option<i64>,
    pub trx: Option<String>,
    /// Lines at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Lines at this level or more severe.
    pub level: Option<Level>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    pub fn matches(&self, line: &AuditLine) -> bool {
        fn same<T: PartialEq + ?Sized>(want: Option<&T>, have: Option<&T>) -> bool {
            want.is_none_or(|w| have == Some(w))
        }
        same(self.server.as_ref(), line.server.as_ref())
            && same(self.binding.as_ref(), line.binding.as_ref())
            && same(self.batch.as_deref(), line.batch.as_deref())
            && same(self.trx.as_deref(), line.trx.as_deref())
            && self.level.is_none_or(|min| line.level.is_at_least(min))
            && self.since.is_none_or(|since| line.timestamp >= since)
            && self
                .msisdn
                .as_ref()
                .is_none_or(|want| line.msisdn.as_deref().is_some_and(|m| same_number(want, m)))
    }
}

/// The trail writes the `62…` form; a line written by hand (or by an older runtime) in the `08…`
/// or `+62…` form still names the same number. Only digit-only forms are normalised, which keeps
/// the national digits contiguous in the raw line: the pre-check relies on it.
fn same_number(want: &Msisdn, written: &str) -> bool {
    if written == want.as_str() {
        return true;
    }
    let digits = written.strip_prefix('+').unwrap_or(written);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && Msisdn::parse(written).is_ok_and(|m| m == *want)
}

/// A [`Filter`] made ready to test millions of lines.
#[derive(Debug, Clone)]
pub struct Matcher {
    filter: Filter,
    /// Byte strings every matching line contains, unless it has an escape (see `may_match`).
    needles: Vec<Finder<'static>>,
}

impl Matcher {
    pub fn new(filter: Filter) -> Self {
        let mut needles: Vec<String> = Vec::new();
        if let Some(port) = filter.server {
            // As a number (9903) or a string ("9903", "09903"): the digits are there either way.
            needles.push(port.to_string());
        }
        if let Some(msisdn) = &filter.msisdn {
            // The national digits (8…) are in all three forms 628…, 08…, +628….
            needles.push(msisdn.as_str()[2..].to_owned());
        }
        if let Some(id) = filter.binding {
            needles.push(id.unsigned_abs().to_string());
        }
        needles.extend(filter.batch.iter().cloned());
        needles.extend(filter.trx.iter().cloned());
        // The rarest first: a line is rejected at the first needle it lacks.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        Self {
            needles: needles
                .iter()
                .map(|n| Finder::new(n.as_bytes()).into_owned())
                .collect(),
            filter,
        }
    }

    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// `false` only for lines that cannot match. A line without a backslash has no JSON escape,
    /// so every string in it (keys and values) appears literally in its bytes: a value equal to
    /// the filter's is then a substring. With a backslash anywhere the line is parsed, whatever
    /// it contains, since an escape (`\u0038`) could spell the digits.
    pub fn may_match(&self, raw: &[u8]) -> bool {
        self.needles.is_empty()
            || self.needles.iter().all(|n| n.find(raw).is_some())
            || memchr::memchr(b'\\', raw).is_some()
    }

    pub fn matches(&self, line: &AuditLine) -> bool {
        self.filter.matches(line)
    }
}

/// `--msisdn` in any form the operator has at hand.
pub fn parse_msisdn(value: &str) -> Result<Msisdn, FilterError> {
    Msisdn::parse(value).map_err(|source| FilterError::Msisdn {
        value: value.to_owned(),
        source,
    })
}

/// `--level`.
pub fn parse_level(value: &str) -> Result<Level, FilterError> {
    value.parse().map_err(|()| FilterError::Level {
        value: value.to_owned(),
    })
}

/// `--since` as the operator means it: now, on this machine's clock and time zone.
pub fn parse_since(value: &str) -> Result<DateTime<Utc>, FilterError> {
    parse_when("--since", value)
}

/// A moment the operator names for `flag` (`--since`, `--until`, a query's `since`), read as
/// [`parse_since_at`] reads it, now, on this machine's clock and time zone; an error names
/// `flag`.
pub fn parse_when(flag: &'static str, value: &str) -> Result<DateTime<Utc>, FilterError> {
    parse_since_at(value, Utc::now(), &Local).map_err(|e| match e {
        FilterError::Since { value, .. } => FilterError::Since { flag, value },
        FilterError::SinceInGap { value, .. } => FilterError::SinceInGap { flag, value },
        other => other,
    })
}

/// `--since`: a duration back from `now` (`2h`, `30m`, `1h 30m`), an RFC 3339 time with its
/// offset, or a date-time without one (`2026-11-24T08:00`, `2026-11-24 08:00:00`, a bare date
/// meaning its midnight) read in `tz`. A local time that happens twice (the hour DST gives back)
/// means the first.
pub fn parse_since_at<Tz: TimeZone>(
    value: &str,
    now: DateTime<Utc>,
    tz: &Tz,
) -> Result<DateTime<Utc>, FilterError> {
    let text = value.trim();
    let bad = || FilterError::Since {
        flag: "--since",
        value: value.to_owned(),
    };
    if text.is_empty() {
        return Err(bad());
    }
    if text.starts_with(|c: char| c.is_ascii_digit()) && !text.contains(['-', ':']) {
        let back = humantime::parse_duration(text).map_err(|_| bad())?;
        let back = chrono::Duration::from_std(back).map_err(|_| bad())?;
        return now.checked_sub_signed(back).ok_or_else(bad);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    const FORMATS: [&str; 6] = [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ];
    let naive = FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .map(|d| d.and_time(chrono::NaiveTime::MIN))
        })
        .ok_or_else(bad)?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| FilterError::SinceInGap {
            flag: "--since",
            value: value.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use chrono::FixedOffset;

    use super::*;

    fn line(json_fields: &str) -> AuditLine {
        line_at("2026-11-24T08:00:00Z", "INFO", json_fields)
    }

    fn line_at(ts: &str, level: &str, json_fields: &str) -> AuditLine {
        AuditLine::parse(&raw(ts, level, json_fields)).unwrap()
    }

    fn raw(ts: &str, level: &str, json_fields: &str) -> String {
        format!(r#"{{"timestamp":"{ts}","level":"{level}","fields":{json_fields}}}"#)
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const FULL: &str = r#"{"event":"purchase","server":9903,"batch":"B1","msisdn":"6281234567890","binding":12,"trx":"TRX123"}"#;

    #[test]
    fn the_empty_filter_keeps_everything() {
        let f = Filter::default();
        assert!(f.is_empty());
        assert!(f.matches(&line("{}")));
        assert!(Matcher::new(f).may_match(b"anything"));
    }

    #[test]
    fn each_key_filter_needs_the_key_with_that_value() {
        let full = line(FULL);
        let bare = line(r#"{"message":"Starting the servers."}"#);
        let filters = [
            (
                Filter {
                    server: Some(9903),
                    ..Filter::default()
                },
                Filter {
                    server: Some(9904),
                    ..Filter::default()
                },
            ),
            (
                Filter {
                    batch: Some("B1".into()),
                    ..Filter::default()
                },
                Filter {
                    batch: Some("B".into()),
                    ..Filter::default()
                },
            ),
            (
                Filter {
                    binding: Some(12),
                    ..Filter::default()
                },
                Filter {
                    binding: Some(1),
                    ..Filter::default()
                },
            ),
            (
                Filter {
                    trx: Some("TRX123".into()),
                    ..Filter::default()
                },
                Filter {
                    trx: Some("TRX12".into()),
                    ..Filter::default()
                },
            ),
            (
                Filter {
                    msisdn: Some(parse_msisdn("6281234567890").unwrap()),
                    ..Filter::default()
                },
                Filter {
                    msisdn: Some(parse_msisdn("6281234567891").unwrap()),
                    ..Filter::default()
                },
            ),
        ];
        for (yes, no) in filters {
            assert!(yes.matches(&full), "{yes:?}");
            assert!(!yes.matches(&bare), "{yes:?} on a line without the key");
            assert!(!no.matches(&full), "{no:?}");
        }
    }

    #[test]
    fn every_form_of_a_number_finds_the_62_form() {
        let full = line(FULL);
        for form in [
            "081234567890",
            "+6281234567890",
            "6281234567890",
            "0812-3456-7890",
        ] {
            let f = Filter {
                msisdn: Some(parse_msisdn(form).unwrap()),
                ..Filter::default()
            };
            assert!(f.matches(&full), "{form}");
            assert!(
                Matcher::new(f).may_match(raw("2026-11-24T08:00:00Z", "INFO", FULL).as_bytes())
            );
        }
    }

    #[test]
    fn a_line_written_in_another_form_still_matches() {
        let want = Filter {
            msisdn: Some(parse_msisdn("081234567890").unwrap()),
            ..Filter::default()
        };
        for written in ["081234567890", "+6281234567890"] {
            assert!(
                want.matches(&line(&format!(r#"{{"msisdn":"{written}"}}"#))),
                "{written}"
            );
        }
        assert!(!want.matches(&line(r#"{"msisdn":"0812345678901"}"#)));
        assert!(!want.matches(&line(r#"{"msisdn":"+"}"#)));
    }

    #[test]
    fn level_means_that_level_or_more_severe() {
        let warn = Filter {
            level: Some(Level::Warn),
            ..Filter::default()
        };
        let at = |level| warn.matches(&line_at("2026-11-24T08:00:00Z", level, "{}"));
        assert!(at("ERROR"));
        assert!(at("WARN"));
        assert!(!at("INFO"));
        assert!(!at("DEBUG"));
        assert!(!at("TRACE"));
    }

    #[test]
    fn since_is_inclusive() {
        let f = Filter {
            since: Some(utc("2026-11-24T08:00:00Z")),
            ..Filter::default()
        };
        assert!(!f.matches(&line_at("2026-11-24T07:59:59.999999Z", "INFO", "{}")));
        assert!(f.matches(&line_at("2026-11-24T08:00:00Z", "INFO", "{}")));
        assert!(f.matches(&line_at("2026-11-24T15:00:01+07:00", "INFO", "{}")));
    }

    #[test]
    fn combined_filters_all_hold() {
        let f = Filter {
            server: Some(9903),
            batch: Some("B1".into()),
            level: Some(Level::Info),
            ..Filter::default()
        };
        assert!(f.matches(&line(FULL)));
        assert!(!f.matches(&line(r#"{"server":9903,"batch":"B2"}"#)));
        assert!(!f.matches(&line_at("2026-11-24T08:00:00Z", "DEBUG", FULL)));
    }

    /// The pre-check never rejects a line the filter keeps: tried on lines that match, written
    /// every way the parser accepts.
    #[test]
    fn the_pre_check_never_rejects_a_match() {
        let f = Filter {
            server: Some(9903),
            msisdn: Some(parse_msisdn("081234567890").unwrap()),
            batch: Some("B1".into()),
            binding: Some(-12),
            trx: Some("TRX123".into()),
            ..Filter::default()
        };
        let m = Matcher::new(f);
        let matching = [
            r#"{"server":9903,"msisdn":"6281234567890","batch":"B1","binding":-12,"trx":"TRX123"}"#,
            r#"{"server":"09903","msisdn":"+6281234567890","batch":"B1","binding":"-12","trx":"TRX123"}"#,
            r#"{"server":9903,"msisdn":"081234567890","batch":"B1","binding":-12,"trx":"TRX123"}"#,
            r#"{"server":9903,"msisdn":"6281234567890","batch":"\u0042\u0031","binding":-12,"trx":"TRX123"}"#,
            r#"{"server":9903,"m\u0073isdn":"62812345678\u0039\u0030","batch":"B1","binding":-12,"trx":"TRX123"}"#,
        ];
        for fields in matching {
            let text = raw("2026-11-24T08:00:00Z", "INFO", fields);
            assert!(m.matches(&AuditLine::parse(&text).unwrap()), "{fields}");
            assert!(m.may_match(text.as_bytes()), "{fields}");
        }
        let other = raw(
            "2026-11-24T08:00:00Z",
            "INFO",
            r#"{"server":9904,"msisdn":"6281234567890"}"#,
        );
        assert!(!m.may_match(other.as_bytes()));
    }

    #[test]
    fn since_accepts_a_duration_back_from_now() {
        let now = utc("2026-11-24T10:00:00Z");
        let tz = FixedOffset::east_opt(7 * 3600).unwrap();
        assert_eq!(
            parse_since_at("2h", now, &tz),
            Ok(utc("2026-11-24T08:00:00Z"))
        );
        assert_eq!(
            parse_since_at("30m", now, &tz),
            Ok(utc("2026-11-24T09:30:00Z"))
        );
        assert_eq!(
            parse_since_at("1h 30m", now, &tz),
            Ok(utc("2026-11-24T08:30:00Z"))
        );
        assert_eq!(
            parse_since_at("2days", now, &tz),
            Ok(utc("2026-11-22T10:00:00Z"))
        );
    }

    #[test]
    fn since_reads_a_time_without_offset_in_the_local_zone() {
        let now = utc("2026-11-24T10:00:00Z");
        let wib = FixedOffset::east_opt(7 * 3600).unwrap();
        let want = utc("2026-11-24T01:00:00Z");
        for text in [
            "2026-11-24T08:00",
            "2026-11-24T08:00:00",
            "2026-11-24T08:00:00.000",
            "2026-11-24 08:00",
            "2026-11-24 08:00:00",
            " 2026-11-24 08:00 ",
        ] {
            assert_eq!(parse_since_at(text, now, &wib), Ok(want), "{text}");
        }
        assert_eq!(
            parse_since_at("2026-11-24", now, &wib),
            Ok(utc("2026-11-23T17:00:00Z"))
        );
        assert_eq!(
            parse_since_at("2026-11-24T08:00", now, &Utc),
            Ok(utc("2026-11-24T08:00:00Z"))
        );
    }

    #[test]
    fn since_takes_an_rfc3339_offset_as_written() {
        let now = utc("2026-11-24T10:00:00Z");
        let wib = FixedOffset::east_opt(7 * 3600).unwrap();
        assert_eq!(
            parse_since_at("2026-11-24T08:00:00+02:00", now, &wib),
            Ok(utc("2026-11-24T06:00:00Z"))
        );
        assert_eq!(
            parse_since_at("2026-11-24T08:00:00Z", now, &wib),
            Ok(utc("2026-11-24T08:00:00Z"))
        );
    }

    #[test]
    fn bad_since_values_name_the_flag_and_the_forms() {
        let now = utc("2026-11-24T10:00:00Z");
        for bad in [
            "",
            "yesterday",
            "2h ago",
            "24-11-2026",
            "2026-11-24T25:00",
            "2026-13-01",
            "-2h",
            "2",
        ] {
            let err = parse_since_at(bad, now, &Utc).unwrap_err().to_string();
            assert!(err.starts_with(&format!("--since {bad:?}")), "{err}");
            assert!(
                err.contains("2h") && err.contains("2026-11-24T08:00"),
                "{err}"
            );
        }
    }

    #[test]
    fn bad_msisdn_and_level_values_name_the_flag() {
        let err = parse_msisdn("12345").unwrap_err().to_string();
        assert!(err.starts_with("--msisdn \"12345\": "), "{err}");
        let err = parse_level("loud").unwrap_err().to_string();
        assert_eq!(
            err,
            "--level \"loud\": expected one of error, warn, info, debug, trace"
        );
        assert_eq!(parse_level("WARN"), Ok(Level::Warn));
    }
}

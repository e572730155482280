//! Property tests of every SMS intake (issue 14): whatever a forwarder app (or anyone) posts —
//! any bytes, headers and query, or an app's example request with one field wrong — [`decode`]
//! and [`verify`] never panic, and every failure is the typed error naming the app and the
//! field, never the SMS text or the secret. `PROPTEST_CASES` raises the case count above 10 000.
//!
//! The strategies are test-support's (`fuzz`), included by path: test-support depends, through
//! its features, on crates that depend on this one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../test-support/src/fuzz.rs"]
#[allow(dead_code)]
mod shared;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::Value;
use shared::{Mutation, Step};
use simrotor_sms::fixture::{self, CODE, SECRET};
use simrotor_sms::{App, DecodeError, Decoded, Method, Posted, decode, verify};

/// The SMS text every example carries.
const TEXT: &str = "Kode OTP Anda: 123456. JANGAN BERIKAN kode ini kepada siapapun.";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(fixture::RECEIVED_AT + 5, 0).unwrap()
}

/// The examples of the apps simrotor takes.
fn examples() -> Vec<(App, fixture::Example)> {
    let all: Vec<_> = fixture::all()
        .into_iter()
        .filter_map(|e| fixture::app_of(e.name).map(|app| (app, e)))
        .collect();
    assert_eq!(all.len(), 14, "the example requests are gone");
    all
}

fn json_examples() -> Vec<(App, &'static str, Value)> {
    examples()
        .into_iter()
        .filter(|(_, e)| e.content_type.is_some_and(|ct| ct.contains("json")))
        .map(|(app, e)| (app, e.name, serde_json::from_slice(e.body).unwrap()))
        .collect()
}

/// A form's fields, in order.
type Pairs = Vec<(String, String)>;

/// The examples that are a URL-encoded form (in the body, or the query for GET).
fn form_examples() -> Vec<(App, fixture::Example, Pairs)> {
    examples()
        .into_iter()
        .filter(|(_, e)| {
            e.method == Method::Get
                || e.content_type
                    .is_some_and(|ct| ct.contains("x-www-form-urlencoded"))
        })
        .map(|(app, e)| {
            let text = std::str::from_utf8(e.body).unwrap();
            let pairs = serde_urlencoded::from_str(text).unwrap();
            (app, e, pairs)
        })
        .collect()
}

/// What every failure must look like: the app first, then what was wrong; never the code,
/// the text or the secret.
fn check_error(app: App, err: &DecodeError) -> Result<String, TestCaseError> {
    let text = err.to_string();
    let shown = format!("{text} {err:?}");
    prop_assert!(text.starts_with(&format!("{app}: ")), "{}", text);
    prop_assert!(text.len() > app.name().len() + 2, "{}", text);
    for secret in [CODE, TEXT, SECRET] {
        prop_assert!(!shown.contains(secret), "{}", shown);
    }
    Ok(text)
}

/// Whether taking `field` out of the example must fail (naming the returned word) or still
/// decode: the fields the app always sends, and the ones it may leave out.
fn required(name: &str, field: &str) -> Option<&'static str> {
    Some(match (name, field) {
        ("bogkonstantin-incoming-sms-to-url", "text") => "text",
        ("capcom6-android-sms-gateway", "event" | "payload" | "payload.message") => {
            if field == "event" { "event" } else { "payload" }
        }
        ("capcom6-android-sms-gateway-app-started", "event" | "deviceId" | "payload") => {
            match field {
                "event" => "event",
                "deviceId" => "deviceId",
                _ => "payload",
            }
        }
        ("dinstar-push-sms", "sms" | "sms[0].text") => "sms",
        // A place taken out of a positional entry shortens it.
        ("ejoin-skyline-recv-sms", f) if f == "type" || f == "sms" || f.starts_with("sms[0][") => {
            if f == "type" {
                "type"
            } else {
                "sms"
            }
        }
        ("gammu-smsd-runonreceive-shim", "SMS_1_TEXT") => "SMS_1_TEXT",
        ("httpsms", "data" | "data.content") => "data",
        ("ibnux-android-sms-gateway", "message") => "message",
        ("kannel-smsbox-get-url", "text") => "text",
        ("pppscn-smsforwarder-default-form" | "pppscn-smsforwarder-json-template", "content") => {
            "content"
        }
        ("textbee", "message") => "message",
        ("ushahidi-smssync", "message") => "message",
        _ => return None,
    })
}

/// `field` or one of its parents (`payload` for `payload.message`, `sms[0]` for
/// `sms[0][5]`) is named in `text`.
fn names_field_or_parent(text: &str, path: &[Step]) -> bool {
    (1..=path.len()).any(|n| text.contains(&shared::path_text(&path[..n])))
}

fn any_app() -> impl Strategy<Value = App> {
    prop::sample::select(App::ALL.to_vec())
}

fn any_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        Just("Content-Type".to_owned()),
        Just("X-Event-Type".to_owned()),
        Just("X-Kannel-From".to_owned()),
        Just("X-Kannel-To".to_owned()),
        Just("X-Kannel-Time".to_owned()),
        Just("X-Kannel-SMSC".to_owned()),
        Just("X-Signature".to_owned()),
        Just("X-Timestamp".to_owned()),
        Just("Authorization".to_owned()),
        Just("X-Simrotor-Token".to_owned()),
        "[A-Za-z-]{1,12}",
    ];
    let value = prop_oneof![
        Just("application/json".to_owned()),
        Just("application/x-www-form-urlencoded".to_owned()),
        Just("text/plain; charset=UTF-16BE".to_owned()),
        Just("message.phone.received".to_owned()),
        Just("Bearer a.b.c".to_owned()),
        Just("1795507201".to_owned()),
        any::<String>(),
    ];
    prop::collection::vec((name, value), 0..5)
}

fn any_query() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "([a-zA-Z_0-9]{1,8}=[a-zA-Z0-9%+]{0,10}&?){0,5}",
        Just("text=kode%204321&from=x&to=1234&time=1795507198".to_owned()),
    ]
}

proptest! {
    #![proptest_config(shared::config())]

    /// Any method, query, headers and body to any app's intake: its SMS or its typed error;
    /// the proof checked over the same bytes fails typed too.
    #[test]
    fn fuzz_any_request_to_any_intake(
        app in any_app(),
        get in any::<bool>(),
        query in any_query(),
        headers in any_headers(),
        body in shared::body_bytes(),
    ) {
        let method = if get { Method::Get } else { Method::Post };
        let mut posted = Posted::new(method, &query, &body);
        posted.headers = headers;
        if let Err(err) = decode(app, &posted) {
            check_error(app, &err)?;
        }
        if let Err(err) = verify(app, &posted, SECRET, now()) {
            let text = err.to_string();
            prop_assert!(text.starts_with(&format!("{app}: ")), "{}", text);
            prop_assert!(!format!("{text} {err:?}").contains(SECRET), "{}", text);
        }
    }

    /// An example with one byte changed, added or taken out, or cut short: decoded or refused
    /// typed, never with the text in the message.
    #[test]
    fn fuzz_an_example_with_a_byte_wrong(
        ((app, example), bytes) in prop::sample::select(examples()).prop_flat_map(|(app, e)| {
            let body = e.body.to_vec();
            (Just((app, e)), shared::near(body))
        }),
    ) {
        let text = std::str::from_utf8(&bytes).unwrap_or("");
        let mut posted = example.posted();
        match example.method {
            Method::Get => posted.query = text,
            Method::Post => posted.body = &bytes,
        }
        if let Err(err) = decode(app, &posted) {
            check_error(app, &err)?;
        }
        if let Err(err) = verify(app, &posted, SECRET, now()) {
            prop_assert!(!err.to_string().contains(SECRET), "{}", err);
        }
    }

    /// A JSON example with one value changed or taken out: decoded, or the error names that
    /// field (or the object it is in). Taking out a field the app always sends fails; taking
    /// out any other still gives the SMS.
    #[test]
    fn fuzz_a_json_example_with_one_field_wrong(
        ((app, name), m) in prop::sample::select(json_examples()).prop_flat_map(|(app, name, v)| {
            (Just((app, name)), shared::mutated(v))
        }),
    ) {
        let body = m.value.to_string();
        let example = fixture::get(name).unwrap();
        let mut posted = example.posted();
        posted.body = body.as_bytes();
        let field = shared::path_text(&m.path);
        let outcome = decode(app, &posted);
        if let Err(err) = &outcome {
            let text = check_error(app, err)?;
            prop_assert!(names_field_or_parent(&text, &m.path), "{}: {:?}: {}", name, m, text);
        }
        if m.mutation == Mutation::Remove {
            match (required(name, &field), &outcome) {
                (Some(word), Err(err)) => {
                    prop_assert!(err.to_string().contains(word), "{}: {}: {}", name, field, err);
                }
                (None, Ok(Decoded::Sms(_) | Decoded::Inventory { .. })) => {}
                // The only SMS of a gateway's push taken out: nothing to use, acknowledged.
                (None, Ok(Decoded::Ignored { .. }))
                    if matches!(m.path.last(), Some(Step::Index(_))) => {}
                (want, got) => prop_assert!(false, "{}: without {}: {:?}, wanted {:?}", name, field, got, want),
            }
        }
    }

    /// A form example with one field taken out, emptied, overlong, not UTF-8 once decoded, or
    /// any text: decoded, or the error names that field.
    #[test]
    fn fuzz_a_form_example_with_one_field_wrong(
        ((app, example, pairs), at, how, any_text) in (
            prop::sample::select(form_examples()),
            any::<prop::sample::Index>(),
            0..8u8,
            any::<String>(),
        ),
    ) {
        let i = at.index(pairs.len());
        let field = pairs[i].0.clone();
        let mut changed = pairs.clone();
        let mut raw_tail = String::new();
        match how {
            0 => {
                changed.remove(i);
            }
            1 => changed[i].1 = String::new(),
            2 => changed[i].1 = " \t ".to_owned(),
            3 => changed[i].1 = "x".repeat(70_000),
            4 => changed[i].1 = "-1".to_owned(),
            5 => changed[i].1 = "99999999999999999999".to_owned(),
            // Percent-escapes of bytes that are not UTF-8.
            6 => {
                changed.remove(i);
                raw_tail = format!("&{field}=%FF%FE%C3");
            }
            _ => changed[i].1 = any_text,
        }
        let form = serde_urlencoded::to_string(&changed).unwrap() + &raw_tail;
        let mut posted = example.posted();
        match example.method {
            Method::Get => posted.query = &form,
            Method::Post => posted.body = form.as_bytes(),
        }
        let outcome = decode(app, &posted);
        if let Err(err) = &outcome {
            let text = check_error(app, err)?;
            prop_assert!(text.contains(&field), "{}: {} ({}): {}", example.name, field, how, text);
        }
        if how <= 2 {
            match (required(example.name, &field), &outcome) {
                (Some(word), Err(err)) => {
                    prop_assert!(err.to_string().contains(word), "{}: {}: {}", example.name, field, err);
                }
                (None, Ok(Decoded::Sms(_))) => {}
                (want, got) => prop_assert!(
                    false, "{}: {} ({}): {:?}, wanted {:?}", example.name, field, how, got, want
                ),
            }
        }
    }

    /// Kannel's and httpSMS's headers, one taken out, emptied or replaced: the SMS still
    /// comes (every header is optional), or a typed error.
    #[test]
    fn fuzz_an_example_with_one_header_wrong(
        ((app, example), at, how, value) in (
            prop::sample::select(examples()),
            any::<prop::sample::Index>(),
            0..3u8,
            any::<String>(),
        ),
    ) {
        let mut posted = example.posted();
        if posted.headers.is_empty() {
            return Ok(());
        }
        let i = at.index(posted.headers.len());
        match how {
            0 => {
                posted.headers.remove(i);
            }
            1 => posted.headers[i].1 = String::new(),
            _ => posted.headers[i].1 = value,
        }
        if let Err(err) = decode(app, &posted) {
            check_error(app, &err)?;
        }
        if let Err(err) = verify(app, &posted, SECRET, now()) {
            prop_assert!(!err.to_string().contains(SECRET), "{}", err);
        }
    }
}

#[test]
fn fuzz_sanity_every_example_still_decodes_and_verifies() {
    for (app, example) in examples() {
        let posted = example.posted();
        match decode(app, &posted) {
            Ok(Decoded::Sms(list)) => assert_eq!(list[0].text.expose(), TEXT, "{}", example.name),
            Ok(Decoded::Inventory { .. }) => {}
            other => panic!("{}: {other:?}", example.name),
        }
        if app.auth() != simrotor_sms::AuthKind::Token {
            assert_eq!(
                verify(app, &posted, SECRET, now()),
                Ok(()),
                "{}",
                example.name
            );
        }
    }
    let body = TEXT.replace("123456", "\u{0}");
    let err = decode(
        App::Textbee,
        &Posted::new(Method::Post, "", body.as_bytes()),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "textbee: the body is not valid JSON (a syntax error at line 1, column 1)"
    );
}

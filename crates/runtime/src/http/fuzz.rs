//! Property tests of the admin API's JSON bodies (issue 14), at the function level: any bytes,
//! or a valid body with one value wrong, as `POST /sms`, `POST /api/otp` or a server action's
//! and a suspect's note, never panic; every refusal says what is wrong with the body, by field
//! when a field is, and never echoes a value (it may be the code). `PROPTEST_CASES` raises the
//! case count above 10 000.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{Value, json};
use simrotor_test_support::fuzz::{self, Mutation, Step};

use super::admin::{Note, note};
use super::otp::OperatorOtp;
use super::reply::{ApiError, parse_body};
use crate::otp::IncomingSms;

/// The code and the text the valid bodies carry: never in a message.
const CODE: &str = "918273";
const TEXT: &str = "Kode OTP Anda: 918273. JANGAN BERIKAN kode ini kepada siapapun.";
const EXPECTED: &str = "{\"example\": 1}";

/// One body the admin API takes, read by its own parser.
#[derive(Debug, Clone, Copy)]
enum Body {
    Sms,
    Otp,
    Note,
}

impl Body {
    const ALL: [Body; 3] = [Body::Sms, Body::Otp, Body::Note];

    fn valid(self) -> Value {
        match self {
            Body::Sms => json!({
                "msisdn": "6281234567890",
                "message": TEXT,
                "received_at": "2026-11-24T08:00:00Z",
            }),
            Body::Otp => json!({"server": 9903, "code": CODE}),
            Body::Note => json!({"who": "budi", "why": format!("saw {CODE} in the portal")}),
        }
    }

    /// The fields a body must have: taking one out is refused naming it.
    fn required(self) -> &'static [&'static str] {
        match self {
            Body::Sms => &["msisdn", "message"],
            Body::Otp => &["server", "code"],
            Body::Note => &[],
        }
    }

    fn parse(self, bytes: &[u8]) -> Result<(), ApiError> {
        match self {
            Body::Sms => parse_body::<IncomingSms>(bytes, EXPECTED).map(drop),
            Body::Otp => parse_body::<OperatorOtp>(bytes, EXPECTED).map(drop),
            Body::Note => note(bytes, EXPECTED).map(|_: Note| ()),
        }
    }
}

/// What every refusal must say: what is wrong with the body and where, then the example; no
/// value from the body.
fn check_error(err: &ApiError) -> Result<String, TestCaseError> {
    let text = err.to_string();
    prop_assert!(text.starts_with("the body "), "{}", text);
    prop_assert!(
        text.contains("(line ") && text.contains(", column "),
        "{}",
        text
    );
    prop_assert!(
        text.ends_with(&format!("; expected {EXPECTED}")),
        "{}",
        text
    );
    prop_assert!(
        !text.contains(CODE) && !text.contains("Kode OTP"),
        "{}",
        text
    );
    Ok(text)
}

fn any_body() -> impl Strategy<Value = Body> {
    prop::sample::select(Body::ALL.to_vec())
}

#[test]
fn fuzz_sanity_valid_bodies_parse_and_a_wrong_field_is_named() {
    for body in Body::ALL {
        body.parse(body.valid().to_string().as_bytes()).unwrap();
    }
    let err = Body::Otp
        .parse(br#"{"server": "9903", "code": "918273"}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`server`") && !err.contains("9903"), "{err}");
    let err = Body::Otp
        .parse(br#"{"server": 9903}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing field `code`"), "{err}");
    let err = Body::Note
        .parse(br#"{"who": "budi", "wh": "x"}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `wh`"), "{err}");
    // A blank note is no note: server actions take an empty body.
    Body::Note.parse(b" \n").unwrap();
}

proptest! {
    #![proptest_config(fuzz::config())]

    /// Any bytes as any body: read, or refused with where it stops being the body.
    #[test]
    fn fuzz_any_bytes_as_a_body(body in any_body(), bytes in fuzz::body_bytes()) {
        if let Err(err) = body.parse(&bytes) {
            check_error(&err)?;
        }
    }

    /// A valid body with one value changed or taken out: read, or refused naming that field;
    /// a required field taken out is always refused.
    #[test]
    fn fuzz_a_body_with_one_value_wrong(
        (body, m) in any_body().prop_flat_map(|b| (Just(b), fuzz::mutated(b.valid()))),
    ) {
        let bytes = m.value.to_string();
        let outcome = body.parse(bytes.as_bytes());
        let Some(Step::Key(field)) = m.path.first() else {
            return Err(TestCaseError::fail("the bodies are objects"));
        };
        if let Err(err) = &outcome {
            let text = check_error(err)?;
            prop_assert!(text.contains(&format!("`{field}`")), "{:?}: {}", m, text);
        }
        if m.mutation == Mutation::Remove && body.required().contains(&field.as_str()) {
            prop_assert!(outcome.is_err(), "{:?} without {} was taken", body, field);
        }
    }
}

//! Property tests of the answer parser (issue 14): whatever a server sends — any bytes under
//! any HTTP status, or a real answer with one value changed — [`interpret`] never panics, and
//! every failure is a [`SlotError`] that names the call (and the field, when a field is what
//! is wrong). `PROPTEST_CASES` raises the case count above 10 000.

// A panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Value, json};
use simrotor_test_support::fuzz::{self, Mutation, Step};

use super::*;

fn answers() -> Vec<(String, Call, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/answers");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let call = Call::from_name(name.split("__").next().unwrap()).unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((name, call, serde_json::from_str(&text).unwrap()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 15, "the real answers are gone: {}", out.len());
    out
}

fn any_call() -> impl Strategy<Value = Call> {
    prop::sample::select(Call::ALL.to_vec())
}

fn any_status() -> impl Strategy<Value = u16> {
    prop_oneof![Just(200u16), 200..300u16, 100..600u16, any::<u16>()]
}

/// What every failure must look like: the call's error, naming it first; a protocol error
/// keeps the body it could not use, and one about a field names the field.
fn check_error(call: Call, body: &[u8], err: &SlotError) -> Result<(), TestCaseError> {
    let text = err.to_string();
    prop_assert_eq!(err.call, call, "{}", text);
    prop_assert!(text.starts_with(&format!("{}: ", call.path())), "{}", text);
    match &err.kind {
        SlotErrorKind::Protocol { what } => {
            prop_assert_eq!(err.raw.is_some(), !body.is_empty(), "{}", text);
            if let ProtocolProblem::MissingField { field } | ProtocolProblem::BadValue { field } =
                what
            {
                prop_assert!(!field.is_empty() && text.contains(field), "{}", text);
            }
        }
        SlotErrorKind::Refused { .. } => {
            prop_assert!(err.raw.is_some(), "a refusal without its body: {}", text);
        }
        other => prop_assert!(false, "the parser made a {other:?}: {text}"),
    }
    Ok(())
}

/// Where each real answer carries the value its call is for, and a word its error must name.
fn required(name: &str) -> Option<(Vec<Step>, &'static str)> {
    let path = |keys: &[&str]| keys.iter().map(|k| Step::Key((*k).to_owned())).collect();
    Some(match name {
        "verifyOtp__ok" => (path(&["data", "tokenid"]), "login token"),
        n if n.starts_with("balance_pulsa__") => (path(&["res", "balance"]), "res.balance"),
        "trx_idv__accepted" => (path(&["res", "data", "trx_id"]), "trx_id"),
        "status_idv__success" | "status_idv__suspect" | "status_idv__processing_inferred" => {
            (path(&["res", "data", "is_success"]), "is_success")
        }
        "list_idv__reseller" => (path(&["data", "product_list"]), "product"),
        "list_idv__reseller_enveloped_inferred" => {
            (path(&["res", "data", "product_list"]), "product")
        }
        _ => return None,
    })
}

#[test]
fn fuzz_sanity_every_real_answer_still_parses() {
    for (name, call, value) in answers() {
        let body = value.to_string();
        let outcome = interpret(call, 200, body.as_bytes());
        let refusal = name.contains("failed") || name.contains("refused");
        match &outcome {
            Err(e) if refusal => assert!(e.refusal_reason().is_some(), "{name}: {e}"),
            Ok(_) if !refusal && !name.contains("not_reseller") => {}
            Ok(Meaning::Products(ProductListing::NotReseller { .. })) => {}
            other => panic!("{name}: {other:?}"),
        }
    }
}

proptest! {
    #![proptest_config(fuzz::config())]

    /// Any bytes, any status, any call: a value or the call's typed error, never a panic.
    #[test]
    fn fuzz_any_body_under_any_status(
        call in any_call(),
        status in any_status(),
        body in fuzz::body_bytes(),
    ) {
        let outcome = interpret(call, status, &body);
        let _ = describe(&outcome, false);
        if let Err(err) = &outcome {
            check_error(call, &body, err)?;
        }
    }

    /// A real answer with one value changed or taken out anywhere in it.
    #[test]
    fn fuzz_a_real_answer_with_one_value_wrong(
        (name, call, m) in prop::sample::select(answers()).prop_flat_map(|(name, call, value)| {
            fuzz::mutated(value).prop_map(move |m| (name.clone(), call, m))
        }),
        status in prop_oneof![4 => Just(200u16), 1 => any_status()],
    ) {
        let body = m.value.to_string();
        let outcome = interpret(call, status, body.as_bytes());
        let _ = describe(&outcome, false);
        if let Err(err) = &outcome {
            check_error(call, body.as_bytes(), err)
                .map_err(|e| TestCaseError::fail(format!("{name}: {m:?}: {e}")))?;
        }
    }

    /// Without the value the call is for (or with one nobody can read), a real answer is the
    /// call's protocol error naming that value: never a success.
    #[test]
    fn fuzz_a_real_answer_without_its_value_names_it(
        (name, call, value) in prop::sample::select(answers()),
        mutation in prop_oneof![
            Just(Mutation::Remove),
            Just(Mutation::Replace(Value::Null)),
            Just(Mutation::Replace(json!({}))),
            Just(Mutation::Replace(json!(""))),
            Just(Mutation::Replace(json!([{}]))),
        ],
    ) {
        let Some((path, word)) = required(&name) else {
            return Ok(());
        };
        prop_assert!(fuzz::get_at(&value, &path).is_some(), "{}: no {:?}", name, path);
        let body = fuzz::apply(&value, &path, &mutation).to_string();
        match interpret(call, 200, body.as_bytes()) {
            Err(err @ SlotError { kind: SlotErrorKind::Protocol { .. }, .. }) => {
                let text = err.to_string();
                prop_assert!(text.contains(word), "{}: {:?}: {}", name, mutation, text);
                check_error(call, body.as_bytes(), &err)?;
            }
            other => prop_assert!(false, "{}: {:?}: {:?}", name, mutation, other),
        }
    }

    /// Unknown fields are ignored: a field nobody reads, added at the top, in `res` or in
    /// `data`, changes nothing in what a real answer means.
    #[test]
    fn fuzz_an_unknown_field_changes_nothing(
        (name, call, value) in prop::sample::select(answers()),
        at in prop::sample::select(vec![vec![], vec!["res"], vec!["data"], vec!["res", "data"]]),
        key in "zz_[a-z]{1,8}",
        extra in fuzz::json(),
    ) {
        let want = describe(&interpret(call, 200, value.to_string().as_bytes()), true);
        let mut changed = value.clone();
        let mut here = &mut changed;
        for k in &at {
            match here.get_mut(*k) {
                Some(next) => here = next,
                None => return Ok(()),
            }
        }
        let Some(obj) = here.as_object_mut() else {
            return Ok(());
        };
        obj.insert(key, extra);
        let got = describe(&interpret(call, 200, changed.to_string().as_bytes()), true);
        prop_assert_eq!(got, want, "{}", name);
    }
}

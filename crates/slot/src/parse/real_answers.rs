//! The real servers' answers, one fixture per known shape in `tests/fixtures/answers/` (copied
//! from `contract/answers/`), each with its expected meaning beside it in `<name>.meaning`: the
//! one line [`describe`] must print for it. A new real shape is a fixture and a `.meaning` file;
//! this test finds it by itself.
//!
//! Every fixture marked *inferred* (nobody has seen it) also gets variants below: the same
//! meaning with the details nobody knows changed, so that the client does not hang on a guess.

// A panic is how a test fails; `unwrap` here says "this step must work".
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/answers")
}

/// The call a fixture belongs to: its name up to `__`.
fn call_of(name: &str) -> Call {
    let prefix = name.split("__").next().unwrap();
    Call::from_name(prefix).unwrap_or_else(|| panic!("{name}: no call is named {prefix:?}"))
}

fn meaning_of(call: Call, body: &[u8]) -> String {
    describe(&interpret(call, 200, body), true)
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(dir().join(format!("{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn expected(name: &str) -> String {
    let text = std::fs::read_to_string(dir().join(format!("{name}.meaning"))).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{name}.meaning must hold one meaning line");
    lines[0].to_owned()
}

#[test]
fn every_real_answer_means_what_its_meaning_file_says() {
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "meaning") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let has_body = ["json", "txt"]
                .iter()
                .any(|ext| dir().join(format!("{stem}.{ext}")).exists());
            assert!(has_body, "{stem}.meaning has no fixture beside it");
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let body = std::fs::read(&path).unwrap();
        let call = call_of(&name);
        assert_eq!(
            meaning_of(call, &body),
            expected(&name),
            "{} read as {call}",
            path.display()
        );
        checked.push(name);
    }
    // Every shape of the contract's evidence, and no fewer.
    assert_eq!(checked.len(), 18, "{checked:?}");
}

#[test]
fn the_contracts_answers_are_all_here_unchanged() {
    // CI has a copy of shared/ beside the clone; a developer's machine too. Where it is not,
    // the copies in the project are what the other test reads.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/contract/answers");
    let Ok(entries) = std::fs::read_dir(&shared) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            continue;
        }
        let ours = std::fs::read(dir().join(&name))
            .unwrap_or_else(|_| panic!("contract/answers/{name} has no copy in the fixtures"));
        assert_eq!(
            ours,
            std::fs::read(&path).unwrap(),
            "{name} differs from the contract"
        );
    }
}

/// `value` with `res` unwrapped to the top (or the top wrapped in `res`).
fn flip_envelope(value: &Value) -> Value {
    match value.get("res") {
        Some(res) => res.clone(),
        None => json!({"req": {"username": "081200000001"}, "res": value}),
    }
}

/// Sets `key` in `res` when the answer has it, at the top otherwise.
fn set(mut value: Value, key: &str, to: Value) -> Value {
    let target = if value.get("res").is_some() {
        &mut value["res"]
    } else {
        &mut value
    };
    if to.is_null() {
        target.as_object_mut().unwrap().remove(key);
    } else {
        target[key] = to;
    }
    value
}

fn variant_means(call: Call, value: &Value, want: &str) {
    assert_eq!(
        meaning_of(call, value.to_string().as_bytes()),
        want,
        "{value}"
    );
}

#[test]
fn myim3_failures_whatever_their_code_and_envelope() {
    for name in ["otp__failed_inferred", "verifyOtp__failed_inferred"] {
        let call = call_of(name);
        let base = fixture(name);
        let want = expected(name);
        let as_int = set(base.clone(), "status", json!(1));
        variant_means(call, &as_int, &want);
        variant_means(call, &flip_envelope(&base), &want);
        let other_code = set(base.clone(), "status", json!("99"));
        variant_means(call, &other_code, &want.replace("\"1\"", "\"99\""));
    }
    // A status "0" whose data.status says false is no success.
    let denied = json!({"status": "0", "message": "gagal", "data": {"status": "false"}});
    assert_eq!(
        meaning_of(Call::RequestOtp, denied.to_string().as_bytes()),
        "refused (other refusal, status \"data.status=false\"): gagal"
    );
    // A wrong code said in other words is still a wrong code: never sent again blindly.
    let worded = set(
        fixture("verifyOtp__failed_inferred"),
        "message",
        json!("OTP tidak valid"),
    );
    assert_eq!(
        meaning_of(Call::VerifyOtp, worded.to_string().as_bytes()),
        "refused (wrong OTP, status \"1\"): OTP tidak valid"
    );
    // Success without the token is unusable, not a login.
    let no_token = json!({"status": "0", "data": {"status": true}});
    assert!(meaning_of(Call::VerifyOtp, no_token.to_string().as_bytes()).starts_with("unusable: "),);
}

#[test]
fn the_enveloped_product_list_whatever_its_number_types() {
    let name = "list_idv__reseller_enveloped_inferred";
    let want = expected(name);
    let mut value = fixture(name);
    variant_means(Call::ListProducts, &flip_envelope(&value), &want);
    value["res"]["status"] = json!(200);
    value["res"]["data"]["product_list"][0]["id"] = json!("650");
    value["res"]["data"]["product_list"][0]["lower_price"] = json!(100_000);
    variant_means(Call::ListProducts, &value, &want);
    // Only a status_msg, no status.
    let value = set(fixture(name), "status", Value::Null);
    variant_means(Call::ListProducts, &value, &want);
}

#[test]
fn a_logout_is_any_answer_but_a_refusal() {
    let name = "logout__ack_inferred";
    let want = expected(name);
    variant_means(Call::Logout, &flip_envelope(&fixture(name)), &want);
    for (body, meaning) in [
        (
            r#"{"status":"200","status_msg":"success","message":"Logout berhasil"}"#,
            "accepted, message \"Logout berhasil\"",
        ),
        (r#"{"req":{"username":"0812"},"res":{}}"#, "accepted"),
        ("", "accepted"),
        ("OK", "accepted, message \"OK\""),
        (
            r#"{"req":{},"res":{"status":"401","message":"token expired"}}"#,
            "refused (session expired, status \"401\"): token expired",
        ),
    ] {
        assert_eq!(meaning_of(Call::Logout, body.as_bytes()), meaning, "{body}");
    }
    assert!(
        describe(
            &interpret(Call::Logout, 502, b"<html>Bad Gateway</html>"),
            true
        )
        .starts_with("unusable: ")
    );
}

#[test]
fn not_final_whatever_the_unseen_is_success_value() {
    let name = "status_idv__processing_inferred";
    let want = expected(name);
    for flag in [json!(0), json!("1"), json!(3), json!(1.0)] {
        let mut value = fixture(name);
        value["res"]["data"]["is_success"] = flag;
        variant_means(Call::TrxStatus, &value, &want);
    }
    let mut value = fixture(name);
    value["res"]["data"]
        .as_object_mut()
        .unwrap()
        .remove("voucher");
    variant_means(Call::TrxStatus, &value, &want);
    variant_means(Call::TrxStatus, &flip_envelope(&fixture(name)), &want);
}

#[test]
fn shop_refusals_whatever_their_code_and_envelope() {
    for name in ["trx_idv__refused_inferred", "otp_idv__failed_inferred"] {
        let call = call_of(name);
        let want = expected(name);
        let base = fixture(name);
        variant_means(call, &set(base.clone(), "status", json!(400)), &want);
        variant_means(call, &flip_envelope(&base), &want);
        // Only status_msg "failed": still a refusal, its status shown as that word.
        let msg_only = set(base.clone(), "status", Value::Null);
        variant_means(call, &msg_only, &want.replace("\"400\"", "\"failed\""));
    }
    // The reason is read from the words, wherever the shop puts them.
    let poor = set(
        fixture("trx_idv__refused_inferred"),
        "message",
        json!("Maaf, pulsa tidak cukup"),
    );
    assert_eq!(
        meaning_of(Call::Buy, poor.to_string().as_bytes()),
        "refused (insufficient pulsa, status \"400\"): Maaf, pulsa tidak cukup"
    );
    let worded = set(
        fixture("otp_idv__failed_inferred"),
        "message",
        json!("Kode OTP salah"),
    );
    assert_eq!(
        meaning_of(Call::TransactionOtp, worded.to_string().as_bytes()),
        "refused (wrong OTP, status \"400\"): Kode OTP salah"
    );
}

#[test]
fn a_status_is_a_refusal_only_where_the_calls_success_code_is_known() {
    // The shop's success code on a login call is not the login's success code.
    let body = r#"{"status":"200","message":"x","data":{"status":"true","tokenid":"t"}}"#;
    assert!(meaning_of(Call::VerifyOtp, body.as_bytes()).starts_with("refused "));
    // The login's "0" stays a success on the shop's calls (the first version's code).
    let body =
        r#"{"req":{},"res":{"status":"0","data":{"trx_id":"a","is_success":2,"voucher":"V"}}}"#;
    assert_eq!(
        meaning_of(Call::TrxStatus, body.as_bytes()),
        "success, voucher V"
    );
    // /balance_pulsa has no known success code: a status beside a balance refuses nothing...
    let body = r#"{"req":{},"res":{"status":"200","balance":"5000"}}"#;
    assert_eq!(meaning_of(Call::Balance, body.as_bytes()), "balance 5000");
    // ...but an expired session says so in words, balance or not.
    let body = r#"{"req":{},"res":{"status":"401","message":"token expired","balance":"0"}}"#;
    assert_eq!(
        meaning_of(Call::Balance, body.as_bytes()),
        "refused (session expired, status \"401\"): token expired"
    );
}

#[test]
fn what_decides_a_purchase_is_its_trx_id_and_its_final_flag_not_the_status() {
    // A trx_id under a status nobody knows: accepted, so it is followed, never booked refused.
    let mut accepted = fixture("trx_idv__accepted");
    accepted["res"]["status"] = json!("201");
    accepted["res"]["status_msg"] = json!("pending");
    assert!(
        meaning_of(Call::Buy, accepted.to_string().as_bytes())
            .starts_with("purchase accepted, trx_id 0000000000000000000000000000a001"),
    );
    // A final flag with a voucher under a failing status: the voucher is not lost.
    let mut done = fixture("status_idv__success");
    done["res"]["status"] = json!("400");
    done["res"]["status_msg"] = json!("failed");
    assert_eq!(
        meaning_of(Call::TrxStatus, done.to_string().as_bytes()),
        expected("status_idv__success")
    );
    done["res"]["data"]["voucher"] = Value::Null;
    assert_eq!(
        meaning_of(Call::TrxStatus, done.to_string().as_bytes()),
        expected("status_idv__suspect")
    );
}

#[test]
fn a_json_literal_is_no_location_token() {
    for body in ["null", "false", "0", " true\n"] {
        let meaning = meaning_of(Call::TokenLocation, body.as_bytes());
        assert!(meaning.starts_with("unusable: "), "{body:?}: {meaning}");
    }
    assert_eq!(
        meaning_of(Call::TokenLocation, br#""eyJ0eXAi.e30.x""#),
        "location token \"eyJ0eXAi.e30.x\""
    );
}

#[test]
fn the_layout_table_has_one_row_per_call() {
    for call in Call::ALL {
        let rows = LAYOUTS.iter().filter(|l| l.call == *call).count();
        assert_eq!(rows, 1, "{call}");
        assert_eq!(layout(*call).call, *call);
    }
}

#[test]
fn tokens_are_masked_unless_asked_for() {
    let body = std::fs::read(dir().join("verifyOtp__ok.json")).unwrap();
    let outcome = interpret(Call::VerifyOtp, 200, &body);
    let masked = describe(&outcome, false);
    assert!(!masked.contains("tok-login"), "{masked}");
    assert!(masked.contains("39 chars, masked"), "{masked}");
    assert!(describe(&outcome, true).contains("tok-login-0001"));
}

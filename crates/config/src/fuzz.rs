//! Property tests of the configuration loader (issue 14): any text as `config.toml`, or the
//! shipped `config.toml` with one value wrong, never panics, and every refusal is a
//! [`ConfigError`] naming the key (or, for text that is not TOML, the line). `PROPTEST_CASES`
//! raises the case count above 10 000.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::LazyLock;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use toml::{Table, Value};

use super::*;

/// `max(10 000, PROPTEST_CASES)`, no regression files: CI leaves the tree as it was.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .map_or(10_000, |n| n.max(10_000));
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// OTP patterns that compile in microseconds: the shipped ones take 10 ms in a debug build,
/// which every valid case would pay (they are checked once, in the sanity test).
const CHEAP_PATTERNS: [&str; 2] = ["kode ([0-9]{4,8})", "([0-9]{4,8})"];

/// The defaults, then `text` as the file: what `load` does, without a file or the environment.
fn load_text(text: &str) -> Result<Config, ConfigError> {
    static DEFAULTS: LazyLock<Figment> = LazyLock::new(|| {
        let mut defaults = Config::default();
        defaults.otp.patterns = CHEAP_PATTERNS.map(str::to_owned).to_vec();
        Figment::from(Serialized::defaults(defaults))
    });
    from_figment(&DEFAULTS.clone().merge(Toml::string(text)))
}

fn shipped_as_is() -> Table {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config.toml");
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

/// The shipped file, with [`CHEAP_PATTERNS`].
fn shipped() -> Table {
    let mut file = shipped_as_is();
    let patterns = CHEAP_PATTERNS.map(|p| Value::String(p.to_owned())).to_vec();
    file["otp"]["patterns"] = Value::Array(patterns);
    file
}

/// One step to a value of the file: a key, or a place in an array.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every value of the file that is not a table, with its path.
fn leaves(table: &Table) -> Vec<Vec<Step>> {
    fn walk(value: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        match value {
            Value::Table(t) => {
                for (k, v) in t {
                    here.push(Step::Key(k.clone()));
                    walk(v, here, out);
                    here.pop();
                }
            }
            Value::Array(items) if items.iter().any(|i| i.is_table() || i.is_array()) => {
                for (i, v) in items.iter().enumerate() {
                    here.push(Step::Index(i));
                    walk(v, here, out);
                    here.pop();
                }
            }
            Value::Array(items) => {
                out.push(here.clone());
                for i in 0..items.len() {
                    here.push(Step::Index(i));
                    out.push(here.clone());
                    here.pop();
                }
            }
            _ => out.push(here.clone()),
        }
    }
    let mut out = Vec::new();
    walk(&Value::Table(table.clone()), &mut Vec::new(), &mut out);
    out
}

fn get_mut<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

/// The last key of a path: what any message about it must say.
fn last_key(path: &[Step]) -> &str {
    path.iter()
        .rev()
        .find_map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) => None,
        })
        .unwrap_or("")
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Integer(_) | Value::Float(_) => "number",
        Value::Boolean(_) => "boolean",
        Value::Datetime(_) => "datetime",
        Value::Array(_) => "array",
        Value::Table(_) => "table",
    }
}

/// Values of the wrong type or out of range: negative, zero, huge, fractional, empty, not a
/// duration, containers.
fn wrong_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::String(String::new())),
        Just(Value::String("abc".to_owned())),
        Just(Value::String("30".to_owned())),
        Just(Value::String("-5s".to_owned())),
        Just(Value::String("9".repeat(400))),
        any::<String>().prop_map(Value::String),
        Just(Value::Integer(-1)),
        Just(Value::Integer(0)),
        Just(Value::Integer(70_000)),
        Just(Value::Integer(i64::MAX)),
        Just(Value::Integer(i64::MIN)),
        any::<i64>().prop_map(Value::Integer),
        Just(Value::Float(-0.5)),
        Just(Value::Float(1e300)),
        Just(Value::Float(f64::NAN)),
        any::<bool>().prop_map(Value::Boolean),
        Just(Value::Array(Vec::new())),
        Just(Value::Array(vec![Value::Boolean(true)])),
        Just(Value::Table(Table::new())),
    ]
}

/// Where a value of another type may still be right: a port list or range, a float that is
/// an integer, a list emptied.
fn may_take_another_type(path: &[Step], old: &Value, new: &Value) -> bool {
    let key = last_key(path);
    matches!((old, new), (Value::Float(_), Value::Integer(_)))
        // An amount is also taken as digits in a string.
        || (old.is_integer() && new.as_str().is_some_and(|s| s.trim().parse::<u64>().is_ok()))
        || (key == "ports" && matches!(new, Value::String(_) | Value::Array(_)))
        || (old.is_array() && new.as_array().is_some_and(Vec::is_empty))
        // A secret or a PIN is taken as text or as digits.
        || (["pin", "default_pin", "secret", "token", "forward_secret"].contains(&key)
            && matches!(new, Value::String(_) | Value::Integer(_)))
}

/// Text that looks like a `config.toml`: sections and keys the file has, values of any type.
fn toml_like() -> impl Strategy<Value = String> {
    let section = prop::sample::select(vec![
        "database",
        "servers",
        "login",
        "products",
        "otp",
        "sms",
        "restart",
        "logging",
        "admin",
        "daemon",
        "simulator",
        "simulator.faults",
        "servers.overrides.9905",
        "sms.capcom6",
        "nope",
    ]);
    let key = prop::sample::select(vec![
        "url",
        "host",
        "ports",
        "timeout",
        "retries",
        "pacing",
        "max_attempts",
        "wanted",
        "limit_harga",
        "source",
        "patterns",
        "listen",
        "token",
        "dir",
        "level",
        "seed",
        "reseller_rate",
        "secret",
        "enabled",
        "backoff_min",
        "window",
        "keep",
        "zzz",
    ]);
    let value = prop_oneof![
        Just("\"5s\"".to_owned()),
        Just("\"abc\"".to_owned()),
        Just("-1".to_owned()),
        Just("0".to_owned()),
        Just("99999999999999999999".to_owned()),
        Just("1.5".to_owned()),
        Just("true".to_owned()),
        Just("[]".to_owned()),
        Just("[1, \"a\"]".to_owned()),
        Just("{}".to_owned()),
        Just("\"\"".to_owned()),
        Just("\"127.0.0.1:0\"".to_owned()),
        Just("'(\\d{4})'".to_owned()),
        "[ -~]{0,12}",
    ];
    prop::collection::vec((section, prop::collection::vec((key, value), 0..4)), 0..4).prop_map(
        |sections| {
            sections
                .into_iter()
                .map(|(s, kvs)| {
                    let body: String = kvs.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
                    format!("[{s}]\n{body}")
                })
                .collect()
        },
    )
}

/// What every refusal must say: a key for a value that is wrong, the place for text that is
/// not TOML.
fn check_error(err: &ConfigError) -> Result<String, TestCaseError> {
    let text = err.to_string();
    match err {
        ConfigError::Invalid { key, .. } => {
            prop_assert!(!key.is_empty() && text.contains(key.as_str()), "{}", text);
        }
        ConfigError::Parse(detail) => {
            let placed = detail.contains("for key")
                || detail.contains("unknown field")
                || detail.contains("line ")
                || detail.contains("column");
            prop_assert!(placed, "a refusal that names no key: {}", text);
        }
        ConfigError::MissingFile(_) => prop_assert!(false, "no file was asked for: {}", text),
    }
    Ok(text)
}

#[test]
fn fuzz_sanity_the_shipped_file_loads_and_a_wrong_key_is_named() {
    for file in [shipped_as_is(), shipped()] {
        let text = toml::to_string(&file).unwrap();
        load_text(&text).unwrap();
    }
    let err = load_text("[servers]\nretries = \"abc\"\n").unwrap_err();
    assert!(err.to_string().contains("servers.retries"), "{err}");
    let err = load_text("[servers\n").unwrap_err();
    assert!(check_error(&err).is_ok(), "{err}");
}

proptest! {
    #![proptest_config(config())]

    /// Any text as the file: a configuration or a refusal that says where.
    #[test]
    fn fuzz_any_text_as_the_file(text in prop_oneof![any::<String>(), toml_like()]) {
        if let Err(err) = load_text(&text) {
            check_error(&err)?;
        }
    }

    /// The shipped file with one value replaced: still valid, or refused naming that key;
    /// a value of another type is always refused (where only one type is right).
    #[test]
    fn fuzz_the_shipped_file_with_one_value_wrong(
        (path, new) in (prop::sample::select(leaves(&shipped())), wrong_value()),
    ) {
        let mut file = Value::Table(shipped());
        let slot = get_mut(&mut file, &path).unwrap();
        let old = std::mem::replace(slot, new.clone());
        let text = toml::to_string(&file).unwrap();
        let key = last_key(&path);
        match load_text(&text) {
            Ok(_) => prop_assert!(
                kind(&old) == kind(&new) || may_take_another_type(&path, &old, &new),
                "{:?}: {} = {} taken for a {}", path, key, new, kind(&old)
            ),
            Err(err) => {
                let text = check_error(&err)?;
                prop_assert!(text.contains(key), "{:?} = {}: {}", path, new, text);
            }
        }
    }
}

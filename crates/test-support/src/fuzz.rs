//! What the property tests (`fuzz_*`, issue 14) share: the case count, a proptest config that
//! leaves no files behind, arbitrary bytes and JSON, and "one value changed at one path" of a
//! known-good JSON body, so each parser's tests say only what they expect of it.
//!
//! Depends on `proptest` and `serde_json` alone: crates that cannot depend on this crate (a
//! cycle through its features) include this file with `#[path]`.

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Value, json};

/// The fewest cases any property runs: issue 14's 10 000 per target in CI.
pub const MIN_CASES: u32 = 10_000;

/// `max(10 000, PROPTEST_CASES)`: the bench runs more with the same tests.
pub fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .map_or(MIN_CASES, |n| n.max(MIN_CASES))
}

/// [`cases`] cases, and no `proptest-regressions` files written: CI leaves the tree as it was.
pub fn config() -> Config {
    Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Any JSON value, up to three levels deep: every type, odd numbers and odd strings included.
pub fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        "[0-9a-z_ .:+-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A value to put where another was: each JSON type, the empty and the blank string, negative,
/// zero, huge and fractional numbers, an overlong string, empty and non-empty containers.
pub fn wrong_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!("")),
        Just(json!("   ")),
        Just(json!("abc")),
        Just(json!("-1")),
        Just(json!("99999999999999999999999")),
        Just(Value::String("9".repeat(5_000))),
        Just(Value::String("x".repeat(70_000))),
        any::<bool>().prop_map(Value::Bool),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(i64::MIN)),
        Just(json!(u64::MAX)),
        Just(json!(1e300)),
        Just(json!(-0.5)),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
        json().prop_map(|v| json!([v])),
        json().prop_map(|v| json!({ "x": v })),
        json(),
    ]
}

/// The same content as the other JSON type: a number as its text, digits as a number, a
/// string as a one-element array, a container as its opposite.
pub fn twin(value: &Value) -> Value {
    match value {
        Value::Null => json!("null"),
        Value::Bool(b) => json!(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(n) => json!(n),
            Err(_) => match s.trim().parse::<f64>() {
                Ok(f) => serde_json::Number::from_f64(f).map_or(json!([s]), Value::Number),
                Err(_) => json!([s]),
            },
        },
        Value::Array(items) => Value::Object(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v.clone()))
                .collect(),
        ),
        Value::Object(map) => Value::Array(map.values().cloned().collect()),
    }
}

/// One step down a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A path as the decoders name fields: `payload.message`, `sms[0][5]`.
pub fn path_text(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Every path below the root, parents before children.
pub fn paths(value: &Value) -> Vec<Vec<Step>> {
    fn walk(value: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        let children: Vec<(Step, &Value)> = match value {
            Value::Object(map) => map.iter().map(|(k, v)| (Step::Key(k.clone()), v)).collect(),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (Step::Index(i), v))
                .collect(),
            _ => Vec::new(),
        };
        for (step, child) in children {
            here.push(step);
            out.push(here.clone());
            walk(child, here, out);
            here.pop();
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

/// The value at `path`.
pub fn get_at<'a>(value: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.get(k.as_str()),
        Step::Index(i) => v.get(*i),
    })
}

fn get_mut_at<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

/// What is done at the path.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    /// The key (or the array element) is taken out.
    Remove,
    /// The value is replaced by its [`twin`] of the other type.
    Twin,
    /// The value is replaced by this one.
    Replace(Value),
}

/// `Remove`, `Twin`, or a [`wrong_value`].
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => Just(Mutation::Remove),
        2 => Just(Mutation::Twin),
        5 => wrong_value().prop_map(Mutation::Replace),
    ]
}

/// `original` with `mutation` done at `path` (unchanged when the path is not there).
pub fn apply(original: &Value, path: &[Step], mutation: &Mutation) -> Value {
    let mut out = original.clone();
    match mutation {
        Mutation::Remove => {
            if let Some((last, parent)) = path.split_last()
                && let Some(parent) = get_mut_at(&mut out, parent)
            {
                match (last, parent) {
                    (Step::Key(k), Value::Object(map)) => {
                        map.remove(k);
                    }
                    (Step::Index(i), Value::Array(items)) if *i < items.len() => {
                        items.remove(*i);
                    }
                    _ => {}
                }
            }
        }
        Mutation::Twin | Mutation::Replace(_) => {
            if let Some(slot) = get_mut_at(&mut out, path) {
                *slot = match mutation {
                    Mutation::Replace(v) => v.clone(),
                    _ => twin(slot),
                };
            }
        }
    }
    out
}

/// One mutation of a known-good body: where, what, and the body it gives.
#[derive(Debug, Clone)]
pub struct Mutated {
    pub path: Vec<Step>,
    pub mutation: Mutation,
    pub value: Value,
}

/// `original` with one [`mutation`] at one of its paths (`original` must have one).
pub fn mutated(original: Value) -> impl Strategy<Value = Mutated> {
    let all = paths(&original);
    assert!(!all.is_empty(), "a body to mutate needs a field");
    (prop::sample::select(all), mutation()).prop_map(move |(path, mutation)| Mutated {
        value: apply(&original, &path, &mutation),
        path,
        mutation,
    })
}

/// Bytes as a peer may send them: random bytes, random text, JSON of any shape, and JSON cut
/// short or with one byte changed.
pub fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        any::<String>().prop_map(String::into_bytes),
        json().prop_map(|v| v.to_string().into_bytes()),
        (json(), any::<prop::sample::Index>()).prop_map(|(v, at)| {
            let mut text = v.to_string().into_bytes();
            text.truncate(at.index(text.len() + 1));
            text
        }),
        (json(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(v, at, b)| {
            let mut text = v.to_string().into_bytes();
            if !text.is_empty() {
                let i = at.index(text.len());
                text[i] = b;
            }
            text
        }),
    ]
}

/// Bytes near a known-good body: cut short, one byte changed, one byte inserted, or one byte
/// taken out.
pub fn near(good: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    (0..4u8, any::<prop::sample::Index>(), any::<u8>()).prop_map(move |(how, at, b)| {
        let mut out = good.clone();
        let i = at.index(out.len() + 1);
        match how {
            0 => out.truncate(i),
            1 if i < out.len() => out[i] = b,
            2 => out.insert(i, b),
            _ if i < out.len() => {
                out.remove(i);
            }
            _ => out.push(b),
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_mutations_and_names_do_what_they_say() {
        let v = json!({"a": {"b": [1, "2"]}, "c": null});
        let all: Vec<String> = paths(&v).iter().map(|p| path_text(p)).collect();
        assert_eq!(all, ["a", "a.b", "a.b[0]", "a.b[1]", "c"]);
        let b1 = [Step::Key("a".into()), Step::Key("b".into()), Step::Index(1)];
        assert_eq!(get_at(&v, &b1), Some(&json!("2")));
        assert_eq!(apply(&v, &b1, &Mutation::Twin)["a"]["b"][1], json!(2));
        assert_eq!(apply(&v, &b1, &Mutation::Remove)["a"]["b"], json!([1]));
        let c = [Step::Key("c".into())];
        assert_eq!(
            apply(&v, &c, &Mutation::Remove),
            json!({"a": {"b": [1, "2"]}})
        );
        assert_eq!(apply(&v, &c, &Mutation::Replace(json!(7)))["c"], json!(7));
        assert!(cases() >= MIN_CASES);
    }
}

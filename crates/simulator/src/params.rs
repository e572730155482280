//! The query string of a slot call, as the simulated server reads it: the world's rules read
//! their inputs from it and the answers' shapes echo it back (secrets masked).

use std::collections::BTreeMap;

use serde_json::Value;

/// The query of a call, first value of each name kept.
#[derive(Debug, Default)]
pub(crate) struct Params(pub BTreeMap<String, String>);

impl Params {
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            map.entry(k).or_insert(v);
        }
        Self(map)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// The query as the envelope's `req` echoes it, secrets masked.
    pub(crate) fn echo(&self) -> Value {
        let map = self
            .0
            .iter()
            .map(|(k, v)| {
                let shown = if matches!(k.as_str(), "pin" | "otp") {
                    "****".to_owned()
                } else {
                    v.clone()
                };
                (k.clone(), Value::String(shown))
            })
            .collect();
        Value::Object(map)
    }
}

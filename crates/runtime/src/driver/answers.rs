//! What the server said, as the driver keeps it: raw answers as a binding's or a purchase's
//! evidence, and the answers nobody could read, kept once per streak (secrets masked) for
//! `simrotor answers`, with the binding or purchase they came for.

use std::sync::Arc;

use serde_json::json;
use simrotor_persistence::{AnswerKind, Binding, NewUnusableAnswer, Purchase};
use simrotor_slot::{Call, RawAnswer, RefusalReason, SlotError, SlotErrorKind, mask_secrets};

use super::Driver;

/// Which binding (and purchase) a call is made for: an answer nobody can read is kept with them.
#[derive(Debug, Clone, Copy)]
pub(super) struct About {
    binding: i64,
    purchase: Option<i64>,
}

impl About {
    pub(super) fn binding(binding: &Binding) -> Self {
        Self {
            binding: binding.id,
            purchase: None,
        }
    }

    pub(super) fn purchase(binding: &Binding, purchase: &Purchase) -> Self {
        Self {
            binding: binding.id,
            purchase: Some(purchase.id),
        }
    }
}

/// The last unusable answer kept for a server: the same one again in a row (a status poll, a
/// balance asked again) is kept once per streak, not once per call.
#[derive(Debug, Default, Clone)]
pub struct KeptStreak(Arc<std::sync::Mutex<Option<(i64, Call, String)>>>);

impl KeptStreak {
    /// Whether this answer starts a new streak (and so is kept).
    fn starts(&self, binding: i64, call: Call, what: String) -> bool {
        let mut last = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = Some((binding, call, what));
        if *last == key {
            return false;
        }
        *last = key;
        true
    }
}

/// An answer as evidence: its JSON, or its text as a JSON string.
pub(super) fn raw(reply_raw: &RawAnswer) -> serde_json::Value {
    match reply_raw {
        RawAnswer::Json(v) => v.clone(),
        RawAnswer::Text(t) => serde_json::Value::String(t.clone()),
    }
}

/// A failed call as evidence: the error and the body that came with it.
pub(super) fn raw_error(e: &SlotError) -> serde_json::Value {
    // Kept with the binding or purchase: secrets masked, like every kept body.
    let body = e.raw_body().map(|body| mask_secrets(e.call, body));
    json!({ "error": e.to_string(), "body": body })
}

impl Driver {
    /// Keeps an answer the parser could not use (or a refusal no rule knows) with its binding
    /// or purchase, secrets masked, for `simrotor answers`: a real shape is never lost. Best
    /// effort: the binding goes on whether or not it could be kept.
    pub(super) async fn keep_unusable(&self, about: About, e: &SlotError) {
        let kind = match &e.kind {
            SlotErrorKind::Protocol { .. } => AnswerKind::Unusable,
            SlotErrorKind::Refused {
                reason: RefusalReason::Other,
                ..
            } => AnswerKind::UnknownRefusal,
            _ => return,
        };
        // The kind's words, without the request id that differs on every call.
        if !self.kept.starts(about.binding, e.call, e.kind.to_string()) {
            return;
        }
        let answer = NewUnusableAnswer {
            server_id: self.server_id,
            call: e.call.name().to_owned(),
            binding_id: Some(about.binding),
            transaction_id: about.purchase,
            kind,
            error: e.to_string(),
            body: e.raw_body().map(|body| mask_secrets(e.call, body)),
        };
        match self.store.record_unusable_answer(&answer).await {
            Ok(id) => {
                tracing::info!(
                    server = self.port,
                    call = e.call.name(),
                    kind = kind.name(),
                    answer = id,
                    binding = about.binding,
                    "An answer could not be used as it came; it is kept for `simrotor answers`."
                )
            }
            Err(err) => {
                tracing::warn!(server = self.port, call = e.call.name(), error = %err, "An answer nobody could read could not be kept.")
            }
        }
    }
}

//! The slot API client: how simrotor talks to the operator's resource servers.
//!
//! A resource server holds one SIM and speaks the slot API (`/otp`, `/verifyOtp`,
//! `/balance_pulsa`, `/token_location3`, `/list_idv`, `/trx_idv`, `/otp_idv`, `/status_idv`,
//! `/logout`; see `contract/slot-api.md`). This crate turns those calls into typed values and
//! typed errors, and nothing more: what to do next is the runtime's business.
//!
//! - [`SlotClient`] is the API as a trait, one async method per call, object-safe so the
//!   runtime can hold an `Arc<dyn SlotClient>` and swap in the simulator or a test double.
//! - [`HttpSlotClient`] is the real thing: one reqwest connection pool per server, the server's
//!   timeout over the whole exchange, its pacing between calls, an `X-Request-Id` on every call,
//!   and repeats with backoff and jitter only for calls where a repeat is harmless
//!   ([`RepeatPolicy`]). `/trx_idv` is never repeated: a failure after it may have reached the
//!   server is [`SlotErrorKind::OutcomeUnknown`], for the runtime to reconcile.
//! - Every answer is read in one module (`parse`) driven by one table, [`LAYOUTS`]: per call, its
//!   envelope, its success rule and where each field is looked for. It is tested against one
//!   fixture per real answer shape in `tests/fixtures/answers/` (each with its expected meaning
//!   beside it) and the first version's shapes in `tests/fixtures/<path>/`. [`interpret`] reads
//!   any body as the client would, for `simrotor probe` and for tests.
//! - Every success is a [`Reply`] that carries the raw answer for the audit; every failure is a
//!   [`SlotError`] that tells a telco refusal (with a [`RefusalReason`]) from a transport failure
//!   (and whether the request may have reached the server) from a protocol error, with the raw
//!   body when there was one.
//! - Secrets ([`Otp`], [`TokenLogin`], [`TokenLocation`], and the domain's `Pin`) never show in
//!   `Debug`, in logs or in errors; raw answers print only their size, since some hold tokens.
//!   MSISDNs go out in local `08…` form.

mod client;
mod error;
mod http;
mod parse;
mod secret;
mod types;

pub use client::SlotClient;
pub use error::{
    ProtocolProblem, RefusalReason, SlotError, SlotErrorKind, SlotResult, TransportKind,
};
pub use http::{
    CallGate, HttpClientError, HttpOptions, HttpSlotClient, Probed, REQUEST_ID_HEADER, RepeatPolicy,
};
pub use parse::{
    BodyKind, FIRST_VERSION_CODES, Field, LAYOUTS, Layout, Meaning, REFUSAL_RULES, SUCCESS_WORDS,
    Success, describe, interpret, layout,
};
pub use secret::{Otp, TokenLocation, TokenLogin, mask_secrets};
pub use simrotor_domain::Call;
pub use types::{
    Ack, Balance, Product, ProductListing, RawAnswer, RawBody, Reply, TrxAccepted, TrxProgress,
};

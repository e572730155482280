//! SeaORM entities, one per table of the owner's model. Columns hold plain values; the typed
//! domain values are built from them by the store, never trusted raw.

pub mod account;
pub mod binding;
pub mod server;
pub mod sms_channel;
pub mod transaction;
pub mod unusable_answer;

//! One decoder per app, from the request as it came into [`Decoded`].
//!
//! (Skeleton: the decoders land with the intake work of issue 11.)

use crate::{App, Decoded, Posted};

/// Why a request is not one the app sends. Never echoes a value: the text holds the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{app} requests are not decoded yet")]
    Unsupported { app: App },
}

/// The SMS (or the inventory) in a request `app` posted.
pub fn decode(app: App, _posted: &Posted<'_>) -> Result<Decoded, DecodeError> {
    Err(DecodeError::Unsupported { app })
}

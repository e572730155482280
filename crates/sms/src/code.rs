//! The OTP in an SMS text.
//!
//! (Skeleton: the keyword-first finder lands with issue 11.)

/// The patterns tried in order when the configuration names none.
pub const DEFAULT_PATTERNS: &[&str] = &[r"\b(\d{4,8})\b"];

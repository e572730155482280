//! Properties of the domain's state machines over random event sequences.

mod helpers;
mod machines;

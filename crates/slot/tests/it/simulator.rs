//! The real client against the simulator of the operator's servers, over real HTTP: every call
//! of a binding's life, every refusal as the typed error (or outcome) the runtime decides on,
//! and every fault knob at rate 1 as the client reports it, held against what the simulated
//! servers really did (their ledger, their SMS, the pulsa they keep).

mod calls;
mod faults;
mod refusals;

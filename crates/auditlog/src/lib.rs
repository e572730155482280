//! The runtime's audit trail, read back: `simrotor logs`. (Being written.)

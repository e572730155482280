//! What the runtime takes from the configuration, resolved once: the driver reads only this.

use std::time::Duration;

use simrotor_config::Config;
use simrotor_domain::{Backoff, Jitter, Pin, PollSchedule, Rupiah};

/// The runtime's view of the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub default_pin: Option<Pin>,
    pub max_attempts: u32,
    /// Wanted product ids, in order of preference.
    pub wanted: Vec<String>,
    pub limit_harga: Rupiah,
    pub pause_between: Duration,
    /// When a purchase's status is asked (`products.status_poll_*`).
    pub status_polls: PollSchedule,
    pub status_deadline: Duration,
    pub otp_timeout: Duration,
    pub max_wrong_otp: u32,
    pub transaction_otp: bool,
    /// `restart.backoff_min` … `backoff_max`, a quarter of jitter more: the one backoff of a
    /// failing server. The supervisor waits it before restarting a server's actor; the driver
    /// probes a server that stopped answering, and asks one that answers garbage again, on it.
    pub restart_backoff: Backoff,
    /// Consecutive unusable answers before a binding is given up.
    pub max_protocol_errors: u32,
}

impl Settings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            default_pin: config.login.default_pin.as_ref().map(|p| p.0.clone()),
            max_attempts: config.login.max_attempts,
            wanted: config.products.wanted.clone(),
            limit_harga: config.products.limit_harga,
            pause_between: config.products.pause_between,
            status_polls: PollSchedule {
                first: config.products.status_poll_first,
                min: config.products.status_poll_min,
                max: config.products.status_poll_max,
            },
            status_deadline: config.products.status_deadline,
            otp_timeout: config.otp.timeout,
            max_wrong_otp: config.otp.max_wrong,
            transaction_otp: config.otp.transaction_otp,
            restart_backoff: Backoff::new(
                config.restart.backoff_min,
                config.restart.backoff_max,
                Jitter::QuarterMore,
            ),
            max_protocol_errors: 3,
        }
    }
}

//! The other way round, for the simulator: one SMS posted exactly as a given app posts it,
//! signed, with or without the receiving number.
//!
//! (Skeleton: the encoders land with the simulator work of issue 11.)

use chrono::{DateTime, Utc};
use simrotor_domain::Msisdn;

use crate::{App, Method};

/// One SMS the simulated telco delivered to a SIM, to be posted as an app would.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub receiving: &'a Msisdn,
    /// Whether the app says which SIM received it (most do not).
    pub with_number: bool,
    /// The phone, modem or gateway holding the SIM.
    pub device: &'a str,
    /// The SIM's slot or port on it, from 1.
    pub slot: u8,
    pub sender: &'a str,
    pub text: &'a str,
    pub at: DateTime<Utc>,
    /// The app's id of this SMS.
    pub id: &'a str,
}

/// The request to send: to the intake's URL plus `query`.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub method: Method,
    /// Appended to the intake URL after `?`, when not empty.
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// `sms` as `app` posts it, signed with `secret` when there is one.
pub fn encode(_app: App, _sms: &Outgoing<'_>, _secret: Option<&str>) -> Encoded {
    Encoded {
        method: Method::Post,
        query: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

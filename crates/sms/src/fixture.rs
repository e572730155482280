//! The contract's example requests (`../shared/contract/sms-forwarders/*.http`), copied
//! byte-exact into `crates/sms/fixtures/` and built in, so that every layer's tests post them as
//! they are: the decoders here, the intakes of the admin API, the end-to-end tests.
//!
//! The file format: line 1 the method, line 2 the content type or `none`, then header lines, a
//! blank line, then the body byte-exact; for GET the "body" is the query string.

use crate::{Method, Posted};

/// Every example, by file name without `.http`.
pub const FILES: &[(&str, &[u8])] = &[
    (
        "bogkonstantin-incoming-sms-to-url",
        include_bytes!("../fixtures/bogkonstantin-incoming-sms-to-url.http"),
    ),
    (
        "capcom6-android-sms-gateway-app-started",
        include_bytes!("../fixtures/capcom6-android-sms-gateway-app-started.http"),
    ),
    (
        "capcom6-android-sms-gateway",
        include_bytes!("../fixtures/capcom6-android-sms-gateway.http"),
    ),
    (
        "dinstar-push-sms",
        include_bytes!("../fixtures/dinstar-push-sms.http"),
    ),
    (
        "ejoin-skyline-recv-sms",
        include_bytes!("../fixtures/ejoin-skyline-recv-sms.http"),
    ),
    (
        "gammu-smsd-runonreceive-shim",
        include_bytes!("../fixtures/gammu-smsd-runonreceive-shim.http"),
    ),
    ("httpsms", include_bytes!("../fixtures/httpsms.http")),
    (
        "ibnux-android-sms-gateway",
        include_bytes!("../fixtures/ibnux-android-sms-gateway.http"),
    ),
    (
        "kannel-smsbox-get-url",
        include_bytes!("../fixtures/kannel-smsbox-get-url.http"),
    ),
    (
        "kannel-smsbox-post-url",
        include_bytes!("../fixtures/kannel-smsbox-post-url.http"),
    ),
    (
        "pppscn-smsforwarder-default-form",
        include_bytes!("../fixtures/pppscn-smsforwarder-default-form.http"),
    ),
    (
        "pppscn-smsforwarder-json-template",
        include_bytes!("../fixtures/pppscn-smsforwarder-json-template.http"),
    ),
    ("textbee", include_bytes!("../fixtures/textbee.http")),
    (
        "twilio-inbound-sms",
        include_bytes!("../fixtures/twilio-inbound-sms.http"),
    ),
    (
        "ushahidi-smssync",
        include_bytes!("../fixtures/ushahidi-smssync.http"),
    ),
];

/// The SIM, sender, code, time and secret every example uses.
pub const RECEIVING: &str = "6281200000001";
pub const SENDER: &str = "+6281200000099";
pub const CODE: &str = "123456";
pub const SECRET: &str = "test-secret";
/// 2026-11-24T08:00:00Z, when the examples' SIM received the SMS (Unix seconds).
pub const RECEIVED_AT: i64 = 1_795_507_200;

/// Which app's intake takes each example (`None`: an app simrotor does not take).
pub fn app_of(name: &str) -> Option<crate::App> {
    use crate::App;
    Some(match name {
        n if n.starts_with("pppscn-smsforwarder") => App::SmsForwarder,
        n if n.starts_with("capcom6") => App::Capcom6,
        n if n.starts_with("bogkonstantin") => App::Bogkonstantin,
        n if n.starts_with("gammu") => App::Gammu,
        n if n.starts_with("kannel") => App::Kannel,
        n if n.starts_with("ushahidi") => App::Smssync,
        n if n.starts_with("ejoin") => App::Ejoin,
        n if n.starts_with("dinstar") => App::Dinstar,
        "httpsms" => App::Httpsms,
        "textbee" => App::Textbee,
        n if n.starts_with("ibnux") => App::Ibnux,
        _ => return None,
    })
}

/// One example request, split into its parts.
#[derive(Debug, Clone)]
pub struct Example {
    pub name: &'static str,
    pub method: Method,
    /// The `Content-Type`, or `None` (`none` in the file).
    pub content_type: Option<&'static str>,
    pub headers: Vec<(&'static str, &'static str)>,
    /// The body byte-exact; for GET, the query string.
    pub body: &'static [u8],
}

impl Example {
    pub fn header(&self, name: &str) -> Option<&'static str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The example as an intake receives it.
    pub fn posted(&self) -> Posted<'static> {
        let (query, body): (&'static str, &'static [u8]) = match self.method {
            Method::Get => (std::str::from_utf8(self.body).unwrap_or(""), b""),
            Method::Post => ("", self.body),
        };
        let mut posted = Posted::new(self.method, query, body);
        if let Some(ct) = self.content_type {
            posted = posted.with_header("Content-Type", ct);
        }
        for (n, v) in &self.headers {
            posted = posted.with_header(n, v);
        }
        posted
    }
}

/// The example named `name` (file name without `.http`).
pub fn get(name: &str) -> Option<Example> {
    let (name, bytes) = FILES.iter().find(|(n, _)| *n == name)?;
    parse(name, bytes)
}

/// Every example, in file-name order.
pub fn all() -> Vec<Example> {
    FILES.iter().filter_map(|(n, b)| parse(n, b)).collect()
}

fn parse(name: &'static str, bytes: &'static [u8]) -> Option<Example> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (head, body_text) = text.split_once("\n\n")?;
    let mut lines = head.lines();
    let method = match lines.next()? {
        "GET" => Method::Get,
        "POST" => Method::Post,
        _ => return None,
    };
    let content_type = match lines.next()? {
        "none" => None,
        ct => Some(ct),
    };
    let headers = lines.filter_map(|l| l.split_once(": ")).collect::<Vec<_>>();
    let start = bytes.len() - body_text.len();
    Some(Example {
        name,
        method,
        content_type,
        headers,
        body: &bytes[start..],
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_file_parses_and_names_its_app() {
        let all = all();
        assert_eq!(all.len(), FILES.len());
        for example in &all {
            assert!(!example.body.is_empty(), "{}", example.name);
        }
        let taken = all.iter().filter(|e| app_of(e.name).is_some()).count();
        // Twilio is in the contract but not taken (decisions.md): it serves no physical SIM.
        assert_eq!(taken, FILES.len() - 1);
        let kannel = get("kannel-smsbox-post-url").unwrap();
        assert_eq!(kannel.header("x-kannel-to"), Some("6281200000001"));
        assert!(kannel.body.starts_with(b"Kode OTP"));
        assert_eq!(get("kannel-smsbox-get-url").unwrap().method, Method::Get);
    }
}

//! The other way round, for the simulator: one SMS posted exactly as a given app posts it,
//! signed, with or without the receiving number, so that the demo and the tests run the real
//! formats end to end.
//!
//! Each encoder follows the app's example request in `fixtures/` field by field: the same field
//! names, the same encoding (form, JSON, a JSON template's layout, base64 text, CloudEvents),
//! the same `Content-Type`, the same signature or token:
//!
//! | app | request | receiving number (`with_number`) | device, slot | proof |
//! |---|---|---|---|---|
//! | smsforwarder | its JSON template `{device, card_slot, from, content, receive_time, timestamp, sign}` | in the slot remark: `card_slot = SIM<slot>_<number>`, else `SIM<slot>` | `device` = the device mark | `sign` over `timestamp` (URL-encoded once) |
//! | capcom6 | `sms:received` event | `payload.recipient` (`+62…`), else absent | `deviceId`, `payload.simNumber` | `X-Signature` + `X-Timestamp` |
//! | bogkonstantin | its default JSON template (its layout) | `"to"` added to the slot's template (the maintainer's advice), else absent | `sim` = `sim<slot>` (no device) | `?token=` |
//! | gammu | the RunOnReceive shim's form | `PHONE_ID`, else the device | `PHONE_ID` | `?token=` |
//! | kannel | the get-url query (GET) | `to`, else `1234` (a modem without `my-number`) | `smsc` = the device | `&token=` |
//! | smssync | its form | `sent_to` (`+62…`), else empty | `device_id` | the `secret` field |
//! | ejoin | `recv-sms`, one SMS, base64 text | the recipient column, else empty | port `<slot>A` (no device) | `?token=` |
//! | dinstar | `{sn, sms: [...]}` | never (Dinstar sends none) | `sn`, `port` = slot | `?token=` |
//! | httpsms | CloudEvents `message.phone.received` | `data.owner` (`+62…`), else absent | `data.user_id` = the device, `data.sim` | `Authorization: Bearer` JWT HS256 |
//! | textbee | its webhook JSON | never (textbee sends none) | `deviceId` (no slot) | `X-Signature` |
//!
//! Times the phone shows in local time (SmsForwarder's `receive_time`, capcom6's `receivedAt`,
//! Dinstar's `timestamp`) are Western Indonesia time (UTC+7), as on the contract's phones. The
//! app's other ids (capcom6's event id, textbee's `smsId`, httpSMS's ids, …) are derived from
//! [`Outgoing::id`], so a retry of the same SMS repeats them as the apps do.

use std::fmt;
use std::sync::LazyLock;

use base64::Engine;
use chrono::{DateTime, FixedOffset, Offset, SecondsFormat, Utc};
use serde::Serialize;
use sha2::Digest;
use simrotor_domain::{Msisdn, mask_digits};

use crate::{App, Method, fixture, sign};

/// One SMS the simulated telco delivered to a SIM, to be posted as an app would.
#[derive(Clone)]
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
    /// When the SIM received it.
    pub at: DateTime<Utc>,
    /// When the app posts it: the time its signature or token carries.
    pub posted_at: DateTime<Utc>,
    /// The app's id of this SMS; the app's other ids are derived from it.
    pub id: &'a str,
    /// The intake's URL (httpSMS names it as its token's audience).
    pub url: &'a str,
}

/// The contract's SIM, for [`Outgoing::example`].
static EXAMPLE_SIM: LazyLock<Msisdn> = LazyLock::new(|| match Msisdn::parse(fixture::RECEIVING) {
    Ok(number) => number,
    Err(_) => unreachable!("the contract's SIM is an Indonesian mobile number"),
});

impl Outgoing<'static> {
    /// The contract's example SMS (its SIM, sender and text; device `HP-01`, slot 1, with the
    /// number), received and posted now, to the native intake's URL: the start of a test's own
    /// (`Outgoing { text, ..Outgoing::example() }`).
    pub fn example() -> Self {
        let now = Utc::now();
        Outgoing {
            receiving: &EXAMPLE_SIM,
            with_number: true,
            device: "HP-01",
            slot: 1,
            sender: fixture::SENDER,
            text: EXAMPLE_TEXT,
            at: now,
            posted_at: now,
            id: "example-1",
            url: "http://127.0.0.1:9800/sms",
        }
    }
}

/// The text of every contract example.
const EXAMPLE_TEXT: &str = "Kode OTP Anda: 123456. JANGAN BERIKAN kode ini kepada siapapun.";

/// The text holds the code: only its shape shows.
impl fmt::Debug for Outgoing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("receiving", self.receiving)
            .field("with_number", &self.with_number)
            .field("device", &self.device)
            .field("slot", &self.slot)
            .field("sender", &self.sender)
            .field("text", &mask_digits(self.text))
            .field("at", &self.at)
            .field("posted_at", &self.posted_at)
            .field("id", &self.id)
            .finish()
    }
}

/// The request to send: to the intake's URL plus `query`.
#[derive(Clone)]
pub struct Encoded {
    pub method: Method,
    /// Appended to the intake URL after `?`, when not empty.
    pub query: String,
    /// `Content-Type` among them (none for a GET).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Encoded {
    /// `url` with [`Encoded::query`] appended (after `&` when `url` has a query already).
    pub fn target(&self, url: &str) -> String {
        if self.query.is_empty() {
            url.to_owned()
        } else if url.contains('?') {
            format!("{url}&{}", self.query)
        } else {
            format!("{url}?{}", self.query)
        }
    }

    /// The first header of that name, compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The query, headers and body carry the code, signatures and tokens: only the shape shows.
impl fmt::Debug for Encoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::posted::request_shape(
            f,
            "Encoded",
            self.method,
            &self.query,
            &self.headers,
            &self.body,
        )
    }
}

/// `sms` as `app` posts it, signed with `secret` when there is one.
pub fn encode(app: App, sms: &Outgoing<'_>, secret: Option<&str>) -> Encoded {
    match app {
        App::SmsForwarder => smsforwarder(sms, secret),
        App::Capcom6 => capcom6(sms, secret),
        App::Bogkonstantin => bogkonstantin(sms, secret),
        App::Gammu => gammu(sms, secret),
        App::Kannel => kannel(sms, secret),
        App::Smssync => smssync(sms, secret),
        App::Ejoin => ejoin(sms, secret),
        App::Dinstar => dinstar(sms, secret),
        App::Httpsms => httpsms(sms, secret),
        App::Textbee => textbee(sms, secret),
        App::Ibnux => ibnux(sms, secret),
    }
}

/// Western Indonesia time, the phones' local time.
fn phone_zone() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| Utc.fix())
}

/// The number in international form with its `+`, as phones show their own.
fn plus(number: &Msisdn) -> String {
    format!("+{}", number.as_str())
}

/// A value of the app's, derived from the SMS id and what it is for: the same on every retry.
fn derived(id: &str, purpose: &str) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    h.update(id.as_bytes());
    h.update([0u8]);
    h.update(purpose.as_bytes());
    h.finalize().into()
}

fn derived_hex(id: &str, purpose: &str, len: usize) -> String {
    let mut hex = hex::encode(derived(id, purpose));
    hex.truncate(len);
    hex
}

/// A UUID-shaped id (version 4 layout), as httpSMS, textbee, SMSSync and Kannel write theirs.
fn derived_uuid(id: &str, purpose: &str) -> String {
    let h = hex::encode(derived(id, purpose));
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// A nanoid-shaped id (21 characters of `A-Za-z0-9_-`), as capcom6 writes its event ids.
fn derived_nanoid(id: &str, purpose: &str) -> String {
    let mut s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(derived(id, purpose));
    s.truncate(21);
    s
}

/// A value URL-encoded once, as SmsForwarder encodes its `sign` before it goes into a body.
fn url_encoded(value: &str) -> String {
    let pair = serde_urlencoded::to_string([("", value)]).unwrap_or_default();
    pair.strip_prefix('=').unwrap_or(&pair).to_owned()
}

fn form(pairs: &[(&str, &str)]) -> String {
    // Strings only: serde_urlencoded cannot fail on them.
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

fn json(value: &impl Serialize) -> Vec<u8> {
    // Structs of strings and numbers: serde_json cannot fail on them.
    serde_json::to_vec(value).unwrap_or_default()
}

/// `token=<secret>` for the apps that can only put a static token in their URL.
fn token_query(secret: Option<&str>) -> String {
    secret.map(|s| form(&[("token", s)])).unwrap_or_default()
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn post(query: String, headers: Vec<(String, String)>, body: Vec<u8>) -> Encoded {
    Encoded {
        method: Method::Post,
        query,
        headers,
        body,
    }
}

#[derive(Serialize)]
struct SmsForwarderTemplate<'a> {
    device: &'a str,
    card_slot: String,
    from: &'a str,
    content: &'a str,
    receive_time: String,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sign: Option<String>,
}

fn smsforwarder(sms: &Outgoing<'_>, secret: Option<&str>) -> Encoded {
    let timestamp = sms.posted_at.timestamp_millis().to_string();
    let card_slot = if sms.with_number {
        format!("SIM{}_{}", sms.slot, sms.receiving.as_str())
    } else {
        format!("SIM{}", sms.slot)
    };
    let body = SmsForwarderTemplate {
        device: sms.device,
        card_slot,
        from: sms.sender,
        content: sms.text,
        receive_time: sms
            .at
            .with_timezone(&phone_zone())
            .to_rfc3339_opts(SecondsFormat::Secs, false),
        sign: secret.map(|s| url_encoded(&sign::smsforwarder(s, &timestamp))),
        timestamp,
    };
    post(
        String::new(),
        headers(&[("Content-Type", "application/json")]),
        json(&body),
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Capcom6Event<'a> {
    id: String,
    webhook_id: String,
    event: &'static str,
    device_id: &'a str,
    payload: Capcom6Received<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Capcom6Received<'a> {
    message: &'a str,
    received_at: String,
    message_id: String,
    sender: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient: Option<String>,
    sim_number: u8,
    /// The app's deprecated copy of `sender`.
    phone_number: &'a str,
}

fn capcom6(sms: &Outgoing<'_>, secret: Option<&str>) -> Encoded {
    let body = json(&Capcom6Event {
        id: derived_nanoid(sms.id, "capcom6 event"),
        webhook_id: derived_nanoid(sms.device, "capcom6 webhook"),
        event: "sms:received",
        device_id: sms.device,
        payload: Capcom6Received {
            message: sms.text,
            received_at: sms
                .at
                .with_timezone(&phone_zone())
                .to_rfc3339_opts(SecondsFormat::Millis, false),
            message_id: derived_hex(sms.id, "capcom6 message", 8),
            sender: sms.sender,
            recipient: sms.with_number.then(|| plus(sms.receiving)),
            sim_number: sms.slot,
            phone_number: sms.sender,
        },
    });
    let mut headers = headers(&[
        ("Content-Type", "application/json; charset=UTF-8"),
        ("User-Agent", "me.capcom.smsgateway/1.68.0"),
    ]);
    if let Some(secret) = secret {
        let timestamp = sms.posted_at.timestamp().to_string();
        headers.push((
            "X-Signature".to_owned(),
            sign::capcom6(secret, &body, &timestamp),
        ));
        headers.push(("X-Timestamp".to_owned(), timestamp));
    }
    post(String::new(), headers, body)
}

/// The app's default template, in its own layout (one field a line, no space after `:`); with
/// the number, the `"to"` line the maintainer advises adding to each slot's rule.
fn bogkonstantin(sms: &Outgoing<'_>, secret: Option<&str>) -> Encoded {
    let text = |s: &str| serde_json::Value::from(s).to_string();
    let at = sms.at.timestamp_millis();
    let to = if sms.with_number {
        format!(",\n  \"to\":{}", text(sms.receiving.as_str()))
    } else {
        String::new()
    };
    let body = format!(
        "{{\n  \"from\":{},\n  \"text\":{},\n  \"sentStamp\":{at},\n  \"receivedStamp\":{at},\n  \"sim\":{}{to}\n}}",
        text(sms.sender),
        text(sms.text),
        text(&format!("sim{}", sms.slot)),
    );
    post(
        token_query(secret),
        headers(&[
            ("Content-Type", "application/json; charset=utf-8"),
            ("User-agent", "SMS Forwarder App"),
        ]),
        body.into_bytes(),
    )
}

fn gammu(sms: &Outgoing<'_>, secret: Option<&str>) -> Encoded {
    let phone_id = if sms.with_number {
        sms.receiving.as_str()
    } else {
        sms.device
    };
    let received = sms.at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let body = form(&[
        ("PHONE_ID", phone_id),
        ("SMS_MESSAGES", "1"),
        ("DECODED_PARTS", "0"),
        ("SMS_1_NUMBER", sms.sender),
        ("SMS_1_CLASS", "-1"),
        ("SMS_1_TEXT", sms.text),
        ("RECEIVED_AT", &received),
    ]);
    post(
        token_query(secret),
        headers(&[("Content-Type", "application/x-www-form-urlencoded")]),
        body.into_bytes(),
    )
}

/// ibnux's form: it never says which SIM received the SMS, whatever `with_number` says.
fn ibnux(sms: &Outgoing<'_>, secret: Option<&str>) -> Encoded {
    let timestamp = sms.at.timestamp_millis().to_string();
    let body = form(&[
        ("number", sms.sender),
        ("message", sms.text),
        ("type", "received"),
        ("timestamp", &timestamp),
    ]);
    post(
        token_query(secret),
        headers(&[("Content-Type", "application/x-www-form-urlencoded")]),
        body.into_bytes(),
    )
}

/// Kannel's `my-number` when the modem's configuration has none.
const KANNEL_NO_NUMBER: &str = "1234";

fn kannel(sms: &Outgoing<'_>, secret: Option<&str>) -> Encoded {
    let to = if sms.with_number {
        sms.receiving.as_str()
    } else {
        KANNEL_NO_NUMBER
    };
    let time = sms.at.timestamp().to_string();
    let id = derived_uuid(sms.id, "kannel id");
    let mut query = form(&[
        ("from", sms.sender),
        ("to", to),
        ("smsc", sms.device),
        ("time", &time),
        ("id", &id),
        ("text", sms.text),
    ]);
    let token = token_query(secret);
    if !token.is_empty() {
        query.push('&');
        query.push_str(&token);
    }
    Encoded {
        method: Method::Get,
        query,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn smssync(sms: &Outgoing<'_>, secret: Option<&str>) -> Encoded {
    let sent_to = if sms.with_number {
        plus(sms.receiving)
    } else {
        String::new()
    };
    let sent = sms.at.timestamp_millis().to_string();
    let message_id = derived_uuid(sms.id, "smssync message");
    let body = form(&[
        ("secret", secret.unwrap_or("")),
        ("from", sms.sender),
        ("message", sms.text),
        ("sent_timestamp", &sent),
        ("sent_to", &sent_to),
        ("message_id", &message_id),
        ("device_id", sms.device),
    ]);
    post(
        String::new(),
        headers(&[("Content-Type", "application/x-www-form-urlencoded")]),
        body.into_bytes(),
    )
}

#[derive(Serialize)]
struct EjoinRecvSms<'a> {
    r#type: &'static str,
    sms_num: u32,
    /// `[delivery-report flag, port, Unix seconds, sender, recipient, base64 text]`.
    sms: Vec<(u8, String, i64, &'a str, String, String)>,
}

fn ejoin(sms: &Outgoing<'_>, secret: Option<&str>) -> Encoded {
    let recipient = if sms.with_number {
        sms.receiving.as_str().to_owned()
    } else {
        String::new()
    };
    let body = json(&EjoinRecvSms {
        r#type: "recv-sms",
        sms_num: 1,
        sms: vec![(
            0,
            format!("{}A", sms.slot),
            sms.at.timestamp(),
            sms.sender,
            recipient,
            base64::engine::general_purpose::STANDARD.encode(sms.text),
        )],
    });
    post(
        token_query(secret),
        headers(&[("Content-Type", "application/json;charset=utf-8")]),
        body,
    )
}

#[derive(Serialize)]
struct DinstarPush<'a> {
    sn: &'a str,
    sms: Vec<DinstarSms<'a>>,
}

#[derive(Serialize)]
struct DinstarSms<'a> {
    incoming_sms_id: u64,
    port: u8,
    number: &'a str,
    smsc: &'static str,
    timestamp: String,
    text: &'a str,
}

/// The simulated telco's SMS centre, as Dinstar reports it.
const TELCO_SMSC: &str = "+62811000000";

fn dinstar(sms: &Outgoing<'_>, secret: Option<&str>) -> Encoded {
    let digest = derived(sms.id, "dinstar id");
    // 48 bits: an integer every JSON reader keeps exact.
    let incoming_sms_id = digest[..6]
        .iter()
        .fold(0u64, |n, b| (n << 8) | u64::from(*b));
    let body = json(&DinstarPush {
        sn: sms.device,
        sms: vec![DinstarSms {
            incoming_sms_id,
            port: sms.slot,
            number: sms.sender,
            smsc: TELCO_SMSC,
            timestamp: sms
                .at
                .with_timezone(&phone_zone())
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            text: sms.text,
        }],
    });
    post(
        token_query(secret),
        headers(&[("Content-Type", "application/json")]),
        body,
    )
}

#[derive(Serialize)]
struct CloudEvent<'a> {
    specversion: &'static str,
    id: String,
    source: &'static str,
    r#type: &'static str,
    datacontenttype: &'static str,
    time: String,
    data: HttpsmsReceived<'a>,
}

#[derive(Serialize)]
struct HttpsmsReceived<'a> {
    message_id: String,
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    encrypted: bool,
    contact: &'a str,
    timestamp: String,
    content: &'a str,
    sim: String,
    attachments: [(); 0],
}

#[derive(Serialize)]
struct JwtClaims<'a> {
    iss: &'static str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    nbf: i64,
    iat: i64,
}

const HTTPSMS_EVENT: &str = "message.phone.received";
/// How long httpSMS's webhook token is valid before and after it is issued.
const HTTPSMS_TOKEN_SECS: i64 = 600;

/// httpSMS's user is the account the phone is registered with: one account per phone here.
fn httpsms(sms: &Outgoing<'_>, secret: Option<&str>) -> Encoded {
    let body = json(&CloudEvent {
        specversion: "1.0",
        id: derived_uuid(sms.id, "httpsms event"),
        source: "/v1/messages/receive",
        r#type: HTTPSMS_EVENT,
        datacontenttype: "application/json",
        time: sms.posted_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        data: HttpsmsReceived {
            message_id: derived_uuid(sms.id, "httpsms message"),
            user_id: sms.device,
            owner: sms.with_number.then(|| plus(sms.receiving)),
            encrypted: false,
            contact: sms.sender,
            timestamp: sms.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            content: sms.text,
            sim: format!("SIM{}", sms.slot),
            attachments: [],
        },
    });
    let mut headers = headers(&[
        ("Content-Type", "application/json"),
        ("X-Event-Type", HTTPSMS_EVENT),
    ]);
    if let Some(secret) = secret {
        let iat = sms.posted_at.timestamp();
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let claims = JwtClaims {
            iss: "api.httpsms.com",
            sub: sms.device,
            aud: sms.url,
            exp: iat + HTTPSMS_TOKEN_SECS,
            nbf: iat - HTTPSMS_TOKEN_SECS,
            iat,
        };
        let input = format!(
            "{}.{}",
            b64(br#"{"alg":"HS256","typ":"JWT"}"#),
            b64(&json(&claims))
        );
        let signature = sign::jwt_hs256(secret, &input);
        headers.push((
            "Authorization".to_owned(),
            format!("Bearer {input}.{signature}"),
        ));
    }
    post(String::new(), headers, body)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TextbeeReceived<'a> {
    sms_id: String,
    message: &'a str,
    device_id: &'a str,
    webhook_subscription_id: String,
    webhook_event: &'static str,
    idempotency_key: String,
    sender: &'a str,
    received_at: String,
}

fn textbee(sms: &Outgoing<'_>, secret: Option<&str>) -> Encoded {
    let body = json(&TextbeeReceived {
        sms_id: derived_hex(sms.id, "textbee sms", 24),
        message: sms.text,
        device_id: sms.device,
        webhook_subscription_id: derived_hex(sms.device, "textbee webhook", 24),
        webhook_event: "MESSAGE_RECEIVED",
        idempotency_key: derived_uuid(sms.id, "textbee idempotency"),
        sender: sms.sender,
        received_at: sms.at.to_rfc3339_opts(SecondsFormat::Millis, true),
    });
    let mut headers = headers(&[("Content-Type", "application/json")]);
    if let Some(secret) = secret {
        headers.push(("X-Signature".to_owned(), sign::textbee(secret, &body)));
    }
    post(String::new(), headers, body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;
    use serde_json::Value;

    use super::*;
    use crate::fixture::{self, CODE, RECEIVED_AT, RECEIVING, SECRET, SENDER};

    const TEXT: &str = "Kode OTP Anda: 123456. JANGAN BERIKAN kode ini kepada siapapun.";
    const HTTPSMS_URL: &str = "https://simrotor.example/sms/httpsms";

    fn receiving() -> Msisdn {
        Msisdn::parse(RECEIVING).unwrap()
    }

    /// The contract's SMS, held by `device`, posted one second after it arrived (as in the
    /// examples' signatures).
    fn outgoing<'a>(receiving: &'a Msisdn, device: &'a str, with_number: bool) -> Outgoing<'a> {
        let at = Utc.timestamp_opt(RECEIVED_AT, 0).unwrap();
        Outgoing {
            receiving,
            with_number,
            device,
            slot: 1,
            sender: SENDER,
            text: TEXT,
            at,
            posted_at: at + chrono::Duration::seconds(1),
            id: "sim-sms-0001",
            url: HTTPSMS_URL,
        }
    }

    /// Every leaf of a JSON value by its path (`payload.message`, `sms[0][5]`).
    fn leaves(value: &Value, path: String, out: &mut BTreeMap<String, Value>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    leaves(v, p, out);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                for (i, v) in items.iter().enumerate() {
                    leaves(v, format!("{path}[{i}]"), out);
                }
            }
            leaf => {
                out.insert(path, leaf.clone());
            }
        }
    }

    fn json_fields(body: &[u8]) -> BTreeMap<String, Value> {
        let value: Value = serde_json::from_slice(body).unwrap();
        let mut out = BTreeMap::new();
        leaves(&value, String::new(), &mut out);
        out
    }

    fn form_fields(text: &[u8]) -> BTreeMap<String, Value> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(text)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect()
    }

    /// A time field in milliseconds: Unix seconds or ms, RFC 3339, or a local phone time.
    fn millis(value: &Value) -> i64 {
        match value {
            Value::Number(n) if n.as_i64().unwrap() > 100_000_000_000 => n.as_i64().unwrap(),
            Value::Number(n) => n.as_i64().unwrap() * 1000,
            Value::String(s) => match s.parse::<i64>() {
                Ok(n) if n > 100_000_000_000 => n,
                Ok(n) => n * 1000,
                Err(_) => DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis(),
            },
            other => panic!("not a time: {other}"),
        }
    }

    /// What a field of an example is, for comparing ours with it.
    enum Field {
        /// An id the example's app made up: ours must be there, of the same JSON type.
        Id,
        /// A time the example's app took from elsewhere (the SMS centre's stamp, a clock
        /// a few milliseconds on): ours within three seconds of it.
        Near,
    }

    /// Ours has exactly the example's fields, equal but for those in `special`.
    fn assert_like_example(
        name: &str,
        ours: &BTreeMap<String, Value>,
        example: &BTreeMap<String, Value>,
        special: &[(&str, Field)],
    ) {
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            example.keys().collect::<Vec<_>>(),
            "{name}: the fields"
        );
        for (key, want) in example {
            let got = &ours[key];
            match special.iter().find(|(k, _)| k == key).map(|(_, f)| f) {
                None => assert_eq!(got, want, "{name}: {key}"),
                Some(Field::Id) => assert_eq!(
                    std::mem::discriminant(got),
                    std::mem::discriminant(want),
                    "{name}: {key} = {got}"
                ),
                Some(Field::Near) => assert!(
                    (millis(got) - millis(want)).abs() <= 3000,
                    "{name}: {key} = {got}, the example {want}"
                ),
            }
        }
    }

    /// The example's content type is ours, and so is each of its headers but the proofs.
    fn assert_headers_like_example(encoded: &Encoded, example: &fixture::Example) {
        assert_eq!(
            encoded.header("content-type"),
            example.content_type,
            "{}",
            example.name
        );
        for (name, value) in &example.headers {
            let ours = encoded.header(name);
            match name.to_ascii_lowercase().as_str() {
                "x-signature" | "authorization" => assert!(ours.is_some(), "{name}"),
                _ => assert_eq!(ours, Some(*value), "{}: {name}", example.name),
            }
        }
    }

    fn example(name: &str) -> fixture::Example {
        fixture::get(name).unwrap()
    }

    #[test]
    fn smsforwarder_posts_its_json_template_with_the_examples_sign() {
        let number = receiving();
        let ours = encode(
            App::SmsForwarder,
            &outgoing(&number, "HP-01", true),
            Some(SECRET),
        );
        let ex = example("pppscn-smsforwarder-json-template");
        assert_eq!(ours.method, Method::Post);
        assert_headers_like_example(&ours, &ex);
        // Every field equal, the sign included: the same secret over the same timestamp.
        assert_like_example(
            ex.name,
            &json_fields(&ours.body),
            &json_fields(ex.body),
            &[],
        );
        let fields = json_fields(&ours.body);
        let sign = fields["sign"].as_str().unwrap().replace("%3D", "=");
        assert!(sign::same(
            &sign,
            &sign::smsforwarder(SECRET, fields["timestamp"].as_str().unwrap())
        ));

        let without = encode(
            App::SmsForwarder,
            &outgoing(&number, "HP-01", false),
            Some(SECRET),
        );
        assert_eq!(json_fields(&without.body)["card_slot"], "SIM1");
        let unsigned = encode(App::SmsForwarder, &outgoing(&number, "HP-01", true), None);
        assert!(!json_fields(&unsigned.body).contains_key("sign"));
    }

    #[test]
    fn capcom6_posts_sms_received_signed_over_body_and_timestamp() {
        let number = receiving();
        let device = "ffffffffceb0b1db0000018e937c815b";
        let ours = encode(App::Capcom6, &outgoing(&number, device, true), Some(SECRET));
        let ex = example("capcom6-android-sms-gateway");
        assert_headers_like_example(&ours, &ex);
        assert_eq!(ours.header("X-Timestamp"), ex.header("X-Timestamp"));
        assert_like_example(
            ex.name,
            &json_fields(&ours.body),
            &json_fields(ex.body),
            &[
                ("id", Field::Id),
                ("webhookId", Field::Id),
                ("payload.messageId", Field::Id),
            ],
        );
        let signature = sign::capcom6(SECRET, &ours.body, ours.header("X-Timestamp").unwrap());
        assert_eq!(ours.header("X-Signature"), Some(signature.as_str()));

        let without = encode(
            App::Capcom6,
            &outgoing(&number, device, false),
            Some(SECRET),
        );
        let fields = json_fields(&without.body);
        assert!(!fields.contains_key("payload.recipient"), "{fields:?}");
        assert_eq!(fields["payload.simNumber"], 1);
    }

    #[test]
    fn bogkonstantin_posts_its_default_template_in_its_layout() {
        let number = receiving();
        let ours = encode(
            App::Bogkonstantin,
            &outgoing(&number, "HP-01", true),
            Some(SECRET),
        );
        let ex = example("bogkonstantin-incoming-sms-to-url");
        assert_headers_like_example(&ours, &ex);
        // The default template names no SIM: the example is the request without the number.
        let mut fields = json_fields(&ours.body);
        assert_eq!(fields.remove("to"), Some(Value::from(RECEIVING)));
        let without = encode(
            App::Bogkonstantin,
            &outgoing(&number, "HP-01", false),
            Some(SECRET),
        );
        assert!(!json_fields(&without.body).contains_key("to"));
        assert_like_example(
            ex.name,
            &fields,
            &json_fields(ex.body),
            &[("sentStamp", Field::Near), ("receivedStamp", Field::Near)],
        );
        assert_like_example(
            ex.name,
            &json_fields(&without.body),
            &json_fields(ex.body),
            &[("sentStamp", Field::Near), ("receivedStamp", Field::Near)],
        );
        // The same layout, one field a line, as the app's template writes it.
        let lines = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap().lines().count();
        assert_eq!(lines(&without.body), lines(ex.body));
        assert_eq!(lines(&ours.body), lines(ex.body) + 1);
        assert_eq!(ours.query, "token=test-secret");
    }

    #[test]
    fn gammu_posts_the_shims_form_with_the_number_or_the_device_as_phone_id() {
        let number = receiving();
        let ours = encode(
            App::Gammu,
            &outgoing(&number, "modem-1", true),
            Some(SECRET),
        );
        let ex = example("gammu-smsd-runonreceive-shim");
        assert_headers_like_example(&ours, &ex);
        assert_like_example(
            ex.name,
            &form_fields(&ours.body),
            &form_fields(ex.body),
            &[],
        );
        assert_eq!(ours.query, "token=test-secret");
        let without = encode(App::Gammu, &outgoing(&number, "modem-1", false), None);
        assert_eq!(form_fields(&without.body)["PHONE_ID"], "modem-1");
        assert_eq!(without.query, "");
    }

    #[test]
    fn kannel_calls_its_get_url_with_the_template_query() {
        let number = receiving();
        let device = "modem-6281200000001";
        let ours = encode(App::Kannel, &outgoing(&number, device, true), Some(SECRET));
        let ex = example("kannel-smsbox-get-url");
        assert_eq!(ours.method, Method::Get);
        assert!(ours.body.is_empty());
        assert_headers_like_example(&ours, &ex);
        let mut fields = form_fields(ours.query.as_bytes());
        assert_eq!(fields.remove("token"), Some(Value::from(SECRET)));
        assert_like_example(
            ex.name,
            &fields,
            &form_fields(ex.body),
            &[("time", Field::Near), ("id", Field::Id)],
        );
        let without = encode(App::Kannel, &outgoing(&number, "modem-1", false), None);
        assert_eq!(form_fields(without.query.as_bytes())["to"], "1234");
        assert_eq!(
            without.target("http://127.0.0.1:9800/sms/kannel"),
            format!("http://127.0.0.1:9800/sms/kannel?{}", without.query)
        );
    }

    #[test]
    fn smssync_posts_its_form_with_the_secret_field() {
        let number = receiving();
        let ours = encode(
            App::Smssync,
            &outgoing(&number, "HP-01", true),
            Some(SECRET),
        );
        let ex = example("ushahidi-smssync");
        assert_headers_like_example(&ours, &ex);
        assert_like_example(
            ex.name,
            &form_fields(&ours.body),
            &form_fields(ex.body),
            &[("sent_timestamp", Field::Near), ("message_id", Field::Id)],
        );
        let without = encode(
            App::Smssync,
            &outgoing(&number, "HP-01", false),
            Some(SECRET),
        );
        assert_eq!(form_fields(&without.body)["sent_to"], "");
    }

    #[test]
    fn ejoin_posts_recv_sms_with_the_text_in_base64() {
        let number = receiving();
        let ours = encode(App::Ejoin, &outgoing(&number, "gw-1", true), Some(SECRET));
        let ex = example("ejoin-skyline-recv-sms");
        assert_headers_like_example(&ours, &ex);
        assert_like_example(
            ex.name,
            &json_fields(&ours.body),
            &json_fields(ex.body),
            &[("sms[0][2]", Field::Near)],
        );
        assert_eq!(ours.query, "token=test-secret");
        let without = encode(App::Ejoin, &outgoing(&number, "gw-1", false), None);
        assert_eq!(json_fields(&without.body)["sms[0][4]"], "");
    }

    #[test]
    fn dinstar_posts_its_push_with_the_gateways_serial_and_port() {
        let number = receiving();
        let device = "xxxx-xxxx-xxxx-xxxx";
        let ours = encode(App::Dinstar, &outgoing(&number, device, true), Some(SECRET));
        let ex = example("dinstar-push-sms");
        assert_headers_like_example(&ours, &ex);
        assert_like_example(
            ex.name,
            &json_fields(&ours.body),
            &json_fields(ex.body),
            &[("sms[0].incoming_sms_id", Field::Id)],
        );
        assert_eq!(ours.query, "token=test-secret");
    }

    #[test]
    fn httpsms_posts_a_cloud_event_with_the_examples_token() {
        let number = receiving();
        let user = "WB7DRDWrJZRGbYrv2CKGkqbzvqdC";
        let ours = encode(App::Httpsms, &outgoing(&number, user, true), Some(SECRET));
        let ex = example("httpsms");
        assert_headers_like_example(&ours, &ex);
        assert_like_example(
            ex.name,
            &json_fields(&ours.body),
            &json_fields(ex.body),
            &[
                ("id", Field::Id),
                ("data.message_id", Field::Id),
                ("time", Field::Near),
                ("data.timestamp", Field::Near),
            ],
        );
        // The same claims over the same header, signed with the same secret: the same token.
        assert_eq!(ours.header("Authorization"), ex.header("Authorization"));
        let jwt = ours
            .header("Authorization")
            .unwrap()
            .strip_prefix("Bearer ")
            .unwrap();
        let (input, signature) = jwt.rsplit_once('.').unwrap();
        assert_eq!(sign::jwt_hs256(SECRET, input), signature);

        let without = encode(App::Httpsms, &outgoing(&number, user, false), None);
        assert!(!json_fields(&without.body).contains_key("data.owner"));
        assert_eq!(without.header("Authorization"), None);
    }

    #[test]
    fn textbee_posts_its_webhook_signed_over_the_body() {
        let number = receiving();
        let device = "6742e0aa11bb22cc33dd44ee";
        let ours = encode(App::Textbee, &outgoing(&number, device, true), Some(SECRET));
        let ex = example("textbee");
        assert_headers_like_example(&ours, &ex);
        assert_like_example(
            ex.name,
            &json_fields(&ours.body),
            &json_fields(ex.body),
            &[
                ("smsId", Field::Id),
                ("webhookSubscriptionId", Field::Id),
                ("idempotencyKey", Field::Id),
            ],
        );
        let signature = sign::textbee(SECRET, &ours.body);
        assert_eq!(ours.header("X-Signature"), Some(signature.as_str()));
    }

    /// Everything a request carries, as text, to search.
    fn whole(encoded: &Encoded) -> String {
        let headers: Vec<String> = encoded
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect();
        format!(
            "{}\n{}\n{}",
            encoded.query,
            headers.join("\n"),
            String::from_utf8_lossy(&encoded.body)
        )
    }

    #[test]
    fn without_the_number_no_app_names_the_receiving_sim() {
        let number = receiving();
        for app in App::ALL {
            let encoded = encode(app, &outgoing(&number, "phone-a", false), Some(SECRET));
            let text = whole(&encoded);
            let decoded = serde_urlencoded::from_str::<Vec<(String, String)>>(&encoded.query)
                .unwrap_or_default();
            for form in [RECEIVING, "81200000001"] {
                assert!(!text.contains(form), "{app}: {text}");
                assert!(
                    decoded.iter().all(|(_, v)| !v.contains(form)),
                    "{app}: {decoded:?}"
                );
            }
            // The text and its code are there all the same (base64 for ejoin).
            assert!(
                text.contains(CODE) || text.contains("MTIzNDU2"),
                "{app}: {text}"
            );
        }
    }

    #[test]
    fn the_token_apps_carry_the_secret_in_the_query_only_when_there_is_one() {
        let number = receiving();
        for app in [
            App::Bogkonstantin,
            App::Gammu,
            App::Kannel,
            App::Ejoin,
            App::Dinstar,
            App::Ibnux,
        ] {
            let signed = encode(app, &outgoing(&number, "d", true), Some("a b&c"));
            assert!(signed.query.ends_with("token=a+b%26c"), "{app}");
            let open = encode(app, &outgoing(&number, "d", true), None);
            assert!(!open.query.contains("token"), "{app}");
        }
    }

    #[test]
    fn a_retry_repeats_every_id_and_another_sms_changes_them() {
        let number = receiving();
        let first = outgoing(&number, "d", true);
        let other = Outgoing {
            id: "sim-sms-0002",
            ..first.clone()
        };
        for app in App::ALL {
            let a = encode(app, &first, Some(SECRET));
            assert_eq!(a.body, encode(app, &first, Some(SECRET)).body, "{app}");
            assert_eq!(a.query, encode(app, &first, Some(SECRET)).query, "{app}");
            let b = encode(app, &other, Some(SECRET));
            let same = (a.body == b.body) && (a.query == b.query);
            // SmsForwarder, bogkonstantin, gammu and ejoin send no id of the SMS: the same SMS
            // is the same request.
            let without_id = matches!(
                app,
                App::SmsForwarder | App::Bogkonstantin | App::Gammu | App::Ejoin | App::Ibnux
            );
            assert_eq!(same, without_id, "{app}");
        }
    }

    #[test]
    fn debug_shows_neither_the_code_nor_the_secret() {
        let number = receiving();
        let sms = outgoing(&number, "d", true);
        let shown = format!("{sms:?}");
        assert!(!shown.contains(CODE), "{shown}");
        for app in App::ALL {
            let shown = format!("{:?}", encode(app, &sms, Some(SECRET)));
            assert!(
                !shown.contains(CODE) && !shown.contains(SECRET),
                "{app}: {shown}"
            );
        }
    }

    #[test]
    fn the_example_is_the_contracts_sms_posted_now() {
        let sms = Outgoing::example();
        assert_eq!(sms.receiving.as_str(), RECEIVING);
        assert_eq!((sms.sender, sms.text), (SENDER, TEXT));
        assert!((Utc::now() - sms.posted_at).num_seconds().abs() < 60);
    }

    /// The request as an intake receives it.
    fn posted(encoded: &Encoded) -> crate::Posted<'_> {
        let mut posted = crate::Posted::new(encoded.method, &encoded.query, &encoded.body);
        for (n, v) in &encoded.headers {
            posted = posted.with_header(n, v);
        }
        posted
    }

    /// What each app's request tells of the SIM besides its number: (device, slot).
    fn sim_told(app: App, with_number: bool) -> (Option<&'static str>, Option<&'static str>) {
        match app {
            App::SmsForwarder | App::Capcom6 => (Some("phone-a"), Some("1")),
            App::Smssync => (Some("phone-a"), None),
            App::Httpsms | App::Bogkonstantin => (None, Some("1")),
            App::Ejoin => (None, Some("1A")),
            App::Dinstar => (Some("phone-a"), Some("1")),
            App::Textbee => (Some("phone-a"), None),
            App::Kannel => (Some("phone-a"), None),
            App::Ibnux => (None, None),
            // PHONE_ID names the modem: its number when smsd is configured with it.
            App::Gammu if with_number => (Some(RECEIVING), None),
            App::Gammu => (Some("phone-a"), None),
        }
    }

    #[test]
    fn every_apps_request_decodes_to_the_sms_and_verifies_with_the_secret_only() {
        let number = receiving();
        for app in App::ALL {
            for with_number in [true, false] {
                let sms = Outgoing {
                    at: Utc::now(),
                    posted_at: Utc::now(),
                    ..outgoing(&number, "phone-a", with_number)
                };
                let what = format!("{app} (number: {with_number})");
                let encoded = encode(app, &sms, Some(SECRET));
                let posted = posted(&encoded);
                let list = match crate::decode(app, &posted) {
                    Ok(crate::Decoded::Sms(list)) => list,
                    other => panic!("{what}: {other:?}"),
                };
                assert_eq!(list.len(), 1, "{what}");
                let got = &list[0];
                assert_eq!(got.intake, crate::Intake::App(app));
                assert_eq!(got.text.expose(), TEXT, "{what}");
                assert_eq!(got.sender.as_deref(), Some(SENDER), "{what}");
                let names_number =
                    with_number && !matches!(app, App::Dinstar | App::Textbee | App::Ibnux);
                assert_eq!(
                    got.receiving.as_ref(),
                    names_number.then_some(&number),
                    "{what}"
                );
                let (device, slot) = sim_told(app, with_number);
                assert_eq!(got.device.as_deref(), device, "{what}");
                assert_eq!(got.slot.as_deref(), slot, "{what}");
                if let Some(at) = got.received_at {
                    assert!((at - sms.at).num_seconds().abs() <= 1, "{what}: {at}");
                }
                assert_eq!(
                    crate::verify(app, &posted, SECRET, Utc::now()),
                    Ok(()),
                    "{what}"
                );
                assert!(
                    crate::verify(app, &posted, "another-secret", Utc::now()).is_err(),
                    "{what}"
                );
                let forged = encode(app, &sms, Some("another-secret"));
                assert!(
                    crate::verify(app, &super::tests::posted(&forged), SECRET, Utc::now()).is_err(),
                    "{what}: signed with another secret"
                );
            }
        }
    }
}

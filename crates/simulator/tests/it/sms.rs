//! The SMS the simulator sends: readable at `/_sim/sms`, posted to a forwarder when configured,
//! natively or as a real app posts it (retries and forgeries included); and the strikes.

use std::time::Duration;

use serde_json::{Value, json};
use simrotor_config::{ForwardAs, ForwarderSecret};
use simrotor_domain::Msisdn;
use simrotor_simulator::{SimulatorConfig, Sms, sim_of};
use simrotor_sms::{App, sign};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::helpers::{Sim, config, free_port, number};

#[tokio::test]
async fn every_otp_is_readable_latest_first() {
    let sim = Sim::start(config(), 1).await;
    let (a, b) = (number(40), number(41));
    sim.call(0, "/otp", &a, &[("pin", "1234")]).await;
    let first = sim.handle.latest_otp(&a).unwrap();
    sim.call(0, "/otp", &b, &[("pin", "1234")]).await;
    sim.call(0, "/otp", &a, &[("pin", "1234")]).await;
    let second = sim.handle.latest_otp(&a).unwrap();

    let page = sim.get(0, "/_sim/sms", &[("username", &a.local())]).await;
    assert_eq!(page.status, 200);
    let listed: Vec<Sms> = serde_json::from_str(&page.body).unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|s| s.msisdn == a));
    assert!(
        listed[0]
            .message
            .contains(&format!("Kode OTP Anda: {second}"))
    );
    assert!(
        listed[1]
            .message
            .contains(&format!("Kode OTP Anda: {first}"))
    );
    assert_eq!(listed, sim.handle.sms(Some(&a)));

    let all: Vec<Sms> = serde_json::from_str(&sim.get(0, "/_sim/sms", &[]).await.body).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].msisdn, b);

    let bad = sim.get(0, "/_sim/sms", &[("username", "12")]).await;
    assert_eq!(bad.status, 400);
    sim.stop().await;
}

/// One request as the stand-in for the runtime received it.
#[derive(Debug)]
struct Recorded {
    method: String,
    /// The path and query, as on the request line.
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Everything it carries, as text, to search.
    fn whole(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect();
        format!(
            "{} {}\n{}\n\n{}",
            self.method,
            self.target,
            headers.join("\n"),
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// A stand-in for the runtime's SMS intakes: answers 200 to each request and hands it over.
async fn recorder() -> (String, mpsc::UnboundedReceiver<Recorded>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let body = &buf[end + 4..];
                    let mut lines = head.lines();
                    let request_line = lines.next().unwrap_or_default().to_owned();
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                        .collect();
                    let length: usize = headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    if body.len() < length {
                        continue;
                    }
                    let mut parts = request_line.split(' ');
                    let _ = tx.send(Recorded {
                        method: parts.next().unwrap_or_default().to_owned(),
                        target: parts.next().unwrap_or_default().to_owned(),
                        headers,
                        body: body[..length].to_vec(),
                    });
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                    return;
                }
            });
        }
    });
    (base, rx)
}

async fn next(posted: &mut mpsc::UnboundedReceiver<Recorded>) -> Recorded {
    tokio::time::timeout(Duration::from_secs(30), posted.recv())
        .await
        .expect("the forwarder posted nothing")
        .unwrap()
}

#[tokio::test]
async fn every_sms_is_posted_to_the_forwarder_as_the_contract_says() {
    let (base, mut posted) = recorder().await;
    let sim = Sim::start(
        SimulatorConfig {
            sms_forwarder_url: Some(format!("{base}/sms")),
            ..config()
        },
        1,
    )
    .await;
    let m = number(42);
    sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
    let code = sim.handle.latest_otp(&m).unwrap();
    let request = next(&mut posted).await;
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/sms")
    );
    let payload = request.json();
    let object = payload.as_object().unwrap();
    assert_eq!(object.len(), 3, "{payload}");
    assert_eq!(payload["msisdn"], "6281200000042");
    assert!(
        payload["message"]
            .as_str()
            .unwrap()
            .contains(&format!("Kode OTP Anda: {code}")),
        "{payload}"
    );
    let at = payload["received_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(at).is_ok() && at.ends_with('Z'),
        "{at}"
    );
    assert_eq!(
        serde_json::to_value(&sim.handle.sms(Some(&m))[0]).unwrap(),
        payload
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_dead_forwarder_costs_the_caller_nothing() {
    let sim = Sim::start(
        SimulatorConfig {
            sms_forwarder_url: Some(format!("http://127.0.0.1:{}/sms", free_port())),
            ..config()
        },
        1,
    )
    .await;
    let m = number(43);
    let ack = sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
    assert_eq!(ack.res()["status"], "0");
    assert_eq!(sim.handle.sms(Some(&m)).len(), 1);
    sim.login(0, &m).await;
    sim.stop().await;
}

const SECRET: &str = "sim-secret-for-tests";

/// A simulator posting as `app` to the recorder's `/sms/<app>`, signed with [`SECRET`].
async fn forwarding_as(
    app: App,
    tune: impl FnOnce(SimulatorConfig) -> SimulatorConfig,
) -> (Sim, mpsc::UnboundedReceiver<Recorded>) {
    let (base, posted) = recorder().await;
    let config = tune(SimulatorConfig {
        sms_forwarder_url: Some(format!("{base}{}", app.path())),
        forward_as: ForwardAs::App(app),
        forward_secret: Some(ForwarderSecret::new(SECRET)),
        ..config()
    });
    (Sim::start(config, 1).await, posted)
}

/// Whether `text` names `m` in any of its forms.
fn names(text: &str, m: &Msisdn) -> bool {
    text.contains(m.as_str()) || text.contains(&m.local()) || text.contains(&m.local()[1..])
}

#[tokio::test]
async fn capcom6_without_the_number_is_signed_and_names_no_sim_but_its_phone_and_slot() {
    let (sim, mut posted) = forwarding_as(App::Capcom6, |c| SimulatorConfig {
        forward_number: false,
        ..c
    })
    .await;
    let m = number(45);
    sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
    let code = sim.handle.latest_otp(&m).unwrap();
    let request = next(&mut posted).await;
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/sms/capcom6")
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/json; charset=UTF-8")
    );
    let timestamp = request.header("X-Timestamp").unwrap();
    let at: i64 = timestamp.parse().unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - at).abs() < 60,
        "{timestamp}"
    );
    assert_eq!(
        request.header("X-Signature"),
        Some(sign::capcom6(SECRET, &request.body, timestamp).as_str())
    );
    let event = request.json();
    assert_eq!(event["event"], "sms:received");
    let (device, slot) = sim_of(&m);
    assert_eq!(event["deviceId"], device.as_str());
    assert_eq!(event["payload"]["simNumber"], slot);
    assert!(
        event["payload"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("Kode OTP Anda: {code}")),
        "{event}"
    );
    assert!(event["payload"].get("recipient").is_none(), "{event}");
    assert!(!names(&request.whole(), &m), "{}", request.whole());
    sim.stop().await;
}

#[tokio::test]
async fn kannel_is_a_get_with_its_query_and_the_token() {
    let (sim, mut posted) = forwarding_as(App::Kannel, |c| c).await;
    let m = number(46);
    sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
    let request = next(&mut posted).await;
    assert_eq!(request.method, "GET");
    assert!(request.body.is_empty());
    let url = reqwest::Url::parse(&format!("http://recorder{}", request.target)).unwrap();
    assert_eq!(url.path(), "/sms/kannel");
    let fields: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let field = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(field("to"), Some(m.as_str()), "with the number by default");
    assert_eq!(field("smsc"), Some(sim_of(&m).0.as_str()));
    assert_eq!(field("token"), Some(SECRET));
    assert_eq!(
        field("text"),
        Some(sim.handle.sms(Some(&m))[0].message.as_str())
    );
    sim.stop().await;
}

#[tokio::test]
async fn with_duplicates_every_sms_is_posted_twice_byte_for_byte() {
    let (sim, mut posted) = forwarding_as(App::SmsForwarder, |c| SimulatorConfig {
        forward_duplicates: true,
        ..c
    })
    .await;
    let (a, b) = (number(47), number(48));
    sim.call(0, "/otp", &a, &[("pin", "1234")]).await;
    let first = next(&mut posted).await;
    let again = next(&mut posted).await;
    assert_eq!(first.body, again.body);
    assert_eq!(first.target, "/sms/smsforwarder");
    let template = first.json();
    let (_, slot) = sim_of(&a);
    assert_eq!(template["card_slot"], format!("SIM{slot}_{}", a.as_str()));
    // The sign is URL-encoded once inside the JSON.
    let once = template["sign"].as_str().unwrap();
    let sign = reqwest::Url::parse(&format!("http://recorder/?sign={once}"))
        .unwrap()
        .query_pairs()
        .next()
        .unwrap()
        .1
        .into_owned();
    assert!(sign::same(
        &sign,
        &sign::smsforwarder(SECRET, template["timestamp"].as_str().unwrap())
    ));
    // Twice, not more: the next request is the next SMS.
    sim.call(0, "/otp", &b, &[("pin", "1234")]).await;
    let code = sim.handle.latest_otp(&b).unwrap();
    let third = next(&mut posted).await.json();
    assert!(
        third["content"].as_str().unwrap().contains(&code),
        "{third}"
    );
    sim.stop().await;
}

#[tokio::test]
async fn with_forgeries_a_wrongly_signed_copy_with_another_code_comes_first() {
    let (sim, mut posted) = forwarding_as(App::Textbee, |c| SimulatorConfig {
        forward_forgeries: true,
        ..c
    })
    .await;
    let m = number(49);
    sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
    let code = sim.handle.latest_otp(&m).unwrap();
    let forged = next(&mut posted).await;
    let real = next(&mut posted).await;
    let signed = |r: &Recorded| r.header("X-Signature") == Some(&sign::textbee(SECRET, &r.body));
    assert!(signed(&real), "{}", real.whole());
    assert!(forged.header("X-Signature").is_some());
    assert!(!signed(&forged), "the forgery's signature must be wrong");
    let (real, forged) = (real.json(), forged.json());
    assert!(real["message"].as_str().unwrap().contains(&code));
    assert!(
        !forged["message"].as_str().unwrap().contains(&code),
        "{forged}"
    );
    assert_ne!(
        forged["smsId"], real["smsId"],
        "a forger cannot know the id"
    );
    assert_eq!(forged["deviceId"], real["deviceId"]);
    sim.stop().await;
}

#[tokio::test]
async fn every_wrong_code_is_a_strike_at_the_sim_page_and_the_handle() {
    let sim = Sim::start(config(), 1).await;
    let m = number(50);
    let page = sim.get(0, "/_sim/strikes", &[]).await;
    assert_eq!(page.json(), json!({"total": 0, "numbers": {}}));
    sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
    let code = sim.handle.latest_otp(&m).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = sim.call(0, "/verifyOtp", &m, &[("otp", wrong)]).await;
    assert_eq!(refused.message(), "Kode OTP salah");
    sim.call(0, "/verifyOtp", &m, &[("otp", &code)]).await;
    let page = sim.get(0, "/_sim/strikes", &[]).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.json(), json!({"total": 1, "numbers": {m.as_str(): 1}}));
    assert_eq!(sim.handle.strikes().numbers.get(&m), Some(&1));
    sim.stop().await;
}

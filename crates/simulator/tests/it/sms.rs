//! The SMS the simulator sends: readable at `/_sim/sms`, posted to a forwarder when configured.

use std::time::Duration;

use serde_json::Value;
use simrotor_simulator::{SimulatorConfig, Sms};
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

/// A stand-in for the runtime's SMS endpoint: answers 200 to each POST and hands over its body.
async fn forwarder() -> (String, mpsc::UnboundedReceiver<(String, Option<Value>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
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
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() < length {
                        continue;
                    }
                    let request_line = head.lines().next().unwrap_or_default().to_owned();
                    let _ = tx.send((request_line, serde_json::from_str(body).ok()));
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
    (url, rx)
}

#[tokio::test]
async fn every_sms_is_posted_to_the_forwarder_as_the_contract_says() {
    let (url, mut posted) = forwarder().await;
    let sim = Sim::start(
        SimulatorConfig {
            sms_forwarder_url: Some(url),
            ..config()
        },
        1,
    )
    .await;
    let m = number(42);
    sim.call(0, "/otp", &m, &[("pin", "1234")]).await;
    let code = sim.handle.latest_otp(&m).unwrap();
    let (request_line, payload) = tokio::time::timeout(Duration::from_secs(30), posted.recv())
        .await
        .expect("the forwarder got nothing")
        .unwrap();
    assert!(request_line.starts_with("POST /sms "), "{request_line}");
    let payload = payload.expect("the body is JSON");
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

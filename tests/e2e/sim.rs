//! `simrotor sim`: the real binary serves the configured ports and answers like the operator's
//! servers; its SMS inbox shows the OTP it "sent".

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{Patience, Scratch, assert_has, free_port};

/// One plain HTTP/1.0 GET; the body.
fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
}

#[test]
fn serves_the_configured_ports_with_their_sms_inbox() {
    let s = Scratch::new();
    let (a, b) = (free_port(), free_port());
    s.write(
        "config.toml",
        format!("[database]\nurl = \"sqlite://data/t.db\"\n[servers]\nports = [{a}, {b}]\n"),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_simrotor"))
        .args(["sim", "--seed", "3", "--status-polls", "0"])
        .current_dir(s.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ack = Patience::new(Duration::from_secs(30), Duration::from_millis(100))
        .wait_for_blocking(&format!("the simulator to answer on {b}"), || {
            get(b, "/otp?username=081234567890&pin=975310")
        });
    assert!(ack.contains("\"status\":\"0\""), "{ack}");
    assert!(!ack.contains("975310"), "the PIN is echoed masked: {ack}");
    let sms = get(b, "/_sim/sms?username=081234567890").unwrap();
    assert!(sms.contains("\"msisdn\":\"6281234567890\""), "{sms}");
    assert!(sms.contains("Kode OTP Anda"), "{sms}");
    assert!(get(a, "/_sim/ledger").unwrap().trim() == "[]");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_bad_knob_is_named_before_anything_starts() {
    let s = Scratch::new();
    let run = s.run(&["sim", "--lost-answer-rate", "1.5"]);
    assert_eq!(run.code, 1);
    assert_has(&run.stderr, "simulator.faults.lost_answer_rate = 1.5");
}

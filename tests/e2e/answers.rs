//! Catching real answers: `simrotor probe` makes one call and shows the raw answer beside what
//! the parser made of it (secrets masked unless asked), and `simrotor answers` lists what the
//! runtime could not read, kept with its binding.

use crate::helpers::{Scratch, assert_has, assert_lacks, free_port};

fn probing() -> (Scratch, std::process::Child, u16) {
    let s = Scratch::new();
    let port = free_port();
    s.write(
        "config.toml",
        format!(
            "[database]\nurl = \"sqlite://data/t.db\"\n\
             [servers]\nports = [{port}]\ntimeout = \"5s\"\n\
             [simulator]\nseed = 3\nreseller_rate = 1.0\nblocked_rate = 0.0\n"
        ),
    );
    let sim = s.start_sim(&[port]);
    (s, sim, port)
}

/// The code of the latest SMS the simulator sent `msisdn`.
fn sms_code(port: u16, msisdn: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET /_sim/sms?username={msisdn} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    let sms: serde_json::Value = serde_json::from_str(body).unwrap();
    let text = sms[0]["message"].as_str().unwrap();
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned()
}

#[test]
fn probe_shows_the_raw_answer_and_its_meaning_with_secrets_masked() {
    let (s, mut sim, port) = probing();
    let p = port.to_string();
    let m = "081234500001";

    let otp = s
        .run(&["probe", &p, "otp", "--msisdn", m, "--pin", "135790"])
        .ok();
    assert_has(&otp.stdout, "/otp → HTTP 200");
    assert_has(
        &otp.stdout,
        r#"meaning: accepted, code "00000", message "OTP_SENT""#,
    );
    assert!(!otp.stdout.contains("135790"), "the PIN is never shown");

    let code = sms_code(port, m);
    let login = s
        .run(&["probe", &p, "verifyOtp", "--msisdn", m, "--otp", &code])
        .ok();
    assert_has(&login.stdout, "meaning: logged in, login token <");
    assert_has(&login.stdout, r#""tokenid":"****""#);
    assert_lacks(&login.stdout, "eyJ");

    let shown = s
        .run(&[
            "probe",
            &p,
            "token_location3",
            "--msisdn",
            m,
            "--show-secrets",
        ])
        .ok();
    assert_has(&shown.stdout, "eyJ");

    let list = s.run(&["probe", &p, "list_idv", "--msisdn", m]).ok();
    assert_has(&list.stdout, r#"650 "IDV Voucher Rp. 100.000" at 100000"#);

    let buy = s.run(&[
        "probe",
        &p,
        "trx_idv",
        "--msisdn",
        m,
        "--product",
        "646",
        "--email",
        "a@b.co",
    ]);
    assert_eq!(buy.code, 1);
    assert_has(&buy.stderr, "--really-buy");

    let unknown = s.run(&["probe", &p, "balance", "--msisdn", m]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown
            .stderr
            .contains("not a slot call; one of otp, verifyOtp"),
        "{}",
        unknown.stderr
    );
    let elsewhere = s.run(&["probe", "1", "balance_pulsa", "--msisdn", m]);
    assert_eq!(elsewhere.code, 1);
    assert!(
        elsewhere
            .stderr
            .contains("port 1 is not a configured server"),
        "{}",
        elsewhere.stderr
    );
    sim.kill().unwrap();
    let _ = sim.wait();
}

#[test]
fn answers_lists_what_the_runtime_could_not_read_masked() {
    let s = Scratch::new();
    let keep = s.path("kept");
    let keep = keep.to_str().unwrap();
    // Half the JSON answers cut short: the runtime keeps each one with its binding.
    s.run(&[
        "demo",
        "--servers",
        "2",
        "--accounts",
        "4",
        "--seed",
        "7",
        "--malformed-rate",
        "0.5",
        "--keep",
        keep,
    ])
    .ok();
    s.write(
        "config.toml",
        format!("[database]\nurl = \"sqlite://{keep}/demo.db\"\n"),
    );
    let all = s.run(&["answers", "--format", "json"]).ok().json();
    let all = all.as_array().unwrap();
    assert!(!all.is_empty(), "a cut answer was kept");
    for kept in all {
        assert_eq!(kept["kind"], "UNUSABLE", "{kept}");
        assert!(kept["binding_id"].is_number(), "{kept}");
        assert!(kept["port"].is_number(), "{kept}");
        assert!(
            kept["error"].as_str().unwrap().contains("truncated"),
            "{kept}"
        );
        let body = kept["body"].as_str().unwrap_or_default();
        assert!(!body.contains("eyJ"), "no token in a kept body: {body}");
    }
    let call = all[0]["call"].as_str().unwrap().to_owned();
    let only = s
        .run(&[
            "answers", "--call", &call, "--since", "1h", "--format", "json",
        ])
        .ok()
        .json();
    let only = only.as_array().unwrap();
    assert!(!only.is_empty());
    assert!(only.iter().all(|k| k["call"] == call.as_str()));

    let table = s.run(&["answers", "--call", "/status_idv"]).ok();
    assert!(
        table.stdout.contains("status_idv") || table.stdout.contains("No unusable answers"),
        "{}",
        table.stdout
    );
    let bad = s.run(&["answers", "--call", "nope"]);
    assert_eq!(bad.code, 1);
    assert_has(&bad.stderr, "not a slot call");
}

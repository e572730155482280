//! The SMS forwarder apps, end to end with the real binary: twenty servers logging in through the
//! simulator posting every SMS as capcom6 does without the receiving number (one binding at a
//! time holds the turn), and as SmsForwarder does with the number in the slot label; duplicates
//! and forged signatures posted beside every real SMS change nothing; no wrong code ever reaches
//! the telco; the ledger reconciles. And the README's section per app, as written: its TOML opens
//! each intake, at the URL it gives, with the secret it names.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use simrotor_domain::Msisdn;
use simrotor_sms::{App, Method, Outgoing, encode};

use crate::helpers::{Patience, Scratch, assert_has, free_port};

/// The recap's TOTAL row cells: batch, numbers, available, in use, waiting, done, non-reseller,
/// blocked, failed, …
fn total_cells(stdout: &str) -> Vec<String> {
    let total = stdout.lines().find(|l| l.contains("TOTAL")).unwrap();
    total
        .split('┆')
        .map(|c| {
            c.trim_matches(|ch: char| ch == '│' || ch.is_whitespace())
                .to_owned()
        })
        .collect()
}

/// Every `event = "sms"` line of the audit trail under `dir`.
fn sms_lines(s: &Scratch, dir: &str) -> Vec<Value> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(s.path(dir)).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            if v["fields"]["event"] == "sms" {
                lines.push(v);
            }
        }
    }
    lines
}

fn demo_through(app: &str, with_number: bool) {
    let s = Scratch::new();
    let numbers = 40;
    let run = s
        .run(&[
            "demo",
            "--servers",
            "20",
            "--accounts",
            &numbers.to_string(),
            "--seed",
            "9",
            "--blocked-rate",
            "0",
            "--forwarder",
            app,
            "--forward-number",
            if with_number { "true" } else { "false" },
            "--forward-duplicates",
            "--forward-forgeries",
            "--keep",
            "kept",
        ])
        .ok();
    let what = format!("{app} (number: {with_number})");
    assert!(
        run.stdout.contains("Ledger reconciled"),
        "{what}: {}\n{}",
        run.stdout,
        run.stderr
    );
    assert_has(&run.stdout, "Wrong codes sent to the telco: 0");
    let cells = total_cells(&run.stdout);
    // numbers, available, in use: every number ended; failed: none.
    assert_eq!(cells[1], numbers.to_string(), "{what}: {cells:?}");
    assert_eq!(&cells[2..4], ["0", "0"], "{what}: {cells:?}");
    assert_eq!(cells[8], "0", "{what}: no number failed: {cells:?}");
    let ended: u32 = cells[5].parse::<u32>().unwrap() + cells[6].parse::<u32>().unwrap();
    assert_eq!(ended, numbers, "{what}: every number logged in: {cells:?}");

    let sms = sms_lines(&s, "kept/logs");
    let count = |outcome: &str| {
        sms.iter()
            .filter(|l| l["fields"]["outcome"] == outcome)
            .count()
    };
    let delivered: Vec<&Value> = sms
        .iter()
        .filter(|l| l["fields"]["outcome"] == "delivered")
        .collect();
    assert_eq!(
        delivered.len(),
        numbers as usize,
        "{what}: one code per login"
    );
    let by = if with_number { "number" } else { "turn" };
    assert!(
        delivered.iter().all(|l| l["fields"]["matched_by"] == by),
        "{what}: every code matched by {by}"
    );
    // Every SMS was posted twice: the copies are acknowledged and unused.
    assert_eq!(count("duplicate"), numbers as usize, "{what}");
    // The forgeries never reached the matching (they were refused 401 at the door).
    assert_eq!(
        sms.len(),
        2 * numbers as usize,
        "{what}: only the real SMS and their copies are seen: {sms:?}"
    );
    assert_has(&run.stderr, "Refused an SMS whose proof does not hold");
}

#[test]
fn twenty_servers_log_in_through_capcom6_without_the_receiving_number() {
    demo_through("capcom6", false);
}

#[test]
fn twenty_servers_log_in_through_smsforwarder_with_the_number_in_the_slot_label() {
    demo_through("smsforwarder", true);
}

/// The README's "SMS forwarder apps" section: its TOML blocks and the URL it gives per app.
fn readme_section() -> (String, Vec<(App, String)>) {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("## SMS forwarder apps").unwrap();
    let end = readme[start + 3..]
        .find("\n## ")
        .map_or(readme.len(), |i| start + 3 + i);
    let section = &readme[start..end];
    let mut toml = String::new();
    let mut in_toml = false;
    for line in section.lines() {
        match line {
            "```toml" => in_toml = true,
            "```" => in_toml = false,
            _ if in_toml => {
                toml.push_str(line);
                toml.push('\n');
            }
            _ => {}
        }
    }
    let urls = App::ALL
        .into_iter()
        .map(|app| {
            let needle = format!("http://HOST:9800/sms/{}", app.name());
            let at = section
                .find(&needle)
                .unwrap_or_else(|| panic!("the README gives no URL for {app}"));
            let url: String = section[at..]
                .chars()
                .take_while(|c| !matches!(c, '`' | '"' | ' ' | '\n'))
                .collect();
            (app, url)
        })
        .collect();
    (toml, urls)
}

/// The secret the README's TOML sets for `app`.
fn readme_secret(toml: &str, app: App) -> String {
    let table: toml::Table = toml.parse().unwrap();
    table["sms"][app.name()]["secret"]
        .as_str()
        .unwrap()
        .to_owned()
}

struct Runtime(Child);

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_readme_opens_each_apps_intake_at_its_url_with_its_secret() {
    let (toml, urls) = readme_section();
    let s = Scratch::new();
    let admin = free_port();
    let server = free_port();
    s.write(
        "config.toml",
        format!(
            "{toml}\n[database]\nurl = \"sqlite://data/t.db\"\n[servers]\nports = [{server}]\n\
             [logging]\ndir = \"data/logs\"\n"
        ),
    );
    // As the README sets it but on a free port of loopback: the token it names stays required.
    let runtime = Runtime(
        Command::new(env!("CARGO_BIN_EXE_simrotor"))
            .args(["run", "--admin", &format!("127.0.0.1:{admin}")])
            .current_dir(s.path("."))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::blocking::Client::new();
    // A plain connect: the blocking client must not run inside the wait's own runtime.
    Patience::new(Duration::from_secs(30), Duration::from_millis(100)).wait_for_blocking(
        "the runtime's admin API",
        || {
            std::net::TcpStream::connect(("127.0.0.1", admin))
                .ok()
                .map(|_| ())
        },
    );
    let sim = Msisdn::parse("081200000001").unwrap();
    for (app, url) in urls {
        let readme_secret = readme_secret(&toml, app);
        let (path, readme_query) = url.split_once('?').unwrap_or((&url, ""));
        assert_eq!(
            path,
            format!("http://HOST:9800{}", app.path()),
            "{app}: the README's URL"
        );
        if app.auth() == simrotor_sms::AuthKind::Token {
            assert!(
                readme_query.contains(&format!("token={readme_secret}")),
                "{app}: the README's URL carries the token its TOML sets: {url}"
            );
        }
        let base = path.replace("HOST:9800", &format!("127.0.0.1:{admin}"));
        for (i, (secret, expected)) in [
            (readme_secret.as_str(), 200),
            ("not-the-readme-secret", 401),
        ]
        .into_iter()
        .enumerate()
        {
            let id = format!("readme-{}-{i}", app.name());
            let sms = Outgoing {
                receiving: &sim,
                with_number: true,
                device: "phone-1",
                slot: 1,
                sender: "+6281200000099",
                text: "Kode OTP Anda: 123456. JANGAN BERIKAN kode ini kepada siapapun.",
                at: Utc::now(),
                posted_at: Utc::now(),
                id: &id,
                url: &base,
            };
            let encoded = encode(app, &sms, Some(secret));
            let target = if encoded.query.is_empty() {
                base.clone()
            } else {
                format!("{base}?{}", encoded.query)
            };
            let mut req = match encoded.method {
                Method::Get => http.get(&target),
                Method::Post => http.post(&target).body(encoded.body.clone()),
            };
            for (name, value) in &encoded.headers {
                req = req.header(name, value);
            }
            let resp = req.send().unwrap();
            assert_eq!(
                resp.status().as_u16(),
                expected,
                "{app} with {}: {}",
                if i == 0 {
                    "the README's secret"
                } else {
                    "another secret"
                },
                resp.text().unwrap_or_default()
            );
        }
    }
    drop(runtime);
}

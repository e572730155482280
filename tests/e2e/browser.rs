//! The live page at `/` in a real browser (headless Chromium on a phone-sized window, driven
//! through chromedriver): it shows the servers of a running `simrotor demo`, and an OTP typed
//! into it reaches the binding that waits for it.
//!
//! The browser: `SIMROTOR_TEST_CHROMEDRIVER` (the path to chromedriver), else
//! `/usr/bin/chromedriver`; with neither the test says it was skipped. A chromedriver that is
//! there but does not work fails the test.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::helpers::{Scratch, free_port};

const SERVERS: usize = 3;
const DEADLINE: Duration = Duration::from_secs(30);

/// The chromedriver to use, or `None` (skip) when the machine has none and none was named.
fn chromedriver() -> Option<PathBuf> {
    match std::env::var_os("SIMROTOR_TEST_CHROMEDRIVER") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => Some(PathBuf::from("/usr/bin/chromedriver")).filter(|p| p.exists()),
    }
}

/// A child process killed, with every process of its group, when the test ends (or fails).
struct Killed {
    child: Child,
    what: String,
}

impl Killed {
    /// Spawns `cmd` as the leader of a new process group: chromedriver's browser processes are
    /// in it too, so none outlives the test.
    fn spawn(mut cmd: Command, what: String) -> Killed {
        use std::os::unix::process::CommandExt as _;
        cmd.process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Killed { child, what }
    }

    /// Panics, with `log`, when the process has already ended.
    fn assert_running(&mut self, log: &str) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("{} ended early ({status}):\n{log}", self.what);
        }
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One plain HTTP/1.0 GET to `addr` (`host:port`): the status line's code and the body.
fn get_blocking(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_owned()))
}

/// `GET addr path` as JSON, off the async runtime's threads; `None` when it did not answer 200.
async fn get_json(addr: &str, path: &str) -> Option<Value> {
    let (addr, path) = (addr.to_owned(), path.to_owned());
    let (code, body) = tokio::task::spawn_blocking(move || get_blocking(&addr, &path))
        .await
        .unwrap()?;
    if code != 200 {
        return None;
    }
    serde_json::from_str(&body).ok()
}

/// Everything the demo wrote on stderr so far (read by a thread: a full pipe would block it).
fn read_into_string(mut from: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

/// The text after `prefix` up to the end of its line, once `log` has the whole line.
fn line_after(log: &str, prefix: &str) -> Option<String> {
    let start = log.find(prefix)? + prefix.len();
    let rest = &log[start..];
    let end = rest.find('\n')?;
    Some(rest[..end].trim().to_owned())
}

/// One row of the page's grid, as the user sees it: each cell's visible text.
#[derive(Debug)]
struct Row {
    cells: Vec<String>,
    has_otp_form: bool,
    text: String,
}

impl Row {
    fn port(&self) -> u16 {
        self.cells[0]
            .parse()
            .unwrap_or_else(|_| panic!("the first cell is no port: {self:?}"))
    }

    fn number(&self) -> &str {
        &self.cells[2]
    }
}

/// The grid's rows as rendered now: visible texts (`innerText`, so hidden columns read empty)
/// and whether the row holds a visible OTP form.
async fn rows(browser: &Client) -> Vec<Row> {
    let script = r##"
        return Array.from(document.querySelectorAll("#servers tr")).map(tr => {
            const input = tr.querySelector("form.otp input");
            return {
                cells: Array.from(tr.cells).map(td => td.innerText.trim()),
                form: input !== null && input.offsetParent !== null,
                text: tr.innerText,
            };
        });
    "##;
    let value = browser.execute(script, vec![]).await.unwrap();
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Row {
            cells: r["cells"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap_or_default().to_owned())
                .collect(),
            has_otp_form: r["form"].as_bool().unwrap_or(false),
            text: r["text"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

/// The XPath of the grid's row whose first cell shows `port`.
fn row_xpath(port: u16) -> String {
    format!("//tbody[@id='servers']/tr[normalize-space(td[1])='{port}']")
}

/// The 6-digit code of the latest SMS the simulator on `sim_port` sent to `msisdn`.
async fn latest_code(sim_port: u16, msisdn: &str) -> String {
    let addr = format!("127.0.0.1:{sim_port}");
    let inbox = get_json(&addr, &format!("/_sim/sms?username={msisdn}"))
        .await
        .unwrap_or_else(|| panic!("no SMS inbox for {msisdn} on {addr}"));
    let message = inbox[0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no SMS for {msisdn}: {inbox}"));
    let code: String = message
        .split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .unwrap_or_else(|| panic!("no 6-digit code in {message:?}"))
        .to_owned();
    code
}

/// The login behind `port`'s OTP wait went through: the server's binding for `msisdn` moved past
/// OTP_VERIFICATION (or bought), or the simulator executed a purchase for the number.
async fn logged_in(admin: &str, sim_port: u16, port: u16, msisdn: &str) -> Option<String> {
    let servers = get_json(admin, "/api/servers").await?;
    let server = servers
        .as_array()?
        .iter()
        .find(|s| s["port"].as_u64() == Some(u64::from(port)))?;
    let same_number = server["msisdn"].as_str() == Some(msisdn);
    let state = server["binding_state"].as_str().unwrap_or_default();
    let purchases = server["purchases"].as_u64().unwrap_or(0);
    if same_number
        && (purchases > 0
            || matches!(
                state,
                "OTP_VERIFIED" | "TOKEN_LOGIN_FETCHED" | "TRANSACTING"
            ))
    {
        return Some(format!("binding {state}, {purchases} purchases"));
    }
    let ledger = get_json(&format!("127.0.0.1:{sim_port}"), "/_sim/ledger").await?;
    let bought = ledger
        .as_array()?
        .iter()
        .filter(|e| e["msisdn"].as_str() == Some(msisdn))
        .count();
    (bought > 0).then(|| format!("{bought} purchases in the simulator's ledger"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_shows_the_servers_and_sends_a_typed_otp_to_the_waiting_binding() {
    let Some(driver_path) = chromedriver() else {
        eprintln!("skipped: no chromedriver (set SIMROTOR_TEST_CHROMEDRIVER)");
        return;
    };
    let s = Scratch::new();

    // The demo: every number a reseller, none blocked, no SMS forwarding: each login waits for
    // an OTP typed by the operator.
    let admin = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_simrotor"));
    cmd.args(["--admin", &admin, "demo"])
        .args(["--servers", &SERVERS.to_string(), "--accounts", "6"])
        .args(["--no-forwarder", "--status-polls", "0", "--seed", "7"])
        .args(["--latency", "50ms"])
        .args(["--reseller-rate", "1", "--blocked-rate", "0"])
        .arg("--keep")
        .arg(s.path("demo"))
        .current_dir(s.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars() {
        if key.starts_with("SIMROTOR_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    let mut demo = Killed::spawn(cmd, "simrotor demo".to_owned());
    let demo_log = read_into_string(demo.child.stderr.take().unwrap());

    // chromedriver, its log in the scratch directory.
    let driver_port = free_port();
    let mut cmd = Command::new(&driver_path);
    cmd.arg(format!("--port={driver_port}"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(s.path("chromedriver.log")).unwrap())
        .stderr(std::fs::File::create(s.path("chromedriver.err")).unwrap());
    let mut driver = Killed::spawn(cmd, format!("chromedriver ({})", driver_path.display()));
    let driver_logs = || {
        format!(
            "{}\n{}",
            s.read("chromedriver.log"),
            s.read("chromedriver.err")
        )
    };

    // The demo's simulator ports and the page's address, from its stderr.
    let started = Instant::now();
    let (sim_line, page_url) = loop {
        let log = demo_log.lock().unwrap().clone();
        if let (Some(sim), Some(url)) = (
            line_after(&log, "Demo: "),
            line_after(&log, "Admin API and live page: "),
        ) {
            break (sim, url);
        }
        demo.assert_running(&log);
        assert!(
            started.elapsed() < DEADLINE,
            "the demo never started:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // "3 servers on 127.0.0.1:FIRST…LAST, 6 numbers …"
    let range = sim_line
        .split_once("127.0.0.1:")
        .and_then(|(_, rest)| rest.split_once(','))
        .map(|(range, _)| range)
        .unwrap_or_else(|| panic!("no port range in {sim_line:?}"));
    let (first, last) = range.split_once('…').unwrap();
    let (first, last): (u16, u16) = (first.parse().unwrap(), last.parse().unwrap());
    assert_eq!(page_url, format!("http://{admin}/"));

    // The browser, on a phone-sized window.
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", driver_port)).is_err() {
        driver.assert_running(&driver_logs());
        assert!(
            started.elapsed() < DEADLINE,
            "chromedriver ({}) never listened:\n{}",
            driver_path.display(),
            driver_logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=390,844",
            ],
            // A headless window is at least 500 px wide: the phone's screen is emulated.
            "mobileEmulation": {
                "deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 3.0, "touch": true},
            },
        }),
    );
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "chromedriver ({}) could not start a browser: {e}\n{}",
                driver_path.display(),
                driver_logs()
            )
        });
    browser.goto(&page_url).await.unwrap();
    assert_eq!(browser.title().await.unwrap(), "simrotor");

    // (1) One row per server, each showing its port: the simulator's ports.
    let started = Instant::now();
    let shown = loop {
        let shown = rows(&browser).await;
        if shown.len() == SERVERS && shown.iter().all(|r| r.cells[0].parse::<u16>().is_ok()) {
            break shown;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the page never showed {SERVERS} servers: {shown:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut ports: Vec<u16> = shown.iter().map(Row::port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), SERVERS, "{shown:?}");
    assert!(
        ports.contains(&first) && ports.contains(&last),
        "the page shows {ports:?}, the demo's simulator runs {first}…{last}"
    );
    for port in &ports {
        let ledger = get_json(&format!("127.0.0.1:{port}"), "/_sim/ledger").await;
        assert!(
            ledger.is_some_and(|l| l.is_array()),
            "port {port} on the page is not one of the demo's simulated servers"
        );
    }

    // A server waiting for its login OTP: its row has the OTP form and shows the number.
    let started = Instant::now();
    let (port, msisdn) = loop {
        let shown = rows(&browser).await;
        if let Some(row) = shown.iter().find(|r| r.has_otp_form) {
            break (row.port(), row.number().to_owned());
        }
        let log = demo_log.lock().unwrap().clone();
        demo.assert_running(&log);
        assert!(
            started.elapsed() < DEADLINE,
            "no row ever offered an OTP form: {shown:?}\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        msisdn.starts_with("62") && msisdn.len() >= 10,
        "the waiting row shows no number: {msisdn:?}"
    );
    // On the phone the page fits the screen's width: the form is there without a sideways scroll.
    let layout = browser
        .execute(
            "return [window.innerWidth, document.documentElement.scrollWidth];",
            vec![],
        )
        .await
        .unwrap();
    let (width, content) = (layout[0].as_u64().unwrap(), layout[1].as_u64().unwrap());
    assert_eq!(width, 390, "not the phone's width");
    assert!(
        content <= width,
        "the page is {content} px wide on a {width} px phone"
    );
    // The demo's servers are the simulator's ports: this one holds the number's SMS.
    let sim_port = port;

    // The code the simulated telco sent to that number, typed into that row and sent.
    let code = latest_code(sim_port, &msisdn).await;
    let row = row_xpath(port);
    let input = browser
        .find(Locator::XPath(&format!("{row}//form//input")))
        .await
        .unwrap();
    assert!(input.is_displayed().await.unwrap());
    let (x, _, w, _) = input.rectangle().await.unwrap();
    assert!(
        x >= 0.0 && x + w <= width as f64,
        "the OTP box ({x}+{w}) is off the {width} px screen"
    );
    input.send_keys(&code).await.unwrap();
    browser
        .find(Locator::XPath(&format!("{row}//form//button")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // (2) The page says it was sent (or, when the number already logged in, bought and made
    // way for the next one, the row shows the next number), and the binding got it: it logged in.
    let started = Instant::now();
    let page_says = loop {
        let shown = rows(&browser).await;
        let row = shown.iter().find(|r| r.port() == port);
        if row.is_some_and(|r| r.text.lines().any(|l| l.trim() == "sent")) {
            break "sent".to_owned();
        }
        if let Some(next) = row.map(Row::number).filter(|n| *n != msisdn) {
            break format!("the next number, {next}");
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the page never said the OTP was sent: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let started = Instant::now();
    let evidence = loop {
        if let Some(evidence) = logged_in(&admin, sim_port, port, &msisdn).await {
            break evidence;
        }
        let log = demo_log.lock().unwrap().clone();
        demo.assert_running(&log);
        assert!(
            started.elapsed() < DEADLINE,
            "{msisdn} on {port} never got past its OTP: {:?}\n{log}",
            get_json(&admin, "/api/servers").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "{msisdn} on {port} logged in with the typed OTP ({evidence}); the page: {page_says}"
    );

    browser.close().await.unwrap();
    // The demo would wait for the other numbers' OTPs: the guards stop it and chromedriver.
    drop(driver);
    drop(demo);
}

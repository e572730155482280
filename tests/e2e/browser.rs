//! The live page at `/` in a real browser (headless Chromium, driven through chromedriver) on
//! a running `simrotor demo`: on a phone it shows the servers and an OTP typed into it reaches
//! the binding that waits for it; on a desktop and a phone it shows the day's books (a batch's
//! progress, the hourly chart), downloads today's vouchers as the database has them, resolves
//! a suspect and opens a number's history, and leaves a screenshot of each layout.
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

/// One row of a table on the page, as the user sees it: each cell's visible text.
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
}

/// The rows of `#{table}` as rendered now: visible texts (`innerText`, so hidden columns read
/// empty) and whether the row holds a visible OTP form.
async fn rows(browser: &Client, table: &str) -> Vec<Row> {
    let script = r##"
        return Array.from(document.querySelectorAll("#" + arguments[0] + " tr")).map(tr => {
            const input = tr.querySelector("form.otp input");
            return {
                cells: Array.from(tr.cells).map(td => td.innerText.trim()),
                form: input !== null && input.offsetParent !== null,
                text: tr.innerText,
            };
        });
    "##;
    let value = browser.execute(script, vec![json!(table)]).await.unwrap();
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

/// The XPath of the waiting list's row whose first cell shows `port`.
fn row_xpath(port: u16) -> String {
    format!("//tbody[@id='waiting']/tr[normalize-space(td[1])='{port}']")
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

/// A running `simrotor demo` (its stderr read as it comes), and where it serves.
struct Demo {
    process: Killed,
    log: Arc<Mutex<String>>,
    admin: String,
    page_url: String,
    first: u16,
    last: u16,
}

impl Demo {
    /// `simrotor --admin ADDR demo ARGS --keep DIR`, once it printed its ports and page.
    async fn start(s: &Scratch, args: &[&str]) -> Demo {
        let admin = format!("127.0.0.1:{}", free_port());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_simrotor"));
        cmd.args(["--admin", &admin, "demo"])
            .args(args)
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
        let mut process = Killed::spawn(cmd, "simrotor demo".to_owned());
        let log = read_into_string(process.child.stderr.take().unwrap());
        let started = Instant::now();
        let (sim_line, page_url) = loop {
            let text = log.lock().unwrap().clone();
            if let (Some(sim), Some(url)) = (
                line_after(&text, "Demo: "),
                line_after(&text, "Admin API and live page: "),
            ) {
                break (sim, url);
            }
            process.assert_running(&text);
            assert!(
                started.elapsed() < DEADLINE,
                "the demo never started:\n{text}"
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
        assert_eq!(page_url, format!("http://{admin}/"));
        Demo {
            process,
            log,
            admin,
            page_url,
            first: first.parse().unwrap(),
            last: last.parse().unwrap(),
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn assert_running(&mut self) {
        let log = self.log();
        self.process.assert_running(&log);
    }
}

/// chromedriver on a free port, its log in the scratch directory.
struct Driver {
    process: Killed,
    port: u16,
    path: PathBuf,
    log: PathBuf,
}

impl Driver {
    async fn start(s: &Scratch, path: PathBuf) -> Driver {
        let port = free_port();
        let mut cmd = Command::new(&path);
        cmd.arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(s.path("chromedriver.log")).unwrap())
            .stderr(std::fs::File::create(s.path("chromedriver.err")).unwrap());
        let mut driver = Driver {
            process: Killed::spawn(cmd, format!("chromedriver ({})", path.display())),
            port,
            path,
            log: s.path("chromedriver.log"),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let logs = driver.logs();
            driver.process.assert_running(&logs);
            assert!(
                started.elapsed() < DEADLINE,
                "chromedriver ({}) never listened:\n{logs}",
                driver.path.display(),
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        driver
    }

    fn logs(&self) -> String {
        let err = self.log.with_extension("err");
        format!(
            "{}\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default(),
            std::fs::read_to_string(err).unwrap_or_default()
        )
    }

    /// A headless browser: a phone (390×844, emulated) or a desktop window (1280×1000), saving
    /// downloads into `downloads` without asking.
    async fn browser(&self, phone: bool, downloads: &std::path::Path) -> Client {
        let size = if phone { "390,844" } else { "1280,1000" };
        let mut options = json!({
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                format!("--window-size={size}"),
            ],
            "prefs": {
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
            },
        });
        if phone {
            // A headless window is at least 500 px wide: the phone's screen is emulated.
            options["mobileEmulation"] = json!({
                "deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 3.0, "touch": true},
            });
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("goog:chromeOptions".into(), options);
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver ({}) could not start a browser: {e}\n{}",
                    self.path.display(),
                    self.logs()
                )
            })
    }
}

/// Waits up to [`DEADLINE`] for `probe` to give something, failing with `what` and the last miss.
async fn until<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    loop {
        match probe().await {
            Ok(found) => return found,
            Err(miss) => assert!(
                started.elapsed() < DEADLINE,
                "{what} never happened: {miss}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether the page fits the window's width: no sideways scroll.
async fn fits_width(browser: &Client) -> (u64, u64) {
    let layout = browser
        .execute(
            "return [window.innerWidth, document.documentElement.scrollWidth];",
            vec![],
        )
        .await
        .unwrap();
    (layout[0].as_u64().unwrap(), layout[1].as_u64().unwrap())
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
    let accounts = "6";
    let mut demo = Demo::start(
        &s,
        &[
            "--servers",
            &SERVERS.to_string(),
            "--accounts",
            accounts,
            "--no-forwarder",
            "--status-polls",
            "0",
            "--seed",
            "7",
            "--latency",
            "50ms",
            "--reseller-rate",
            "1",
            "--blocked-rate",
            "0",
        ],
    )
    .await;
    let driver = Driver::start(&s, driver_path).await;
    let browser = driver.browser(true, &s.path("downloads")).await;
    browser.goto(&demo.page_url).await.unwrap();
    assert_eq!(browser.title().await.unwrap(), "simrotor");

    // (1) One row per server, each showing its port: the simulator's ports.
    let started = Instant::now();
    let shown = loop {
        let shown = rows(&browser, "servers").await;
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
        ports.contains(&demo.first) && ports.contains(&demo.last),
        "the page shows {ports:?}, the demo's simulator runs {}…{}",
        demo.first,
        demo.last
    );
    for port in &ports {
        let ledger = get_json(&format!("127.0.0.1:{port}"), "/_sim/ledger").await;
        assert!(
            ledger.is_some_and(|l| l.is_array()),
            "port {port} on the page is not one of the demo's simulated servers"
        );
    }

    // A server waiting for its login OTP: on top, its row has the OTP form and shows the number.
    let started = Instant::now();
    let (port, msisdn) = loop {
        let shown = rows(&browser, "waiting").await;
        if let Some(row) = shown.iter().find(|r| r.has_otp_form) {
            break (row.port(), row.cells[1].clone());
        }
        demo.assert_running();
        assert!(
            started.elapsed() < DEADLINE,
            "no row ever offered an OTP form: {shown:?}\n{}",
            demo.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        msisdn.starts_with("62") && msisdn.len() >= 10,
        "the waiting row shows no number: {msisdn:?}"
    );
    // On the phone the page fits the screen's width: the form is there without a sideways scroll.
    let (width, content) = fits_width(&browser).await;
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
    // way for the next one, the servers' row shows the next number), and the binding got it.
    let started = Instant::now();
    let page_says = loop {
        let waiting = rows(&browser, "waiting").await;
        let note = waiting.iter().find(|r| r.port() == port);
        if note.is_some_and(|r| r.text.lines().any(|l| l.trim() == "sent")) {
            break "sent".to_owned();
        }
        let servers = rows(&browser, "servers").await;
        let row = servers.iter().find(|r| r.port() == port);
        if let Some(next) = row.map(|r| r.cells[2].clone()).filter(|n| *n != msisdn) {
            break format!("the next number, {next}");
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the page never said the OTP was sent: {note:?} {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let started = Instant::now();
    let evidence = loop {
        if let Some(evidence) = logged_in(&demo.admin, sim_port, port, &msisdn).await {
            break evidence;
        }
        demo.assert_running();
        assert!(
            started.elapsed() < DEADLINE,
            "{msisdn} on {port} never got past its OTP: {:?}\n{}",
            get_json(&demo.admin, "/api/servers").await,
            demo.log()
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

/// The day's books of a finished demo that stays up (`--stay`), on a desktop and a phone:
/// the batch's progress bar, the hourly chart drawn with the run's purchases, today's vouchers
/// downloaded as CSV and held against the database, a suspect resolved, a number's history
/// opened; a screenshot of each layout, written where the test prints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_the_books_downloads_the_vouchers_resolves_a_suspect_and_opens_a_history() {
    let Some(driver_path) = chromedriver() else {
        eprintln!("skipped: no chromedriver (set SIMROTOR_TEST_CHROMEDRIVER)");
        return;
    };
    let s = Scratch::new();
    let mut demo = Demo::start(
        &s,
        &[
            "--servers",
            "3",
            "--accounts",
            "8",
            "--status-polls",
            "0",
            "--seed",
            "11",
            "--suspect-rate",
            "0.3",
            "--reseller-rate",
            "0.8",
            "--blocked-rate",
            "0",
            "--stay",
        ],
    )
    .await;
    // The run over: every number ended, the servers idle, the page still up.
    let recap = until("the demo's numbers all to end", || {
        let admin = demo.admin.clone();
        async move {
            let recap = get_json(&admin, "/api/batches").await.ok_or("no recap")?;
            let n = &recap["total"]["numbers"];
            let over = n["available"] == 0 && n["in_use"] == 0 && n["total"] == 8;
            over.then_some(recap.clone()).ok_or(format!("{n}"))
        }
    })
    .await;
    demo.assert_running();
    let demo_batch = &recap["batches"][0];
    assert_eq!(demo_batch["batch_id"], "DEMO");
    let done = demo_batch["numbers"]["done"].as_u64().unwrap();
    let sukses = demo_batch["transactions"]["success"].as_u64().unwrap();
    assert!(done > 0 && sukses > 0, "{recap}");
    let suspects = get_json(&demo.admin, "/api/suspects").await.unwrap();
    let suspect = suspects[0].clone();
    assert!(
        suspect["id"].is_i64(),
        "the run left no suspect to resolve: {suspects}"
    );

    let driver = Driver::start(&s, driver_path).await;
    let downloads = s.path("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let browser = driver.browser(false, &downloads).await;
    browser.goto(&demo.page_url).await.unwrap();

    // The batch's progress bar: its done share drawn, its counts as the recap has them.
    let bar = until("the DEMO batch's progress bar", || {
        let browser = browser.clone();
        async move {
            let found = browser
                .execute(
                    r#"const b = document.querySelector('.batch[data-batch="DEMO"]');
                       if (!b) return null;
                       const done = b.querySelector('.bar .seg-done');
                       return { ended: b.querySelector('.ended').innerText,
                                done: done ? Number(done.dataset.count) : 0,
                                width: done ? done.getBoundingClientRect().width : 0,
                                bar: b.querySelector('.bar').getBoundingClientRect().width,
                                pulsa: b.querySelector('.pulsa').innerText };"#,
                    vec![],
                )
                .await
                .map_err(|e| e.to_string())?;
            (!found.is_null())
                .then_some(found)
                .ok_or("not drawn yet".to_owned())
        }
    })
    .await;
    assert_eq!(bar["done"].as_u64(), Some(done), "{bar}");
    let ended = demo_batch["numbers"]["done"].as_u64().unwrap()
        + demo_batch["numbers"]["non_reseller"].as_u64().unwrap()
        + demo_batch["numbers"]["blocked"].as_u64().unwrap()
        + demo_batch["numbers"]["failed"].as_u64().unwrap();
    assert_eq!(
        bar["ended"].as_str().unwrap(),
        format!("{ended} of 8 numbers ended:")
    );
    let (seg, whole) = (bar["width"].as_f64().unwrap(), bar["bar"].as_f64().unwrap());
    let share = done as f64 / 8.0;
    assert!(
        (seg / whole - share).abs() < 0.02,
        "the done segment is {seg} of {whole} px for {done} of 8 numbers"
    );
    assert!(
        bar["pulsa"].as_str().unwrap().contains("spent Rp "),
        "{bar}"
    );

    // The chart: this hour's bar holds the run's vouchers, and it is drawn (has a height).
    let chart = browser
        .execute(
            r#"return Array.from(document.querySelectorAll('#chart rect.hour.sukses')).map(r =>
                 ({ n: Number(r.dataset.sukses), h: r.getBoundingClientRect().height }));"#,
            vec![],
        )
        .await
        .unwrap();
    let bars = chart.as_array().unwrap();
    assert_eq!(bars.len(), 24, "{chart}");
    let drawn: u64 = bars.iter().map(|b| b["n"].as_u64().unwrap()).sum();
    assert_eq!(
        drawn, sukses,
        "the chart counts {drawn} vouchers, the recap {sukses}"
    );
    assert!(
        bars.iter()
            .any(|b| b["n"].as_u64() > Some(0) && b["h"].as_f64() > Some(10.0)),
        "no bar is drawn: {chart}"
    );

    let (width, content) = fits_width(&browser).await;
    assert!(
        content <= width,
        "the page is {content} px wide in a {width} px window"
    );
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let desktop_png = shots.join("page-desktop.png");
    std::fs::write(&desktop_png, browser.screenshot().await.unwrap()).unwrap();

    // Today's vouchers as CSV, downloaded by the browser, row for row what the database holds.
    browser
        .find(Locator::Id("today-csv"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let file = until("the vouchers' CSV download", || {
        let downloads = downloads.clone();
        async move {
            let done = std::fs::read_dir(&downloads)
                .map_err(|e| e.to_string())?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "csv"));
            done.ok_or("no .csv in the downloads yet".to_owned())
        }
    })
    .await;
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        file.file_name().unwrap().to_str().unwrap(),
        format!("vouchers-{today}.csv")
    );
    let downloaded = std::fs::read_to_string(&file).unwrap();
    let db = format!("sqlite://{}", s.path("demo/demo.db").display());
    let from_db = s
        .run_env(
            &["vouchers", "--format", "csv", "--since", &today],
            &[("SIMROTOR_DATABASE__URL", &db)],
        )
        .ok();
    assert_eq!(
        downloaded, from_db.stdout,
        "the download is the database's export"
    );
    assert_eq!(
        downloaded.lines().count() as u64,
        sukses + 1,
        "{downloaded}"
    );

    // A suspect resolved through its form: gone from the list, recorded with who and why.
    let id = suspect["id"].as_i64().unwrap();
    let form = format!("//form[contains(@class, 'resolve') and @data-id='{id}']");
    browser
        .find(Locator::XPath(&format!("{form}//input[@name='who']")))
        .await
        .unwrap()
        .send_keys("browser-test")
        .await
        .unwrap();
    browser
        .find(Locator::XPath(&format!("{form}//input[@name='why']")))
        .await
        .unwrap()
        .send_keys("voucher found in the telco portal")
        .await
        .unwrap();
    browser
        .find(Locator::XPath(&format!("{form}//button")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let resolved = until("the suspect's resolution", || {
        let admin = demo.admin.clone();
        async move {
            let all = get_json(&admin, "/api/suspects?all=true")
                .await
                .ok_or("no list")?;
            let row = all
                .as_array()
                .and_then(|a| a.iter().find(|r| r["id"] == id).cloned())
                .ok_or("suspect gone")?;
            row["resolved_by"]
                .is_string()
                .then_some(row.clone())
                .ok_or(format!("{row}"))
        }
    })
    .await;
    assert_eq!(resolved["resolved_by"], "browser-test");
    assert_eq!(resolved["resolution"], "voucher found in the telco portal");
    // The page redraws its suspects once the resolve is answered: the row goes.
    until("the resolved suspect to leave the page's list", || {
        let browser = browser.clone();
        async move {
            let listed = browser
                .execute(
                    "return document.querySelector('#suspects tr[data-id=\"' + arguments[0] + '\"]') !== null;",
                    vec![json!(id)],
                )
                .await
                .map_err(|e| e.to_string())?;
            (listed == json!(false))
                .then_some(())
                .ok_or_else(|| "the resolved suspect is still offered".to_owned())
        }
    })
    .await;

    // That number's history, opened from the search box (typed in its local form).
    let msisdn = suspect["msisdn"].as_str().unwrap().to_owned();
    let local = format!("0{}", &msisdn[2..]);
    let search = browser.find(Locator::Css("#search input")).await.unwrap();
    search.send_keys(&local).await.unwrap();
    browser
        .find(Locator::Css("#search button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let api_history = get_json(&demo.admin, &format!("/api/history/{msisdn}"))
        .await
        .unwrap();
    let shown = until("the number's history", || {
        let browser = browser.clone();
        async move {
            let text = browser
                .find(Locator::Id("history"))
                .await
                .map_err(|e| e.to_string())?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            text.contains("Binding").then_some(text.clone()).ok_or(text)
        }
    })
    .await;
    assert!(shown.starts_with(&msisdn), "{shown}");
    let bindings = api_history["bindings"].as_array().unwrap();
    for b in bindings {
        assert!(
            shown.contains(&format!("Binding {} on server {}", b["id"], b["server"])),
            "binding {} missing from:\n{shown}",
            b["id"]
        );
    }
    assert!(shown.contains("resolved by browser-test"), "{shown}");
    browser.close().await.unwrap();

    // The phone: the same page, no sideways scroll.
    let phone = driver.browser(true, &downloads).await;
    phone.goto(&demo.page_url).await.unwrap();
    until("the phone's page to draw the batches", || {
        let phone = phone.clone();
        async move {
            let n = phone
                .execute(
                    "return document.querySelectorAll('.batch .bar span').length;",
                    vec![],
                )
                .await
                .map_err(|e| e.to_string())?;
            (n.as_u64() > Some(0)).then_some(()).ok_or(format!("{n}"))
        }
    })
    .await;
    let (width, content) = fits_width(&phone).await;
    assert!(
        content <= width,
        "the page is {content} px wide on a {width} px phone"
    );
    let phone_png = shots.join("page-phone.png");
    std::fs::write(&phone_png, phone.screenshot().await.unwrap()).unwrap();
    phone.close().await.unwrap();
    eprintln!(
        "Screenshots: {} (desktop), {} (phone)",
        desktop_png.display(),
        phone_png.display()
    );
    drop(driver);
    drop(demo);
}

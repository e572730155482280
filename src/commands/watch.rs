//! `simrotor watch`: the operator's live screen. A server waiting for an SMS OTP stalls until
//! someone types the code, so the servers that wait are on top and highlighted, and the code is
//! typed right here (`PORT CODE`, Enter) instead of in a second terminal with `simrotor otp`.
//!
//! Everything comes from the running runtime's admin API (`docs/admin-api.md`); the view never
//! opens the database. When the runtime stops answering the screen stays up with its last data
//! and says so: an operator watching a restart should not have to restart the watch too.
//!
//! With stdout not a terminal the verb prints one plain snapshot and exits, which keeps it
//! scriptable and testable without a TTY.

use std::io::{self, IsTerminal as _, Write as _};
use std::panic::PanicHookInfo;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use comfy_table::{Table as TextTable, presets::UTF8_FULL_CONDENSED};
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};
use ratatui::{Frame, Terminal};
use serde_json::{Value, json};
use simrotor_domain::Rupiah;
use simrotor_runtime::http::ServerView;
use tokio::sync::mpsc;

use crate::admin_client::{AdminClient, AdminError};

/// How often the data is fetched again: a waiting OTP has a deadline of minutes, so a second is
/// plenty and keeps the load on the runtime negligible.
const REFRESH: Duration = Duration::from_secs(1);
/// How long the loop sleeps between looks at the keyboard. The look itself never blocks: the
/// runtime is single-threaded and the fetches must progress while the operator types.
const TICK: Duration = Duration::from_millis(50);
/// A code is a handful of digits; a longer line is a stuck key, not input worth keeping.
const MAX_INPUT: usize = 40;

const PROMPT: &str = "OTP> ";
const HELP: &str = "type PORT CODE and Enter to deliver an OTP (e.g. 9903 123456) · ↑↓ PgUp PgDn scroll · Esc or q: quit";
const COLUMNS: [&str; 9] = [
    "port",
    "state",
    "number",
    "batch",
    "binding",
    "pulsa",
    "purchases",
    "step",
    "OTP",
];

pub async fn run(client: AdminClient) -> anyhow::Result<ExitCode> {
    if !io::stdout().is_terminal() {
        return snapshot(&client).await;
    }
    interactive(client).await
}

// ---------------------------------------------------------------------------------------------
// The data.

/// The totals the header shows: the day's purchases (`/api/today`) and the pool of every batch
/// (`/api/batches`, `total`); field names of `simrotor_persistence::recap`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Totals {
    sukses: u64,
    suspect: u64,
    gagal: u64,
    pulsa_spent: u64,
    done: u64,
    available: u64,
}

impl Totals {
    /// `None` when the recap is not in the expected shape: zeros would look like real numbers.
    fn from_answers(today: &Value, recap: &Value) -> Option<Self> {
        let total = recap.get("total")?;
        let n = |path: &str| total.pointer(path).and_then(Value::as_u64);
        let d = |path: &str| today.pointer(path).and_then(Value::as_u64);
        Some(Self {
            sukses: d("/transactions/success")?,
            suspect: d("/transactions/suspect")?,
            gagal: d("/transactions/failed")?,
            pulsa_spent: d("/pulsa/spent")?,
            done: n("/numbers/done")?,
            available: n("/numbers/available")?,
        })
    }
}

/// One round of answers from the runtime.
#[derive(Debug)]
struct Snapshot {
    servers: Result<Vec<ServerView>, AdminError>,
    totals: Option<Totals>,
    uptime_secs: Option<u64>,
    at: DateTime<Utc>,
}

async fn fetch(client: &AdminClient) -> Snapshot {
    let servers = client.get::<Vec<ServerView>>("/api/servers").await;
    // Without the server list the runtime is not there (or refuses us): asking twice more
    // would only triple the wait before the screen says so.
    let (totals, uptime_secs) = if servers.is_ok() {
        let recap = client.get::<Value>("/api/batches").await.ok();
        let today = client.get::<Value>("/api/today").await.ok();
        let health = client.get::<Value>("/health").await.ok();
        (
            today
                .as_ref()
                .zip(recap.as_ref())
                .and_then(|(today, recap)| Totals::from_answers(today, recap)),
            health
                .as_ref()
                .and_then(|h| h.get("uptime_secs"))
                .and_then(Value::as_u64),
        )
    } else {
        (None, None)
    };
    Snapshot {
        servers,
        totals,
        uptime_secs,
        at: Utc::now(),
    }
}

/// Whether the runtime answered the last round.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Link {
    Connecting,
    Up,
    /// What to tell the operator; the last data stays on screen.
    Down(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    Info,
    Good,
    Bad,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Status {
    text: String,
    tone: Tone,
}

/// Everything the screen shows; `render` is a pure function of it.
#[derive(Debug)]
struct Model {
    addr: String,
    now: DateTime<Utc>,
    servers: Vec<ServerView>,
    totals: Option<Totals>,
    uptime_secs: Option<u64>,
    updated: Option<DateTime<Utc>>,
    link: Link,
    /// What the operator is typing. Shown on their screen, never logged.
    input: String,
    status: Option<Status>,
    /// Rows scrolled past at the top of the table.
    scroll: usize,
}

impl Model {
    fn new(addr: &str) -> Self {
        Self {
            addr: addr.to_owned(),
            now: Utc::now(),
            servers: Vec::new(),
            totals: None,
            uptime_secs: None,
            updated: None,
            link: Link::Connecting,
            input: String::new(),
            status: None,
            scroll: 0,
        }
    }

    fn apply(&mut self, snapshot: Snapshot) {
        match snapshot.servers {
            Ok(servers) => {
                self.servers = servers;
                self.totals = snapshot.totals;
                self.uptime_secs = snapshot.uptime_secs;
                self.updated = Some(snapshot.at);
                self.link = Link::Up;
                self.scroll = self.scroll.min(self.servers.len().saturating_sub(1));
            }
            Err(AdminError::NotRunning { addr }) => {
                self.link = Link::Down(format!("no runtime answers at {addr}; retrying"));
            }
            Err(e) => self.link = Link::Down(format!("{e}; retrying")),
        }
    }

    fn waiting(&self) -> usize {
        self.servers
            .iter()
            .filter(|s| s.waiting_otp_since.is_some())
            .count()
    }

    fn tell(&mut self, tone: Tone, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            tone,
        });
    }
}

// ---------------------------------------------------------------------------------------------
// The input line.

/// Why a line is not `PORT CODE`. The messages never repeat what was typed: it may hold a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum InputError {
    #[error("type PORT CODE, e.g. 9903 123456")]
    Empty,
    #[error("the first word must be a server's port, a number from 1 to 65535 (PORT CODE)")]
    BadPort,
    #[error("no code: type {port} and the code, e.g. {port} 123456")]
    MissingCode { port: u16 },
    #[error("the code must be digits only")]
    CodeNotDigits,
    #[error("too many words: type PORT CODE, e.g. 9903 123456")]
    TooManyWords,
}

fn parse_input(line: &str) -> Result<(u16, String), InputError> {
    let mut words = line.split_whitespace();
    let port = words.next().ok_or(InputError::Empty)?;
    let port = port
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| port.parse::<u16>().ok())
        .flatten()
        .filter(|p| *p != 0)
        .ok_or(InputError::BadPort)?;
    let code = words.next().ok_or(InputError::MissingCode { port })?;
    if words.next().is_some() {
        return Err(InputError::TooManyWords);
    }
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InputError::CodeNotDigits);
    }
    Ok((port, code.to_owned()))
}

/// What a key asks of the loop beyond changing the model.
#[derive(PartialEq, Eq)]
enum Action {
    Nothing,
    Quit,
    Send { port: u16, code: String },
}

/// The code is an OTP: never printed, even by a debug print.
impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Nothing => f.write_str("Nothing"),
            Action::Quit => f.write_str("Quit"),
            Action::Send { port, .. } => f
                .debug_struct("Send")
                .field("port", port)
                .field("code", &"****")
                .finish(),
        }
    }
}

fn on_key(model: &mut Model, key: KeyEvent) -> Action {
    // Some terminals report releases and repeats too; one keystroke is one press.
    if key.kind != KeyEventKind::Press {
        return Action::Nothing;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        // Raw mode turns Ctrl-C into a key, not a signal: it must still get the operator out.
        KeyCode::Char('c') if ctrl => Action::Quit,
        KeyCode::Esc | KeyCode::Char('q') if model.input.is_empty() => Action::Quit,
        KeyCode::Esc => {
            model.input.clear();
            model.status = None;
            Action::Nothing
        }
        KeyCode::Char(c) if !ctrl && !c.is_control() => {
            if model.input.chars().count() < MAX_INPUT {
                model.input.push(c);
            }
            Action::Nothing
        }
        KeyCode::Backspace => {
            model.input.pop();
            Action::Nothing
        }
        KeyCode::Enter => match parse_input(&model.input) {
            Ok((port, code)) => {
                // Cleared at once, so a second code can be typed while this one travels.
                model.input.clear();
                model.tell(Tone::Info, format!("sending the code to server {port}…"));
                Action::Send { port, code }
            }
            Err(e) => {
                model.tell(Tone::Bad, e.to_string());
                Action::Nothing
            }
        },
        KeyCode::Up => scroll(model, -1),
        KeyCode::Down => scroll(model, 1),
        KeyCode::PageUp => scroll(model, -10),
        KeyCode::PageDown => scroll(model, 10),
        KeyCode::Home => scroll(model, isize::MIN),
        KeyCode::End => scroll(model, isize::MAX),
        _ => Action::Nothing,
    }
}

fn scroll(model: &mut Model, by: isize) -> Action {
    let last = model.servers.len().saturating_sub(1);
    model.scroll = model.scroll.saturating_add_signed(by).min(last);
    Action::Nothing
}

/// The status line after `POST /api/otp`.
fn delivery_status(port: u16, result: &Result<Value, AdminError>) -> Status {
    match result {
        Ok(answer) => {
            let field = |k: &str| answer.get(k).and_then(Value::as_str).unwrap_or("");
            let outcome = match field("outcome") {
                "" => "delivered",
                o => o,
            };
            let about: Vec<&str> = [field("purpose"), field("msisdn")]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            let text = if about.is_empty() {
                format!("server {port}: code {outcome}")
            } else {
                format!("server {port}: code {outcome} ({})", about.join(", "))
            };
            Status {
                text,
                tone: Tone::Good,
            }
        }
        Err(AdminError::Refused { message, .. }) => Status {
            text: format!("not delivered to server {port}: {message}"),
            tone: Tone::Bad,
        },
        Err(AdminError::NotRunning { addr }) => Status {
            text: format!("no runtime answers at {addr}; the code was not delivered"),
            tone: Tone::Bad,
        },
        Err(e) => Status {
            text: e.to_string(),
            tone: Tone::Bad,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The view.

/// `12s`, `3m`, `2h`, `4d`: one unit is enough to see what is stuck. A clock behind the
/// runtime's reads as `0s`, not as a negative age.
fn human_age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m", s / 60),
        3_600..86_400 => format!("{}h", s / 3_600),
        _ => format!("{}d", s / 86_400),
    }
}

fn age(now: DateTime<Utc>, since: DateTime<Utc>) -> String {
    human_age((now - since).num_seconds())
}

/// The table's cells of one server, shared by the screen and the plain snapshot.
fn cells(s: &ServerView, now: DateTime<Utc>) -> [String; 9] {
    let mut state = match &s.state_reason {
        Some(reason) if s.state == "FAULTED" => format!("FAULTED: {reason}"),
        _ => s.state.clone(),
    };
    if s.mode != "run" {
        state.push_str(&format!(" ({})", s.mode));
    }
    [
        s.port.to_string(),
        state,
        s.msisdn.clone().unwrap_or_default(),
        s.batch.clone().unwrap_or_default(),
        s.binding_state.clone().unwrap_or_default(),
        s.pulsa.map(|p| p.to_string()).unwrap_or_default(),
        s.purchases.to_string(),
        s.step_since.map(|t| age(now, t)).unwrap_or_default(),
        s.waiting_otp_since
            .map(|t| {
                let purpose = s.otp_purpose.as_deref().unwrap_or("login");
                match s.otp_turn.as_deref() {
                    Some("queued") => format!(
                        "QUEUED {purpose} turn, {} ahead {}",
                        s.otp_ahead.unwrap_or(0),
                        age(now, t)
                    ),
                    _ => format!("WAITING {purpose} {}", age(now, t)),
                }
            })
            .unwrap_or_default(),
    ]
}

fn row_style(s: &ServerView) -> Style {
    if s.waiting_otp_since.is_some() {
        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
    } else if matches!(s.state.as_str(), "FAULTED" | "OFFLINE") {
        Style::new().fg(Color::Red)
    } else {
        Style::new()
    }
}

/// The two header lines: where and how long, then the totals.
fn header_lines(model: &Model) -> [Line<'static>; 2] {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut first = vec![Span::styled("simrotor watch", bold)];
    match &model.link {
        Link::Down(why) => {
            first.push(Span::raw(" · "));
            first.push(Span::styled(
                why.clone(),
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            ));
            if let Some(at) = model.updated {
                first.push(Span::raw(format!(" · data {} old", age(model.now, at))));
            }
        }
        Link::Connecting => first.push(Span::raw(format!(" · asking {}…", model.addr))),
        Link::Up => {
            first.push(Span::raw(format!(" · {}", model.addr)));
            if let Some(up) = model.uptime_secs {
                first.push(Span::raw(format!(
                    " · up {}",
                    human_age(i64::try_from(up).unwrap_or(i64::MAX))
                )));
            }
            first.push(Span::raw(format!(" · {} servers", model.servers.len())));
        }
    }

    let mut second = match &model.totals {
        Some(t) => vec![Span::raw(format!(
            "today: {} sukses / {} suspect / {} gagal, pulsa spent {} · numbers {} done / {} available · ",
            t.sukses,
            t.suspect,
            t.gagal,
            Rupiah::new(t.pulsa_spent),
            t.done,
            t.available
        ))],
        None => vec![Span::raw("totals not known yet · ")],
    };
    let waiting = model.waiting();
    let waiting_style = if waiting > 0 {
        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    second.push(Span::styled(
        format!("{waiting} waiting for an OTP"),
        waiting_style,
    ));
    [Line::from(first), Line::from(second)]
}

fn widths() -> [Constraint; 9] {
    [
        Constraint::Length(5),
        Constraint::Fill(1),
        Constraint::Length(14),
        Constraint::Length(8),
        // TOKEN_LOGIN_FETCHED, the longest binding state.
        Constraint::Length(19),
        Constraint::Length(12),
        Constraint::Length(9),
        Constraint::Length(4),
        Constraint::Length(22),
    ]
}

fn render(frame: &mut Frame<'_>, model: &Model) {
    let [header, table, status, input] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());

    frame.render_widget(Paragraph::new(header_lines(model).to_vec()), header);

    if model.servers.is_empty() {
        let text = match model.link {
            Link::Up => "the runtime has no servers",
            _ => "",
        };
        frame.render_widget(Paragraph::new(text), table);
    } else {
        let rows = model
            .servers
            .iter()
            .skip(model.scroll)
            .map(|s| Row::new(cells(s, model.now)).style(row_style(s)));
        let head = Row::new(COLUMNS).style(
            Style::new()
                .add_modifier(Modifier::BOLD)
                .add_modifier(Modifier::UNDERLINED),
        );
        frame.render_widget(
            Table::new(rows, widths()).header(head).column_spacing(1),
            table,
        );
    }

    let status_line = match &model.status {
        Some(s) => {
            let style = match s.tone {
                Tone::Info => Style::new(),
                Tone::Good => Style::new().fg(Color::Green),
                Tone::Bad => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            };
            Line::styled(s.text.clone(), style)
        }
        None => Line::styled(HELP, Style::new().fg(Color::DarkGray)),
    };
    frame.render_widget(Paragraph::new(status_line), status);

    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(PROMPT, Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(model.input.clone()),
        ])),
        input,
    );
    let typed =
        u16::try_from(PROMPT.chars().count() + model.input.chars().count()).unwrap_or(u16::MAX);
    let x = input
        .x
        .saturating_add(typed)
        .min(input.right().saturating_sub(1));
    frame.set_cursor_position((x, input.y));
}

// ---------------------------------------------------------------------------------------------
// Not a terminal: one snapshot.

async fn snapshot(client: &AdminClient) -> anyhow::Result<ExitCode> {
    let Snapshot {
        servers,
        totals,
        uptime_secs,
        at,
    } = fetch(client).await;
    // A script must see that nothing answered: an error and a failing exit code.
    let servers = servers?;
    let mut model = Model::new(client.addr());
    model.now = at;
    model.apply(Snapshot {
        servers: Ok(servers),
        totals,
        uptime_secs,
        at,
    });
    let text = plain_text(&model);
    match io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    Ok(ExitCode::SUCCESS)
}

fn plain_text(model: &Model) -> String {
    let mut out = String::new();
    for line in header_lines(model) {
        out.push_str(&line.to_string());
        out.push('\n');
    }
    let mut table = TextTable::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(COLUMNS);
    for s in &model.servers {
        table.add_row(cells(s, model.now));
    }
    out.push_str(&table.to_string());
    out.push('\n');
    out
}

// ---------------------------------------------------------------------------------------------
// The terminal.

type PanicHook = dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static;

/// Raw mode and the alternate screen for as long as it lives. Dropped on every way out of
/// `interactive` (return, `?`, unwinding), and a panic hook restores the terminal before the
/// panic message prints, or the message would vanish with the alternate screen.
struct TerminalGuard {
    previous_hook: Arc<PanicHook>,
}

impl std::fmt::Debug for TerminalGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalGuard").finish_non_exhaustive()
    }
}

fn restore_terminal() {
    // Best effort: on the way out there is nobody left to report a failure to.
    let _ = terminal::disable_raw_mode();
    let _ = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
}

impl TerminalGuard {
    fn enter() -> io::Result<Self> {
        let previous_hook: Arc<PanicHook> = Arc::from(std::panic::take_hook());
        let chained = Arc::clone(&previous_hook);
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            chained(info);
        }));
        // Built before the first switch, so a failure half-way still restores what was changed.
        let guard = Self { previous_hook };
        terminal::enable_raw_mode()?;
        execute!(io::stdout(), terminal::EnterAlternateScreen)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
        // Swapping hooks while panicking would abort the process; the process is ending then.
        if !std::thread::panicking() {
            let _ours = std::panic::take_hook();
            let previous = Arc::clone(&self.previous_hook);
            std::panic::set_hook(Box::new(move |info| previous(info)));
        }
    }
}

/// Resolves when the process is asked to stop (SIGTERM, SIGHUP), so the terminal is restored
/// then too; never resolves where there are no such signals.
async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            tokio::select! {
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
            return;
        }
    }
    std::future::pending::<()>().await;
}

async fn interactive(client: AdminClient) -> anyhow::Result<ExitCode> {
    let mut model = Model::new(client.addr());

    // The fetches and the deliveries run beside the loop, so a runtime slow to answer (up to
    // the client's timeout) never freezes the keyboard.
    let (snapshots_tx, mut snapshots) = mpsc::channel::<Snapshot>(1);
    let poller = {
        let client = client.clone();
        actix_rt::spawn(async move {
            loop {
                let snapshot = fetch(&client).await;
                if snapshots_tx.send(snapshot).await.is_err() {
                    return;
                }
                tokio::time::sleep(REFRESH).await;
            }
        })
    };
    let (deliveries_tx, mut deliveries) = mpsc::unbounded_channel::<(u16, Status)>();

    let guard = TerminalGuard::enter()?;
    let outcome = async {
        let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        let stop = stop_requested();
        tokio::pin!(stop);
        loop {
            model.now = Utc::now();
            terminal.draw(|frame| render(frame, &model))?;
            while event::poll(Duration::ZERO)? {
                let Event::Key(key) = event::read()? else {
                    continue;
                };
                match on_key(&mut model, key) {
                    Action::Nothing => {}
                    Action::Quit => return Ok(ExitCode::SUCCESS),
                    Action::Send { port, code } => {
                        let (client, tx) = (client.clone(), deliveries_tx.clone());
                        actix_rt::spawn(async move {
                            let body = json!({ "server": port, "code": code });
                            let result = client.post::<Value>("/api/otp", &body).await;
                            let _ = tx.send((port, delivery_status(port, &result)));
                        });
                    }
                }
            }
            tokio::select! {
                Some(snapshot) = snapshots.recv() => model.apply(snapshot),
                Some((port, status)) = deliveries.recv() => {
                    // Refused: put the port back (never the code) so only the code needs
                    // typing again.
                    if status.tone == Tone::Bad && model.input.is_empty() {
                        model.input = format!("{port} ");
                    }
                    model.status = Some(status);
                }
                () = &mut stop => return Ok(ExitCode::SUCCESS),
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }
    .await;
    drop(guard);
    poller.abort();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn server(port: u16, state: &str) -> ServerView {
        ServerView {
            port,
            enabled: true,
            state: state.to_owned(),
            mode: "run".to_owned(),
            state_reason: None,
            device_id: Some(format!("dev-{port}")),
            binding: None,
            msisdn: None,
            batch: None,
            binding_state: None,
            pulsa: None,
            purchases: 0,
            step_since: None,
            waiting_otp_since: None,
            otp_purpose: None,
            otp_turn: None,
            otp_ahead: None,
            restarts: 0,
            owner: None,
            lease_expires_in_ms: None,
        }
    }

    fn bound(mut s: ServerView, msisdn: &str, binding_state: &str) -> ServerView {
        s.binding = Some(i64::from(s.port));
        s.msisdn = Some(msisdn.to_owned());
        s.batch = Some("B1".to_owned());
        s.binding_state = Some(binding_state.to_owned());
        s.pulsa = Some(Rupiah::new(45_000));
        s.purchases = 3;
        s.step_since = Some(t("2026-11-24T08:00:00Z"));
        s
    }

    /// As the API sends them: the waiting server first.
    fn model() -> Model {
        let mut waiting = bound(
            server(9903, "WAITING_OTP"),
            "6281200009903",
            "OTP_VERIFICATION",
        );
        waiting.waiting_otp_since = Some(t("2026-11-24T08:00:15Z"));
        waiting.otp_purpose = Some("login".to_owned());
        let busy = bound(server(9901, "BUSY"), "6281200009901", "BUYING");
        let mut faulted = server(9902, "FAULTED");
        faulted.state_reason = Some("device gone".to_owned());
        let mut paused = bound(server(9904, "PAUSED"), "6281200009904", "READY");
        paused.mode = "pause".to_owned();

        let mut model = Model::new("127.0.0.1:9800");
        model.apply(Snapshot {
            servers: Ok(vec![waiting, busy, faulted, paused]),
            totals: Totals::from_answers(&today(), &recap()),
            uptime_secs: Some(7_300),
            at: t("2026-11-24T08:01:00Z"),
        });
        model.now = t("2026-11-24T08:01:00Z");
        model
    }

    fn today() -> Value {
        json!({
            "since": "2026-11-24T00:00:00Z",
            "transactions": {"total": 210, "processing": 0, "success": 200, "suspect": 6, "failed": 4},
            "pulsa": {"start": 0, "spent": 2000000, "suspect": 60000, "left": 0},
            "bindings_ended": 30
        })
    }

    fn recap() -> Value {
        json!({
            "batches": [],
            "total": {
                "batch_id": "",
                "numbers": {"total": 1000, "available": 200, "in_use": 50, "done": 700,
                            "non_reseller": 30, "blocked": 10, "failed": 10, "waiting_otp": 1},
                "pulsa": {"start": 50000000, "spent": 21000000, "suspect": 60000, "left": 29000000},
                "transactions": {"total": 2100, "processing": 0, "success": 2090,
                                 "suspect": 6, "failed": 4}
            }
        })
    }

    fn draw(model: &Model, width: u16, height: u16) -> Buffer {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| render(f, model)).unwrap();
        terminal.backend().buffer().clone()
    }

    fn line(buf: &Buffer, y: u16) -> String {
        (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol())
            .collect::<String>()
    }

    fn screen(buf: &Buffer) -> String {
        (0..buf.area.height)
            .map(|y| line(buf, y))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn type_in(model: &mut Model, text: &str) {
        for c in text.chars() {
            assert_eq!(on_key(model, key(KeyCode::Char(c))), Action::Nothing);
        }
    }

    #[test]
    fn watch_parses_port_and_code() {
        assert_eq!(parse_input("9903 123456"), Ok((9903, "123456".to_owned())));
        assert_eq!(parse_input("  9903   0042 "), Ok((9903, "0042".to_owned())));
    }

    #[test]
    fn watch_refuses_input_that_is_not_port_and_code() {
        assert_eq!(parse_input(""), Err(InputError::Empty));
        assert_eq!(parse_input("   "), Err(InputError::Empty));
        assert_eq!(
            parse_input("9903"),
            Err(InputError::MissingCode { port: 9903 })
        );
        assert_eq!(parse_input("9903 12a456"), Err(InputError::CodeNotDigits));
        assert_eq!(parse_input("abc 123456"), Err(InputError::BadPort));
        assert_eq!(parse_input("+9903 123456"), Err(InputError::BadPort));
        assert_eq!(parse_input("70000 123456"), Err(InputError::BadPort));
        assert_eq!(parse_input("0 123456"), Err(InputError::BadPort));
        assert_eq!(parse_input("9903 123 456"), Err(InputError::TooManyWords));
    }

    #[test]
    fn watch_input_errors_never_repeat_the_code() {
        for bad in ["9903 12a456", "123456", "9903 1 2"] {
            let message = parse_input(bad).unwrap_err().to_string();
            assert!(
                !message.contains("12a456") && !message.contains("123456 "),
                "{message}"
            );
        }
    }

    #[test]
    fn watch_humanises_ages() {
        assert_eq!(human_age(-5), "0s");
        assert_eq!(human_age(0), "0s");
        assert_eq!(human_age(12), "12s");
        assert_eq!(human_age(59), "59s");
        assert_eq!(human_age(60), "1m");
        assert_eq!(human_age(3 * 60 + 59), "3m");
        assert_eq!(human_age(3_599), "59m");
        assert_eq!(human_age(2 * 3_600 + 5), "2h");
        assert_eq!(human_age(86_400 * 3), "3d");
        assert_eq!(
            age(t("2026-11-24T08:01:00Z"), t("2026-11-24T08:00:15Z")),
            "45s"
        );
    }

    #[test]
    fn watch_reads_the_recap_totals() {
        assert_eq!(
            Totals::from_answers(&today(), &recap()),
            Some(Totals {
                sukses: 200,
                suspect: 6,
                gagal: 4,
                pulsa_spent: 2_000_000,
                done: 700,
                available: 200,
            })
        );
        assert_eq!(Totals::from_answers(&today(), &json!({"total": {}})), None);
        assert_eq!(Totals::from_answers(&json!({}), &recap()), None);
    }

    #[test]
    fn watch_shows_the_waiting_server_first_and_highlighted() {
        let model = model();
        let buf = draw(&model, 140, 12);
        // Two header lines, then the column titles, then the servers.
        assert!(line(&buf, 2).contains("port"), "{}", screen(&buf));
        let first = line(&buf, 3);
        assert!(first.trim_start().starts_with("9903"), "{first}");
        assert!(first.contains("WAITING login 45s"), "{first}");
        let cell = &buf[(0, 3)];
        assert_eq!(cell.fg, Color::Yellow);
        assert!(cell.modifier.contains(Modifier::BOLD));
        // A plain busy server is not highlighted; a faulted one is red.
        let busy = (3..buf.area.height)
            .find(|&y| line(&buf, y).starts_with("9901"))
            .unwrap();
        assert_eq!(buf[(0, busy)].fg, Color::Reset);
        let faulted = (3..buf.area.height)
            .find(|&y| line(&buf, y).starts_with("9902"))
            .unwrap();
        assert_eq!(buf[(0, faulted)].fg, Color::Red);
        assert!(line(&buf, faulted).contains("FAULTED: device gone"));
    }

    #[test]
    fn watch_shows_every_server_and_the_totals() {
        let model = model();
        let text = screen(&draw(&model, 140, 12));
        for s in &model.servers {
            assert!(
                text.contains(&s.port.to_string()),
                "{} missing:\n{text}",
                s.port
            );
            if let Some(msisdn) = &s.msisdn {
                assert!(text.contains(msisdn.as_str()), "{msisdn} missing:\n{text}");
            }
        }
        assert!(
            text.contains("127.0.0.1:9800 · up 2h · 4 servers"),
            "{text}"
        );
        assert!(
            text.contains("today: 200 sukses / 6 suspect / 4 gagal"),
            "{text}"
        );
        assert!(text.contains("pulsa spent Rp 2.000.000"), "{text}");
        assert!(text.contains("numbers 700 done / 200 available"), "{text}");
        assert!(text.contains("1 waiting for an OTP"), "{text}");
        assert!(text.contains("PAUSED (pause)"), "{text}");
        assert!(text.contains("Rp 45.000"), "{text}");
        assert!(text.contains(PROMPT), "{text}");
    }

    #[test]
    fn watch_keeps_the_screen_when_the_runtime_goes_away() {
        let mut model = model();
        model.apply(Snapshot {
            servers: Err(AdminError::NotRunning {
                addr: "127.0.0.1:9800".to_owned(),
            }),
            totals: None,
            uptime_secs: None,
            at: t("2026-11-24T08:01:05Z"),
        });
        model.now = t("2026-11-24T08:01:05Z");
        let text = screen(&draw(&model, 140, 12));
        assert!(
            text.contains("no runtime answers at 127.0.0.1:9800; retrying · data 5s old"),
            "{text}"
        );
        assert!(text.contains("6281200009903"), "{text}");
        assert!(text.contains("sukses"), "the last totals stay:\n{text}");
    }

    #[test]
    fn watch_renders_on_a_small_or_empty_screen() {
        let model = model();
        draw(&model, 40, 6);
        draw(&model, 1, 1);
        let empty = Model::new("127.0.0.1:9800");
        let text = screen(&draw(&empty, 80, 6));
        assert!(text.contains("asking 127.0.0.1:9800"), "{text}");
    }

    #[test]
    fn watch_keys_type_send_and_quit() {
        let mut model = model();
        type_in(&mut model, "9903 12x");
        assert_eq!(on_key(&mut model, key(KeyCode::Backspace)), Action::Nothing);
        assert_eq!(model.input, "9903 12");
        // q in a line being typed is a character, not a quit.
        type_in(&mut model, "q");
        assert_eq!(on_key(&mut model, key(KeyCode::Enter)), Action::Nothing);
        let status = model.status.clone().unwrap();
        assert_eq!(status.tone, Tone::Bad);
        assert_eq!(status.text, InputError::CodeNotDigits.to_string());
        on_key(&mut model, key(KeyCode::Backspace));
        type_in(&mut model, "3456");
        assert_eq!(
            on_key(&mut model, key(KeyCode::Enter)),
            Action::Send {
                port: 9903,
                code: "123456".to_owned()
            }
        );
        assert!(model.input.is_empty());

        type_in(&mut model, "99");
        assert_eq!(on_key(&mut model, key(KeyCode::Esc)), Action::Nothing);
        assert!(model.input.is_empty());
        assert_eq!(on_key(&mut model, key(KeyCode::Char('q'))), Action::Quit);
        assert_eq!(on_key(&mut model, key(KeyCode::Esc)), Action::Quit);
        type_in(&mut model, "9903");
        assert_eq!(
            on_key(
                &mut model,
                KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)
            ),
            Action::Quit
        );
    }

    #[test]
    fn watch_reports_the_apis_answer_to_a_code() {
        let ok = delivery_status(
            9903,
            &Ok(json!({"outcome": "delivered", "server": 9903,
                       "msisdn": "6281200009903", "purpose": "login"})),
        );
        assert_eq!(ok.tone, Tone::Good);
        assert_eq!(
            ok.text,
            "server 9903: code delivered (login, 6281200009903)"
        );
        let refused = delivery_status(
            9903,
            &Err(AdminError::Refused {
                addr: "127.0.0.1:9800".to_owned(),
                status: reqwest::StatusCode::NOT_FOUND,
                message: "server 9903 is not waiting for an OTP".to_owned(),
            }),
        );
        assert_eq!(refused.tone, Tone::Bad);
        assert_eq!(
            refused.text,
            "not delivered to server 9903: server 9903 is not waiting for an OTP"
        );
    }

    #[test]
    fn watch_snapshot_is_plain_text() {
        let text = plain_text(&model());
        assert!(!text.contains('\u{1b}'), "no escape codes in a snapshot");
        let first = text.lines().position(|l| l.contains("9903")).unwrap();
        let busy = text.lines().position(|l| l.contains("9901")).unwrap();
        assert!(first < busy, "{text}");
        assert!(text.contains("WAITING login 45s"), "{text}");
    }
}

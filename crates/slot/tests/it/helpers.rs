//! A stub resource server on raw TCP, so that it can misbehave in ways no HTTP framework allows:
//! stop mid-body, reset the connection, never finish. It records every request it reads.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;
use simrotor_domain::Msisdn;
use simrotor_slot::{HttpOptions, HttpSlotClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// The number every test uses, given in international form; it must go out as `08…`.
pub const MSISDN_INPUT: &str = "+62 857-1234-5678";
pub const MSISDN_LOCAL: &str = "085712345678";

pub fn msisdn() -> Msisdn {
    Msisdn::parse(MSISDN_INPUT).unwrap()
}

/// Fast, generous options: repeats without real pauses, a timeout no healthy call reaches.
pub fn options(base_url: String) -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_secs(10),
        retries: 2,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
        ..HttpOptions::new(base_url)
    }
}

pub fn client(options: HttpOptions) -> HttpSlotClient {
    HttpSlotClient::with_options(options).unwrap()
}

/// A port nobody listens on: bound, then released.
pub fn closed_port_url() -> String {
    format!("http://127.0.0.1:{}", simrotor_test_support::free_port())
}

/// One request as the stub read it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub arrived: Instant,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the stub does with a request.
#[derive(Debug, Clone)]
pub enum Act {
    /// A complete answer, then the connection closes.
    Answer {
        status: u16,
        content_type: &'static str,
        body: String,
    },
    /// The headers announce more than `partial`; after it, silence until the test ends.
    Stall { partial: String },
    /// A chunked body that never ends.
    Endless,
    /// The headers announce more than `partial`; after it, a clean close (FIN).
    CutMidAnswer { partial: String },
    /// Headers and `partial`, then a TCP reset.
    ResetMidAnswer { partial: String },
    /// The request is read, then the connection is reset without a byte of answer.
    ResetBeforeAnswer,
    /// The request is read, then the connection is closed without a byte of answer.
    CloseBeforeAnswer,
    /// The request is read and never answered.
    Silent,
}

impl Act {
    pub fn json(body: &str) -> Act {
        Act::Answer {
            status: 200,
            content_type: "application/json",
            body: body.to_owned(),
        }
    }

    pub fn text(body: &str) -> Act {
        Act::Answer {
            status: 200,
            content_type: "text/plain",
            body: body.to_owned(),
        }
    }

    pub fn html(status: u16, body: &str) -> Act {
        Act::Answer {
            status,
            content_type: "text/html",
            body: body.to_owned(),
        }
    }
}

type Script = dyn Fn(usize, &Seen) -> Act + Send + Sync;

/// A running stub; it stops (and drops every connection it holds) when dropped.
pub struct Stub {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    accept: JoinHandle<()>,
}

impl Stub {
    /// `script` gets the request's index (0 for the first) and the request.
    pub async fn start(script: impl Fn(usize, &Seen) -> Act + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let accept = tokio::spawn({
            let seen = seen.clone();
            async move {
                // Owned here so that aborting this task drops every connection.
                let mut connections = JoinSet::new();
                while let Ok((stream, _)) = listener.accept().await {
                    connections.spawn(serve(stream, script.clone(), seen.clone()));
                }
            }
        });
        Stub { addr, seen, accept }
    }

    /// The same act for every request.
    pub async fn always(act: Act) -> Stub {
        Stub::start(move |_, _| act.clone()).await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn serve(mut stream: TcpStream, script: Arc<Script>, seen: Arc<Mutex<Vec<Seen>>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or("/")
        .to_owned();
    let url = Url::parse(&format!("http://stub{target}")).unwrap();
    let request = Seen {
        path: url.path().to_owned(),
        query: url.query_pairs().into_owned().collect(),
        headers: lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        arrived: Instant::now(),
    };
    let index = {
        let mut seen = seen.lock().unwrap();
        seen.push(request.clone());
        seen.len() - 1
    };
    let act = script(index, &request);
    let _ = respond(&mut stream, act).await;
}

fn head(status: u16, content_type: &str, framing: &str) -> String {
    format!(
        "HTTP/1.1 {status} Stub\r\nContent-Type: {content_type}\r\n{framing}\r\nConnection: close\r\n\r\n"
    )
}

/// A 200 JSON head announcing 1,000 bytes more than `partial`, then `partial`: an answer cut
/// short.
async fn write_partial(stream: &mut TcpStream, partial: &str) -> std::io::Result<()> {
    let framing = format!("Content-Length: {}", partial.len() + 1000);
    let head = head(200, "application/json", &framing);
    stream
        .write_all(format!("{head}{partial}").as_bytes())
        .await
}

async fn respond(stream: &mut TcpStream, act: Act) -> std::io::Result<()> {
    match act {
        Act::Answer {
            status,
            content_type,
            body,
        } => {
            let framing = format!("Content-Length: {}", body.len());
            stream
                .write_all(format!("{}{body}", head(status, content_type, &framing)).as_bytes())
                .await?;
            stream.shutdown().await
        }
        Act::Stall { partial } => {
            write_partial(stream, &partial).await?;
            stream.flush().await?;
            std::future::pending::<()>().await;
            Ok(())
        }
        Act::Endless => {
            stream
                .write_all(head(200, "application/json", "Transfer-Encoding: chunked").as_bytes())
                .await?;
            let chunk = format!("400\r\n{}\r\n", "x".repeat(0x400));
            loop {
                stream.write_all(chunk.as_bytes()).await?;
            }
        }
        Act::CutMidAnswer { partial } => {
            write_partial(stream, &partial).await?;
            stream.shutdown().await
        }
        Act::ResetMidAnswer { partial } => {
            write_partial(stream, &partial).await?;
            stream.flush().await?;
            stream.set_zero_linger()
        }
        Act::ResetBeforeAnswer => stream.set_zero_linger(),
        Act::CloseBeforeAnswer => stream.shutdown().await,
        Act::Silent => {
            std::future::pending::<()>().await;
            Ok(())
        }
    }
}

/// The process-wide log sink: one global subscriber, installed once, down to TRACE and without
/// timestamps (their digits could look like a code). A thread-local subscriber would race with
/// tests running in parallel: callsites cache their interest process-wide.
fn sink() -> &'static Arc<Mutex<Vec<u8>>> {
    static SINK: std::sync::OnceLock<Arc<Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    SINK.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Writer(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .without_time()
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("only helpers::sink sets the global subscriber");
        buffer
    })
}

#[derive(Clone)]
struct Writer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log lines written since `capture` (other tests running meanwhile add theirs too: the
/// assertions on it are "this appears" and "no secret appears", which that cannot weaken).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<usize>>);

/// Marks the capture's span; nothing to undo.
pub struct Capture;

impl Logs {
    pub fn capture(&self) -> Capture {
        *self.0.lock().unwrap() = sink().lock().unwrap().len();
        Capture
    }

    pub fn text(&self) -> String {
        let start = *self.0.lock().unwrap();
        let all = sink().lock().unwrap();
        String::from_utf8_lossy(&all[start.min(all.len())..]).into_owned()
    }
}

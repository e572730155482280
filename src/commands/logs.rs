//! `simrotor logs`: the audit trail, filtered and readable.
//!
//! Reading is blocking file I/O and the only thing this process does, so it runs on tokio's
//! blocking pool; the async side just waits for it or for Ctrl-C, which sets a flag the reader
//! checks at every line and between polls. Ctrl-C thus ends `-f` within one poll interval, and
//! the skipped-lines report still gets printed.

use std::io::{BufWriter, ErrorKind, StdoutLock, Write as _};
use std::ops::ControlFlow;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use simrotor_auditlog::{
    Filter, Follower, Matched, Matcher, Poll, ReadStats, Renderer, discover, parse_level,
    parse_msisdn, parse_since, read_all, read_tail,
};
use simrotor_config::Config;

use crate::cli::LogsArgs;

/// How many matching events `-f` shows from the history when --since is not given, like tail.
const FOLLOW_HISTORY: usize = 10;
/// How often `-f` looks for new lines and new files.
const POLL: Duration = Duration::from_millis(200);

pub async fn run(config: &Config, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| config.logging.dir.clone());
    let filter = filter(&args)?;
    let following = args.follow;
    let stop = Arc::new(AtomicBool::new(false));
    let mut reader = {
        let stop = Arc::clone(&stop);
        tokio::task::spawn_blocking(move || read(&dir, filter, &args, &stop))
    };
    let interrupted;
    let joined = tokio::select! {
        joined = &mut reader => {
            interrupted = false;
            joined
        }
        // A failure to install the handler disables this branch: Ctrl-C then kills the process.
        Ok(()) = tokio::signal::ctrl_c() => {
            interrupted = true;
            stop.store(true, Ordering::Relaxed);
            reader.await
        }
    };
    let code = joined.context("the audit reader stopped unexpectedly")??;
    Ok(if interrupted && !following {
        // The shell's convention for "ended by SIGINT": the output is incomplete.
        ExitCode::from(130)
    } else {
        code
    })
}

fn filter(args: &LogsArgs) -> anyhow::Result<Filter> {
    Ok(Filter {
        server: args.server,
        msisdn: args.msisdn.as_deref().map(parse_msisdn).transpose()?,
        batch: args.batch.clone(),
        binding: args.binding,
        trx: args.trx.clone(),
        since: args.since.as_deref().map(parse_since).transpose()?,
        level: args.level.as_deref().map(parse_level).transpose()?,
    })
}

/// The whole verb, on a blocking thread.
fn read(
    dir: &Path,
    filter: Filter,
    args: &LogsArgs,
    stop: &AtomicBool,
) -> anyhow::Result<ExitCode> {
    let matcher = Matcher::new(filter);
    let files = discover(dir)?;
    if files.is_empty() {
        if !args.follow {
            anyhow::bail!("{}", no_files(dir));
        }
        eprintln!("{}; waiting for them (Ctrl-C to stop).", no_files(dir));
    }
    let stdout = std::io::stdout();
    let mut out = Out::new(stdout.lock(), args.json);

    let history = if args.follow && args.since.is_none() {
        read_tail(&files, &matcher, FOLLOW_HISTORY, true, stop, |m| {
            out.line(m)
        })?
    } else {
        read_all(&files, &matcher, args.follow, stop, |m| out.line(m))?
    };
    out.flush();
    let mut stats = history.stats;

    if args.follow && out.open() && !stop.load(Ordering::Relaxed) {
        let mut follower = Follower::new(dir, matcher, history.end)?;
        let followed = follow(&mut follower, &mut out, stop);
        stats.absorb(follower.into_stats());
        followed?;
    }

    let closed = out.finish()?;
    report_bad_lines(&stats);
    if !args.follow && !closed && !history.stopped && stats.matched == 0 {
        eprintln!(
            "No event matches ({} lines read in {} files of {}).",
            stats.lines,
            files.len(),
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Polls until Ctrl-C or until stdout is closed, printing as lines come.
fn follow(follower: &mut Follower, out: &mut Out<'_>, stop: &AtomicBool) -> anyhow::Result<()> {
    while !stop.load(Ordering::Relaxed) {
        match follower.poll(stop, |m| out.line(m))? {
            Poll::Stopped => break,
            Poll::Read => {
                // Whoever watches a terminal wants each batch now, not when the buffer fills.
                out.flush();
                if !out.open() {
                    break;
                }
            }
            Poll::Idle => std::thread::sleep(POLL),
        }
    }
    Ok(())
}

fn no_files(dir: &Path) -> String {
    if dir.is_dir() {
        format!(
            "no audit files in {} (audit.YYYY-MM-DD.jsonl, written by simrotor run)",
            dir.display()
        )
    } else {
        format!(
            "no audit files: the directory {} does not exist (logging.dir, or --dir)",
            dir.display()
        )
    }
}

fn report_bad_lines(stats: &ReadStats) {
    for bad in &stats.bad {
        let lines = if bad.count == 1 { "line" } else { "lines" };
        eprintln!(
            "warning: skipped {} unparseable {lines} in {}; the first is line {}: {}",
            bad.count,
            bad.first.path.display(),
            bad.first.line,
            bad.first.error
        );
    }
}

/// Stdout, buffered; a closed pipe (`| head`) ends the output quietly instead of failing.
struct Out<'a> {
    writer: BufWriter<StdoutLock<'a>>,
    json: bool,
    renderer: Renderer,
    /// One line's text, reused.
    text: String,
    /// The first write error; the reader stops at it.
    error: Option<std::io::Error>,
}

impl<'a> Out<'a> {
    fn new(stdout: StdoutLock<'a>, json: bool) -> Self {
        Self {
            writer: BufWriter::with_capacity(64 * 1024, stdout),
            json,
            renderer: Renderer::local(),
            text: String::with_capacity(256),
            error: None,
        }
    }

    fn line(&mut self, m: &Matched<'_>) -> ControlFlow<()> {
        if self.error.is_some() {
            return ControlFlow::Break(());
        }
        self.text.clear();
        if self.json {
            self.text.push_str(m.raw);
        } else {
            self.renderer.render(m.line, &mut self.text);
        }
        self.text.push('\n');
        match self.writer.write_all(self.text.as_bytes()) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    fn flush(&mut self) {
        if self.error.is_none()
            && let Err(e) = self.writer.flush()
        {
            self.error = Some(e);
        }
    }

    fn open(&self) -> bool {
        self.error.is_none()
    }

    /// Flushes; whether the reader of stdout had gone. Any other write error is an error.
    fn finish(mut self) -> anyhow::Result<bool> {
        self.flush();
        match self.error.take() {
            None => Ok(false),
            Some(e) if e.kind() == ErrorKind::BrokenPipe => {
                // What is still buffered cannot be written either; dropping it must not retry.
                let (_, _) = self.writer.into_parts();
                Ok(true)
            }
            Some(e) => Err(e).context("cannot write to stdout"),
        }
    }
}

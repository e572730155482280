//! `tail -F` for the trail: keep reading the newest file, and move on to the next day's file
//! when the runtime opens it.
//!
//! Polling (every ~200 ms, by the caller) rather than file-system notifications: it needs no
//! platform code, works on network mounts, and a fifth of a second is fast enough for a human
//! watching a terminal. Only complete lines are handed out: the runtime may be half-way through
//! writing the last one. Once a newer file exists the older one is finished (tracing-appender
//! opens the new file only after its last write to the old one), so its unterminated rest, if
//! any, is taken as a line then.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::files::FileKey;
use crate::read::{LineCursor, read_file};
use crate::{AuditError, Matched, Matcher, Position, ReadStats, discover};

/// What one [`Follower::poll`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// Nothing new was written: wait before polling again.
    Idle,
    /// Lines were read: poll again at once, there may be more.
    Read,
    /// The sink asked to stop.
    Stopped,
}

/// Follows the trail of one directory.
#[derive(Debug)]
pub struct Follower {
    dir: PathBuf,
    matcher: Matcher,
    cursor: Option<LineCursor>,
    /// The last file read to its end; the next one is the first newer than it.
    done: Option<FileKey>,
    stats: ReadStats,
}

impl Follower {
    /// Follows from `start` (the end of a history read); with `None`, from the beginning of the
    /// oldest file that appears. The start file is opened now, so that a file renamed away
    /// after this call is still read to its end.
    pub fn new(
        dir: impl Into<PathBuf>,
        matcher: Matcher,
        start: Option<Position>,
    ) -> Result<Self, AuditError> {
        let mut follower = Self {
            dir: dir.into(),
            matcher,
            cursor: None,
            done: None,
            stats: ReadStats::default(),
        };
        if let Some(start) = start {
            let key = start.file.key.clone();
            match LineCursor::open(start.file, start.offset, start.line_no) {
                Ok(cursor) => follower.cursor = Some(cursor),
                // Removed since the history was read: go on with what is newer.
                Err(AuditError::Open { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    follower.done = Some(key);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(follower)
    }

    /// What was read so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    pub fn into_stats(self) -> ReadStats {
        self.stats
    }

    /// Reads every complete line written since the last poll, switching files as the runtime
    /// rotates, and hands the matching ones to `sink`. Setting `stop` ends a long poll (a big
    /// file appearing at once) at the next line, as [`Poll::Stopped`].
    pub fn poll<F>(&mut self, stop: &AtomicBool, mut sink: F) -> Result<Poll, AuditError>
    where
        F: FnMut(&Matched<'_>) -> ControlFlow<()>,
    {
        let mut read_any = false;
        let idle = |read_any| if read_any { Poll::Read } else { Poll::Idle };
        loop {
            if self.cursor.is_none() && !self.open_next()? {
                return Ok(idle(read_any));
            }
            let Some(cursor) = self.cursor.as_mut() else {
                return Ok(idle(read_any));
            };
            let before = self.stats.lines;
            if drain(
                cursor,
                &self.matcher,
                &mut self.stats,
                stop,
                &mut sink,
                false,
            )?
            .is_break()
            {
                return Ok(Poll::Stopped);
            }
            read_any |= self.stats.lines > before;

            let files = discover(&self.dir)?;
            if files.iter().any(|f| f.key > cursor.file.key) {
                // The runtime has moved on: this file is complete, including its tail.
                if drain(
                    cursor,
                    &self.matcher,
                    &mut self.stats,
                    stop,
                    &mut sink,
                    true,
                )?
                .is_break()
                {
                    return Ok(Poll::Stopped);
                }
                self.done = Some(cursor.file.key.clone());
                self.cursor = None;
                read_any = true;
                continue;
            }
            match std::fs::metadata(cursor.path()) {
                Ok(meta) if !same_file(&meta, cursor.handle()) => {
                    // Renamed away and created anew under the same name: finish the old one,
                    // then read the new one from its start.
                    if drain(
                        cursor,
                        &self.matcher,
                        &mut self.stats,
                        stop,
                        &mut sink,
                        true,
                    )?
                    .is_break()
                    {
                        return Ok(Poll::Stopped);
                    }
                    let file = cursor.file.clone();
                    self.cursor = Some(LineCursor::open(file, 0, 0)?);
                    read_any = true;
                }
                Ok(meta) if meta.len() < cursor.offset + cursor.pending() => {
                    // Truncated in place (copytruncate): what is there now is new.
                    let file = cursor.file.clone();
                    self.cursor = Some(LineCursor::open(file, 0, 0)?);
                    read_any = true;
                }
                // Unchanged, or removed with no newer file yet: wait for what comes next.
                _ => return Ok(idle(read_any)),
            }
        }
    }

    /// Polls every `interval` until `stop` is set or the sink asks to stop.
    pub fn run<F>(
        &mut self,
        stop: &AtomicBool,
        interval: Duration,
        mut sink: F,
    ) -> Result<(), AuditError>
    where
        F: FnMut(&Matched<'_>) -> ControlFlow<()>,
    {
        while !stop.load(Ordering::Relaxed) {
            match self.poll(stop, &mut sink)? {
                Poll::Stopped => break,
                Poll::Read => {}
                Poll::Idle => std::thread::sleep(interval),
            }
        }
        Ok(())
    }

    /// Opens the first file newer than the last one read; whether a file is open now.
    fn open_next(&mut self) -> Result<bool, AuditError> {
        let files = discover(&self.dir)?;
        let next = files
            .into_iter()
            .find(|f| self.done.as_ref().is_none_or(|done| f.key > *done));
        match next {
            Some(file) => match LineCursor::open(file, 0, 0) {
                Ok(cursor) => {
                    self.cursor = Some(cursor);
                    Ok(true)
                }
                // Listed then removed: the next poll lists again.
                Err(AuditError::Open { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    Ok(false)
                }
                Err(e) => Err(e),
            },
            None => Ok(false),
        }
    }
}

/// Every complete line available now; with `finish`, the unterminated rest as a last line.
fn drain<F>(
    cursor: &mut LineCursor,
    matcher: &Matcher,
    stats: &mut ReadStats,
    stop: &AtomicBool,
    sink: &mut F,
    finish: bool,
) -> Result<ControlFlow<()>, AuditError>
where
    F: FnMut(&Matched<'_>) -> ControlFlow<()>,
{
    read_file(cursor, matcher, stats, stop, !finish, sink)
}

/// Whether `path`'s metadata is that of the open file.
#[cfg(unix)]
fn same_file(meta: &std::fs::Metadata, open: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    open.metadata()
        .map(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
        .unwrap_or(true)
}

#[cfg(not(unix))]
fn same_file(_meta: &std::fs::Metadata, _open: &std::fs::File) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;
    use std::io::Write as _;

    use super::*;
    use crate::read::tests::numbered;
    use crate::{Filter, read_all};

    struct Trail {
        dir: tempfile::TempDir,
    }

    impl Trail {
        fn new() -> Self {
            Self {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn append(&self, name: &str, text: &str) {
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.path().join(name))
                .unwrap();
            f.write_all(text.as_bytes()).unwrap();
        }

        fn follower(&self, filter: Filter) -> Follower {
            let matcher = Matcher::new(filter);
            let files = discover(self.dir.path()).unwrap();
            let never = AtomicBool::new(false);
            let history = read_all(
                &files,
                &matcher,
                true,
                &never,
                |_| ControlFlow::Continue(()),
            )
            .unwrap();
            Follower::new(self.dir.path(), matcher, history.end).unwrap()
        }
    }

    fn poll(f: &mut Follower) -> (Poll, Vec<String>) {
        let mut seen = Vec::new();
        let never = AtomicBool::new(false);
        let p = f
            .poll(&never, |m| {
                seen.push(m.line.message.clone().unwrap_or_default());
                ControlFlow::Continue(())
            })
            .unwrap();
        (p, seen)
    }

    #[test]
    fn only_complete_lines_are_handed_out() {
        let t = Trail::new();
        let day = "audit.2026-11-24.jsonl";
        t.append(day, &format!("{}\n", numbered(1)));
        let mut f = t.follower(Filter::default());
        assert_eq!(
            poll(&mut f),
            (Poll::Idle, vec![]),
            "the history is not repeated"
        );

        let second = numbered(2);
        let (head, tail) = second.split_at(40);
        t.append(day, head);
        assert_eq!(poll(&mut f), (Poll::Idle, vec![]));
        t.append(day, tail);
        assert_eq!(poll(&mut f), (Poll::Idle, vec![]), "still no newline");
        t.append(day, &format!("\n{}\n", numbered(3)));
        assert_eq!(
            poll(&mut f),
            (Poll::Read, vec!["line 2".into(), "line 3".into()])
        );
        assert_eq!(f.stats().bad_lines(), 0);
        assert_eq!(f.stats().lines, 2);
    }

    #[test]
    fn a_history_ending_in_a_partial_line_is_completed_by_the_follower() {
        let t = Trail::new();
        let day = "audit.2026-11-24.jsonl";
        let second = numbered(2);
        let (head, tail) = second.split_at(30);
        t.append(day, &format!("{}\n{head}", numbered(1)));
        let mut f = t.follower(Filter::default());
        t.append(day, &format!("{tail}\n"));
        assert_eq!(poll(&mut f), (Poll::Read, vec!["line 2".into()]));
    }

    #[test]
    fn moves_to_each_newer_file_in_order() {
        let t = Trail::new();
        t.append("audit.2026-11-24.jsonl", &format!("{}\n", numbered(1)));
        let mut f = t.follower(Filter::default());
        t.append("audit.2026-11-24.jsonl", &format!("{}\n", numbered(2)));
        // The old file's last write lacks its newline; two days appear at once.
        t.append("audit.2026-11-24.jsonl", &numbered(3));
        t.append("audit.2026-11-26.jsonl", &format!("{}\n", numbered(5)));
        t.append("audit.2026-11-25.jsonl", &format!("{}\n", numbered(4)));
        assert_eq!(
            poll(&mut f),
            (
                Poll::Read,
                ["line 2", "line 3", "line 4", "line 5"]
                    .map(String::from)
                    .to_vec()
            )
        );
        t.append("audit.2026-11-26.jsonl", &format!("{}\n", numbered(6)));
        assert_eq!(poll(&mut f), (Poll::Read, vec!["line 6".into()]));
        assert_eq!(poll(&mut f), (Poll::Idle, vec![]));
    }

    #[test]
    fn waits_for_files_to_appear_and_reads_them_from_the_start() {
        let t = Trail::new();
        let logs = t.dir.path().join("logs");
        let mut f = Follower::new(&logs, Matcher::new(Filter::default()), None).unwrap();
        assert_eq!(poll(&mut f), (Poll::Idle, vec![]), "no directory yet");
        std::fs::create_dir(&logs).unwrap();
        assert_eq!(poll(&mut f), (Poll::Idle, vec![]));
        std::fs::write(
            logs.join("audit.2026-11-24.jsonl"),
            format!("{}\n", numbered(1)),
        )
        .unwrap();
        assert_eq!(poll(&mut f), (Poll::Read, vec!["line 1".into()]));
    }

    #[test]
    fn filters_and_counts_bad_lines_while_following() {
        let t = Trail::new();
        let day = "audit.2026-11-24.jsonl";
        t.append(day, "");
        let mut f = t.follower(Filter {
            server: Some(9901),
            ..Filter::default()
        });
        let torn = r#"{"timestamp":"2026-11-24T08:00:00Z","fields":{"server":9901"#;
        t.append(
            day,
            &format!(
                "{}\n{}\n{torn}\n{}\n",
                numbered(1),
                numbered(2),
                numbered(3)
            ),
        );
        assert_eq!(
            poll(&mut f),
            (Poll::Read, vec!["line 1".into(), "line 3".into()])
        );
        let bad = &f.stats().bad;
        assert_eq!((bad.len(), bad[0].count, bad[0].first.line), (1, 1, 3));
    }

    #[test]
    fn a_truncated_file_is_read_again_from_its_start() {
        let t = Trail::new();
        let day = "audit.2026-11-24.jsonl";
        t.append(day, &format!("{}\n{}\n", numbered(1), numbered(2)));
        let mut f = t.follower(Filter::default());
        std::fs::write(t.dir.path().join(day), format!("{}\n", numbered(3))).unwrap();
        assert_eq!(poll(&mut f), (Poll::Read, vec!["line 3".into()]));
        assert_eq!(poll(&mut f), (Poll::Idle, vec![]));
    }

    #[cfg(unix)]
    #[test]
    fn a_file_replaced_under_its_name_is_finished_then_read_anew() {
        let t = Trail::new();
        t.append("audit.jsonl", &format!("{}\n", numbered(1)));
        let mut f = t.follower(Filter::default());
        t.append("audit.jsonl", &format!("{}\n", numbered(2)));
        std::fs::rename(t.dir.path().join("audit.jsonl"), t.dir.path().join("old")).unwrap();
        t.append(
            "audit.jsonl",
            &format!("{}\n{}\n", numbered(3), numbered(4)),
        );
        assert_eq!(
            poll(&mut f),
            (
                Poll::Read,
                ["line 2", "line 3", "line 4"].map(String::from).to_vec()
            )
        );
    }

    #[test]
    fn stops_when_the_sink_stops_or_when_told() {
        let t = Trail::new();
        let day = "audit.2026-11-24.jsonl";
        t.append(day, "");
        let mut f = t.follower(Filter::default());
        t.append(day, &format!("{}\n{}\n", numbered(1), numbered(2)));
        let stop = AtomicBool::new(false);
        let mut seen = 0;
        f.run(&stop, Duration::from_millis(10), |_| {
            seen += 1;
            ControlFlow::Break(())
        })
        .unwrap();
        assert_eq!(seen, 1);

        // The rest is still there for the next reader of this follower.
        stop.store(true, Ordering::Relaxed);
        f.run(&stop, Duration::from_millis(10), |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(poll(&mut f), (Poll::Read, vec!["line 2".into()]));
    }

    #[test]
    fn a_stop_from_another_thread_ends_run() {
        let t = Trail::new();
        let mut f = t.follower(Filter::default());
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            f.run(&flag, Duration::from_millis(10), |_| {
                ControlFlow::Continue(())
            })
        });
        stop.store(true, Ordering::Relaxed);
        handle.join().unwrap().unwrap();
    }
}

//! Reading the history: every file in order, line by line, in constant memory.
//!
//! Lines are read into one reused buffer and handed to the caller's sink by reference, so
//! reading a year of trail costs one allocation per *matching* line, not per line. A line that is
//! not an audit line is skipped and counted per file (with the first one's number), never fatal:
//! a trail with one torn line must still answer the question.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{AuditError, AuditFile, AuditLine, BadLine, Matcher, ParseError};

/// A line the filter kept.
#[derive(Debug, Clone, Copy)]
pub struct Matched<'a> {
    pub line: &'a AuditLine,
    /// The line exactly as in the file, without its line ending.
    pub raw: &'a str,
    pub path: &'a Path,
    /// 1-based.
    pub line_no: u64,
}

/// Unparseable lines of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLines {
    pub count: u64,
    pub first: BadLine,
}

/// What a read saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Lines looked at (including those skipped by the pre-check and the bad ones).
    pub lines: u64,
    pub matched: u64,
    /// Per file, in reading order. Lines the filter's pre-check rules out are not parsed, so a
    /// torn line that could not have matched anyway is not counted.
    pub bad: Vec<BadLines>,
}

impl ReadStats {
    pub fn bad_lines(&self) -> u64 {
        self.bad.iter().map(|b| b.count).sum()
    }

    fn record_bad(&mut self, path: &Path, line: u64, error: ParseError) {
        match self.bad.last_mut() {
            Some(b) if b.first.path == path => b.count += 1,
            _ => self.bad.push(BadLines {
                count: 1,
                first: BadLine {
                    path: path.to_owned(),
                    line,
                    error,
                },
            }),
        }
    }

    /// Adds a later read's counts (the follower's after the history's).
    pub fn absorb(&mut self, other: ReadStats) {
        self.lines += other.lines;
        self.matched += other.matched;
        for b in other.bad {
            match self
                .bad
                .iter_mut()
                .find(|mine| mine.first.path == b.first.path)
            {
                Some(mine) => {
                    mine.count += b.count;
                    if b.first.line < mine.first.line {
                        mine.first = b.first;
                    }
                }
                None => self.bad.push(b),
            }
        }
    }
}

/// Where a read stopped in the newest file: a [`crate::Follower`] goes on from there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub file: AuditFile,
    /// Bytes of complete lines read.
    pub offset: u64,
    /// Complete lines read.
    pub line_no: u64,
}

/// The end of a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOutcome {
    pub stats: ReadStats,
    /// The sink asked to stop before the end.
    pub stopped: bool,
    /// After the last complete line of the newest file; `None` when there were no files.
    pub end: Option<Position>,
}

/// Complete lines of one file, read into a reused buffer.
#[derive(Debug)]
pub(crate) struct LineCursor {
    pub(crate) file: AuditFile,
    reader: BufReader<File>,
    buf: Vec<u8>,
    /// `buf` holds a complete line handed out last time (else: nothing, or a partial line).
    complete: bool,
    pub(crate) offset: u64,
    pub(crate) line_no: u64,
}

impl LineCursor {
    pub(crate) fn open(file: AuditFile, offset: u64, line_no: u64) -> Result<Self, AuditError> {
        let open_err = |source| AuditError::Open {
            path: file.path.clone(),
            source,
        };
        let mut handle = File::open(&file.path).map_err(open_err)?;
        if offset > 0 {
            handle.seek(SeekFrom::Start(offset)).map_err(open_err)?;
        }
        Ok(Self {
            reader: BufReader::with_capacity(256 * 1024, handle),
            buf: Vec::with_capacity(1024),
            complete: false,
            offset,
            line_no,
            file,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.file.path
    }

    pub(crate) fn handle(&self) -> &File {
        self.reader.get_ref()
    }

    /// The next complete line, without its `\n` (or `\r\n`). `None` at the end of what is
    /// written so far; a partial last line stays buffered and is completed by later reads.
    pub(crate) fn next_line(&mut self) -> Result<Option<&[u8]>, AuditError> {
        if self.complete {
            self.buf.clear();
            self.complete = false;
        }
        self.reader
            .read_until(b'\n', &mut self.buf)
            .map_err(|source| AuditError::Read {
                path: self.file.path.clone(),
                line: self.line_no,
                source,
            })?;
        if self.buf.last() != Some(&b'\n') {
            return Ok(None);
        }
        self.complete = true;
        self.offset += self.buf.len() as u64;
        self.line_no += 1;
        let line = &self.buf[..self.buf.len() - 1];
        Ok(Some(line.strip_suffix(b"\r").unwrap_or(line)))
    }

    /// The unterminated rest, taken as the file's last line: for a file the writer has left.
    pub(crate) fn take_partial(&mut self) -> Option<&[u8]> {
        if self.complete || self.buf.is_empty() {
            return None;
        }
        self.complete = true;
        self.offset += self.buf.len() as u64;
        self.line_no += 1;
        Some(self.buf.strip_suffix(b"\r").unwrap_or(&self.buf))
    }

    /// Bytes of a partial line held.
    pub(crate) fn pending(&self) -> u64 {
        if self.complete {
            0
        } else {
            self.buf.len() as u64
        }
    }

    pub(crate) fn position(&self) -> Position {
        Position {
            file: self.file.clone(),
            offset: self.offset,
            line_no: self.line_no,
        }
    }
}

/// Parses, filters and counts lines; shared by the history and the follower.
pub(crate) fn process<F>(
    matcher: &Matcher,
    stats: &mut ReadStats,
    stop: &AtomicBool,
    path: &Path,
    line_no: u64,
    raw: &[u8],
    sink: &mut F,
) -> ControlFlow<()>
where
    F: FnMut(&Matched<'_>) -> ControlFlow<()>,
{
    // Checked per line, not per match: a rare filter on a long trail must still stop at once.
    if stop.load(Ordering::Relaxed) {
        return ControlFlow::Break(());
    }
    stats.lines += 1;
    if !matcher.may_match(raw) {
        return ControlFlow::Continue(());
    }
    let text = match std::str::from_utf8(raw) {
        Ok(text) => text,
        Err(e) => {
            let at = e.valid_up_to() + 1;
            stats.record_bad(
                path,
                line_no,
                ParseError::new(format!("not UTF-8 (column {at})")),
            );
            return ControlFlow::Continue(());
        }
    };
    match AuditLine::parse(text) {
        Ok(line) if matcher.matches(&line) => {
            stats.matched += 1;
            sink(&Matched {
                line: &line,
                raw: text,
                path,
                line_no,
            })
        }
        Ok(_) => ControlFlow::Continue(()),
        Err(error) => {
            stats.record_bad(path, line_no, error);
            ControlFlow::Continue(())
        }
    }
}

/// Reads one file to its end. With `keep_partial`, an unterminated last line is left unread
/// (the writer may be in the middle of it); otherwise it is taken as a line.
pub(crate) fn read_file<F>(
    cursor: &mut LineCursor,
    matcher: &Matcher,
    stats: &mut ReadStats,
    stop: &AtomicBool,
    keep_partial: bool,
    sink: &mut F,
) -> Result<ControlFlow<()>, AuditError>
where
    F: FnMut(&Matched<'_>) -> ControlFlow<()>,
{
    let path: Arc<Path> = Arc::from(cursor.path());
    loop {
        let line_no = cursor.line_no + 1;
        let Some(raw) = cursor.next_line()? else {
            break;
        };
        if process(matcher, stats, stop, &path, line_no, raw, sink).is_break() {
            return Ok(ControlFlow::Break(()));
        }
    }
    if !keep_partial {
        let line_no = cursor.line_no + 1;
        if let Some(raw) = cursor.take_partial() {
            return Ok(process(matcher, stats, stop, &path, line_no, raw, sink));
        }
    }
    Ok(ControlFlow::Continue(()))
}

/// Every matching line of `files`, oldest first. With `follow`, the newest file's unterminated
/// last line is left for the follower instead of being read as a (torn) line. Setting `stop`
/// (from another thread: Ctrl-C) ends the read at the next line.
pub fn read_all<F>(
    files: &[AuditFile],
    matcher: &Matcher,
    follow: bool,
    stop: &AtomicBool,
    mut sink: F,
) -> Result<ReadOutcome, AuditError>
where
    F: FnMut(&Matched<'_>) -> ControlFlow<()>,
{
    let mut stats = ReadStats::default();
    let mut end = None;
    for (i, file) in files.iter().enumerate() {
        let newest = i + 1 == files.len();
        let mut cursor = LineCursor::open(file.clone(), 0, 0)?;
        let flow = read_file(
            &mut cursor,
            matcher,
            &mut stats,
            stop,
            follow && newest,
            &mut sink,
        )?;
        end = Some(cursor.position());
        if flow.is_break() {
            return Ok(ReadOutcome {
                stats,
                stopped: true,
                end,
            });
        }
    }
    Ok(ReadOutcome {
        stats,
        stopped: false,
        end,
    })
}

/// An owned copy of a matching line, held until it is known to be among the last `n`.
#[derive(Debug)]
struct Held {
    line: AuditLine,
    raw: String,
    path: Arc<Path>,
    line_no: u64,
}

/// The last `n` matching lines of `files`, oldest first, like `tail`. Files are read newest
/// first and reading stops as soon as `n` matches are in hand, so `logs -f` on a long history
/// starts at once unless the filter is rare.
pub fn read_tail<F>(
    files: &[AuditFile],
    matcher: &Matcher,
    n: usize,
    follow: bool,
    stop: &AtomicBool,
    mut sink: F,
) -> Result<ReadOutcome, AuditError>
where
    F: FnMut(&Matched<'_>) -> ControlFlow<()>,
{
    let mut stats = ReadStats::default();
    let mut end: Option<Position> = None;
    // Newest lines at the back; each older file's lines go in front.
    let mut kept: VecDeque<Held> = VecDeque::with_capacity(n);
    for (i, file) in files.iter().enumerate().rev() {
        // The newest file is always read: the follower goes on from its end.
        if kept.len() >= n && end.is_some() {
            break;
        }
        let newest = i + 1 == files.len();
        let mut cursor = LineCursor::open(file.clone(), 0, 0)?;
        let path: Arc<Path> = Arc::from(file.path.as_path());
        let mut file_stats = ReadStats::default();
        let mut ring: VecDeque<Held> = VecDeque::with_capacity(n);
        let mut hold = |m: &Matched<'_>| {
            if n > 0 {
                if ring.len() == n {
                    ring.pop_front();
                }
                ring.push_back(Held {
                    line: m.line.clone(),
                    raw: m.raw.to_owned(),
                    path: Arc::clone(&path),
                    line_no: m.line_no,
                });
            }
            ControlFlow::Continue(())
        };
        let flow = read_file(
            &mut cursor,
            matcher,
            &mut file_stats,
            stop,
            follow && newest,
            &mut hold,
        )?;
        if newest {
            end = Some(cursor.position());
        }
        stats.absorb(file_stats);
        if flow.is_break() {
            return Ok(ReadOutcome {
                stats,
                stopped: true,
                end,
            });
        }
        while let Some(held) = ring.pop_back() {
            if kept.len() >= n {
                break;
            }
            kept.push_front(held);
        }
    }
    // Bad lines were counted newest file first; report them in reading order.
    stats.bad.reverse();
    stats.matched = kept.len() as u64;
    for held in &kept {
        let flow = sink(&Matched {
            line: &held.line,
            raw: &held.raw,
            path: &held.path,
            line_no: held.line_no,
        });
        if flow.is_break() {
            return Ok(ReadOutcome {
                stats,
                stopped: true,
                end,
            });
        }
    }
    Ok(ReadOutcome {
        stats,
        stopped: false,
        end,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;
    use crate::{Filter, discover, parse_msisdn};

    pub(crate) fn audit(ts: &str, fields: &str) -> String {
        format!(
            r#"{{"timestamp":"{ts}","level":"INFO","fields":{fields},"target":"simrotor_runtime::audit"}}"#
        )
    }

    pub(crate) fn numbered(i: u32) -> String {
        audit(
            &format!("2026-11-24T08:00:{:02}Z", i % 60),
            &format!(r#"{{"message":"line {i}","server":{}}}"#, 9900 + i % 2),
        )
    }

    fn collect(
        files: &[AuditFile],
        filter: Filter,
        tail: Option<usize>,
        follow: bool,
    ) -> (Vec<String>, ReadOutcome) {
        let matcher = Matcher::new(filter);
        let mut seen = Vec::new();
        let sink = |m: &Matched<'_>| {
            seen.push(m.line.message.clone().unwrap_or_default());
            ControlFlow::Continue(())
        };
        let stop = AtomicBool::new(false);
        let outcome = match tail {
            Some(n) => read_tail(files, &matcher, n, follow, &stop, sink),
            None => read_all(files, &matcher, follow, &stop, sink),
        }
        .unwrap();
        (seen, outcome)
    }

    fn write_lines(dir: &Path, name: &str, lines: &[String]) {
        let mut f = File::create(dir.join(name)).unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
    }

    #[test]
    fn reads_every_file_in_order_and_stops_where_the_newest_ends() {
        let dir = tempfile::tempdir().unwrap();
        write_lines(
            dir.path(),
            "audit.2026-11-25.jsonl",
            &[numbered(3), numbered(4)],
        );
        write_lines(
            dir.path(),
            "audit.2026-11-24.jsonl",
            &[numbered(1), numbered(2)],
        );
        let files = discover(dir.path()).unwrap();
        let (seen, outcome) = collect(&files, Filter::default(), None, false);
        assert_eq!(seen, ["line 1", "line 2", "line 3", "line 4"]);
        assert!(!outcome.stopped);
        assert_eq!(outcome.stats.lines, 4);
        assert_eq!(outcome.stats.matched, 4);
        let end = outcome.end.unwrap();
        assert_eq!(end.file, files[1]);
        assert_eq!(end.line_no, 2);
        assert_eq!(end.offset, std::fs::metadata(&files[1].path).unwrap().len());
    }

    #[test]
    fn bad_lines_are_skipped_and_counted_per_file_with_the_first_one() {
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            numbered(1),
            "{\"timestamp\":\"2026-11-24T08:00:01Z\",\"lev".to_owned(),
            String::new(),
            numbered(2),
            "garbage".to_owned(),
        ];
        write_lines(dir.path(), "audit.2026-11-24.jsonl", &lines);
        std::fs::write(
            dir.path().join("audit.2026-11-25.jsonl"),
            [b"\xff\xfe\n".as_slice(), numbered(3).as_bytes(), b"\n"].concat(),
        )
        .unwrap();
        let files = discover(dir.path()).unwrap();
        let (seen, outcome) = collect(&files, Filter::default(), None, false);
        assert_eq!(seen, ["line 1", "line 2", "line 3"]);
        let bad = &outcome.stats.bad;
        assert_eq!(bad.len(), 2);
        assert_eq!((bad[0].count, bad[0].first.line), (3, 2));
        assert_eq!(bad[0].first.path, files[0].path);
        assert!(bad[0].first.error.to_string().contains("EOF"), "{bad:?}");
        assert_eq!((bad[1].count, bad[1].first.line), (1, 1));
        assert!(bad[1].first.error.to_string().contains("UTF-8"), "{bad:?}");
        assert_eq!(outcome.stats.bad_lines(), 4);
        let shown = bad[0].first.to_string();
        assert!(shown.contains("audit.2026-11-24.jsonl line 2: "), "{shown}");
    }

    #[test]
    fn the_pre_check_skips_unrelated_torn_lines_without_counting_them() {
        let dir = tempfile::tempdir().unwrap();
        let mine = audit(
            "2026-11-24T08:00:00Z",
            r#"{"message":"mine","msisdn":"6281234567890"}"#,
        );
        write_lines(
            dir.path(),
            "audit.2026-11-24.jsonl",
            &[
                mine,
                "{\"fields\":{\"msisdn\":\"6281111111111\"".to_owned(),
                "{\"fields\":{\"msisdn\":\"6281234567890\"".to_owned(),
            ],
        );
        let files = discover(dir.path()).unwrap();
        let filter = Filter {
            msisdn: Some(parse_msisdn("081234567890").unwrap()),
            ..Filter::default()
        };
        let (seen, outcome) = collect(&files, filter, None, false);
        assert_eq!(seen, ["mine"]);
        assert_eq!(
            outcome.stats.bad_lines(),
            1,
            "only the torn line naming the number"
        );
        assert_eq!(outcome.stats.bad[0].first.line, 3);
    }

    #[test]
    fn an_unterminated_last_line_is_read_unless_following() {
        let dir = tempfile::tempdir().unwrap();
        let body = format!("{}\r\n{}", numbered(1), numbered(2));
        std::fs::write(dir.path().join("audit.2026-11-24.jsonl"), &body).unwrap();
        let files = discover(dir.path()).unwrap();

        let (seen, outcome) = collect(&files, Filter::default(), None, false);
        assert_eq!(seen, ["line 1", "line 2"]);
        assert_eq!(
            outcome.stats.bad_lines(),
            0,
            "the \\r is not part of the line"
        );

        let (seen, outcome) = collect(&files, Filter::default(), None, true);
        assert_eq!(seen, ["line 1"]);
        let end = outcome.end.unwrap();
        assert_eq!((end.line_no, end.offset), (1, numbered(1).len() as u64 + 2));
    }

    #[test]
    fn an_older_files_unterminated_last_line_is_read_even_when_following() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("audit.2026-11-24.jsonl"), numbered(1)).unwrap();
        write_lines(dir.path(), "audit.2026-11-25.jsonl", &[numbered(2)]);
        let files = discover(dir.path()).unwrap();
        let (seen, _) = collect(&files, Filter::default(), None, true);
        assert_eq!(seen, ["line 1", "line 2"]);
    }

    #[test]
    fn the_sink_can_stop_the_read() {
        let dir = tempfile::tempdir().unwrap();
        write_lines(
            dir.path(),
            "audit.2026-11-24.jsonl",
            &[numbered(1), numbered(2)],
        );
        write_lines(dir.path(), "audit.2026-11-25.jsonl", &[numbered(3)]);
        let files = discover(dir.path()).unwrap();
        let mut seen = 0;
        let never = AtomicBool::new(false);
        let outcome = read_all(
            &files,
            &Matcher::new(Filter::default()),
            false,
            &never,
            |_| {
                seen += 1;
                ControlFlow::Break(())
            },
        )
        .unwrap();
        assert_eq!(seen, 1);
        assert!(outcome.stopped);
        assert_eq!(outcome.stats.lines, 1);
    }

    #[test]
    fn a_stop_flag_ends_the_read_even_when_nothing_matches() {
        let dir = tempfile::tempdir().unwrap();
        write_lines(
            dir.path(),
            "audit.2026-11-24.jsonl",
            &[numbered(1), numbered(2)],
        );
        let files = discover(dir.path()).unwrap();
        let stop = AtomicBool::new(true);
        let rare = Matcher::new(Filter {
            server: Some(1),
            ..Filter::default()
        });
        for tail in [None, Some(10)] {
            let outcome = match tail {
                Some(n) => read_tail(
                    &files,
                    &rare,
                    n,
                    false,
                    &stop,
                    |_| ControlFlow::Continue(()),
                ),
                None => read_all(&files, &rare, false, &stop, |_| ControlFlow::Continue(())),
            }
            .unwrap();
            assert!(outcome.stopped, "{tail:?}");
            assert_eq!(outcome.stats.lines, 0, "{tail:?}");
        }
    }

    #[test]
    fn tail_keeps_the_last_matches_across_files_reading_no_more_than_needed() {
        let dir = tempfile::tempdir().unwrap();
        write_lines(
            dir.path(),
            "audit.2026-11-23.jsonl",
            &["torn".to_owned(), numbered(0)],
        );
        write_lines(
            dir.path(),
            "audit.2026-11-24.jsonl",
            &(1..=6).map(numbered).collect::<Vec<_>>(),
        );
        write_lines(
            dir.path(),
            "audit.2026-11-25.jsonl",
            &(7..=8).map(numbered).collect::<Vec<_>>(),
        );
        let files = discover(dir.path()).unwrap();

        let (seen, outcome) = collect(&files, Filter::default(), Some(3), false);
        assert_eq!(seen, ["line 6", "line 7", "line 8"]);
        assert_eq!(outcome.stats.lines, 8, "the oldest file is not read");
        assert_eq!(outcome.stats.bad_lines(), 0);
        assert_eq!(outcome.end.unwrap().file, files[2]);

        let odd = Filter {
            server: Some(9901),
            ..Filter::default()
        };
        let (seen, _) = collect(&files, odd, Some(3), false);
        assert_eq!(seen, ["line 3", "line 5", "line 7"]);

        let (seen, outcome) = collect(&files, Filter::default(), Some(100), false);
        assert_eq!(seen.len(), 9);
        assert_eq!(seen[0], "line 0");
        assert_eq!(outcome.stats.bad[0].first.line, 1);

        let (seen, outcome) = collect(&files, Filter::default(), Some(0), false);
        assert!(seen.is_empty());
        assert_eq!(outcome.end.unwrap().file, files[2]);
    }

    #[test]
    fn nothing_to_read_ends_nowhere() {
        let (seen, outcome) = collect(&[], Filter::default(), None, true);
        assert!(seen.is_empty());
        assert_eq!(outcome.end, None);
        let (_, outcome) = collect(&[], Filter::default(), Some(10), true);
        assert_eq!(outcome.end, None);
    }
}

//! Importing a batch of accounts from CSV (`msisdn,email[,pin]`, header optional).
//!
//! A parser thread streams the file in chunks through a bounded channel to one database
//! transaction, so a million rows import in bounded memory. Bad rows are rejected with their
//! line and reason (written to the rejected file; PINs never copied there) while the valid rows
//! still land; a file that is not text CSV (not UTF-8, NUL bytes) is refused whole: the
//! transaction rolls back and nothing is half-imported. Numbers already present anywhere (or
//! twice in the file) are counted, not duplicated, so importing a file twice adds nothing.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use simrotor_domain::{BatchId, Email, Msisdn, Pin};
use tokio::sync::mpsc;

use crate::{NewAccount, Store, StoreError};

/// Rows per insert statement (and per channel message).
pub const CHUNK_ROWS: usize = 1000;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub batch: BatchId,
    /// For rows without a PIN (`--pin`); rows without either use `login.default_pin` at login.
    pub default_pin: Option<Pin>,
    /// The file's name in messages.
    pub source_name: String,
    /// Where rejected rows go (`FILE.rejected.csv`); not created when nothing is rejected.
    pub rejected_path: Option<PathBuf>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Data rows read (not counting the header or blank lines).
    pub rows: u64,
    pub accepted: u64,
    pub already_present: u64,
    pub rejected: u64,
    pub had_header: bool,
    pub rejected_file: Option<PathBuf>,
    /// The first rejected rows (at most [`SAMPLE_REJECTED`]), to show on the terminal.
    pub sample_rejected: Vec<Rejected>,
}

/// How many rejected rows the report carries; all of them go to the rejected file.
pub const SAMPLE_REJECTED: usize = 10;

/// Why an import did not happen. In every case nothing was imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{file}: line {line} is not UTF-8 text; nothing was imported (save the file as UTF-8 CSV)"
    )]
    NotUtf8 { file: String, line: u64 },
    #[error("{file}: line {line}: {reason}: this is not a CSV text file; nothing was imported")]
    NotCsv {
        file: String,
        line: u64,
        reason: String,
    },
    #[error("{path}: cannot write the rejected rows: {source}")]
    RejectedFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: the database refused the import, nothing was imported: {source}")]
    Store {
        file: String,
        #[source]
        source: StoreError,
    },
}

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    pub line: u64,
    pub reason: String,
    pub msisdn: String,
    pub email: String,
}

/// The parse of one data row.
#[derive(Debug)]
enum Row {
    Blank,
    Valid(NewAccount),
    Rejected(Rejected),
}

/// The first non-blank line is a header when its first field holds no digit (`msisdn`, `nomor`…).
fn is_header(first_field: &str) -> bool {
    !first_field.chars().any(|c| c.is_ascii_digit())
}

fn parse_row(line: u64, fields: &[&str], default_pin: Option<&Pin>) -> Row {
    if fields.iter().all(|f| f.trim().is_empty()) {
        return Row::Blank;
    }
    let get = |i: usize| fields.get(i).map(|f| f.trim()).unwrap_or("");
    let reject = |reason: String| {
        Row::Rejected(Rejected {
            line,
            reason,
            msisdn: get(0).to_owned(),
            email: get(1).to_owned(),
        })
    };
    if fields.len() < 2 {
        return reject("expected msisdn,email[,pin]: the email is missing".to_owned());
    }
    if fields.len() > 3 {
        return reject(format!(
            "expected msisdn,email[,pin]: found {} fields",
            fields.len()
        ));
    }
    let msisdn = match Msisdn::parse(get(0)) {
        Ok(m) => m,
        Err(e) => return reject(format!("msisdn: {e}")),
    };
    let email = match Email::parse(get(1)) {
        Ok(e) => e,
        Err(e) => return reject(format!("email: {e}")),
    };
    let pin = match get(2) {
        "" => default_pin.cloned(),
        raw => match Pin::parse(raw) {
            Ok(p) => Some(p),
            Err(e) => return reject(format!("pin: {e}")),
        },
    };
    Row::Valid(NewAccount { msisdn, email, pin })
}

enum Msg {
    Chunk {
        rows: Vec<NewAccount>,
        bytes: u64,
    },
    Done {
        rows: u64,
        rejected: u64,
        had_header: bool,
        sample: Vec<Rejected>,
    },
    Fatal(ImportError),
}

/// Writes rejected rows, creating the file on the first one.
struct RejectedSink {
    path: Option<PathBuf>,
    writer: Option<csv::Writer<std::fs::File>>,
}

impl RejectedSink {
    fn write(&mut self, r: &Rejected) -> Result<(), ImportError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let err = |source: std::io::Error| ImportError::RejectedFile {
            path: path.display().to_string(),
            source,
        };
        if self.writer.is_none() {
            let mut w = csv::Writer::from_path(path).map_err(|e| err(e.into()))?;
            w.write_record(["line", "reason", "msisdn", "email"])
                .map_err(|e| err(e.into()))?;
            self.writer = Some(w);
        }
        if let Some(w) = &mut self.writer {
            w.write_record([&r.line.to_string(), &r.reason, &r.msisdn, &r.email])
                .map_err(|e| err(e.into()))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ImportError> {
        if let (Some(w), Some(path)) = (&mut self.writer, &self.path) {
            w.flush().map_err(|source| ImportError::RejectedFile {
                path: path.display().to_string(),
                source,
            })?;
        }
        Ok(())
    }
}

/// Splits lines into fields with one reused `csv_core` reader (quotes, escaped quotes). Lines
/// are read by us, not by the csv reader, because its line count drifts after blank lines and
/// the operator needs the exact line of every rejected row; a record never spans lines here,
/// since no field of `msisdn,email,pin` can hold a newline.
struct LineSplitter {
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl LineSplitter {
    fn new() -> Self {
        Self {
            core: csv_core::Reader::new(),
            out: vec![0; 256],
            ends: vec![0; 8],
        }
    }

    /// The fields of one line (already checked to be UTF-8, without its line ending).
    fn split<'a>(&'a mut self, line: &str) -> Vec<&'a str> {
        use csv_core::ReadRecordResult as R;
        self.core.reset();
        let mut input = line.as_bytes();
        let (mut nout, mut nends) = (0, 0);
        let mut eof = false;
        loop {
            let (res, nin, o, e) =
                self.core
                    .read_record(input, &mut self.out[nout..], &mut self.ends[nends..]);
            input = &input[nin..];
            nout += o;
            nends += e;
            match res {
                R::InputEmpty if !eof => eof = true,
                R::OutputFull => self.out.resize(self.out.len() * 2, 0),
                R::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                R::InputEmpty | R::Record | R::End => break,
            }
            // `read_record` takes an empty slice as the end of the input.
            if eof {
                input = &[];
            }
        }
        let mut start = 0;
        self.ends[..nends]
            .iter()
            .map(|&end| {
                // Unquoting only removes ASCII quote bytes, so a UTF-8 line stays UTF-8.
                let field = std::str::from_utf8(&self.out[start..end]).unwrap_or("");
                start = end;
                field
            })
            .collect()
    }
}

/// The parser thread's loop: reads, parses, sends chunks; returns the final message.
fn parse_all<R: Read>(reader: R, opts: &ImportOptions, tx: &mpsc::Sender<Msg>) -> Msg {
    use std::io::BufRead;
    let file = opts.source_name.clone();
    let mut input = std::io::BufReader::with_capacity(256 * 1024, reader);
    let mut sink = RejectedSink {
        path: opts.rejected_path.clone(),
        writer: None,
    };
    let mut raw = Vec::with_capacity(256);
    let mut splitter = LineSplitter::new();
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    let (mut rows, mut rejected, mut had_header, mut seen_data) = (0u64, 0u64, false, false);
    let mut sample = Vec::new();
    let (mut line, mut bytes) = (0u64, 0u64);
    loop {
        raw.clear();
        match input.read_until(b'\n', &mut raw) {
            Ok(0) => break,
            Ok(n) => bytes += n as u64,
            Err(source) => return Msg::Fatal(ImportError::Read { file, source }),
        }
        line += 1;
        if raw.contains(&0) {
            return Msg::Fatal(ImportError::NotCsv {
                file,
                line,
                reason: "it holds a NUL byte".to_owned(),
            });
        }
        let Ok(mut text) = std::str::from_utf8(&raw) else {
            return Msg::Fatal(ImportError::NotUtf8 { file, line });
        };
        text = text.trim_end_matches(['\n', '\r']);
        if line == 1 {
            text = text.trim_start_matches('\u{feff}');
        }
        let fields = splitter.split(text);
        if !seen_data && !fields.iter().all(|f| f.trim().is_empty()) {
            seen_data = true;
            if fields.len() > 1 && is_header(fields[0].trim()) {
                had_header = true;
                continue;
            }
        }
        match parse_row(line, &fields, opts.default_pin.as_ref()) {
            Row::Blank => {}
            Row::Valid(account) => {
                rows += 1;
                chunk.push(account);
            }
            Row::Rejected(r) => {
                rows += 1;
                rejected += 1;
                if let Err(e) = sink.write(&r) {
                    return Msg::Fatal(e);
                }
                if sample.len() < SAMPLE_REJECTED {
                    sample.push(r);
                }
            }
        }
        if chunk.len() == CHUNK_ROWS {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS));
            if tx.blocking_send(Msg::Chunk { rows: full, bytes }).is_err() {
                // The receiver gave up (database error): it reports why.
                return Msg::Done {
                    rows,
                    rejected,
                    had_header,
                    sample,
                };
            }
        }
    }
    if let Err(e) = sink.finish() {
        return Msg::Fatal(e);
    }
    if !chunk.is_empty() && tx.blocking_send(Msg::Chunk { rows: chunk, bytes }).is_err() {
        return Msg::Done {
            rows,
            rejected,
            had_header,
            sample,
        };
    }
    Msg::Done {
        rows,
        rejected,
        had_header,
        sample,
    }
}

/// Imports a CSV stream into `opts.batch`, all or nothing for the file as a whole, valid rows
/// landing even when others are rejected. `progress` is called with the bytes read so far.
pub async fn import_csv<R: Read + Send + 'static>(
    store: &Store,
    reader: R,
    opts: ImportOptions,
    progress: impl Fn(u64),
) -> Result<ImportReport, ImportError> {
    if let Some(path) = &opts.rejected_path {
        // A rejected file from an earlier run of the same file would mislead.
        remove_if_exists(path);
    }
    let file = opts.source_name.clone();
    let store_err = |source| ImportError::Store {
        file: file.clone(),
        source,
    };
    let (tx, mut rx) = mpsc::channel::<Msg>(4);
    let parse_opts = opts.clone();
    let parser = std::thread::spawn(move || {
        let last = parse_all(reader, &parse_opts, &tx);
        // The receiver may be gone already (it failed first); nothing more to say then.
        let _ = tx.blocking_send(last);
    });

    let write = store.begin_write().await.map_err(store_err)?;
    let mut report = ImportReport {
        rejected_file: None,
        ..Default::default()
    };
    let mut outcome = Err(ImportError::Read {
        file: file.clone(),
        source: std::io::Error::other("the parser stopped without a word"),
    });
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Chunk { rows, bytes } => {
                match Store::insert_accounts(&write, &opts.batch, &rows).await {
                    Ok(n) => {
                        report.accepted += n;
                        report.already_present += rows.len() as u64 - n;
                    }
                    Err(e) => {
                        outcome = Err(store_err(e));
                        break;
                    }
                }
                progress(bytes);
            }
            Msg::Done {
                rows,
                rejected,
                had_header,
                sample,
            } => {
                report.sample_rejected = sample;
                report.rows = rows;
                report.rejected = rejected;
                report.had_header = had_header;
                outcome = Ok(());
                break;
            }
            Msg::Fatal(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    drop(rx);
    // The parser never blocks once the channel is closed; it ends on its own.
    let _ = parser.join();
    match outcome {
        Ok(()) => {
            write.commit().await.map_err(|e| store_err(e.into()))?;
            if report.rejected > 0 {
                report.rejected_file = opts.rejected_path.clone();
            }
            Ok(report)
        }
        Err(e) => {
            // Dropping the transaction rolls it back; the rejected file describes nothing now.
            drop(write);
            if let Some(path) = &opts.rejected_path {
                remove_if_exists(path);
            }
            Err(e)
        }
    }
}

fn remove_if_exists(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "Could not remove an old rejected-rows file.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(s: &str) -> Vec<&str> {
        s.split(',').collect()
    }

    fn reason(row: Row) -> String {
        match row {
            Row::Rejected(r) => r.reason,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_row_with_and_without_pin() {
        let default = Pin::parse("1111").unwrap();
        match parse_row(3, &fields("0812-3456-7890, a@b.co ,123456"), Some(&default)) {
            Row::Valid(a) => {
                assert_eq!(a.msisdn.as_str(), "6281234567890");
                assert_eq!(a.email.as_str(), "a@b.co");
                assert_eq!(a.pin.unwrap().expose(), "123456");
            }
            other => panic!("{other:?}"),
        }
        match parse_row(3, &fields("081234567890,a@b.co"), Some(&default)) {
            Row::Valid(a) => assert_eq!(a.pin.unwrap().expose(), "1111"),
            other => panic!("{other:?}"),
        }
        match parse_row(3, &fields("081234567890,a@b.co,"), None) {
            Row::Valid(a) => assert!(a.pin.is_none()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejections_name_the_field_and_the_reason() {
        assert!(reason(parse_row(1, &fields("0812"), None)).contains("email is missing"));
        assert!(
            reason(parse_row(1, &fields("081234567890,a@b.co,1234,x"), None)).contains("4 fields")
        );
        assert!(
            reason(parse_row(1, &fields("0712345678,a@b.co"), None))
                .starts_with("msisdn: not an Indonesian")
        );
        assert!(reason(parse_row(1, &fields("081234567890,ab.co"), None)).starts_with("email: "));
        let r = reason(parse_row(1, &fields("081234567890,a@b.co,12x4"), None));
        assert!(r.starts_with("pin: ") && !r.contains("12x4"), "{r}");
    }

    #[test]
    fn lines_split_like_csv() {
        let mut s = LineSplitter::new();
        assert_eq!(s.split("a, b ,c"), ["a", " b ", "c"]);
        assert_eq!(
            s.split("\"0812,345\",\"x\"\"y@z.co\""),
            ["0812,345", "x\"y@z.co"]
        );
        assert_eq!(s.split("ü,é"), ["ü", "é"]);
        assert_eq!(s.split(&"x".repeat(1000)), ["x".repeat(1000)]);
        assert_eq!(s.split(&["1"; 20].join(",")).len(), 20);
        assert!(s.split("").len() <= 1);
    }

    #[test]
    fn blank_rows_are_skipped_and_headers_recognised() {
        assert!(matches!(parse_row(1, &fields(" , "), None), Row::Blank));
        assert!(is_header("msisdn"));
        assert!(is_header("Nomor HP"));
        assert!(!is_header("0812345678"));
    }
}

/// Property tests of the CSV line parser (issue 14): any line, or a valid row with one field
/// wrong, never panics; a rejection names its line and the field; valid rows round-trip.
/// `PROPTEST_CASES` raises the case count above 10 000.
#[cfg(test)]
mod fuzz {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use proptest::prelude::*;
    use simrotor_test_support::fuzz::config;

    use super::*;

    /// How every rejection's reason starts: the field it is about, or the row's shape.
    const REASONS: [&str; 4] = [
        "msisdn: ",
        "email: ",
        "pin: ",
        "expected msisdn,email[,pin]: ",
    ];

    fn check_rejected(r: &Rejected, line: u64) -> Result<(), TestCaseError> {
        prop_assert_eq!(r.line, line);
        prop_assert!(
            REASONS.iter().any(|p| r.reason.starts_with(p)),
            "a reason that names no field: {}",
            r.reason
        );
        Ok(())
    }

    /// A valid number in the forms operators write: `08…`, `628…`, `+62 8…`, with separators.
    fn msisdn() -> impl Strategy<Value = (String, String)> {
        (
            "8[0-9]{8,11}",
            prop::sample::select(vec!["0", "62", "+62", "+62 "]),
            any::<bool>(),
        )
            .prop_map(|(national, prefix, dashes)| {
                let written = if dashes {
                    format!("{prefix}{}-{}", &national[..3], &national[3..])
                } else {
                    format!("{prefix}{national}")
                };
                (written, format!("62{national}"))
            })
    }

    fn email() -> impl Strategy<Value = String> {
        "[a-z0-9._+]{1,12}@[a-z0-9-]{1,10}(\\.[a-z]{2,6}){1,2}"
    }

    fn pin() -> impl Strategy<Value = String> {
        "[0-9]{4,8}"
    }

    /// A field as CSV writes it: plain, with spaces around, or quoted.
    fn written(field: &str, how: u8) -> String {
        match how {
            0 => field.to_owned(),
            1 => format!(" {field} "),
            _ => format!("\"{}\"", field.replace('"', "\"\"")),
        }
    }

    /// A value each field must refuse, and the field's name.
    fn wrong_field() -> impl Strategy<Value = (usize, String)> {
        let msisdn = prop_oneof![
            Just(String::new()),
            Just("0712345678".to_owned()),
            Just("+0812345678".to_owned()),
            "08[0-9]{0,6}",
            "08[0-9]{12,20}",
            "08[0-9]{4}[a-z#*][0-9]{4}",
            "[a-zA-Z]{1,10}",
        ];
        let email = prop_oneof![
            Just(String::new()),
            "[a-z]{1,8}",
            "[a-z]{1,8}@[a-z]{1,8}",
            "[a-z]{1,8}@[a-z]{1,4}@[a-z]{1,4}\\.co",
            "@[a-z]{1,8}\\.co",
            "[a-z]{1,4} [a-z]{1,4}@x\\.co",
            "[a-z]{1,8}@[a-z]{1,4}\\.\\.co",
            "[a-z]{300}@x\\.co",
        ];
        let pin = prop_oneof![
            "[0-9]{1,3}",
            "[0-9]{9,12}",
            "[0-9]{2,4}[a-wyz][0-9]{2,4}",
            "[a-z]{2,4}[0-9]{2,4}",
        ];
        prop_oneof![
            msisdn.prop_map(|v| (0, v)),
            email.prop_map(|v| (1, v)),
            pin.prop_map(|v| (2, v)),
        ]
    }

    proptest! {
        #![proptest_config(config())]

        /// Any line: blank, valid, or rejected with its line and the field.
        #[test]
        fn fuzz_any_line(
            line in prop_oneof![
                any::<String>(),
                "[0-9+ ,@.\"a-z-]{0,40}",
                "(\"?[0-9a-z@.+ ]{0,12}\"?,){0,5}[0-9a-z@. ]{0,12}",
            ],
            n in 1..u64::MAX,
        ) {
            let mut splitter = LineSplitter::new();
            let fields = splitter.split(&line);
            match parse_row(n, &fields, None) {
                Row::Blank => prop_assert!(fields.iter().all(|f| f.trim().is_empty())),
                Row::Valid(a) => prop_assert!(a.msisdn.as_str().starts_with("628")),
                Row::Rejected(r) => check_rejected(&r, n)?,
            }
        }

        /// A row written from a valid number, email and (maybe) PIN reads back as them.
        #[test]
        fn fuzz_valid_rows_round_trip(
            (written_msisdn, stored) in msisdn(),
            email in email(),
            pin in prop::option::of(pin()),
            hows in prop::array::uniform3(0..3u8),
            n in 1..1_000_000u64,
        ) {
            let mut fields = vec![written(&written_msisdn, hows[0]), written(&email, hows[1])];
            if let Some(p) = &pin {
                fields.push(written(p, hows[2]));
            }
            let line = fields.join(",");
            let default = Pin::parse("0000").unwrap();
            let mut splitter = LineSplitter::new();
            match parse_row(n, &splitter.split(&line), Some(&default)) {
                Row::Valid(a) => {
                    prop_assert_eq!(a.msisdn.as_str(), stored.as_str(), "{}", line);
                    prop_assert_eq!(a.email.as_str(), email.as_str(), "{}", line);
                    let want = pin.as_deref().unwrap_or("0000");
                    prop_assert_eq!(a.pin.as_ref().map(Pin::expose), Some(want), "{}", line);
                }
                other => prop_assert!(false, "{}: {:?}", line, other),
            }
        }

        /// A valid row with one field wrong is rejected on its line, naming that field; a
        /// PIN is never quoted back.
        #[test]
        fn fuzz_a_row_with_one_field_wrong(
            (written_msisdn, _) in msisdn(),
            email in email(),
            pin in pin(),
            (i, wrong) in wrong_field(),
            how in 0..3u8,
            n in 1..1_000_000u64,
        ) {
            let mut fields = [written_msisdn, email, pin];
            fields[i] = wrong.clone();
            let line = fields.iter().map(|f| written(f, how)).collect::<Vec<_>>().join(",");
            let mut splitter = LineSplitter::new();
            match parse_row(n, &splitter.split(&line), None) {
                Row::Rejected(r) => {
                    check_rejected(&r, n)?;
                    let field = ["msisdn: ", "email: ", "pin: "][i];
                    prop_assert!(r.reason.starts_with(field), "{}: {}", line, r.reason);
                    // Long enough not to be one of the message's own words or numbers.
                    if i == 2 && wrong.len() >= 4 {
                        prop_assert!(!r.reason.contains(&wrong), "{}", r.reason);
                    }
                }
                other => prop_assert!(false, "{}: {:?}", line, other),
            }
        }

        /// A whole file of any bytes: refused whole naming the line, or read with every
        /// rejected row on its own line.
        #[test]
        fn fuzz_any_file(
            lines in prop::collection::vec(
                prop_oneof![
                    3 => "[0-9a-z@.,\" +-]{0,30}",
                    1 => any::<String>(),
                    1 => prop::collection::vec(any::<u8>(), 0..30)
                        .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
                ],
                0..12,
            ),
            raw in prop::option::of((any::<prop::sample::Index>(), any::<u8>())),
            crlf in any::<bool>(),
        ) {
            let mut bytes = lines.join(if crlf { "\r\n" } else { "\n" }).into_bytes();
            if let Some((at, b)) = raw {
                let i = at.index(bytes.len() + 1);
                bytes.insert(i, b);
            }
            let total = bytes.split(|b| *b == b'\n').count() as u64;
            let opts = ImportOptions {
                batch: BatchId::parse("fuzz").unwrap(),
                default_pin: None,
                source_name: "fuzz.csv".to_owned(),
                rejected_path: None,
            };
            let (tx, mut rx) = mpsc::channel(16);
            let done = parse_all(bytes.as_slice(), &opts, &tx);
            let mut valid = 0u64;
            while let Ok(msg) = rx.try_recv() {
                if let Msg::Chunk { rows, .. } = msg {
                    valid += rows.len() as u64;
                }
            }
            match done {
                Msg::Done { rows, rejected, sample, .. } => {
                    prop_assert_eq!(rows, valid + rejected);
                    let mut last = 0;
                    for r in &sample {
                        prop_assert!(r.line > last && r.line <= total, "{:?}", r);
                        check_rejected(r, r.line)?;
                        last = r.line;
                    }
                }
                Msg::Fatal(err) => {
                    let text = err.to_string();
                    let line = match &err {
                        ImportError::NotUtf8 { line, .. } | ImportError::NotCsv { line, .. } => *line,
                        other => return Err(TestCaseError::fail(format!("{other}"))),
                    };
                    prop_assert!(line >= 1 && line <= total, "{}", text);
                    prop_assert!(text.starts_with(&format!("fuzz.csv: line {line}")), "{}", text);
                }
                Msg::Chunk { .. } => prop_assert!(false, "the last message is a chunk"),
            }
        }
    }
}

//! The OTP in an SMS text: the digits next to a keyword, never an amount, a date or a piece of
//! a longer number.
//!
//! A wrong code sent to a server is a wrong code at the telco, a strike against the number. The
//! first run of 4–8 digits is not good enough: "Transaksi Rp 10000 perlu kode 4321" would give
//! `10000`, and SmsForwarder's default `content` puts the sender's number, the SIM label and a
//! date around the SMS. So a [`CodeFinder`] tries the operator's patterns (`otp.patterns`) in
//! order, each pattern's first group a candidate, and skips every candidate that is not ASCII
//! digits or whose surroundings show it to be something else:
//!
//! - an **amount**: `Rp`, `Rp.`, `IDR` before it (with or without a space or a dot), `rb`,
//!   `ribu`, `rupiah`, `jt`, `juta` after it;
//! - **joined to other digits** by `.` `,` `:` `/` `-`, or by a single space: a date
//!   (`2026-11-24`, `24/11/2026`, `24-11`), a time (`15:00`), an amount written `10.000` or
//!   `10000,00`, a number written in groups (`0812-3456-7890`, a token `1234 5678 9012`);
//! - **glued** to a letter, a digit or `_`, or after a `+` (a phone number `+62812…`);
//! - a **year** after a month's name (`24 Nov 2026`).
//!
//! The `regex` crate has no look-around, so these checks are code over the text around the
//! match, applied to every pattern, the operator's own too. When in doubt a candidate is
//! skipped: a code that is not found leaves the binding waiting (the operator can type it), a
//! wrong one costs a strike.

use std::fmt;

use regex::Regex;

/// The patterns tried in order when the configuration names none: the digits after a keyword,
/// then the digits before one, then any run of 4–8 digits standing alone (still filtered).
pub const DEFAULT_PATTERNS: &[&str] = &[
    // A keyword, then within four words or punctuation on the same line the digits:
    // "Kode OTP Anda: 123456", "Your OTP code is 998877", "Kode verifikasi: 55123".
    r"(?i)\b(?:kode|otp|code|pin|sandi|token|verifikasi)\b(?:[^\w\n]+\w*[^\W\d]\w*){0,4}[^\w\n]+(\d{4,8})\b",
    // The digits, then within three words the keyword: "482913 adalah kode verifikasi".
    r"(?i)\b(\d{4,8})(?:[^\w\n]+\w*[^\W\d]\w*){0,3}[^\w\n]+(?:kode|otp|code|pin|sandi|token|verifikasi)\b",
    // The last resort: a run of 4–8 digits on its own.
    r"\b(\d{4,8})\b",
];

/// A pattern of `otp.patterns` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    #[error("otp.patterns is empty: at least one pattern is needed")]
    Empty,
    #[error("otp.patterns[{index}] = {pattern:?} is not a valid regular expression: {source}")]
    Invalid {
        index: usize,
        pattern: String,
        source: Box<regex::Error>,
    },
    #[error("otp.patterns[{index}] = {pattern:?} needs a capturing group ( … ) around the code")]
    NoGroup { index: usize, pattern: String },
}

impl PatternError {
    /// The configuration key at fault: `otp.patterns` or `otp.patterns[i]`.
    pub fn key(&self) -> String {
        match self {
            PatternError::Empty => "otp.patterns".to_owned(),
            PatternError::Invalid { index, .. } | PatternError::NoGroup { index, .. } => {
                format!("otp.patterns[{index}]")
            }
        }
    }
}

/// Cuts the OTP from an SMS text with a list of patterns tried in order. `Debug` shows the
/// patterns only (the finder never holds a text).
#[derive(Clone)]
pub struct CodeFinder {
    patterns: Vec<Regex>,
}

impl fmt::Debug for CodeFinder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeFinder")
            .field(
                "patterns",
                &self.patterns.iter().map(Regex::as_str).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl CodeFinder {
    /// A finder from `otp.patterns`: at least one, each a valid regular expression with a
    /// capturing group around the code.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        if patterns.is_empty() {
            return Err(PatternError::Empty);
        }
        let patterns = patterns
            .iter()
            .enumerate()
            .map(|(index, pattern)| {
                let pattern = pattern.as_ref();
                let re = Regex::new(pattern).map_err(|source| PatternError::Invalid {
                    index,
                    pattern: pattern.to_owned(),
                    source: Box::new(source),
                })?;
                if re.captures_len() < 2 {
                    return Err(PatternError::NoGroup {
                        index,
                        pattern: pattern.to_owned(),
                    });
                }
                Ok(re)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { patterns })
    }

    /// The code in an SMS text: the first candidate that survives the filters, of the first
    /// pattern that has one.
    pub fn find(&self, text: &str) -> Option<String> {
        self.patterns.iter().find_map(|re| {
            re.captures_iter(text)
                .filter_map(|c| c.get(1))
                .find(|m| is_code(text, m.start(), m.end()))
                .map(|m| m.as_str().to_owned())
        })
    }

    /// Whether some pattern, run on `code` alone, captures it whole: a code the operator typed
    /// looks like one the finder would take.
    pub fn whole(&self, code: &str) -> bool {
        self.patterns.iter().any(|re| {
            re.captures_iter(code)
                .filter_map(|c| c.get(1))
                .any(|m| m.as_str() == code)
        })
    }
}

/// Whether `text[start..end]` is a code: ASCII digits that stand on their own.
fn is_code(text: &str, start: usize, end: usize) -> bool {
    let digits = &text[start..end];
    let (before, after) = (&text[..start], &text[end..]);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !part_of_a_longer_number(before, after)
        && !an_amount(before, after)
        && !a_year(before, digits)
}

/// What joins two runs of digits into one number, date or time.
const JOINERS: &[char] = &['.', ',', ':', '/', '-', ' '];

fn part_of_a_longer_number(before: &str, after: &str) -> bool {
    let mut back = before.chars().rev();
    let glued = |c: char| c.is_alphanumeric() || c == '_';
    match (back.next(), back.next()) {
        (Some(c), _) if glued(c) || c == '+' => return true,
        (Some(joiner), Some(digit)) if JOINERS.contains(&joiner) && digit.is_ascii_digit() => {
            return true;
        }
        _ => {}
    }
    let mut ahead = after.chars();
    match (ahead.next(), ahead.next()) {
        (Some(c), _) if glued(c) => true,
        (Some(joiner), Some(digit)) => JOINERS.contains(&joiner) && digit.is_ascii_digit(),
        _ => false,
    }
}

/// The currency written before an amount.
const CURRENCY_BEFORE: &[&str] = &["rp", "idr"];
/// The words written after an amount.
const AMOUNT_AFTER: &[&str] = &["rb", "ribu", "rupiah", "jt", "juta"];

fn an_amount(before: &str, after: &str) -> bool {
    let before = before.trim_end_matches(' ');
    let before = before.strip_suffix(['.', ':']).unwrap_or(before);
    let currency = last_word(before.trim_end_matches(' '));
    let unit = first_word(after.trim_start_matches(' '));
    CURRENCY_BEFORE
        .iter()
        .any(|c| currency.eq_ignore_ascii_case(c))
        || AMOUNT_AFTER.iter().any(|u| unit.eq_ignore_ascii_case(u))
}

/// Month names and their abbreviations, Indonesian and English.
const MONTHS: &[&str] = &[
    "jan",
    "januari",
    "january",
    "feb",
    "februari",
    "february",
    "mar",
    "maret",
    "march",
    "apr",
    "april",
    "mei",
    "may",
    "jun",
    "juni",
    "june",
    "jul",
    "juli",
    "july",
    "agu",
    "agt",
    "agus",
    "agustus",
    "aug",
    "august",
    "sep",
    "sept",
    "september",
    "okt",
    "oktober",
    "oct",
    "october",
    "nov",
    "november",
    "des",
    "desember",
    "dec",
    "december",
];

fn a_year(before: &str, digits: &str) -> bool {
    if digits.len() != 4 {
        return false;
    }
    let before = before.trim_end_matches(' ');
    let month = last_word(before.strip_suffix('.').unwrap_or(before));
    MONTHS.iter().any(|m| month.eq_ignore_ascii_case(m))
}

/// The run of letters at the end of `text` (empty when it ends otherwise).
fn last_word(text: &str) -> &str {
    let start = text
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphabetic())
        .last()
        .map_or(text.len(), |(i, _)| i);
    &text[start..]
}

/// The run of letters at the start of `text` (empty when it starts otherwise).
fn first_word(text: &str) -> &str {
    let end = text
        .char_indices()
        .find(|(_, c)| !c.is_alphabetic())
        .map_or(text.len(), |(i, _)| i);
    &text[..end]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn defaults() -> CodeFinder {
        CodeFinder::new(DEFAULT_PATTERNS).unwrap()
    }

    fn found(text: &str) -> Option<String> {
        defaults().find(text)
    }

    #[test]
    fn login_otps_of_the_telcos_give_their_code() {
        for (text, code) in [
            (
                "Kode OTP Anda: 123456. JANGAN BERIKAN kode ini kepada siapapun.",
                "123456",
            ),
            (
                "<#> 482913 adalah kode verifikasi MyTelkomsel Anda. Berlaku 5 menit. Jgn berikan kode ini ke siapapun",
                "482913",
            ),
            (
                "JANGAN BERIKAN KODE INI. Kode rahasia login myIM3: 7731. Berlaku s/d 15:05",
                "7731",
            ),
            ("Your OTP code is 998877", "998877"),
            (
                "Kode OTP Anda: 123456 untuk masuk ke aplikasi. JANGAN BERIKAN kode ini kepada siapa pun.",
                "123456",
            ),
            ("OTP:0042", "0042"),
            ("PIN anda 2580, rahasiakan.", "2580"),
            ("Kata sandi sekali pakai: 80412233", "80412233"),
        ] {
            assert_eq!(found(text).as_deref(), Some(code), "{text}");
        }
    }

    #[test]
    fn transaction_otps_give_the_code_not_the_amount_the_number_or_the_date() {
        for (text, code) in [
            ("Transaksi Rp 10000 perlu kode 4321", "4321"),
            (
                "Pembelian voucher Rp10.000 ke 081234567890 pada 24/11/2026 15:00. Kode verifikasi: 55123",
                "55123",
            ),
            (
                "Kode transaksi 2468 untuk pembayaran Rp 50000, berlaku hingga 2026-11-24 15:10",
                "2468",
            ),
            (
                "Kode OTP Anda: 98765432 untuk verifikasi transaksi di perangkat baru.",
                "98765432",
            ),
            ("Bayar Rp. 75000 ke toko, kode 9911", "9911"),
            ("Pembelian IDR 20000 pada 24 Nov 2026: kode 3141", "3141"),
        ] {
            assert_eq!(found(text).as_deref(), Some(code), "{text}");
        }
    }

    #[test]
    fn a_text_with_only_amounts_numbers_and_dates_gives_none() {
        for text in [
            "Saldo Anda Rp 25000 per 24-11-2026",
            "Saldo Anda Rp25000 per 24/11/2026",
            "Pulsa 25000 rb masuk 2026-11-24",
            "Bonus 50000 ribu berlaku s.d. 24 November 2026",
            "Hubungi +6281200000099 atau 0812-3456-7890",
            "Token listrik 1234 5678 9012 3456 7890",
            "Saldo IDR 150000,00",
            "",
            "Selamat! Anda mendapat bonus kuota.",
            "Kode: 123 terlalu pendek",
            "Nomor 6281234567890 terlalu panjang",
            "abc123456def tanpa batas kata",
        ] {
            assert_eq!(found(text), None, "{text}");
        }
    }

    #[test]
    fn smsforwarders_default_block_gives_the_code_of_the_sms_line() {
        let block = "+6281200000099\nKode OTP Anda: 123456. JANGAN BERIKAN kode ini kepada siapapun.\nSIM1_6281200000001\nSubId\u{ff1a}1\n2026-11-24 15:00:00\nHP-01";
        assert_eq!(found(block).as_deref(), Some("123456"));
        // Without a keyword, the number, the label and the date still give nothing.
        let bare = "+6281200000099\nSIM1_6281200000001\nSubId\u{ff1a}1\n2026-11-24 15:00:00\nHP-01";
        assert_eq!(found(bare), None);
        // The contract's example, its `content` field as the app posts it.
        let example = crate::fixture::get("pppscn-smsforwarder-default-form").unwrap();
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(example.body).unwrap();
        let content = &form.iter().find(|(k, _)| k == "content").unwrap().1;
        assert!(content.contains("SIM1_6281200000001"), "{content}");
        assert_eq!(found(content).as_deref(), Some(crate::fixture::CODE));
    }

    #[test]
    fn the_first_pattern_with_a_code_wins_over_the_next() {
        let finder =
            CodeFinder::new(&[r"Kode B: (\d+)".to_owned(), r"Kode A: (\d+)".to_owned()]).unwrap();
        let text = "Kode A: 1111, Kode B: 2222";
        assert_eq!(finder.find(text).as_deref(), Some("2222"));
        assert_eq!(finder.find("Kode A: 1111").as_deref(), Some("1111"));
        // A pattern whose every candidate is skipped gives way to the next.
        assert_eq!(
            finder.find("Kode B: 5000 rb, Kode A: 1111").as_deref(),
            Some("1111")
        );
    }

    #[test]
    fn the_operators_patterns_are_filtered_too() {
        let finder = CodeFinder::new(&[r"(\d+)".to_owned()]).unwrap();
        assert_eq!(
            finder
                .find("Rp 10000 dari +6281234567 pada 2026-11-24: 4321")
                .as_deref(),
            Some("4321")
        );
        let finder = CodeFinder::new(&[r"Kode: (\w+)".to_owned()]).unwrap();
        assert_eq!(finder.find("Kode: ABC123"), None);
        assert_eq!(finder.find("Kode: ABC Kode: 5555").as_deref(), Some("5555"));
        assert_eq!(finder.find("Kode: \u{0661}\u{0662}\u{0663}\u{0664}"), None);
    }

    #[test]
    fn whole_accepts_a_typed_code_a_pattern_captures_entirely() {
        let finder = defaults();
        assert!(finder.whole("123456"));
        assert!(finder.whole("0042"));
        assert!(!finder.whole("123"));
        assert!(!finder.whole("123456789"));
        assert!(!finder.whole("12a456"));
        let keywords_only = CodeFinder::new(&[r"kode (\d{4})".to_owned()]).unwrap();
        assert!(!keywords_only.whole("1234"));
    }

    #[test]
    fn bad_patterns_are_refused_with_their_index() {
        let err = CodeFinder::new::<String>(&[]).unwrap_err();
        assert!(matches!(err, PatternError::Empty));
        assert_eq!(err.key(), "otp.patterns");
        assert!(err.to_string().contains("otp.patterns is empty"), "{err}");

        let err = CodeFinder::new(&[r"\b(\d{4,8})\b".to_owned(), r"(\d{4".to_owned()]).unwrap_err();
        assert!(
            matches!(err, PatternError::Invalid { index: 1, .. }),
            "{err}"
        );
        assert_eq!(err.key(), "otp.patterns[1]");
        let shown = err.to_string();
        assert!(shown.starts_with("otp.patterns[1] = "), "{shown}");
        assert!(shown.contains("unclosed counted repetition"), "{shown}");

        let err = CodeFinder::new(&[r"\d{4,8}".to_owned()]).unwrap_err();
        assert!(
            matches!(err, PatternError::NoGroup { index: 0, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("needs a capturing group"), "{err}");
    }

    #[test]
    fn debug_shows_the_patterns() {
        let finder = CodeFinder::new(&[r"kode (\d{4})".to_owned()]).unwrap();
        assert_eq!(
            format!("{finder:?}"),
            r#"CodeFinder { patterns: ["kode (\\d{4})"] }"#
        );
    }

    #[test]
    fn the_default_patterns_each_have_a_group() {
        assert_eq!(defaults().patterns.len(), DEFAULT_PATTERNS.len());
        assert_eq!(DEFAULT_PATTERNS.last(), Some(&r"\b(\d{4,8})\b"));
    }
}

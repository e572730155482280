//! `simrotor import`: what the operator sees for good, bad and repeated files.

use crate::helpers::{Scratch, assert_has};

const FILE: &str = "msisdn,email,pin
0812-3456-7890,a@example.com,123456
+6281234567891,b@example.com
0712345678,c@example.com
081234567892,not-an-email
081234567890,again@example.com

6281234567893,d@example.com,12x9
";

#[test]
fn reports_accepted_present_and_rejected_with_lines_and_reasons() {
    let s = Scratch::new();
    s.write("b1.csv", FILE);
    let run = s
        .run(&["import", "b1.csv", "--batch", "B1", "--pin", "4321"])
        .ok();
    assert_has(&run.stdout, "rows read                6");
    assert_has(&run.stdout, "accepted                 2");
    assert_has(&run.stdout, "already present          1");
    assert_has(&run.stdout, "rejected                 3");
    assert_has(
        &run.stdout,
        "line 4: msisdn: not an Indonesian mobile number",
    );
    assert_has(&run.stdout, "line 5: email: the email has no @");
    assert_has(&run.stdout, "line 8: pin: the PIN must be digits only");

    let rejected = s.read("b1.csv.rejected.csv");
    let lines: Vec<&str> = rejected.lines().collect();
    assert_eq!(lines[0], "line,reason,msisdn,email");
    assert_eq!(lines.len(), 4, "{rejected}");
    assert!(lines[1].starts_with("4,"), "{rejected}");
    assert!(
        !rejected.contains("12x9"),
        "a PIN must never be copied to the rejected file"
    );

    let accounts = s.run(&["accounts", "--format", "json"]).ok().json();
    let msisdns: Vec<&str> = accounts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["msisdn"].as_str().unwrap())
        .collect();
    assert_eq!(msisdns, ["6281234567890", "6281234567891"]);
    assert!(accounts[0].get("pin").is_none(), "the PIN is never listed");
}

#[test]
fn importing_the_same_file_twice_adds_nothing() {
    let s = Scratch::new();
    s.write("b1.csv", FILE);
    s.run(&["import", "b1.csv", "--batch", "B1"]).ok();
    let again = s.run(&["import", "b1.csv", "--batch", "B1"]).ok();
    assert_has(&again.stdout, "accepted                 0");
    assert_has(&again.stdout, "already present          3");
    let recap = s.run(&["recap", "--format", "json"]).ok().json();
    assert_eq!(recap["total"]["numbers"]["total"], 2);
    assert_eq!(recap["total"]["numbers"]["available"], 2);
}

#[test]
fn a_headerless_file_imports_every_row() {
    let s = Scratch::new();
    s.write(
        "plain.csv",
        "081234567890,a@example.com\n081234567891,b@example.com,9999\n",
    );
    let run = s.run(&["import", "plain.csv", "--batch", "P"]).ok();
    assert_has(&run.stdout, "accepted                 2");
    assert!(
        !s.exists("plain.csv.rejected.csv"),
        "no rejected file when nothing is rejected"
    );
}

#[test]
fn a_file_that_is_not_utf8_is_refused_whole() {
    let s = Scratch::new();
    let mut bytes = b"msisdn,email\n081234567890,a@example.com\n".to_vec();
    bytes.extend_from_slice(b"081234567891,b\xff@example.com\n");
    s.write("latin1.csv", bytes);
    let run = s.run(&["import", "latin1.csv", "--batch", "X"]);
    assert_eq!(run.code, 1);
    assert_has(&run.stderr, "latin1.csv: line 3 is not UTF-8");
    assert_has(&run.stderr, "nothing was imported");
    let accounts = s.run(&["accounts", "--format", "json"]).ok().json();
    assert_eq!(
        accounts.as_array().unwrap().len(),
        0,
        "the valid line 2 must not be half-imported"
    );
}

#[test]
fn a_binary_file_is_not_csv() {
    let s = Scratch::new();
    s.write("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR");
    let run = s.run(&["import", "photo.csv", "--batch", "X"]);
    assert_eq!(run.code, 1);
    // Its first line is not UTF-8; a NUL byte further on would be named the same way.
    assert_has(&run.stderr, "photo.csv: line 1 is not UTF-8");
    assert_has(&run.stderr, "nothing was imported");
    s.write(
        "nul.csv",
        b"081234567890,a@example.com\n0812\x0034567891,b@example.com\n",
    );
    let run = s.run(&["import", "nul.csv", "--batch", "X"]);
    assert_eq!(run.code, 1);
    assert_has(
        &run.stderr,
        "nul.csv: line 2: it holds a NUL byte: this is not a CSV text file",
    );
}

#[test]
fn a_bad_batch_or_pin_or_missing_file_is_named() {
    let s = Scratch::new();
    let run = s.run(&["import", "missing.csv", "--batch", "B"]);
    assert_eq!(run.code, 1);
    assert_has(&run.stderr, "cannot open missing.csv");
    s.write("b.csv", FILE);
    let run = s.run(&["import", "b.csv", "--batch", "a b"]);
    assert_ne!(run.code, 0);
    assert_has(&run.stderr, "--batch");
    let run = s.run(&["import", "b.csv", "--batch", "B", "--pin", "12"]);
    assert_eq!(run.code, 1);
    assert_has(&run.stderr, "--pin: the PIN must have 4 to 8 digits");
}

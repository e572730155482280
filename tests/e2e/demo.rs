//! `simrotor demo`: the whole product on a fresh machine, as the README's first command runs it,
//! ending with the simulator's ledger reconciled against the database.

use crate::helpers::{Run, Scratch, assert_has};

#[test]
fn the_demo_rotates_every_number_and_reconciles_the_ledger() {
    let run = reconciled_demo(&["--servers", "4", "--accounts", "16", "--seed", "5"], "");
    assert_has(&run.stdout, "Throughput:");
    // Every number ended: none available or in use (table row: batch, numbers, available, in use).
    let (total, cells) = total_row(&run.stdout);
    assert_eq!(&cells[1..4], ["16", "0", "0"], "{total}");
}

/// `simrotor demo ARGS` in a fresh directory, which must exit 0 with the ledger reconciled
/// (`what` names the run in a failure).
fn reconciled_demo(args: &[&str], what: &str) -> Run {
    let s = Scratch::new();
    let run = s.run(&[&["demo"], args].concat()).ok();
    assert!(
        run.stdout.contains("Ledger reconciled"),
        "{what}: {}\n{}",
        run.stdout,
        run.stderr
    );
    run
}

/// The recap's TOTAL row and its cells: batch, numbers, available, in use, waiting, done,
/// non-reseller, blocked, failed, pulsa start, spent, suspect, left, …
fn total_row(stdout: &str) -> (&str, Vec<&str>) {
    let total = stdout.lines().find(|l| l.contains("TOTAL")).unwrap();
    let cells = total
        .split('┆')
        .map(|c| c.trim_matches(|ch: char| ch == '│' || ch.is_whitespace()))
        .collect();
    (total, cells)
}

/// The first version's shapes, and a mix of both per answer: the client reads them all, and
/// the demo still buys and reconciles.
#[test]
fn the_demo_buys_and_reconciles_in_legacy_and_mixed_shapes_too() {
    for shapes in ["legacy", "mixed"] {
        let args = [
            "--servers",
            "3",
            "--accounts",
            "9",
            "--seed",
            "5",
            "--shapes",
            shapes,
        ];
        let run = reconciled_demo(&args, shapes);
        let (total, cells) = total_row(&run.stdout);
        assert_eq!(&cells[1..4], ["9", "0", "0"], "{shapes}: {total}");
        assert_ne!(cells[9], "0", "{shapes}: pulsa was spent: {total}");
    }
}

#[test]
fn lost_answers_and_server_errors_never_buy_twice_or_lose_a_purchase() {
    let run = reconciled_demo(
        &[
            "--servers",
            "5",
            "--accounts",
            "25",
            "--seed",
            "11",
            "--lost-answer-rate",
            "0.15",
            "--error-rate",
            "0.05",
            "--malformed-rate",
            "0.05",
        ],
        "",
    );
    let (total, cells) = total_row(&run.stdout);
    let cells: Vec<u64> = cells.iter().skip(1).map(|c| c.parse().unwrap()).collect();
    // numbers total, available, in use, waiting, done, non-reseller, blocked, failed,
    // pulsa start, spent, suspect, left, …: the pulsa adds up.
    let (start, spent, suspect, left) = (cells[8], cells[9], cells[10], cells[11]);
    assert_eq!(start - spent - suspect, left, "{total}");
}

#[test]
fn a_bad_knob_stops_the_demo_before_anything_runs() {
    let s = Scratch::new();
    let run = s.run(&["demo", "--error-rate", "3"]);
    assert_eq!(run.code, 1);
    assert_has(&run.stderr, "simulator.faults.error_rate = 3");
}

//! `migrate`, `servers`, `accounts` and `recap` on a fresh database.

use crate::helpers::{Scratch, assert_has};

#[test]
fn migrate_records_the_configured_servers_and_can_roll_back() {
    let s = Scratch::new();
    s.write(
        "config.toml",
        "[database]\nurl = \"sqlite://data/t.db\"\n[servers]\nports = [9100, 9101, 9102]\n[servers.overrides.9101]\nenabled = false\n",
    );
    let run = s.run(&["migrate"]).ok();
    assert!(
        run.stdout.contains("3 servers recorded (2 enabled)"),
        "{}",
        run.stdout
    );
    assert!(
        s.exists("data/t.db"),
        "the SQLite file is created under data/"
    );

    let servers = s.run(&["servers", "--format", "json"]).ok().json();
    let ports: Vec<u64> = servers
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["port"].as_u64().unwrap())
        .collect();
    assert_eq!(ports, [9100, 9101, 9102]);
    assert_eq!(servers[1]["enabled"], false);
    assert_eq!(servers[0]["state"], "IDLE");

    s.run(&["migrate", "--down"]).ok();
    let run = s.run(&["migrate"]).ok();
    assert_has(&run.stdout, "up to date");
}

/// A directory with batch A (two numbers) and batch B (one) imported.
fn two_batches() -> Scratch {
    let s = Scratch::new();
    s.write(
        "a.csv",
        "081234567890,a@example.com\n081234567891,b@example.com\n",
    );
    s.write("b.csv", "081234567892,c@example.com\n");
    s.run(&["import", "a.csv", "--batch", "A"]).ok();
    s.run(&["import", "b.csv", "--batch", "B"]).ok();
    s
}

#[test]
fn accounts_filter_by_batch_and_status_in_every_format() {
    let s = two_batches();

    let b = s
        .run(&["accounts", "--batch", "B", "--format", "json"])
        .ok()
        .json();
    assert_eq!(b.as_array().unwrap().len(), 1);
    assert_eq!(b[0]["msisdn"], "6281234567892");
    assert_eq!(b[0]["status"], "AVAILABLE");

    let csv = s
        .run(&["accounts", "--status", "available", "--format", "csv"])
        .ok();
    assert_eq!(csv.stdout.lines().count(), 4, "{}", csv.stdout);
    assert!(
        csv.stdout.starts_with("id,msisdn,email,batch,status"),
        "{}",
        csv.stdout
    );

    let none = s.run(&["accounts", "--status", "DONE"]).ok();
    assert_has(&none.stdout, "No accounts match.");

    let bad = s.run(&["accounts", "--status", "gone"]);
    assert_ne!(bad.code, 0);
    assert_has(&bad.stderr, "AVAILABLE");
}

#[test]
fn recap_per_batch_and_total_in_table_json_and_csv() {
    let s = two_batches();

    let json = s.run(&["recap", "--format", "json"]).ok().json();
    assert_eq!(json["batches"][0]["batch_id"], "A");
    assert_eq!(json["batches"][0]["numbers"]["total"], 2);
    assert_eq!(json["batches"][1]["numbers"]["total"], 1);
    assert_eq!(json["total"]["numbers"]["available"], 3);
    assert_eq!(json["total"]["pulsa"]["spent"], 0);

    let one = s
        .run(&["recap", "--batch", "B", "--format", "json"])
        .ok()
        .json();
    assert_eq!(one["batches"].as_array().unwrap().len(), 1);
    assert_eq!(one["total"]["numbers"]["total"], 1);

    let csv = s.run(&["recap", "--format", "csv"]).ok();
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", csv.stdout);
    assert!(lines[3].starts_with("TOTAL,3,3,"), "{}", csv.stdout);

    let table = s.run(&["recap"]).ok();
    assert_has(&table.stdout, "TOTAL");
}

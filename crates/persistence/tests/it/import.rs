//! Importing numbers: new ones counted, a number already present (in any written form) never
//! inserted twice, bad rows rejected with their line and reason (never with the PIN), and a file
//! that is not text CSV refused whole.

use std::io::Cursor;
use std::path::Path;
use std::sync::Mutex;

use sea_orm::{EntityTrait, QueryOrder};
use simrotor_domain::AccountState;
use simrotor_persistence::entity::account;
use simrotor_persistence::import::{ImportError, ImportOptions, ImportReport, import_csv};
use simrotor_persistence::{AccountFilter, NewAccount, Store};

use crate::helpers::*;

/// The PIN of the rejected rows below: it must never reach the rejected file.
const SECRET_PIN: &str = "918273";

fn options(dir: &Path, batch_id: &str) -> ImportOptions {
    ImportOptions {
        batch: batch(batch_id),
        default_pin: None,
        source_name: "numbers.csv".to_owned(),
        rejected_path: Some(dir.join("numbers.rejected.csv")),
    }
}

async fn run(
    store: &Store,
    bytes: Vec<u8>,
    opts: ImportOptions,
) -> Result<ImportReport, ImportError> {
    import_csv(store, Cursor::new(bytes), opts, |_| {}).await
}

/// Each account's number and stored PIN, in import order: the PIN its login will send.
async fn stored_pins(store: &Store) -> Vec<(String, Option<String>)> {
    account::Entity::find()
        .order_by_asc(account::Column::Id)
        .all(store.connection())
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.msisdn, a.pin))
        .collect()
}

/// The rejected file as (line, reason, msisdn, email) rows, header first.
fn rejected_rows(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// A header, three good rows (one with a PIN), and three bad ones on lines 3, 5 and 7.
fn mixed_file() -> Vec<u8> {
    format!(
        "msisdn,email,pin\n\
         {n1},user1@example.com,123456\n\
         0712345678,bad-number@example.com,{SECRET_PIN}\n\
         +62 812-0000-0002,user2@example.com\n\
         {n3},not-an-email,{SECRET_PIN}\n\
         \n\
         {n4},user4@example.com,12x4{SECRET_PIN}\n\
         {n5},user5@example.com,\n",
        n1 = local_number(1),
        n3 = local_number(3),
        n4 = local_number(4),
        n5 = local_number(5),
    )
    .into_bytes()
}

/// A report's counts: rows, accepted, already present, rejected, and whether it had a header.
fn counts(report: &ImportReport) -> (u64, u64, u64, u64, bool) {
    (
        report.rows,
        report.accepted,
        report.already_present,
        report.rejected,
        report.had_header,
    )
}

both_databases!(the_same_number_in_any_form_is_imported_once);
/// `import_accounts` counts the new numbers; the same number again, written `08…`, `+62…` or
/// `62…`, is not inserted twice and stays in its first batch.
async fn the_same_number_in_any_form_is_imported_once(db: TestDb) {
    let store = &db.store;
    assert_eq!(import(store, "b1", 0..3).await, 3);
    let again = vec![
        NewAccount {
            msisdn: msisdn(0),
            ..new_account(0)
        },
        NewAccount {
            msisdn: simrotor_domain::Msisdn::parse("+62 812 0000 0001").unwrap(),
            ..new_account(1)
        },
        NewAccount {
            msisdn: simrotor_domain::Msisdn::parse("6281200000002").unwrap(),
            ..new_account(2)
        },
        new_account(3),
    ];
    assert_eq!(
        store.import_accounts(&batch("b2"), &again).await.unwrap(),
        1
    );

    let all = store.accounts(&AccountFilter::default()).await.unwrap();
    let numbers: Vec<&str> = all.iter().map(|a| a.msisdn.as_str()).collect();
    assert_eq!(
        numbers,
        [
            "6281200000000",
            "6281200000001",
            "6281200000002",
            "6281200000003"
        ]
    );
    let batches: Vec<&str> = all.iter().map(|a| a.batch_id.as_str()).collect();
    assert_eq!(batches, ["b1", "b1", "b1", "b2"]);
    assert!(
        all.iter()
            .all(|a| a.status == AccountState::Available && a.attempts == 0)
    );
    assert_eq!(store.import_accounts(&batch("b3"), &[]).await.unwrap(), 0);
}

both_databases!(csv_rejects_bad_rows_and_lands_the_rest);
/// Valid rows land, bad rows go to the rejected file with their line and reason (no PIN
/// there), blank lines are skipped, and the same file again adds nothing.
async fn csv_rejects_bad_rows_and_lands_the_rest(db: TestDb) {
    let store = &db.store;
    let dir = tempfile::tempdir().unwrap();
    let report = run(store, mixed_file(), options(dir.path(), "b1"))
        .await
        .unwrap();
    let rejected_path = dir.path().join("numbers.rejected.csv");
    assert_eq!(counts(&report), (6, 3, 0, 3, true));
    assert_eq!(
        report.rejected_file.as_deref(),
        Some(rejected_path.as_path())
    );
    let sample: Vec<(u64, &str)> = report
        .sample_rejected
        .iter()
        .map(|r| (r.line, r.msisdn.as_str()))
        .collect();
    assert_eq!(
        sample,
        [
            (3, "0712345678"),
            (5, local_number(3).as_str()),
            (7, local_number(4).as_str())
        ]
    );
    assert!(
        !format!("{report:?}").contains(SECRET_PIN),
        "a PIN in the report"
    );

    let rows = rejected_rows(&rejected_path);
    assert_eq!(rows[0], ["line", "reason", "msisdn", "email"]);
    let lines: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(lines, ["3", "5", "7"]);
    assert!(rows[1][1].starts_with("msisdn: "), "{:?}", rows[1]);
    assert_eq!(rows[1][2], "0712345678");
    assert!(rows[2][1].starts_with("email: "), "{:?}", rows[2]);
    assert_eq!(rows[2][3], "not-an-email");
    assert!(rows[3][1].starts_with("pin: "), "{:?}", rows[3]);
    let text = std::fs::read_to_string(&rejected_path).unwrap();
    assert!(
        !text.contains(SECRET_PIN),
        "a PIN reached the rejected file:\n{text}"
    );
    assert!(
        !text.contains("12x4"),
        "a PIN reached the rejected file:\n{text}"
    );

    let all = store.accounts(&AccountFilter::default()).await.unwrap();
    let numbers: Vec<&str> = all.iter().map(|a| a.msisdn.as_str()).collect();
    assert_eq!(numbers, ["6281200000001", "6281200000002", "6281200000005"]);
    assert!(all.iter().all(|a| a.batch_id == "b1"));

    // The file's PIN is stored for the login; a row without one has none.
    assert_eq!(
        stored_pins(store).await,
        [
            ("6281200000001".to_owned(), Some("123456".to_owned())),
            ("6281200000002".to_owned(), None),
            ("6281200000005".to_owned(), None),
        ]
    );

    let again = run(store, mixed_file(), options(dir.path(), "b1"))
        .await
        .unwrap();
    assert_eq!(
        (again.accepted, again.already_present, again.rejected),
        (0, 3, 3)
    );
    assert_eq!(account_count(store).await, 3);
    assert_eq!(
        rejected_rows(&rejected_path).len(),
        4,
        "the rejected file is rewritten, not appended to"
    );
}

both_databases!(csv_without_header_and_with_a_duplicate);
/// No header: the first line is data. A number twice in one file (`08…` and `+62…`) lands
/// once; the default PIN fills rows without one. Nothing rejected: no rejected file.
async fn csv_without_header_and_with_a_duplicate(db: TestDb) {
    let store = &db.store;
    let dir = tempfile::tempdir().unwrap();
    let file = format!(
        "{},a@example.com\n+62 812-0000-0007,b@example.com\n{},c@example.com,654321\n",
        local_number(7),
        local_number(8)
    );
    let opts = ImportOptions {
        default_pin: Some(pin("1111")),
        ..options(dir.path(), "b1")
    };
    let report = run(store, file.into_bytes(), opts).await.unwrap();
    assert_eq!(counts(&report), (3, 2, 1, 0, false));
    assert!(report.rejected_file.is_none() && report.sample_rejected.is_empty());
    assert!(!dir.path().join("numbers.rejected.csv").exists());

    let stored = store.accounts(&AccountFilter::default()).await.unwrap();
    assert_eq!(
        stored[0].email, "a@example.com",
        "the first row of a number wins"
    );
    assert_eq!(
        stored_pins(store).await,
        [
            ("6281200000007".to_owned(), Some("1111".to_owned())),
            ("6281200000008".to_owned(), Some("654321".to_owned())),
        ]
    );
}

both_databases!(a_spreadsheet_export_with_bom_and_crlf);
/// A file saved by a spreadsheet on Windows (UTF-8 BOM, CRLF line ends, quoted fields): the
/// header is recognised and no `\r` ends up in an email or a PIN; line numbers still count.
async fn a_spreadsheet_export_with_bom_and_crlf(db: TestDb) {
    let store = &db.store;
    let dir = tempfile::tempdir().unwrap();
    let file = format!(
        "\u{feff}MSISDN,Email,PIN\r\n\"{}\",a@example.com,4321\r\n0812,b@example.com\r\n{},c@example.com\r\n",
        local_number(1),
        local_number(2)
    );
    let report = run(store, file.into_bytes(), options(dir.path(), "b1"))
        .await
        .unwrap();
    assert!(report.had_header);
    assert_eq!((report.rows, report.accepted, report.rejected), (3, 2, 1));
    assert_eq!(report.sample_rejected[0].line, 3);
    let stored = store.accounts(&AccountFilter::default()).await.unwrap();
    let emails: Vec<&str> = stored.iter().map(|a| a.email.as_str()).collect();
    assert_eq!(emails, ["a@example.com", "c@example.com"]);
    assert_eq!(
        stored_pins(store).await,
        [
            ("6281200000001".to_owned(), Some("4321".to_owned())),
            ("6281200000002".to_owned(), None),
        ]
    );
}

/// Imports `file` into `b1`, which must fail with nothing imported and no rejected file left
/// in `dir`; the error.
async fn imports_nothing(store: &Store, file: Vec<u8>, dir: &Path) -> ImportError {
    let err = run(store, file, options(dir, "b1")).await.unwrap_err();
    assert_eq!(account_count(store).await, 0);
    assert!(!dir.join("numbers.rejected.csv").exists());
    err
}

both_databases!(a_non_utf8_file_imports_nothing);
/// A line that is not UTF-8: the error names the line, nothing is imported (not even the
/// good rows before it) and no rejected file is left behind.
async fn a_non_utf8_file_imports_nothing(db: TestDb) {
    let store = &db.store;
    let dir = tempfile::tempdir().unwrap();
    let mut file = format!(
        "msisdn,email\n0712345678,x@example.com\n{},a@example.com\n",
        local_number(1)
    )
    .into_bytes();
    file.extend_from_slice(b"0812000000\xe902,caf\xe9@example.com\n");
    file.extend_from_slice(format!("{},b@example.com\n", local_number(3)).as_bytes());

    let err = imports_nothing(store, file, dir.path()).await;
    assert!(
        matches!(err, ImportError::NotUtf8 { line: 4, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("numbers.csv") && message.contains("line 4"),
        "{message}"
    );
    assert!(message.contains("nothing was imported"), "{message}");
}

both_databases!(a_file_with_a_nul_byte_imports_nothing);
/// A NUL byte after 1,500 good rows (a full chunk already inserted in the transaction):
/// the error names the line and the whole file is rolled back.
async fn a_file_with_a_nul_byte_imports_nothing(db: TestDb) {
    let store = &db.store;
    let dir = tempfile::tempdir().unwrap();
    let mut file = String::from("msisdn,email\n0712345678,x@example.com\n");
    for i in 0..1500 {
        file.push_str(&format!("{},user{i}@example.com\n", local_number(i)));
    }
    let mut file = file.into_bytes();
    // Line 1 header, line 2 rejected, lines 3..=1502 good, line 1503 the NUL.
    file.extend_from_slice(b"081299999999,nul\0@example.com\n");

    let err = imports_nothing(store, file, dir.path()).await;
    assert!(
        matches!(err, ImportError::NotCsv { line: 1503, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("line 1503") && message.contains("NUL"),
        "{message}"
    );
    // The store is not left locked by the aborted import.
    assert_eq!(import(store, "b2", 0..2).await, 2);
}

both_databases!(ten_thousand_rows_import);
/// Ten thousand rows import in one go, progress reaches the end of the file.
async fn ten_thousand_rows_import(db: TestDb) {
    let store = &db.store;
    let dir = tempfile::tempdir().unwrap();
    let mut file = String::from("msisdn,email,pin\n");
    for i in 0..10_000 {
        file.push_str(&format!(
            "{},user{i}@example.com,{:06}\n",
            local_number(i),
            i
        ));
    }
    let len = file.len() as u64;
    let seen = Mutex::new(Vec::new());
    let report = import_csv(
        store,
        Cursor::new(file.into_bytes()),
        options(dir.path(), "big"),
        |b| {
            seen.lock().unwrap().push(b);
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (
            report.rows,
            report.accepted,
            report.already_present,
            report.rejected
        ),
        (10_000, 10_000, 0, 0)
    );
    assert_eq!(
        store.available_count(Some(&batch("big"))).await.unwrap(),
        10_000
    );
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), 10, "one progress call per chunk of 1,000 rows");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&len), "progress ends at the file's size");
    let last = store
        .accounts(&AccountFilter::default())
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.msisdn, msisdn(9_999).as_str());
}

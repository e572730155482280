//! One runtime per database: a second claim is refused while the first lives (through the same
//! store, another store, or another process), and the claim ends with its holder, even one
//! killed with `kill -9`.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::DatabaseBackend;
use simrotor_persistence::{RuntimeClaim, Store, StoreError, StoreOptions};

use crate::helpers::*;

/// The variable that makes `child_claims_and_waits` claim a database (its URL) and hold it.
const CHILD_URL: &str = "SIMROTOR_TEST_CLAIM_CHILD_URL";
/// What the child prints once it holds the claim (on the line where libtest names the test).
const CHILD_CLAIMED: &str = "simrotor-test-child: claimed";

/// A claim of `store`, which must be refused because another one lives; returns its holder.
async fn refused(store: &Store) -> String {
    match store.claim_runtime().await {
        Err(StoreError::RuntimeRunning { holder }) => {
            let message = StoreError::RuntimeRunning {
                holder: holder.clone(),
            }
            .to_string();
            assert!(
                message.contains("another simrotor runtime already runs on this database"),
                "{message}"
            );
            assert!(message.contains(&holder), "{message}");
            holder
        }
        other => panic!("expected RuntimeRunning, got {other:?}"),
    }
}

/// A claim of `store` once the previous holder is gone. On SQLite the lock goes with the file
/// handle, at once; a PostgreSQL session ends when the server notices its socket closed, a
/// moment later, so that one may take a few tries.
async fn claimed_after_the_holder_is_gone(store: &Store) -> RuntimeClaim {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.claim_runtime().await {
            Ok(claim) => return claim,
            Err(StoreError::RuntimeRunning { .. })
                if store.backend() == DatabaseBackend::Postgres && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the claim was not released: {e}"),
        }
    }
}

both_databases!(a_second_claim_is_refused_until_the_first_ends);
/// While a claim lives, claiming again through the same store or a second pool is refused with
/// a message naming what is held; dropped or released, the next claim succeeds.
async fn a_second_claim_is_refused_until_the_first_ends(db: TestDb) {
    let store = &db.store;
    let claim = store.claim_runtime().await.unwrap();
    match store.backend() {
        DatabaseBackend::Postgres => {
            assert!(
                claim
                    .holder()
                    .contains("PostgreSQL advisory lock 0x73696d726f747274"),
                "{claim:?}"
            );
        }
        _ => {
            assert!(
                claim.holder().contains("simrotor.db.runtime.lock"),
                "{claim:?}"
            );
        }
    }

    let holder = refused(store).await;
    assert_eq!(holder, claim.holder());
    if store.backend() == DatabaseBackend::Sqlite {
        assert!(
            holder.contains(&format!("pid {}", std::process::id())),
            "the refusal names the holding process: {holder}"
        );
    }
    let other = db.connect_again(2).await;
    refused(&other).await;

    drop(claim);
    let claim = claimed_after_the_holder_is_gone(&other).await;
    refused(store).await;

    // An explicit release is over when it returns: no waiting, on either database.
    claim.release().await.unwrap();
    let claim = store.claim_runtime().await.unwrap();
    refused(&other).await;
    drop(claim);
}

/// An in-memory database belongs to its process: there is nothing to claim, so claims succeed.
#[tokio::test]
async fn an_in_memory_database_is_never_claimed() {
    let store = Store::connect(&StoreOptions::new("sqlite::memory:"))
        .await
        .unwrap();
    let first = store.claim_runtime().await.unwrap();
    let second = store.claim_runtime().await.unwrap();
    assert!(first.holder().contains("in-memory"), "{first:?}");
    drop((first, second));
}

/// Kills the child when the test ends, passed or not.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

both_databases!(a_killed_runtime_leaves_no_claim_behind);
/// Another process holds the claim: this one is refused. Killed with SIGKILL (no destructor,
/// no goodbye to the database), its claim ends with it and this process can claim.
async fn a_killed_runtime_leaves_no_claim_behind(db: TestDb) {
    let exe = std::env::current_exe().unwrap();
    let mut child = KillOnDrop(
        Command::new(exe)
            .args([
                "--exact",
                "runtime_claim::child_claims_and_waits",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_URL, &db.url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let claimed = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || {
            std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .any(|line| line.contains(CHILD_CLAIMED))
        }),
    )
    .await
    .expect("the child claims within a minute")
    .unwrap();
    assert!(claimed, "the child ended without claiming");

    let holder = refused(&db.store).await;
    if db.store.backend() == DatabaseBackend::Sqlite {
        assert!(
            holder.contains(&format!("pid {}", child.0.id())),
            "the refusal names the child: {holder}"
        );
    }

    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let claim = claimed_after_the_holder_is_gone(&db.store).await;
    drop(claim);
}

/// Claims the database named by `SIMROTOR_TEST_CLAIM_CHILD_URL`, says so, and holds the claim
/// until it is killed (or for a minute, should its parent be gone).
/// In a normal run (no variable) it returns at once.
#[tokio::test]
async fn child_claims_and_waits() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let store = Store::connect_without_migrating(&StoreOptions::new(url))
        .await
        .unwrap();
    let _claim = store.claim_runtime().await.unwrap();
    println!("{CHILD_CLAIMED}");
    tokio::time::sleep(Duration::from_secs(60)).await;
}

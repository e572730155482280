//! Waiting for something a test cannot be told about: poll, and fail the test at a deadline
//! generous for a loaded 2-core machine (a passing test never waits for it).

use std::future::Future;
use std::time::Duration;

/// How long a wait may take and how often it looks again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patience {
    pub deadline: Duration,
    pub poll: Duration,
}

/// A minute, looking every 20 ms.
pub const PATIENCE: Patience = Patience::new(Duration::from_secs(60), Duration::from_millis(20));

impl Patience {
    pub const fn new(deadline: Duration, poll: Duration) -> Self {
        Self { deadline, poll }
    }

    /// Polls `probe` until it gives `Some`; `None` once the deadline has passed. Tokio's clock,
    /// so a test with paused time waits in no time.
    pub async fn poll<T, F, Fut>(self, mut probe: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + self.deadline;
        loop {
            if let Some(found) = probe().await {
                return Some(found);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// [`Patience::poll`], failing the test at the deadline with `what`.
    pub async fn wait_for<T, F, Fut>(self, what: &str, probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        self.poll(probe).await.unwrap_or_else(|| self.give_up(what))
    }

    /// [`Patience::poll`] for a test without a runtime (it must not be called inside one).
    pub fn poll_blocking<T>(self, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime to wait on")
            .block_on(self.poll(|| std::future::ready(probe())))
    }

    /// [`Patience::wait_for`] for a test without a runtime.
    pub fn wait_for_blocking<T>(self, what: &str, probe: impl FnMut() -> Option<T>) -> T {
        self.poll_blocking(probe)
            .unwrap_or_else(|| self.give_up(what))
    }

    fn give_up(self, what: &str) -> ! {
        panic!("waited {:?} for: {what}", self.deadline)
    }
}

/// Polls `probe` until it gives `Some`, failing the test after [`PATIENCE`] with `what`.
pub async fn wait_for<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    PATIENCE.wait_for(what, probe).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: Patience = Patience::new(Duration::from_millis(200), Duration::from_millis(1));

    #[test]
    fn a_wait_gives_what_the_probe_found() {
        let mut tries = 0;
        let found = QUICK.wait_for_blocking("the third try", || {
            tries += 1;
            (tries == 3).then_some(tries)
        });
        assert_eq!(found, 3);
    }

    #[test]
    fn a_wait_gives_up_at_the_deadline() {
        assert_eq!(QUICK.poll_blocking(|| None::<()>), None);
    }

    #[test]
    #[should_panic(expected = "for: what never comes")]
    fn a_wait_that_gives_up_fails_the_test_with_its_reason() {
        QUICK.wait_for_blocking("what never comes", || None::<()>);
    }
}

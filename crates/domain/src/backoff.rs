//! How long to wait after the `n`th failure in a row, written once for everyone who waits on a
//! failing server: the slot client before repeating a call, the driver while a server does not
//! answer or answers garbage, the supervisor before restarting a server's actor. Each wait
//! doubles from `min` up to `max` and is jittered, so servers that failed together do not come
//! back in step. Pure: the caller sleeps.

use std::time::Duration;

use rand::Rng;

/// Where the random part of a wait lies around its step (`min · 2^attempt`, at most `max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// The step plus up to a quarter more: never earlier than the step (restarts, probes).
    QuarterMore,
    /// Anywhere in the step's upper half: never longer than the step, so `max` holds (the slot
    /// client's repeats, which must fit in the caller's patience).
    UpperHalf,
}

/// A doubling wait with jitter. `attempt` counts from 0: the first wait is about `min`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
    pub jitter: Jitter,
}

impl Backoff {
    pub const fn new(min: Duration, max: Duration, jitter: Jitter) -> Self {
        Self { min, max, jitter }
    }

    /// The wait before jitter: `min · 2^attempt`, at most `max` (and `max` when `min` exceeds it).
    pub fn step(&self, attempt: u32) -> Duration {
        self.min
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max)
    }

    /// The `attempt`th wait, jittered with the thread's random source.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, &mut rand::rng())
    }

    /// The `attempt`th wait, jittered with `rng`.
    pub fn delay_with<R: Rng + ?Sized>(&self, attempt: u32, rng: &mut R) -> Duration {
        let step = self.step(attempt);
        let nanos = u64::try_from(step.as_nanos()).unwrap_or(u64::MAX);
        match self.jitter {
            Jitter::QuarterMore => {
                step.saturating_add(Duration::from_nanos(rng.random_range(0..=nanos / 4)))
            }
            Jitter::UpperHalf => Duration::from_nanos(rng.random_range(nanos / 2..=nanos)),
        }
    }
}

/// When a purchase's status is asked: the first poll `first` after `trx_idv`'s answer (zero by
/// default: no fixed wait), then after each "processing" answer a wait doubling from `min` to
/// `max`, without jitter (one server holds one session, so no herd to spread). Waits are counted
/// as the server's work (the schedule asked for them), not as idle time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSchedule {
    pub first: Duration,
    pub min: Duration,
    pub max: Duration,
}

impl PollSchedule {
    /// The wait before poll `n` (from 0): `first`, then `min · 2^(n-1)`, at most `max`.
    pub fn wait(&self, n: u32) -> Duration {
        match n {
            0 => self.first,
            n => Backoff::new(self.min, self.max, Jitter::UpperHalf).step(n - 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    fn backoff(min_ms: u64, max_ms: u64, jitter: Jitter) -> Backoff {
        Backoff::new(MS * min_ms as u32, MS * max_ms as u32, jitter)
    }

    #[test]
    fn the_step_doubles_from_min_and_stops_at_max() {
        let b = backoff(100, 1_000, Jitter::QuarterMore);
        let steps: Vec<_> = (0..6).map(|n| b.step(n)).collect();
        assert_eq!(steps, [100, 200, 400, 800, 1_000, 1_000].map(|ms| MS * ms));
        assert_eq!(b.step(u32::MAX), MS * 1_000);
    }

    #[test]
    fn a_min_above_max_waits_max() {
        assert_eq!(backoff(5_000, 1_000, Jitter::UpperHalf).step(0), MS * 1_000);
    }

    #[test]
    fn zero_waits_zero() {
        for jitter in [Jitter::QuarterMore, Jitter::UpperHalf] {
            assert_eq!(
                Backoff::new(Duration::ZERO, MS, jitter).delay(3),
                Duration::ZERO
            );
        }
    }

    #[test]
    fn a_huge_max_does_not_overflow() {
        let b = Backoff::new(Duration::from_secs(1), Duration::MAX, Jitter::QuarterMore);
        assert!(b.delay(200) >= Duration::from_secs(1 << 31));
    }

    #[test]
    fn the_poll_schedule_asks_first_then_doubles() {
        let s = PollSchedule {
            first: Duration::ZERO,
            min: MS * 25,
            max: MS * 100,
        };
        let waits: Vec<_> = (0..5).map(|n| s.wait(n)).collect();
        assert_eq!(waits, [0, 25, 50, 100, 100].map(|ms| MS * ms));
        let late = PollSchedule { first: MS * 7, ..s };
        assert_eq!(late.wait(0), MS * 7);
    }

    proptest! {
        #[test]
        fn quarter_more_never_comes_early(min in 0u64..10_000, max in 0u64..100_000, n in 0u32..40) {
            let b = backoff(min, max, Jitter::QuarterMore);
            let (step, d) = (b.step(n), b.delay(n));
            prop_assert!(d >= step && d <= step + step / 4, "{d:?} around {step:?}");
        }

        #[test]
        fn upper_half_never_exceeds_max(min in 0u64..10_000, max in 0u64..100_000, n in 0u32..40) {
            let b = backoff(min, max, Jitter::UpperHalf);
            let (step, d) = (b.step(n), b.delay(n));
            prop_assert!(d >= step / 2 && d <= step && d <= b.max, "{d:?} around {step:?}");
        }

        #[test]
        fn the_step_never_shrinks(min in 0u64..10_000, max in 0u64..100_000, n in 0u32..40) {
            let b = backoff(min, max, Jitter::QuarterMore);
            prop_assert!(b.step(n + 1) >= b.step(n));
        }
    }
}

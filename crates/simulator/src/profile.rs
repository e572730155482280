//! What the telco knows about a number before anyone calls: its starting pulsa, whether it is a
//! reseller, whether it is blocked, how long its card is active; and each server's device id.
//!
//! Each property is drawn from a generator keyed by (seed, number, property), never from a shared
//! stream, so a number's profile does not depend on which numbers were seen before it or in
//! which order: the same seed gives the same run, and a test can predict a number's pulsa.
//! (`StdRng` is ChaCha; its streams are stable for a given `rand` version.)

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use simrotor_config::SimulatorConfig;
use simrotor_domain::{Msisdn, Rupiah};

/// The telco's view of one number at the start of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NumberProfile {
    pub msisdn: Msisdn,
    pub starting_pulsa: Rupiah,
    pub reseller: bool,
    pub blocked: bool,
    /// Days from today until the card's active period ends (`cardactiveuntil`).
    pub active_days: u32,
}

/// Which property a generator is for: distinct keys give independent streams.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Property {
    Pulsa = 1,
    Reseller = 2,
    Blocked = 3,
    ActiveDays = 4,
    DeviceId = 5,
}

fn generator(seed: u64, subject: &[u8], property: Property) -> StdRng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8] = property as u8;
    // A stored MSISDN has at most 14 digits; a port 2 bytes. Both fit in the 23 bytes left.
    let n = subject.len().min(23);
    key[9..9 + n].copy_from_slice(&subject[..n]);
    StdRng::from_seed(key)
}

impl NumberProfile {
    /// The profile of `msisdn` under `config`'s seed, ranges and rates.
    pub fn derive(config: &SimulatorConfig, msisdn: &Msisdn) -> Self {
        let subject = msisdn.as_str().as_bytes();
        let (min, max) = (config.pulsa_min.get(), config.pulsa_max.get());
        let pulsa = if min >= max {
            min
        } else {
            generator(config.seed, subject, Property::Pulsa).random_range(min..=max)
        };
        Self {
            msisdn: msisdn.clone(),
            starting_pulsa: Rupiah::new(pulsa),
            reseller: draw(
                config.seed,
                subject,
                Property::Reseller,
                config.reseller_rate,
            ),
            blocked: draw(config.seed, subject, Property::Blocked, config.blocked_rate),
            active_days: generator(config.seed, subject, Property::ActiveDays)
                .random_range(30..=365),
        }
    }
}

/// True with probability `rate`; exactly never at 0 and always at 1.
fn draw(seed: u64, subject: &[u8], property: Property, rate: f64) -> bool {
    let u: f64 = generator(seed, subject, property).random();
    u < rate
}

/// The device id a server on `port` reports in `list_idv`: 16 hex digits, fixed by the seed.
pub fn device_id(seed: u64, port: u16) -> String {
    let id: u64 = generator(seed, &port.to_le_bytes(), Property::DeviceId).random();
    format!("{id:016x}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails
mod tests {
    use super::*;

    fn msisdn(n: u64) -> Msisdn {
        Msisdn::parse(&format!("0812{n:08}")).unwrap()
    }

    #[test]
    fn a_profile_depends_only_on_the_seed_and_the_number() {
        let config = SimulatorConfig::default();
        let forward: Vec<_> = (0..50)
            .map(|n| NumberProfile::derive(&config, &msisdn(n)))
            .collect();
        let backward: Vec<_> = (0..50)
            .rev()
            .map(|n| NumberProfile::derive(&config, &msisdn(n)))
            .collect();
        assert!(forward.iter().eq(backward.iter().rev()));

        let other = SimulatorConfig {
            seed: 2,
            ..config.clone()
        };
        let changed = (0..50)
            .filter(|n| {
                NumberProfile::derive(&other, &msisdn(*n)).starting_pulsa
                    != forward[*n as usize].starting_pulsa
            })
            .count();
        assert!(changed > 40, "another seed changed only {changed} of 50");
    }

    #[test]
    fn pulsa_stays_in_range_and_rates_are_roughly_kept() {
        let config = SimulatorConfig {
            pulsa_min: Rupiah::new(7_000),
            pulsa_max: Rupiah::new(9_000),
            reseller_rate: 0.5,
            blocked_rate: 0.0,
            ..SimulatorConfig::default()
        };
        let profiles: Vec<_> = (0..1000)
            .map(|n| NumberProfile::derive(&config, &msisdn(n)))
            .collect();
        assert!(
            profiles
                .iter()
                .all(|p| (7_000..=9_000).contains(&p.starting_pulsa.get())
                    && !p.blocked
                    && (30..=365).contains(&p.active_days))
        );
        let resellers = profiles.iter().filter(|p| p.reseller).count();
        assert!((400..=600).contains(&resellers), "{resellers} of 1000");
    }

    #[test]
    fn changing_one_rate_does_not_reshuffle_the_other_properties() {
        let a = SimulatorConfig::default();
        let b = SimulatorConfig {
            blocked_rate: 0.5,
            pulsa_max: Rupiah::new(90_000),
            ..a.clone()
        };
        for n in 0..100 {
            let (pa, pb) = (
                NumberProfile::derive(&a, &msisdn(n)),
                NumberProfile::derive(&b, &msisdn(n)),
            );
            assert_eq!(pa.reseller, pb.reseller);
        }
    }

    #[test]
    fn a_fixed_range_gives_that_pulsa_and_rates_at_the_ends_are_exact() {
        let config = SimulatorConfig {
            pulsa_min: Rupiah::new(12_345),
            pulsa_max: Rupiah::new(12_345),
            reseller_rate: 1.0,
            blocked_rate: 0.0,
            ..SimulatorConfig::default()
        };
        for n in 0..200 {
            let p = NumberProfile::derive(&config, &msisdn(n));
            assert_eq!(p.starting_pulsa, Rupiah::new(12_345));
            assert!(p.reseller && !p.blocked);
        }
    }

    #[test]
    fn device_ids_differ_by_port_and_repeat_by_seed() {
        assert_eq!(device_id(1, 9900), device_id(1, 9900));
        assert_ne!(device_id(1, 9900), device_id(1, 9901));
        assert_ne!(device_id(1, 9900), device_id(2, 9900));
        assert_eq!(device_id(1, 9900).len(), 16);
    }
}

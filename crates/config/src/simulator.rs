//! The knobs of `simrotor sim`, the simulator of the operator's resource servers.
//!
//! They live here, beside the rest of the configuration, so that `config.toml`, the
//! `SIMROTOR_SIMULATOR__…` environment and the command line all set the same fields, and so that
//! an impossible value (a rate above 1, an empty catalogue) stops start-up with the key named.
//! Rates are probabilities (`f64`); money is always [`Rupiah`].
//!
//! The `forward_…` knobs make the simulated SMS forwarder post as a real app does
//! (`forward_as = "capcom6"`, …), with or without the receiving number, signed with
//! `forward_secret` (never printed), and repeat or forge SMS the way retries and attackers do.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use simrotor_domain::Rupiah;
use simrotor_sms::App;

use crate::ConfigError;
use crate::masked::ConfigPin;
use crate::sms::ForwarderSecret;

/// How the simulated servers and the telco behind them behave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatorConfig {
    /// Makes runs repeatable: per-number properties, device ids, codes and fault draws all
    /// follow from it (0 … 2^63-1, TOML integers are signed).
    pub seed: u64,
    /// The PIN every number accepts. Unset: a number accepts the first well-formed PIN it is
    /// sent and, from then on, only that one. Printed masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<ConfigPin>,
    /// A number's starting pulsa is drawn in `pulsa_min ..= pulsa_max`.
    pub pulsa_min: Rupiah,
    pub pulsa_max: Rupiah,
    /// The share of numbers that are resellers (may list and buy products).
    pub reseller_rate: f64,
    /// The share of numbers the telco has blocked (login refused).
    pub blocked_rate: f64,
    /// How long a login or transaction OTP stays valid.
    #[serde(with = "humantime_serde")]
    pub otp_ttl: Duration,
    /// How long a login token stays valid; after it, calls answer "token expired".
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
    /// Status polls that still answer "processing" before a purchase answers its outcome.
    pub status_polls: u32,
    /// The share of purchases that finish without a voucher (suspect).
    pub suspect_rate: f64,
    /// Ask for a transaction OTP on a number's first purchase on a device it has not used.
    pub transaction_otp: bool,
    /// Where each simulated SMS is also posted, as an SMS-forwarder app would.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_forwarder_url: Option<String>,
    /// More URLs each SMS is posted to as well (an app with several webhooks: one per runtime
    /// when several share the database).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sms_forwarder_also: Vec<String>,
    /// In which app's format each SMS is posted: `native` (simrotor's own `{"msisdn",
    /// "message", "received_at"}`) or an app's name (`smsforwarder`, `capcom6`, …).
    pub forward_as: ForwardAs,
    /// Whether the app's request says which SIM received the SMS (most real ones do not; the
    /// native body always does).
    pub forward_number: bool,
    /// What the simulated app signs with (or its token). Printed as `****`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_secret: Option<ForwarderSecret>,
    /// Post every SMS twice, as an app retrying does.
    pub forward_duplicates: bool,
    /// Before each real SMS, post a forged copy with another code and a wrong signature or
    /// token (the runtime must refuse it: 401).
    pub forward_forgeries: bool,
    /// Which answer shapes the servers speak: the real servers' (`real`), the simulator's
    /// earlier single envelope (`legacy`), or a seeded draw between the two per answer (`mixed`).
    pub shapes: AnswerShapes,
    /// A server holding a number's live login refuses `/otp` for another number until that
    /// number logs out or its token expires. Off: a new `/otp` replaces the session.
    pub one_session: bool,
    /// Keep every call with its port, number and times (and every SMS's delivery), for
    /// `GET /_sim/calls`; the counts by call are kept either way. For benchmarks: the list grows.
    pub record_calls: bool,
    pub faults: SimulatorFaults,
    /// What the servers sell.
    pub products: Vec<SimProduct>,
}

/// The answer shapes the simulated servers speak (`simulator.shapes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerShapes {
    /// As the operator's servers answer (`contract/slot-api.md`): a different envelope and
    /// success code per upstream app.
    #[default]
    Real,
    /// The simulator's earlier shapes: `{"req": …, "res": {"status": "0", …}}` on every call.
    Legacy,
    /// Real or legacy, drawn per answer from the seeded generator.
    Mixed,
}

impl AnswerShapes {
    pub const NAMES: [&'static str; 3] = ["real", "legacy", "mixed"];
}

impl std::str::FromStr for AnswerShapes {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "real" => Ok(Self::Real),
            "legacy" => Ok(Self::Legacy),
            "mixed" => Ok(Self::Mixed),
            _ => Err(format!(
                "expected one of {}, not {s:?}",
                Self::NAMES.join(", ")
            )),
        }
    }
}

/// The format of the simulated SMS forwarder's posts (`simulator.forward_as`), written as a
/// string: `"native"` or an app's name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardAs {
    /// simrotor's own `POST /sms` body: `{"msisdn", "message", "received_at"}`.
    #[default]
    Native,
    /// As that app posts, to its intake (`/sms/<app>`).
    App(App),
}

impl ForwardAs {
    pub const NATIVE: &'static str = "native";

    pub fn name(self) -> &'static str {
        match self {
            ForwardAs::Native => Self::NATIVE,
            ForwardAs::App(app) => app.name(),
        }
    }

    /// Every name it takes: `native`, then the apps'.
    pub fn names() -> Vec<&'static str> {
        std::iter::once(Self::NATIVE)
            .chain(App::ALL.iter().map(|a| a.name()))
            .collect()
    }

    /// The app, unless native.
    pub fn app(self) -> Option<App> {
        match self {
            ForwardAs::Native => None,
            ForwardAs::App(app) => Some(app),
        }
    }

    /// The path of the runtime's intake for this format: `/sms` or `/sms/<app>`.
    pub fn path(self) -> String {
        match self {
            ForwardAs::Native => "/sms".to_owned(),
            ForwardAs::App(app) => app.path(),
        }
    }
}

impl std::fmt::Display for ForwardAs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ForwardAs {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase();
        if name == Self::NATIVE {
            return Ok(ForwardAs::Native);
        }
        App::from_name(&name)
            .map(ForwardAs::App)
            .ok_or_else(|| format!("expected one of {}, not {s:?}", Self::names().join(", ")))
    }
}

impl Serialize for ForwardAs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ForwardAs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            pin: None,
            pulsa_min: Rupiah::new(5_000),
            pulsa_max: Rupiah::new(250_000),
            reseller_rate: 0.9,
            blocked_rate: 0.02,
            otp_ttl: Duration::from_secs(300),
            token_ttl: Duration::from_secs(3600),
            status_polls: 2,
            suspect_rate: 0.0,
            transaction_otp: false,
            sms_forwarder_url: None,
            sms_forwarder_also: Vec::new(),
            forward_as: ForwardAs::Native,
            forward_number: true,
            forward_secret: None,
            forward_duplicates: false,
            forward_forgeries: false,
            shapes: AnswerShapes::Real,
            one_session: true,
            record_calls: false,
            faults: SimulatorFaults::default(),
            // 650 "IDV Voucher Rp. 100.000" is the product seen in a captured answer; the
            // other ids and their names are the simulator's invention, in the same style.
            products: vec![
                SimProduct::new("646", "IDV Voucher Rp. 5.000", 5_000),
                SimProduct::new("647", "IDV Voucher Rp. 10.000", 10_000),
                SimProduct::new("648", "IDV Voucher Rp. 25.000", 25_000),
                SimProduct::new("650", "IDV Voucher Rp. 100.000", 100_000),
            ],
        }
    }
}

/// One product of the simulated catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimProduct {
    pub id: String,
    pub name: String,
    pub price: Rupiah,
}

impl SimProduct {
    pub fn new(id: &str, name: &str, price: u64) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            price: Rupiah::new(price),
        }
    }
}

/// The faults the simulated servers inject. All off by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatorFaults {
    /// Added to every answer.
    #[serde(with = "humantime_serde")]
    pub latency: Duration,
    /// A further delay drawn uniformly in `0 ..= jitter`.
    #[serde(with = "humantime_serde")]
    pub jitter: Duration,
    /// The share of calls answered with an HTML 5xx page instead of being executed.
    pub error_rate: f64,
    /// The share of JSON answers cut short (executed, body not valid JSON).
    pub malformed_rate: f64,
    /// The share of answers whose body stalls for `slow_body_delay` after the headers.
    pub slow_body_rate: f64,
    #[serde(with = "humantime_serde")]
    pub slow_body_delay: Duration,
    /// The share of purchases executed (pulsa debited) whose answer is lost: the connection
    /// closes without a byte.
    pub lost_answer_rate: f64,
    /// Ports that refuse connections from `down_after` after start, for `down_for`.
    pub down_ports: Vec<u16>,
    #[serde(with = "humantime_serde")]
    pub down_after: Duration,
    #[serde(with = "humantime_serde")]
    pub down_for: Duration,
}

impl Default for SimulatorFaults {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            error_rate: 0.0,
            malformed_rate: 0.0,
            slow_body_rate: 0.0,
            slow_body_delay: Duration::from_secs(5),
            lost_answer_rate: 0.0,
            down_ports: Vec::new(),
            down_after: Duration::from_secs(60),
            down_for: Duration::ZERO,
        }
    }
}

fn rate(key: &str, value: f64) -> Result<(), ConfigError> {
    if !(0.0..=1.0).contains(&value) {
        return Err(ConfigError::invalid(
            key,
            value,
            "a rate is a probability from 0 to 1",
        ));
    }
    Ok(())
}

fn nonzero(key: &str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::invalid(key, "0s", "must be longer than zero"));
    }
    Ok(())
}

impl SimulatorConfig {
    /// The checks no type expresses. Each error names the key (under `simulator.`) and the value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.pulsa_min > self.pulsa_max {
            return Err(ConfigError::invalid(
                "simulator.pulsa_min",
                self.pulsa_min.get(),
                &format!("it is above simulator.pulsa_max = {}", self.pulsa_max.get()),
            ));
        }
        if i64::try_from(self.seed).is_err() {
            return Err(ConfigError::invalid(
                "simulator.seed",
                self.seed,
                "must fit a signed 64-bit integer",
            ));
        }
        rate("simulator.reseller_rate", self.reseller_rate)?;
        rate("simulator.blocked_rate", self.blocked_rate)?;
        rate("simulator.suspect_rate", self.suspect_rate)?;
        nonzero("simulator.otp_ttl", self.otp_ttl)?;
        nonzero("simulator.token_ttl", self.token_ttl)?;
        for (key, url) in self
            .sms_forwarder_url
            .iter()
            .map(|u| ("simulator.sms_forwarder_url", u))
            .chain(
                self.sms_forwarder_also
                    .iter()
                    .map(|u| ("simulator.sms_forwarder_also", u)),
            )
        {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::invalid(
                    key,
                    format!("{url:?}"),
                    "expected an http:// or https:// URL",
                ));
            }
        }
        if let Some(secret) = &self.forward_secret
            && secret.expose().trim().is_empty()
        {
            return Err(ConfigError::invalid(
                "simulator.forward_secret",
                "\"\"",
                "an empty secret signs nothing: set one, or leave the key out",
            ));
        }
        if self.forward_forgeries && self.forward_as == ForwardAs::Native {
            return Err(ConfigError::invalid(
                "simulator.forward_forgeries",
                true,
                "a forgery is a wrong signature or token, and the native format has neither: \
                 set simulator.forward_as to an app",
            ));
        }
        if self.forward_forgeries && self.forward_secret.is_none() {
            return Err(ConfigError::invalid(
                "simulator.forward_forgeries",
                true,
                "a forgery is told apart by its wrong signature or token: set \
                 simulator.forward_secret (and the same secret in [sms.<app>])",
            ));
        }
        if self.products.is_empty() {
            return Err(ConfigError::invalid(
                "simulator.products",
                "[]",
                "the catalogue needs at least one product",
            ));
        }
        let mut ids = BTreeSet::new();
        for (i, p) in self.products.iter().enumerate() {
            if p.id.trim().is_empty() {
                return Err(ConfigError::invalid(
                    format!("simulator.products[{i}].id"),
                    "\"\"",
                    "a product id cannot be blank",
                ));
            }
            if !ids.insert(p.id.as_str()) {
                return Err(ConfigError::invalid(
                    format!("simulator.products[{i}].id"),
                    format!("{:?}", p.id),
                    "the product id is listed twice",
                ));
            }
            if p.price == Rupiah::ZERO {
                return Err(ConfigError::invalid(
                    format!("simulator.products[{i}].price"),
                    0,
                    "must be above zero",
                ));
            }
        }
        let f = &self.faults;
        rate("simulator.faults.error_rate", f.error_rate)?;
        rate("simulator.faults.malformed_rate", f.malformed_rate)?;
        rate("simulator.faults.slow_body_rate", f.slow_body_rate)?;
        rate("simulator.faults.lost_answer_rate", f.lost_answer_rate)?;
        if f.down_ports.contains(&0) {
            return Err(ConfigError::invalid(
                "simulator.faults.down_ports",
                0,
                "port 0 is not a server port",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)] // a panic is how a test fails; figment::Jail returns its own large error
mod tests {
    use figment::Jail;

    use simrotor_sms::App;

    use crate::{AnswerShapes, Config, ForwardAs, load};

    fn error_for(toml: &str) -> String {
        let toml = toml.to_owned();
        let mut out = String::new();
        Jail::expect_with(|jail| {
            jail.create_file("config.toml", &toml)?;
            out = load(None).expect_err("must be refused").to_string();
            Ok(())
        });
        out
    }

    #[test]
    fn the_default_catalogue_sells_the_default_wanted_products_within_the_limit() {
        let cfg = Config::default();
        for wanted in &cfg.products.wanted {
            let product = cfg
                .simulator
                .products
                .iter()
                .find(|p| &p.id == wanted)
                .unwrap_or_else(|| panic!("{wanted} is not in the simulator's catalogue"));
            assert!(product.price <= cfg.products.limit_harga, "{product:?}");
        }
    }

    #[test]
    fn impossible_simulator_values_name_the_key_and_the_value() {
        let cases = [
            (
                "[simulator]\nreseller_rate = 1.5\n",
                "simulator.reseller_rate = 1.5",
            ),
            (
                "[simulator]\nblocked_rate = -0.1\n",
                "simulator.blocked_rate = -0.1",
            ),
            (
                "[simulator]\nsuspect_rate = nan\n",
                "simulator.suspect_rate = NaN",
            ),
            (
                "[simulator]\npulsa_min = 9000\npulsa_max = 8000\n",
                "simulator.pulsa_min = 9000",
            ),
            ("[simulator]\notp_ttl = \"0s\"\n", "simulator.otp_ttl = 0s"),
            ("[simulator]\nproducts = []\n", "simulator.products = []"),
            (
                "[[simulator.products]]\nid = \"A\"\nname = \"a\"\nprice = 1\n\
                 [[simulator.products]]\nid = \"A\"\nname = \"b\"\nprice = 2\n",
                "simulator.products[1].id = \"A\"",
            ),
            (
                "[[simulator.products]]\nid = \"A\"\nname = \"a\"\nprice = 0\n",
                "simulator.products[0].price = 0",
            ),
            (
                "[simulator]\nsms_forwarder_url = \"ftp://x\"\n",
                "simulator.sms_forwarder_url = \"ftp://x\"",
            ),
            (
                "[simulator.faults]\nlost_answer_rate = 2\n",
                "simulator.faults.lost_answer_rate = 2",
            ),
            (
                "[simulator.faults]\ndown_ports = [0]\n",
                "simulator.faults.down_ports = 0",
            ),
        ];
        for (toml, want) in cases {
            let err = error_for(toml);
            assert!(err.contains(want), "{toml:?}: {err}");
        }
    }

    #[test]
    fn the_answer_shapes_are_real_by_default_and_read_in_lowercase() {
        let cfg = Config::default();
        assert_eq!(cfg.simulator.shapes, AnswerShapes::Real);
        assert!(cfg.simulator.one_session);
        Jail::expect_with(|jail| {
            jail.create_file(
                "config.toml",
                "[simulator]\nshapes = \"mixed\"\none_session = false\n",
            )?;
            let cfg = load(None).unwrap();
            assert_eq!(cfg.simulator.shapes, AnswerShapes::Mixed);
            assert!(!cfg.simulator.one_session);
            jail.set_env("SIMROTOR_SIMULATOR__SHAPES", "legacy");
            assert_eq!(load(None).unwrap().simulator.shapes, AnswerShapes::Legacy);
            Ok(())
        });
        let err = error_for("[simulator]\nshapes = \"fake\"\n");
        assert!(err.contains("shapes") && err.contains("fake"), "{err}");
        assert_eq!("Legacy".parse(), Ok(AnswerShapes::Legacy));
        let err = "envelope".parse::<AnswerShapes>().unwrap_err();
        assert!(err.contains("real, legacy, mixed"), "{err}");
    }

    #[test]
    fn an_unknown_simulator_key_is_named() {
        let err = error_for("[simulator.faults]\nerorr_rate = 0.5\n");
        assert!(err.contains("erorr_rate"), "{err}");
    }

    #[test]
    fn the_environment_sets_nested_knobs_and_the_pin_prints_masked() {
        Jail::expect_with(|jail| {
            jail.set_env("SIMROTOR_SIMULATOR__FAULTS__ERROR_RATE", "0.25");
            jail.set_env("SIMROTOR_SIMULATOR__FAULTS__DOWN_PORTS", "[9903]");
            jail.set_env("SIMROTOR_SIMULATOR__PIN", "\"135790\"");
            let cfg = load(None).unwrap();
            assert_eq!(cfg.simulator.faults.error_rate, 0.25);
            assert_eq!(cfg.simulator.faults.down_ports, [9903]);
            assert_eq!(
                cfg.simulator.pin.as_ref().map(|p| p.0.expose()),
                Some("135790")
            );
            let shown = cfg.to_masked_toml();
            assert!(!shown.contains("135790"), "{shown}");
            assert!(shown.contains("[simulator.faults]"), "{shown}");
            assert!(format!("{cfg:?}").contains("Pin(****)"));
            Ok(())
        });
    }

    #[test]
    fn forwarding_is_native_with_the_number_by_default_and_takes_any_apps_name() {
        let cfg = Config::default();
        assert_eq!(cfg.simulator.forward_as, ForwardAs::Native);
        assert!(cfg.simulator.forward_number);
        assert!(!cfg.simulator.forward_duplicates && !cfg.simulator.forward_forgeries);
        assert!(cfg.simulator.forward_secret.is_none());
        for app in App::ALL {
            assert_eq!(app.name().parse(), Ok(ForwardAs::App(app)));
            assert_eq!(ForwardAs::App(app).path(), format!("/sms/{app}"));
        }
        assert_eq!(" Native ".parse(), Ok(ForwardAs::Native));
        assert_eq!(ForwardAs::Native.path(), "/sms");
        let err = "whatsapp".parse::<ForwardAs>().unwrap_err();
        assert!(err.contains("native, smsforwarder, capcom6"), "{err}");
        assert!(err.contains("whatsapp"), "{err}");
    }

    #[test]
    fn the_forward_knobs_are_read_and_the_secret_prints_masked() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "config.toml",
                "[simulator]\nforward_as = \"capcom6\"\nforward_number = false\n\
                 forward_duplicates = true\nforward_forgeries = true\n",
            )?;
            jail.set_env("SIMROTOR_SIMULATOR__FORWARD_SECRET", "\"sim-s3cret-value\"");
            let cfg = load(None).unwrap();
            let sim = &cfg.simulator;
            assert_eq!(sim.forward_as, ForwardAs::App(App::Capcom6));
            assert!(!sim.forward_number && sim.forward_duplicates && sim.forward_forgeries);
            assert_eq!(
                sim.forward_secret.as_ref().map(|s| s.expose()),
                Some("sim-s3cret-value")
            );
            let shown = cfg.to_masked_toml();
            assert!(!shown.contains("sim-s3cret-value"), "{shown}");
            assert!(shown.contains("forward_secret = \"****\""), "{shown}");
            assert!(shown.contains("forward_as = \"capcom6\""), "{shown}");
            assert!(!format!("{cfg:?}").contains("sim-s3cret-value"));
            Ok(())
        });
    }

    #[test]
    fn impossible_forward_knobs_name_the_key_and_never_the_secret() {
        let cases = [
            ("[simulator]\nforward_as = \"whatsapp\"\n", "forward_as"),
            (
                "[simulator]\nforward_secret = \" \"\n",
                "simulator.forward_secret = \"\"",
            ),
            (
                "[simulator]\nforward_forgeries = true\nforward_secret = \"hidden-value\"\n",
                "simulator.forward_forgeries = true",
            ),
            (
                "[simulator]\nforward_forgeries = true\nforward_as = \"textbee\"\n",
                "simulator.forward_secret",
            ),
        ];
        for (toml, want) in cases {
            let err = error_for(toml);
            assert!(err.contains(want), "{toml:?}: {err}");
            assert!(!err.contains("hidden-value"), "{err}");
        }
        assert!(error_for("[simulator]\nforward_as = \"whatsapp\"\n").contains("capcom6"));
    }
}

//! The shape of the configuration, with the documented defaults and the checks that no type
//! can express (port 0, min above max, an empty product list).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use simrotor_domain::Rupiah;

use crate::ConfigError;
pub use crate::masked::{AdminToken, ConfigPin, DatabaseUrl};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub database: DatabaseConfig,
    pub servers: ServersConfig,
    pub login: LoginConfig,
    pub products: ProductsConfig,
    pub otp: OtpConfig,
    pub sms: crate::SmsConfig,
    pub restart: RestartConfig,
    pub ownership: OwnershipConfig,
    pub logging: LoggingConfig,
    pub admin: AdminConfig,
    pub daemon: DaemonConfig,
    pub simulator: crate::SimulatorConfig,
}

/// How hard SQLite works to keep a commit through a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// Every commit waits for the disk: survives a power cut. The default: this is money.
    Full,
    /// Commits survive a crash of the process, not necessarily a power cut.
    Normal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://data/simrotor.db` (created when missing) or `postgres://user:pass@host/db`.
    pub url: DatabaseUrl,
    /// SQLite only.
    pub synchronous: Synchronous,
    /// SQLite only: how long a writer waits for the lock.
    #[serde(with = "humantime_serde")]
    pub busy_timeout: Duration,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: DatabaseUrl::new("sqlite://data/simrotor.db"),
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            max_connections: 4,
        }
    }
}

/// The server ports: a range `"9900-9919"` or an explicit list `[9900, 9905]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ports {
    Range(String),
    List(Vec<u16>),
}

impl Ports {
    /// The ports, in order; `key` names the setting in errors.
    pub fn resolve(&self, key: &str) -> Result<Vec<u16>, ConfigError> {
        let ports = match self {
            Ports::List(list) => list.clone(),
            Ports::Range(text) => {
                let bad = || {
                    ConfigError::invalid(
                        key,
                        format!("{text:?}"),
                        "expected FIRST-LAST, e.g. \"9900-9919\", or a list of ports",
                    )
                };
                let (a, b) = text.split_once('-').ok_or_else(bad)?;
                let a: u16 = a.trim().parse().map_err(|_| bad())?;
                let b: u16 = b.trim().parse().map_err(|_| bad())?;
                if a > b {
                    return Err(ConfigError::invalid(
                        key,
                        format!("{text:?}"),
                        "the range's first port is above its last",
                    ));
                }
                (a..=b).collect()
            }
        };
        if ports.is_empty() {
            return Err(ConfigError::invalid(
                key,
                "[]",
                "at least one server port is needed",
            ));
        }
        if ports.contains(&0) {
            return Err(ConfigError::invalid(key, 0, "port 0 is not a server port"));
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = ports.iter().find(|p| !seen.insert(**p)) {
            return Err(ConfigError::invalid(key, dup, "the port is listed twice"));
        }
        Ok(ports)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServersConfig {
    /// The host all servers listen on (the operator's are often on one LAN host).
    pub host: String,
    pub ports: Ports,
    /// Per call.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Retries of the calls that are safe to repeat (never the purchase).
    pub retries: u32,
    /// The pause between two calls to the same server.
    #[serde(with = "humantime_serde")]
    pub pacing: Duration,
    /// Per-server overrides, keyed by port: `[servers.overrides.9905]`.
    pub overrides: BTreeMap<String, ServerOverride>,
}

impl Default for ServersConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            ports: Ports::Range("9900-9919".to_owned()),
            timeout: Duration::from_secs(30),
            retries: 2,
            pacing: Duration::ZERO,
            overrides: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServerOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub pacing: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// One resource server as the runtime sees it: the defaults with its override applied. Kept
/// with the server's row, so a runtime that takes the server over reaches it the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSpec {
    pub port: u16,
    pub host: String,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    pub retries: u32,
    #[serde(with = "humantime_serde")]
    pub pacing: Duration,
    pub enabled: bool,
}

impl ServerSpec {
    /// `http://HOST:PORT`, the server's identity in the database.
    pub fn base_url(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    /// The PIN for accounts imported without one. Printed masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_pin: Option<ConfigPin>,
    /// Failed logins before an account is failed for good.
    pub max_attempts: u32,
}

impl Default for LoginConfig {
    fn default() -> Self {
        Self {
            default_pin: None,
            max_attempts: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProductsConfig {
    /// Product ids in order of preference: the first one the balance affords is bought.
    pub wanted: Vec<String>,
    /// The highest price accepted for a product (`limit_harga`), in rupiah.
    pub limit_harga: Rupiah,
    /// An optional pause between two purchases on one server.
    #[serde(with = "humantime_serde")]
    pub pause_between: Duration,
    /// The wait between `trx_idv`'s answer and the first status poll (none by default).
    #[serde(with = "humantime_serde")]
    pub status_poll_first: Duration,
    /// The wait after the first "processing" answer; doubles up to `status_poll_max`.
    #[serde(with = "humantime_serde")]
    pub status_poll_min: Duration,
    #[serde(with = "humantime_serde")]
    pub status_poll_max: Duration,
    /// A purchase still processing after this is suspect.
    #[serde(with = "humantime_serde")]
    pub status_deadline: Duration,
}

impl Default for ProductsConfig {
    fn default() -> Self {
        Self {
            wanted: vec!["650".to_owned(), "647".to_owned(), "646".to_owned()],
            limit_harga: Rupiah::new(100_000),
            pause_between: Duration::ZERO,
            status_poll_first: Duration::ZERO,
            status_poll_min: Duration::from_millis(25),
            status_poll_max: Duration::from_secs(5),
            status_deadline: Duration::from_secs(300),
        }
    }
}

/// Who may deliver OTPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OtpSource {
    /// Typed in by the operator.
    Operator,
    /// Posted by an SMS forwarder.
    Forwarder,
    /// Whichever comes first.
    Both,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtpConfig {
    pub source: OtpSource,
    /// A binding that got no OTP by then fails; its number goes back to the pool.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// The patterns that find the code in a forwarded SMS, tried in order: each one's first
    /// group is a candidate, skipped when it is an amount, a date or a piece of a longer number
    /// (`simrotor_sms::code`).
    pub patterns: Vec<String>,
    /// Wrong codes before the binding fails (each wrong code requests a fresh OTP).
    pub max_wrong: u32,
    /// The transaction OTP on the first purchase of a number on a new device. Off by default,
    /// as the owner asked.
    pub transaction_otp: bool,
}

impl Default for OtpConfig {
    fn default() -> Self {
        Self {
            source: OtpSource::Both,
            timeout: Duration::from_secs(300),
            patterns: simrotor_sms::code::DEFAULT_PATTERNS
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
            max_wrong: 3,
            transaction_otp: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestartConfig {
    #[serde(with = "humantime_serde")]
    pub backoff_min: Duration,
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    /// More restarts than this within `window` and the server is `FAULTED`.
    pub max_restarts: u32,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
}

impl Default for RestartConfig {
    fn default() -> Self {
        Self {
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            max_restarts: 5,
            window: Duration::from_secs(600),
        }
    }
}

/// Who drives which server when several runtimes share one database: each server is a lease
/// in the database, renewed on a heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OwnershipConfig {
    /// This runtime's name among those on the database (`simrotor status` lists them); two
    /// live runtimes of one name are refused. Empty: the host's name.
    pub name: String,
    /// How often the leases are renewed.
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
    /// How long a lease lasts unless renewed; a runtime stops calling a server once it has not
    /// renewed it for `expiry - heartbeat`, before anyone else may take it.
    #[serde(with = "humantime_serde")]
    pub expiry: Duration,
    /// Also take over servers of other runtimes whose lease expired (that runtime died, hangs
    /// or lost the database), not only this runtime's own `[servers]`.
    pub takeover: bool,
}

impl Default for OwnershipConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            heartbeat: Duration::from_secs(2),
            expiry: Duration::from_secs(10),
            takeover: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// The level of the human log on stderr; `RUST_LOG` overrides it.
    pub level: String,
    /// Where the JSON audit files go.
    pub dir: PathBuf,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            dir: PathBuf::from("data/logs"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Where the running runtime serves its admin API, `IP:PORT`; the CLI verbs dial it too.
    pub listen: String,
    /// The bearer token every request must carry. Required when `listen` is not loopback.
    pub token: Option<AdminToken>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9800".to_owned(),
            token: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// `simrotor start`: where the pidfile and the runtime's stdout/stderr files go.
    pub dir: PathBuf,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("data"),
        }
    }
}

fn ordered(min_key: &str, min: Duration, max_key: &str, max: Duration) -> Result<(), ConfigError> {
    if min > max {
        return Err(ConfigError::invalid(
            min_key,
            humantime::format_duration(min),
            &format!(
                "it is above {max_key} = {}",
                humantime::format_duration(max)
            ),
        ));
    }
    Ok(())
}

fn positive(key: &str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::invalid(key, "0s", "must be longer than zero"));
    }
    Ok(())
}

impl Config {
    /// The checks no type expresses. Each error names the key and the value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let db = self.database.url.expose();
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(ConfigError::invalid(
                "database.url",
                self.database.url.masked(),
                "expected sqlite://… or postgres://…",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::invalid(
                "database.max_connections",
                0,
                "at least one connection is needed",
            ));
        }
        if self.servers.host.trim().is_empty() {
            return Err(ConfigError::invalid(
                "servers.host",
                "\"\"",
                "a host is needed",
            ));
        }
        positive("servers.timeout", self.servers.timeout)?;
        self.server_specs()?;
        if self.login.max_attempts == 0 {
            return Err(ConfigError::invalid(
                "login.max_attempts",
                0,
                "at least one attempt is needed",
            ));
        }
        if self.products.wanted.is_empty() {
            return Err(ConfigError::invalid(
                "products.wanted",
                "[]",
                "name at least one product id",
            ));
        }
        if let Some(blank) = self
            .products
            .wanted
            .iter()
            .position(|p| p.trim().is_empty())
        {
            return Err(ConfigError::invalid(
                format!("products.wanted[{blank}]"),
                "\"\"",
                "a product id cannot be blank",
            ));
        }
        if self.products.limit_harga == Rupiah::ZERO {
            return Err(ConfigError::invalid(
                "products.limit_harga",
                0,
                "must be above zero",
            ));
        }
        positive("products.status_poll_min", self.products.status_poll_min)?;
        ordered(
            "products.status_poll_min",
            self.products.status_poll_min,
            "products.status_poll_max",
            self.products.status_poll_max,
        )?;
        positive("products.status_deadline", self.products.status_deadline)?;
        positive("otp.timeout", self.otp.timeout)?;
        match self.admin.listen.parse::<std::net::SocketAddr>() {
            Err(_) => {
                return Err(ConfigError::invalid(
                    "admin.listen",
                    format!("{:?}", self.admin.listen),
                    "expected IP:PORT, e.g. 127.0.0.1:9800",
                ));
            }
            Ok(addr) if addr.port() == 0 => {
                return Err(ConfigError::invalid(
                    "admin.listen",
                    format!("{:?}", self.admin.listen),
                    "the CLI must know the port: name one (port 0 is for tests through --admin)",
                ));
            }
            Ok(addr) if !addr.ip().is_loopback() && self.admin.token.is_none() => {
                return Err(ConfigError::invalid(
                    "admin.listen",
                    format!("{:?}", self.admin.listen),
                    "an admin API beyond loopback needs admin.token (or SIMROTOR_ADMIN__TOKEN)",
                ));
            }
            Ok(_) => {}
        }
        if self.otp.max_wrong == 0 {
            return Err(ConfigError::invalid(
                "otp.max_wrong",
                0,
                "at least one try is needed",
            ));
        }
        if let Err(e) = simrotor_sms::code::CodeFinder::new(&self.otp.patterns) {
            use simrotor_sms::code::PatternError;
            let (value, reason) = match &e {
                PatternError::Empty => {
                    ("[]".to_owned(), "at least one pattern is needed".to_owned())
                }
                PatternError::Invalid {
                    pattern, source, ..
                } => (format!("{pattern:?}"), source.to_string()),
                PatternError::NoGroup { pattern, .. } => (
                    format!("{pattern:?}"),
                    "needs a capturing group ( … ) around the code".to_owned(),
                ),
            };
            return Err(ConfigError::invalid(e.key(), value, &reason));
        }
        positive("restart.backoff_min", self.restart.backoff_min)?;
        ordered(
            "restart.backoff_min",
            self.restart.backoff_min,
            "restart.backoff_max",
            self.restart.backoff_max,
        )?;
        positive("restart.window", self.restart.window)?;
        positive("ownership.heartbeat", self.ownership.heartbeat)?;
        if self.ownership.expiry < self.ownership.heartbeat * 2 {
            return Err(ConfigError::invalid(
                "ownership.expiry",
                humantime::format_duration(self.ownership.expiry),
                &format!(
                    "must be at least twice ownership.heartbeat ({}), or every late heartbeat \
                     loses the servers",
                    humantime::format_duration(self.ownership.heartbeat)
                ),
            ));
        }
        self.sms.validate()?;
        self.simulator.validate()?;
        Ok(())
    }

    /// Every configured server, with its override applied, in port order.
    pub fn server_specs(&self) -> Result<Vec<ServerSpec>, ConfigError> {
        let ports = self.servers.ports.resolve("servers.ports")?;
        for key in self.servers.overrides.keys() {
            let port: u16 = key.parse().map_err(|_| {
                ConfigError::invalid(
                    format!("servers.overrides.{key}"),
                    key,
                    "an override is keyed by a port number",
                )
            })?;
            if !ports.contains(&port) {
                return Err(ConfigError::invalid(
                    format!("servers.overrides.{key}"),
                    key,
                    "no server has this port (see servers.ports)",
                ));
            }
        }
        let mut specs = Vec::with_capacity(ports.len());
        for port in ports {
            let o = self
                .servers
                .overrides
                .get(&port.to_string())
                .cloned()
                .unwrap_or_default();
            let spec = ServerSpec {
                port,
                host: o.host.unwrap_or_else(|| self.servers.host.clone()),
                timeout: o.timeout.unwrap_or(self.servers.timeout),
                retries: o.retries.unwrap_or(self.servers.retries),
                pacing: o.pacing.unwrap_or(self.servers.pacing),
                enabled: o.enabled.unwrap_or(true),
            };
            positive(&format!("servers.overrides.{port}.timeout"), spec.timeout)?;
            specs.push(spec);
        }
        Ok(specs)
    }

    /// The effective configuration as TOML, secrets masked: what `config check` prints.
    pub fn to_masked_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

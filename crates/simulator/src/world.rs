//! The simulated telco and its servers, without HTTP: who is logged in where, each number's
//! pulsa and device history, the purchases, the ledger and the SMS inbox.
//!
//! One `World` serves every port, because a number may move between servers and its pulsa must
//! follow it; each port has its own slot (the number it holds, its tokens, its device id). Every
//! call is a synchronous step under one lock taking `now` from outside, so the rules (expiry,
//! debit, polls) are tested here without sockets or sleeps, and a debit and its ledger entry can
//! never be seen apart.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Days, SubsecRound, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use simrotor_config::{SimProduct, SimulatorConfig};
use simrotor_domain::{Email, Msisdn, Pin, Rupiah};

use crate::faults::Draw;
use crate::profile::{NumberProfile, device_id};
use crate::sms::{self, Sms};

/// One executed purchase: what the server really did, for tests to hold a database against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub trx_id: String,
    pub t_id: String,
    pub msisdn: Msisdn,
    /// The server's port.
    pub port: u16,
    pub device_id: String,
    pub product_id: String,
    pub price: Rupiah,
    pub email: String,
    pub pulsa_before: Rupiah,
    pub pulsa_after: Rupiah,
    /// `None`: the purchase finishes without a voucher (suspect).
    pub voucher: Option<String>,
    /// The caller never got the answer to `trx_idv` (the connection was closed after the debit).
    pub answer_lost: bool,
    pub executed_at: DateTime<Utc>,
}

/// The calls of the slot API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    Otp,
    VerifyOtp,
    Balance,
    TokenLocation,
    ListIdv,
    TrxIdv,
    OtpIdv,
    StatusIdv,
    Logout,
}

impl Call {
    pub(crate) fn from_path(path: &str) -> Option<Self> {
        Some(match path {
            "/otp" => Self::Otp,
            "/verifyOtp" => Self::VerifyOtp,
            "/balance_pulsa" => Self::Balance,
            "/token_location3" => Self::TokenLocation,
            "/list_idv" => Self::ListIdv,
            "/trx_idv" => Self::TrxIdv,
            "/otp_idv" => Self::OtpIdv,
            "/status_idv" => Self::StatusIdv,
            "/logout" => Self::Logout,
            _ => return None,
        })
    }
}

/// What `trx_idv` asks for.
#[derive(Debug, Clone, Copy)]
struct Order<'a> {
    product_id: &'a str,
    email: &'a str,
    limit: Rupiah,
}

/// The query of a call, first value of each name kept.
#[derive(Debug, Default)]
pub(crate) struct Params(pub BTreeMap<String, String>);

impl Params {
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            map.entry(k).or_insert(v);
        }
        Self(map)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// The query as the envelope's `req` echoes it, secrets masked.
    pub(crate) fn echo(&self) -> Value {
        let map = self
            .0
            .iter()
            .map(|(k, v)| {
                let shown = if matches!(k.as_str(), "pin" | "otp") {
                    "****".to_owned()
                } else {
                    v.clone()
                };
                (k.clone(), Value::String(shown))
            })
            .collect();
        Value::Object(map)
    }
}

/// What the server answers: a JSON `res` (wrapped in the envelope by the HTTP layer) or text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    Json { http: u16, res: Value },
    Text(String),
}

#[derive(Debug)]
pub(crate) struct Outcome {
    pub reply: Reply,
    /// An SMS the call sent, to forward.
    pub sms: Option<Sms>,
    /// The call debited pulsa (a purchase executed now).
    pub purchased: bool,
}

impl Outcome {
    fn answer(http: u16, res: Value) -> Self {
        Self {
            reply: Reply::Json { http, res },
            sms: None,
            purchased: false,
        }
    }
}

fn ok(message: &str, data: Option<Value>) -> Value {
    let mut res = json!({"status": "0", "code": "200", "message": message});
    if let Some(data) = data {
        res["data"] = data;
    }
    res
}

fn refusal(code: &str, message: impl Into<String>) -> Value {
    json!({"status": "1", "code": code, "message": message.into()})
}

fn bad_request(message: impl Into<String>) -> Outcome {
    Outcome::answer(400, refusal("400", message))
}

/// The telco's answer when a number that is not a reseller opens the reseller pages.
fn not_reseller() -> Value {
    json!({
        "status": "401",
        "status_msg": "Unauthorized",
        "message": "Anda bukan Reseller, tidak diperkenankan mengakses halaman ini",
    })
}

fn token_expired() -> Value {
    refusal(
        "401",
        "Sesi tidak berlaku (token expired), silakan login kembali",
    )
}

/// An OTP the telco waits for. `SecretString`: never in a Debug print.
#[derive(Debug, Clone)]
struct Code {
    code: SecretString,
    expires_at: Instant,
}

impl Code {
    fn matches(&self, given: &str) -> bool {
        self.code.expose_secret() == given
    }
}

#[derive(Debug, Clone)]
struct Login {
    token_location: SecretString,
    expires_at: Instant,
}

#[derive(Debug)]
struct Session {
    msisdn: Msisdn,
    otp: Option<Code>,
    login: Option<Login>,
}

#[derive(Debug)]
struct Slot {
    device_id: String,
    session: Option<Session>,
}

#[derive(Debug)]
struct Number {
    profile: NumberProfile,
    pulsa: Rupiah,
    /// The PIN learnt from the first `/otp` when no PIN is configured. `Pin` never prints.
    pin: Option<Pin>,
    devices: HashSet<String>,
}

#[derive(Debug)]
enum TrxState {
    /// Accepted and executed within the same call; never seen by a status poll.
    Accepted,
    AwaitingOtp(Code),
    Executed {
        voucher: Option<String>,
        polls: u32,
    },
    Failed(String),
}

#[derive(Debug)]
struct Trx {
    trx_id: String,
    t_id: String,
    msisdn: Msisdn,
    port: u16,
    product: SimProduct,
    email: String,
    state: TrxState,
    created: u64,
}

impl Trx {
    fn data(&self, is_success: u8) -> Value {
        json!({"trx_id": self.trx_id, "t_id": self.t_id, "is_success": is_success})
    }
}

/// An SMS and the code it carries, for the handle's `latest_otp`.
#[derive(Debug)]
struct Delivered {
    sms: Sms,
    code: SecretString,
}

#[derive(Debug)]
pub(crate) struct World {
    config: SimulatorConfig,
    rng: StdRng,
    /// Trx ids start with the start time, so two runs never reuse one in the same database.
    trx_prefix: String,
    next_trx: u64,
    numbers: HashMap<Msisdn, Number>,
    slots: HashMap<u16, Slot>,
    trxs: HashMap<String, Trx>,
    ledger: Vec<LedgerEntry>,
    inbox: Vec<Delivered>,
}

const VOUCHER_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

impl World {
    pub(crate) fn new(config: SimulatorConfig, started: DateTime<Utc>) -> Self {
        Self {
            rng: StdRng::seed_from_u64(config.seed),
            config,
            trx_prefix: started.format("IDV%y%m%d%H%M%S").to_string(),
            next_trx: 0,
            numbers: HashMap::new(),
            slots: HashMap::new(),
            trxs: HashMap::new(),
            ledger: Vec::new(),
            inbox: Vec::new(),
        }
    }

    /// The faults of the next call.
    pub(crate) fn draw_faults(&mut self) -> Draw {
        Draw::new(&mut self.rng, &self.config.faults)
    }

    /// Registers a served port, so its device id is known before the first call.
    pub(crate) fn add_port(&mut self, port: u16) {
        self.slot(port);
    }

    /// The server on `port` went down: it forgets whom it held, as a restarted machine would.
    pub(crate) fn reset_port(&mut self, port: u16) {
        if let Some(slot) = self.slots.get_mut(&port) {
            slot.session = None;
        }
    }

    pub(crate) fn device_id(&self, port: u16) -> Option<String> {
        self.slots.get(&port).map(|s| s.device_id.clone())
    }

    pub(crate) fn ledger(&self) -> Vec<LedgerEntry> {
        self.ledger.clone()
    }

    /// Every SMS, latest first; only those of `msisdn` when given.
    pub(crate) fn sms(&self, msisdn: Option<&Msisdn>) -> Vec<Sms> {
        self.inbox
            .iter()
            .rev()
            .filter(|d| msisdn.is_none_or(|m| &d.sms.msisdn == m))
            .map(|d| d.sms.clone())
            .collect()
    }

    pub(crate) fn latest_code(&self, msisdn: &Msisdn) -> Option<String> {
        self.inbox
            .iter()
            .rev()
            .find(|d| &d.sms.msisdn == msisdn)
            .map(|d| d.code.expose_secret().to_owned())
    }

    pub(crate) fn profile(&self, msisdn: &Msisdn) -> NumberProfile {
        match self.numbers.get(msisdn) {
            Some(n) => n.profile.clone(),
            None => NumberProfile::derive(&self.config, msisdn),
        }
    }

    pub(crate) fn pulsa(&self, msisdn: &Msisdn) -> Rupiah {
        match self.numbers.get(msisdn) {
            Some(n) => n.pulsa,
            None => NumberProfile::derive(&self.config, msisdn).starting_pulsa,
        }
    }

    fn number(&mut self, msisdn: &Msisdn) -> &mut Number {
        let config = &self.config;
        self.numbers.entry(msisdn.clone()).or_insert_with(|| {
            let profile = NumberProfile::derive(config, msisdn);
            Number {
                pulsa: profile.starting_pulsa,
                profile,
                pin: None,
                devices: HashSet::new(),
            }
        })
    }

    fn slot(&mut self, port: u16) -> &mut Slot {
        let seed = self.config.seed;
        self.slots.entry(port).or_insert_with(|| Slot {
            device_id: device_id(seed, port),
            session: None,
        })
    }

    fn code(&mut self, digits: u32) -> String {
        let n = self.rng.random_range(0..10u64.pow(digits));
        format!("{n:0width$}", width = digits as usize)
    }

    fn token(&mut self) -> String {
        format!("{:032x}", self.rng.random::<u128>())
    }

    fn send_sms(
        &mut self,
        msisdn: &Msisdn,
        message: String,
        code: String,
        wall: DateTime<Utc>,
    ) -> Sms {
        let sms = Sms {
            msisdn: msisdn.clone(),
            message,
            received_at: wall.trunc_subsecs(0),
        };
        tracing::info!(msisdn = %msisdn, "The simulated telco sent an OTP by SMS.");
        self.inbox.push(Delivered {
            sms: sms.clone(),
            code: code.into(),
        });
        sms
    }

    /// Runs one call on the server at `port`. `lose_answer`: when the call executes a purchase,
    /// the ledger records that its answer will not reach the caller.
    pub(crate) fn call(
        &mut self,
        port: u16,
        call: Call,
        params: &Params,
        now: Instant,
        wall: DateTime<Utc>,
        lose_answer: bool,
    ) -> Outcome {
        let Some(username) = params.get("username") else {
            return bad_request("Parameter username wajib diisi");
        };
        let Ok(msisdn) = Msisdn::parse(username) else {
            return bad_request(format!("Nomor tidak valid: {username}"));
        };
        match call {
            Call::Otp => self.otp(port, &msisdn, params, now, wall),
            Call::VerifyOtp => self.verify_otp(port, &msisdn, params, now),
            Call::Balance => self.logged_in(port, &msisdn, now, |w, _| w.balance(&msisdn, wall)),
            Call::TokenLocation => self.logged_in(port, &msisdn, now, |_, login| Outcome {
                reply: Reply::Text(login.token_location.expose_secret().to_owned()),
                sms: None,
                purchased: false,
            }),
            Call::ListIdv => self.logged_in(port, &msisdn, now, |w, _| w.list_idv(port, &msisdn)),
            Call::TrxIdv => self.trx_idv(port, &msisdn, params, now, wall, lose_answer),
            Call::OtpIdv => self.otp_idv(port, &msisdn, params, now, wall),
            Call::StatusIdv => self.status_idv(port, &msisdn, params, now),
            Call::Logout => self.logged_in(port, &msisdn, now, |w, _| {
                w.slot(port).session = None;
                tracing::info!(msisdn = %msisdn, port, "A number logged out of a simulated server.");
                Outcome::answer(200, ok("Logout berhasil", None))
            }),
        }
    }

    /// Runs `then` when `msisdn` holds a valid login on `port`; "token expired" otherwise.
    fn logged_in(
        &mut self,
        port: u16,
        msisdn: &Msisdn,
        now: Instant,
        then: impl FnOnce(&mut Self, &Login) -> Outcome,
    ) -> Outcome {
        let login = self.slot(port).session.as_mut().and_then(|s| {
            if &s.msisdn != msisdn {
                return None;
            }
            let login = s.login.as_ref()?;
            (now <= login.expires_at).then(|| login.clone())
        });
        match login {
            Some(login) => then(self, &login),
            None => Outcome::answer(200, token_expired()),
        }
    }

    fn otp(
        &mut self,
        port: u16,
        msisdn: &Msisdn,
        params: &Params,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Outcome {
        let Some(pin) = params.get("pin") else {
            return bad_request("Parameter pin wajib diisi");
        };
        let configured = self.config.pin.as_ref().map(|p| p.0.clone());
        let number = self.number(msisdn);
        if number.profile.blocked {
            return Outcome::answer(
                200,
                refusal(
                    "403",
                    "Nomor Anda diblokir, silakan hubungi layanan pelanggan",
                ),
            );
        }
        let Ok(pin) = Pin::parse(pin) else {
            return Outcome::answer(200, refusal("401", "PIN salah"));
        };
        match configured.as_ref().or(number.pin.as_ref()) {
            Some(expected) if *expected != pin => {
                return Outcome::answer(200, refusal("401", "PIN salah"));
            }
            Some(_) => {}
            None => number.pin = Some(pin),
        }
        let code = self.code(6);
        let expires_at = now + self.config.otp_ttl;
        self.slot(port).session = Some(Session {
            msisdn: msisdn.clone(),
            otp: Some(Code {
                code: code.clone().into(),
                expires_at,
            }),
            login: None,
        });
        let sms = self.send_sms(msisdn, sms::login_text(&code), code, wall);
        Outcome {
            reply: Reply::Json {
                http: 200,
                res: ok("Kode OTP telah dikirim ke nomor Anda", None),
            },
            sms: Some(sms),
            purchased: false,
        }
    }

    fn verify_otp(&mut self, port: u16, msisdn: &Msisdn, params: &Params, now: Instant) -> Outcome {
        let Some(given) = params.get("otp") else {
            return bad_request("Parameter otp wajib diisi");
        };
        let pending = self
            .slot(port)
            .session
            .as_ref()
            .filter(|s| &s.msisdn == msisdn)
            .and_then(|s| s.otp.clone());
        let Some(pending) = pending else {
            return Outcome::answer(
                200,
                refusal("401", "Silakan minta kode OTP terlebih dahulu"),
            );
        };
        if now > pending.expires_at {
            return Outcome::answer(
                200,
                refusal("401", "Kode OTP kadaluarsa, silakan minta kode baru"),
            );
        }
        if !pending.matches(given) {
            return Outcome::answer(200, refusal("401", "Kode OTP salah"));
        }
        let token_login = self.token();
        let token_location = format!("{}{}", self.token(), self.token());
        let expires_at = now + self.config.token_ttl;
        if let Some(session) = self.slot(port).session.as_mut() {
            session.otp = None;
            session.login = Some(Login {
                token_location: token_location.into(),
                expires_at,
            });
        }
        tracing::info!(msisdn = %msisdn, port, "A number logged in to a simulated server.");
        Outcome::answer(
            200,
            ok("Login berhasil", Some(json!({"token_login": token_login}))),
        )
    }

    fn balance(&mut self, msisdn: &Msisdn, wall: DateTime<Utc>) -> Outcome {
        let number = self.number(msisdn);
        let today = wall.date_naive();
        let active = today
            .checked_add_days(Days::new(u64::from(number.profile.active_days)))
            .unwrap_or(today);
        let grace = active.checked_add_days(Days::new(60)).unwrap_or(active);
        // The shape seen from the operator's servers: no status, only these four fields.
        Outcome::answer(
            200,
            json!({
                "cardactiveuntil": active.format("%d %b %Y").to_string(),
                "balance": number.pulsa.get().to_string(),
                "graceperioduntil": grace.format("%d %b %Y").to_string(),
                "expires": format!("Berlaku hingga {}", active.format("%d %b %y")),
            }),
        )
    }

    fn list_idv(&mut self, port: u16, msisdn: &Msisdn) -> Outcome {
        if !self.number(msisdn).profile.reseller {
            return Outcome::answer(200, not_reseller());
        }
        let products: Vec<Value> = self
            .config
            .products
            .iter()
            .map(|p| json!({"product_id": p.id, "name": p.name, "price": p.price.get()}))
            .collect();
        let device_id = self.slot(port).device_id.clone();
        Outcome::answer(
            200,
            ok(
                "Sukses",
                Some(json!({"products": products, "identifier": {"device_id": device_id}})),
            ),
        )
    }

    fn trx_idv(
        &mut self,
        port: u16,
        msisdn: &Msisdn,
        params: &Params,
        now: Instant,
        wall: DateTime<Utc>,
        lose_answer: bool,
    ) -> Outcome {
        let (Some(product_id), Some(email), Some(limit)) = (
            params.get("product_id"),
            params.get("email"),
            params.get("limit_harga"),
        ) else {
            return bad_request("Parameter product_id, email dan limit_harga wajib diisi");
        };
        let Ok(limit) = Rupiah::parse_lenient(limit) else {
            return bad_request(format!("limit_harga tidak valid: {limit}"));
        };
        let Ok(email) = Email::parse(email) else {
            return bad_request(format!("Email tidak valid: {email}"));
        };
        let order = Order {
            product_id,
            email: email.as_str(),
            limit,
        };
        self.logged_in(port, msisdn, now, |w, _| {
            w.purchase(port, msisdn, order, now, wall, lose_answer)
        })
    }

    fn purchase(
        &mut self,
        port: u16,
        msisdn: &Msisdn,
        order: Order<'_>,
        now: Instant,
        wall: DateTime<Utc>,
        lose_answer: bool,
    ) -> Outcome {
        let Order {
            product_id,
            email,
            limit,
        } = order;
        let transaction_otp = self.config.transaction_otp;
        let otp_ttl = self.config.otp_ttl;
        let Some(product) = self
            .config
            .products
            .iter()
            .find(|p| p.id == product_id)
            .cloned()
        else {
            return Outcome::answer(
                200,
                refusal("404", format!("Produk {product_id} tidak ditemukan")),
            );
        };
        let device_id = self.slot(port).device_id.clone();
        let number = self.number(msisdn);
        if !number.profile.reseller {
            return Outcome::answer(200, not_reseller());
        }
        if product.price > limit {
            return Outcome::answer(
                200,
                refusal(
                    "409",
                    format!(
                        "Transaksi gagal: harga produk {} melebihi limit_harga {}",
                        product.price, limit
                    ),
                ),
            );
        }
        if number.pulsa < product.price {
            return Outcome::answer(
                200,
                refusal(
                    "402",
                    format!(
                        "Transaksi gagal: pulsa tidak cukup (sisa {}, harga {})",
                        number.pulsa, product.price
                    ),
                ),
            );
        }
        let needs_otp = transaction_otp && !number.devices.contains(&device_id);
        self.next_trx += 1;
        let created = self.next_trx;
        let trx_id = format!("{}{:06}", self.trx_prefix, created);
        let t_id = self
            .rng
            .random_range(100_000_000..1_000_000_000u64)
            .to_string();
        let otp = needs_otp.then(|| self.code(6));
        let state = match &otp {
            Some(code) => TrxState::AwaitingOtp(Code {
                code: code.clone().into(),
                expires_at: now + otp_ttl,
            }),
            None => TrxState::Accepted,
        };
        let trx = Trx {
            trx_id: trx_id.clone(),
            t_id,
            msisdn: msisdn.clone(),
            port,
            product,
            email: email.to_owned(),
            state,
            created,
        };
        let data = trx.data(1);
        self.trxs.insert(trx_id.clone(), trx);
        if let Some(code) = otp {
            let sms = self.send_sms(msisdn, sms::transaction_text(&code), code, wall);
            return Outcome {
                reply: Reply::Json {
                    http: 200,
                    res: ok(
                        "Transaksi menunggu OTP, kode telah dikirim ke nomor Anda",
                        Some(data),
                    ),
                },
                sms: Some(sms),
                purchased: false,
            };
        }
        if let Err(res) = self.execute(&trx_id, &device_id, wall, lose_answer) {
            return Outcome::answer(200, res);
        }
        Outcome {
            reply: Reply::Json {
                http: 200,
                res: ok("Transaksi sedang diproses", Some(data)),
            },
            sms: None,
            purchased: true,
        }
    }

    /// Debits the number and writes the ledger entry, or fails the purchase if the pulsa no
    /// longer covers it (it may have been spent elsewhere while an OTP was awaited).
    fn execute(
        &mut self,
        trx_id: &str,
        device_id: &str,
        wall: DateTime<Utc>,
        answer_lost: bool,
    ) -> Result<(), Value> {
        let suspect = self.rng.random_bool(self.config.suspect_rate);
        let voucher = (!suspect).then(|| self.voucher());
        let Some(trx) = self.trxs.get(trx_id) else {
            return Err(refusal("404", "Transaksi tidak ditemukan"));
        };
        let (msisdn, price) = (trx.msisdn.clone(), trx.product.price);
        let number = self.number(&msisdn);
        let before = number.pulsa;
        let Some(after) = before.checked_sub(price) else {
            let message =
                format!("Transaksi gagal: pulsa tidak cukup (sisa {before}, harga {price})");
            if let Some(trx) = self.trxs.get_mut(trx_id) {
                trx.state = TrxState::Failed(message.clone());
            }
            return Err(refusal("402", message));
        };
        number.pulsa = after;
        number.devices.insert(device_id.to_owned());
        let Some(trx) = self.trxs.get_mut(trx_id) else {
            return Err(refusal("404", "Transaksi tidak ditemukan"));
        };
        trx.state = TrxState::Executed {
            voucher: voucher.clone(),
            polls: 0,
        };
        tracing::info!(
            msisdn = %msisdn,
            port = trx.port,
            trx_id,
            product = %trx.product.id,
            price = price.get(),
            pulsa_after = after.get(),
            suspect,
            answer_lost,
            "A simulated server executed a purchase."
        );
        self.ledger.push(LedgerEntry {
            trx_id: trx.trx_id.clone(),
            t_id: trx.t_id.clone(),
            msisdn,
            port: trx.port,
            device_id: device_id.to_owned(),
            product_id: trx.product.id.clone(),
            price,
            email: trx.email.clone(),
            pulsa_before: before,
            pulsa_after: after,
            voucher,
            answer_lost,
            executed_at: wall,
        });
        Ok(())
    }

    fn voucher(&mut self) -> String {
        let mut out = String::from("VC");
        for _ in 0..3 {
            out.push('-');
            for _ in 0..4 {
                let i = self.rng.random_range(0..VOUCHER_ALPHABET.len());
                out.push(char::from(VOUCHER_ALPHABET[i]));
            }
        }
        out
    }

    fn otp_idv(
        &mut self,
        port: u16,
        msisdn: &Msisdn,
        params: &Params,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Outcome {
        let Some(given) = params.get("otp").map(str::to_owned) else {
            return bad_request("Parameter otp wajib diisi");
        };
        self.logged_in(port, msisdn, now, |w, _| {
            // The latest purchase of this number on this server that waits for its OTP.
            let waiting = w
                .trxs
                .values()
                .filter(|t| {
                    &t.msisdn == msisdn
                        && t.port == port
                        && matches!(t.state, TrxState::AwaitingOtp(_))
                })
                .max_by_key(|t| t.created)
                .map(|t| (t.trx_id.clone(), t.data(1), t.awaiting_code()));
            let Some((trx_id, data, Some(pending))) = waiting else {
                return Outcome::answer(
                    200,
                    refusal("404", "Tidak ada transaksi yang menunggu OTP"),
                );
            };
            if now > pending.expires_at {
                return Outcome::answer(
                    200,
                    refusal("401", "Kode OTP kadaluarsa, silakan ulangi transaksi"),
                );
            }
            if !pending.matches(&given) {
                return Outcome::answer(200, refusal("401", "Kode OTP salah"));
            }
            let device_id = w.slot(port).device_id.clone();
            match w.execute(&trx_id, &device_id, wall, false) {
                Ok(()) => Outcome {
                    reply: Reply::Json {
                        http: 200,
                        res: ok("OTP transaksi benar, transaksi sedang diproses", Some(data)),
                    },
                    sms: None,
                    purchased: true,
                },
                Err(res) => Outcome::answer(200, res),
            }
        })
    }

    fn status_idv(&mut self, port: u16, msisdn: &Msisdn, params: &Params, now: Instant) -> Outcome {
        let Some(trx_id) = params.get("trx_id").map(str::to_owned) else {
            return bad_request("Parameter trx_id wajib diisi");
        };
        let status_polls = self.config.status_polls;
        self.logged_in(port, msisdn, now, |w, _| {
            let Some(trx) = w.trxs.get_mut(&trx_id).filter(|t| &t.msisdn == msisdn) else {
                return Outcome::answer(200, refusal("404", "Transaksi tidak ditemukan"));
            };
            let (trx_id, t_id) = (trx.trx_id.clone(), trx.t_id.clone());
            let res = match &mut trx.state {
                TrxState::Accepted | TrxState::AwaitingOtp(_) => ok(
                    "Transaksi menunggu OTP",
                    Some(json!({"trx_id": trx_id, "t_id": t_id, "is_success": 1})),
                ),
                TrxState::Failed(message) => {
                    let mut res = refusal("402", message.clone());
                    res["data"] = json!({"trx_id": trx_id, "t_id": t_id, "is_success": 3});
                    res
                }
                TrxState::Executed { voucher, polls } => {
                    *polls = polls.saturating_add(1);
                    if *polls <= status_polls {
                        ok(
                            "Transaksi sedang diproses",
                            Some(json!({"trx_id": trx_id, "t_id": t_id, "is_success": 1})),
                        )
                    } else {
                        let message = if voucher.is_some() {
                            "Transaksi berhasil"
                        } else {
                            "Transaksi selesai"
                        };
                        ok(
                            message,
                            Some(json!({
                                "trx_id": trx_id,
                                "t_id": t_id,
                                "is_success": 2,
                                "voucher": voucher,
                            })),
                        )
                    }
                }
            };
            Outcome::answer(200, res)
        })
    }
}

impl Trx {
    fn awaiting_code(&self) -> Option<Code> {
        match &self.state {
            TrxState::AwaitingOtp(code) => Some(code.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails
mod tests {
    use std::time::Duration;

    use super::*;

    const PORT: u16 = 9900;

    fn config() -> SimulatorConfig {
        SimulatorConfig {
            pulsa_min: Rupiah::new(27_000),
            pulsa_max: Rupiah::new(27_000),
            reseller_rate: 1.0,
            blocked_rate: 0.0,
            ..SimulatorConfig::default()
        }
    }

    struct Bench {
        world: World,
        now: Instant,
        msisdn: Msisdn,
    }

    impl Bench {
        fn new(config: SimulatorConfig) -> Self {
            let mut world = World::new(config, Utc::now());
            world.add_port(PORT);
            Self {
                world,
                now: Instant::now(),
                msisdn: Msisdn::parse("081234567890").unwrap(),
            }
        }

        fn call(&mut self, call: Call, pairs: &[(&str, &str)]) -> Outcome {
            let mut all = vec![("username".to_owned(), self.msisdn.local())];
            all.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            self.world.call(
                PORT,
                call,
                &Params::from_pairs(all),
                self.now,
                Utc::now(),
                false,
            )
        }

        fn res(&mut self, call: Call, pairs: &[(&str, &str)]) -> Value {
            match self.call(call, pairs).reply {
                Reply::Json { res, .. } => res,
                Reply::Text(t) => panic!("text answer {t:?}"),
            }
        }

        fn login(&mut self) {
            self.res(Call::Otp, &[("pin", "1234")]);
            let code = self.world.latest_code(&self.msisdn).unwrap();
            let res = self.res(Call::VerifyOtp, &[("otp", &code)]);
            assert_eq!(res["status"], "0", "{res}");
        }

        fn buy(&mut self, product: &str) -> Value {
            self.res(
                Call::TrxIdv,
                &[
                    ("product_id", product),
                    ("email", "a@b.co"),
                    ("limit_harga", "10500"),
                ],
            )
        }

        fn later(&mut self, by: Duration) {
            self.now += by;
        }
    }

    #[test]
    fn an_otp_expires_after_its_ttl_and_not_before() {
        let mut b = Bench::new(config());
        b.res(Call::Otp, &[("pin", "1234")]);
        let code = b.world.latest_code(&b.msisdn).unwrap();
        b.later(Duration::from_secs(300));
        let wrong = if code == "000000" { "111111" } else { "000000" };
        assert_eq!(
            b.res(Call::VerifyOtp, &[("otp", wrong)])["message"],
            "Kode OTP salah"
        );
        b.later(Duration::from_millis(1));
        let res = b.res(Call::VerifyOtp, &[("otp", &code)]);
        assert!(
            res["message"]
                .as_str()
                .unwrap()
                .contains("Kode OTP kadaluarsa"),
            "{res}"
        );
    }

    #[test]
    fn a_token_expires_after_its_ttl_and_not_before() {
        let mut b = Bench::new(config());
        b.login();
        b.later(Duration::from_secs(3600));
        assert_eq!(b.res(Call::Balance, &[])["balance"], "27000");
        b.later(Duration::from_millis(1));
        let res = b.res(Call::Balance, &[]);
        assert!(
            res["message"].as_str().unwrap().contains("token expired"),
            "{res}"
        );
    }

    #[test]
    fn the_first_pin_a_number_is_sent_becomes_its_pin() {
        let mut b = Bench::new(config());
        assert_eq!(b.res(Call::Otp, &[("pin", "1234")])["status"], "0");
        assert_eq!(b.res(Call::Otp, &[("pin", "4321")])["message"], "PIN salah");
        assert_eq!(b.res(Call::Otp, &[("pin", "12")])["message"], "PIN salah");
        assert_eq!(b.res(Call::Otp, &[("pin", "1234")])["status"], "0");
    }

    #[test]
    fn a_purchase_stays_processing_for_the_configured_polls() {
        let mut b = Bench::new(SimulatorConfig {
            status_polls: 3,
            ..config()
        });
        b.login();
        let trx = b.buy("VCR10");
        let trx_id = trx["data"]["trx_id"].as_str().unwrap().to_owned();
        for _ in 0..3 {
            let res = b.res(Call::StatusIdv, &[("trx_id", &trx_id)]);
            assert_eq!(res["data"]["is_success"], 1, "{res}");
            assert!(res["data"].get("voucher").is_none());
        }
        let res = b.res(Call::StatusIdv, &[("trx_id", &trx_id)]);
        assert_eq!(res["data"]["is_success"], 2, "{res}");
        let voucher = res["data"]["voucher"].as_str().unwrap();
        assert_eq!(b.world.ledger()[0].voucher.as_deref(), Some(voucher));
    }

    #[test]
    fn a_purchase_failed_after_its_otp_debits_nothing() {
        let mut b = Bench::new(SimulatorConfig {
            transaction_otp: true,
            ..config()
        });
        b.login();
        // Two purchases wait for their OTP; the pulsa covers only the second one.
        let first = b.buy("VCR10");
        let first_code = b.world.latest_code(&b.msisdn).unwrap();
        assert_eq!(b.world.number(&b.msisdn.clone()).pulsa, Rupiah::new(27_000));
        b.world.number(&b.msisdn.clone()).pulsa = Rupiah::new(9_000);
        let res = b.res(Call::OtpIdv, &[("otp", &first_code)]);
        assert!(
            res["message"]
                .as_str()
                .unwrap()
                .contains("pulsa tidak cukup"),
            "{res}"
        );
        let trx_id = first["data"]["trx_id"].as_str().unwrap();
        let res = b.res(Call::StatusIdv, &[("trx_id", trx_id)]);
        assert_eq!(
            (res["status"].as_str(), res["data"]["is_success"].as_u64()),
            (Some("1"), Some(3))
        );
        assert!(b.world.ledger().is_empty());
        assert_eq!(b.world.pulsa(&b.msisdn), Rupiah::new(9_000));
    }

    #[test]
    fn a_server_that_went_down_forgets_whom_it_held() {
        let mut b = Bench::new(config());
        b.login();
        assert_eq!(b.res(Call::Balance, &[])["balance"], "27000");
        b.world.reset_port(PORT);
        let res = b.res(Call::Balance, &[]);
        assert!(
            res["message"].as_str().unwrap().contains("token expired"),
            "{res}"
        );
        assert_eq!(
            b.world.pulsa(&b.msisdn),
            Rupiah::new(27_000),
            "the telco remembers"
        );
    }

    #[test]
    fn the_echo_masks_pin_and_otp() {
        let params = Params::from_pairs(vec![
            ("username".into(), "0812".into()),
            ("pin".into(), "1234".into()),
            ("otp".into(), "999999".into()),
            ("pin".into(), "second".into()),
        ]);
        assert_eq!(
            params.echo(),
            json!({"username": "0812", "pin": "****", "otp": "****"})
        );
    }

    #[test]
    fn debug_prints_no_code_and_no_token() {
        let mut b = Bench::new(config());
        b.login();
        let location = match b.call(Call::TokenLocation, &[]).reply {
            Reply::Text(t) => t,
            other => panic!("{other:?}"),
        };
        b.res(Call::Otp, &[("pin", "1234")]);
        let code = b.world.latest_code(&b.msisdn).unwrap();
        let shown = format!("{:?}", b.world);
        assert!(
            !shown.contains(&code) && !shown.contains(&location),
            "{shown}"
        );
    }
}

//! The simulated telco and its servers, without HTTP: who is logged in where, each number's
//! pulsa and device history, the purchases, the ledger, the SMS inbox and the strikes (every
//! wrong or expired code a number was sent, as the real telco counts them).
//!
//! One `World` serves every port, because a number may move between servers and its pulsa must
//! follow it; each port has its own slot (the number it holds, its tokens, its device id). Every
//! call is a synchronous step under one lock taking `now` from outside, so the rules (expiry,
//! debit, polls) are tested here without sockets or sleeps, and a debit and its ledger entry can
//! never be seen apart.
//!
//! The rules answer in no shape: each call ends in an [`Answer`] (what happened), and
//! [`World::call`] has it rendered in the shape of this answer (`shapes` knob) by
//! [`shapes::render`], the only place that knows what a real or legacy body looks like.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Days, SubsecRound, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use simrotor_config::{AnswerShapes, SimProduct, SimulatorConfig};
use simrotor_domain::{Call, Email, Msisdn, Pin, Rupiah};

use crate::faults::Draw;
use crate::params::Params;
use crate::profile::{NumberProfile, device_id};
use crate::shapes::{
    self, Answer, Balance, Kind, LOCATION_JWT_HEADER, LOGIN_JWT_HEADER, NOT_RESELLER, Progress,
    Refusal, Reply, Shape, TOKEN_EXPIRED, TrxRef,
};
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

/// The wrong or expired codes sent to `/verifyOtp` and `/otp_idv`: what the real telco counts
/// as strikes (it blocks a number after a few). `GET /_sim/strikes` shows them as
/// `{"total": 2, "numbers": {"6281…": 2}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Strikes {
    pub total: u64,
    /// Per number (stored `62…` form); a number without a strike is not listed.
    pub numbers: BTreeMap<Msisdn, u64>,
}

/// What `trx_idv` asks for.
#[derive(Debug, Clone, Copy)]
struct Order<'a> {
    product_id: &'a str,
    email: &'a str,
    limit: Rupiah,
}

/// A call's answer in its shape, and what else it did.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub reply: Reply,
    /// An SMS the call sent, to forward.
    pub sms: Option<Sms>,
    /// The call debited pulsa (a purchase executed now).
    pub purchased: bool,
}

/// What a rule decided, before the answer gets its shape.
#[derive(Debug)]
struct Step {
    answer: Answer,
    sms: Option<Sms>,
    purchased: bool,
}

impl Step {
    fn answer(answer: Answer) -> Self {
        Self {
            answer,
            sms: None,
            purchased: false,
        }
    }

    fn refused(kind: Kind, message: impl Into<String>) -> Self {
        Self::answer(Answer::refused(kind, message))
    }
}

fn bad_request(message: impl Into<String>) -> Step {
    Step::refused(Kind::BadRequest, message)
}

/// The number calling, from `username`; why not for a missing or malformed one.
fn caller(params: &Params) -> Result<Msisdn, String> {
    let Some(username) = params.get("username") else {
        return Err("Parameter username wajib diisi".to_owned());
    };
    Msisdn::parse(username).map_err(|_| format!("Nomor tidak valid: {username}"))
}

const SESSION_BUSY: &str =
    "Perangkat sedang digunakan oleh nomor lain, silakan logout terlebih dahulu";

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

/// One simulated server (a port): its device id and the one session it holds.
#[derive(Debug)]
struct Device {
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
    fn reference(&self) -> TrxRef {
        TrxRef {
            trx_id: self.trx_id.clone(),
            t_id: self.t_id.clone(),
        }
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
    /// Ids follow the real servers' formats (32-hex trx ids, 16-character vouchers, JWT-looking
    /// tokens) unless every answer is legacy, which keeps the simulator's earlier ones.
    real_ids: bool,
    /// Trx ids start with the start time, so two runs never reuse one in the same database.
    trx_prefix: String,
    /// The start time in nanoseconds: the first half of a real trx id.
    started_nanos: u64,
    next_trx: u64,
    /// myim3 transaction ids: the start time and a counter.
    transid_prefix: String,
    next_transid: u64,
    numbers: HashMap<Msisdn, Number>,
    servers: HashMap<u16, Device>,
    trxs: HashMap<String, Trx>,
    ledger: Vec<LedgerEntry>,
    inbox: Vec<Delivered>,
    strikes: Strikes,
}

const VOUCHER_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

impl World {
    pub(crate) fn new(config: SimulatorConfig, started: DateTime<Utc>) -> Self {
        let started_nanos = started
            .timestamp_nanos_opt()
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or_else(|| u64::try_from(started.timestamp_micros()).unwrap_or_default());
        Self {
            rng: StdRng::seed_from_u64(config.seed),
            real_ids: config.shapes != AnswerShapes::Legacy,
            config,
            trx_prefix: started.format("IDV%y%m%d%H%M%S").to_string(),
            started_nanos,
            next_trx: 0,
            transid_prefix: started.format("MIM%y%m%d%H%M%S").to_string(),
            next_transid: 0,
            numbers: HashMap::new(),
            servers: HashMap::new(),
            trxs: HashMap::new(),
            ledger: Vec::new(),
            inbox: Vec::new(),
            strikes: Strikes::default(),
        }
    }

    /// The faults of the next call.
    pub(crate) fn draw_faults(&mut self) -> Draw {
        Draw::new(&mut self.rng, &self.config.faults)
    }

    /// Registers a served port, so its device id is known before the first call.
    pub(crate) fn add_port(&mut self, port: u16) {
        self.device(port);
    }

    /// The server on `port` went down: it forgets whom it held, as a restarted machine would.
    pub(crate) fn reset_port(&mut self, port: u16) {
        if let Some(device) = self.servers.get_mut(&port) {
            device.session = None;
        }
    }

    pub(crate) fn device_id(&self, port: u16) -> Option<String> {
        self.servers.get(&port).map(|s| s.device_id.clone())
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

    pub(crate) fn strikes(&self) -> Strikes {
        self.strikes.clone()
    }

    /// A wrong or expired code reached the telco for `msisdn`: a strike.
    fn strike(&mut self, msisdn: &Msisdn, port: u16, call: Call, kind: Kind) -> Step {
        self.strikes.total += 1;
        let count = self.strikes.numbers.entry(msisdn.clone()).or_default();
        *count += 1;
        tracing::info!(
            msisdn = %msisdn,
            port,
            call = call.path(),
            strikes = *count,
            "The simulated telco counted a strike: a wrong or expired code."
        );
        let message = match (call, kind) {
            (Call::VerifyOtp, Kind::OtpExpired) => "Kode OTP kadaluarsa, silakan minta kode baru",
            (_, Kind::OtpExpired) => "Kode OTP kadaluarsa, silakan ulangi transaksi",
            _ => "Kode OTP salah",
        };
        Step::refused(kind, message)
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

    fn device(&mut self, port: u16) -> &mut Device {
        let seed = self.config.seed;
        self.servers.entry(port).or_insert_with(|| Device {
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

    /// A JWT-looking token: `header`, an empty claim set, a random signature.
    fn jwt(&mut self, header: &str) -> String {
        format!("{header}.e30.{}{}", self.token(), self.token())
    }

    /// The shape of the next answer: the configured one, or a seeded draw when `mixed`.
    fn shape(&mut self) -> Shape {
        match self.config.shapes {
            AnswerShapes::Real => Shape::Real,
            AnswerShapes::Legacy => Shape::Legacy,
            AnswerShapes::Mixed if self.rng.random_bool(0.5) => Shape::Real,
            AnswerShapes::Mixed => Shape::Legacy,
        }
    }

    fn transid(&mut self) -> String {
        self.next_transid += 1;
        format!("{}{:06}", self.transid_prefix, self.next_transid)
    }

    /// The number holding a live login (verified, token not expired) on `port`, if any.
    fn holder(&self, port: u16, now: Instant) -> Option<&Msisdn> {
        let session = self.servers.get(&port)?.session.as_ref()?;
        let login = session.login.as_ref()?;
        (now <= login.expires_at).then_some(&session.msisdn)
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

    /// Runs one call on the server at `port` and renders its answer in this answer's shape.
    /// `lose_answer`: when the call executes a purchase, the ledger records that its answer will
    /// not reach the caller.
    pub(crate) fn call(
        &mut self,
        port: u16,
        call: Call,
        params: &Params,
        now: Instant,
        wall: DateTime<Utc>,
        lose_answer: bool,
    ) -> Outcome {
        let step = match caller(params) {
            Err(why) => bad_request(why),
            Ok(msisdn) => {
                let msisdn = &msisdn;
                match call {
                    Call::RequestOtp => self.otp(port, msisdn, params, now, wall),
                    Call::VerifyOtp => self.verify_otp(port, msisdn, params, now),
                    Call::Balance => {
                        self.logged_in(port, msisdn, now, |w, _| w.balance(msisdn, wall))
                    }
                    Call::TokenLocation => self.logged_in(port, msisdn, now, |_, login| {
                        Step::answer(Answer::TokenLocation(login.token_location.clone()))
                    }),
                    Call::ListProducts => {
                        self.logged_in(port, msisdn, now, |w, _| w.list_idv(port, msisdn))
                    }
                    Call::Buy => self.trx_idv(port, msisdn, params, now, wall, lose_answer),
                    Call::TransactionOtp => self.otp_idv(port, msisdn, params, now, wall),
                    Call::TrxStatus => self.status_idv(port, msisdn, params, now),
                    Call::Logout => self.logged_in(port, msisdn, now, |w, _| {
                        w.device(port).session = None;
                        tracing::info!(msisdn = %msisdn, port, "A number logged out of a simulated server.");
                        Step::answer(Answer::LoggedOut)
                    }),
                }
            }
        };
        let shape = self.shape();
        let transid = self.transid();
        Outcome {
            reply: shapes::render(shape, call, params, &transid, &step.answer),
            sms: step.sms,
            purchased: step.purchased,
        }
    }

    /// Runs `then` when `msisdn` holds a valid login on `port`; "token expired" otherwise.
    fn logged_in(
        &mut self,
        port: u16,
        msisdn: &Msisdn,
        now: Instant,
        then: impl FnOnce(&mut Self, &Login) -> Step,
    ) -> Step {
        let login = self.device(port).session.as_mut().and_then(|s| {
            if &s.msisdn != msisdn {
                return None;
            }
            let login = s.login.as_ref()?;
            (now <= login.expires_at).then(|| login.clone())
        });
        match login {
            Some(login) => then(self, &login),
            None => Step::refused(Kind::NotLoggedIn, TOKEN_EXPIRED),
        }
    }

    fn otp(
        &mut self,
        port: u16,
        msisdn: &Msisdn,
        params: &Params,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Step {
        let Some(pin) = params.get("pin") else {
            return bad_request("Parameter pin wajib diisi");
        };
        // One machine holds one SIM: it will not start another number's login over a live one.
        if self.config.one_session && self.holder(port, now).is_some_and(|held| held != msisdn) {
            return Step::refused(Kind::SessionBusy, SESSION_BUSY);
        }
        let configured = self.config.pin.as_ref().map(|p| p.0.clone());
        let number = self.number(msisdn);
        if number.profile.blocked {
            return Step::refused(
                Kind::Blocked,
                "Nomor Anda diblokir, silakan hubungi layanan pelanggan",
            );
        }
        let Ok(pin) = Pin::parse(pin) else {
            return Step::refused(Kind::WrongPin, "PIN salah");
        };
        match configured.as_ref().or(number.pin.as_ref()) {
            Some(expected) if *expected != pin => {
                return Step::refused(Kind::WrongPin, "PIN salah");
            }
            Some(_) => {}
            None => number.pin = Some(pin),
        }
        let code = self.code(6);
        let expires_at = now + self.config.otp_ttl;
        self.device(port).session = Some(Session {
            msisdn: msisdn.clone(),
            otp: Some(Code {
                code: code.clone().into(),
                expires_at,
            }),
            login: None,
        });
        let sms = self.send_sms(msisdn, sms::login_text(&code), code, wall);
        Step {
            sms: Some(sms),
            ..Step::answer(Answer::OtpSent)
        }
    }

    fn verify_otp(&mut self, port: u16, msisdn: &Msisdn, params: &Params, now: Instant) -> Step {
        let Some(given) = params.get("otp") else {
            return bad_request("Parameter otp wajib diisi");
        };
        let pending = self
            .device(port)
            .session
            .as_ref()
            .filter(|s| &s.msisdn == msisdn)
            .and_then(|s| s.otp.clone());
        let Some(pending) = pending else {
            return Step::refused(Kind::NoOtpPending, "Silakan minta kode OTP terlebih dahulu");
        };
        if now > pending.expires_at {
            return self.strike(msisdn, port, Call::VerifyOtp, Kind::OtpExpired);
        }
        if !pending.matches(given) {
            return self.strike(msisdn, port, Call::VerifyOtp, Kind::OtpWrong);
        }
        let (token_login, token_location) = if self.real_ids {
            (self.jwt(LOGIN_JWT_HEADER), self.jwt(LOCATION_JWT_HEADER))
        } else {
            let login = self.token();
            (login, format!("{}{}", self.token(), self.token()))
        };
        let expires_at = now + self.config.token_ttl;
        if let Some(session) = self.device(port).session.as_mut() {
            session.otp = None;
            session.login = Some(Login {
                token_location: token_location.into(),
                expires_at,
            });
        }
        tracing::info!(msisdn = %msisdn, port, "A number logged in to a simulated server.");
        Step::answer(Answer::LoggedIn {
            token: token_login.into(),
        })
    }

    fn balance(&mut self, msisdn: &Msisdn, wall: DateTime<Utc>) -> Step {
        let number = self.number(msisdn);
        let today = wall.date_naive();
        let active = today
            .checked_add_days(Days::new(u64::from(number.profile.active_days)))
            .unwrap_or(today);
        let grace = active.checked_add_days(Days::new(60)).unwrap_or(active);
        Step::answer(Answer::Balance(Balance {
            pulsa: number.pulsa,
            active_until: active,
            grace_until: grace,
        }))
    }

    fn list_idv(&mut self, port: u16, msisdn: &Msisdn) -> Step {
        if !self.number(msisdn).profile.reseller {
            return Step::refused(Kind::NotReseller, NOT_RESELLER);
        }
        Step::answer(Answer::Products {
            msisdn: msisdn.clone(),
            device_id: self.device(port).device_id.clone(),
            products: self.config.products.clone(),
        })
    }

    fn trx_idv(
        &mut self,
        port: u16,
        msisdn: &Msisdn,
        params: &Params,
        now: Instant,
        wall: DateTime<Utc>,
        lose_answer: bool,
    ) -> Step {
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
    ) -> Step {
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
            return Step::refused(
                Kind::UnknownProduct,
                format!("Produk {product_id} tidak ditemukan"),
            );
        };
        let device_id = self.device(port).device_id.clone();
        let number = self.number(msisdn);
        if !number.profile.reseller {
            return Step::refused(Kind::NotReseller, NOT_RESELLER);
        }
        if product.price > limit {
            return Step::refused(
                Kind::AboveLimit,
                format!(
                    "Transaksi gagal: harga produk {} melebihi limit_harga {}",
                    product.price, limit
                ),
            );
        }
        if number.pulsa < product.price {
            return Step::refused(
                Kind::PulsaShort,
                format!(
                    "Transaksi gagal: pulsa tidak cukup (sisa {}, harga {})",
                    number.pulsa, product.price
                ),
            );
        }
        let needs_otp = transaction_otp && !number.devices.contains(&device_id);
        self.next_trx += 1;
        let created = self.next_trx;
        let (trx_id, t_id) = if self.real_ids {
            (
                format!("{:016x}{created:016x}", self.started_nanos),
                format!("{:032x}", self.rng.random::<u128>()),
            )
        } else {
            let t_id = self.rng.random_range(100_000_000..1_000_000_000u64);
            (
                format!("{}{:06}", self.trx_prefix, created),
                t_id.to_string(),
            )
        };
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
        let reference = trx.reference();
        self.trxs.insert(trx_id.clone(), trx);
        if let Some(code) = otp {
            let sms = self.send_sms(msisdn, sms::transaction_text(&code), code, wall);
            return Step {
                sms: Some(sms),
                ..Step::answer(Answer::TrxAccepted {
                    trx: reference,
                    awaiting_otp: true,
                })
            };
        }
        if let Err(refusal) = self.execute(&trx_id, &device_id, wall, lose_answer) {
            return Step::answer(Answer::Refused(refusal));
        }
        Step {
            purchased: true,
            ..Step::answer(Answer::TrxAccepted {
                trx: reference,
                awaiting_otp: false,
            })
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
    ) -> Result<(), Refusal> {
        let suspect = self.rng.random_bool(self.config.suspect_rate);
        let voucher = (!suspect).then(|| self.voucher());
        let Some(trx) = self.trxs.get(trx_id) else {
            return Err(unknown_trx());
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
            return Err(Refusal {
                kind: Kind::PulsaShort,
                message,
            });
        };
        number.pulsa = after;
        number.devices.insert(device_id.to_owned());
        let Some(trx) = self.trxs.get_mut(trx_id) else {
            return Err(unknown_trx());
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

    /// Real: 16 upper-case alphanumerics. Legacy: `VC-XXXX-XXXX-XXXX`.
    fn voucher(&mut self) -> String {
        let rng = &mut self.rng;
        let mut draw = |n: usize| -> String {
            (0..n)
                .map(|_| char::from(VOUCHER_ALPHABET[rng.random_range(0..VOUCHER_ALPHABET.len())]))
                .collect()
        };
        if self.real_ids {
            draw(16)
        } else {
            format!("VC-{}-{}-{}", draw(4), draw(4), draw(4))
        }
    }

    fn otp_idv(
        &mut self,
        port: u16,
        msisdn: &Msisdn,
        params: &Params,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Step {
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
                .map(|t| (t.reference(), t.awaiting_code()));
            let Some((trx, Some(pending))) = waiting else {
                return Step::refused(
                    Kind::NoTrxAwaitingOtp,
                    "Tidak ada transaksi yang menunggu OTP",
                );
            };
            if now > pending.expires_at {
                return w.strike(msisdn, port, Call::TransactionOtp, Kind::OtpExpired);
            }
            if !pending.matches(&given) {
                return w.strike(msisdn, port, Call::TransactionOtp, Kind::OtpWrong);
            }
            let device_id = w.device(port).device_id.clone();
            match w.execute(&trx.trx_id, &device_id, wall, false) {
                Ok(()) => Step {
                    purchased: true,
                    ..Step::answer(Answer::TrxOtpAccepted(trx))
                },
                Err(refusal) => Step::answer(Answer::Refused(refusal)),
            }
        })
    }

    fn status_idv(&mut self, port: u16, msisdn: &Msisdn, params: &Params, now: Instant) -> Step {
        let Some(trx_id) = params.get("trx_id").map(str::to_owned) else {
            return bad_request("Parameter trx_id wajib diisi");
        };
        let status_polls = self.config.status_polls;
        self.logged_in(port, msisdn, now, |w, _| {
            let Some(trx) = w.trxs.get_mut(&trx_id).filter(|t| &t.msisdn == msisdn) else {
                return Step::answer(Answer::Refused(unknown_trx()));
            };
            let reference = trx.reference();
            let progress = match &mut trx.state {
                TrxState::Accepted | TrxState::AwaitingOtp(_) => Progress::AwaitingOtp,
                TrxState::Failed(message) => Progress::Failed(message.clone()),
                TrxState::Executed { voucher, polls } => {
                    *polls = polls.saturating_add(1);
                    if *polls <= status_polls {
                        Progress::Processing
                    } else {
                        Progress::Done {
                            voucher: voucher.clone(),
                        }
                    }
                }
            };
            Step::answer(Answer::TrxStatus {
                trx: reference,
                progress,
            })
        })
    }
}

fn unknown_trx() -> Refusal {
    Refusal {
        kind: Kind::UnknownTrx,
        message: "Transaksi tidak ditemukan".to_owned(),
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

    use serde_json::{Value, json};

    use super::*;

    const PORT: u16 = 9900;

    /// Legacy answers and the simulator's earlier catalogue, as these rules were written for.
    fn config() -> SimulatorConfig {
        SimulatorConfig {
            pulsa_min: Rupiah::new(27_000),
            pulsa_max: Rupiah::new(27_000),
            reseller_rate: 1.0,
            blocked_rate: 0.0,
            shapes: AnswerShapes::Legacy,
            products: vec![
                SimProduct::new("VCR5", "Voucher Belanja 5.000", 5_000),
                SimProduct::new("VCR10", "Voucher Belanja 10.000", 10_000),
            ],
            ..SimulatorConfig::default()
        }
    }

    fn real(config: SimulatorConfig) -> SimulatorConfig {
        SimulatorConfig {
            shapes: AnswerShapes::Real,
            ..config
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

        /// The whole JSON body.
        fn body(&mut self, call: Call, pairs: &[(&str, &str)]) -> Value {
            match self.call(call, pairs).reply {
                Reply::Json { body, .. } => body,
                Reply::Text(t) => panic!("text answer {t:?}"),
            }
        }

        /// `res` of an enveloped answer, the body itself of an unwrapped one.
        fn res(&mut self, call: Call, pairs: &[(&str, &str)]) -> Value {
            let body = self.body(call, pairs);
            body.get("res").cloned().unwrap_or(body)
        }

        fn login(&mut self) {
            self.res(Call::RequestOtp, &[("pin", "1234")]);
            let code = self.world.latest_code(&self.msisdn).unwrap();
            let res = self.res(Call::VerifyOtp, &[("otp", &code)]);
            assert_eq!(res["status"], "0", "{res}");
        }

        fn as_number(&mut self, local: &str) {
            self.msisdn = Msisdn::parse(local).unwrap();
        }

        fn buy(&mut self, product: &str) -> Value {
            self.res(
                Call::Buy,
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
        b.res(Call::RequestOtp, &[("pin", "1234")]);
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
    fn every_wrong_or_expired_code_is_a_strike_and_nothing_else_is() {
        let mut b = Bench::new(SimulatorConfig {
            transaction_otp: true,
            ..config()
        });
        // No code asked for yet: refused, but no code of the telco's was wrong.
        b.res(Call::VerifyOtp, &[("otp", "111111")]);
        assert_eq!(b.world.strikes(), Strikes::default());

        b.res(Call::RequestOtp, &[("pin", "1234")]);
        let code = b.world.latest_code(&b.msisdn).unwrap();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        b.res(Call::VerifyOtp, &[("otp", wrong)]);
        b.later(Duration::from_secs(301));
        b.res(Call::VerifyOtp, &[("otp", &code)]);
        assert_eq!(b.world.strikes().total, 2);

        b.login();
        b.buy("VCR10");
        let trx_code = b.world.latest_code(&b.msisdn).unwrap();
        let wrong = if trx_code == "000000" {
            "111111"
        } else {
            "000000"
        };
        let res = b.res(Call::TransactionOtp, &[("otp", wrong)]);
        assert_eq!(res["message"], "Kode OTP salah");
        assert_eq!(
            b.res(Call::TransactionOtp, &[("otp", &trx_code)])["status"],
            "0"
        );

        assert_eq!(b.world.strikes().total, 3, "the right codes are no strikes");

        b.res(Call::Logout, &[]);
        b.as_number(OTHER);
        b.res(Call::RequestOtp, &[("pin", "1234")]);
        let code = b.world.latest_code(&b.msisdn).unwrap();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        b.res(Call::VerifyOtp, &[("otp", wrong)]);
        b.login();
        assert_eq!(
            serde_json::to_value(b.world.strikes()).unwrap(),
            json!({"total": 4, "numbers": {"6281234567890": 3, "6281298765432": 1}})
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
        assert_eq!(b.res(Call::RequestOtp, &[("pin", "1234")])["status"], "0");
        assert_eq!(
            b.res(Call::RequestOtp, &[("pin", "4321")])["message"],
            "PIN salah"
        );
        assert_eq!(
            b.res(Call::RequestOtp, &[("pin", "12")])["message"],
            "PIN salah"
        );
        assert_eq!(b.res(Call::RequestOtp, &[("pin", "1234")])["status"], "0");
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
            let res = b.res(Call::TrxStatus, &[("trx_id", &trx_id)]);
            assert_eq!(res["data"]["is_success"], 1, "{res}");
            assert!(res["data"].get("voucher").is_none());
        }
        let res = b.res(Call::TrxStatus, &[("trx_id", &trx_id)]);
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
        let res = b.res(Call::TransactionOtp, &[("otp", &first_code)]);
        assert!(
            res["message"]
                .as_str()
                .unwrap()
                .contains("pulsa tidak cukup"),
            "{res}"
        );
        let trx_id = first["data"]["trx_id"].as_str().unwrap();
        let res = b.res(Call::TrxStatus, &[("trx_id", trx_id)]);
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

    const OTHER: &str = "081298765432";
    const HOLDER: &str = "081234567890";

    #[test]
    fn with_one_session_a_live_login_keeps_another_number_out_until_logout_or_expiry() {
        let mut b = Bench::new(real(config()));
        b.login();
        b.as_number(OTHER);
        let busy = b.body(Call::RequestOtp, &[("pin", "1234")]);
        let transid = busy["transid"].as_str().unwrap();
        assert_eq!(
            busy,
            json!({"status": "1", "code": "99999", "message": SESSION_BUSY, "transid": transid})
        );
        assert!(b.world.sms(Some(&b.msisdn)).is_empty(), "no OTP went out");
        // The holder itself may ask again; that is no other number.
        b.as_number(HOLDER);
        assert_eq!(b.res(Call::RequestOtp, &[("pin", "1234")])["status"], "0");
        b.login();
        assert_eq!(b.res(Call::Logout, &[])["status"], "0");
        b.as_number(OTHER);
        b.login();

        // The other number's token expires: the server is free again.
        b.later(Duration::from_secs(3600));
        b.as_number(HOLDER);
        assert_eq!(
            b.res(Call::RequestOtp, &[("pin", "1234")])["message"],
            SESSION_BUSY
        );
        b.later(Duration::from_millis(1));
        assert_eq!(b.res(Call::RequestOtp, &[("pin", "1234")])["status"], "0");

        let mut legacy = Bench::new(config());
        legacy.login();
        legacy.as_number(OTHER);
        let res = legacy.res(Call::RequestOtp, &[("pin", "1234")]);
        assert_eq!(
            (res["status"].as_str(), res["message"].as_str()),
            (Some("1"), Some(SESSION_BUSY))
        );
    }

    #[test]
    fn without_one_session_another_numbers_otp_replaces_the_session() {
        let mut b = Bench::new(SimulatorConfig {
            one_session: false,
            ..real(config())
        });
        b.login();
        b.as_number(OTHER);
        let ack = b.body(Call::RequestOtp, &[("pin", "1234")]);
        assert_eq!(
            (ack["status"].as_str(), ack["message"].as_str()),
            (Some("0"), Some("OTP_SENT"))
        );
        b.as_number(HOLDER);
        let out = b.res(Call::Balance, &[]);
        assert_eq!(out["message"], TOKEN_EXPIRED, "{out}");
    }

    /// Whether each of `n` `/otp` answers came enveloped (legacy) or not (real).
    fn shapes_seen(seed: u64, n: usize) -> Vec<bool> {
        let mut b = Bench::new(SimulatorConfig {
            seed,
            shapes: AnswerShapes::Mixed,
            ..config()
        });
        (0..n)
            .map(|_| {
                let body = b.body(Call::RequestOtp, &[("pin", "1234")]);
                let legacy = body.get("res").is_some();
                let status = if legacy {
                    &body["res"]["status"]
                } else {
                    &body["status"]
                };
                assert_eq!(status, "0", "{body}");
                legacy
            })
            .collect()
    }

    #[test]
    fn mixed_answers_in_both_shapes_and_repeats_by_seed() {
        let seen = shapes_seen(7, 200);
        let legacy = seen.iter().filter(|l| **l).count();
        assert!((50..=150).contains(&legacy), "{legacy} of 200 legacy");
        assert_eq!(shapes_seen(7, 200), seen, "the same seed, the same shapes");
        assert_ne!(shapes_seen(8, 200), seen);
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
        b.res(Call::RequestOtp, &[("pin", "1234")]);
        let code = b.world.latest_code(&b.msisdn).unwrap();
        let shown = format!("{:?}", b.world);
        assert!(
            !shown.contains(&code) && !shown.contains(&location),
            "{shown}"
        );
    }
}

//! Every answer of the slot API is read here and nowhere else, driven by one table,
//! [`LAYOUTS`]: a row per call saying what its body is, what success looks like on that call and
//! where each field is looked for. A real answer nobody predicted becomes a fixture
//! (`tests/fixtures/answers/<call>__<shape>` with its `.meaning`) and, usually, one more path in
//! a row — not new code.
//!
//! Why a table: the real servers front two upstream apps whose answers differ (the contract,
//! `contract/slot-api.md`): the telco's *myim3* login calls answer without an envelope with
//! `status "0"` and `data.status "true"`; the *upoint* voucher shop answers `status "200"` /
//! `status_msg "success"`, sometimes inside `{"req", "res"}`; `/balance_pulsa` carries no status
//! at all; `/token_location3` is plain text. One rule for all of them bought nothing.
//!
//! Tolerance, as the contract's last section asks:
//! - either envelope on any call: every path is tried in `res` (when the answer has it), then at
//!   the top level;
//! - the first version's shapes stay readable: `"0"` is a success code on every call, and the old
//!   field names (`token_login`, `products`/`product_id`/`price`/`harga`, …) are later paths;
//! - numbers may be JSON numbers or strings; amounts go through [`Rupiah::parse_lenient`];
//! - unknown fields are ignored; anything unusable — non-2xx without a refusal, HTML, empty,
//!   truncated, missing fields — is a typed protocol error with the raw body kept. Nothing here
//!   panics on any input.
//!
//! Refusals: a status is a refusal only where the call's success is known and something else
//! came (see [`Success`]). Its reason comes from [`REFUSAL_RULES`].

use std::fmt;

use serde_json::{Map, Value};
use simrotor_domain::Rupiah;

use crate::Call;
use crate::error::{ProtocolProblem, RefusalReason, SlotError, SlotErrorKind};
use crate::secret::{TokenLocation, TokenLogin};
use crate::types::{
    Ack, Balance, Product, ProductListing, RawAnswer, RawBody, TrxAccepted, TrxProgress,
};

/// What came back over HTTP, before anyone read it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpAnswer<'a> {
    pub http_status: u16,
    pub body: &'a [u8],
}

/// A value read from an answer, with the answer for the audit.
pub(crate) type Parsed<T> = Result<(T, RawAnswer), SlotError>;

/// What a call's body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// A JSON object.
    Json,
    /// The value is the whole body as text (`/token_location3`); a JSON body is read as
    /// [`BodyKind::Json`] (a refusal, or the first version's `token_location`).
    Text,
    /// Any 2xx answer that is not a refusal (`/logout`: its answer was never read by anyone).
    Ack,
}

/// What success looks like on one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Success {
    /// The `status` values (in `res` or at the top, string or number) that mean success here,
    /// besides the ones every call accepts ([`FIRST_VERSION_CODES`], [`SUCCESS_WORDS`]). Empty:
    /// the call's success code is not known, so a status alone refuses nothing — only a status
    /// with a recognised refusal message, or one without the field that carries the value.
    pub codes: &'static [&'static str],
    /// `status_msg` values that mean success whatever `status` says (the shop's `"success"`).
    /// When this is not empty, another `status_msg` without a success `status` is a refusal.
    pub status_msgs: &'static [&'static str],
    /// A flag that must be true when present (myim3's `data.status`).
    pub confirm: Option<&'static str>,
}

/// Status values every call takes as success: the first version of the contract had `"0"` on
/// every answer.
pub const FIRST_VERSION_CODES: &[&str] = &["0"];
/// Status words that never mean a refusal, compared case-insensitively.
pub const SUCCESS_WORDS: &[&str] = &["ok", "success", "sukses", "true"];

/// The fields the parser reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Code,
    Message,
    TokenLogin,
    TokenLocation,
    Balance,
    CardActiveUntil,
    GracePeriodUntil,
    Expires,
    /// The list of products; `*` in a path is "the only list in that object".
    ProductList,
    /// Inside one product of the list.
    ProductId,
    ProductName,
    ProductPrice,
    DeviceId,
    TrxId,
    TId,
    IsSuccess,
    Voucher,
}

impl Field {
    /// How the field is named in errors and documents.
    pub const fn name(self) -> &'static str {
        match self {
            Field::Code => "code",
            Field::Message => "message",
            Field::TokenLogin => "the login token",
            Field::TokenLocation => "the location token",
            Field::Balance => "the balance",
            Field::CardActiveUntil => "cardactiveuntil",
            Field::GracePeriodUntil => "graceperioduntil",
            Field::Expires => "expires",
            Field::ProductList => "the product list",
            Field::ProductId => "a product's id",
            Field::ProductName => "a product's name",
            Field::ProductPrice => "a product's price",
            Field::DeviceId => "the device id",
            Field::TrxId => "trx_id",
            Field::TId => "t_id",
            Field::IsSuccess => "is_success",
            Field::Voucher => "the voucher",
        }
    }
}

/// One call's answer layout: a row of [`LAYOUTS`].
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub call: Call,
    /// The envelope the evidence shows, for people (the parser tries both anyway).
    pub envelope: &'static str,
    pub body: BodyKind,
    pub success: Success,
    /// Where each field is looked for: dotted paths, in order, each tried in `res` and then at
    /// the top level (product fields: inside each product).
    pub fields: &'static [(Field, &'static [&'static str])],
}

/// Where a refusal's text is, on every call.
const MESSAGE_PATHS: &[&str] = &["message", "msg", "error_message", "error", "keterangan"];

/// myim3, the telco's app behind the login calls.
const MYIM3: Success = Success {
    codes: &["0"],
    status_msgs: &[],
    confirm: Some("data.status"),
};
/// upoint/imstore, the voucher shop behind products and purchases.
const UPOINT: Success = Success {
    codes: &["200"],
    status_msgs: &["success"],
    confirm: None,
};
/// No status known: the value's own field decides.
const NO_STATUS: Success = Success {
    codes: &[],
    status_msgs: &[],
    confirm: None,
};

/// The table the parser reads: one row per call, in the contract's order.
pub const LAYOUTS: &[Layout] = &[
    Layout {
        call: Call::RequestOtp,
        envelope: "none (myim3)",
        body: BodyKind::Json,
        success: MYIM3,
        fields: &[
            (Field::Code, &["code"]),
            (Field::Message, &["message", "msg"]),
        ],
    },
    Layout {
        call: Call::VerifyOtp,
        envelope: "none (myim3)",
        body: BodyKind::Json,
        success: MYIM3,
        fields: &[(
            Field::TokenLogin,
            &[
                "data.tokenid",
                "data.token_login",
                "data.token",
                "tokenid",
                "token_login",
                "token",
            ],
        )],
    },
    Layout {
        call: Call::Balance,
        envelope: "req/res (seen)",
        body: BodyKind::Json,
        success: NO_STATUS,
        fields: &[
            (Field::Balance, &["balance", "data.balance"]),
            (
                Field::CardActiveUntil,
                &["cardactiveuntil", "data.cardactiveuntil"],
            ),
            (
                Field::GracePeriodUntil,
                &["graceperioduntil", "data.graceperioduntil"],
            ),
            (Field::Expires, &["expires", "data.expires"]),
        ],
    },
    Layout {
        call: Call::TokenLocation,
        envelope: "plain text",
        body: BodyKind::Text,
        success: NO_STATUS,
        fields: &[(
            Field::TokenLocation,
            &[
                "data.token_location",
                "token_location",
                "data.token",
                "token",
            ],
        )],
    },
    Layout {
        call: Call::ListProducts,
        envelope: "none (seen)",
        body: BodyKind::Json,
        success: UPOINT,
        fields: &[
            (
                Field::ProductList,
                &[
                    "data.product_list",
                    "data.products",
                    "data.product",
                    "data.produk",
                    "data.items",
                    "data.list",
                    "data.data",
                    "data",
                    "data.*",
                ],
            ),
            (Field::ProductId, &["id", "product_id", "code"]),
            (Field::ProductName, &["name", "nama"]),
            (Field::ProductPrice, &["lower_price", "price", "harga"]),
            (
                Field::DeviceId,
                &[
                    "data.identifier.device_id",
                    "identifier.device_id",
                    "data.device_id",
                    "device_id",
                ],
            ),
        ],
    },
    Layout {
        call: Call::Buy,
        envelope: "req/res (code)",
        body: BodyKind::Json,
        success: UPOINT,
        fields: &[
            (Field::TrxId, &["data.trx_id", "trx_id"]),
            (Field::TId, &["data.t_id", "t_id"]),
            (Field::IsSuccess, &["data.is_success", "is_success"]),
        ],
    },
    Layout {
        call: Call::TransactionOtp,
        envelope: "req/res (code)",
        body: BodyKind::Json,
        success: UPOINT,
        fields: &[
            (Field::Code, &["code"]),
            (Field::Message, &["message", "msg"]),
        ],
    },
    Layout {
        call: Call::TrxStatus,
        envelope: "req/res (code)",
        body: BodyKind::Json,
        success: UPOINT,
        fields: &[
            (Field::IsSuccess, &["data.is_success", "is_success"]),
            (Field::Voucher, &["data.voucher", "voucher"]),
        ],
    },
    Layout {
        call: Call::Logout,
        envelope: "unknown (inferred: req/res)",
        body: BodyKind::Ack,
        success: UPOINT,
        fields: &[
            (Field::Code, &["code"]),
            (Field::Message, &["message", "msg"]),
        ],
    },
];

/// The row of `call`.
pub fn layout(call: Call) -> &'static Layout {
    LAYOUTS
        .iter()
        .find(|l| l.call == call)
        .unwrap_or(&LAYOUTS[0])
}

impl Layout {
    fn paths(&self, field: Field) -> &'static [&'static str] {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map_or(&[], |(_, paths)| paths)
    }
}

/// How a refusal's reason is told from its text: the first rule with an alternative whose words
/// all occur in the message (lower-cased, whitespace collapsed, `message` and `status_msg`
/// together) wins; no match is [`RefusalReason::Other`].
///
/// The order matters: "bukan Reseller … tidak diperkenankan" comes with status 401, so
/// not-a-reseller is tried before anything that could look like an expired session, and an
/// expired *token* before an expired *OTP*.
pub const REFUSAL_RULES: &[(RefusalReason, &[&[&str]])] = &[
    (
        RefusalReason::NotReseller,
        &[&["bukan reseller"], &["not a reseller"], &["not reseller"]],
    ),
    (
        RefusalReason::Blocked,
        &[&["blokir"], &["blocked"], &["suspend"]],
    ),
    (
        RefusalReason::ServerBusy,
        &[
            &["sedang digunakan"],
            &["logout terlebih dahulu"],
            &["masih login"],
            &["sudah login"],
            &["already logged in"],
            &["in use by another"],
        ],
    ),
    (
        RefusalReason::InsufficientPulsa,
        &[
            &["pulsa", "tidak cukup"],
            &["pulsa", "tidak mencukupi"],
            &["saldo", "tidak cukup"],
            &["saldo", "tidak mencukupi"],
            &["pulsa", "kurang"],
            &["saldo", "kurang"],
            &["insufficient"],
        ],
    ),
    (
        RefusalReason::TokenExpired,
        &[
            &["token", "expired"],
            &["token", "kadaluarsa"],
            &["token", "kedaluwarsa"],
            &["token", "tidak valid"],
            &["token", "invalid"],
            &["sesi", "berakhir"],
            &["sesi", "habis"],
            &["session", "expired"],
        ],
    ),
    (
        RefusalReason::WrongOtp,
        &[
            &["otp", "salah"],
            &["otp", "tidak valid"],
            &["otp", "tidak sesuai"],
            &["otp", "invalid"],
            &["otp", "wrong"],
            &["otp", "expired"],
            &["otp", "kadaluarsa"],
            &["otp", "kedaluwarsa"],
        ],
    ),
];

impl RefusalReason {
    /// Classifies a telco message (and its `status_msg`, if any, appended) by the keyword rules
    /// above. Unknown text is [`RefusalReason::Other`].
    pub fn from_message(message: &str) -> Self {
        classify_refusal(message)
    }
}

pub(crate) fn classify_refusal(text: &str) -> RefusalReason {
    let normalised = text
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    REFUSAL_RULES
        .iter()
        .find(|(_, alternatives)| {
            alternatives
                .iter()
                .any(|words| words.iter().all(|w| normalised.contains(w)))
        })
        .map_or(RefusalReason::Other, |(reason, _)| *reason)
}

/// `/otp`, `/otp_idv`, `/logout`.
pub(crate) fn ack(call: Call, answer: HttpAnswer<'_>) -> Parsed<Ack> {
    let layout = layout(call);
    if layout.body == BodyKind::Ack {
        return any_ack(layout, answer);
    }
    let body = JsonAnswer::read(layout, answer)?.success()?;
    let ack = Ack {
        code: body.text(Field::Code),
        message: body.text(Field::Message),
    };
    Ok((ack, body.into_raw()))
}

/// `/logout`: whatever a 2xx answer says, unless it is a refusal.
fn any_ack(layout: &'static Layout, answer: HttpAnswer<'_>) -> Parsed<Ack> {
    let text = String::from_utf8_lossy(answer.body).into_owned();
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(value) if value.is_object() => {
            let body = JsonAnswer::read(layout, answer)?.success()?;
            let ack = Ack {
                code: body.text(Field::Code),
                message: body.text(Field::Message),
            };
            Ok((ack, body.into_raw()))
        }
        _ if is_2xx(answer.http_status) => {
            let message = (!text.trim().is_empty()).then(|| text.trim().to_owned());
            Ok((
                Ack {
                    code: None,
                    message,
                },
                RawAnswer::Text(text),
            ))
        }
        _ => Err(SlotError::protocol(
            layout.call,
            ProtocolProblem::UnexpectedStatus {
                http_status: answer.http_status,
            },
        )
        .with_raw((!text.is_empty()).then(|| RawBody::new(text)))),
    }
}

/// `/verifyOtp`.
pub(crate) fn verify_otp(answer: HttpAnswer<'_>) -> Parsed<TokenLogin> {
    let body = JsonAnswer::read(layout(Call::VerifyOtp), answer)?.success()?;
    match body.text(Field::TokenLogin) {
        Some(token) => Ok((TokenLogin::new(token), body.into_raw())),
        None => Err(body.fail(ProtocolProblem::MissingField {
            field: "the login token (data.tokenid, token_login or token)",
        })),
    }
}

/// `/balance_pulsa`.
pub(crate) fn balance(answer: HttpAnswer<'_>) -> Parsed<Balance> {
    let body = JsonAnswer::read(layout(Call::Balance), answer)?.success()?;
    let Some(amount) = body.find(Field::Balance) else {
        return Err(body.fail(ProtocolProblem::MissingField {
            field: "res.balance",
        }));
    };
    let Some(pulsa) = rupiah_of(amount) else {
        return Err(body.fail(ProtocolProblem::BadValue {
            field: "res.balance",
        }));
    };
    let balance = Balance {
        pulsa,
        card_active_until: body.text(Field::CardActiveUntil),
        grace_period_until: body.text(Field::GracePeriodUntil),
        expires: body.text(Field::Expires),
    };
    Ok((balance, body.into_raw()))
}

/// `/token_location3`: plain text. Anything that is not plain text (JSON, HTML, empty, a
/// non-2xx status) goes through the JSON path, which types every failure and every refusal.
pub(crate) fn token_location(answer: HttpAnswer<'_>) -> Parsed<TokenLocation> {
    let layout = layout(Call::TokenLocation);
    let text = String::from_utf8_lossy(answer.body).into_owned();
    let trimmed = text.trim();
    let plain =
        is_2xx(answer.http_status) && !trimmed.is_empty() && !trimmed.starts_with(['{', '[', '<']);
    if plain {
        // A JSON string is the token, quoted; another JSON value (`null`, `false`, `0`) is not.
        let token = match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::String(token)) => Some(token),
            Ok(_) => None,
            Err(_) => Some(trimmed.to_owned()),
        };
        return match token {
            Some(token) if is_token_text(&token) => {
                Ok((TokenLocation::new(token), RawAnswer::Text(text)))
            }
            _ => Err(SlotError::protocol(
                layout.call,
                ProtocolProblem::BadValue {
                    field: "the location token (plain text without spaces)",
                },
            )
            .with_raw(Some(RawBody::new(text)))),
        };
    }
    let body = JsonAnswer::read(layout, answer)?.success()?;
    match body.text(Field::TokenLocation) {
        Some(token) => Ok((TokenLocation::new(token), RawAnswer::Text(body.text))),
        None => Err(body.fail(ProtocolProblem::MissingField {
            field: "the location token (a plain-text body, or token_location)",
        })),
    }
}

/// `/list_idv`. Not being a reseller is a value, not an error; any other refusal is an error.
pub(crate) fn list_products(answer: HttpAnswer<'_>) -> Parsed<ProductListing> {
    let json = JsonAnswer::read(layout(Call::ListProducts), answer)?;
    if let Some(refusal) = &json.refusal
        && refusal.reason == RefusalReason::NotReseller
    {
        let listing = ProductListing::NotReseller {
            status: refusal.status.clone(),
            message: refusal.message.clone(),
            device_id: json.body.text(Field::DeviceId),
        };
        return Ok((listing, json.body.into_raw()));
    }
    let body = json.success()?;
    let lists = body.layout.paths(Field::ProductList).iter();
    let Some(items) = lists
        .filter_map(|path| find(&body.value, &[path]))
        .find_map(Value::as_array)
    else {
        return Err(body.fail(ProtocolProblem::MissingField {
            field: "the product list (data.product_list, or a list inside data)",
        }));
    };
    let mut products = Vec::with_capacity(items.len());
    for item in items {
        match product(body.layout, item) {
            Ok(p) => products.push(p),
            Err(what) => return Err(body.fail(what)),
        }
    }
    let listing = ProductListing::Products {
        products,
        device_id: body.text(Field::DeviceId),
    };
    Ok((listing, body.into_raw()))
}

/// `/trx_idv`. Its `is_success` is kept, never decided on: the purchase is always followed
/// with `/status_idv` (the earlier client never trusted it; an example shows `2` at once).
///
/// Success on this call is a `trx_id` (the contract): an answer that carries one is accepted
/// whatever its status says, so a purchase that went through is always followed, never booked
/// as refused.
pub(crate) fn buy(answer: HttpAnswer<'_>) -> Parsed<TrxAccepted> {
    let json = JsonAnswer::read(layout(Call::Buy), answer)?;
    let body = if json.body.find(Field::TrxId).is_some() {
        json.body
    } else {
        json.success()?
    };
    let Some(trx_id) = body.text(Field::TrxId) else {
        return Err(body.fail(ProtocolProblem::MissingField {
            field: "res.data.trx_id",
        }));
    };
    let accepted = TrxAccepted {
        trx_id,
        t_id: body.text(Field::TId),
        is_success: body.find(Field::IsSuccess).and_then(int_of),
    };
    Ok((accepted, body.into_raw()))
}

/// `/status_idv`. A refusal about the transaction (no recognised reason, or not enough pulsa)
/// is its verdict: failed. A refusal about the session or the number (expired token, blocked,
/// wrong OTP, not a reseller) says nothing about the transaction, so it stays an error and the
/// transaction stays open for the runtime to settle.
pub(crate) fn trx_status(answer: HttpAnswer<'_>) -> Parsed<TrxProgress> {
    let json = JsonAnswer::read(layout(Call::TrxStatus), answer)?;
    // `is_success == 2` is final whatever the status beside it says (the contract's success
    // rule here is `res.data` present): the voucher decides between success and suspect.
    if json.body.find(Field::IsSuccess).and_then(int_of) == Some(2) {
        let progress = match json.body.find(Field::Voucher).and_then(voucher_of) {
            Some(voucher) => TrxProgress::Success { voucher },
            None => TrxProgress::CompletedWithoutVoucher,
        };
        return Ok((progress, json.body.into_raw()));
    }
    // A refusal is the purchase's failure only when it says so: the telco refused it for pulsa,
    // the answer marks the transaction itself failed (`is_success` neither 1 nor 2), or its
    // message says "gagal" (failed). Any other refusal ("Transaksi tidak ditemukan") says
    // nothing about the money: it stays an error, so the runtime keeps polling and, at the
    // deadline, keeps the purchase SUSPECT.
    if let Some(refusal) = &json.refusal {
        let flag = json.body.find(Field::IsSuccess).and_then(int_of);
        let marked_failed = matches!(flag, Some(f) if f != 1 && f != 2)
            || refusal.message.to_lowercase().contains("gagal");
        if marked_failed || refusal.reason == RefusalReason::InsufficientPulsa {
            let failed = TrxProgress::Failed {
                status: refusal.status.clone(),
                message: refusal.message.clone(),
            };
            return Ok((failed, json.body.into_raw()));
        }
    }
    let body = json.success()?;
    let Some(flag) = body.find(Field::IsSuccess) else {
        return Err(body.fail(ProtocolProblem::MissingField {
            field: "res.data.is_success",
        }));
    };
    let Some(flag) = int_of(flag) else {
        return Err(body.fail(ProtocolProblem::BadValue {
            field: "res.data.is_success",
        }));
    };
    let progress = if flag == 2 {
        match body.find(Field::Voucher).and_then(voucher_of) {
            Some(voucher) => TrxProgress::Success { voucher },
            None => TrxProgress::CompletedWithoutVoucher,
        }
    } else {
        TrxProgress::Processing
    };
    Ok((progress, body.into_raw()))
}

/// What the parser made of one answer: the value its call returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Meaning {
    Ack(Ack),
    LoggedIn(TokenLogin),
    Balance(Balance),
    TokenLocation(TokenLocation),
    Products(ProductListing),
    Accepted(TrxAccepted),
    Progress(TrxProgress),
}

/// Reads one answer of `call` exactly as the client does: for `simrotor probe`, the fixture
/// tests and anyone holding a body they want to understand.
pub fn interpret(call: Call, http_status: u16, body: &[u8]) -> Result<Meaning, SlotError> {
    let answer = HttpAnswer { http_status, body };
    Ok(match call {
        Call::RequestOtp | Call::TransactionOtp | Call::Logout => {
            Meaning::Ack(ack(call, answer)?.0)
        }
        Call::VerifyOtp => Meaning::LoggedIn(verify_otp(answer)?.0),
        Call::Balance => Meaning::Balance(balance(answer)?.0),
        Call::TokenLocation => Meaning::TokenLocation(token_location(answer)?.0),
        Call::ListProducts => Meaning::Products(list_products(answer)?.0),
        Call::Buy => Meaning::Accepted(buy(answer)?.0),
        Call::TrxStatus => Meaning::Progress(trx_status(answer)?.0),
    })
}

/// An outcome of [`interpret`] in one line, the way the operator reads it; tokens are shown
/// only when `show_secrets` (their length otherwise).
pub fn describe(outcome: &Result<Meaning, SlotError>, show_secrets: bool) -> String {
    match outcome {
        Ok(meaning) => Described(meaning, show_secrets).to_string(),
        Err(e) => match &e.kind {
            SlotErrorKind::Refused {
                status,
                message,
                reason,
            } => format!("refused ({reason}, status {status:?}): {message}"),
            other => format!("unusable: {other}"),
        },
    }
}

struct Described<'a>(&'a Meaning, bool);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = |s: &str| {
            if self.1 {
                format!("{s:?}")
            } else {
                format!("<{} chars, masked>", s.chars().count())
            }
        };
        let opt = |label: &str, v: &Option<String>| {
            v.as_ref()
                .map(|v| format!(", {label} {v:?}"))
                .unwrap_or_default()
        };
        match self.0 {
            Meaning::Ack(a) => write!(
                f,
                "accepted{}{}",
                opt("code", &a.code),
                opt("message", &a.message)
            ),
            Meaning::LoggedIn(t) => write!(f, "logged in, login token {}", secret(t.expose())),
            Meaning::TokenLocation(t) => write!(f, "location token {}", secret(t.expose())),
            Meaning::Balance(b) => write!(
                f,
                "balance {}{}{}{}",
                b.pulsa.get(),
                opt("card active until", &b.card_active_until),
                opt("grace period until", &b.grace_period_until),
                opt("expires", &b.expires)
            ),
            Meaning::Products(ProductListing::NotReseller {
                status, message, ..
            }) => {
                write!(f, "not a reseller (status {status:?}): {message}")
            }
            Meaning::Products(ProductListing::Products {
                products,
                device_id,
            }) => {
                write!(f, "reseller")?;
                if let Some(d) = device_id {
                    write!(f, " on device {d}")?;
                }
                write!(f, ", {} products:", products.len())?;
                for p in products {
                    write!(f, " {}", p.id)?;
                    if let Some(name) = &p.name {
                        write!(f, " {name:?}")?;
                    }
                    match p.price {
                        Some(price) => write!(f, " at {};", price.get())?,
                        None => write!(f, " without a price;")?,
                    }
                }
                Ok(())
            }
            Meaning::Accepted(a) => {
                write!(f, "purchase accepted, trx_id {}", a.trx_id)?;
                if let Some(t) = &a.t_id {
                    write!(f, ", t_id {t}")?;
                }
                if let Some(s) = a.is_success {
                    write!(f, ", is_success {s}")?;
                }
                write!(f, " (not final: followed with /status_idv)")
            }
            Meaning::Progress(TrxProgress::Processing) => write!(f, "processing"),
            Meaning::Progress(TrxProgress::Success { voucher }) => {
                write!(f, "success, voucher {voucher}")
            }
            Meaning::Progress(TrxProgress::CompletedWithoutVoucher) => {
                write!(f, "final without a voucher: suspect")
            }
            Meaning::Progress(TrxProgress::Failed { status, message }) => {
                write!(f, "failed (status {status:?}): {message}")
            }
        }
    }
}

/// A telco refusal found in an answer.
#[derive(Debug)]
struct Refusal {
    status: String,
    message: String,
    reason: RefusalReason,
}

/// A JSON object answer and its text, before the refusal check.
#[derive(Debug)]
struct Body {
    layout: &'static Layout,
    value: Value,
    text: String,
}

impl Body {
    fn fail(&self, what: ProtocolProblem) -> SlotError {
        SlotError::protocol(self.layout.call, what).with_raw(Some(RawBody::new(self.text.clone())))
    }

    fn into_raw(self) -> RawAnswer {
        RawAnswer::Json(self.value)
    }

    /// The first non-null value of `field` along the row's paths.
    fn find(&self, field: Field) -> Option<&Value> {
        find(&self.value, self.layout.paths(field))
    }

    fn text(&self, field: Field) -> Option<String> {
        self.find(field).and_then(text_of)
    }
}

#[derive(Debug)]
struct JsonAnswer {
    body: Body,
    refusal: Option<Refusal>,
}

impl JsonAnswer {
    /// Reads the envelope: a JSON object, or a refusal in any HTTP status; every other answer
    /// is a protocol error carrying the body.
    fn read(layout: &'static Layout, answer: HttpAnswer<'_>) -> Result<Self, SlotError> {
        let call = layout.call;
        let text = String::from_utf8_lossy(answer.body).into_owned();
        let ok = is_2xx(answer.http_status);
        let unexpected = ProtocolProblem::UnexpectedStatus {
            http_status: answer.http_status,
        };
        let fail = |what: ProtocolProblem, text: String| {
            let raw = (!text.is_empty()).then(|| RawBody::new(text));
            Err(SlotError::protocol(call, what).with_raw(raw))
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return fail(
                if ok {
                    ProtocolProblem::Empty
                } else {
                    unexpected
                },
                text,
            );
        }
        let value = match serde_json::from_str::<Value>(trimmed) {
            Ok(value) => value,
            Err(_) if !ok => return fail(unexpected, text),
            Err(_) if trimmed.starts_with('<') => return fail(ProtocolProblem::Html, text),
            Err(e) if e.classify() == serde_json::error::Category::Eof => {
                return fail(ProtocolProblem::Truncated, text);
            }
            // serde_json's syntax messages give a position, never the text.
            Err(e) => {
                let detail = e.to_string();
                return fail(ProtocolProblem::NotJson { detail }, text);
            }
        };
        if !value.is_object() {
            if !ok {
                return fail(unexpected, text);
            }
            let detail = "valid JSON, but not an object".to_owned();
            return fail(ProtocolProblem::NotJson { detail }, text);
        }
        let body = Body {
            layout,
            value,
            text,
        };
        let refusal = refusal_in(&body);
        if refusal.is_none() && !ok {
            return fail(unexpected, body.text);
        }
        Ok(Self { body, refusal })
    }

    /// The body of a successful answer, or the refusal as an error.
    fn success(self) -> Result<Body, SlotError> {
        match self.refusal {
            None => Ok(self.body),
            Some(Refusal {
                status,
                message,
                reason,
            }) => Err(SlotError::new(
                self.body.layout.call,
                SlotErrorKind::Refused {
                    status,
                    message,
                    reason,
                },
            )
            .with_raw(Some(RawBody::new(self.body.text)))),
        }
    }
}

fn is_2xx(http_status: u16) -> bool {
    (200..300).contains(&http_status)
}

/// A status as text; `None` when it is not a status anyone could read.
fn status_text(status: &Value) -> Option<String> {
    match status {
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) if n.as_f64() == Some(0.0) => Some("0".to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

fn is_success_status(success: &Success, status: &str) -> bool {
    let as_number = status.parse::<f64>().ok();
    let same = |code: &&str| {
        status.eq_ignore_ascii_case(code)
            || matches!((as_number, code.parse::<f64>()), (Some(a), Ok(b)) if a == b)
    };
    success.codes.iter().any(same)
        || FIRST_VERSION_CODES.iter().any(same)
        || SUCCESS_WORDS.iter().any(|w| status.eq_ignore_ascii_case(w))
}

fn is_true(flag: &Value) -> bool {
    match flag {
        Value::Bool(b) => *b,
        Value::String(s) => ["true", "1", "ok", "success"]
            .iter()
            .any(|w| s.trim().eq_ignore_ascii_case(w)),
        Value::Number(n) => n.as_f64() == Some(1.0),
        _ => false,
    }
}

/// The refusal in an answer, by its call's success rule; `None` is success (so far as the
/// status goes: the fields still have to be there).
fn refusal_in(body: &Body) -> Option<Refusal> {
    let success = &body.layout.success;
    for scope in scopes(&body.value) {
        let status = scope.get("status").and_then(status_text);
        let status_msg = scope.get("status_msg").and_then(text_of);
        if status.is_none() && status_msg.is_none() {
            continue;
        }
        let msg_ok = status_msg.as_deref().is_some_and(|m| {
            success
                .status_msgs
                .iter()
                .any(|s| m.eq_ignore_ascii_case(s))
        });
        let status_ok = status
            .as_deref()
            .is_some_and(|s| is_success_status(success, s));
        let message = first_text(scope, MESSAGE_PATHS);
        let refusal = |status: String| {
            let all_text = [message.as_deref(), status_msg.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            Some(Refusal {
                status,
                reason: classify_refusal(&all_text),
                message: message.clone().or(status_msg.clone()).unwrap_or_default(),
            })
        };
        if status_ok || msg_ok {
            // Success by its status; myim3 also says so in a flag, which must agree.
            if let Some(path) = success.confirm
                && let Some(flag) = find(&body.value, &[path])
                && !is_true(flag)
            {
                return refusal(format!("{path}={}", status_text(flag).unwrap_or_default()));
            }
            return None;
        }
        let Some(status) = status else {
            // Only a `status_msg`: a refusal where the call's success messages are known.
            if success.status_msgs.is_empty() {
                continue;
            }
            return refusal(status_msg.clone().unwrap_or_default());
        };
        if success.codes.is_empty() {
            // The call's success code is not known: a status refuses only with a message the
            // rules know, or without the value the call is for.
            let found = refusal(status)?;
            let value_missing = body
                .layout
                .fields
                .first()
                .is_none_or(|(field, _)| body.find(*field).is_none());
            return (found.reason != RefusalReason::Other || value_missing).then_some(found);
        }
        return refusal(status);
    }
    None
}

/// `res` when the answer has it, then the top level.
fn scopes(value: &Value) -> impl Iterator<Item = &Map<String, Value>> {
    let res = value.get("res").and_then(Value::as_object);
    res.into_iter().chain(value.as_object())
}

/// The value at a dotted path; `*` is the only list in the object.
fn at<'a>(obj: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut keys = path.split('.');
    let first = keys.next()?;
    let mut value = obj.get(first)?;
    for key in keys {
        value = if key == "*" {
            let mut lists = value.as_object()?.values().filter(|v| v.is_array());
            match (lists.next(), lists.next()) {
                (Some(only), None) => only,
                _ => return None,
            }
        } else {
            value.get(key)?
        };
    }
    Some(value)
}

/// The first non-null value along `paths`, each tried in `res` and then at the top level.
fn find<'a>(value: &'a Value, paths: &[&str]) -> Option<&'a Value> {
    paths
        .iter()
        .find_map(|path| scopes(value).find_map(|scope| at(scope, path).filter(|v| !v.is_null())))
}

fn first_text(obj: &Map<String, Value>, paths: &[&str]) -> Option<String> {
    paths.iter().find_map(|p| at(obj, p).and_then(text_of))
}

/// A string (trimmed, non-empty) or a number, as text.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An integer as a number (`2`, `2.0`) or a string (`"2"`).
fn int_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An amount as a whole number or as text the telco formats (`"Rp 50.000"`).
fn rupiah_of(value: &Value) -> Option<Rupiah> {
    match value {
        Value::Number(n) => n.as_i64().and_then(|i| Rupiah::from_i64(i).ok()),
        Value::String(s) => Rupiah::parse_lenient(s).ok(),
        _ => None,
    }
}

fn voucher_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty() && s != "-" && !s.eq_ignore_ascii_case("null")).then(|| s.to_owned())
        }
        Value::Number(n) => Some(n.to_string()),
        // A voucher with structure (code, serial, …): keep all of it.
        Value::Object(map) if !map.is_empty() => Some(value.to_string()),
        Value::Array(items) if !items.is_empty() => Some(value.to_string()),
        _ => None,
    }
}

fn is_token_text(text: &str) -> bool {
    !text.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn product(layout: &Layout, item: &Value) -> Result<Product, ProtocolProblem> {
    let Some(obj) = item.as_object() else {
        return Err(ProtocolProblem::BadValue {
            field: "a product (not an object)",
        });
    };
    let Some(id) = first_text(obj, layout.paths(Field::ProductId)) else {
        return Err(ProtocolProblem::MissingField {
            field: "a product's id (id, product_id or code)",
        });
    };
    let price = match layout
        .paths(Field::ProductPrice)
        .iter()
        .find_map(|p| at(obj, p).filter(|v| !v.is_null()))
    {
        None => None,
        Some(v) => Some(rupiah_of(v).ok_or(ProtocolProblem::BadValue {
            field: "a product's price (lower_price, price or harga)",
        })?),
    };
    Ok(Product {
        id,
        name: first_text(obj, layout.paths(Field::ProductName)),
        price,
    })
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod real_answers;
#[cfg(test)]
mod tests;

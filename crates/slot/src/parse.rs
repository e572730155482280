//! Every answer of the slot API is read here and nowhere else, so that adapting to a real answer
//! nobody predicted is one fixture (`tests/fixtures/<path>/<shape>`) and one small change here.
//!
//! Tolerance, as the contract's last section asks:
//! - the envelope is `{"req": {…}, "res": {…}}`, but fields are also looked for in `res.data` and
//!   at the top level where the contract allows it;
//! - numbers may be JSON numbers or strings; amounts go through [`Rupiah::parse_lenient`]
//!   (`"5604"`, `5604`, `"Rp 50.000"`);
//! - the login token is `token_login`, `tokenid` or `token`, in `res.data`, `res` or at the top;
//! - the product list is `res.data` itself or a list inside it (`products`, … or its only list),
//!   its items carry `product_id`/`id`/`code`, `name`/`nama`, `price`/`harga`;
//! - the location token is a plain-text body (a JSON answer with `token_location` also passes);
//! - anything else — non-2xx without a refusal, HTML, empty, truncated, missing fields — is a
//!   typed protocol error with the raw body kept. Nothing here panics on any input.
//!
//! Refusals: a `status` in `res` (or, failing that, at the top level) other than `"0"`/`0` is a
//! refusal, whatever the HTTP status. Its reason comes from [`REFUSAL_RULES`].

use serde_json::{Map, Value};
use simrotor_domain::Rupiah;

use crate::error::{ProtocolProblem, RefusalReason, SlotError, SlotErrorKind};
use crate::secret::{LocationToken, LoginToken};
use crate::types::{
    Ack, Balance, Call, Product, ProductListing, RawAnswer, RawBody, TrxAccepted, TrxProgress,
};

/// What came back over HTTP, before anyone read it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpAnswer<'a> {
    pub http_status: u16,
    pub body: &'a [u8],
}

/// A value read from an answer, with the answer for the audit.
pub(crate) type Parsed<T> = Result<(T, RawAnswer), SlotError>;

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

// Where fields are looked for, in order.
const DATA_RES_TOP: &[&[&str]] = &[&["res", "data"], &["res"], &[]];
const DATA_RES: &[&[&str]] = &[&["res", "data"], &["res"]];
const RES_DATA_TOP: &[&[&str]] = &[&["res"], &["res", "data"], &[]];
const RES_TOP: &[&[&str]] = &[&["res"], &[]];

const TOKEN_KEYS: &[&str] = &["token_login", "tokenid", "token"];
const LOCATION_TOKEN_KEYS: &[&str] = &["token_location", "token"];
const MESSAGE_KEYS: &[&str] = &["message", "msg", "error_message", "error", "keterangan"];
const LIST_KEYS: &[&str] = &["products", "product", "produk", "items", "list", "data"];
const PRODUCT_ID_KEYS: &[&str] = &["product_id", "id", "code"];
const PRODUCT_NAME_KEYS: &[&str] = &["name", "nama"];
const PRODUCT_PRICE_KEYS: &[&str] = &["price", "harga"];
const DEVICE_ID_PATHS: &[&[&str]] = &[
    &["res", "data", "identifier", "device_id"],
    &["res", "identifier", "device_id"],
    &["res", "data", "device_id"],
    &["res", "device_id"],
    &["identifier", "device_id"],
];

/// `/otp`, `/otp_idv`, `/logout`.
pub(crate) fn ack(call: Call, answer: HttpAnswer<'_>) -> Parsed<Ack> {
    let body = JsonAnswer::read(call, answer)?.success()?;
    let code = find(&body.value, RES_TOP, &["code"]).and_then(text_of);
    let message = find(&body.value, RES_TOP, &["message", "msg"]).and_then(text_of);
    Ok((Ack { code, message }, body.into_raw()))
}

/// `/verifyOtp`.
pub(crate) fn verify_otp(answer: HttpAnswer<'_>) -> Parsed<LoginToken> {
    let body = JsonAnswer::read(Call::VerifyOtp, answer)?.success()?;
    match find(&body.value, DATA_RES_TOP, TOKEN_KEYS).and_then(text_of) {
        Some(token) => Ok((LoginToken::new(token), body.into_raw())),
        None => Err(body.fail(ProtocolProblem::MissingField {
            field: "the login token (token_login, tokenid or token)",
        })),
    }
}

/// `/balance_pulsa`.
pub(crate) fn balance(answer: HttpAnswer<'_>) -> Parsed<Balance> {
    let body = JsonAnswer::read(Call::Balance, answer)?.success()?;
    let Some(amount) = find(&body.value, RES_DATA_TOP, &["balance"]) else {
        return Err(body.fail(ProtocolProblem::MissingField {
            field: "res.balance",
        }));
    };
    let Some(pulsa) = rupiah_of(amount) else {
        return Err(body.fail(ProtocolProblem::BadValue {
            field: "res.balance",
        }));
    };
    let date = |key: &str| find(&body.value, RES_DATA_TOP, &[key]).and_then(text_of);
    let balance = Balance {
        pulsa,
        card_active_until: date("cardactiveuntil"),
        grace_period_until: date("graceperioduntil"),
        expires: date("expires"),
    };
    Ok((balance, body.into_raw()))
}

/// `/token_location3`: plain text. Anything that is not plain text (JSON, HTML, empty, a
/// non-2xx status) goes through the JSON path, which types every failure and every refusal.
pub(crate) fn location_token(answer: HttpAnswer<'_>) -> Parsed<LocationToken> {
    let call = Call::LocationToken;
    let text = String::from_utf8_lossy(answer.body).into_owned();
    let trimmed = text.trim();
    let plain =
        is_2xx(answer.http_status) && !trimmed.is_empty() && !trimmed.starts_with(['{', '[', '<']);
    if plain {
        // A JSON string is the token, quoted.
        let token = if trimmed.starts_with('"') {
            serde_json::from_str::<String>(trimmed).ok()
        } else {
            Some(trimmed.to_owned())
        };
        return match token {
            Some(token) if is_token_text(&token) => {
                Ok((LocationToken::new(token), RawAnswer::Text(text)))
            }
            _ => Err(SlotError::protocol(
                call,
                ProtocolProblem::BadValue {
                    field: "the location token (plain text without spaces)",
                },
            )
            .with_raw(Some(RawBody::new(text)))),
        };
    }
    let body = JsonAnswer::read(call, answer)?.success()?;
    match find(&body.value, DATA_RES_TOP, LOCATION_TOKEN_KEYS).and_then(text_of) {
        Some(token) => Ok((LocationToken::new(token), RawAnswer::Text(body.text))),
        None => Err(body.fail(ProtocolProblem::MissingField {
            field: "the location token (a plain-text body, or token_location)",
        })),
    }
}

/// `/list_idv`. Not being a reseller is a value, not an error; any other refusal is an error.
pub(crate) fn list_products(answer: HttpAnswer<'_>) -> Parsed<ProductListing> {
    let json = JsonAnswer::read(Call::ListProducts, answer)?;
    if let Some(refusal) = &json.refusal
        && refusal.reason == RefusalReason::NotReseller
    {
        let listing = ProductListing::NotReseller {
            status: refusal.status.clone(),
            message: refusal.message.clone(),
            device_id: device_id(&json.body.value),
        };
        return Ok((listing, json.body.into_raw()));
    }
    let body = json.success()?;
    let Some(items) = product_items(&body.value) else {
        return Err(body.fail(ProtocolProblem::MissingField {
            field: "the product list (res.data, or a list inside it)",
        }));
    };
    let mut products = Vec::with_capacity(items.len());
    for item in items {
        match product(item) {
            Ok(p) => products.push(p),
            Err(what) => return Err(body.fail(what)),
        }
    }
    let listing = ProductListing::Products {
        products,
        device_id: device_id(&body.value),
    };
    Ok((listing, body.into_raw()))
}

/// `/trx_idv`.
pub(crate) fn buy(answer: HttpAnswer<'_>) -> Parsed<TrxAccepted> {
    let body = JsonAnswer::read(Call::Buy, answer)?.success()?;
    let Some(trx_id) = find(&body.value, DATA_RES, &["trx_id"]).and_then(text_of) else {
        return Err(body.fail(ProtocolProblem::MissingField {
            field: "res.data.trx_id",
        }));
    };
    let accepted = TrxAccepted {
        trx_id,
        t_id: find(&body.value, DATA_RES, &["t_id"]).and_then(text_of),
        is_success: find(&body.value, DATA_RES, &["is_success"]).and_then(int_of),
    };
    Ok((accepted, body.into_raw()))
}

/// `/status_idv`. A refusal about the transaction (no recognised reason, or not enough pulsa)
/// is its verdict: failed. A refusal about the session or the number (expired token, blocked,
/// wrong OTP, not a reseller) says nothing about the transaction, so it stays an error and the
/// transaction stays open for the runtime to settle.
pub(crate) fn trx_status(answer: HttpAnswer<'_>) -> Parsed<TrxProgress> {
    let json = JsonAnswer::read(Call::TrxStatus, answer)?;
    // A refusal is the purchase's failure only when it says so: the telco refused it for pulsa,
    // the answer marks the transaction itself failed (`is_success` neither 1 nor 2), or its
    // message says "gagal" (failed). Any
    // other refusal ("Transaksi tidak ditemukan") says nothing about the money: it stays an
    // error, so the runtime keeps polling and, at the deadline, keeps the purchase SUSPECT.
    if let Some(refusal) = &json.refusal {
        let flag = find(&json.body.value, DATA_RES, &["is_success"]).and_then(int_of);
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
    let Some(flag) = find(&body.value, DATA_RES, &["is_success"]) else {
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
        match find(&body.value, DATA_RES, &["voucher"]).and_then(voucher_of) {
            Some(voucher) => TrxProgress::Success { voucher },
            None => TrxProgress::CompletedWithoutVoucher,
        }
    } else {
        TrxProgress::Processing
    };
    Ok((progress, body.into_raw()))
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
    call: Call,
    value: Value,
    text: String,
}

impl Body {
    fn fail(&self, what: ProtocolProblem) -> SlotError {
        SlotError::protocol(self.call, what).with_raw(Some(RawBody::new(self.text.clone())))
    }

    fn into_raw(self) -> RawAnswer {
        RawAnswer::Json(self.value)
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
    fn read(call: Call, answer: HttpAnswer<'_>) -> Result<Self, SlotError> {
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
        let refusal = refusal_in(&value);
        if refusal.is_none() && !ok {
            return fail(unexpected, text);
        }
        if !value.is_object() {
            let detail = "valid JSON, but not an object".to_owned();
            return fail(ProtocolProblem::NotJson { detail }, text);
        }
        Ok(Self {
            body: Body { call, value, text },
            refusal,
        })
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
                self.body.call,
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

fn refusal_in(value: &Value) -> Option<Refusal> {
    for scope in RES_TOP {
        let Some(obj) = at(value, scope).and_then(Value::as_object) else {
            continue;
        };
        let Some(status) = obj.get("status") else {
            continue;
        };
        let status_text = match status {
            Value::Bool(true) => return None,
            Value::Bool(false) => "false".to_owned(),
            Value::Number(n) if n.as_f64() == Some(0.0) => return None,
            Value::Number(n) => n.to_string(),
            Value::String(s) if is_success_text(s) => return None,
            Value::String(s) => s.trim().to_owned(),
            // Not a status anyone could read: look further out.
            Value::Null | Value::Array(_) | Value::Object(_) => continue,
        };
        let message = first_text(obj, MESSAGE_KEYS);
        let status_msg = obj.get("status_msg").and_then(text_of);
        let all_text = [message.as_deref(), status_msg.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        return Some(Refusal {
            status: status_text,
            reason: classify_refusal(&all_text),
            message: message.or(status_msg).unwrap_or_default(),
        });
    }
    None
}

fn is_success_text(status: &str) -> bool {
    let s = status.trim();
    s.parse::<i64>() == Ok(0)
        || ["ok", "success", "sukses", "true"]
            .iter()
            .any(|w| s.eq_ignore_ascii_case(w))
}

fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// The first non-null value of one of `keys`, looking in each scope in turn.
fn find<'a>(value: &'a Value, scopes: &[&[&str]], keys: &[&str]) -> Option<&'a Value> {
    scopes.iter().find_map(|scope| {
        let obj = at(value, scope)?.as_object()?;
        keys.iter()
            .find_map(|key| obj.get(*key).filter(|v| !v.is_null()))
    })
}

fn first_text(obj: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| obj.get(*key).and_then(text_of))
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

fn product_items(value: &Value) -> Option<&Vec<Value>> {
    for scope in DATA_RES {
        match at(value, scope) {
            Some(Value::Array(items)) => return Some(items),
            Some(Value::Object(map)) => {
                if let Some(items) = LIST_KEYS.iter().find_map(|k| map.get(*k)?.as_array()) {
                    return Some(items);
                }
                let mut lists = map.values().filter_map(Value::as_array);
                if let (Some(only), None) = (lists.next(), lists.next()) {
                    return Some(only);
                }
            }
            _ => {}
        }
    }
    None
}

fn product(item: &Value) -> Result<Product, ProtocolProblem> {
    let Some(obj) = item.as_object() else {
        return Err(ProtocolProblem::BadValue {
            field: "a product (not an object)",
        });
    };
    let Some(id) = first_text(obj, PRODUCT_ID_KEYS) else {
        return Err(ProtocolProblem::MissingField {
            field: "a product's id (product_id, id or code)",
        });
    };
    let price = match PRODUCT_PRICE_KEYS
        .iter()
        .find_map(|k| obj.get(*k).filter(|v| !v.is_null()))
    {
        None => None,
        Some(v) => Some(rupiah_of(v).ok_or(ProtocolProblem::BadValue {
            field: "a product's price (price or harga)",
        })?),
    };
    Ok(Product {
        id,
        name: first_text(obj, PRODUCT_NAME_KEYS),
        price,
    })
}

fn device_id(value: &Value) -> Option<String> {
    DEVICE_ID_PATHS
        .iter()
        .find_map(|path| at(value, path).and_then(text_of))
}

#[cfg(test)]
mod tests;

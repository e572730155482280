//! The one place an answer gets its shape. The world decides *what* a call answers (an
//! [`Answer`]: success data, or a [`Refusal`] with its kind and text); [`render`] turns it into
//! the body the chosen [`Shape`] speaks:
//!
//! - **real**, as the operator's servers answer (`contract/slot-api.md`, one example per shape in
//!   `tests/fixtures/real/`): the myim3 calls (`/otp`, `/verifyOtp`) unwrapped with `status`
//!   `"0"`/`code "00000"`; `/list_idv` unwrapped with `status "200"`; the upoint calls
//!   (`/trx_idv`, `/otp_idv`, `/status_idv`) in `{"req", "res"}` with `res.status "200"` and
//!   `status_msg "success"`; `/balance_pulsa` and `/logout` enveloped; `/token_location3` text.
//! - **legacy**, the simulator's earlier shapes: `{"req": …, "res": {"status": "0", "code":
//!   "200", "message": …}}` on every JSON call, refusals `"status": "1"` with a code.
//!
//! A missing or malformed parameter (HTTP 400) is answered in the legacy shape in both: the real
//! servers' answer to one was never seen.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use simrotor_config::SimProduct;
use simrotor_domain::{Msisdn, Rupiah};

use simrotor_domain::Call;

use crate::params::Params;

/// The shape one answer is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Real,
    Legacy,
}

/// What the server answers, before any shape: JSON with its HTTP status, or plain text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    Json { http: u16, body: Value },
    Text(String),
}

/// Why a call is refused. The kind picks the status codes of each shape; the text is the world's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A missing or malformed parameter: HTTP 400.
    BadRequest,
    Blocked,
    WrongPin,
    /// Another number holds the server's live login (`one_session`).
    SessionBusy,
    /// `/verifyOtp` without an OTP requested first.
    NoOtpPending,
    OtpExpired,
    OtpWrong,
    /// No live login of this number on this server.
    NotLoggedIn,
    NotReseller,
    UnknownProduct,
    AboveLimit,
    PulsaShort,
    NoTrxAwaitingOtp,
    UnknownTrx,
}

impl Kind {
    /// `res.code` of the legacy refusal.
    fn legacy_code(self) -> &'static str {
        match self {
            Kind::BadRequest => "400",
            Kind::Blocked => "403",
            Kind::WrongPin
            | Kind::NoOtpPending
            | Kind::OtpExpired
            | Kind::OtpWrong
            | Kind::NotLoggedIn
            | Kind::NotReseller => "401",
            Kind::PulsaShort => "402",
            Kind::UnknownProduct | Kind::NoTrxAwaitingOtp | Kind::UnknownTrx => "404",
            Kind::SessionBusy | Kind::AboveLimit => "409",
        }
    }

    /// `res.status` of a real upoint refusal.
    fn upoint_status(self) -> &'static str {
        match self {
            Kind::NotLoggedIn | Kind::NotReseller => "401",
            Kind::UnknownTrx => "404",
            _ => "400",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub kind: Kind,
    /// The Indonesian text the simulator has always answered.
    pub message: String,
}

/// The text the telco shows a number that is not a reseller, in both shapes (seen, exact).
pub(crate) const NOT_RESELLER: &str =
    "Anda bukan Reseller, tidak diperkenankan mengakses halaman ini";
pub(crate) const TOKEN_EXPIRED: &str = "Sesi tidak berlaku (token expired), silakan login kembali";

/// A purchase as its answers name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrxRef {
    pub trx_id: String,
    pub t_id: String,
}

/// Where a purchase stands, as `/status_idv` tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Progress {
    AwaitingOtp,
    Processing,
    /// Final; `None`: without a voucher (suspect).
    Done {
        voucher: Option<String>,
    },
    /// Failed after its OTP, with the reason.
    Failed(String),
}

/// The telco's `prepaidinfo` of a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Balance {
    pub pulsa: Rupiah,
    pub active_until: chrono::NaiveDate,
    pub grace_until: chrono::NaiveDate,
}

/// What a call answers, in no shape yet. Tokens are `SecretString`: never in a Debug print.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    OtpSent,
    LoggedIn {
        token: SecretString,
    },
    Balance(Balance),
    TokenLocation(SecretString),
    Products {
        msisdn: Msisdn,
        device_id: String,
        products: Vec<SimProduct>,
    },
    TrxAccepted {
        trx: TrxRef,
        awaiting_otp: bool,
    },
    TrxOtpAccepted(TrxRef),
    TrxStatus {
        trx: TrxRef,
        progress: Progress,
    },
    LoggedOut,
    Refused(Refusal),
}

impl Answer {
    pub(crate) fn refused(kind: Kind, message: impl Into<String>) -> Self {
        Self::Refused(Refusal {
            kind,
            message: message.into(),
        })
    }
}

/// Renders `answer` to `call` in `shape`. `transid`: the myim3 transaction id of this answer.
pub(crate) fn render(
    shape: Shape,
    call: Call,
    params: &Params,
    transid: &str,
    answer: &Answer,
) -> Reply {
    match (shape, answer) {
        (Shape::Legacy, _)
        | (
            Shape::Real,
            Answer::Refused(Refusal {
                kind: Kind::BadRequest,
                ..
            }),
        ) => legacy(params, answer),
        (Shape::Real, _) => real(call, params, transid, answer),
    }
}

/// The answer to a query that cannot be read at all (the legacy 400, with nothing to echo).
pub(crate) fn unreadable_query(message: String) -> Value {
    json!({"req": {}, "res": legacy_refusal(Kind::BadRequest, &message)})
}

fn enveloped(params: &Params, res: Value) -> Reply {
    Reply::Json {
        http: 200,
        body: json!({"req": params.echo(), "res": res}),
    }
}

fn unwrapped(body: Value) -> Reply {
    Reply::Json { http: 200, body }
}

fn not_reseller() -> Value {
    json!({"status": "401", "status_msg": "Unauthorized", "message": NOT_RESELLER})
}

fn balance_info(b: &Balance) -> Value {
    // The shape seen from the operator's servers: no status, only these four fields.
    json!({
        "cardactiveuntil": b.active_until.format("%d %b %Y").to_string(),
        "balance": b.pulsa.get().to_string(),
        "graceperioduntil": b.grace_until.format("%d %b %Y").to_string(),
        "expires": format!("Berlaku hingga {}", b.active_until.format("%d %b %y")),
    })
}

// ---- legacy ----

fn legacy_ok(message: &str, data: Option<Value>) -> Value {
    let mut res = json!({"status": "0", "code": "200", "message": message});
    if let Some(data) = data {
        res["data"] = data;
    }
    res
}

fn legacy_refusal(kind: Kind, message: &str) -> Value {
    json!({"status": "1", "code": kind.legacy_code(), "message": message})
}

fn legacy_trx(trx: &TrxRef, is_success: u8) -> Value {
    json!({"trx_id": trx.trx_id, "t_id": trx.t_id, "is_success": is_success})
}

fn legacy(params: &Params, answer: &Answer) -> Reply {
    let res = match answer {
        Answer::TokenLocation(token) => return Reply::Text(token.expose_secret().to_owned()),
        Answer::OtpSent => legacy_ok("Kode OTP telah dikirim ke nomor Anda", None),
        Answer::LoggedIn { token } => legacy_ok(
            "Login berhasil",
            Some(json!({"token_login": token.expose_secret()})),
        ),
        Answer::Balance(b) => balance_info(b),
        Answer::Products {
            device_id,
            products,
            ..
        } => {
            let products: Vec<Value> = products
                .iter()
                .map(|p| json!({"product_id": p.id, "name": p.name, "price": p.price.get()}))
                .collect();
            legacy_ok(
                "Sukses",
                Some(json!({"products": products, "identifier": {"device_id": device_id}})),
            )
        }
        Answer::TrxAccepted { trx, awaiting_otp } => {
            let message = if *awaiting_otp {
                "Transaksi menunggu OTP, kode telah dikirim ke nomor Anda"
            } else {
                "Transaksi sedang diproses"
            };
            legacy_ok(message, Some(legacy_trx(trx, 1)))
        }
        Answer::TrxOtpAccepted(trx) => legacy_ok(
            "OTP transaksi benar, transaksi sedang diproses",
            Some(legacy_trx(trx, 1)),
        ),
        Answer::TrxStatus { trx, progress } => match progress {
            Progress::AwaitingOtp => legacy_ok("Transaksi menunggu OTP", Some(legacy_trx(trx, 1))),
            Progress::Processing => {
                legacy_ok("Transaksi sedang diproses", Some(legacy_trx(trx, 1)))
            }
            Progress::Done { voucher } => {
                let mut data = legacy_trx(trx, 2);
                data["voucher"] = json!(voucher);
                let message = if voucher.is_some() {
                    "Transaksi berhasil"
                } else {
                    "Transaksi selesai"
                };
                legacy_ok(message, Some(data))
            }
            Progress::Failed(message) => {
                let mut res = legacy_refusal(Kind::PulsaShort, message);
                res["data"] = legacy_trx(trx, 3);
                res
            }
        },
        Answer::LoggedOut => legacy_ok("Logout berhasil", None),
        Answer::Refused(r) if r.kind == Kind::NotReseller => not_reseller(),
        Answer::Refused(r) => {
            let res = legacy_refusal(r.kind, &r.message);
            if r.kind == Kind::BadRequest {
                return Reply::Json {
                    http: 400,
                    body: json!({"req": params.echo(), "res": res}),
                };
            }
            res
        }
    };
    enveloped(params, res)
}

// ---- real ----

/// A login token as the real servers hand them: a JWT (`eyJ…`) with this header.
pub(crate) const LOGIN_JWT_HEADER: &str = "eyJhbGciOiJIUzUxMiJ9";
pub(crate) const LOCATION_JWT_HEADER: &str = "eyJ0eXAiOiJKV1QifQ";

const PRODUCT_GROUP: &str = "idv_vcr";
const IMAGE_BASE: &str = "https://example.com";

fn upoint_ok(data: Value) -> Value {
    json!({"status": "200", "status_msg": "success", "data": data})
}

fn upoint_failed(kind: Kind, message: &str) -> Value {
    json!({"status": kind.upoint_status(), "status_msg": "failed", "message": message})
}

fn real_status(trx: &TrxRef, is_success: u8, voucher: Option<&str>) -> Value {
    json!({"trx_id": trx.trx_id, "is_success": is_success, "voucher": voucher})
}

/// The product id as the real list carries it: an integer when it is one, else the string.
fn product_id(id: &str) -> Value {
    match id.parse::<u64>() {
        Ok(n) if n.to_string() == id => json!(n),
        _ => json!(id),
    }
}

fn product_page(msisdn: &Msisdn, device_id: &str, products: &[SimProduct]) -> Value {
    let list: Vec<Value> = products
        .iter()
        .map(|p| {
            json!({
                "id": product_id(&p.id),
                "name": p.name,
                "products_group_page_id": PRODUCT_GROUP,
                "image": null,
                "lower_price": p.price.get().to_string(),
                "is_promo": false,
            })
        })
        .collect();
    upoint_ok(json!({
        "product_group": {
            "page_id": PRODUCT_GROUP,
            "name": "IDV Voucher",
            "product_type": "reseller",
            "description": null,
            "description_en": null,
            "image": format!("{IMAGE_BASE}/idv.png"),
            "order_content": 1,
            "is_dtu": "0",
            "is_game": "0",
            "is_multi_denom": "",
            "description_denom": "",
            "layout_setting": null,
        },
        "item_code": "",
        "item_name": "",
        "product_promo": [],
        "product_list": list,
        "server_list": [],
        "promo_desc": "",
        "payment_list": [{"name": "Indosat", "logo": format!("{IMAGE_BASE}/indosat.png")}],
        "member_info": null,
        "identifier": {
            "mobile_number": msisdn.as_str(),
            "email": "",
            "device_id": device_id,
            "typemisdn": "prepaid",
            "language": "ID",
        },
    }))
}

fn real(call: Call, params: &Params, transid: &str, answer: &Answer) -> Reply {
    let myim3_ok = |message: &str, data: Value| {
        unwrapped(json!({
            "status": "0", "code": "00000", "message": message, "transid": transid, "data": data,
        }))
    };
    match answer {
        Answer::Refused(r) => real_refusal(call, params, transid, r),
        Answer::OtpSent => myim3_ok("OTP_SENT", json!({"status": "true", "transid": transid})),
        Answer::LoggedIn { token } => myim3_ok(
            "success",
            json!({"status": "true", "tokenid": token.expose_secret()}),
        ),
        Answer::Balance(b) => enveloped(params, balance_info(b)),
        Answer::TokenLocation(token) => Reply::Text(token.expose_secret().to_owned()),
        Answer::Products {
            msisdn,
            device_id,
            products,
        } => unwrapped(product_page(msisdn, device_id, products)),
        // `is_success` 2 on acceptance, as in the evidence: not final, the client must still ask
        // `/status_idv`.
        Answer::TrxAccepted { trx, .. } => enveloped(
            params,
            upoint_ok(json!({"trx_id": trx.trx_id, "t_id": trx.t_id, "is_success": 2})),
        ),
        Answer::TrxOtpAccepted(_) => enveloped(
            params,
            json!({"status": "200", "status_msg": "success", "message": "success"}),
        ),
        Answer::TrxStatus { trx, progress } => {
            let res = match progress {
                Progress::AwaitingOtp | Progress::Processing => {
                    upoint_ok(real_status(trx, 1, None))
                }
                Progress::Done { voucher } => upoint_ok(real_status(trx, 2, voucher.as_deref())),
                Progress::Failed(message) => {
                    let mut res = upoint_failed(Kind::PulsaShort, message);
                    res["data"] = real_status(trx, 3, None);
                    res
                }
            };
            enveloped(params, res)
        }
        Answer::LoggedOut => enveloped(
            params,
            json!({"status": "0", "code": "00000", "message": "success"}),
        ),
    }
}

fn real_refusal(call: Call, params: &Params, transid: &str, r: &Refusal) -> Reply {
    match call {
        Call::RequestOtp | Call::VerifyOtp => unwrapped(json!({
            "status": "1", "code": "99999", "message": r.message, "transid": transid,
        })),
        Call::ListProducts => unwrapped(match r.kind {
            Kind::NotReseller => not_reseller(),
            Kind::NotLoggedIn => {
                json!({"status": "401", "status_msg": "Unauthorized", "message": r.message})
            }
            kind => upoint_failed(kind, &r.message),
        }),
        Call::Buy | Call::TransactionOtp | Call::TrxStatus => {
            let message = match (call, r.kind) {
                (Call::TransactionOtp, Kind::OtpWrong) => "Invalid OTP",
                (Call::TransactionOtp, Kind::OtpExpired) => "OTP expired, silakan ulangi transaksi",
                _ => &r.message,
            };
            let res = match r.kind {
                Kind::NotReseller => not_reseller(),
                kind => upoint_failed(kind, message),
            };
            enveloped(params, res)
        }
        // Never seen: the legacy refusal's text under the HTTP-like status.
        Call::Balance | Call::TokenLocation | Call::Logout => enveloped(
            params,
            json!({"status": r.kind.legacy_code(), "message": r.message}),
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails
mod tests {
    use super::*;

    #[test]
    fn an_all_digit_id_is_an_integer_and_any_other_a_string() {
        assert_eq!(product_id("650"), json!(650));
        assert_eq!(product_id("VCR10"), json!("VCR10"));
        assert_eq!(product_id("0650"), json!("0650"), "a leading zero is kept");
        assert_eq!(product_id(""), json!(""));
    }

    #[test]
    fn a_bad_request_is_a_legacy_400_in_both_shapes() {
        let params = Params::from_pairs(vec![("username".into(), "x".into())]);
        let answer = Answer::refused(Kind::BadRequest, "Nomor tidak valid: x");
        for shape in [Shape::Real, Shape::Legacy] {
            let Reply::Json { http, body } =
                render(shape, Call::RequestOtp, &params, "T1", &answer)
            else {
                panic!("not JSON");
            };
            assert_eq!(http, 400);
            assert_eq!(body["res"]["status"], "1");
            assert_eq!(body["res"]["code"], "400");
        }
    }

    fn res(call: Call, kind: Kind, message: &str) -> Value {
        let params = Params::from_pairs(vec![("username".into(), "081200000001".into())]);
        let answer = Answer::refused(kind, message);
        match render(Shape::Real, call, &params, "T1", &answer) {
            Reply::Json { body, .. } => body["res"].clone(),
            Reply::Text(t) => panic!("{t}"),
        }
    }

    #[test]
    fn the_transaction_otp_refusals_speak_upoint_and_login_ones_keep_their_text() {
        let expired = "Kode OTP kadaluarsa, silakan ulangi transaksi";
        assert_eq!(
            res(Call::TransactionOtp, Kind::OtpExpired, expired),
            json!({"status": "400", "status_msg": "failed",
                   "message": "OTP expired, silakan ulangi transaksi"})
        );
        assert_eq!(
            res(Call::TransactionOtp, Kind::OtpWrong, "Kode OTP salah")["message"],
            "Invalid OTP"
        );
        assert_eq!(
            res(
                Call::TrxStatus,
                Kind::UnknownTrx,
                "Transaksi tidak ditemukan"
            )["status"],
            "404"
        );
        let params = Params::from_pairs(vec![]);
        let login = Answer::refused(
            Kind::OtpExpired,
            "Kode OTP kadaluarsa, silakan minta kode baru",
        );
        let Reply::Json { body, .. } = render(Shape::Real, Call::VerifyOtp, &params, "T9", &login)
        else {
            panic!("not JSON");
        };
        assert_eq!(
            body,
            json!({"status": "1", "code": "99999",
                   "message": "Kode OTP kadaluarsa, silakan minta kode baru", "transid": "T9"})
        );
    }

    #[test]
    fn debug_prints_no_token() {
        let answer = Answer::LoggedIn {
            token: SecretString::from("eyJhbGciOiJIUzUxMiJ9.e30.secret-login"),
        };
        assert!(!format!("{answer:?}").contains("secret-login"));
    }
}

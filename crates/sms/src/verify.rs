//! Each app's own proof that a request comes from it, checked over the bytes as they came.
//!
//! What each app can prove differs ([`AuthKind`]): SmsForwarder signs its timestamp (not the
//! body), capcom6 and textbee sign the body, httpSMS sends a JWT signed with the secret, SMSSync
//! sends the secret itself, and the apps that can only add a static header or URL carry a token
//! equal to the secret. The time windows are the apps' own advice: an hour for SmsForwarder,
//! ±5 minutes for capcom6, the JWT's `exp`/`nbf` with a minute's leeway for httpSMS.
//!
//! Errors say what was missing or wrong (`the X-Signature header`), never the value sent or the
//! secret; signatures are compared with [`sign::same`].

use base64::Engine;
use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;

use crate::decode::fields::{self, Record};
use crate::{App, AuthKind, Posted, sign};

/// How far SmsForwarder's `timestamp` may be from now (its docs: refuse older than an hour).
const SMSFORWARDER_WINDOW_S: i64 = 3_600;
/// How far capcom6's `X-Timestamp` may be from now (its docs: ±5 minutes).
const CAPCOM6_WINDOW_S: i64 = 300;
/// The leeway on a JWT's `exp` and `nbf` (clocks of phone, relay and us differ).
const JWT_LEEWAY_S: i64 = 60;

/// Why a request's proof fails. Names what was wrong, never the secret or the value sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No secret is configured for the app: nothing can be proven.
    #[error("{app}: no secret is configured, so no request can be verified")]
    NoSecret { app: App },
    /// The proof is not in the request.
    #[error("{app}: {what} is missing")]
    Missing { app: App, what: &'static str },
    /// The proof is there but was not made with the configured secret (or the request was
    /// changed after it was signed).
    #[error("{app}: {what} does not match the configured secret")]
    Mismatch { app: App, what: &'static str },
    /// The proof is genuine but its time is outside the window: an old request replayed, or a
    /// clock that is off.
    #[error("{app}: {what} is {off_by_s:+} s from now, outside the {window_s} s allowed")]
    OutOfWindow {
        app: App,
        what: &'static str,
        /// The request's time minus now, in seconds (negative: in the past).
        off_by_s: i64,
        window_s: i64,
    },
    /// The proof cannot be read (not a number, not a JWT, another algorithm, …).
    #[error("{app}: {what} is malformed")]
    Malformed { app: App, what: &'static str },
}

/// Whether `posted` carries `app`'s proof made with `secret`, at `now`.
pub fn verify(
    app: App,
    posted: &Posted<'_>,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    if secret.is_empty() {
        return Err(AuthError::NoSecret { app });
    }
    match app.auth() {
        AuthKind::SmsForwarderSign => smsforwarder(app, posted, secret, now),
        AuthKind::Capcom6Signature => capcom6(app, posted, secret, now),
        AuthKind::TextbeeSignature => textbee(app, posted, secret),
        AuthKind::HttpsmsJwt => httpsms(app, posted, secret, now),
        AuthKind::SmssyncSecret => smssync(app, posted, secret),
        AuthKind::Token => token(app, posted, secret),
    }
}

/// `sign` and `timestamp` from the JSON body, the form body or the query, as sent.
fn smsforwarder(
    app: App,
    posted: &Posted<'_>,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let malformed_body = |_| AuthError::Malformed {
        app,
        what: "the body",
    };
    let value;
    let body = if fields::is_json(posted) {
        value = fields::json(app, posted.body).map_err(malformed_body)?;
        Record::body(app, &value).map_err(malformed_body)?
    } else {
        Record::form(app, fields::form_text(app, posted).map_err(malformed_body)?)
            .map_err(malformed_body)?
    };
    let query = Record::form(app, posted.query).map_err(|_| AuthError::Malformed {
        app,
        what: "the query string",
    })?;
    let field = |name: &'static str, what: &'static str| -> Result<String, AuthError> {
        let malformed = |_| AuthError::Malformed { app, what };
        match body.scalar(name).map_err(malformed)? {
            Some(v) => Ok(v),
            None => query
                .scalar(name)
                .map_err(malformed)?
                .ok_or(AuthError::Missing { app, what }),
        }
    };
    let sent = field("sign", "the sign field")?;
    let timestamp = field("timestamp", "the timestamp field")?;
    let timestamp = timestamp.trim();
    let sent = fully_decoded(&sent).ok_or(AuthError::Malformed {
        app,
        what: "the sign field",
    })?;
    if !sign::same(sent.trim(), &sign::smsforwarder(secret, timestamp)) {
        return Err(AuthError::Mismatch {
            app,
            what: "the sign field",
        });
    }
    let ms: i64 = timestamp.parse().map_err(|_| AuthError::Malformed {
        app,
        what: "the timestamp field",
    })?;
    within(
        app,
        "the timestamp field",
        ms.div_euclid(1_000),
        now,
        SMSFORWARDER_WINDOW_S,
    )
}

/// Percent-decoded until it stops changing (SmsForwarder's form and GET bodies encode `sign`
/// twice: `%253D`); `None` if a round gives bytes that are not UTF-8.
fn fully_decoded(text: &str) -> Option<String> {
    let mut current = text.to_owned();
    for _ in 0..4 {
        let next = percent_decode_str(&current)
            .decode_utf8()
            .ok()?
            .into_owned();
        if next == current {
            break;
        }
        current = next;
    }
    Some(current)
}

/// `X-Signature` = hex(HMAC-SHA256(secret, body ‖ X-Timestamp)), `X-Timestamp` within ±5 min.
fn capcom6(
    app: App,
    posted: &Posted<'_>,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let sent = header(app, posted, "X-Signature", "the X-Signature header")?;
    let timestamp = header(app, posted, "X-Timestamp", "the X-Timestamp header")?;
    if !sign::same(
        &sent.to_ascii_lowercase(),
        &sign::capcom6(secret, posted.body, timestamp),
    ) {
        return Err(AuthError::Mismatch {
            app,
            what: "the X-Signature header",
        });
    }
    let seconds: i64 = timestamp.parse().map_err(|_| AuthError::Malformed {
        app,
        what: "the X-Timestamp header",
    })?;
    within(
        app,
        "the X-Timestamp header",
        seconds,
        now,
        CAPCOM6_WINDOW_S,
    )
}

/// `X-Signature` = hex(HMAC-SHA256(secret, body)), with or without a `sha256=` prefix.
fn textbee(app: App, posted: &Posted<'_>, secret: &str) -> Result<(), AuthError> {
    let sent = header(app, posted, "X-Signature", "the X-Signature header")?;
    let sent = sent.strip_prefix("sha256=").unwrap_or(sent);
    if sign::same(
        &sent.to_ascii_lowercase(),
        &sign::textbee(secret, posted.body),
    ) {
        Ok(())
    } else {
        Err(AuthError::Mismatch {
            app,
            what: "the X-Signature header",
        })
    }
}

/// `Authorization: Bearer <JWT>`: HS256 over `header.payload` with the secret, then `exp` not
/// passed and `nbf` reached, each with a minute's leeway. The claims are read only once the
/// signature holds.
fn httpsms(
    app: App,
    posted: &Posted<'_>,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let authorization = header(app, posted, "Authorization", "the Authorization header")?;
    let jwt = bearer(authorization).ok_or(AuthError::Malformed {
        app,
        what: "the Authorization header (Bearer <JWT> expected)",
    })?;
    let malformed_jwt = AuthError::Malformed {
        app,
        what: "the JWT",
    };
    let (input, signature) = jwt.rsplit_once('.').ok_or(malformed_jwt.clone())?;
    let Some((head, claims)) = input.split_once('.').filter(|(_, c)| !c.contains('.')) else {
        return Err(malformed_jwt);
    };
    let head = jwt_part(head).ok_or(AuthError::Malformed {
        app,
        what: "the JWT header",
    })?;
    if head.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(AuthError::Malformed {
            app,
            what: "the JWT's alg (only HS256 is taken)",
        });
    }
    let expected = sign::jwt_hs256(secret, input);
    if !sign::same(signature.trim_end_matches('='), &expected) {
        return Err(AuthError::Mismatch {
            app,
            what: "the JWT's signature",
        });
    }
    let claims = jwt_part(claims).ok_or(AuthError::Malformed {
        app,
        what: "the JWT payload",
    })?;
    let claim = |name: &str, what: &'static str| match claims.get(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or(AuthError::Malformed { app, what }),
    };
    let now_s = now.timestamp();
    // A token without an expiry would stay good for ever: httpSMS always sets one.
    let Some(exp) = claim("exp", "the JWT's exp")? else {
        return Err(AuthError::Missing {
            app,
            what: "the JWT's exp",
        });
    };
    if now_s > exp.saturating_add(JWT_LEEWAY_S) {
        return Err(AuthError::OutOfWindow {
            app,
            what: "the JWT's exp",
            off_by_s: exp - now_s,
            window_s: JWT_LEEWAY_S,
        });
    }
    if let Some(nbf) = claim("nbf", "the JWT's nbf")?
        && now_s.saturating_add(JWT_LEEWAY_S) < nbf
    {
        return Err(AuthError::OutOfWindow {
            app,
            what: "the JWT's nbf",
            off_by_s: nbf - now_s,
            window_s: JWT_LEEWAY_S,
        });
    }
    Ok(())
}

/// One base64url part of a JWT as a JSON object.
fn jwt_part(part: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The form's `secret` field equals the secret.
fn smssync(app: App, posted: &Posted<'_>, secret: &str) -> Result<(), AuthError> {
    let what = "the form's secret field";
    let malformed = |_| AuthError::Malformed { app, what };
    let form =
        Record::form(app, fields::form_text(app, posted).map_err(malformed)?).map_err(malformed)?;
    let sent = form
        .string("secret")
        .map_err(malformed)?
        .ok_or(AuthError::Missing { app, what })?;
    if sign::same(&sent, secret) {
        Ok(())
    } else {
        Err(AuthError::Mismatch { app, what })
    }
}

/// `?token=<secret>`, `X-Simrotor-Token: <secret>` or `Authorization: Bearer <secret>`: any one
/// of them equal to the secret proves the request. (The admin bearer token is the HTTP layer's
/// business: an `Authorization` holding it here is simply not this app's token.)
fn token(app: App, posted: &Posted<'_>, secret: &str) -> Result<(), AuthError> {
    let query = Record::form(app, posted.query).map_err(|_| AuthError::Malformed {
        app,
        what: "the query string",
    })?;
    let from_query = query.string("token").ok().flatten();
    let candidates = [
        ("the token query parameter", from_query.as_deref()),
        (
            "the X-Simrotor-Token header",
            posted.header("X-Simrotor-Token").map(str::trim),
        ),
        (
            "the Authorization header's bearer token",
            posted.header("Authorization").and_then(bearer),
        ),
    ];
    let mut first_sent = None;
    for (what, sent) in candidates {
        if let Some(sent) = sent.filter(|s| !s.is_empty()) {
            if sign::same(sent, secret) {
                return Ok(());
            }
            first_sent.get_or_insert(what);
        }
    }
    Err(match first_sent {
        Some(what) => AuthError::Mismatch { app, what },
        None => AuthError::Missing {
            app,
            what: "a token (?token=, the X-Simrotor-Token header or Authorization: Bearer)",
        },
    })
}

/// A header's value, trimmed; absent or empty is `Missing`.
fn header<'a>(
    app: App,
    posted: &'a Posted<'_>,
    name: &str,
    what: &'static str,
) -> Result<&'a str, AuthError> {
    posted
        .header(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(AuthError::Missing { app, what })
}

/// The token of `Bearer <token>` (the scheme's case does not matter).
fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// `at_s` (Unix seconds) no further than `window_s` from now, either way.
fn within(
    app: App,
    what: &'static str,
    at_s: i64,
    now: DateTime<Utc>,
    window_s: i64,
) -> Result<(), AuthError> {
    let off_by_s = at_s.saturating_sub(now.timestamp());
    if off_by_s.unsigned_abs() <= window_s.unsigned_abs() {
        Ok(())
    } else {
        Err(AuthError::OutOfWindow {
            app,
            what,
            off_by_s,
            window_s,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::fixture::{self, SECRET};
    use crate::{Method, decode};

    /// 2026-11-24T08:00:05Z, five seconds after the examples' SIM received the SMS.
    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(fixture::RECEIVED_AT + 5, 0).unwrap()
    }

    fn example(name: &str) -> Posted<'static> {
        fixture::get(name).unwrap().posted()
    }

    /// The error, checked not to show the secret or any signature or token sent.
    fn refused(app: App, posted: &Posted<'_>, secret: &str, at: DateTime<Utc>) -> AuthError {
        let err = verify(app, posted, secret, at).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains(SECRET) && !shown.contains("wrong-secret"),
            "{shown}"
        );
        for (_, value) in &posted.headers {
            if value.len() > 16 {
                assert!(!shown.contains(value.as_str()), "{shown}");
            }
        }
        assert!(!shown.contains("RnBQOfLWx8qx"), "{shown}");
        err
    }

    fn with_body<'a>(posted: &Posted<'_>, body: &'a [u8]) -> Posted<'a> {
        let mut changed = Posted::new(posted.method, "", body);
        changed.headers = posted.headers.clone();
        changed
    }

    fn without_header<'a>(posted: &Posted<'a>, name: &str) -> Posted<'a> {
        let mut changed = posted.clone();
        changed
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        changed
    }

    #[test]
    fn every_signed_example_verifies_with_the_test_secret() {
        let mut checked = 0;
        for example in fixture::all() {
            let Some(app) = fixture::app_of(example.name) else {
                continue;
            };
            if app.auth() == AuthKind::Token {
                continue;
            }
            checked += 1;
            assert_eq!(
                verify(app, &example.posted(), SECRET, now()),
                Ok(()),
                "{}",
                example.name
            );
        }
        // SmsForwarder ×2, capcom6 ×2, httpsms, textbee, smssync.
        assert_eq!(checked, 7);
    }

    #[test]
    fn a_wrong_secret_is_a_mismatch_for_every_app() {
        for example in fixture::all() {
            let Some(app) = fixture::app_of(example.name) else {
                continue;
            };
            let query = match app.auth() {
                AuthKind::Token => format!("token={SECRET}"),
                _ => String::new(),
            };
            let mut posted: Posted<'_> = example.posted();
            if app.auth() == AuthKind::Token {
                posted.query = &query;
            }
            let err = refused(app, &posted, "wrong-secret", now());
            assert!(
                matches!(err, AuthError::Mismatch { .. }),
                "{}: {err}",
                example.name
            );
        }
    }

    #[test]
    fn a_changed_body_byte_breaks_the_body_signatures() {
        for (name, app) in [
            ("capcom6-android-sms-gateway", App::Capcom6),
            ("capcom6-android-sms-gateway-app-started", App::Capcom6),
            ("textbee", App::Textbee),
        ] {
            let posted = example(name);
            let mut body = posted.body.to_vec();
            let at = body.iter().position(|b| *b == b'1').unwrap();
            body[at] = b'2';
            let err = refused(app, &with_body(&posted, &body), SECRET, now());
            assert_eq!(
                err,
                AuthError::Mismatch {
                    app,
                    what: "the X-Signature header"
                },
                "{name}"
            );
        }
    }

    #[test]
    fn smsforwarder_signs_its_timestamp_so_a_changed_timestamp_is_a_mismatch() {
        for name in [
            "pppscn-smsforwarder-json-template",
            "pppscn-smsforwarder-default-form",
        ] {
            let posted = example(name);
            let text = std::str::from_utf8(posted.body).unwrap();
            let body = text.replace("1795507201000", "1795507201001");
            let err = refused(
                App::SmsForwarder,
                &with_body(&posted, body.as_bytes()),
                SECRET,
                now(),
            );
            assert_eq!(
                err,
                AuthError::Mismatch {
                    app: App::SmsForwarder,
                    what: "the sign field"
                },
                "{name}"
            );
        }
    }

    #[test]
    fn smsforwarder_by_get_verifies_from_the_query() {
        let example = fixture::get("pppscn-smsforwarder-default-form").unwrap();
        let query = std::str::from_utf8(example.body).unwrap();
        let posted = Posted::new(Method::Get, query, b"");
        assert_eq!(verify(App::SmsForwarder, &posted, SECRET, now()), Ok(()));
        // The app's default GET encodes `sign` once only.
        let once = query.replace("%253D", "%3D");
        let posted = Posted::new(Method::Get, &once, b"");
        assert_eq!(verify(App::SmsForwarder, &posted, SECRET, now()), Ok(()));
    }

    #[test]
    fn timestamps_outside_their_window_are_refused() {
        let two_hours_later = now() + chrono::Duration::hours(2);
        let err = refused(
            App::SmsForwarder,
            &example("pppscn-smsforwarder-json-template"),
            SECRET,
            two_hours_later,
        );
        assert_eq!(
            err.to_string(),
            "smsforwarder: the timestamp field is -7204 s from now, outside the 3600 s allowed"
        );
        let an_hour_early = now() - chrono::Duration::minutes(61);
        assert!(matches!(
            refused(
                App::SmsForwarder,
                &example("pppscn-smsforwarder-default-form"),
                SECRET,
                an_hour_early
            ),
            AuthError::OutOfWindow {
                off_by_s: 3_656,
                ..
            }
        ));
        let six_minutes_later = now() + chrono::Duration::minutes(6);
        let err = refused(
            App::Capcom6,
            &example("capcom6-android-sms-gateway"),
            SECRET,
            six_minutes_later,
        );
        assert!(matches!(
            err,
            AuthError::OutOfWindow {
                what: "the X-Timestamp header",
                off_by_s: -364,
                window_s: 300,
                ..
            }
        ));
        // Within the window, either way.
        let posted = example("capcom6-android-sms-gateway");
        assert_eq!(
            verify(
                App::Capcom6,
                &posted,
                SECRET,
                now() + chrono::Duration::minutes(4)
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                App::Capcom6,
                &posted,
                SECRET,
                now() - chrono::Duration::minutes(4)
            ),
            Ok(())
        );
    }

    #[test]
    fn an_expired_or_premature_jwt_is_refused_with_a_minutes_leeway() {
        let posted = example("httpsms");
        // exp = 08:10:01, nbf = 07:50:01.
        let exp = DateTime::from_timestamp(1_795_507_801, 0).unwrap();
        let nbf = DateTime::from_timestamp(1_795_506_601, 0).unwrap();
        let minute = chrono::Duration::seconds(60);
        let second = chrono::Duration::seconds(1);
        assert_eq!(verify(App::Httpsms, &posted, SECRET, exp + minute), Ok(()));
        assert!(matches!(
            refused(App::Httpsms, &posted, SECRET, exp + minute + second),
            AuthError::OutOfWindow {
                what: "the JWT's exp",
                off_by_s: -61,
                ..
            }
        ));
        assert_eq!(verify(App::Httpsms, &posted, SECRET, nbf - minute), Ok(()));
        assert!(matches!(
            refused(App::Httpsms, &posted, SECRET, nbf - minute - second),
            AuthError::OutOfWindow {
                what: "the JWT's nbf",
                off_by_s: 61,
                ..
            }
        ));
    }

    #[test]
    fn a_jwt_of_another_algorithm_or_shape_is_malformed() {
        let posted = example("httpsms");
        let jwt = bearer(posted.header("Authorization").unwrap()).unwrap();
        let (_, rest) = jwt.split_once('.').unwrap();
        // {"alg":"none","typ":"JWT"}
        let none = format!("Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{rest}");
        let forged = without_header(&posted, "Authorization").with_header("Authorization", &none);
        assert_eq!(
            refused(App::Httpsms, &forged, SECRET, now()),
            AuthError::Malformed {
                app: App::Httpsms,
                what: "the JWT's alg (only HS256 is taken)"
            }
        );
        let basic =
            without_header(&posted, "Authorization").with_header("Authorization", "Basic dGVzdA==");
        assert!(matches!(
            refused(App::Httpsms, &basic, SECRET, now()),
            AuthError::Malformed { .. }
        ));
        let two_parts =
            without_header(&posted, "Authorization").with_header("Authorization", "Bearer a.b");
        assert!(matches!(
            refused(App::Httpsms, &two_parts, SECRET, now()),
            AuthError::Malformed {
                what: "the JWT",
                ..
            }
        ));
    }

    #[test]
    fn a_missing_proof_is_named() {
        let cases = [
            (
                "capcom6-android-sms-gateway",
                App::Capcom6,
                "X-Signature",
                "the X-Signature header",
            ),
            (
                "capcom6-android-sms-gateway",
                App::Capcom6,
                "X-Timestamp",
                "the X-Timestamp header",
            ),
            (
                "textbee",
                App::Textbee,
                "X-Signature",
                "the X-Signature header",
            ),
            (
                "httpsms",
                App::Httpsms,
                "Authorization",
                "the Authorization header",
            ),
        ];
        for (name, app, header, what) in cases {
            let posted = without_header(&example(name), header);
            assert_eq!(
                refused(app, &posted, SECRET, now()),
                AuthError::Missing { app, what },
                "{name} without {header}"
            );
        }
        let unsigned =
            br#"{"from":"+6281200000099","content":"kode 4321","timestamp":"1795507201000"}"#;
        assert_eq!(
            refused(
                App::SmsForwarder,
                &decode::tests::json_post(std::str::from_utf8(unsigned).unwrap()),
                SECRET,
                now()
            ),
            AuthError::Missing {
                app: App::SmsForwarder,
                what: "the sign field"
            }
        );
        let no_secret = decode::tests::form_post("from=%2B6281200000099&message=kode%204321");
        assert_eq!(
            refused(App::Smssync, &no_secret, SECRET, now()),
            AuthError::Missing {
                app: App::Smssync,
                what: "the form's secret field"
            }
        );
    }

    #[test]
    fn token_apps_take_the_token_from_the_query_a_header_or_a_bearer() {
        for app in App::ALL.into_iter().filter(|a| a.auth() == AuthKind::Token) {
            let body = b"{}";
            let bare = Posted::new(Method::Post, "", body);
            assert!(matches!(
                refused(app, &bare, SECRET, now()),
                AuthError::Missing { .. }
            ));
            let query = format!("token={SECRET}");
            let by_query = Posted::new(Method::Post, &query, body);
            assert_eq!(verify(app, &by_query, SECRET, now()), Ok(()), "{app}");
            let by_header = bare.clone().with_header("X-Simrotor-Token", SECRET);
            assert_eq!(verify(app, &by_header, SECRET, now()), Ok(()), "{app}");
            let by_bearer = bare
                .clone()
                .with_header("Authorization", &format!("Bearer {SECRET}"));
            assert_eq!(verify(app, &by_bearer, SECRET, now()), Ok(()), "{app}");
            // The admin token in Authorization and the app's token in the URL: the URL's counts.
            let both = by_query
                .clone()
                .with_header("Authorization", "Bearer admin-token");
            assert_eq!(verify(app, &both, SECRET, now()), Ok(()), "{app}");
            let wrong = bare.clone().with_header("X-Simrotor-Token", "wrong-secret");
            assert_eq!(
                refused(app, &wrong, SECRET, now()),
                AuthError::Mismatch {
                    app,
                    what: "the X-Simrotor-Token header"
                }
            );
        }
    }

    #[test]
    fn no_configured_secret_verifies_nothing() {
        for app in App::ALL {
            let posted = Posted::new(Method::Post, "token=", b"");
            assert_eq!(
                verify(app, &posted, "", now()),
                Err(AuthError::NoSecret { app })
            );
        }
    }
}

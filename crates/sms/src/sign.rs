//! The apps' signatures, computed one way for both sides: [`crate::verify()`] checks what came,
//! [`crate::encode()`] signs what the simulator posts. Each function is the formula the app's
//! own source uses (`contract/sms-forwarders.md`, "Signatures").

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// SmsForwarder's `sign` before URL-encoding: Base64(HMAC-SHA256(secret, `"<timestamp>\n<secret>"`)).
pub fn smsforwarder(secret: &str, timestamp_ms: &str) -> String {
    let message = format!("{timestamp_ms}\n{secret}");
    base64::engine::general_purpose::STANDARD.encode(hmac(secret.as_bytes(), &[message.as_bytes()]))
}

/// capcom6's `X-Signature`: hex(HMAC-SHA256(secret, body ‖ X-Timestamp)).
pub fn capcom6(secret: &str, body: &[u8], timestamp: &str) -> String {
    hex::encode(hmac(secret.as_bytes(), &[body, timestamp.as_bytes()]))
}

/// textbee's `X-Signature`: hex(HMAC-SHA256(secret, body)).
pub fn textbee(secret: &str, body: &[u8]) -> String {
    hex::encode(hmac(secret.as_bytes(), &[body]))
}

/// The HS256 signature of a JWT's `header.payload`, base64url without padding.
pub fn jwt_hs256(secret: &str, signing_input: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(hmac(secret.as_bytes(), &[signing_input.as_bytes()]))
}

/// Compares two signatures without an early exit: the time says nothing about the right one.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // The contract's example requests are signed with `test-secret` over their exact bytes.
    #[test]
    fn the_contract_examples_signatures_are_reproduced() {
        assert_eq!(
            smsforwarder("test-secret", "1795507201000"),
            "RnBQOfLWx8qxbBycQ8HJ65XYU3x2WPgzZQJJmLR1rMk="
        );
        let capcom6_body = crate::fixture::get("capcom6-android-sms-gateway").unwrap();
        assert_eq!(
            capcom6("test-secret", capcom6_body.body, "1795507201"),
            capcom6_body.header("X-Signature").unwrap()
        );
        let textbee_body = crate::fixture::get("textbee").unwrap();
        assert_eq!(
            textbee("test-secret", textbee_body.body),
            textbee_body.header("X-Signature").unwrap()
        );
        let httpsms = crate::fixture::get("httpsms").unwrap();
        let jwt = httpsms
            .header("Authorization")
            .unwrap()
            .strip_prefix("Bearer ")
            .unwrap();
        let (input, signature) = jwt.rsplit_once('.').unwrap();
        assert_eq!(jwt_hs256("test-secret", input), signature);
    }

    #[test]
    fn same_compares_whole_strings() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}

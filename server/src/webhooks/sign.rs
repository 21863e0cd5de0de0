//! Standard Webhooks signatures (<https://www.standardwebhooks.com>):
//! `webhook-signature: v1,<base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))>`,
//! the key being the bytes of the secret `whsec_<base64>`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a secret's text.
const PREFIX: &str = "whsec_";

/// Bytes of a new secret's key.
const KEY_BYTES: usize = 32;

/// A new secret: `whsec_` + base64 of 32 random bytes.
pub(crate) fn new_secret() -> Result<String, getrandom::Error> {
    let mut key = [0_u8; KEY_BYTES];
    getrandom::fill(&mut key)?;
    Ok(format!("{PREFIX}{}", STANDARD.encode(key)))
}

/// The HMAC key of a secret (`whsec_` and standard base64); `None` if it is
/// not one.
pub(crate) fn key(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix(PREFIX)?).ok()
}

/// The `webhook-signature` header's value for one message. (HMAC takes a
/// key of any length: the error never happens.)
pub(crate) fn sign(
    key: &[u8],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, hmac::digest::InvalidLength> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the specification's reference library
    /// (standard-webhooks/standard-webhooks, libraries/rust/src/lib.rs,
    /// `test_sign`; the same values are in its other languages' tests).
    #[test]
    fn signs_the_reference_example() {
        let key = key("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap_or_default();
        assert_eq!(key.len(), 24);
        assert_eq!(
            sign(
                &key,
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1_649_367_553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            )
            .ok()
            .as_deref(),
            Some("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=")
        );
    }

    #[test]
    fn new_secrets_hold_32_random_bytes() {
        let (a, b) = (new_secret(), new_secret());
        let (Ok(a), Ok(b)) = (a, b) else {
            panic!("no randomness");
        };
        assert!(a.starts_with("whsec_"));
        assert_eq!(key(&a).map(|k| k.len()), Some(32));
        assert_ne!(a, b);
        assert_eq!(key("C2FVsBQIhrscChlQIMV+b5sSYspob7oD"), None);
        assert_eq!(key("whsec_not base64!"), None);
    }
}

//! Ed25519 note keys in the text formats of C2SP signed-note (verifier
//! keys) and Go's `golang.org/x/mod/sumdb/note` (signer keys).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::LogError;

/// The signature type byte of Ed25519 (C2SP signed-note §Signature types).
const ED25519: u8 = 0x01;

/// A key name as C2SP signed-note allows it: non-empty, without Unicode
/// spaces (`White_Space`) or `+`.
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c.is_whitespace() || c == '+')
}

/// The key ID of C2SP signed-note: the first 4 bytes, big-endian, of
/// `SHA-256(name || 0x0A || 0x01 || public key)`.
fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', ED25519]);
    hasher.update(public);
    let digest: [u8; 32] = hasher.finalize().into();
    let [a, b, c, d, ..] = digest;
    u32::from_be_bytes([a, b, c, d])
}

/// Reads `hexid+base64(0x01 || 32 bytes)`, the end of both key formats.
fn id_and_key(rest: &str) -> Result<(u32, [u8; 32]), LogError> {
    let (id, key) = rest
        .split_once('+')
        .ok_or(LogError::MalformedKey("expected name+hexid+base64 key"))?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(LogError::MalformedKey("the key ID is not 8 hex digits"));
    }
    let id = u32::from_str_radix(id, 16)
        .map_err(|_| LogError::MalformedKey("the key ID is not 8 hex digits"))?;
    let bytes = STANDARD
        .decode(key)
        .map_err(|_| LogError::MalformedKey("the key is not standard base64"))?;
    match bytes.split_first() {
        Some((&ED25519, key)) => {
            let key = <[u8; 32]>::try_from(key)
                .map_err(|_| LogError::MalformedKey("an Ed25519 key is 32 bytes"))?;
            Ok((id, key))
        }
        Some((&other, _)) => Err(LogError::UnsupportedKeyType(other)),
        None => Err(LogError::MalformedKey("the key is empty")),
    }
}

/// The public key a log's checkpoints are verified with, pinned by whoever
/// verifies: an Ed25519 key with its name and key ID, as C2SP signed-note
/// defines them (key ID = the first 4 bytes of `SHA-256(name || 0x0A ||
/// 0x01 || public key)`).
///
/// Its text form (a "vkey") is `name+hexid+base64(0x01 || public key)`, e.g.
/// `PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW`.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl VerifierKey {
    /// Reads a vkey, `name+hexid+base64(0x01 || 32-byte public key)` (C2SP
    /// signed-note §Verifier keys).
    ///
    /// # Errors
    /// [`LogError::InvalidKeyName`], [`LogError::MalformedKey`] (not three
    /// parts, an ID that is not 8 hex digits, a key that is not base64 of
    /// 33 bytes or not a point of the curve),
    /// [`LogError::UnsupportedKeyType`] for a type byte other than `0x01`,
    /// [`LogError::KeyIdMismatch`] when the ID is not the one the name and
    /// key give.
    pub fn parse(vkey: &str) -> Result<Self, LogError> {
        let (name, rest) = vkey
            .split_once('+')
            .ok_or(LogError::MalformedKey("expected name+hexid+base64 key"))?;
        if !valid_name(name) {
            return Err(LogError::InvalidKeyName);
        }
        let (id, public) = id_and_key(rest)?;
        if id != key_id(name, &public) {
            return Err(LogError::KeyIdMismatch);
        }
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| LogError::MalformedKey("not an Ed25519 public key"))?;
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The vkey text, as [`parse`](Self::parse) reads it.
    pub fn to_vkey(&self) -> String {
        let mut key = Vec::with_capacity(33);
        key.push(ED25519);
        key.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, STANDARD.encode(key))
    }

    /// The key's name: the origin of the log's checkpoints.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID (C2SP signed-note), which a signature line starts with.
    pub const fn id(&self) -> u32 {
        self.id
    }

    /// A fingerprint for people to compare a pinned key with the log's: the
    /// SHA-256 of `0x01 || public key`, as 64 lowercase hex digits.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update([ED25519]);
        hasher.update(self.key.as_bytes());
        hex::encode(hasher.finalize())
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`
    /// (RFC 8032, with the strict checks of `ed25519-dalek`'s
    /// `verify_strict`: no small-order keys or points, canonical `S`).
    pub(super) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.key.verify_strict(message, &signature).is_ok()
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({})", self.to_vkey())
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vkey())
    }
}

/// A log's private signing key: an Ed25519 key with its name and key ID.
///
/// Its text form (an "skey", the format of Go's
/// `golang.org/x/mod/sumdb/note`) is
/// `PRIVATE+KEY+name+hexid+base64(0x01 || 32-byte seed)`. Its `Debug` never
/// shows the seed.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    id: u32,
    key: SigningKey,
}

impl SignerKey {
    /// The key of `name` whose Ed25519 seed (RFC 8032 private key) is
    /// `seed`: 32 random bytes the host draws (the core reads no randomness).
    ///
    /// # Errors
    /// [`LogError::InvalidKeyName`] for a name C2SP signed-note forbids.
    pub fn generate(name: &str, seed: [u8; 32]) -> Result<Self, LogError> {
        if !valid_name(name) {
            return Err(LogError::InvalidKeyName);
        }
        let key = SigningKey::from_bytes(&seed);
        Ok(Self {
            name: name.to_owned(),
            id: key_id(name, key.verifying_key().as_bytes()),
            key,
        })
    }

    /// Reads an skey, `PRIVATE+KEY+name+hexid+base64(0x01 || seed)`.
    ///
    /// # Errors
    /// As [`VerifierKey::parse`], and [`LogError::MalformedKey`] without the
    /// `PRIVATE+KEY+` prefix; [`LogError::KeyIdMismatch`] when the ID is not
    /// the one of the name and the public key the seed gives.
    pub fn parse(skey: &str) -> Result<Self, LogError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(LogError::MalformedKey(
                "expected PRIVATE+KEY+name+hexid+base64",
            ))?;
        let (name, rest) = rest.split_once('+').ok_or(LogError::MalformedKey(
            "expected PRIVATE+KEY+name+hexid+base64",
        ))?;
        let (id, seed) = id_and_key(rest)?;
        let key = Self::generate(name, seed)?;
        if key.id != id {
            return Err(LogError::KeyIdMismatch);
        }
        Ok(key)
    }

    /// The skey text, as [`parse`](Self::parse) reads it. It holds the
    /// private key: keep it secret.
    pub fn to_skey(&self) -> String {
        let mut seed = Vec::with_capacity(33);
        seed.push(ED25519);
        seed.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            STANDARD.encode(seed)
        )
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching public key, to publish and pin.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// A signature line of C2SP signed-note for `text`, with its newline:
    /// `— name base64(key ID || Ed25519 signature)`.
    pub(super) fn signature_line(&self, text: &[u8]) -> String {
        use ed25519_dalek::Signer as _;
        let signature = self.key.sign(text);
        let mut bytes = Vec::with_capacity(68);
        bytes.extend_from_slice(&self.id.to_be_bytes());
        bytes.extend_from_slice(&signature.to_bytes());
        format!("\u{2014} {} {}\n", self.name, STANDARD.encode(bytes))
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignerKey({}, private)", self.verifier().to_vkey())
    }
}

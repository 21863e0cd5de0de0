//! Record ids, scheme `v1`: SHA-256 of the canonical line, in lowercase hex.

use std::cell::RefCell;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// The id scheme this crate implements.
pub const ID_SCHEME: &str = "v1";

/// A v1 record id: the SHA-256 of a record's canonical line.
///
/// Displayed, serialized and parsed as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId([u8; 32]);

impl RecordId {
    /// The id of a canonical line (`project_name|registry|vintage|quantity|serial_number`).
    pub fn of_canonical_line(line: &str) -> Self {
        Self::of_line_bytes(line.as_bytes())
    }

    pub(crate) fn of_line_bytes(line: &[u8]) -> Self {
        Self(Sha256::digest(line).into())
    }

    /// The id whose digest is `digest` (computed elsewhere: [`crate::IdBatch`]).
    pub(crate) const fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The 32 bytes of the digest.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Writes the 64 hex digits into `buf` and returns them as a `&str`,
    /// for hosts that build their own string type without an allocation.
    pub fn encode_hex<'a>(&self, buf: &'a mut [u8; 64]) -> &'a str {
        // Cannot fail: the buffer is exactly twice the digest's length.
        if hex::encode_to_slice(self.0, buf).is_err() {
            return "";
        }
        std::str::from_utf8(buf).unwrap_or_default()
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode_hex(&mut [0; 64]))
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({self})")
    }
}

/// Why a string is not a record id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a record id is 64 lowercase hexadecimal digits")]
pub struct ParseRecordIdError;

impl FromStr for RecordId {
    type Err = ParseRecordIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Lowercase only: ids are compared as text by every host and store.
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(ParseRecordIdError);
        }
        let mut bytes = [0; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| ParseRecordIdError)?;
        Ok(Self(bytes))
    }
}

impl Serialize for RecordId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.encode_hex(&mut [0; 64]))
    }
}

impl<'de> Deserialize<'de> for RecordId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

thread_local! {
    /// Scratch space for canonical lines, so that bulk id derivation does not
    /// allocate per record.
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(256));
}

/// Runs `f` with an empty per-thread line buffer.
pub(crate) fn with_line_buffer<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    LINE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut line) => {
            line.clear();
            f(&mut line)
        }
        // Only reachable if `f` re-entered; a fresh buffer keeps it correct.
        Err(_) => f(&mut Vec::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example() {
        let id = RecordId::of_canonical_line("solar farm|vcs|2023|100.1000|vcs-001");
        assert_eq!(
            id.to_string(),
            "a5bc4dc91565de74176de49c87f05596fdaecb63004268bc71473c4f1fda6187"
        );
        assert_eq!(id.to_string().parse::<RecordId>(), Ok(id));
    }

    #[test]
    fn parse_rejects_non_ids() {
        for s in ["", "abc", &"A".repeat(64), &"g".repeat(64), &"0".repeat(65)] {
            assert!(s.parse::<RecordId>().is_err(), "{s}");
        }
    }
}

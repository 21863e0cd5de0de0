//! Checkpoints: the note text of C2SP tlog-checkpoint.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::leaf::Hash;
use super::LogError;

/// A checkpoint's body (C2SP tlog-checkpoint, "Note text"): the log's
/// origin, the tree size and the root hash, each on its own line.
///
/// ```text
/// carbon-tracker.example/log
/// 5
/// 8v7VbEbL6eGPjYS5ysHTy/3/7RkIRYr8fr7rAxG4hPE=
/// ```
///
/// Extension lines (the optional fourth line on of the C2SP format) are
/// neither written nor accepted: this log signs none, and a verifier could
/// not audit them.
///
/// As JSON: `{"origin": …, "size": …, "root": "64 hex digits"}`.
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// The log's identity: one non-empty line, by convention a schema-less
    /// URL such as `carbon-tracker.example/log`; also the name of the key
    /// that signs it.
    pub origin: String,
    /// The number of leaves in the tree.
    pub size: u64,
    /// The tree's root hash (RFC 9162 §2.1.1).
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub root: Hash,
}

impl Checkpoint {
    /// A checkpoint, once its origin is checked: non-empty and free of
    /// control characters (a newline would end the line; C2SP signed-note
    /// forbids the others).
    ///
    /// # Errors
    /// [`LogError::MalformedCheckpoint`] for an origin that is not one line.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Result<Self, LogError> {
        let origin = origin.into();
        check_origin(&origin)?;
        Ok(Self { origin, size, root })
    }

    /// The note text: `origin\nsize\nbase64(root)\n` (C2SP tlog-checkpoint:
    /// the size in decimal without leading zeros, the root in standard
    /// base64 with padding, each line ending in a newline).
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        )
    }

    /// Reads a note text written as [`body`](Self::body) writes it.
    ///
    /// # Errors
    /// [`LogError::MalformedCheckpoint`] naming what is wrong: a text that
    /// does not end in a newline, an empty origin, a size that is not
    /// decimal without leading zeros (or beyond 2^64 − 1), a root that is
    /// not the canonical base64 of 32 bytes, extension lines.
    pub fn parse_body(text: &str) -> Result<Self, LogError> {
        let text = text
            .strip_suffix('\n')
            .ok_or(LogError::MalformedCheckpoint(
                "the text must end with a newline",
            ))?;
        let mut lines = text.split('\n');
        let origin = lines.next().unwrap_or_default();
        check_origin(origin)?;
        let size = lines.next().ok_or(LogError::MalformedCheckpoint(
            "the tree size line is missing",
        ))?;
        let size = parse_size(size)?;
        let root = lines.next().ok_or(LogError::MalformedCheckpoint(
            "the root hash line is missing",
        ))?;
        let root = parse_root(root)?;
        if lines.next().is_some() {
            return Err(LogError::MalformedCheckpoint(
                "extension lines are not accepted",
            ));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

fn check_origin(origin: &str) -> Result<(), LogError> {
    if origin.is_empty() {
        return Err(LogError::MalformedCheckpoint("the origin line is empty"));
    }
    if origin.chars().any(|c| c < ' ') {
        return Err(LogError::MalformedCheckpoint(
            "the origin holds a control character",
        ));
    }
    Ok(())
}

fn parse_size(line: &str) -> Result<u64, LogError> {
    let digits = !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit());
    if !digits || (line.len() > 1 && line.starts_with('0')) {
        return Err(LogError::MalformedCheckpoint(
            "the tree size is not decimal without leading zeros",
        ));
    }
    line.parse()
        .map_err(|_| LogError::MalformedCheckpoint("the tree size is beyond 2^64 - 1"))
}

fn parse_root(line: &str) -> Result<Hash, LogError> {
    let bad = LogError::MalformedCheckpoint("the root hash is not the base64 of 32 bytes");
    let bytes = STANDARD.decode(line).map_err(|_| bad.clone())?;
    Hash::try_from(bytes.as_slice()).map_err(|_| bad)
}

impl Serialize for Checkpoint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Checkpoint", 3)?;
        s.serialize_field("origin", &self.origin)?;
        s.serialize_field("size", &self.size)?;
        s.serialize_field("root", &hex::encode(self.root))?;
        s.end()
    }
}

impl<'de> Deserialize<'de> for Checkpoint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            origin: String,
            size: u64,
            root: String,
        }
        let raw = Raw::deserialize(deserializer)?;
        let root = super::parse_hash(&raw.root).map_err(serde::de::Error::custom)?;
        Self::new(raw.origin, raw.size, root).map_err(serde::de::Error::custom)
    }
}

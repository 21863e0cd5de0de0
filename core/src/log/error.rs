//! What can go wrong with leaves, proofs, keys, notes and checkpoints.

/// Why a leaf, a proof, a key, a signed note or a checkpoint was refused.
///
/// Each variant has a stable [`code`](Self::code), which hosts report as
/// data (as for the other errors of the core).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A `CREATED` leaf commits to its record (SPEC §7): the record is
    /// required for a `CREATED` event and refused for any other.
    #[error("a CREATED event's leaf includes its record's canonical fields; other events' leaves do not (event type {event_type})")]
    LeafRecord {
        /// The event's type.
        event_type: crate::EventType,
    },
    /// The record given for a `CREATED` leaf is not the event's record: its
    /// v1 id differs from the event's `record_id`.
    #[error("the record's v1 id is {record}, but the event belongs to {event}")]
    RecordMismatch {
        /// The v1 id of the record given.
        record: crate::RecordId,
        /// The event's `record_id`.
        event: crate::RecordId,
    },
    /// The event could not be written as RFC 8785 JSON (a timestamp out of
    /// range, or a payload number that is not finite as an IEEE double).
    #[error("the event cannot be written as RFC 8785 canonical JSON: {0}")]
    Canonical(String),
    /// A leaf index at or beyond the tree's size (RFC 9162 §2.1.3.2, step 1).
    #[error("leaf index {index} is not in a tree of {size} leaves")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The sizes of a consistency proof are not `0 < old ≤ new` (a proof
    /// from an empty tree proves nothing: RFC 9162 §2.1.4 defines proofs
    /// between non-empty trees).
    #[error("no consistency proof exists from a tree of {old} leaves to one of {new}")]
    InvalidSizes {
        /// The older tree's size.
        old: u64,
        /// The newer tree's size.
        new: u64,
    },
    /// A proof has the wrong number of hashes for its index and size.
    #[error("the proof has {found} hashes; a proof for this index and tree size has {expected}")]
    ProofLength {
        /// The number of hashes such a proof has.
        expected: usize,
        /// The number the proof has.
        found: usize,
    },
    /// A proof does not lead to the root it claims (a hash of the proof, the
    /// leaf, the index, the size or the root is not what was logged).
    #[error("the proof does not lead to the tree's root")]
    RootMismatch,
    /// A consistency proof's hashes do not rebuild the older tree's root:
    /// the older tree is not a prefix of the newer one (the check whose
    /// absence was immudb's GHSA-672p-m5jq-mrh8).
    #[error("the consistency proof does not rebuild the older tree's root")]
    OldRootMismatch,
    /// A hash that is not 64 hexadecimal digits (32 bytes).
    #[error("a hash is 64 hexadecimal digits (32 bytes)")]
    InvalidHash,
    /// A key name that C2SP signed-note forbids: empty, or holding a Unicode
    /// space or a `+`.
    #[error("a key name must be non-empty, without spaces or '+'")]
    InvalidKeyName,
    /// A verifier or signer key that is not in the format of C2SP
    /// signed-note (`name+hexid+base64`, `PRIVATE+KEY+name+hexid+base64`).
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    /// A key whose ID is not the one its name and public key give
    /// (C2SP signed-note: `SHA-256(name || 0x0A || 0x01 || key)[:4]`).
    #[error("the key's ID does not match its name and public key")]
    KeyIdMismatch,
    /// A key of another signature type than Ed25519 (`0x01`).
    #[error("unsupported key type {0:#04x}: only Ed25519 (0x01) keys are used")]
    UnsupportedKeyType(u8),
    /// Text that is not a signed note (C2SP signed-note §Format).
    #[error("malformed signed note: {0}")]
    MalformedNote(&'static str),
    /// A signature line from the pinned key (same name and key ID) that does
    /// not verify: the whole note is rejected (C2SP signed-note).
    #[error("a signature of key {name} does not verify")]
    InvalidSignature {
        /// The key's name.
        name: String,
    },
    /// The note carries no signature of the pinned key.
    #[error("the note has no signature from key {name}")]
    UnverifiedNote {
        /// The pinned key's name.
        name: String,
    },
    /// A note body that is not a checkpoint (C2SP tlog-checkpoint: origin,
    /// tree size, base64 root hash; extension lines are refused here).
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// The checkpoint's origin is not the pinned key's name: a checkpoint
    /// of another log, signed with the same key.
    #[error("the checkpoint's origin is {origin:?}, not the key's name {key:?}")]
    WrongOrigin {
        /// The checkpoint's origin line.
        origin: String,
        /// The key's name.
        key: String,
    },
}

impl LogError {
    /// The stable code, e.g. `"root_mismatch"`.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::LeafRecord { .. } => "leaf_record",
            Self::RecordMismatch { .. } => "record_mismatch",
            Self::Canonical(_) => "not_canonical_json",
            Self::IndexOutOfRange { .. } => "index_out_of_range",
            Self::InvalidSizes { .. } => "invalid_sizes",
            Self::ProofLength { .. } => "proof_length",
            Self::RootMismatch => "root_mismatch",
            Self::OldRootMismatch => "old_root_mismatch",
            Self::InvalidHash => "invalid_hash",
            Self::InvalidKeyName => "invalid_key_name",
            Self::MalformedKey(_) => "malformed_key",
            Self::KeyIdMismatch => "key_id_mismatch",
            Self::UnsupportedKeyType(_) => "unsupported_key_type",
            Self::MalformedNote(_) => "malformed_note",
            Self::InvalidSignature { .. } => "invalid_signature",
            Self::UnverifiedNote { .. } => "unverified_note",
            Self::MalformedCheckpoint(_) => "malformed_checkpoint",
            Self::WrongOrigin { .. } => "wrong_origin",
        }
    }
}

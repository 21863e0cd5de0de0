//! A leaf's bytes (SPEC §7) and the hashing of RFC 9162 §2.1.1.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::LogError;
use crate::canonical::CanonicalRecord;
use crate::lifecycle::{Event, EventType};

/// A SHA-256 digest: a leaf hash, a node hash or a tree's root.
pub type Hash = [u8; 32];

/// The leaf as serialized: the event's own keys, and `record` for a
/// `CREATED` event. RFC 8785 sorts the keys, so the order here is immaterial.
#[derive(Serialize)]
struct Leaf<'a> {
    #[serde(flatten)]
    event: &'a Event,
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<&'a CanonicalRecord>,
}

/// The bytes of an event as a leaf of the log (SPEC §7): RFC 8785 (JCS)
/// canonical JSON of the event's object
/// `{id, record_id, seq, event_type, payload, created_at}` exactly as
/// [`Event`] serializes it (`id` a hyphenated lowercase UUID, `record_id` 64
/// lowercase hex digits, `payload` an object or `null`, `created_at` RFC 3339
/// in UTC with `Z` and no trailing zeros in its fraction), and, for a
/// `CREATED` event only, one more key `"record"`: the record's canonical
/// fields `{project_name, registry, vintage, quantity, serial_number}` as
/// [`CanonicalRecord`] serializes them (`vintage` a number, `quantity` a
/// string such as `"100.0000"`), so the log commits to what was registered.
///
/// RFC 8785 writes keys sorted by their UTF-16 code units, strings with the
/// fewest escapes, and every number as ECMAScript writes the nearest IEEE
/// double (`12.50` → `12.5`, `1E+2` → `100`): a payload number's own
/// spelling is not committed to, its value as a double is. (A decimal kept
/// exactly, such as a `price` of `"12.50"`, is a string and stays as sent.)
///
/// # Errors
/// [`LogError::LeafRecord`] when `record` is missing for a `CREATED` event
/// or given for another; [`LogError::RecordMismatch`] when the record's v1
/// id is not the event's `record_id`; [`LogError::Canonical`] when the
/// event cannot be written (a timestamp out of range, a payload number
/// beyond the range of a double).
pub fn leaf_bytes(event: &Event, record: Option<&CanonicalRecord>) -> Result<Vec<u8>, LogError> {
    match (event.event_type, record) {
        (EventType::Created, Some(record)) => {
            let id = record.id();
            if id != event.record_id {
                return Err(LogError::RecordMismatch {
                    record: id,
                    event: event.record_id,
                });
            }
        }
        (EventType::Created, None) | (_, Some(_)) => {
            return Err(LogError::LeafRecord {
                event_type: event.event_type,
            })
        }
        (_, None) => {}
    }
    serde_json_canonicalizer::to_vec(&Leaf { event, record })
        .map_err(|e| LogError::Canonical(e.to_string()))
}

/// The hash of a leaf: `SHA-256(0x00 || leaf)` (RFC 9162 §2.1.1; the
/// `0x00` prefix keeps a leaf from ever hashing like an interior node).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf);
    hasher.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`
/// (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: the SHA-256 of no bytes (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

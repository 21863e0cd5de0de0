//! The verifiable history of SPEC §7: every committed event is a leaf of one
//! append-only Merkle log; the log signs checkpoints of it; a record's
//! certificate proves its story offline. Behind the core's `log` feature.
//!
//! - a leaf's bytes: the event in RFC 8785 canonical JSON, a `CREATED`
//!   event with its record's canonical fields ([`leaf_bytes`]);
//! - the tree: RFC 9162 §2.1 hashing ([`leaf_hash`], [`node_hash`],
//!   [`root`]), inclusion and consistency proofs and their verification
//!   ([`inclusion_proof`], [`consistency_proof`], [`verify_inclusion`],
//!   [`verify_consistency`]), and [`MerkleTree`], which keeps complete
//!   subtrees' hashes to serve roots and proofs of any size in O(log² n);
//! - checkpoints: C2SP tlog-checkpoint bodies ([`Checkpoint`]) in C2SP
//!   signed notes with Ed25519 keys ([`SignerKey`], [`VerifierKey`],
//!   [`sign_checkpoint`], [`open_checkpoint`]);
//! - certificates: [`Certificate`] and [`verify_certificate`].
//!
//! No IO: a signing key's seed is an argument, as are the leaves.
//!
//! Crates: `ed25519-dalek` (v2) for Ed25519 (RFC 8032);
//! `serde_json_canonicalizer` for RFC 8785, which writes numbers as
//! ECMAScript does through `ryu-js`, also for serde_json's
//! `arbitrary_precision` numbers this workspace enables (their text is read
//! as a double and written again); `base64`; the core's `sha2`. The Merkle
//! proofs and the note format are written here (see `proof.rs` and
//! `note.rs` for why), tested against the published transparency-dev, Go
//! and C2SP vectors in `tests/vectors/log.json`.

mod certificate;
mod checkpoint;
mod error;
mod key;
mod leaf;
mod merkle_tree;
mod note;
mod proof;
mod tree;

pub use certificate::{
    verify_certificate, Certificate, CertificateError, CertifiedEvent, CertifiedRecord,
    LineageError, Verified,
};
pub use checkpoint::Checkpoint;
pub use error::LogError;
pub use key::{SignerKey, VerifierKey};
pub use leaf::{empty_root, leaf_bytes, leaf_hash, node_hash, Hash};
pub use merkle_tree::MerkleTree;
pub use note::{
    open_checkpoint, open_note, sign_checkpoint, sign_note, MAX_NOTE_BYTES, MAX_SIGNATURES,
};
pub use proof::{verify_consistency, verify_inclusion};
pub use tree::{consistency_proof, inclusion_proof, root};

/// Reads a hash written as 64 hexadecimal digits (either case).
///
/// # Errors
/// [`LogError::InvalidHash`] for anything else.
pub fn parse_hash(text: &str) -> Result<Hash, LogError> {
    let mut hash = [0; 32];
    hex::decode_to_slice(text, &mut hash).map_err(|_| LogError::InvalidHash)?;
    Ok(hash)
}

/// A hash as 64 lowercase hexadecimal digits, as certificates and the
/// server's proofs write it.
pub fn hash_hex(hash: &Hash) -> String {
    hex::encode(hash)
}

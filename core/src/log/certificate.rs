//! Certificates (SPEC §7): a record's story, proved offline.

use serde::{Deserialize, Serialize};

use super::checkpoint::Checkpoint;
use super::key::VerifierKey;
use super::leaf::{leaf_bytes, leaf_hash, Hash};
use super::note::open_checkpoint;
use super::proof::{verify_consistency, verify_inclusion};
use super::{parse_hash, LogError};
use crate::canonical::CanonicalRecord;
use crate::id::RecordId;
use crate::lifecycle::{replay, Event, EventType, RecordState, TransitionError};
use crate::split::Lineage;

/// A record's certificate (SPEC §7): one JSON document that proves its
/// story offline against a pinned log key. It holds the record and, for a
/// split child, each ancestor back to the registered block, each with its
/// events, each event with its leaf index and inclusion proof, and one
/// signed checkpoint every proof leads to.
///
/// ```json
/// {"record_id": "…", "records": [{"record": {…}, "events": [{"event": {…}, "index": 7, "proof": ["…"]}]}],
///  "checkpoint": "carbon-tracker.example/log\n12\n…=\n\n— carbon-tracker.example/log …\n"}
/// ```
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    /// The certified record: the last of `records`.
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub record_id: RecordId,
    /// The registered block first, then each child down to the certified
    /// record (a record registered whole has one).
    pub records: Vec<CertifiedRecord>,
    /// The signed checkpoint (C2SP tlog-checkpoint in a C2SP signed note)
    /// whose tree every proof is in.
    pub checkpoint: String,
}

/// One record of a certificate, with its whole history.
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CertifiedRecord {
    /// Its canonical fields, from which its v1 id is derived.
    pub record: CanonicalRecord,
    /// Its events, in `seq` order, each with its proof.
    pub events: Vec<CertifiedEvent>,
}

/// An event of a certificate with its place in the log.
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CertifiedEvent {
    /// The event, as `GET /events` serves it.
    pub event: Event,
    /// Its leaf index in the log (0-based).
    pub index: u64,
    /// Its inclusion proof in the checkpoint's tree (RFC 9162 §2.1.3.1),
    /// hashes as 64 lowercase hex digits.
    pub proof: Vec<String>,
}

/// What a valid certificate proves.
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    /// The checkpoint the certificate's proofs lead to, signed by the key.
    pub checkpoint: Checkpoint,
    /// The certified record's state: the replay of its events.
    pub state: RecordState,
    /// The ids from the registered block down to the certified record.
    #[cfg_attr(feature = "typescript", tsify(type = "string[]"))]
    pub lineage: Vec<RecordId>,
}

/// Why a certificate does not verify: what failed, and where.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The checkpoint's signed note does not verify with the pinned key, or
    /// is not a checkpoint of the key's log.
    #[error("the checkpoint is not signed by the pinned key: {0}")]
    Signature(LogError),
    /// An event's leaf is not in the checkpoint's tree at its index.
    #[error("event {seq} of record {record} is not in the log: {error}")]
    Proof {
        /// The event's record.
        record: RecordId,
        /// The event's `seq`.
        seq: u32,
        /// What failed.
        error: LogError,
    },
    /// A record's history breaks the lifecycle rules (SPEC §3, §6).
    #[error("the history of record {record} does not replay: {error}")]
    Replay {
        /// The record.
        record: RecordId,
        /// The transition error.
        error: TransitionError,
    },
    /// An id is not the one derived: an event's `record_id` or the
    /// certificate's `record_id` is not the v1 id of the record's fields.
    #[error("expected record id {expected}, found {found}")]
    Id {
        /// The v1 id derived from the record's canonical fields.
        expected: RecordId,
        /// The id the certificate holds.
        found: RecordId,
    },
    /// The records are not one line of descent from a registered block.
    #[error("{0}")]
    Lineage(LineageError),
    /// The certificate's checkpoint is not consistent with the older
    /// checkpoint the verifier trusts: the log was rewritten or forked.
    #[error("the checkpoint is not consistent with the trusted one: {0}")]
    Consistency(LogError),
}

/// How the records of a certificate fail to be one line of descent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineageError {
    /// The certificate has no records.
    #[error("the certificate holds no records")]
    Empty,
    /// The first record names a parent: the ancestors are not all there.
    #[error("record {record} was split from {parent}, which the certificate does not hold")]
    MissingAncestor {
        /// The first record.
        record: RecordId,
        /// The parent its `CREATED` event names.
        parent: RecordId,
    },
    /// A record's `CREATED` event does not name the previous record as its
    /// parent, or the previous record's `SPLIT` does not name it as a child.
    #[error("record {child} is not a child of record {parent}")]
    NotAChild {
        /// The previous record.
        parent: RecordId,
        /// The record.
        child: RecordId,
    },
}

impl CertificateError {
    /// The stable code: `"signature"`, `"proof"`, `"replay"`, `"id"`,
    /// `"lineage"` or `"consistency"`.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Signature(_) => "signature",
            Self::Proof { .. } => "proof",
            Self::Replay { .. } => "replay",
            Self::Id { .. } => "id",
            Self::Lineage(_) => "lineage",
            Self::Consistency(_) => "consistency",
        }
    }

    /// The code of what failed inside: the [`LogError`] code of a
    /// signature, proof or consistency failure, the [`TransitionError`]
    /// code of a replay, the [`LineageError`] code of a lineage; `None` for
    /// an id.
    pub const fn detail(&self) -> Option<&'static str> {
        match self {
            Self::Signature(e) | Self::Consistency(e) | Self::Proof { error: e, .. } => {
                Some(e.code())
            }
            Self::Replay { error, .. } => Some(error.code()),
            Self::Lineage(e) => Some(e.code()),
            Self::Id { .. } => None,
        }
    }
}

impl LineageError {
    /// The stable code: `"empty"`, `"missing_ancestor"` or `"not_a_child"`.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::MissingAncestor { .. } => "missing_ancestor",
            Self::NotAChild { .. } => "not_a_child",
        }
    }
}

/// Verifies a certificate against the pinned log key, recomputing
/// everything (SPEC §7), in this order:
///
/// 1. the checkpoint's signed note with `key` ([`open_checkpoint`]: a
///    signature of the key, the origin the key's name);
/// 2. with `trusted` (an older checkpoint the verifier holds, and the
///    consistency proof from it to the certificate's checkpoint, as `GET
///    /log/consistency` serves it), that the certificate's tree extends the
///    trusted one (RFC 9162 §2.1.4.2, both roots rebuilt; the same origin;
///    a trusted empty tree needs no proof);
/// 3. for each record, root first: its v1 id derived from its canonical
///    fields (SPEC §2.4, the fields taken as given: the log committed to
///    them in the record's `CREATED` leaf); each event belongs to it, and its leaf
///    ([`leaf_bytes`], RFC 8785) is in the checkpoint's tree at its index
///    (RFC 9162 §2.1.3.2); its history replays with the lifecycle rules
///    ([`replay`]);
/// 4. the lineage: the first record names no parent; each next record's
///    `CREATED` names the previous one as `parent`, and the previous one's
///    `SPLIT` names it as `front` or `back` (SPEC §6);
/// 5. the certificate's `record_id` is the last record's id.
///
/// A log proves what it holds, not that nothing follows: the state is the
/// replay of the events shown. For a final status (`RETIRED`, `CANCELLED`,
/// `SPLIT`) the lifecycle allows nothing after it, so the story is whole.
///
/// # Errors
/// The first check that fails, as a [`CertificateError`].
pub fn verify_certificate(
    cert: &Certificate,
    key: &VerifierKey,
    trusted: Option<(&Checkpoint, &[Hash])>,
) -> Result<Verified, CertificateError> {
    let checkpoint = open_checkpoint(&cert.checkpoint, key).map_err(CertificateError::Signature)?;
    if let Some((old, proof)) = trusted {
        consistent(old, &checkpoint, proof).map_err(CertificateError::Consistency)?;
    }
    let mut lineage: Vec<RecordId> = Vec::with_capacity(cert.records.len());
    let mut previous: Option<(RecordId, Lineage)> = None;
    let mut state = None;
    for certified in &cert.records {
        let id = certified.record.id();
        let mut events = Vec::with_capacity(certified.events.len());
        for e in &certified.events {
            check_event(e, &certified.record, id, &checkpoint)?;
            events.push(e.event.clone());
        }
        state =
            Some(replay(&events).map_err(|error| CertificateError::Replay { record: id, error })?);
        let links = Lineage::of(&events);
        match (&previous, links.parent) {
            (None, None) => {}
            (None, Some(parent)) => {
                return Err(CertificateError::Lineage(LineageError::MissingAncestor {
                    record: id,
                    parent,
                }))
            }
            (Some((parent, parent_links)), named) => {
                let named_by_parent = parent_links
                    .children
                    .is_some_and(|(front, back)| front == id || back == id);
                if named != Some(*parent) || !named_by_parent {
                    return Err(CertificateError::Lineage(LineageError::NotAChild {
                        parent: *parent,
                        child: id,
                    }));
                }
            }
        }
        lineage.push(id);
        previous = Some((id, links));
    }
    let (Some(state), Some(&last)) = (state, lineage.last()) else {
        return Err(CertificateError::Lineage(LineageError::Empty));
    };
    if cert.record_id != last {
        return Err(CertificateError::Id {
            expected: last,
            found: cert.record_id,
        });
    }
    Ok(Verified {
        checkpoint,
        state,
        lineage,
    })
}

/// Step 2: the certificate's checkpoint extends the trusted one.
fn consistent(old: &Checkpoint, new: &Checkpoint, proof: &[Hash]) -> Result<(), LogError> {
    if old.origin != new.origin {
        return Err(LogError::WrongOrigin {
            origin: new.origin.clone(),
            key: old.origin.clone(),
        });
    }
    if old.size == 0 {
        // Every tree extends the empty one; its root must still be the
        // empty tree's.
        return if proof.is_empty() && old.root == super::leaf::empty_root() {
            Ok(())
        } else if proof.is_empty() {
            Err(LogError::OldRootMismatch)
        } else {
            Err(LogError::ProofLength {
                expected: 0,
                found: proof.len(),
            })
        };
    }
    verify_consistency(old.size, new.size, &old.root, &new.root, proof)
}

/// An event belongs to its record and its leaf is in the checkpoint's tree.
fn check_event(
    certified: &CertifiedEvent,
    record: &CanonicalRecord,
    id: RecordId,
    checkpoint: &Checkpoint,
) -> Result<(), CertificateError> {
    let event = &certified.event;
    if event.record_id != id {
        return Err(CertificateError::Id {
            expected: id,
            found: event.record_id,
        });
    }
    let proof_error = |error| CertificateError::Proof {
        record: id,
        seq: event.seq,
        error,
    };
    let created = (event.event_type == EventType::Created).then_some(record);
    let leaf = leaf_bytes(event, created).map_err(proof_error)?;
    let proof = certified
        .proof
        .iter()
        .map(|h| parse_hash(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(proof_error)?;
    verify_inclusion(
        &leaf_hash(&leaf),
        certified.index,
        checkpoint.size,
        &proof,
        &checkpoint.root,
    )
    .map_err(proof_error)
}

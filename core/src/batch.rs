//! Ids of many records at once.
//!
//! One SHA-256 is a chain of dependent rounds, so a single id cannot use
//! more than one lane of a SIMD unit. Independent records can: [`IdBatch`]
//! collects the canonical lines of a batch and hashes them together with
//! `tape-sha256`'s multi-buffer SHA-256 (four lanes of WebAssembly SIMD in
//! the browser, SHA-NI or AVX2 streams on x86-64, a portable loop elsewhere).
//! The digests are the ones [`RecordInput::record_id`] computes with `sha2`;
//! `tests/batch.rs` checks the two against each other on random lines of every
//! length around the block boundaries.

use crate::canonical::RecordInput;
use crate::error::ValidationError;
use crate::id::RecordId;

/// The canonical lines of a batch of records, hashed together by [`IdBatch::ids`].
///
/// Reuse one batch across calls ([`IdBatch::clear`]) to keep its buffers.
///
/// ```
/// use carbon_tracker_core::{FieldValue, IdBatch, RecordInput};
///
/// let mut record = RecordInput::default();
/// record.project_name = FieldValue::text("Solar Farm");
/// record.registry = FieldValue::text("VCS");
/// record.vintage = FieldValue::number("2023");
/// record.quantity = FieldValue::text("100.1");
/// record.serial_number = FieldValue::text("VCS-001");
///
/// let mut batch = IdBatch::default();
/// batch.push(&record).unwrap();
/// record.quantity = FieldValue::text("-1");
/// assert!(batch.push(&record).is_err()); // not added
/// assert_eq!(
///     batch.ids()[0].to_string(),
///     "a5bc4dc91565de74176de49c87f05596fdaecb63004268bc71473c4f1fda6187",
/// );
/// ```
#[derive(Debug, Default)]
pub struct IdBatch {
    /// Every accepted record's canonical line, one after the other.
    lines: Vec<u8>,
    /// Where each accepted record's line ends in `lines`.
    ends: Vec<usize>,
}

impl IdBatch {
    /// An empty batch with room for `records` typical records.
    pub fn with_capacity(records: usize) -> Self {
        Self {
            lines: Vec::with_capacity(records.saturating_mul(64)),
            ends: Vec::with_capacity(records),
        }
    }

    /// Validates `input` and adds its canonical line; an invalid record is
    /// not added, and its error lists every problem (as
    /// [`RecordInput::record_id`]'s does).
    pub fn push(&mut self, input: &RecordInput) -> Result<(), ValidationError> {
        let start = self.lines.len();
        match input.write_line(&mut self.lines) {
            Ok(()) => {
                self.ends.push(self.lines.len());
                Ok(())
            }
            Err(e) => {
                self.lines.truncate(start);
                Err(e)
            }
        }
    }

    /// How many records were added.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Forgets the records, keeping the buffers.
    pub fn clear(&mut self) {
        self.lines.clear();
        self.ends.clear();
    }

    /// The ids of the added records, in the order they were added.
    pub fn ids(&self) -> Vec<RecordId> {
        let mut start = 0;
        let lines: Vec<&[u8]> = self
            .ends
            .iter()
            .map(|&end| {
                let line = self.lines.get(start..end).unwrap_or_default();
                start = end;
                line
            })
            .collect();
        let mut digests = vec![[0; 32]; lines.len()];
        tape_sha256::hash_many(&lines, &mut digests);
        digests.into_iter().map(RecordId::from_digest).collect()
    }
}

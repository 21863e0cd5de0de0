//! The index of live blocks, for both backends: the ranges of credits that
//! blocks not `SPLIT` hold, which must not overlap within one scheme and
//! prefix (SPEC §6: the same credits are never registered twice).
//!
//! Records and events are append-only, but the set of live ranges changes
//! when a block splits (the parent's range gives way to its children's), so
//! it is a table of its own, `live_blocks`, that the transaction writing the
//! records keeps up to date. PostgreSQL guards it with an exclusion
//! constraint, SQLite with a trigger; the backends also look first, so that
//! the usual answer names the record already holding the credits.
//!
//! Databases from before blocks are indexed when they migrate: in storage
//! order, each block joins the index unless it overlaps one stored before
//! it. Overlaps already stored (the old rules allowed them) are kept as they
//! are and listed in `block_overlaps`; the server reports them at start and
//! `carbon-tracker-server overlaps` lists them. A block left out still holds
//! its credits, and its children theirs: its range is kept in
//! `left_out_blocks` (fixed once written), which every new block is checked
//! against as well as `live_blocks`.

use std::collections::{BTreeMap, HashMap};

use carbon_tracker_core::{CanonicalRecord, RecordId};

use super::{StoreError, StoredRecord};

/// A live block's place in the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LiveBlock {
    /// The record that is the block.
    pub(crate) record: RecordId,
    /// Its serial's scheme (SPEC §6's name).
    pub(crate) scheme: &'static str,
    /// The issuance prefix, which its children keep.
    pub(crate) prefix: String,
    /// The first credit's number.
    pub(crate) first: u64,
    /// The last credit's number.
    pub(crate) last: u64,
}

impl LiveBlock {
    /// The index entry of `record` (whose id is `id`), when it is a block.
    pub(crate) fn with_id(id: RecordId, record: &CanonicalRecord) -> Option<Self> {
        record.block().map(|b| Self {
            record: id,
            scheme: b.scheme.as_str(),
            prefix: b.prefix.into_owned(),
            first: b.start,
            last: b.end,
        })
    }

    /// Whether the two share a credit.
    pub(crate) fn overlaps(&self, other: &Self) -> bool {
        self.scheme == other.scheme
            && self.prefix == other.prefix
            && self.first <= other.last
            && other.first <= self.last
    }
}

/// A stored block left out of the index because it overlaps one already in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Overlap {
    /// The block left out.
    pub(crate) record: RecordId,
    /// The indexed block it shares credits with.
    pub(crate) with: RecordId,
}

/// The index of the stored `records`, in storage order: the blocks that join
/// it, and those left out because an earlier one (indexed or left out)
/// holds some of their credits.
pub(crate) fn index(
    records: impl IntoIterator<Item = (RecordId, CanonicalRecord)>,
) -> (Vec<LiveBlock>, Vec<Overlap>) {
    // Per scheme and prefix, the indexed ranges by first credit; they are
    // disjoint, so only the last one starting at or before a new block's
    // end can overlap it. The left-out ones may overlap each other: a list
    // (overlaps are rare).
    let mut ranges: HashMap<(&'static str, String), BTreeMap<u64, LiveBlock>> = HashMap::new();
    let mut left_out: HashMap<(&'static str, String), Vec<LiveBlock>> = HashMap::new();
    let mut overlaps = Vec::new();
    for (id, record) in records {
        let Some(block) = LiveBlock::with_id(id, &record) else {
            continue;
        };
        let key = (block.scheme, block.prefix.clone());
        let tree = ranges.entry(key.clone()).or_default();
        let held = tree
            .range(..=block.last)
            .next_back()
            .map(|(_, held)| held)
            .filter(|held| held.overlaps(&block))
            .or_else(|| {
                left_out
                    .get(&key)
                    .and_then(|l| l.iter().find(|held| held.overlaps(&block)))
            })
            .map(|held| held.record);
        match held {
            Some(with) => {
                overlaps.push(Overlap { record: id, with });
                left_out.entry(key).or_default().push(block);
            }
            None => {
                tree.insert(block.first, block);
            }
        }
    }
    let live = ranges
        .into_values()
        .flat_map(BTreeMap::into_values)
        .collect();
    (live, overlaps)
}

/// The range a block left out of the index keeps (`left_out_blocks`); a
/// stored record listed as left out that is no block is corrupt.
pub(crate) fn left_out(record: &StoredRecord) -> Result<LiveBlock, StoreError> {
    LiveBlock::with_id(record.id, &record.canonical).ok_or_else(|| {
        StoreError::corrupt(
            Some(record.id),
            "serial_number",
            "a block left out of the index is no block",
        )
    })
}

/// A credit number as SQLite stores it: `u64` mapped onto `i64` with the top
/// bit flipped, so that integer order is kept (SQLite has no unsigned type).
pub(crate) const fn sortable(n: u64) -> i64 {
    i64::from_ne_bytes((n ^ (1 << 63)).to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use carbon_tracker_core::RecordInput;

    fn block(serial: &str, quantity: u64) -> (RecordId, CanonicalRecord) {
        let input: RecordInput = serde_json::from_value(serde_json::json!({
            "project_name": "P", "registry": "Verra", "vintage": 2022,
            "quantity": quantity, "serial_number": serial,
        }))
        .unwrap_or_default();
        let record = input.canonicalize().unwrap_or_else(|e| panic!("{e}"));
        (record.id(), record)
    }

    #[test]
    fn sortable_keeps_order() {
        let numbers = [0, 1, 41, (1 << 63) - 1, 1 << 63, u64::MAX - 1, u64::MAX];
        for pair in numbers.windows(2) {
            if let [a, b] = pair {
                assert!(sortable(*a) < sortable(*b), "{a} < {b}");
            }
        }
    }

    #[test]
    fn earlier_blocks_win_and_later_overlaps_are_listed() {
        let a = block("VCS-001:1-100", 100);
        let b = block("VCS-001:100-150", 51); // shares credit 100 with a
        let c = block("VCS-001:101-150", 50); // touches a, overlaps b, left out
        let d = block("VCS-002:1-100", 100); // another prefix
        let e = block("VCS-001:1-100", 99); // not a block: count differs
        let (live, overlaps) = index([a.clone(), b.clone(), c.clone(), d.clone(), e]);
        let mut ids: Vec<RecordId> = live.iter().map(|l| l.record).collect();
        ids.sort();
        let mut expected = vec![a.0, d.0];
        expected.sort();
        assert_eq!(ids, expected);
        assert_eq!(
            overlaps,
            vec![
                Overlap {
                    record: b.0,
                    with: a.0
                },
                Overlap {
                    record: c.0,
                    with: b.0
                }
            ]
        );
    }
}

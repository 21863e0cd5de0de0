//! An append-only Merkle tree that keeps the hash of every complete subtree,
//! for a log serving roots and proofs of any of its sizes.

use super::leaf::{empty_root, node_hash, Hash};
use super::tree::{consistency_proof_with, inclusion_proof_with, split_point};
use super::LogError;

/// The log's tree in memory: its leaf hashes and, level by level, the hash
/// of every complete subtree (`2^l` leaves from a multiple of `2^l`), so
/// that appending a leaf costs at most one hash per level (one on average)
/// and a root, an inclusion proof or a consistency proof of any size costs
/// O(log² n) hashes, against O(n) for [`root`](super::root) and the proofs
/// over a slice. It holds about two hashes per leaf (64 MB for a million).
///
/// The results are those of RFC 9162 §2.1 ([`root`](super::root),
/// [`inclusion_proof`](super::inclusion_proof),
/// [`consistency_proof`](super::consistency_proof) on the first `size`
/// leaves); `tests/log.rs` checks they agree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MerkleTree {
    /// `levels[0]` the leaf hashes; `levels[l][i]` the hash of leaves
    /// `i·2^l .. (i+1)·2^l`.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tree of `leaves` (leaf hashes, in log order).
    pub fn from_leaves(leaves: impl IntoIterator<Item = Hash>) -> Self {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.push(leaf);
        }
        tree
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let Some(row) = self.levels.get_mut(level) else {
                return;
            };
            row.push(hash);
            // A complete pair at this level completes a subtree one up.
            match row.as_slice() {
                [.., left, right] if row.len().is_multiple_of(2) => {
                    hash = node_hash(left, right);
                    level += 1;
                }
                _ => return,
            }
        }
    }

    /// The number of leaves.
    pub fn len(&self) -> u64 {
        self.leaves().len() as u64
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.leaves().is_empty()
    }

    /// The leaf hashes, in log order.
    pub fn leaves(&self) -> &[Hash] {
        self.levels.first().map_or(&[], Vec::as_slice)
    }

    /// The root of the whole tree (RFC 9162 §2.1.1).
    pub fn root(&self) -> Hash {
        self.subtree(0, self.leaves().len())
    }

    /// The root of the tree of the first `size` leaves.
    ///
    /// # Errors
    /// [`LogError::InvalidSizes`] when `size` is beyond the tree's.
    pub fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        let n = self.size(size).ok_or(LogError::InvalidSizes {
            old: size,
            new: self.len(),
        })?;
        Ok(self.subtree(0, n))
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size`
    /// leaves (RFC 9162 §2.1.3.1).
    ///
    /// # Errors
    /// [`LogError::IndexOutOfRange`] unless `index < size ≤` the tree's size.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        if self.size(size).is_none() {
            return Err(LogError::IndexOutOfRange { index, size });
        }
        inclusion_proof_with(index, size, &mut |start, end| self.subtree(start, end))
    }

    /// The consistency proof from the tree of the first `old` leaves to the
    /// tree of the first `new` (RFC 9162 §2.1.4.1).
    ///
    /// # Errors
    /// [`LogError::InvalidSizes`] unless `0 < old ≤ new ≤` the tree's size.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, LogError> {
        if self.size(new).is_none() {
            return Err(LogError::InvalidSizes { old, new });
        }
        consistency_proof_with(old, new, &mut |start, end| self.subtree(start, end))
    }

    /// `size` as a count of leaves this tree holds.
    fn size(&self, size: u64) -> Option<usize> {
        usize::try_from(size)
            .ok()
            .filter(|&n| n <= self.leaves().len())
    }

    /// `MTH(D[start..end])`: a stored hash for a complete aligned subtree,
    /// otherwise split as RFC 9162 §2.1.1 splits (only the right edge of a
    /// tree is incomplete, so this recurses at most once per level).
    fn subtree(&self, start: usize, end: usize) -> Hash {
        let n = end.saturating_sub(start);
        if n == 0 {
            return empty_root();
        }
        if n.is_power_of_two() && start.is_multiple_of(n) {
            let level = n.trailing_zeros() as usize;
            if let Some(hash) = self.levels.get(level).and_then(|row| row.get(start / n)) {
                return *hash;
            }
        }
        if n == 1 {
            // A leaf this tree does not hold: not reached for sizes it holds.
            return empty_root();
        }
        let k = split_point(n);
        node_hash(
            &self.subtree(start, start + k),
            &self.subtree(start + k, end),
        )
    }
}

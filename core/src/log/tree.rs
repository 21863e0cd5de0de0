//! The Merkle Tree Hash of RFC 9162 §2.1.1 and the proofs of §2.1.3.1
//! (inclusion) and §2.1.4.1 (consistency), written as the RFC defines them:
//! recursions over the list of leaf hashes.
//!
//! These take every leaf hash of the tree and cost one hash per leaf: right
//! for tests, tools and small trees. [`MerkleTree`](super::MerkleTree) keeps
//! the hashes of complete subtrees and answers the same in O(log² n).

use super::leaf::{empty_root, node_hash, Hash};
use super::LogError;

/// The largest power of two smaller than `n` (RFC 9162 §2.1.1's `k`), for
/// `n ≥ 2`.
pub(super) fn split_point(n: usize) -> usize {
    let top = usize::BITS - 1 - (n.saturating_sub(1)).leading_zeros();
    1 << top
}

/// The left `k` leaves and the rest, `k` the split point of RFC 9162
/// §2.1.1; for at least two leaves.
fn halves(leaves: &[Hash]) -> (&[Hash], &[Hash]) {
    // `split_point(n) < n` for every n ≥ 2, so this never splits past the end.
    leaves.split_at(split_point(leaves.len()).min(leaves.len()))
}

/// The Merkle Tree Hash of `leaves` (leaf hashes, in log order), RFC 9162
/// §2.1.1: for one leaf its hash, for more `node_hash(MTH(left k),
/// MTH(rest))` with `k` the largest power of two below their count; for
/// none, SHA-256 of no bytes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [leaf] => *leaf,
        _ => {
            let (left, right) = halves(leaves);
            node_hash(&root(left), &root(right))
        }
    }
}

/// The inclusion proof of leaf `index` in the tree of `leaves` (its size is
/// their count): `PATH(index, D[n])` of RFC 9162 §2.1.3.1, the sibling
/// hashes from the leaf up to the root.
///
/// # Errors
/// [`LogError::IndexOutOfRange`] when `index` is not below the tree's size.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, LogError> {
    let size = leaves.len() as u64;
    inclusion_proof_with(index, size, &mut |start, end| {
        leaves.get(start..end).map_or_else(empty_root, root)
    })
}

/// `PATH(index, D[size])` with `subtree(start, end)` giving `MTH(D[start..end])`
/// (leaf positions; the range is never empty).
pub(super) fn inclusion_proof_with(
    index: u64,
    size: u64,
    subtree: &mut dyn FnMut(usize, usize) -> Hash,
) -> Result<Vec<Hash>, LogError> {
    let out_of_range = LogError::IndexOutOfRange { index, size };
    let n = usize::try_from(size).map_err(|_| out_of_range.clone())?;
    let m = usize::try_from(index)
        .ok()
        .filter(|&m| m < n)
        .ok_or(out_of_range)?;
    let mut proof = Vec::new();
    path(m, 0, n, subtree, &mut proof);
    Ok(proof)
}

/// `PATH(m, D[start..end])`, `m` relative to `start`.
fn path(
    m: usize,
    start: usize,
    end: usize,
    subtree: &mut dyn FnMut(usize, usize) -> Hash,
    proof: &mut Vec<Hash>,
) {
    let n = end - start;
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m < k {
        path(m, start, start + k, subtree, proof);
        proof.push(subtree(start + k, end));
    } else {
        path(m - k, start + k, end, subtree, proof);
        proof.push(subtree(start, start + k));
    }
}

/// The consistency proof from the tree of the first `old_size` of `leaves`
/// to the tree of all of them: `PROOF(m, D[n])` of RFC 9162 §2.1.4.1
/// (`SUBPROOF(m, D[n], true)`); empty when the sizes are equal.
///
/// # Errors
/// [`LogError::InvalidSizes`] unless `0 < old_size ≤` the number of leaves.
pub fn consistency_proof(leaves: &[Hash], old_size: u64) -> Result<Vec<Hash>, LogError> {
    let size = leaves.len() as u64;
    consistency_proof_with(old_size, size, &mut |start, end| {
        leaves.get(start..end).map_or_else(empty_root, root)
    })
}

/// `PROOF(old, D[new])` with `subtree(start, end)` giving `MTH(D[start..end])`.
pub(super) fn consistency_proof_with(
    old: u64,
    new: u64,
    subtree: &mut dyn FnMut(usize, usize) -> Hash,
) -> Result<Vec<Hash>, LogError> {
    let invalid = LogError::InvalidSizes { old, new };
    let n = usize::try_from(new).map_err(|_| invalid.clone())?;
    let m = usize::try_from(old)
        .ok()
        .filter(|&m| m > 0 && m <= n)
        .ok_or(invalid)?;
    let mut proof = Vec::new();
    if m < n {
        subproof(m, 0, n, true, subtree, &mut proof);
    }
    Ok(proof)
}

/// `SUBPROOF(m, D[start..end], whole)`, `m` relative to `start`.
fn subproof(
    m: usize,
    start: usize,
    end: usize,
    whole: bool,
    subtree: &mut dyn FnMut(usize, usize) -> Hash,
    proof: &mut Vec<Hash>,
) {
    let n = end - start;
    if m == n {
        if !whole {
            proof.push(subtree(start, end));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof(m, start, start + k, whole, subtree, proof);
        proof.push(subtree(start + k, end));
    } else {
        subproof(m - k, start + k, end, false, subtree, proof);
        proof.push(subtree(start, start + k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_points() {
        let k: Vec<usize> = (2..=9).map(split_point).collect();
        assert_eq!(k, [1, 2, 2, 4, 4, 4, 4, 8]);
    }
}

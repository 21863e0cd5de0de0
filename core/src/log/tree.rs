//! The Merkle Tree Hash of RFC 9162 §2.1.1 and the proofs of §2.1.3.1
//! (inclusion) and §2.1.4.1 (consistency), written as the RFC defines them:
//! recursions over the list of leaf hashes.
//!
//! These take every leaf hash of the tree and cost one hash per leaf: right
//! for tests, tools and small trees. A server serving proofs over millions
//! of leaves keeps the hashes of complete subtrees instead (the proofs
//! only ever need those, and the right edge's few others).

use super::leaf::{empty_root, node_hash, Hash};
use super::LogError;

/// The largest power of two smaller than `n` (RFC 9162 §2.1.1's `k`), for
/// `n ≥ 2`.
fn split_point(n: usize) -> usize {
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
    let m = usize::try_from(index)
        .ok()
        .filter(|&m| m < leaves.len())
        .ok_or(LogError::IndexOutOfRange { index, size })?;
    let mut proof = Vec::new();
    path(m, leaves, &mut proof);
    Ok(proof)
}

fn path(m: usize, leaves: &[Hash], proof: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let (left, right) = halves(leaves);
    if m < left.len() {
        path(m, left, proof);
        proof.push(root(right));
    } else {
        path(m - left.len(), right, proof);
        proof.push(root(left));
    }
}

/// The consistency proof from the tree of the first `old_size` of `leaves`
/// to the tree of all of them: `PROOF(m, D[n])` of RFC 9162 §2.1.4.1
/// (`SUBPROOF(m, D[n], true)`); empty when the sizes are equal.
///
/// # Errors
/// [`LogError::InvalidSizes`] unless `0 < old_size ≤` the number of leaves.
pub fn consistency_proof(leaves: &[Hash], old_size: u64) -> Result<Vec<Hash>, LogError> {
    let new = leaves.len() as u64;
    let m = usize::try_from(old_size)
        .ok()
        .filter(|&m| m > 0 && m <= leaves.len())
        .ok_or(LogError::InvalidSizes { old: old_size, new })?;
    let mut proof = Vec::new();
    if m < leaves.len() {
        subproof(m, leaves, true, &mut proof);
    }
    Ok(proof)
}

fn subproof(m: usize, leaves: &[Hash], whole: bool, proof: &mut Vec<Hash>) {
    if m == leaves.len() {
        if !whole {
            proof.push(root(leaves));
        }
        return;
    }
    let (left, right) = halves(leaves);
    if m <= left.len() {
        subproof(m, left, whole, proof);
        proof.push(root(right));
    } else {
        subproof(m - left.len(), right, false, proof);
        proof.push(root(left));
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

//! Verifying inclusion (RFC 9162 §2.1.3.2) and consistency (§2.1.4.2)
//! proofs, step by step as the RFC writes them.
//!
//! Written here rather than taken from `ct-merkle` (whose proofs are over
//! its own leaf type and the `digest` 0.11 traits, a second SHA-256 beside
//! the core's) or `tlog_tiles` (built around tile storage): the two
//! algorithms are a few lines each, and `tests/vectors/log.json` holds the
//! published transparency-dev vectors they are tested against, with an
//! independent Python reference (`tests/reference/log_v1.py`).

use super::leaf::{node_hash, Hash};
use super::LogError;

/// Checks that `leaf` (a leaf hash) is the leaf at `index` of the tree of
/// `size` leaves whose root is `root`, by the inclusion `proof` (the hashes
/// of [`inclusion_proof`](super::inclusion_proof)): the algorithm of RFC
/// 9162 §2.1.3.2.
///
/// # Errors
/// [`LogError::IndexOutOfRange`] when `index ≥ size`;
/// [`LogError::ProofLength`] when the proof has more or fewer hashes than
/// a proof for that index and size has; [`LogError::RootMismatch`] when it
/// does not lead to `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), LogError> {
    if index >= size {
        return Err(LogError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_len(index, size);
    if proof.len() != expected {
        return Err(LogError::ProofLength {
            expected,
            found: proof.len(),
        });
    }
    // Step 2: fn is the leaf's index, sn the last leaf's, at each level.
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(LogError::ProofLength {
                expected,
                found: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(LogError::ProofLength {
            expected,
            found: proof.len(),
        });
    }
    if r == *root {
        Ok(())
    } else {
        Err(LogError::RootMismatch)
    }
}

/// Checks that the tree of `old_size` leaves with root `old_root` is a
/// prefix of the tree of `new_size` leaves with root `new_root`, by the
/// consistency `proof` (the hashes of
/// [`consistency_proof`](super::consistency_proof)): the algorithm of RFC
/// 9162 §2.1.4.2, which rebuilds **both** roots from the proof and compares
/// each (a verifier that only rebuilt the new root would accept a history
/// rewritten under the old one: immudb's GHSA-672p-m5jq-mrh8). Equal sizes
/// need an empty proof and equal roots.
///
/// # Errors
/// [`LogError::InvalidSizes`] unless `0 < old_size ≤ new_size` (as the
/// transparency-dev verifier, a proof from the empty tree is refused: it
/// would prove nothing); [`LogError::ProofLength`] for a proof of the wrong
/// length; [`LogError::OldRootMismatch`] when the proof does not rebuild
/// `old_root`; [`LogError::RootMismatch`] when it does not rebuild
/// `new_root` (or, for equal sizes, the roots differ).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), LogError> {
    if old_size == 0 || old_size > new_size {
        return Err(LogError::InvalidSizes {
            old: old_size,
            new: new_size,
        });
    }
    let expected = consistency_len(old_size, new_size);
    if proof.len() != expected {
        return Err(LogError::ProofLength {
            expected,
            found: proof.len(),
        });
    }
    if old_size == new_size {
        return if old_root == new_root {
            Ok(())
        } else {
            Err(LogError::RootMismatch)
        };
    }
    // Step 2: when the old tree is a complete subtree, its root is the
    // proof's implicit first hash.
    let mut path = proof.iter();
    let first = if old_size.is_power_of_two() {
        old_root
    } else {
        path.next().ok_or(LogError::ProofLength {
            expected,
            found: proof.len(),
        })?
    };
    // Steps 3 and 4.
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    // Steps 5 and 6.
    let (mut fr, mut sr) = (*first, *first);
    for c in path {
        if s == 0 {
            return Err(LogError::ProofLength {
                expected,
                found: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    // Step 7: both roots, and the whole path used.
    if s != 0 {
        return Err(LogError::ProofLength {
            expected,
            found: proof.len(),
        });
    }
    if fr != *old_root {
        return Err(LogError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(LogError::RootMismatch);
    }
    Ok(())
}

/// Bits needed to write `n`.
const fn bit_len(n: u64) -> usize {
    (u64::BITS - n.leading_zeros()) as usize
}

/// The number of hashes in the inclusion proof of `index` in a tree of
/// `size > index` leaves: one per level below the point where the paths to
/// the leaf and to the last leaf part, plus one per left sibling above it.
pub(super) const fn inclusion_len(index: u64, size: u64) -> usize {
    let inner = bit_len(index ^ (size - 1));
    inner + (index >> inner).count_ones() as usize
}

/// The number of hashes in the consistency proof between trees of `old` and
/// `new` leaves, `0 < old ≤ new`.
pub(super) const fn consistency_len(old: u64, new: u64) -> usize {
    if old == new {
        return 0;
    }
    // The proof is the inclusion proof of the old tree's last leaf in the new
    // tree, from the level of the old tree's rightmost complete subtree up;
    // plus that subtree's root unless it is the whole old tree (whose root
    // the verifier has).
    let fork = bit_len((old - 1) ^ (new - 1));
    let border = ((old - 1) >> fork).count_ones() as usize;
    let shift = old.trailing_zeros() as usize;
    let seed = if old.is_power_of_two() { 0 } else { 1 };
    seed + (fork - shift) + border
}

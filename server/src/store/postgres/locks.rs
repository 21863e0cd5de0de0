//! The advisory locks writers of several processes take turns by.
//!
//! An advisory lock is two 32-bit keys: the first names what the lock
//! stands for (one of the spaces below, ASCII letters, apart from each
//! other and from the migrations' single 64-bit lock); the second is the
//! thing's number, or a hash of its name ([`key_of`]). Transaction locks
//! ([`lock_all`]) are taken in one statement in sorted order, so that two
//! transactions wanting overlapping sets wait for each other in one order
//! and cannot deadlock.

use deadpool_postgres::GenericClient;
use sha2::{Digest, Sha256};

use super::retry::Failed;
use crate::store::blocks::LiveBlock;

/// Locks standing for an `Idempotency-Key` of a scope: "idk".
pub(super) const IDEMPOTENCY_KEYS: i32 = 0x0069_646b;

/// Locks standing for a serial scheme and issuance prefix, which creates of
/// blocks take ([`lock_blocks`]): "blk".
pub(super) const BLOCKS: i32 = 0x0062_6c6b;

/// Session locks standing for a webhook endpoint, held by the process
/// delivering to it: "whk".
pub(super) const WEBHOOKS: i32 = 0x0077_686b;

/// Takes the locks `$2` of space `$1`, in the order given, until the
/// transaction ends.
pub(super) const LOCK_ALL: &str =
    "SELECT pg_advisory_xact_lock($1, l) FROM unnest($2::int4[]) AS l";

/// The second key of the lock standing for `parts`: the first four bytes of
/// SHA-256 of the parts joined by NUL (which no part holds). Two names that
/// share it only wait for each other.
pub(super) fn key_of(parts: &[&str]) -> i32 {
    let mut hash = Sha256::new();
    for (n, part) in parts.iter().enumerate() {
        if n > 0 {
            hash.update([0]);
        }
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let mut first = [0; 4];
    first.copy_from_slice(digest.get(..4).unwrap_or(&[0; 4]));
    i32::from_be_bytes(first)
}

/// `keys` sorted and without repeats: the order [`LOCK_ALL`] takes them in.
pub(super) fn in_lock_order(mut keys: Vec<i32>) -> Vec<i32> {
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Takes the locks `keys` of `space` in the caller's transaction, in lock
/// order, in one statement; they are held until it ends (taking one again
/// is free). Outside a transaction they would end with the statement.
pub(super) async fn lock_all<C: GenericClient + Sync>(
    tx: &C,
    space: i32,
    keys: Vec<i32>,
) -> Result<(), Failed> {
    if keys.is_empty() {
        return Ok(());
    }
    let stmt = tx.prepare_cached(LOCK_ALL).await?;
    tx.execute(&stmt, &[&space, &in_lock_order(keys)]).await?;
    Ok(())
}

/// Locks the schemes and prefixes of `blocks` in the caller's transaction,
/// before it looks for overlaps and inserts them (SPEC §6, no double
/// registration). Creates of blocks that could overlap so take turns: each
/// one's look sees the blocks of the ones before it, and two inserts of
/// overlapping ranges never meet under the exclusion constraint on
/// `live_blocks`, where each would wait for the other (PostgreSQL breaks
/// that deadlock after `deadlock_timeout`, and the retries of a busy
/// issuance pile up).
pub(super) async fn lock_blocks<'a, C: GenericClient + Sync>(
    tx: &C,
    blocks: impl IntoIterator<Item = &'a LiveBlock>,
) -> Result<(), Failed> {
    let keys = blocks
        .into_iter()
        .map(|b| key_of(&[b.scheme, &b.prefix]))
        .collect();
    lock_all(tx, BLOCKS, keys).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lock of an Idempotency-Key is the one processes of earlier
    /// versions take (SHA-256 of scope, NUL, key), so that both kinds wait
    /// for each other during a rolling upgrade. Expected value: Python's
    /// `int.from_bytes(hashlib.sha256(b"api-token\0k-1").digest()[:4], "big", signed=True)`.
    #[test]
    fn an_idempotency_keys_lock_is_unchanged() {
        assert_eq!(key_of(&["api-token", "k-1"]), -1_019_077_834);
    }
}

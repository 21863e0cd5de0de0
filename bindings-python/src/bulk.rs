//! Ids of many rows: the shared engine of `record_ids` (a list of mappings)
//! and `record_ids_arrow` (Arrow columns).
//!
//! A source fills a reusable [`RecordInput`] with one row's values; the rows
//! are cut into one range per core, and each range is worked through in
//! blocks whose canonical lines are hashed together ([`IdBatch`]). Each id's
//! 64 hex digits go to a fixed place (row × 64) of one buffer, so the
//! threads never share anything they write. No Python object is touched
//! here: this runs with the GIL released.

use carbon_tracker_core::{FieldValue, IdBatch, RecordInput, ValidationError};

/// Rows a thread can read: `fill` sets `input` to row `row`'s five values, or
/// says why the row is not a record at all.
pub(crate) trait Rows: Sync {
    /// How many rows there are.
    fn len(&self) -> usize;
    /// Sets `input` to row `row` (`row < len()`).
    fn fill(&self, row: usize, input: &mut RecordInput) -> Result<(), ValidationError>;
}

/// Rows per hashing block: enough for the multi-buffer SHA-256 to stream.
const BLOCK: usize = 512;
/// Below this many rows, one thread (starting threads would cost more).
const PARALLEL_FROM: usize = 4096;

/// The ids of every row: `hex` holds row `i`'s 64 hex digits at `i * 64`
/// (zeros for an invalid row), `errors` the invalid rows, in row order.
pub(crate) struct Computed {
    pub(crate) hex: Vec<u8>,
    pub(crate) errors: Vec<(usize, ValidationError)>,
}

/// Computes every row's id, over all available cores for large inputs.
pub(crate) fn compute(rows: &dyn Rows) -> Result<Computed, String> {
    let n = rows.len();
    let size = n
        .checked_mul(64)
        .ok_or_else(|| "too many rows".to_owned())?;
    let mut hex = vec![0_u8; size];
    let threads = if n < PARALLEL_FROM {
        1
    } else {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
            .clamp(1, n / (PARALLEL_FROM / 2))
    };
    let per_thread = n.div_ceil(threads).max(1);
    let errors = if threads == 1 {
        work(rows, 0, &mut hex)
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = hex
                .chunks_mut(per_thread * 64)
                .enumerate()
                .map(|(t, out)| scope.spawn(move || work(rows, t * per_thread, out)))
                .collect();
            let mut all = Vec::new();
            for handle in handles {
                all.extend(
                    handle
                        .join()
                        .map_err(|_| "an id thread failed".to_owned())?,
                );
            }
            Ok::<_, String>(all)
        })?
    };
    Ok(Computed { hex, errors })
}

/// The ids of rows `first..first + out.len() / 64` into `out`; the invalid rows.
pub(crate) fn work(rows: &dyn Rows, first: usize, out: &mut [u8]) -> Vec<(usize, ValidationError)> {
    let mut input = RecordInput::default();
    let mut batch = IdBatch::with_capacity(BLOCK);
    let mut accepted = Vec::with_capacity(BLOCK);
    let mut errors = Vec::new();
    for (b, block) in out.chunks_mut(BLOCK * 64).enumerate() {
        let start = first + b * BLOCK;
        batch.clear();
        accepted.clear();
        for i in 0..block.len() / 64 {
            let row = start + i;
            let pushed = rows.fill(row, &mut input).and_then(|()| batch.push(&input));
            match pushed {
                Ok(()) => accepted.push(i),
                Err(e) => errors.push((row, e)),
            }
        }
        for (id, &i) in batch.ids().iter().zip(&accepted) {
            if let Some(slot) = block
                .get_mut(i * 64..i * 64 + 64)
                .and_then(|s| <&mut [u8; 64]>::try_from(s).ok())
            {
                id.encode_hex(slot);
            }
        }
    }
    errors
}

/// Sets `slot` to the text `s`, reusing the slot's own string when it has one.
pub(crate) fn set_text(slot: &mut FieldValue, s: &str) {
    if let FieldValue::Text(text) = slot {
        text.clear();
        text.push_str(s);
    } else {
        *slot = FieldValue::Text(s.to_owned());
    }
}

/// Sets `slot` to an exact decimal number, written by `write` into the
/// slot's own string when it has one.
pub(crate) fn set_number(slot: &mut FieldValue, write: impl FnOnce(&mut String)) {
    if let FieldValue::Number(text) = slot {
        text.clear();
        write(text);
    } else {
        let mut text = String::new();
        write(&mut text);
        *slot = FieldValue::Number(text);
    }
}

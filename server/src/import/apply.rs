//! Writing a registry export's rows (issue 16): each row is a block (SPEC §6);
//! a retirement or cancellation row whose credits lie inside a block already
//! tracked becomes a partial action on that block, taken from the front of
//! its live remainder as every registry takes it.
//!
//! The order rows are written in does not depend on the file's: the rows of
//! one issuance (a block's scheme and prefix) are written one after another
//! in the order of their first credit, a containing block before the blocks
//! inside it; issuances are written side by side. So a block partly retired
//! in several rows, listed in any order, ends with the same lineage, and a
//! re-import finds every row already there and changes nothing.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use carbon_tracker_core::lifecycle::{self, Status};
use carbon_tracker_core::{Action, CanonicalRecord, RecordId};
use futures_util::future::{BoxFuture, FutureExt};
use futures_util::stream::{self, StreamExt};
use indicatif::ProgressBar;
use serde_json::{Map, Value};

use super::{Rejected, Summary, Writer};
use crate::store::{Append, Created, StoreError, StoredRecord};

/// Records sent to the store per create call.
const CHUNK: usize = 1000;
/// Issuances written at once: enough to fill the store's group commits.
const PARALLEL: usize = 64;

/// A checked row, ready to write.
#[derive(Debug)]
pub(crate) struct Planned {
    /// The file's row number.
    pub(crate) row: usize,
    /// The block's canonical fields.
    pub(crate) record: CanonicalRecord,
    /// The retirement or cancellation the row records, with its payload.
    pub(crate) end: Option<(Action, Map<String, Value>)>,
}

impl Planned {
    /// The order rows are written in: by issuance (scheme and prefix), then
    /// first credit, a containing block before the blocks inside it. Every
    /// planned row is a block (checked when it was planned).
    fn key(&self) -> (String, u64, Reverse<u64>) {
        let (issuance, start, end) = range(&self.record).unwrap_or_default();
        (issuance, start, Reverse(end))
    }
}

/// A block's issuance (`scheme:prefix`), first and last credit.
pub(crate) fn range(record: &CanonicalRecord) -> Option<(String, u64, u64)> {
    record.block().map(|b| {
        (
            format!("{}:{}", b.scheme.as_str(), b.prefix),
            b.start,
            b.end,
        )
    })
}

/// A row with what its bulk create did.
type Pending = (Planned, Option<Result<Created, StoreError>>);
/// Each row's number and what became of it.
type Written = Vec<(usize, Result<Done, StoreError>)>;

/// What became of one row.
enum Done {
    /// A new block (and its action, if any).
    Created { retired: bool },
    /// The block was there, and so was its retirement if it has one.
    Existing,
    /// A retirement applied to a block already there, whole or in part.
    Retired,
    /// Not written, and why.
    Rejected(Rejected),
}

/// Writes `planned` to `store`, counting into `summary`.
pub(crate) async fn apply(
    store: &Writer<'_>,
    mut planned: Vec<Planned>,
    summary: &mut Summary,
    bar: &ProgressBar,
) -> Result<(), StoreError> {
    planned.sort_by_cached_key(Planned::key);
    // Every block is created first, in bulk; what then needs a look at the
    // store's state (a retirement, a block inside a tracked one) is done
    // issuance by issuance.
    let mut first: Vec<Option<Result<Created, StoreError>>> = Vec::with_capacity(planned.len());
    for chunk in planned.chunks(CHUNK) {
        let records = chunk.iter().map(|p| p.record.clone()).collect();
        first.extend(store.create(records).await?.into_iter().map(Some));
    }
    let mut issuances: BTreeMap<String, Vec<Pending>> = BTreeMap::new();
    for (p, created) in planned.into_iter().zip(first) {
        let (issuance, _, _) = range(&p.record).unwrap_or_default();
        issuances.entry(issuance).or_default().push((p, created));
    }
    // Boxed, so that the stream's futures are `Send` for every lifetime
    // (rust-lang/rust#102211).
    let writes: Vec<BoxFuture<'_, Written>> = issuances
        .into_values()
        .map(|rows| issuance(store, rows).boxed())
        .collect();
    let mut outcomes = stream::iter(writes).buffer_unordered(PARALLEL);
    while let Some(done) = outcomes.next().await {
        for (row, outcome) in done {
            match outcome? {
                Done::Created { retired } => {
                    summary.created += 1;
                    summary.retired += usize::from(retired);
                }
                Done::Existing => summary.existing += 1,
                Done::Retired => summary.retired += 1,
                Done::Rejected(r) => summary.rejected.push(Rejected { row, ..r }),
            }
            bar.inc(1);
        }
    }
    Ok(())
}

/// Writes the rows of one issuance, one after another.
async fn issuance(store: &Writer<'_>, rows: Vec<Pending>) -> Written {
    let mut done = Vec::with_capacity(rows.len());
    for (p, created) in rows {
        let outcome = write_row(store, &p, created).await;
        done.push((p.row, outcome));
    }
    done
}

/// Writes one row, given what its bulk create did (`None`, or an overlap:
/// look again, as rows before it in its issuance may have split blocks).
async fn write_row(
    store: &Writer<'_>,
    p: &Planned,
    created: Option<Result<Created, StoreError>>,
) -> Result<Done, StoreError> {
    let created = match created {
        Some(Err(StoreError::SerialOverlap { .. })) | None => {
            first_or_error(store.create(vec![p.record.clone()]).await?)
        }
        Some(other) => other,
    };
    match created {
        Ok(Created::New(record)) => {
            let retired = match &p.end {
                Some(end) => act(store, record.id, end, None).await?.is_none(),
                None => false,
            };
            // A new block's own action cannot be refused but by a fault.
            Ok(Done::Created { retired })
        }
        Ok(Created::Existing(record)) => existing(store, p, &record).await,
        Err(StoreError::SerialOverlap { existing }) => inside(store, p, existing).await,
        Err(StoreError::Conflict(id)) => Ok(Done::Rejected(rejected(
            "serial_number",
            "id_conflict",
            format!("the id {id} belongs to a record with other data"),
        ))),
        Err(e @ (StoreError::Unavailable { .. } | StoreError::Corrupt { .. })) => Err(e),
        Err(e) => Ok(Done::Rejected(rejected(
            "serial_number",
            "rejected",
            e.to_string(),
        ))),
    }
}

/// A row whose block is already tracked as it is: done, unless the row
/// retires it and it is still held.
async fn existing(
    store: &Writer<'_>,
    p: &Planned,
    record: &StoredRecord,
) -> Result<Done, StoreError> {
    let status = status_of(record)?;
    match (&p.end, status) {
        (None, _) | (Some(_), Status::Retired | Status::Cancelled) => Ok(Done::Existing),
        (Some(end), Status::Active | Status::Sold) => Ok(match act(store, record.id, end, None).await? {
            None => Done::Retired,
            Some(r) => Done::Rejected(r),
        }),
        (Some(_), Status::Split) => Ok(Done::Rejected(rejected(
            "serial_number",
            "already_split",
            format!(
                "the block is tracked as {} and was split since; the rows for its parts say what became of them",
                record.id
            ),
        ))),
    }
}

/// A row whose credits share some with the tracked block `holder`: a
/// retirement from the front of it is a partial retirement of it; anything
/// else is refused, naming the block.
async fn inside(store: &Writer<'_>, p: &Planned, holder: RecordId) -> Result<Done, StoreError> {
    let overlap = || {
        rejected(
            "serial_number",
            "serial_overlap",
            format!("the block shares credits with the tracked block {holder}, of the same scheme and prefix"),
        )
    };
    let (Some(end), Some((_, start, last))) = (&p.end, range(&p.record)) else {
        return Ok(Done::Rejected(overlap()));
    };
    let Some(tracked) = store.get(holder).await? else {
        return Ok(Done::Rejected(overlap()));
    };
    let Some((_, from, to)) = range(&tracked.canonical) else {
        return Ok(Done::Rejected(overlap()));
    };
    if start != from || last > to {
        // Inside the block but not at its front, or across one of its ends.
        let place = if start >= from && last <= to {
            "lie in the tracked block"
        } else {
            "are partly in the tracked block"
        };
        return Ok(Done::Rejected(rejected(
            "serial_number",
            "not_at_front",
            format!(
                "the credits {start}-{last} {place} {holder} ({from}-{to}) and are not its first credits; \
                 a partial retirement takes the first credits of a block (SPEC §6): import the rows that retired the credits before them first"
            ),
        )));
    }
    let quantity = last - start + 1;
    Ok(match act(store, holder, end, Some(quantity)).await? {
        None => Done::Retired,
        Some(r) => Done::Rejected(r),
    })
}

/// Appends the row's action to `record` (for `quantity` credits, a partial
/// action): `None` when done, the refusal otherwise.
async fn act(
    store: &Writer<'_>,
    record: RecordId,
    (action, payload): &(Action, Map<String, Value>),
    quantity: Option<u64>,
) -> Result<Option<Rejected>, StoreError> {
    let mut payload = payload.clone();
    if let Some(q) = quantity {
        payload.insert("quantity".to_owned(), Value::from(q));
    }
    let request = Append {
        record,
        action: *action,
        payload: Some(payload),
    };
    match store.append(request).await {
        Ok(_) => Ok(None),
        Err(e @ (StoreError::Unavailable { .. } | StoreError::Corrupt { .. })) => Err(e),
        Err(StoreError::Transition(e)) => Ok(Some(rejected(
            action.event_type().as_str(),
            e.code(),
            e.to_string(),
        ))),
        Err(e) => Ok(Some(rejected(
            action.event_type().as_str(),
            "rejected",
            e.to_string(),
        ))),
    }
}

fn status_of(record: &StoredRecord) -> Result<Status, StoreError> {
    lifecycle::replay(&record.events)
        .map(|s| s.status)
        .map_err(|e| StoreError::corrupt(Some(record.id), "history", e))
}

fn first_or_error(mut outcomes: Vec<Result<Created, StoreError>>) -> Result<Created, StoreError> {
    outcomes
        .pop()
        .unwrap_or_else(|| Err(StoreError::stopped("the store answered no create")))
}

fn rejected(column: &str, code: &str, message: String) -> Rejected {
    Rejected {
        row: 0,
        column: Some(column.to_owned()),
        code: code.to_owned(),
        message,
    }
}

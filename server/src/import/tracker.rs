//! Importing the tracker's own export (`export`, `GET /records?format=csv`):
//! the records, with the same ids, statuses, holders and lineage.
//!
//! An export holds each record's state, not its events, so the import
//! replays the fewest actions that reach every state: a registered block is
//! created; a `SPLIT` block is split by the partial action its front child
//! shows (a sale to its holder when the holder changed, else its retirement
//! or cancellation with the exported fields, else a sale); a record whose
//! holder changed is sold to its holder; a retired or cancelled one is
//! retired or cancelled with its fields. Every step starts from what the
//! store holds, so importing the same export again changes nothing, and an
//! import that stopped half way finishes where it stopped.

use std::collections::{HashMap, HashSet};

use carbon_tracker_core::api;
use carbon_tracker_core::lifecycle::{self, Status};
use carbon_tracker_core::{split_records, Acted, Action, CanonicalRecord, Lineage, RecordId};
use futures_util::future::{BoxFuture, FutureExt};
use futures_util::stream::{self, StreamExt};
use indicatif::ProgressBar;
use serde_json::{Map, Value};

use super::{Rejected, Skipped, Summary, Writer};
use crate::export::FINAL_FIELDS;
use crate::store::{Append, Created, StoreError, StoredRecord};

/// Records sent to the store per create call.
const CHUNK: usize = 1000;
/// Trees replayed at once.
const PARALLEL: usize = 32;

/// A row of an export: its number in the file and its cells by column.
pub(crate) type Cells = (usize, Map<String, Value>);

/// One exported record, checked.
#[derive(Debug)]
pub(crate) struct Node {
    row: usize,
    id: RecordId,
    record: CanonicalRecord,
    status: Status,
    holder: Option<String>,
    parent: Option<RecordId>,
    children: Option<(RecordId, RecordId)>,
    /// The retirement or cancellation fields.
    fields: Map<String, Value>,
}

impl Node {
    /// The record's id.
    pub(crate) fn id(&self) -> RecordId {
        self.id
    }

    /// The actions the row records, with its number: a sale to its holder,
    /// and its retirement or cancellation (whether or not the store holds
    /// them already, which only writing finds).
    pub(crate) fn actions(&self) -> impl Iterator<Item = (usize, Action)> {
        let sale = self.holder.is_some().then_some(Action::Sell);
        let end = match self.status {
            Status::Retired => Some(Action::Retire),
            Status::Cancelled => Some(Action::Cancel),
            Status::Active | Status::Sold | Status::Split => None,
        };
        let row = self.row;
        sale.into_iter().chain(end).map(move |a| (row, a))
    }
}

/// Checks every row of an export (the columns of [`crate::export::columns`]),
/// counting the rejected ones into `summary`.
pub(crate) fn plan(rows: Vec<Cells>, summary: &mut Summary) -> Vec<Node> {
    let mut nodes = Vec::with_capacity(rows.len());
    for (row, cells) in rows {
        if cells.values().all(is_empty) {
            summary.skipped.push(Skipped {
                row,
                reason: "empty row".to_owned(),
            });
            continue;
        }
        match node(row, &cells) {
            Ok(n) => nodes.push(n),
            Err(r) => summary.rejected.push(r),
        }
    }
    let nodes = one_row_per_record(nodes, summary);
    let mut nodes = split_as_derived(nodes, summary);
    // Every row's lineage within the file, until no more rows go: a row
    // whose parent or child is rejected cannot be replayed either.
    loop {
        let before = summary.rejected.len();
        nodes = lineage_in_file(nodes, summary);
        if summary.rejected.len() == before {
            return nodes;
        }
    }
}

/// The record `n` refused for `column`.
fn refused(n: &Node, column: &str, code: &str, message: String) -> Rejected {
    Rejected {
        row: n.row,
        column: Some(column.to_owned()),
        code: code.to_owned(),
        message,
    }
}

/// One row per record: a row repeated as it is is skipped; rows of one
/// record in different states (two exports joined in one file) are all
/// rejected, since which state is meant is a guess.
fn one_row_per_record(nodes: Vec<Node>, summary: &mut Summary) -> Vec<Node> {
    let same = |a: &Node, b: &Node| {
        (
            &a.record, a.status, &a.holder, a.parent, a.children, &a.fields,
        ) == (
            &b.record, b.status, &b.holder, b.parent, b.children, &b.fields,
        )
    };
    let mut rows_of: HashMap<RecordId, Vec<usize>> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        rows_of.entry(n.id).or_default().push(i);
    }
    let mut keep = vec![true; nodes.len()];
    for indexes in rows_of.values().filter(|v| v.len() > 1) {
        let all: Vec<&Node> = indexes.iter().filter_map(|&i| nodes.get(i)).collect();
        let rows: Vec<String> = all.iter().map(|n| n.row.to_string()).collect();
        let first = all.first().copied();
        let repeats = first.is_some_and(|f| all.iter().all(|n| same(f, n)));
        for (k, (&i, n)) in indexes.iter().zip(&all).enumerate() {
            if repeats && k == 0 {
                continue;
            }
            if let Some(slot) = keep.get_mut(i) {
                *slot = false;
            }
            if repeats {
                summary.skipped.push(Skipped {
                    row: n.row,
                    reason: format!(
                        "the same as row {}",
                        rows.first().map_or("", String::as_str)
                    ),
                });
            } else {
                summary.rejected.push(refused(
                    n,
                    "id",
                    "duplicate_id",
                    format!(
                        "the record {} is in the file more than once, in other states (rows {}): \
                         a file made of two exports? export once",
                        n.id,
                        rows.join(", ")
                    ),
                ));
            }
        }
    }
    nodes
        .into_iter()
        .zip(keep)
        .filter_map(|(n, k)| k.then_some(n))
        .collect()
}

/// A split record's children are the two records the core derives from it
/// for its front child's count (SPEC §6): a row naming others (swapped, or
/// another block's) is rejected before anything is written.
fn split_as_derived(nodes: Vec<Node>, summary: &mut Summary) -> Vec<Node> {
    let by_id: HashMap<RecordId, &Node> = nodes.iter().map(|n| (n.id, n)).collect();
    let wrong: HashSet<RecordId> = nodes
        .iter()
        .filter_map(|n| {
            let (front, back) = n.children?;
            let credits = by_id.get(&front)?.record.block()?.credits();
            let derived = split_records(&n.record, credits)
                .ok()
                .map(|(f, b)| (f.id(), b.id()));
            (derived != Some((front, back))).then_some(n.id)
        })
        .collect();
    let (kept, refused_rows): (Vec<Node>, Vec<Node>) =
        nodes.into_iter().partition(|n| !wrong.contains(&n.id));
    for n in refused_rows {
        summary.rejected.push(refused(
            &n,
            "front",
            "lineage_differs",
            format!(
                "{} is not split into the front and back the row names: they are not the two records \
                 its split by the front's count gives (SPEC §6)",
                n.id
            ),
        ));
    }
    kept
}

/// The rows whose lineage the file holds: a row naming a parent must have
/// that parent's row, split into it; a split row must have both children's
/// rows. The others are rejected (a file holding a block from before its
/// split and its children from after, a row left out or rejected).
fn lineage_in_file(nodes: Vec<Node>, summary: &mut Summary) -> Vec<Node> {
    let by_id: HashMap<RecordId, (usize, Option<(RecordId, RecordId)>)> =
        nodes.iter().map(|n| (n.id, (n.row, n.children))).collect();
    let mut kept = Vec::with_capacity(nodes.len());
    for n in nodes {
        let fault = match n.parent.map(|p| (p, by_id.get(&p))) {
            Some((parent, None)) => Some(refused(
                &n,
                "parent",
                "parent_missing",
                format!("the parent {parent} is not in the file, or its row is rejected"),
            )),
            Some((parent, Some(&(row, named))))
                if !named.is_some_and(|(f, b)| f == n.id || b == n.id) =>
            {
                Some(refused(
                    &n,
                    "parent",
                    "lineage_differs",
                    format!(
                        "the parent {parent} (row {row}) is not split into this record in the file: \
                         an export taken while records were being split can hold a block before its split \
                         and its children after it; export again, or give the parent's row as it is now"
                    ),
                ))
            }
            _ => n
                .children
                .and_then(|(f, b)| [f, b].into_iter().find(|c| !by_id.contains_key(c)))
                .map(|child| {
                    refused(
                        &n,
                        "front",
                        "lineage_differs",
                        format!("its child {child} is not in the file, or its row is rejected"),
                    )
                }),
        };
        match fault {
            Some(r) => summary.rejected.push(r),
            None => kept.push(n),
        }
    }
    kept
}

fn node(row: usize, cells: &Map<String, Value>) -> Result<Node, Rejected> {
    let bad = |column: &str, code: &str, message: String| Rejected {
        row,
        column: Some(column.to_owned()),
        code: code.to_owned(),
        message,
    };
    let text = |key: &str| -> Option<String> {
        match cells.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    };
    let id_of = |key: &str| -> Result<Option<RecordId>, Rejected> {
        text(key)
            .map(|t| {
                t.parse::<RecordId>().map_err(|_| {
                    bad(
                        key,
                        "invalid_format",
                        format!("{key} {t:?} is not a record id"),
                    )
                })
            })
            .transpose()
    };
    let mut input = Map::new();
    for field in carbon_tracker_core::RECORD_FIELDS {
        if let Some(value) = cells.get(field) {
            input.insert(field.to_owned(), value.clone());
        }
    }
    let record = api::record_input_from_value(Value::Object(input))
        .and_then(|i| api::canonicalize(&i))
        .map_err(|e| match e.errors.first() {
            Some(f) => bad(&f.field, f.code.as_str(), f.message.clone()),
            None => bad("id", &e.code, e.message.clone()),
        })?;
    let id = id_of("id")?.ok_or_else(|| bad("id", "missing", "id is required".to_owned()))?;
    let record = as_exported(record, cells, id);
    if record.id() != id {
        return Err(bad(
            "id",
            "id_mismatch",
            format!(
                "the row's fields give the id {}, not {id}: the row was changed after it was exported",
                record.id()
            ),
        ));
    }
    let status_text = text("status").unwrap_or_default();
    let status = Status::parse(&status_text).ok_or_else(|| {
        bad(
            "status",
            "invalid_choice",
            format!("status {status_text:?} is not ACTIVE, SOLD, RETIRED, CANCELLED or SPLIT"),
        )
    })?;
    let children = match (id_of("front")?, id_of("back")?) {
        (Some(front), Some(back)) => Some((front, back)),
        (None, None) => None,
        _ => {
            return Err(bad(
                "front",
                "missing",
                "a split record names both children, front and back".to_owned(),
            ))
        }
    };
    if (status == Status::Split) != children.is_some() {
        return Err(bad(
            "status",
            "lineage_differs",
            "a record has children exactly when its status is SPLIT".to_owned(),
        ));
    }
    let fields = FINAL_FIELDS
        .iter()
        .filter_map(|k| {
            cells
                .get(*k)
                .filter(|v| !is_empty(v))
                .map(|v| ((*k).to_owned(), v.clone()))
        })
        .collect();
    Ok(Node {
        row,
        id,
        record,
        status,
        holder: text("holder"),
        parent: id_of("parent")?,
        children,
        fields,
    })
}

/// The record a row's text fields name as the export wrote them: the stored
/// canonical text, taken as it is when it gives the row's `id` and
/// canonicalizing it again does not. SPEC §2's canonical form is not always a
/// fixed point (`ℌ` lowercases to itself, then NFKC makes it `H`), so a
/// record whose fields hold such text would not import back into its own id.
/// A row that was edited gives neither id, and stays `id_mismatch`.
fn as_exported(
    canonical: CanonicalRecord,
    cells: &Map<String, Value>,
    id: RecordId,
) -> CanonicalRecord {
    if canonical.id() == id {
        return canonical;
    }
    let text = |key: &str| match cells.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let (Some(project_name), Some(registry), Some(serial_number)) = (
        text("project_name"),
        text("registry"),
        text("serial_number"),
    ) else {
        return canonical;
    };
    let exported = CanonicalRecord {
        project_name,
        registry,
        serial_number,
        ..canonical
    };
    if exported.id() == id {
        exported
    } else {
        canonical
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// Replays `nodes` into `store`, counting into `summary`.
pub(crate) async fn apply(
    store: &Writer<'_>,
    nodes: Vec<Node>,
    summary: &mut Summary,
    bar: &ProgressBar,
) -> Result<(), StoreError> {
    let by_id: HashMap<RecordId, &Node> = nodes.iter().map(|n| (n.id, n)).collect();
    let mut roots = Vec::new();
    for n in &nodes {
        match n.parent {
            None => roots.push(n),
            Some(parent) if !by_id.contains_key(&parent) => summary.rejected.push(Rejected {
                row: n.row,
                column: Some("parent".to_owned()),
                code: "parent_missing".to_owned(),
                message: format!("the parent {parent} is not in the file, or its row is rejected"),
            }),
            Some(_) => {}
        }
    }
    // The roots this import creates: not "already there" when their trees
    // are replayed.
    let mut new_roots = HashSet::new();
    for chunk in roots.chunks(CHUNK) {
        let records = chunk.iter().map(|n| n.record.clone()).collect();
        for (n, outcome) in chunk.iter().zip(store.create(records).await?) {
            match outcome {
                Ok(Created::New(_)) => {
                    summary.created += 1;
                    new_roots.insert(n.id);
                }
                Ok(Created::Existing(_)) => {}
                Err(e @ (StoreError::Unavailable { .. } | StoreError::Corrupt { .. })) => {
                    return Err(e)
                }
                Err(e) => summary.rejected.push(Rejected {
                    row: n.row,
                    column: Some("serial_number".to_owned()),
                    code: "rejected".to_owned(),
                    message: e.to_string(),
                }),
            }
        }
    }
    let by_id = &by_id;
    // Boxed, so that the stream's futures are `Send` for every lifetime
    // (rust-lang/rust#102211).
    let trees: Vec<BoxFuture<'_, Result<Counts, StoreError>>> = roots
        .into_iter()
        .map(|root| tree(store, root, by_id, new_roots.contains(&root.id)).boxed())
        .collect();
    let mut trees = stream::iter(trees).buffer_unordered(PARALLEL);
    while let Some(counts) = trees.next().await {
        let counts = counts?;
        summary.created += counts.children;
        summary.existing += counts.existing;
        summary.retired += counts.retired;
        summary.sold += counts.sold;
        summary.rejected.extend(counts.rejected);
        bar.inc(counts.rows);
    }
    Ok(())
}

/// Replays the tree under `root`, parents before children.
async fn tree(
    store: &Writer<'_>,
    root: &Node,
    by_id: &HashMap<RecordId, &Node>,
    new_root: bool,
) -> Result<Counts, StoreError> {
    let mut counts = Counts::default();
    if new_root {
        counts.fresh.insert(root.id);
    }
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        match settle(store, n, by_id, &mut counts).await? {
            Ok(()) => {
                if let Some((front, back)) = n.children {
                    stack.extend([back, front].iter().filter_map(|c| by_id.get(c).copied()));
                }
            }
            Err(r) => counts.rejected.push(r),
        }
        counts.rows += 1;
    }
    Ok(counts)
}

/// What one tree's replay did.
#[derive(Default)]
struct Counts {
    rows: u64,
    children: usize,
    existing: usize,
    retired: usize,
    sold: usize,
    rejected: Vec<Rejected>,
    /// The records of the tree this import created (counted as created,
    /// not as already there).
    fresh: HashSet<RecordId>,
}

/// Brings the stored record `n` to its exported state; `Ok(Err(_))` when it
/// cannot get there.
async fn settle(
    store: &Writer<'_>,
    n: &Node,
    by_id: &HashMap<RecordId, &Node>,
    counts: &mut Counts,
) -> Result<Result<(), Rejected>, StoreError> {
    let refuse = |code: &str, message: String| Ok(Err(refused(n, "status", code, message)));
    let Some(stored) = store.get(n.id).await? else {
        return refuse(
            "lineage_differs",
            format!("the record {} was not created by its parent's split", n.id),
        );
    };
    if let Some(refused) = unreachable(n, &stored)? {
        return Ok(Err(refused));
    }
    let state = lifecycle::replay(&stored.events)
        .map_err(|e| StoreError::corrupt(Some(n.id), "history", e))?;
    let (status, mut holder) = (state.status, state.owner);
    if status == n.status && holder == n.holder {
        if !counts.fresh.contains(&n.id) {
            counts.existing += 1;
        }
        return Ok(Ok(()));
    }
    // A sale to the exported holder when the holder changed, or when a
    // record held since its split was sold again to the same holder.
    if holder != n.holder || (n.status == Status::Sold && status != Status::Sold) {
        let Some(buyer) = &n.holder else {
            return refuse(
                "holder_differs",
                format!("the file says {} is SOLD but names no holder", n.id),
            );
        };
        if let Err(e) = act(store, n.id, Action::Sell, sale(buyer), None).await {
            return failed(n, e);
        }
        counts.sold += 1;
        holder = Some(buyer.clone());
    }
    let action = match n.status {
        Status::Active | Status::Sold => return Ok(Ok(())),
        Status::Retired => Action::Retire,
        Status::Cancelled => Action::Cancel,
        Status::Split => return split(store, n, holder, by_id, counts).await,
    };
    if let Err(e) = act(store, n.id, action, n.fields.clone(), None).await {
        return failed(n, e);
    }
    counts.retired += 1;
    Ok(Ok(()))
}

/// Why the row `n` cannot be reached from `stored`, its record as the store
/// holds it, if it cannot: a final state other than the row's
/// (`status_differs`), a split into other children (`lineage_differs`), or
/// a holder the row does not name (`holder_differs`: a sale cannot be
/// undone). Checked for every stored row before anything is written, and
/// again as each is replayed.
pub(crate) fn unreachable(n: &Node, stored: &StoredRecord) -> Result<Option<Rejected>, StoreError> {
    let state = lifecycle::replay(&stored.events)
        .map_err(|e| StoreError::corrupt(Some(n.id), "history", e))?;
    let (status, holder) = (state.status, state.owner);
    let refuse =
        |column: &str, code: &str, message: String| Ok(Some(refused(n, column, code, message)));
    let shown = |holder: &Option<String>| holder.as_deref().unwrap_or("nobody").to_owned();
    if status == n.status && holder == n.holder {
        if status == Status::Split && Lineage::of(&stored.events).children != n.children {
            return refuse(
                "front",
                "lineage_differs",
                format!("{} is stored split into other children", n.id),
            );
        }
        return Ok(None);
    }
    let final_ = matches!(status, Status::Retired | Status::Cancelled | Status::Split);
    if final_ && status == n.status {
        return refuse(
            "holder",
            "holder_differs",
            format!(
                "{} is stored {} held by {}; the file says held by {}, and a final record is not sold again",
                n.id,
                status.as_str(),
                shown(&holder),
                shown(&n.holder)
            ),
        );
    }
    if final_ {
        return refuse(
            "status",
            "status_differs",
            format!(
                "{} is stored {} (held by {}); the file says {} (held by {})",
                n.id,
                status.as_str(),
                shown(&holder),
                n.status.as_str(),
                shown(&n.holder)
            ),
        );
    }
    if holder.is_some() && n.holder.is_none() {
        return refuse(
            "holder",
            "holder_differs",
            format!(
                "{} is held by {} in the store; the file names no holder, and a sale cannot be undone",
                n.id,
                shown(&holder)
            ),
        );
    }
    Ok(None)
}

/// Splits `n` (held by `holder`) by the partial action its front child shows.
async fn split(
    store: &Writer<'_>,
    n: &Node,
    holder: Option<String>,
    by_id: &HashMap<RecordId, &Node>,
    counts: &mut Counts,
) -> Result<Result<(), Rejected>, StoreError> {
    let lineage = |message: String| {
        Ok(Err(Rejected {
            row: n.row,
            column: Some("front".to_owned()),
            code: "lineage_differs".to_owned(),
            message,
        }))
    };
    let Some(front) = n.children.and_then(|(f, _)| by_id.get(&f).copied()) else {
        return lineage(format!("the front child of {} is not in the file", n.id));
    };
    let (action, payload) = match (&front.holder, front.status) {
        (Some(buyer), _) if front.holder != holder => (Action::Sell, sale(buyer)),
        (_, Status::Retired) => (Action::Retire, front.fields.clone()),
        (_, Status::Cancelled) => (Action::Cancel, front.fields.clone()),
        (Some(buyer), _) => (Action::Sell, sale(buyer)),
        (None, _) => return lineage(format!("the front child {} shows no action", front.id)),
    };
    let quantity = front
        .record
        .block()
        .map(|b| b.credits())
        .unwrap_or_default();
    let children = match act(store, n.id, action, payload, Some(quantity)).await {
        Ok(Acted::Split(split)) => Some((split.front.id, split.back.id)),
        Ok(Acted::Whole(_)) => None,
        Err(e) => return failed(n, e),
    };
    if children != n.children {
        return lineage(format!(
            "splitting {} gave other children than the file names",
            n.id
        ));
    }
    counts.children += 2;
    counts
        .fresh
        .extend(children.iter().flat_map(|(f, b)| [*f, *b]));
    if action == Action::Sell {
        counts.sold += 1;
    } else {
        counts.retired += 1;
    }
    Ok(Ok(()))
}

/// A refused action as the row's rejection; a store fault stops the import.
fn failed(n: &Node, e: StoreError) -> Result<Result<(), Rejected>, StoreError> {
    match e {
        StoreError::Unavailable { .. } | StoreError::Corrupt { .. } => Err(e),
        StoreError::Transition(t) => Ok(Err(Rejected {
            row: n.row,
            column: Some("status".to_owned()),
            code: t.code().to_owned(),
            message: t.to_string(),
        })),
        other => Ok(Err(Rejected {
            row: n.row,
            column: Some("status".to_owned()),
            code: "rejected".to_owned(),
            message: other.to_string(),
        })),
    }
}

fn sale(buyer: &str) -> Map<String, Value> {
    let mut payload = Map::new();
    payload.insert("buyer".to_owned(), Value::String(buyer.to_owned()));
    payload
}

async fn act(
    store: &Writer<'_>,
    record: RecordId,
    action: Action,
    mut payload: Map<String, Value>,
    quantity: Option<u64>,
) -> Result<Acted, StoreError> {
    if let Some(q) = quantity {
        payload.insert("quantity".to_owned(), Value::from(q));
    }
    store
        .append(Append {
            record,
            action,
            payload: Some(payload),
        })
        .await
}

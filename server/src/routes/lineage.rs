//! `GET /records/{id}/lineage`: a block's place in its tree (SPEC §6).
//!
//! A partial action splits a block into a front child (the acted-on part) and
//! a back child (the remainder); splits of splits make a tree whose leaves
//! tile the registered block. This answer walks it: the ancestors up to the
//! registered block (the root), the record's own subtree, and the credits per
//! status over the root's leaves, which add up to the root's quantity.

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use carbon_tracker_core::lifecycle::Status;
use carbon_tracker_core::{Block, Lineage, Quantity, RecordId};
use serde::Serialize;
use utoipa::ToSchema;

use super::records::{record_id, stored};
use super::{AppState, NoParams, Params};
use crate::problem::Problem;
use crate::store::{write, StoreError, StoredRecord};

/// One record of a tree.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Node {
    /// Its id.
    #[schema(value_type = String, pattern = "^[0-9a-f]{64}$")]
    pub id: RecordId,
    /// The block it was split from, if any.
    #[schema(value_type = Option<String>)]
    pub parent: Option<RecordId>,
    /// Its front and back children, once split; empty before.
    #[schema(value_type = Vec<String>)]
    pub children: Vec<RecordId>,
    /// Its status.
    pub status: Status,
    /// Its credits, with 4 decimals (`"37.0000"`).
    #[schema(value_type = String, example = "37.0000")]
    pub quantity: Quantity,
    /// Its canonical serial.
    pub serial_number: String,
    /// Its range, when it is a block.
    pub block: Option<Block<'static>>,
    /// Who holds it (the latest buyer, inherited by children).
    pub holder: Option<String>,
}

/// A record's lineage.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LineageBody {
    /// The record asked about.
    #[schema(value_type = String)]
    pub id: RecordId,
    /// The registered block the tree grows from (the record itself if it
    /// was never split from one).
    #[schema(value_type = String)]
    pub root: RecordId,
    /// From the record's parent up to the root; empty for a root.
    pub ancestors: Vec<Node>,
    /// The record and everything split from it, depth first, each front
    /// child before its back child.
    pub subtree: Vec<Node>,
    /// Credits per status over the root's leaves (the records not `SPLIT`):
    /// they add up to the root's quantity.
    #[schema(value_type = BTreeMap<String, String>)]
    pub totals: BTreeMap<Status, Quantity>,
}

/// Most records one lineage or certificate answer holds: a block retired a
/// credit at a time makes a tree of twice as many records as it has
/// credits, and an answer that size is no use to a page or a verifier.
pub(crate) const MAX_RECORDS: usize = 10_000;

/// A record's ancestors, subtree, and the root's totals per status.
#[utoipa::path(
    get, path = "/records/{id}/lineage", tag = "records",
    params(("id" = String, Path, description = "The record id")),
    responses(
        (status = 200, description = "The lineage", body = LineageBody),
        (status = 404, description = "No such record", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A query parameter (this endpoint takes none), or `lineage_too_large`: the tree has more records than an answer holds (10,000)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn lineage(
    State(app): State<AppState>,
    Path(raw): Path<String>,
    _: Params<NoParams>,
) -> Result<Json<LineageBody>, Problem> {
    let id = record_id(&raw)?;
    let mut nodes: HashMap<RecordId, Node> = HashMap::new();
    let record = stored(&app, &raw).await?;
    let mut ancestors = Vec::new();
    let mut parent = node(record)?;
    let mut root = id;
    let mut up = parent.parent;
    nodes.insert(id, parent);
    while let Some(next) = up {
        if ancestors.len() >= MAX_RECORDS {
            return Err(tree_too_large(id));
        }
        parent = node(load(&app, next).await?)?;
        up = parent.parent;
        root = next;
        ancestors.push(next);
        nodes.insert(next, parent);
    }
    // The root's whole tree, depth first, front before back.
    let mut order = Vec::new();
    let mut stack = vec![root];
    while let Some(next) = stack.pop() {
        if order.len() >= MAX_RECORDS {
            return Err(tree_too_large(id));
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = nodes.entry(next) {
            slot.insert(node(load(&app, next).await?)?);
        }
        order.push(next);
        if let Some(n) = nodes.get(&next) {
            stack.extend(n.children.iter().rev());
        }
    }
    let mut totals: BTreeMap<Status, Quantity> = BTreeMap::new();
    for n in order.iter().filter_map(|i| nodes.get(i)) {
        if n.status != Status::Split {
            let sum = match totals.get(&n.status) {
                Some(q) => q.checked_add(n.quantity).ok_or_else(|| {
                    StoreError::corrupt(
                        Some(root),
                        "lineage",
                        "its leaves add up past any quantity",
                    )
                })?,
                None => n.quantity,
            };
            totals.insert(n.status, sum);
        }
    }
    let in_subtree = subtree(&order, &nodes, id);
    let mut take = |i: &RecordId| nodes.remove(i);
    Ok(Json(LineageBody {
        id,
        root,
        ancestors: ancestors.iter().filter_map(&mut take).collect(),
        subtree: in_subtree.iter().filter_map(&mut take).collect(),
        totals,
    }))
}

/// The ids of `id`'s subtree, in the tree's depth-first `order`.
fn subtree(order: &[RecordId], nodes: &HashMap<RecordId, Node>, id: RecordId) -> Vec<RecordId> {
    let mut inside = HashSet::from([id]);
    let mut pending = vec![id];
    while let Some(next) = pending.pop() {
        for child in nodes
            .get(&next)
            .map(|n| n.children.as_slice())
            .unwrap_or_default()
        {
            inside.insert(*child);
            pending.push(*child);
        }
    }
    order
        .iter()
        .copied()
        .filter(|o| inside.contains(o))
        .collect()
}

/// A record the tree names, which must be stored.
async fn load(app: &AppState, id: RecordId) -> Result<StoredRecord, StoreError> {
    app.store.get(id).await?.ok_or_else(|| {
        StoreError::corrupt(
            Some(id),
            "lineage",
            "a split names a record that is not stored",
        )
    })
}

fn node(record: StoredRecord) -> Result<Node, StoreError> {
    let state = write::history(record.id, &record.events)?;
    let lineage = Lineage::of(&record.events);
    Ok(Node {
        id: record.id,
        parent: lineage.parent,
        children: lineage
            .children
            .map(|(front, back)| vec![front, back])
            .unwrap_or_default(),
        status: state.status,
        quantity: record.canonical.quantity,
        block: record.canonical.block().map(Block::into_owned),
        serial_number: record.canonical.serial_number,
        holder: state.owner,
    })
}

/// What to do instead of asking for a lineage too large to answer.
const LINEAGE_HELP: &str = "GET /records/{id} names each record's parent and children: \
     read the tree a record at a time";

/// The answer when what a request asks for holds more than [`MAX_RECORDS`]
/// records: `detail` says which, `help` what to do instead.
pub(crate) fn too_large(detail: String, help: &str) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "lineage_too_large",
        detail,
    )
    .with_help(help)
}

/// [`too_large`] for the lineage of `id`.
fn tree_too_large(id: RecordId) -> Problem {
    too_large(
        format!(
            "the lineage of record {id} covers the whole tree of its registered block, \
             which has more than {MAX_RECORDS} records, the most an answer holds"
        ),
        LINEAGE_HELP,
    )
}

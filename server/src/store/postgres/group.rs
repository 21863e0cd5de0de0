//! Group commit: the writes waiting at one moment share one transaction.
//!
//! Every create and lifecycle call goes into one queue. A few writer tasks
//! each take everything waiting (up to [`MAX_GROUP`] records), write it with
//! one statement per table, commit once, and only then answer each request.
//! Under load, many requests share a round trip, a WAL flush and the
//! backend's per-statement work; with no load a request is a group of one.
//! While one writer commits, the next collects what arrived meanwhile.
//!
//! What held one request at a time holds for a group:
//! - creates insert in record id order (`INSERT … SELECT FROM unnest(…)
//!   ORDER BY id … ON CONFLICT DO NOTHING`), so two groups sharing records,
//!   in this process or another, wait for each other in one order and
//!   cannot deadlock; identical creates make one record;
//! - creates of blocks first lock their schemes and prefixes, sorted, in one
//!   statement (`locks::lock_blocks`), so that creates that could overlap
//!   take turns, in this process or another, and see each other's blocks;
//! - lifecycle calls lock every record they address in one statement,
//!   sorted by id (`… ORDER BY id FOR NO KEY UPDATE`), with their histories
//!   read in the same round trip; the core then decides each call in
//!   arrival order on the history as the calls before it left it, so calls
//!   on one record still run one after the other (one retire wins);
//! - a request's own failure (an overlap, a transition error, an id with
//!   other data) is its answer alone, decided before anything is written;
//! - a collision with another process rolls the whole group back and runs
//!   it again (`retry`); a connection lost during the commit leaves every
//!   request of the group with a 503, since its outcome is unknown; any
//!   other failure of the group runs its requests one by one, so one bad
//!   request cannot fail the others.

use std::collections::{HashMap, HashSet};

use carbon_tracker_core::lifecycle::Event;
use carbon_tracker_core::{Acted, CanonicalRecord, RecordId};
use deadpool_postgres::{GenericClient, Pool};
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::retry::{run, Failed};
use super::sql::{self, now};
use super::{keys, locks};
use crate::store::blocks::LiveBlock;
use crate::store::write::{self, Step};
use crate::store::{
    Answer, Append, Created, IdempotencyKey, Remember, SavedResponse, StoreError, StoredRecord,
    Write,
};

/// Most records (a create's, or one per lifecycle call) one group writes.
const MAX_GROUP: usize = 2048;

/// Writer tasks per process: while one commits, another collects.
pub(super) const WRITERS: usize = 3;

/// The outcomes of a create, one per record.
pub(super) type Creates = Vec<Result<Created, StoreError>>;

/// A request waiting for a group: its work, who asks, its
/// `Idempotency-Key`, and where its answer goes.
pub(super) struct Request<W, R> {
    /// The records to create, or the lifecycle call.
    pub(super) work: W,
    /// The API key's name, the events' `actor`.
    pub(super) actor: Option<String>,
    /// The key, and how to render the answer kept for it.
    pub(super) remember: Option<Remember<R>>,
    /// Where the answer goes.
    pub(super) reply: oneshot::Sender<Result<Answer<R>, StoreError>>,
}

impl<W, R> Request<W, R> {
    /// The request to do `work` as `write` says, answered on `reply`.
    pub(super) fn new(
        work: W,
        write: Write<R>,
        reply: oneshot::Sender<Result<Answer<R>, StoreError>>,
    ) -> Self {
        Self {
            work,
            actor: write.actor,
            remember: write.remember,
            reply,
        }
    }
}

/// A write waiting for a group.
pub(super) enum Job {
    /// Records to create (one, or a batch's).
    Create(Request<Vec<CanonicalRecord>, Creates>),
    /// A lifecycle call.
    Append(Request<Append, Acted>),
}

impl Job {
    fn size(&self) -> usize {
        match self {
            Self::Create(r) => r.work.len().max(1),
            Self::Append(..) => 1,
        }
    }
}

/// Starts the writer tasks; they stop when the sender is dropped and the
/// queue is empty.
pub(super) fn start(pool: &Pool) -> mpsc::UnboundedSender<Job> {
    super::queue::start(pool, WRITERS, MAX_GROUP, Job::size, commit)
}

/// Writes and commits one group, then answers each of its requests.
///
/// Requests with an `Idempotency-Key` lock their keys first, in one
/// statement in lock order (so that groups of several processes locking the
/// same keys wait for each other in one order); a key answered before is
/// replayed and its request left out; the answers of the others are
/// written before the commit, in the group's transaction (see `keys`).
async fn commit(pool: Pool, jobs: Vec<Job>) {
    let pool = &pool;
    let mut creates = Vec::new();
    let mut appends = Vec::new();
    for job in jobs {
        match job {
            Job::Create(r) => creates.push(r),
            Job::Append(r) => appends.push(r),
        }
    }
    let (c, a) = (&creates, &appends);
    let outcome = run(pool, |mut client| async move {
        let keyed =
            c.iter().any(|r| r.remember.is_some()) || a.iter().any(|r| r.remember.is_some());
        let blocks = c.iter().any(|r| r.work.iter().any(|r| r.block().is_some()));
        if a.is_empty() && !keyed && !blocks {
            // Plain creates alone: the insert is one statement, so it
            // commits by itself (no BEGIN, no COMMIT round trip). Blocks
            // need a transaction, for the locks of their prefixes.
            let work: Vec<_> = c
                .iter()
                .map(|r| (r.work.clone(), r.actor.clone()))
                .collect();
            let created = create_group(&client, &work, true).await?;
            let answers: Vec<Result<Answer<Creates>, StoreError>> =
                created.into_iter().map(|o| Ok(Answer::Done(o))).collect();
            return Ok((answers, Vec::new()));
        }
        let tx = client.transaction().await?;
        let claims: Vec<&IdempotencyKey> = c
            .iter()
            .filter_map(|r| r.remember.as_ref().map(|m| &m.key))
            .chain(a.iter().filter_map(|r| r.remember.as_ref().map(|m| &m.key)))
            .collect();
        let mut earlier = keys::claim_many(&tx, &claims).await?;
        // The requests whose key was answered before are answered so.
        let mut create_answers: Vec<Option<Result<Answer<Creates>, StoreError>>> = c
            .iter()
            .map(|r| replayed(r.remember.as_ref(), &mut earlier))
            .collect();
        let mut append_answers: Vec<Option<Result<Answer<Acted>, StoreError>>> = a
            .iter()
            .map(|r| replayed(r.remember.as_ref(), &mut earlier))
            .collect();
        let work: Vec<_> = c
            .iter()
            .zip(&create_answers)
            .filter(|(_, answered)| answered.is_none())
            .map(|(r, _)| (r.work.clone(), r.actor.clone()))
            .collect();
        let calls: Vec<_> = a
            .iter()
            .zip(&append_answers)
            .filter(|(_, answered)| answered.is_none())
            .map(|(r, _)| (r.work.clone(), r.actor.clone()))
            .collect();
        let mut created = create_group(&tx, &work, false).await?.into_iter();
        let mut acted = append_group(&tx, &calls).await?.into_iter();
        let mut kept = keys::Answers::default();
        for (r, slot) in c.iter().zip(&mut create_answers) {
            if slot.is_none() {
                let outcome = created.next().ok_or_else(|| lost("create"))?;
                *slot = Some(Ok(kept.add(r.remember.as_ref(), outcome)));
            }
        }
        for (r, slot) in a.iter().zip(&mut append_answers) {
            if slot.is_none() {
                let outcome = acted.next().ok_or_else(|| lost("lifecycle call"))?;
                // Refused: nothing is kept; the key's lock ends with the
                // transaction.
                *slot = Some(outcome.map(|acted| kept.add(r.remember.as_ref(), acted)));
            }
        }
        kept.write(&tx).await?;
        tx.commit().await.map_err(Failed::at_commit)?;
        Ok((
            create_answers.into_iter().flatten().collect(),
            append_answers.into_iter().flatten().collect(),
        ))
    })
    .await;
    // A client that went away no longer waits for its answer.
    match outcome {
        Ok((created, acted)) => {
            for (r, outcome) in creates.into_iter().zip(created) {
                let _ = r.reply.send(outcome);
            }
            for (r, outcome) in appends.into_iter().zip(acted) {
                let _ = r.reply.send(outcome);
            }
        }
        Err(StoreError::Unavailable { context, source }) => {
            let source = source.map(|s| s.to_string());
            let error = || StoreError::Unavailable {
                context: context.clone(),
                source: source.clone().map(Into::into),
            };
            for r in creates {
                let _ = r.reply.send(Err(error()));
            }
            for r in appends {
                let _ = r.reply.send(Err(error()));
            }
        }
        Err(e) => {
            // Something in the group failed as a whole: each request alone,
            // so that it is only that request's answer.
            tracing::warn!(error = %e, "a group commit failed; its requests run one by one");
            let creates = creates.into_iter().map(|r| async move {
                let outcome = super::create_alone(pool, r.work, r.actor, r.remember.as_ref()).await;
                let _ = r.reply.send(outcome);
            });
            let appends = appends.into_iter().map(|r| async move {
                let outcome = super::append_alone(pool, r.work, r.actor, r.remember.as_ref()).await;
                let _ = r.reply.send(outcome);
            });
            futures_util::future::join(
                futures_util::future::join_all(creates),
                futures_util::future::join_all(appends),
            )
            .await;
        }
    }
}

/// The answer to a request whose key was answered before (taken from
/// `earlier`), or `None` when the request goes ahead.
fn replayed<T, R>(
    remember: Option<&Remember<R>>,
    earlier: &mut HashMap<(String, String), Result<SavedResponse, StoreError>>,
) -> Option<Result<Answer<T>, StoreError>> {
    let key = &remember?.key;
    earlier
        .remove(&(key.scope.clone(), key.key.clone()))
        .map(|found| found.map(Answer::Replayed))
}

/// A group's outcomes fewer than its requests: a fault of this code.
fn lost(what: &str) -> Failed {
    StoreError::corrupt(None, what, "the group lost an outcome").into()
}

/// How the first request for an id in a group came out.
enum Resolved {
    /// Stored (new or found): later identical requests find it.
    Stored(StoredRecord),
    /// Refused for sharing credits with this block.
    Overlap(RecordId),
}

/// One record of a create in the group: which request, which item.
struct Item<'a> {
    job: usize,
    index: usize,
    record: &'a CanonicalRecord,
    id: RecordId,
    actor: Option<&'a str>,
}

/// The creates of a group: their outcomes, request by request.
/// `autocommit`: no transaction is open, so the insert is the commit, and a
/// connection lost during it leaves the outcome unknown; only for creates
/// with no block, whose prefixes' locks need a transaction to hold them.
async fn create_group<C: GenericClient + Sync>(
    client: &C,
    creates: &[(Vec<CanonicalRecord>, Option<String>)],
    autocommit: bool,
) -> Result<Vec<Vec<Result<Created, StoreError>>>, Failed> {
    if creates.is_empty() {
        return Ok(Vec::new());
    }
    let now = now();
    let items: Vec<Item<'_>> = creates
        .iter()
        .enumerate()
        .flat_map(|(job, (records, actor))| {
            records.iter().enumerate().map(move |(index, record)| Item {
                job,
                index,
                record,
                id: record.id(),
                actor: actor.as_deref(),
            })
        })
        .collect();
    // The first request for each id, in arrival order; later ones follow it.
    let mut seen = HashSet::new();
    let firsts: Vec<&Item<'_>> = items.iter().filter(|i| seen.insert(i.id)).collect();
    let blocks: Vec<Option<LiveBlock>> = firsts
        .iter()
        .map(|i| LiveBlock::with_id(i.id, i.record))
        .collect();

    // Overlaps: with the stored blocks (one query, once the group's turn
    // for their prefixes came), then within the group.
    locks::lock_blocks(client, blocks.iter().flatten()).await?;
    let looks = sql::overlapping_many(client, &blocks).await?;
    let mut overlap: HashMap<RecordId, RecordId> = HashMap::new();
    let mut accepted: Vec<&LiveBlock> = Vec::new();
    for ((item, block), look) in firsts.iter().zip(&blocks).zip(looks) {
        let Some(block) = block else { continue };
        let (held, exists) = look;
        if let Some(held) = held {
            // An identical block is that record, split or not: the insert
            // then finds it.
            if held != item.id && !exists {
                overlap.insert(item.id, held);
                continue;
            }
        }
        if exists {
            continue;
        }
        if let Some(earlier) = accepted
            .iter()
            .find(|a| a.record != item.id && a.overlaps(block))
        {
            overlap.insert(item.id, earlier.record);
            continue;
        }
        accepted.push(block);
    }

    // One statement inserts the records, their CREATED events and their
    // blocks, in id order.
    let mut to_insert: Vec<(&Item<'_>, Option<&LiveBlock>, Event)> = Vec::new();
    for (item, block) in firsts.iter().zip(&blocks) {
        if !overlap.contains_key(&item.id) {
            let event = write::created_event(item.id, now, item.actor)?;
            to_insert.push((item, block.as_ref(), event));
        }
    }
    to_insert.sort_by_key(|(item, ..)| item.id);
    let rows: Vec<sql::NewRecord<'_>> = to_insert
        .iter()
        .map(|(item, block, event)| sql::NewRecord {
            id: item.id,
            record: item.record,
            event,
            block: *block,
        })
        .collect();
    let inserted = match sql::insert_records(client, &rows).await {
        Ok(inserted) => inserted,
        Err(e) if autocommit => return Err(e.unknown_outcome()),
        Err(e) => return Err(e),
    };

    // The ids already stored (committed: the insert waited for any writer
    // of them), read in one round trip.
    let found: Vec<RecordId> = to_insert
        .iter()
        .map(|(item, ..)| item.id)
        .filter(|id| !inserted.contains(id))
        .collect();
    let mut stored = if found.is_empty() {
        HashMap::new()
    } else {
        sql::load_records(client, &found).await?
    };

    let mut resolved: HashMap<RecordId, Resolved> = HashMap::new();
    for (item, _, event) in &to_insert {
        if inserted.contains(&item.id) {
            resolved.insert(
                item.id,
                Resolved::Stored(StoredRecord {
                    id: item.id,
                    canonical: item.record.clone(),
                    created_at: event.created_at,
                    events: vec![event.clone()],
                }),
            );
        } else {
            let record = stored.remove(&item.id).ok_or_else(|| {
                StoreError::corrupt(
                    Some(item.id),
                    "record",
                    "it vanished after its insert conflicted",
                )
            })?;
            resolved.insert(item.id, Resolved::Stored(record));
        }
    }
    for (id, held) in overlap {
        resolved.insert(id, Resolved::Overlap(held));
    }

    let mut outcomes: Vec<Vec<Result<Created, StoreError>>> = creates
        .iter()
        .map(|(records, _)| Vec::with_capacity(records.len()))
        .collect();
    let mut first_seen = HashSet::new();
    for item in &items {
        let first = first_seen.insert(item.id);
        let outcome = match resolved.get(&item.id) {
            Some(Resolved::Stored(record)) if first && inserted.contains(&item.id) => {
                Ok(Created::New(record.clone()))
            }
            Some(Resolved::Stored(record)) => write::existing(item.record, record.clone()),
            Some(Resolved::Overlap(held)) if first || firsts_equal(&firsts, item) => {
                Err(StoreError::SerialOverlap { existing: *held })
            }
            // The same id with other data after a refused first: on its own.
            _ => sql::create_one(client, item.record, now, item.actor).await?,
        };
        if let Some(slot) = outcomes.get_mut(item.job) {
            debug_assert_eq!(slot.len(), item.index);
            slot.push(outcome);
        }
    }
    Ok(outcomes)
}

/// Whether `item` asks for exactly what the first request for its id did.
fn firsts_equal(firsts: &[&Item<'_>], item: &Item<'_>) -> bool {
    firsts
        .iter()
        .find(|f| f.id == item.id)
        .is_some_and(|f| f.record == item.record)
}

/// The lifecycle calls of a group, in the caller's transaction: their
/// outcomes in order.
async fn append_group<C: GenericClient + Sync>(
    tx: &C,
    appends: &[(Append, Option<String>)],
) -> Result<Vec<Result<Acted, StoreError>>, Failed> {
    if appends.is_empty() {
        return Ok(Vec::new());
    }
    let now = now();
    let mut ids: Vec<RecordId> = appends.iter().map(|(a, _)| a.record).collect();
    ids.sort();
    ids.dedup();
    // Every addressed record locked, in id order, and read: one round trip.
    let mut known: HashMap<RecordId, Option<StoredRecord>> =
        ids.iter().map(|id| (*id, None)).collect();
    known.extend(
        sql::lock_records(tx, &ids)
            .await?
            .into_iter()
            .map(|(id, r)| (id, Some(r))),
    );
    let mut decided = Vec::with_capacity(appends.len());
    for (request, actor) in appends {
        decided.push(decide(tx, request, actor.as_deref(), &mut known, now).await?);
    }

    // The events in decision order: runs of whole actions in one statement,
    // a split with its children on its own.
    let mut outcomes: Vec<Option<Result<Acted, StoreError>>> = Vec::with_capacity(decided.len());
    let mut run_of: Vec<(usize, Event)> = Vec::new();
    for (i, outcome) in decided.into_iter().enumerate() {
        match outcome {
            Ok(Acted::Whole(event)) => {
                run_of.push((i, event));
                outcomes.push(None);
            }
            Ok(acted @ Acted::Split(_)) => {
                flush(tx, &mut run_of, &mut outcomes).await?;
                outcomes.push(Some(Ok(sql::write_acted(tx, acted).await?)));
            }
            Err(e) => outcomes.push(Some(Err(e))),
        }
    }
    flush(tx, &mut run_of, &mut outcomes).await?;
    outcomes
        .into_iter()
        .map(|o| {
            o.ok_or_else(|| StoreError::corrupt(None, "event", "an event was not written").into())
        })
        .collect()
}

/// Inserts the events of `pending` in one statement and fills their outcomes.
async fn flush<C: GenericClient + Sync>(
    tx: &C,
    pending: &mut Vec<(usize, Event)>,
    outcomes: &mut [Option<Result<Acted, StoreError>>],
) -> Result<(), Failed> {
    if pending.is_empty() {
        return Ok(());
    }
    let events: Vec<Event> = pending.iter().map(|(_, e)| e.clone()).collect();
    let stored = sql::insert_events(tx, &events).await?;
    for ((i, _), event) in pending.drain(..).zip(stored) {
        if let Some(slot) = outcomes.get_mut(i) {
            *slot = Some(Ok(Acted::Whole(event)));
        }
    }
    Ok(())
}

/// The core's decision for `request` on the histories as the group left
/// them; a record not yet locked (a split's remainder) is locked and read
/// first. `known` gains the decision's events.
async fn decide<C: GenericClient + Sync>(
    tx: &C,
    request: &Append,
    actor: Option<&str>,
    known: &mut HashMap<RecordId, Option<StoredRecord>>,
    now: OffsetDateTime,
) -> Result<Result<Acted, StoreError>, Failed> {
    let mut reached = request.record;
    for hop in 0..write::MAX_HOPS {
        if let std::collections::hash_map::Entry::Vacant(slot) = known.entry(reached) {
            let mut found = sql::lock_records(tx, &[reached]).await?;
            slot.insert(found.remove(&reached));
        }
        let record = known.get(&reached).and_then(Option::as_ref);
        match write::step(request, reached, record, hop > 0, now, actor) {
            Err(e) => return Ok(Err(e)),
            Ok(Step::Follow(next)) => {
                reached = sql::remainder(tx, record.filter(|_| hop == 0), next).await?;
            }
            Ok(Step::Act(acted)) => {
                remember(known, &acted);
                return Ok(Ok(acted));
            }
        }
    }
    Ok(Err(write::too_deep(request.record)))
}

/// Adds what `acted` writes to the histories the group decides on.
fn remember(known: &mut HashMap<RecordId, Option<StoredRecord>>, acted: &Acted) {
    let mut push = |event: &Event| {
        if let Some(Some(record)) = known.get_mut(&event.record_id) {
            record.events.push(event.clone());
        }
    };
    match acted {
        Acted::Whole(event) => push(event),
        Acted::Split(split) => {
            push(&split.parent);
            for child in [&split.front, &split.back] {
                known.insert(
                    child.id,
                    Some(StoredRecord {
                        id: child.id,
                        canonical: child.record.clone(),
                        created_at: split.parent.created_at,
                        events: child.events.clone(),
                    }),
                );
            }
        }
    }
}

/// The stored payload of a JSON object (`jsonb` respells numbers).
pub(super) fn object(value: Option<Value>) -> Option<serde_json::Map<String, Value>> {
    match value {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    }
}

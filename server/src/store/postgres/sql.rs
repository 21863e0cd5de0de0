//! The SQL of the PostgreSQL backend and its reading of rows.

use std::collections::{HashMap, HashSet};

use carbon_tracker_core::lifecycle::Event;
use carbon_tracker_core::{Acted, CanonicalRecord, Child, RecordId, Split};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use time::OffsetDateTime;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;

use super::locks;
use super::retry::Failed;
use crate::store::blocks::{self, LiveBlock};
use crate::store::list::{self, Arg, Cut, Dialect};
use crate::store::rows::{self, Columns, EventRow, RecordRow};
use crate::store::summary::{self, Credits, GroupKey, RawRow, Tally};
use crate::store::{write, Created, ListQuery, Page, StoreError, StoredRecord};

/// Rows of transactions older than every running one: see the module docs
/// on the feed.
pub(super) const SETTLED: &str = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

/// [`crate::store::rows::EVENT_COLUMNS`], `seq` widened to the row's integer.
pub(super) const EVENT_COLUMNS: &str =
    "id, record_id, seq::bigint, event_type, payload, created_at, actor";
/// How many columns [`EVENT_COLUMNS`] holds: the index of a column after them.
const EVENT_COLUMN_COUNT: usize = 7;

/// The columns [`RecordRow::read`] reads, integers widened, the quantity as text.
const RECORD_COLUMNS: &str = "r.tx, r.pos, r.id, r.project_name, r.registry, r.vintage::bigint, \
     r.quantity::text, r.serial_number, r.created_at";

/// The SQL of PostgreSQL for [`list::query`]: `$n` placeholders (integers
/// as `bigint`); writers commit in any order, so a position is `(tx, pos)`.
const DIALECT: Dialect = Dialect {
    int: |n| format!("${n}::bigint"),
    text: |n| format!("${n}"),
    record_columns: RECORD_COLUMNS,
    json_text: |column, key| format!("({column} ->> '{key}')"),
    position: &["r.tx", "r.pos"],
};

/// One record with its CREATED event, unless the id exists, and its range
/// in the index of live blocks when it is a block ($12: its scheme, null for
/// a plain record): one statement. Creates of blocks of one prefix take
/// turns ([`locks::lock_blocks`]); the exclusion constraint on `live_blocks`
/// stays the last guard (a retried conflict, whose retry's look finds the
/// other block).
const CREATE: &str = "WITH r AS (\
        INSERT INTO records (id, project_name, registry, vintage, quantity, serial_number, created_at) \
        VALUES ($1, $2, $3, $4, $5::text::numeric, $6, $7) \
        ON CONFLICT (id) DO NOTHING RETURNING id), \
    e AS (INSERT INTO events (id, record_id, seq, event_type, payload, created_at, actor) \
        SELECT $8, r.id, $9, $10, $11, $7, $16 FROM r), \
    b AS (INSERT INTO live_blocks (record_id, scheme, prefix, credits) \
        SELECT r.id, $12, $13, numrange($14::text::numeric, $15::text::numeric, '[]') \
        FROM r WHERE $12::text IS NOT NULL) \
    SELECT count(*) FROM r";

/// The live block sharing a credit with the range $3..=$4 of scheme $1 and
/// prefix $2, or else the block left out of the index by the migration
/// ([`blocks`]) that does.
const OVERLAPPING: &str = "(SELECT record_id FROM live_blocks \
    WHERE scheme = $1 AND prefix = $2 \
    AND credits && numrange($3::text::numeric, $4::text::numeric, '[]') LIMIT 1) \
    UNION ALL (SELECT record_id FROM left_out_blocks \
    WHERE scheme = $1 AND prefix = $2 \
    AND credits && numrange($3::text::numeric, $4::text::numeric, '[]') LIMIT 1) LIMIT 1";

/// A block joins the index of live blocks.
const INSERT_LIVE: &str = "INSERT INTO live_blocks (record_id, scheme, prefix, credits) \
    VALUES ($1, $2, $3, numrange($4::text::numeric, $5::text::numeric, '[]'))";

/// A block the migration left out keeps its range.
const INSERT_LEFT_OUT: &str = "INSERT INTO left_out_blocks (record_id, scheme, prefix, credits) \
    VALUES ($1, $2, $3, numrange($4::text::numeric, $5::text::numeric, '[]'))";

/// The current time as PostgreSQL stores it (microseconds), so an event read
/// back equals the event a write returned.
pub(super) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// Column `idx` of `row`; a value that does not read as its type is corrupt.
pub(super) fn get<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T, StoreError> {
    row.try_get(idx)
        .map_err(|e| StoreError::corrupt(None, "column", e))
}

/// A row of tokio-postgres: every column has its own type.
struct PgRow<'a>(&'a Row, usize);

impl Columns for PgRow<'_> {
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        get(self.0, self.1 + i)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        get(self.0, self.1 + i)
    }
    fn text(&self, i: usize) -> Result<String, StoreError> {
        get(self.0, self.1 + i)
    }
    fn time(&self, i: usize) -> Result<OffsetDateTime, StoreError> {
        get(self.0, self.1 + i)
    }
    fn uuid(&self, i: usize) -> Result<uuid::Uuid, StoreError> {
        get(self.0, self.1 + i)
    }
    fn json(&self, i: usize) -> Result<Option<Value>, StoreError> {
        get(self.0, self.1 + i)
    }
}

fn record_row(row: &Row) -> Result<RecordRow, StoreError> {
    RecordRow::read(&PgRow(row, 0))
}

/// An event row, in [`EVENT_COLUMNS`] order.
pub(super) fn event(row: &Row) -> Result<Event, StoreError> {
    EventRow::read(&PgRow(row, 0))?.decode()
}

/// A record and its history: one statement.
pub(super) async fn load_record<C: GenericClient + Sync>(
    client: &C,
    id: RecordId,
) -> Result<Option<StoredRecord>, Failed> {
    Ok(load_joined(client, &[id]).await?.remove(&id))
}

/// The stored records among `ids` with their histories: one statement, the
/// record's columns on each of its events' rows. The ids are unnested and
/// each record's events read by a lateral lookup, so that every plan is
/// index lookups (a join on `= ANY($1)` can hash all of `events`).
pub(super) async fn load_joined<C: GenericClient + Sync>(
    client: &C,
    ids: &[RecordId],
) -> Result<HashMap<RecordId, StoredRecord>, Failed> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS}, \
             e.id, e.record_id, e.seq::bigint, e.event_type, e.payload, e.created_at, e.actor \
             FROM unnest($1::text[]) AS k(id) JOIN records r ON r.id = k.id \
             LEFT JOIN LATERAL (SELECT * FROM events e WHERE e.record_id = r.id) e ON true \
             ORDER BY r.id, e.seq"
        ))
        .await?;
    let keys: Vec<String> = ids.iter().map(RecordId::to_string).collect();
    let found = client.query(&stmt, &[&keys]).await?;
    let mut out = HashMap::with_capacity(ids.len());
    let mut rows_of = found.iter().peekable();
    while let Some(first) = rows_of.next() {
        let record = record_row(first)?;
        let mut events = Vec::new();
        let mut row = Some(first);
        while let Some(r) = row {
            if get::<Option<uuid::Uuid>>(r, RECORD_WIDTH)?.is_some() {
                events.push(EventRow::read(&PgRow(r, RECORD_WIDTH))?.decode()?);
            }
            row = rows_of.next_if(|next| get::<String>(next, 2).is_ok_and(|id| id == record.id));
        }
        let (_, record) = record.decode(events)?;
        out.insert(record.id, record);
    }
    Ok(out)
}

/// How many columns [`RECORD_COLUMNS`] has.
const RECORD_WIDTH: usize = 9;

/// The canonical fields of the stored records among `ids`.
pub(super) async fn canonical_records<C: GenericClient + Sync>(
    client: &C,
    ids: &[String],
) -> Result<Vec<(RecordId, CanonicalRecord)>, Failed> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM records r WHERE r.id = ANY($1)"
        ))
        .await?;
    let rows = client.query(&stmt, &[&ids]).await?;
    Ok(rows
        .iter()
        .map(|row| {
            record_row(row)?
                .decode(Vec::new())
                .map(|(_, r)| (r.id, r.canonical))
        })
        .collect::<Result<_, StoreError>>()?)
}

/// Inserts a record and its CREATED event, or finds the record already there.
/// A block needs a transaction (for the lock of its prefix); a plain record
/// may be autocommitted.
pub(super) async fn create_one<C: GenericClient + Sync>(
    client: &C,
    record: &CanonicalRecord,
    now: OffsetDateTime,
    actor: Option<&str>,
) -> Result<Result<Created, StoreError>, Failed> {
    let id = record.id();
    let event = write::created_event(id, now, actor)?;
    let payload = event.payload.clone().map(Value::Object);
    let seq = i32::try_from(event.seq).map_err(|e| StoreError::corrupt(Some(id), "seq", e))?;
    let vintage =
        i16::try_from(record.vintage).map_err(|e| StoreError::corrupt(Some(id), "vintage", e))?;
    let block = LiveBlock::with_id(id, record);
    if let Some(block) = &block {
        locks::lock_blocks(client, [block]).await?;
        if let Some(existing) = overlapping(client, block).await? {
            // An identical block is that record, split or not: the insert
            // below then finds it.
            if existing != id && load_record(client, id).await?.is_none() {
                return Ok(Err(StoreError::SerialOverlap { existing }));
            }
        }
    }
    let (scheme, prefix, first, last) = match &block {
        Some(b) => (
            Some(b.scheme),
            Some(b.prefix.as_str()),
            Some(b.first.to_string()),
            Some(b.last.to_string()),
        ),
        None => (None, None, None, None),
    };
    let stmt = client.prepare_cached(CREATE).await?;
    let inserted: i64 = client
        .query_one(
            &stmt,
            &[
                &id.to_string(),
                &record.project_name,
                &record.registry,
                &vintage,
                &record.quantity.to_string(),
                &record.serial_number,
                &event.created_at,
                &event.id,
                &seq,
                &event.event_type.as_str(),
                &payload,
                &scheme,
                &prefix,
                &first,
                &last,
                &event.actor,
            ],
        )
        .await
        .and_then(|row| row.try_get(0))?;
    if inserted == 1 {
        return Ok(Ok(Created::New(StoredRecord {
            id,
            canonical: record.clone(),
            created_at: event.created_at,
            events: vec![event],
        })));
    }
    // The id exists (committed, since the insert waited for any writer of it).
    let stored = load_record(client, id).await?.ok_or_else(|| {
        StoreError::corrupt(
            Some(id),
            "record",
            "it vanished after its insert conflicted",
        )
    })?;
    Ok(write::existing(record, stored))
}

/// The live block sharing a credit with `block`, if any.
pub(super) async fn overlapping<C: GenericClient + Sync>(
    client: &C,
    block: &LiveBlock,
) -> Result<Option<RecordId>, Failed> {
    find_block(client, OVERLAPPING, block).await
}

/// The record `sql` finds for `block`; its parameters are the block's
/// scheme, prefix, first and last credit.
async fn find_block<C: GenericClient + Sync>(
    client: &C,
    sql: &str,
    block: &LiveBlock,
) -> Result<Option<RecordId>, Failed> {
    let stmt = client.prepare_cached(sql).await?;
    let row = client
        .query_opt(
            &stmt,
            &[
                &block.scheme,
                &block.prefix,
                &block.first.to_string(),
                &block.last.to_string(),
            ],
        )
        .await?;
    Ok(row
        .map(|row| rows::record_id(&get::<String>(&row, 0)?))
        .transpose()?)
}

/// Writes what an action did, in the caller's transaction: one event, or a
/// split with both children, whose ranges replace the parent's in the index.
/// Returns it with the events as stored.
pub(super) async fn write_acted<C: GenericClient + Sync>(
    client: &C,
    acted: Acted,
) -> Result<Acted, Failed> {
    let split = match acted {
        Acted::Whole(event) => return Ok(Acted::Whole(insert_event(client, event).await?)),
        Acted::Split(split) => *split,
    };
    let Split {
        parent,
        front,
        back,
    } = split;
    let parent = insert_event(client, parent).await?;
    let stmt = client
        .prepare_cached("DELETE FROM live_blocks WHERE record_id = $1")
        .await?;
    let indexed = client
        .execute(&stmt, &[&parent.record_id.to_string()])
        .await?;
    let mut children = Vec::with_capacity(2);
    for child in [front, back] {
        let vintage = i16::try_from(child.record.vintage)
            .map_err(|e| StoreError::corrupt(Some(child.id), "vintage", e))?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO records (id, project_name, registry, vintage, quantity, serial_number, created_at) \
                 VALUES ($1, $2, $3, $4, $5::text::numeric, $6, $7)",
            )
            .await?;
        client
            .execute(
                &stmt,
                &[
                    &child.id.to_string(),
                    &child.record.project_name,
                    &child.record.registry,
                    &vintage,
                    &child.record.quantity.to_string(),
                    &child.record.serial_number,
                    &parent.created_at,
                ],
            )
            .await?;
        let mut events = Vec::with_capacity(child.events.len());
        for event in child.events {
            events.push(insert_event(client, event).await?);
        }
        // A parent left out of the index (an overlap stored before SPEC §6)
        // leaves its children out too.
        if let (1, Some(block)) = (indexed, LiveBlock::with_id(child.id, &child.record)) {
            insert_range(client, INSERT_LIVE, &block).await?;
        }
        children.push(Child { events, ..child });
    }
    let mut children = children.into_iter();
    match (children.next(), children.next()) {
        (Some(front), Some(back)) => Ok(Acted::Split(Box::new(Split {
            parent,
            front,
            back,
        }))),
        _ => Err(StoreError::corrupt(None, "split", "a split has two children").into()),
    }
}

/// Where a walk from `split`, a split record, goes on to reach its remainder
/// ([`write::block_of`]): the live block inside it holding its last credit,
/// unless a block the migration left out overlaps it; `next` (its back
/// child) otherwise, or when `split` is `None`. Another transaction may
/// split the block found before this one locks it; the walk then goes on
/// from it.
pub(super) async fn remainder<C: GenericClient + Sync>(
    client: &C,
    split: Option<&StoredRecord>,
    next: RecordId,
) -> Result<RecordId, Failed> {
    let Some(block) = split.and_then(write::block_of) else {
        return Ok(next);
    };
    Ok(find_block(client, REMAINDER, &block).await?.unwrap_or(next))
}

/// The live block inside the range $3..=$4 of scheme $1 and prefix $2 that
/// holds its last credit, unless a left-out block overlaps the range.
const REMAINDER: &str = "SELECT l.record_id FROM live_blocks l \
    WHERE l.scheme = $1 AND l.prefix = $2 AND l.credits @> $4::text::numeric \
    AND l.credits <@ numrange($3::text::numeric, $4::text::numeric, '[]') \
    AND NOT EXISTS (SELECT 1 FROM left_out_blocks o WHERE o.scheme = $1 AND o.prefix = $2 \
        AND o.credits && numrange($3::text::numeric, $4::text::numeric, '[]'))";

/// Inserts `block` with `sql` ([`INSERT_LIVE`] or [`INSERT_LEFT_OUT`]).
async fn insert_range<C: GenericClient + Sync>(
    client: &C,
    sql: &str,
    block: &LiveBlock,
) -> Result<(), Failed> {
    let stmt = client.prepare_cached(sql).await?;
    client
        .execute(
            &stmt,
            &[
                &block.record.to_string(),
                &block.scheme,
                &block.prefix,
                &block.first.to_string(),
                &block.last.to_string(),
            ],
        )
        .await?;
    Ok(())
}

/// Indexes the blocks a database held before blocks existed (migration 2);
/// overlaps already stored are listed in `block_overlaps` and reported.
pub(super) async fn index_blocks<C: GenericClient + Sync>(client: &C) -> Result<(), Failed> {
    let rows = client
        .query(
            &format!("SELECT {RECORD_COLUMNS} FROM records r ORDER BY r.tx, r.pos"),
            &[],
        )
        .await?;
    let mut records = Vec::with_capacity(rows.len());
    for row in &rows {
        let (_, record) = record_row(row)?.decode(Vec::new())?;
        records.push((record.id, record.canonical));
    }
    let (live, overlaps) = blocks::index(records);
    for block in &live {
        insert_range(client, INSERT_LIVE, block).await?;
    }
    for overlap in &overlaps {
        client
            .execute(
                "INSERT INTO block_overlaps (record_id, earlier) VALUES ($1, $2)",
                &[&overlap.record.to_string(), &overlap.with.to_string()],
            )
            .await?;
    }
    tracing::info!(
        indexed = live.len(),
        overlapping = overlaps.len(),
        "indexed the stored blocks"
    );
    Ok(())
}

/// Keeps the ranges of the blocks [`index_blocks`] left out (migration 7),
/// so that their credits stay held.
pub(super) async fn keep_left_out<C: GenericClient + Sync>(client: &C) -> Result<(), Failed> {
    let rows = client
        .query(
            &format!(
                "SELECT {RECORD_COLUMNS} FROM records r \
                 JOIN block_overlaps o ON o.record_id = r.id ORDER BY r.tx, r.pos"
            ),
            &[],
        )
        .await?;
    for row in &rows {
        let block = blocks::left_out(&record_row(row)?.decode(Vec::new())?.1)?;
        insert_range(client, INSERT_LEFT_OUT, &block).await?;
    }
    Ok(())
}

/// Inserts an event; returns it as stored (`jsonb` respells numbers such as
/// `1e2`, and the answer must match what a later read shows).
pub(super) async fn insert_event<C: GenericClient + Sync>(
    client: &C,
    event: Event,
) -> Result<Event, Failed> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO events (id, record_id, seq, event_type, payload, created_at, actor) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING payload",
        )
        .await?;
    let seq = i32::try_from(event.seq)
        .map_err(|e| StoreError::corrupt(Some(event.record_id), "seq", e))?;
    let row = client
        .query_one(
            &stmt,
            &[
                &event.id,
                &event.record_id.to_string(),
                &seq,
                &event.event_type.as_str(),
                &event.payload.clone().map(Value::Object),
                &event.created_at,
                &event.actor,
            ],
        )
        .await?;
    let payload = match get::<Option<Value>>(&row, 0)? {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    };
    Ok(Event { payload, ..event })
}

pub(super) async fn list_records<C: GenericClient + Sync>(
    client: &C,
    q: &ListQuery,
) -> Result<Page, Failed> {
    let (sql, args) = list::query(q, &DIALECT);
    let args = sql_args(args);
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref() as _).collect();
    let stmt = client.prepare_cached(&sql).await?;
    let rows = client.query(&stmt, &params).await?;
    let rows = rows.iter().map(record_row).collect::<Result<_, _>>()?;
    let cut = Cut::new(rows, q.limit);
    // The page's events in one query, grouped by record.
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE record_id = ANY($1) ORDER BY record_id, seq"
        ))
        .await?;
    let mut events: HashMap<RecordId, Vec<Event>> = HashMap::new();
    for row in client.query(&stmt, &[&cut.ids()]).await? {
        let event = event(&row)?;
        events.entry(event.record_id).or_default().push(event);
    }
    Ok(cut.page(events)?)
}

/// The built query's arguments as driver parameters.
fn sql_args(args: Vec<Arg>) -> Vec<Box<dyn ToSql + Sync + Send>> {
    args.into_iter()
        .map(|arg| -> Box<dyn ToSql + Sync + Send> {
            match arg {
                Arg::Int(i) => Box::new(i),
                Arg::Text(t) => Box::new(t),
            }
        })
        .collect()
}

/// The sum of [`summary::query`] on PostgreSQL: `numeric` adds exactly.
const SUMS: &str = "sum(t.quantity)::text";

/// The rows of the summary of `keys`, not yet merged.
pub(super) async fn summary_rows<C: GenericClient + Sync>(
    client: &C,
    keys: &[GroupKey],
) -> Result<Vec<RawRow>, Failed> {
    let (sql, args) = summary::query(keys, &DIALECT, SUMS);
    let args = sql_args(args);
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref() as _).collect();
    let stmt = client.prepare_cached(&sql).await?;
    let mut out = Vec::new();
    for row in client.query(&stmt, &params).await? {
        let mut raw = RawRow::default();
        for (i, key) in keys.iter().enumerate() {
            match key {
                GroupKey::Registry => raw.registry = get(&row, i)?,
                GroupKey::Vintage => raw.vintage = get(&row, i)?,
                GroupKey::Status => raw.last_type = get(&row, i)?,
                GroupKey::Holder => raw.holder = Some(get(&row, i)?),
            }
        }
        let n = keys.len();
        let records: i64 = get(&row, n)?;
        let sum: Option<String> = get(&row, n + 1)?;
        raw.tally = Tally {
            records: u64::try_from(records).map_err(|e| StoreError::corrupt(None, "count", e))?,
            credits: sum
                .as_deref()
                .map(Credits::from_decimal)
                .transpose()?
                .unwrap_or_default(),
        };
        out.push(raw);
    }
    Ok(out)
}

/// The stored block sharing a credit with each of `blocks` (one query for
/// all), and whether the block's own id is stored: `(None, false)` for a
/// record that is not a block.
pub(super) async fn overlapping_many<C: GenericClient + Sync>(
    client: &C,
    blocks: &[Option<LiveBlock>],
) -> Result<Vec<(Option<RecordId>, bool)>, Failed> {
    let mut looks = vec![(None, false); blocks.len()];
    let present: Vec<(i64, &LiveBlock)> = (0_i64..)
        .zip(blocks)
        .filter_map(|(n, b)| b.as_ref().map(|b| (n, b)))
        .collect();
    if present.is_empty() {
        return Ok(looks);
    }
    let n: Vec<i64> = present.iter().map(|(n, _)| *n).collect();
    let ids: Vec<String> = present.iter().map(|(_, b)| b.record.to_string()).collect();
    let schemes: Vec<&str> = present.iter().map(|(_, b)| b.scheme).collect();
    let prefixes: Vec<&str> = present.iter().map(|(_, b)| b.prefix.as_str()).collect();
    let firsts: Vec<String> = present.iter().map(|(_, b)| b.first.to_string()).collect();
    let lasts: Vec<String> = present.iter().map(|(_, b)| b.last.to_string()).collect();
    let stmt = client.prepare_cached(OVERLAPPING_MANY).await?;
    let found = client
        .query(&stmt, &[&n, &ids, &schemes, &prefixes, &firsts, &lasts])
        .await?;
    for row in &found {
        let n: i64 = get(row, 0)?;
        let held = get::<Option<String>>(row, 1)?
            .map(|id| rows::record_id(&id))
            .transpose()?;
        let exists: bool = get(row, 2)?;
        if let Some(slot) = usize::try_from(n).ok().and_then(|n| looks.get_mut(n)) {
            *slot = (held, exists);
        }
    }
    Ok(looks)
}

/// [`overlapping`] and whether the id is stored, for many blocks at once.
const OVERLAPPING_MANY: &str = "SELECT g.n, \
        COALESCE((SELECT l.record_id FROM live_blocks l WHERE l.scheme = g.scheme AND l.prefix = g.prefix \
         AND l.credits && numrange(g.first::numeric, g.last::numeric, '[]') LIMIT 1), \
        (SELECT o.record_id FROM left_out_blocks o WHERE o.scheme = g.scheme AND o.prefix = g.prefix \
         AND o.credits && numrange(g.first::numeric, g.last::numeric, '[]') LIMIT 1)), \
        EXISTS (SELECT 1 FROM records r WHERE r.id = g.id) \
    FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
        AS g(n, id, scheme, prefix, first, last)";

/// A record a group creates, with its CREATED event and its block.
pub(super) struct NewRecord<'a> {
    /// Its id.
    pub(super) id: RecordId,
    /// Its fields.
    pub(super) record: &'a CanonicalRecord,
    /// Its CREATED event.
    pub(super) event: &'a Event,
    /// Its range, when it is a block.
    pub(super) block: Option<&'a LiveBlock>,
}

/// [`CREATE`] for many records at once, in the order given (the caller
/// sorts them by id): the records, their events and their blocks, in one
/// statement. Returns the ids it inserted; the others were stored already.
const CREATE_MANY: &str = "WITH g AS MATERIALIZED (SELECT * FROM unnest(\
        $1::text[], $2::text[], $3::text[], $4::int2[], $5::text[], $6::text[], $7::timestamptz[], \
        $8::uuid[], $9::int4[], $10::text[], $11::jsonb[], $12::text[], $13::text[], $14::text[], $15::text[], \
        $16::text[]) \
        WITH ORDINALITY AS g(id, project_name, registry, vintage, quantity, serial_number, created_at, \
        event_id, seq, event_type, payload, scheme, prefix, first, last, actor, n)), \
    r AS (INSERT INTO records (id, project_name, registry, vintage, quantity, serial_number, created_at) \
        SELECT id, project_name, registry, vintage, quantity::numeric, serial_number, created_at \
        FROM g ORDER BY n \
        ON CONFLICT (id) DO NOTHING RETURNING id), \
    e AS (INSERT INTO events (id, record_id, seq, event_type, payload, created_at, actor) \
        SELECT g.event_id, g.id, g.seq, g.event_type, g.payload, g.created_at, g.actor \
        FROM g JOIN r ON r.id = g.id ORDER BY g.n), \
    b AS (INSERT INTO live_blocks (record_id, scheme, prefix, credits) \
        SELECT g.id, g.scheme, g.prefix, numrange(g.first::numeric, g.last::numeric, '[]') \
        FROM g JOIN r ON r.id = g.id WHERE g.scheme IS NOT NULL ORDER BY g.n) \
    SELECT id FROM r";

/// Inserts `rows` unless their ids are stored; returns the ids inserted.
pub(super) async fn insert_records<C: GenericClient + Sync>(
    client: &C,
    new: &[NewRecord<'_>],
) -> Result<HashSet<RecordId>, Failed> {
    if new.is_empty() {
        return Ok(HashSet::new());
    }
    let mut ids = Vec::with_capacity(new.len());
    let mut vintages = Vec::with_capacity(new.len());
    let mut seqs = Vec::with_capacity(new.len());
    for row in new {
        ids.push(row.id.to_string());
        vintages.push(
            i16::try_from(row.record.vintage)
                .map_err(|e| StoreError::corrupt(Some(row.id), "vintage", e))?,
        );
        seqs.push(
            i32::try_from(row.event.seq)
                .map_err(|e| StoreError::corrupt(Some(row.id), "seq", e))?,
        );
    }
    let names: Vec<&str> = new.iter().map(|r| r.record.project_name.as_str()).collect();
    let registries: Vec<&str> = new.iter().map(|r| r.record.registry.as_str()).collect();
    let quantities: Vec<String> = new.iter().map(|r| r.record.quantity.to_string()).collect();
    let serials: Vec<&str> = new
        .iter()
        .map(|r| r.record.serial_number.as_str())
        .collect();
    let times: Vec<OffsetDateTime> = new.iter().map(|r| r.event.created_at).collect();
    let event_ids: Vec<uuid::Uuid> = new.iter().map(|r| r.event.id).collect();
    let types: Vec<&str> = new.iter().map(|r| r.event.event_type.as_str()).collect();
    let payloads: Vec<Option<Value>> = new
        .iter()
        .map(|r| r.event.payload.clone().map(Value::Object))
        .collect();
    let schemes: Vec<Option<&str>> = new.iter().map(|r| r.block.map(|b| b.scheme)).collect();
    let prefixes: Vec<Option<&str>> = new
        .iter()
        .map(|r| r.block.map(|b| b.prefix.as_str()))
        .collect();
    let firsts: Vec<Option<String>> = new
        .iter()
        .map(|r| r.block.map(|b| b.first.to_string()))
        .collect();
    let lasts: Vec<Option<String>> = new
        .iter()
        .map(|r| r.block.map(|b| b.last.to_string()))
        .collect();
    let actors: Vec<Option<&str>> = new.iter().map(|r| r.event.actor.as_deref()).collect();
    let stmt = client.prepare_cached(CREATE_MANY).await?;
    let inserted = client
        .query(
            &stmt,
            &[
                &ids,
                &names,
                &registries,
                &vintages,
                &quantities,
                &serials,
                &times,
                &event_ids,
                &seqs,
                &types,
                &payloads,
                &schemes,
                &prefixes,
                &firsts,
                &lasts,
                &actors,
            ],
        )
        .await?;
    inserted
        .iter()
        .map(|row| Ok(rows::record_id(&get::<String>(row, 0)?)?))
        .collect()
}

/// The stored records among `ids` with their histories: one round trip.
pub(super) async fn load_records<C: GenericClient + Sync>(
    client: &C,
    ids: &[RecordId],
) -> Result<HashMap<RecordId, StoredRecord>, Failed> {
    records_with_events(client, ids, false).await
}

/// Locks the stored records among `ids` (`FOR NO KEY UPDATE`, in id order,
/// so that groups locking overlapping sets cannot deadlock) and reads them
/// with their histories, in one round trip: the events are read by a
/// statement that starts after the locks are held, so it sees every event
/// committed before.
pub(super) async fn lock_records<C: GenericClient + Sync>(
    client: &C,
    ids: &[RecordId],
) -> Result<HashMap<RecordId, StoredRecord>, Failed> {
    records_with_events(client, ids, true).await
}

async fn records_with_events<C: GenericClient + Sync>(
    client: &C,
    ids: &[RecordId],
    lock: bool,
) -> Result<HashMap<RecordId, StoredRecord>, Failed> {
    let mut keys: Vec<String> = ids.iter().map(RecordId::to_string).collect();
    keys.sort();
    let records = client
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM records r WHERE r.id = ANY($1) ORDER BY r.id{}",
            if lock { " FOR NO KEY UPDATE" } else { "" }
        ))
        .await?;
    // The feed (and the log) order events by their transaction's id, which
    // is taken at a transaction's first write, not at its commit: a group
    // that wrote before it waited for these locks may hold an older id than
    // the transaction that wrote the events it is about to follow (a split
    // it routes through, say), and its events would come before theirs. So
    // a locking read also says, per event, whether a newer transaction wrote
    // it (the column after EVENT_COLUMNS), and the group then starts over,
    // with a newer id.
    let events = client
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS}{} FROM events WHERE record_id = ANY($1) ORDER BY record_id, seq",
            if lock {
                ", tx > pg_current_xact_id()::text::bigint"
            } else {
                ""
            }
        ))
        .await?;
    // Both statements go out together; the second starts once the first
    // (and its locks) is done.
    let (record_rows, event_rows) = tokio::try_join!(
        async { Ok::<_, Failed>(client.query(&records, &[&keys]).await?) },
        async { Ok::<_, Failed>(client.query(&events, &[&keys]).await?) },
    )?;
    if lock {
        for row in &event_rows {
            if get::<bool>(row, EVENT_COLUMN_COUNT)? {
                return Err(Failed::out_of_order());
            }
        }
    }
    let mut histories: HashMap<RecordId, Vec<Event>> = HashMap::new();
    for row in &event_rows {
        let event = event(row)?;
        histories.entry(event.record_id).or_default().push(event);
    }
    let mut out = HashMap::with_capacity(record_rows.len());
    for row in &record_rows {
        let row = record_row(row)?;
        let id = rows::record_id(&row.id)?;
        let (_, record) = row.decode(histories.remove(&id).unwrap_or_default())?;
        out.insert(id, record);
    }
    Ok(out)
}

/// Inserts `events` in their order, in one statement; returns them as stored.
pub(super) async fn insert_events<C: GenericClient + Sync>(
    client: &C,
    events: &[Event],
) -> Result<Vec<Event>, Failed> {
    let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.id).collect();
    let records: Vec<String> = events.iter().map(|e| e.record_id.to_string()).collect();
    let seqs = events
        .iter()
        .map(|e| {
            i32::try_from(e.seq).map_err(|err| StoreError::corrupt(Some(e.record_id), "seq", err))
        })
        .collect::<Result<Vec<i32>, _>>()?;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let payloads: Vec<Option<Value>> = events
        .iter()
        .map(|e| e.payload.clone().map(Value::Object))
        .collect();
    let times: Vec<OffsetDateTime> = events.iter().map(|e| e.created_at).collect();
    let actors: Vec<Option<&str>> = events.iter().map(|e| e.actor.as_deref()).collect();
    let stmt = client
        .prepare_cached(
            "INSERT INTO events (id, record_id, seq, event_type, payload, created_at, actor) \
             SELECT u.id, u.record_id, u.seq, u.event_type, u.payload, u.created_at, u.actor \
             FROM unnest($1::uuid[], $2::text[], $3::int4[], $4::text[], $5::jsonb[], $6::timestamptz[], $7::text[]) \
             WITH ORDINALITY AS u(id, record_id, seq, event_type, payload, created_at, actor, n) \
             ORDER BY u.n RETURNING id, payload",
        )
        .await?;
    let rows = client
        .query(
            &stmt,
            &[&ids, &records, &seqs, &types, &payloads, &times, &actors],
        )
        .await?;
    let mut payloads: HashMap<uuid::Uuid, Option<Value>> = HashMap::with_capacity(rows.len());
    for row in &rows {
        payloads.insert(get(row, 0)?, get(row, 1)?);
    }
    Ok(events
        .iter()
        .map(|e| Event {
            payload: payloads.remove(&e.id).and_then(super::group::object),
            ..e.clone()
        })
        .collect())
}

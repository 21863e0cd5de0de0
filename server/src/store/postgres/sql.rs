//! The SQL of the PostgreSQL backend and its reading of rows.

use std::collections::HashMap;

use carbon_tracker_core::lifecycle::Event;
use carbon_tracker_core::{Acted, CanonicalRecord, Child, RecordId, Split};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use time::OffsetDateTime;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;

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
    "id, record_id, seq::bigint, event_type, payload, created_at";

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
/// a plain record): one statement. The exclusion constraint on `live_blocks`
/// refuses an overlapping block even when another process inserted it a
/// moment ago; that failure is retried, and the retry's look finds it.
const CREATE: &str = "WITH r AS (\
        INSERT INTO records (id, project_name, registry, vintage, quantity, serial_number, created_at) \
        VALUES ($1, $2, $3, $4, $5::text::numeric, $6, $7) \
        ON CONFLICT (id) DO NOTHING RETURNING id), \
    e AS (INSERT INTO events (id, record_id, seq, event_type, payload, created_at) \
        SELECT $8, r.id, $9, $10, $11, $7 FROM r), \
    b AS (INSERT INTO live_blocks (record_id, scheme, prefix, credits) \
        SELECT r.id, $12, $13, numrange($14::text::numeric, $15::text::numeric, '[]') \
        FROM r WHERE $12::text IS NOT NULL) \
    SELECT count(*) FROM r";

/// The live block sharing a credit with the range $3..=$4 of scheme $1 and prefix $2.
const OVERLAPPING: &str = "SELECT record_id FROM live_blocks \
    WHERE scheme = $1 AND prefix = $2 \
    AND credits && numrange($3::text::numeric, $4::text::numeric, '[]') LIMIT 1";

/// A block joins the index of live blocks.
const INSERT_LIVE: &str = "INSERT INTO live_blocks (record_id, scheme, prefix, credits) \
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
struct PgRow<'a>(&'a Row);

impl Columns for PgRow<'_> {
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        get(self.0, i)
    }
    fn text(&self, i: usize) -> Result<String, StoreError> {
        get(self.0, i)
    }
    fn time(&self, i: usize) -> Result<OffsetDateTime, StoreError> {
        get(self.0, i)
    }
    fn uuid(&self, i: usize) -> Result<uuid::Uuid, StoreError> {
        get(self.0, i)
    }
    fn json(&self, i: usize) -> Result<Option<Value>, StoreError> {
        get(self.0, i)
    }
}

fn record_row(row: &Row) -> Result<RecordRow, StoreError> {
    RecordRow::read(&PgRow(row))
}

/// An event row, in [`EVENT_COLUMNS`] order.
pub(super) fn event(row: &Row) -> Result<Event, StoreError> {
    EventRow::read(&PgRow(row))?.decode()
}

pub(super) async fn load_events<C: GenericClient + Sync>(
    client: &C,
    id: RecordId,
) -> Result<Vec<Event>, Failed> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE record_id = $1 ORDER BY seq"
        ))
        .await?;
    let rows = client.query(&stmt, &[&id.to_string()]).await?;
    Ok(rows.iter().map(event).collect::<Result<_, _>>()?)
}

pub(super) async fn load_record<C: GenericClient + Sync>(
    client: &C,
    id: RecordId,
) -> Result<Option<StoredRecord>, Failed> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM records r WHERE r.id = $1"
        ))
        .await?;
    let key = id.to_string();
    // Both queries go out together on the one connection.
    let (row, events) = tokio::try_join!(
        async { Ok::<_, Failed>(client.query_opt(&stmt, &[&key]).await?) },
        load_events(client, id),
    )?;
    Ok(row
        .map(|row| record_row(&row)?.decode(events).map(|(_, r)| r))
        .transpose()?)
}

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
pub(super) async fn create_one<C: GenericClient + Sync>(
    client: &C,
    record: &CanonicalRecord,
    now: OffsetDateTime,
) -> Result<Result<Created, StoreError>, Failed> {
    let id = record.id();
    let event = write::created_event(id, now)?;
    let payload = event.payload.clone().map(Value::Object);
    let seq = i32::try_from(event.seq).map_err(|e| StoreError::corrupt(Some(id), "seq", e))?;
    let vintage =
        i16::try_from(record.vintage).map_err(|e| StoreError::corrupt(Some(id), "vintage", e))?;
    let block = LiveBlock::with_id(id, record);
    if let Some(block) = &block {
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
async fn overlapping<C: GenericClient + Sync>(
    client: &C,
    block: &LiveBlock,
) -> Result<Option<RecordId>, Failed> {
    let stmt = client.prepare_cached(OVERLAPPING).await?;
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
            insert_live(client, &block).await?;
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

async fn insert_live<C: GenericClient + Sync>(client: &C, block: &LiveBlock) -> Result<(), Failed> {
    let stmt = client.prepare_cached(INSERT_LIVE).await?;
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
        insert_live(client, block).await?;
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

/// Inserts an event; returns it as stored (`jsonb` respells numbers such as
/// `1e2`, and the answer must match what a later read shows).
pub(super) async fn insert_event<C: GenericClient + Sync>(
    client: &C,
    event: Event,
) -> Result<Event, Failed> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO events (id, record_id, seq, event_type, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING payload",
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
    let args: Vec<Box<dyn ToSql + Sync + Send>> = args
        .into_iter()
        .map(|arg| -> Box<dyn ToSql + Sync + Send> {
            match arg {
                Arg::Int(i) => Box::new(i),
                Arg::Text(t) => Box::new(t),
            }
        })
        .collect();
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

/// The sum of [`summary::query`] on PostgreSQL: `numeric` adds exactly.
const SUMS: &str = "sum(t.quantity)::text";

/// The rows of the summary of `keys`, not yet merged.
pub(super) async fn summary_rows<C: GenericClient + Sync>(
    client: &C,
    keys: &[GroupKey],
) -> Result<Vec<RawRow>, Failed> {
    let (sql, args) = summary::query(keys, &DIALECT, SUMS);
    let args: Vec<Box<dyn ToSql + Sync + Send>> = args
        .into_iter()
        .map(|arg| -> Box<dyn ToSql + Sync + Send> {
            match arg {
                Arg::Int(i) => Box::new(i),
                Arg::Text(t) => Box::new(t),
            }
        })
        .collect();
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

//! The SQL of the PostgreSQL backend and its reading of rows.

use std::collections::HashMap;

use carbon_tracker_core::lifecycle::Event;
use carbon_tracker_core::{CanonicalRecord, RecordId};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use time::OffsetDateTime;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;

use super::retry::Failed;
use crate::store::list::{self, Arg, Cut, Dialect};
use crate::store::rows::{Columns, EventRow, RecordRow};
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
    position: &["r.tx", "r.pos"],
};

/// One record with its CREATED event, unless the id exists: one statement.
const CREATE: &str = "WITH r AS (\
        INSERT INTO records (id, project_name, registry, vintage, quantity, serial_number, created_at) \
        VALUES ($1, $2, $3, $4, $5::text::numeric, $6, $7) \
        ON CONFLICT (id) DO NOTHING RETURNING id) \
    INSERT INTO events (id, record_id, seq, event_type, payload, created_at) \
    SELECT $8, r.id, $9, $10, $11, $7 FROM r";

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
    let stmt = client.prepare_cached(CREATE).await?;
    let inserted = client
        .execute(
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
            ],
        )
        .await?;
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

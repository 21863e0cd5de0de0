//! The SQLite backend: one writer thread with group commit, pooled readers.
//!
//! SQLite allows one writer at a time, and a durable commit costs an fsync.
//! So every write goes to a single writer thread, which takes all the requests
//! waiting at that moment, runs each in its own savepoint inside one
//! transaction, commits once (WAL, `synchronous = FULL`), and only then answers
//! them. Under load, many requests share one fsync; with no load, a request
//! commits alone at once. Nothing is acknowledged before its commit.
//!
//! Reads run on the caller's thread with a connection from a pool: they are
//! indexed point lookups of a few microseconds, cheaper than a thread hop.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{mpsc, Mutex, PoisonError};
use std::thread::JoinHandle;

use async_trait::async_trait;
use carbon_tracker_core::lifecycle::{Event, EventType};
use carbon_tracker_core::{CanonicalRecord, Quantity, RecordId};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, Transaction};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::{
    last_event_type, next_event, Created, ListQuery, Page, Position, Store, StoreError,
    StoredRecord,
};

/// The schema, one migration per entry, applied in order; `PRAGMA user_version`
/// records how many have been applied.
const MIGRATIONS: &[&str] = &[include_str!("../../migrations/sqlite/0001_init.sql")];

/// Most requests one transaction commits together.
const MAX_GROUP: usize = 1024;

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the SQLite database {path}: {detail}")]
pub struct OpenError {
    path: String,
    detail: String,
}

type CreateReply = oneshot::Sender<Result<Vec<Result<Created, StoreError>>, StoreError>>;
type AppendReply = oneshot::Sender<Result<Event, StoreError>>;

/// A unit of work for the writer thread.
enum Job {
    Create(Vec<CanonicalRecord>, CreateReply),
    Append {
        id: RecordId,
        event_type: EventType,
        payload: Option<Map<String, Value>>,
        reply: AppendReply,
    },
}

/// A job's outcome, held until the transaction has committed.
enum Done {
    Create(Vec<Result<Created, StoreError>>, CreateReply),
    Append(Result<Event, StoreError>, AppendReply),
}

/// A SQLite database.
pub struct SqliteStore {
    writer: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, applies pending
    /// migrations and starts the writer thread.
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let fail = |detail: &dyn std::fmt::Display| OpenError {
            path: path.display().to_string(),
            detail: detail.to_string(),
        };
        let mut conn = Connection::open(path).map_err(|e| fail(&e))?;
        configure(&conn).map_err(|e| fail(&e))?;
        migrate(&mut conn).map_err(|e| fail(&e))?;
        // The checkpointer thread copies the WAL into the database, so the
        // writer never stalls on a checkpoint in the middle of a commit.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(|e| fail(&e))?;
        let checkpoint_conn = Connection::open(path).map_err(|e| fail(&e))?;
        configure(&checkpoint_conn).map_err(|e| fail(&e))?;
        let (stop_checkpoints, stopped) = mpsc::channel::<()>();
        let checkpointer = std::thread::Builder::new()
            .name("sqlite-checkpoint".to_owned())
            .spawn(move || checkpoint_loop(&checkpoint_conn, &stopped))
            .map_err(|e| fail(&e))?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || {
                write_loop(conn, &rx);
                drop(stop_checkpoints);
                if checkpointer.join().is_err() {
                    tracing::error!("the SQLite checkpoint thread panicked");
                }
            })
            .map_err(|e| fail(&e))?;
        Ok(Self {
            writer: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            readers: Mutex::new(Vec::new()),
            path: path.to_owned(),
        })
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        lock(&self.writer)
            .as_ref()
            .and_then(|w| w.send(job).ok())
            .ok_or_else(|| StoreError::Unavailable("the server is shutting down".to_owned()))
    }

    /// Runs `f` with a pooled read connection.
    fn read<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                configure(&conn)?;
                conn.pragma_update(None, "query_only", true)?;
                conn
            }
        };
        let result = f(&conn);
        lock(&self.readers).push(conn);
        result
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        Store::close(self);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn answer<T>(rx: oneshot::Receiver<Result<T, StoreError>>) -> Result<T, StoreError> {
    rx.await
        .unwrap_or_else(|_| Err(StoreError::Unavailable("the writer stopped".to_owned())))
}

#[async_trait]
impl Store for SqliteStore {
    async fn create(
        &self,
        records: Vec<CanonicalRecord>,
    ) -> Result<Vec<Result<Created, StoreError>>, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Create(records, tx))?;
        answer(rx).await
    }

    async fn append(
        &self,
        id: RecordId,
        event_type: EventType,
        payload: Option<Map<String, Value>>,
    ) -> Result<Event, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Append {
            id,
            event_type,
            payload,
            reply,
        })?;
        answer(rx).await
    }

    async fn get(&self, id: RecordId) -> Result<Option<StoredRecord>, StoreError> {
        self.read(|conn| load_record(conn, id))
    }

    async fn list(&self, query: ListQuery) -> Result<Page, StoreError> {
        self.read(|conn| list_records(conn, &query))
    }

    async fn feed(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Option<Vec<Event>>, StoreError> {
        self.read(|conn| {
            let after_pos = match after {
                None => 0,
                Some(id) => match conn
                    .prepare_cached("SELECT pos FROM events WHERE id = ?1")?
                    .query_row([id.to_string()], |r| r.get::<_, i64>(0))
                    .optional()?
                {
                    Some(pos) => pos,
                    None => return Ok(None),
                },
            };
            let mut stmt = conn.prepare_cached(
                "SELECT id, record_id, seq, event_type, payload, created_at FROM events \
                 WHERE pos > ?1 ORDER BY pos LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after_pos, limit], event_columns)?;
            let events = rows
                .map(|r| r.map_err(StoreError::from).and_then(event_from_columns))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(events))
        })
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.read(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
    }

    /// Stops taking writes, lets the writer commit what it holds, and waits
    /// for it: after this returns, every acknowledged write is on disk.
    fn close(&self) {
        drop(lock(&self.writer).take());
        if let Some(thread) = lock(&self.thread).take() {
            if thread.join().is_err() {
                tracing::error!("the SQLite writer thread panicked");
            }
        }
    }
}

/// Durability and integrity settings every connection gets.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit is on disk (WAL fsynced) before it is acknowledged.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let applied: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (version, sql) in (1_i64..).zip(MIGRATIONS).skip_while(|(v, _)| *v <= applied) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tracing::info!(version, "applied a schema migration");
    }
    tx.commit()
}

/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

/// Checkpoints (PASSIVE: never blocks the writer or readers) until `stop`
/// hangs up; the writer's connection then does the last one as it closes.
fn checkpoint_loop(conn: &Connection, stop: &mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_INTERVAL) {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "a WAL checkpoint failed; the next one will retry");
        }
    }
}

fn write_loop(mut conn: Connection, rx: &mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let done = match commit_group(&mut conn, jobs) {
            Ok(done) => done,
            Err((e, replies)) => {
                tracing::error!(error = %e, "a group commit failed; its requests get 503");
                for reply in replies {
                    reply.fail(&e);
                }
                continue;
            }
        };
        for d in done {
            // A client that went away no longer waits for its answer.
            let _ = match d {
                Done::Create(result, reply) => reply.send(Ok(result)).is_ok(),
                Done::Append(result, reply) => reply.send(result).is_ok(),
            };
        }
    }
}

/// A reply channel, kept to report a failed commit.
enum Reply {
    Create(CreateReply),
    Append(AppendReply),
}

impl Reply {
    fn fail(self, e: &rusqlite::Error) {
        let err = || StoreError::Unavailable(format!("the commit failed: {e}"));
        let _ = match self {
            Self::Create(r) => r.send(Err(err())).is_ok(),
            Self::Append(r) => r.send(Err(err())).is_ok(),
        };
    }
}

impl Done {
    fn into_reply(self) -> Reply {
        match self {
            Self::Create(_, r) => Reply::Create(r),
            Self::Append(_, r) => Reply::Append(r),
        }
    }
}

/// Runs every job in one transaction, each in its own savepoint so one job's
/// failure does not undo the others, and commits.
fn commit_group(
    conn: &mut Connection,
    jobs: Vec<Job>,
) -> Result<Vec<Done>, (rusqlite::Error, Vec<Reply>)> {
    let now = OffsetDateTime::now_utc();
    let mut tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let replies = jobs
                .into_iter()
                .map(|job| match job {
                    Job::Create(_, r) => Reply::Create(r),
                    Job::Append { reply, .. } => Reply::Append(reply),
                })
                .collect();
            return Err((e, replies));
        }
    };
    let done: Vec<Done> = jobs
        .into_iter()
        .map(|job| run_job(&mut tx, job, now))
        .collect();
    match tx.commit() {
        Ok(()) => Ok(done),
        Err(e) => Err((e, done.into_iter().map(Done::into_reply).collect())),
    }
}

fn run_job(tx: &mut Transaction<'_>, job: Job, now: OffsetDateTime) -> Done {
    match job {
        Job::Create(records, reply) => {
            let outcomes = records
                .into_iter()
                .map(|record| in_savepoint(tx, |sp| create_one(sp, record, now)))
                .collect();
            Done::Create(outcomes, reply)
        }
        Job::Append {
            id,
            event_type,
            payload,
            reply,
        } => Done::Append(
            in_savepoint(tx, |sp| append_one(sp, id, event_type, payload, now)),
            reply,
        ),
    }
}

fn in_savepoint<T>(
    tx: &mut Transaction<'_>,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let sp = tx.savepoint()?;
    let result = f(&sp)?;
    sp.commit()?;
    Ok(result)
}

fn create_one(
    conn: &Connection,
    record: CanonicalRecord,
    now: OffsetDateTime,
) -> Result<Created, StoreError> {
    let id = record.id();
    if let Some(existing) = load_record(conn, id)? {
        return if existing.canonical == record {
            Ok(Created::Existing(existing))
        } else {
            Err(StoreError::Conflict(id))
        };
    }
    let event = next_event(id, &[], EventType::Created, None, now)?;
    conn.prepare_cached(
        "INSERT INTO records (id, project_name, registry, vintage, quantity, serial_number, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id.to_string(),
        record.project_name,
        record.registry,
        record.vintage,
        record.quantity.to_string(),
        record.serial_number,
        timestamp(event.created_at)?,
    ])?;
    insert_event(conn, &event)?;
    Ok(Created::New(StoredRecord {
        id,
        canonical: record,
        created_at: event.created_at,
        events: vec![event],
    }))
}

fn append_one(
    conn: &Connection,
    id: RecordId,
    event_type: EventType,
    payload: Option<Map<String, Value>>,
    now: OffsetDateTime,
) -> Result<Event, StoreError> {
    let events = load_events(conn, id)?;
    if events.is_empty() {
        return Err(StoreError::NotFound(id));
    }
    let event = next_event(id, &events, event_type, payload, now)?;
    insert_event(conn, &event)?;
    Ok(event)
}

fn insert_event(conn: &Connection, event: &Event) -> Result<(), StoreError> {
    let payload = event
        .payload
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO events (id, record_id, seq, event_type, payload, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        event.id.to_string(),
        event.record_id.to_string(),
        event.seq,
        event.event_type.as_str(),
        payload,
        timestamp(event.created_at)?,
    ])?;
    Ok(())
}

fn timestamp(t: OffsetDateTime) -> Result<String, StoreError> {
    t.format(&Rfc3339)
        .map_err(|e| StoreError::Unavailable(format!("cannot write a timestamp: {e}")))
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("the database holds an unreadable {what}: {detail}"))
}

fn parse_timestamp(s: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| corrupt("timestamp", e))
}

fn parse_id(s: &str) -> Result<RecordId, StoreError> {
    RecordId::from_str(s).map_err(|e| corrupt("record id", e))
}

const RECORD_COLUMNS: &str =
    "pos, id, project_name, registry, vintage, quantity, serial_number, created_at";

type RecordColumns = (i64, String, String, String, u16, String, String, String);

fn record_columns(r: &Row<'_>) -> rusqlite::Result<RecordColumns> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn record_from_columns(
    conn: &Connection,
    c: RecordColumns,
) -> Result<(i64, StoredRecord), StoreError> {
    let (pos, id, project_name, registry, vintage, quantity, serial_number, created_at) = c;
    let id = parse_id(&id)?;
    let quantity = Quantity::from_str(&quantity).map_err(|e| corrupt("quantity", e))?;
    let record = StoredRecord {
        id,
        canonical: CanonicalRecord {
            project_name,
            registry,
            vintage,
            quantity,
            serial_number,
        },
        created_at: parse_timestamp(&created_at)?,
        events: load_events(conn, id)?,
    };
    Ok((pos, record))
}

type EventColumns = (String, String, u32, String, Option<String>, String);

fn event_columns(r: &Row<'_>) -> rusqlite::Result<EventColumns> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn event_from_columns(c: EventColumns) -> Result<Event, StoreError> {
    let (id, record_id, seq, event_type, payload, created_at) = c;
    Ok(Event {
        id: Uuid::parse_str(&id).map_err(|e| corrupt("event id", e))?,
        record_id: parse_id(&record_id)?,
        seq,
        event_type: EventType::parse(&event_type)
            .ok_or_else(|| corrupt("event type", &event_type))?,
        payload: payload
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(|e| corrupt("payload", e))?,
        created_at: parse_timestamp(&created_at)?,
    })
}

fn load_events(conn: &Connection, id: RecordId) -> Result<Vec<Event>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, record_id, seq, event_type, payload, created_at FROM events \
         WHERE record_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([id.to_string()], event_columns)?;
    rows.map(|r| r.map_err(StoreError::from).and_then(event_from_columns))
        .collect()
}

fn load_record(conn: &Connection, id: RecordId) -> Result<Option<StoredRecord>, StoreError> {
    let columns = conn
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE id = ?1"
        ))?
        .query_row([id.to_string()], record_columns)
        .optional()?;
    columns
        .map(|c| record_from_columns(conn, c).map(|(_, r)| r))
        .transpose()
}

fn list_records(conn: &Connection, q: &ListQuery) -> Result<Page, StoreError> {
    let mut sql = format!("SELECT {RECORD_COLUMNS} FROM records r WHERE r.pos > ?1");
    let after = q.after.map_or(0, |p| p.pos);
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(after)];
    if let Some(registry) = &q.registry {
        args.push(Box::new(registry.clone()));
        sql.push_str(&format!(" AND r.registry = ?{}", args.len()));
    }
    if let Some(vintage) = q.vintage {
        args.push(Box::new(vintage));
        sql.push_str(&format!(" AND r.vintage = ?{}", args.len()));
    }
    if let Some(status) = q.status {
        args.push(Box::new(last_event_type(status).as_str()));
        sql.push_str(&format!(
            " AND (SELECT e.event_type FROM events e WHERE e.record_id = r.id \
             ORDER BY e.seq DESC LIMIT 1) = ?{}",
            args.len()
        ));
    }
    // One more than asked, to know whether there is a next page.
    args.push(Box::new(i64::from(q.limit) + 1));
    sql.push_str(&format!(" ORDER BY r.pos LIMIT ?{}", args.len()));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), record_columns)?;
    let mut items = Vec::new();
    let mut last = None;
    for row in rows {
        if items.len() == q.limit as usize {
            return Ok(Page {
                items,
                next: last.map(|pos| Position { tx: 0, pos }),
            });
        }
        let (pos, record) = record_from_columns(conn, row?)?;
        last = Some(pos);
        items.push(record);
    }
    Ok(Page { items, next: None })
}

//! The PostgreSQL backend: a connection pool, one transaction per write, and
//! several server processes on one database.
//!
//! Nothing here may assume it is the only writer:
//! - a lifecycle call locks its record's row (`FOR NO KEY UPDATE`) before it
//!   reads the history the core decides on, so calls on one record from any
//!   number of processes run one after the other;
//! - a create is one `INSERT … ON CONFLICT DO NOTHING` statement, so racing
//!   identical creates make one record, and the losers read it back;
//! - the schema's unique indexes stay the last guard. A deadlock, a
//!   serialization failure or a unique violation is retried (the core then
//!   decides again on the new history), and reported as a 409 if it persists.
//!
//! Several writers commit in any order, so a row can become visible after rows
//! that sort after it. Record pages read one stable order, `(tx, pos)`, so a
//! walk through them lists every record committed before it began, once. The
//! event feed promises more: a follower that keeps asking for what comes
//! after the last event it saw never misses one. So the feed reads in
//! `(tx, pos)` order, `tx` being the inserting transaction's id, and only
//! hands out events of transactions older than every transaction still
//! running (`pg_snapshot_xmin`): an event that commits later always sorts
//! after every event already handed out. (The price: while a long
//! transaction runs, the feed holds back what committed after it began.)
//!
//! Connections come from a pool that drops closed connections and opens new
//! ones, so the server follows a database restart by itself; while the
//! database is away, requests get 503 after a few quick retries.

mod tls;

use std::collections::HashMap;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use carbon_tracker_core::lifecycle::{Event, EventType};
use carbon_tracker_core::{CanonicalRecord, Quantity, RecordId};
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{Config, Row};
use uuid::Uuid;

use super::{
    last_event_type, next_event, Created, ListQuery, Page, Position, Store, StoreError,
    StoredRecord,
};

/// The schema, one migration per entry, applied in order; the table
/// `schema_migrations` records which have been applied.
const MIGRATIONS: &[&str] = &[include_str!("../../../migrations/postgres/0001_init.sql")];

/// The advisory lock that makes processes starting at once migrate one after
/// the other (any constant works; this one spells "carbon").
const MIGRATION_LOCK: i64 = 0x6361_7262_6f6e;

/// Tries of one operation when the database reports a transient failure.
const ATTEMPTS: u32 = 5;

/// How long opening a connection may take, unless the URL sets `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request waits for a free pooled connection.
const WAIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest one store operation may take, retries included, before the
/// request gets a 503 instead of hanging on a database that does not answer.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the database could not be used at start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL does not parse.
    #[error("invalid PostgreSQL URL: {0}")]
    Url(String),
    /// The pool could not be set up.
    #[error("cannot set up PostgreSQL connections: {0}")]
    Setup(String),
    /// The database did not answer or refused the connection.
    #[error("cannot connect to PostgreSQL at {target}: {detail}")]
    Connect {
        /// Where the URL points (no password).
        target: String,
        /// The driver's reason.
        detail: String,
    },
    /// The schema could not be brought up to date.
    #[error("cannot migrate the PostgreSQL database at {target}: {detail}")]
    Migrate {
        /// Where the URL points (no password).
        target: String,
        /// The database's reason.
        detail: String,
    },
}

/// A PostgreSQL database.
pub struct PostgresStore {
    pool: Pool,
}

impl PostgresStore {
    /// Connects with up to `pool_size` connections and applies pending
    /// migrations; fails at once if the database cannot be reached.
    pub async fn connect(url: &str, pool_size: usize) -> Result<Self, OpenError> {
        let mut config = parse_url(url).map_err(OpenError::Url)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("carbon-tracker-server");
        }
        config.keepalives(true);
        let target = target(&config);
        let tls = tls::connector().map_err(|e| OpenError::Setup(e.to_string()))?;
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(WAIT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| OpenError::Setup(e.to_string()))?;
        let mut client = pool.get().await.map_err(|e| OpenError::Connect {
            target: target.clone(),
            detail: pool_error(&e),
        })?;
        migrate(&mut client)
            .await
            .map_err(|detail| OpenError::Migrate { target, detail })?;
        Ok(Self { pool })
    }

    /// Runs `op` on a pooled connection, again (after a short pause) while it
    /// fails in a way another try may not, within [`OPERATION_TIMEOUT`].
    async fn run<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: Fn(Object) -> Fut + Send + Sync,
        Fut: Future<Output = Result<T, Failed>> + Send,
    {
        let tries = async {
            let mut attempt = 1;
            loop {
                let outcome = match self.pool.get().await {
                    Ok(client) => op(client).await,
                    Err(e) => Err(Failed::from_pool(&e)),
                };
                match outcome {
                    Ok(value) => return Ok(value),
                    Err(Failed { error, retry }) if retry && attempt < ATTEMPTS => {
                        tracing::warn!(%error, attempt, "retrying a PostgreSQL operation");
                        tokio::time::sleep(Duration::from_millis(25) * 2_u32.pow(attempt)).await;
                        attempt += 1;
                    }
                    Err(failed) => return Err(failed.error),
                }
            }
        };
        tokio::time::timeout(OPERATION_TIMEOUT, tries)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(format!(
                    "PostgreSQL did not answer within {} s",
                    OPERATION_TIMEOUT.as_secs()
                )))
            })
    }
}

/// Where a configuration points, for messages: never the password.
fn target(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().or(config.get_user()).unwrap_or("?");
    format!("{host}:{port}/{db}")
}

/// An error and its causes on one line (the driver's own `Display` stops at
/// "db error" or "error connecting to server").
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Reads a connection URL, refusing what the driver would silently read
/// otherwise: a `connect_timeout` of 0 or less, which libpq takes as "wait
/// forever" and the driver drops (this server would then wait 5 s).
/// Unknown options and values are the driver's own errors.
pub fn parse_url(url: &str) -> Result<Config, String> {
    let config = Config::from_str(url).map_err(|e| url_error(&e))?;
    let options = url.split_once('?').map_or("", |(_, query)| query);
    for (key, value) in options.split('&').filter_map(|pair| pair.split_once('=')) {
        if key == "connect_timeout" && value.parse::<i64>().is_ok_and(|t| t <= 0) {
            return Err(format!(
                "connect_timeout={value} would mean \"wait forever\" to libpq; give a number of seconds from 1 (default {})",
                CONNECT_TIMEOUT.as_secs()
            ));
        }
    }
    Ok(config)
}

/// Why the URL does not parse, with the accepted values when it is `sslmode`
/// (the driver names the option but not what it takes).
fn url_error(e: &tokio_postgres::Error) -> String {
    let text = describe(e);
    if text.contains("`sslmode`") {
        format!("{text} (use disable, prefer or require; certificate verification, verify-ca and verify-full, is not supported)")
    } else {
        text
    }
}

fn pool_error(e: &PoolError) -> String {
    match e {
        PoolError::Backend(e) => describe(e),
        other => describe(other),
    }
}

/// One try's failure, and whether another try may succeed.
struct Failed {
    error: StoreError,
    retry: bool,
}

impl Failed {
    fn from_pool(e: &PoolError) -> Self {
        match e {
            PoolError::Backend(e) => Self::from(e),
            PoolError::Closed => Self::final_(StoreError::Unavailable(
                "the server is shutting down".to_owned(),
            )),
            other => Self::final_(StoreError::Unavailable(describe(other))),
        }
    }

    const fn final_(error: StoreError) -> Self {
        Self {
            error,
            retry: false,
        }
    }

    /// A failed `COMMIT`: retried only when the database says it rolled back.
    /// A connection lost during a commit leaves its outcome unknown, so the
    /// request gets a 503 rather than a second try.
    fn at_commit(e: &tokio_postgres::Error) -> Self {
        let failed = Self::from(e);
        if failed.retry && !conflict(e) {
            return Self::final_(StoreError::Unavailable(format!(
                "the connection to PostgreSQL was lost during a commit, whose outcome is unknown: {}",
                describe(e)
            )));
        }
        failed
    }
}

/// A failure the database reports when writers collide: the transaction
/// rolled back and running it again sees the other writer's work.
fn conflict(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        [
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::UNIQUE_VIOLATION,
        ]
        .contains(c)
    })
}

impl From<&tokio_postgres::Error> for Failed {
    fn from(e: &tokio_postgres::Error) -> Self {
        if conflict(e) {
            return Self {
                error: StoreError::Contended(describe(e)),
                retry: true,
            };
        }
        // The connection broke or the server is going away: a new connection
        // (perhaps to the restarted server) may succeed.
        let lost = e.is_closed()
            || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
            || e.code().is_some_and(|c| {
                [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                ]
                .contains(c)
            });
        Self {
            error: StoreError::Unavailable(describe(e)),
            retry: lost,
        }
    }
}

impl From<tokio_postgres::Error> for Failed {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::from(&e)
    }
}

impl From<StoreError> for Failed {
    fn from(error: StoreError) -> Self {
        Self::final_(error)
    }
}

/// Applies pending migrations in one transaction, under an advisory lock so
/// that processes starting at once do not race.
async fn migrate(client: &mut Object) -> Result<(), String> {
    let fail = |e: tokio_postgres::Error| describe(&e);
    let tx = client.transaction().await.map_err(fail)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(fail)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (\
             version INTEGER PRIMARY KEY, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await
    .map_err(fail)?;
    let applied: i32 = tx
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .and_then(|row| row.try_get(0))
        .map_err(fail)?;
    let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    if applied > known {
        return Err(format!(
            "its schema is at version {applied}, newer than this server's {known}: \
             run a newer carbon-tracker-server"
        ));
    }
    for (version, sql) in (1_i32..).zip(MIGRATIONS).skip_while(|(v, _)| *v <= applied) {
        tx.batch_execute(sql).await.map_err(fail)?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(fail)?;
        tracing::info!(version, "applied a schema migration");
    }
    tx.commit().await.map_err(fail)
}

/// The current time as PostgreSQL stores it (microseconds), so an event read
/// back equals the event a write returned.
fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// Rows of transactions older than every running one: see the module docs
/// on the feed.
const SETTLED: &str = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

const EVENT_COLUMNS: &str = "id, record_id, seq, event_type, payload, created_at";

const RECORD_COLUMNS: &str =
    "tx, pos, id, project_name, registry, vintage, quantity::text, serial_number, created_at";

/// One record with its CREATED event, unless the id exists: one statement.
const CREATE: &str = "WITH r AS (\
        INSERT INTO records (id, project_name, registry, vintage, quantity, serial_number, created_at) \
        VALUES ($1, $2, $3, $4, $5::text::numeric, $6, $7) \
        ON CONFLICT (id) DO NOTHING RETURNING id) \
    INSERT INTO events (id, record_id, seq, event_type, payload, created_at) \
    SELECT $8, r.id, $9, $10, $11, $7 FROM r";

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("the database holds an unreadable {what}: {detail}"))
}

/// Column `idx` of `row`.
fn get<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T, StoreError> {
    row.try_get(idx)
        .map_err(|e| corrupt("column", describe(&e)))
}

fn parse_id(s: &str) -> Result<RecordId, StoreError> {
    RecordId::from_str(s).map_err(|e| corrupt("record id", e))
}

fn event_from_row(row: &Row) -> Result<Event, StoreError> {
    let payload = match get::<Option<Value>>(row, 4)? {
        None => None,
        Some(Value::Object(map)) => Some(map),
        Some(other) => return Err(corrupt("payload", other)),
    };
    let event_type: &str = get(row, 3)?;
    Ok(Event {
        id: get(row, 0)?,
        record_id: parse_id(get(row, 1)?)?,
        seq: u32::try_from(get::<i32>(row, 2)?).map_err(|e| corrupt("seq", e))?,
        event_type: EventType::parse(event_type)
            .ok_or_else(|| corrupt("event type", event_type))?,
        payload,
        created_at: get(row, 5)?,
    })
}

/// A record row (in [`RECORD_COLUMNS`] order), its position, and `events`.
fn record_from_row(row: &Row, events: Vec<Event>) -> Result<(Position, StoredRecord), StoreError> {
    let quantity: &str = get(row, 6)?;
    let vintage: i16 = get(row, 5)?;
    let record = StoredRecord {
        id: parse_id(get(row, 2)?)?,
        canonical: CanonicalRecord {
            project_name: get(row, 3)?,
            registry: get(row, 4)?,
            vintage: u16::try_from(vintage).map_err(|e| corrupt("vintage", e))?,
            quantity: Quantity::from_str(quantity).map_err(|e| corrupt("quantity", e))?,
            serial_number: get(row, 7)?,
        },
        created_at: get(row, 8)?,
        events,
    };
    let position = Position {
        tx: get(row, 0)?,
        pos: get(row, 1)?,
    };
    Ok((position, record))
}

async fn load_events<C: GenericClient + Sync>(
    client: &C,
    id: RecordId,
) -> Result<Vec<Event>, Failed> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE record_id = $1 ORDER BY seq"
        ))
        .await?;
    let rows = client.query(&stmt, &[&id.to_string()]).await?;
    Ok(rows.iter().map(event_from_row).collect::<Result<_, _>>()?)
}

async fn load_record<C: GenericClient + Sync>(
    client: &C,
    id: RecordId,
) -> Result<Option<StoredRecord>, Failed> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE id = $1"
        ))
        .await?;
    let key = id.to_string();
    // Both queries go out together on the one connection.
    let (row, events) = tokio::try_join!(
        async { Ok::<_, Failed>(client.query_opt(&stmt, &[&key]).await?) },
        load_events(client, id),
    )?;
    Ok(row
        .map(|row| record_from_row(&row, events).map(|(_, r)| r))
        .transpose()?)
}

/// Inserts a record and its CREATED event, or finds the record already there.
async fn create_one<C: GenericClient + Sync>(
    client: &C,
    record: &CanonicalRecord,
    now: OffsetDateTime,
) -> Result<Result<Created, StoreError>, Failed> {
    let id = record.id();
    let event = next_event(id, &[], EventType::Created, None, now)?;
    let vintage = i16::try_from(record.vintage).map_err(|e| corrupt("vintage", e))?;
    let payload = event.payload.clone().map(Value::Object);
    let seq = i32::try_from(event.seq).map_err(|e| corrupt("seq", e))?;
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
    let existing = load_record(client, id)
        .await?
        .ok_or_else(|| StoreError::Unavailable(format!("record {id} vanished")))?;
    Ok(if existing.canonical == *record {
        Ok(Created::Existing(existing))
    } else {
        Err(StoreError::Conflict(id))
    })
}

/// Inserts an event; returns it as stored (`jsonb` respells numbers such as
/// `1e2`, and the answer must match what a later read shows).
async fn insert_event<C: GenericClient + Sync>(client: &C, event: Event) -> Result<Event, Failed> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO events (id, record_id, seq, event_type, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING payload",
        )
        .await?;
    let seq = i32::try_from(event.seq).map_err(|e| corrupt("seq", e))?;
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

#[async_trait]
impl Store for PostgresStore {
    async fn create(
        &self,
        records: Vec<CanonicalRecord>,
    ) -> Result<Vec<Result<Created, StoreError>>, StoreError> {
        // Batches insert in id order, so two batches that share records take
        // their row locks in the same order and cannot deadlock; the stable
        // sort keeps a repeated record's first occurrence first.
        let mut order: Vec<(RecordId, usize)> =
            records.iter().map(CanonicalRecord::id).zip(0..).collect();
        order.sort();
        let (records, order) = (&records, &order);
        self.run(|mut client| async move {
            let now = now();
            if let [record] = records.as_slice() {
                // One record: one autocommitted statement.
                return Ok(vec![create_one(&client, record, now).await?]);
            }
            let tx = client.transaction().await?;
            let mut outcomes: Vec<_> = records.iter().map(|_| None).collect();
            for &(_, index) in order {
                if let (Some(record), Some(slot)) = (records.get(index), outcomes.get_mut(index)) {
                    *slot = Some(create_one(&tx, record, now).await?);
                }
            }
            tx.commit().await.map_err(|e| Failed::at_commit(&e))?;
            Ok(outcomes.into_iter().flatten().collect())
        })
        .await
    }

    async fn append(
        &self,
        id: RecordId,
        event_type: EventType,
        payload: Option<Map<String, Value>>,
    ) -> Result<Event, StoreError> {
        let payload = &payload;
        self.run(|mut client| async move {
            let tx = client.transaction().await?;
            let lock = tx
                .prepare_cached("SELECT 1 FROM records WHERE id = $1 FOR NO KEY UPDATE")
                .await?;
            if tx.query_opt(&lock, &[&id.to_string()]).await?.is_none() {
                return Err(StoreError::NotFound(id).into());
            }
            let events = load_events(&tx, id).await?;
            let event = next_event(id, &events, event_type, payload.clone(), now())?;
            let event = insert_event(&tx, event).await?;
            tx.commit().await.map_err(|e| Failed::at_commit(&e))?;
            Ok(event)
        })
        .await
    }

    async fn get(&self, id: RecordId) -> Result<Option<StoredRecord>, StoreError> {
        self.run(|client| async move { load_record(&client, id).await })
            .await
    }

    async fn list(&self, query: ListQuery) -> Result<Page, StoreError> {
        let q = &query;
        self.run(|client| async move { list_records(&client, q).await })
            .await
    }

    async fn feed(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Option<Vec<Event>>, StoreError> {
        self.run(|client| async move {
            let start = match after {
                None => Position::default(),
                Some(id) => {
                    let stmt = client
                        .prepare_cached("SELECT tx, pos FROM events WHERE id = $1")
                        .await?;
                    match client.query_opt(&stmt, &[&id]).await? {
                        Some(row) => Position {
                            tx: get(&row, 0)?,
                            pos: get(&row, 1)?,
                        },
                        None => return Ok(None),
                    }
                }
            };
            let stmt = client
                .prepare_cached(&format!(
                    "SELECT {EVENT_COLUMNS} FROM events \
                     WHERE (tx, pos) > ($1, $2) AND tx < {SETTLED} \
                     ORDER BY tx, pos LIMIT $3"
                ))
                .await?;
            let rows = client
                .query(&stmt, &[&start.tx, &start.pos, &i64::from(limit)])
                .await?;
            let events = rows.iter().map(event_from_row).collect::<Result<_, _>>()?;
            Ok(Some(events))
        })
        .await
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.run(|client| async move {
            client.simple_query("SELECT 1").await?;
            Ok(())
        })
        .await
    }

    /// Every write is committed before it is answered, so closing only
    /// stops new checkouts and drops the idle connections.
    fn close(&self) {
        self.pool.close();
    }
}

async fn list_records(client: &Object, q: &ListQuery) -> Result<Page, Failed> {
    let after = q.after.unwrap_or_default();
    let limit = i64::from(q.limit) + 1; // one more, to know whether there is a next page
    let mut sql = format!("SELECT {RECORD_COLUMNS} FROM records r WHERE (r.tx, r.pos) > ($1, $2)");
    let registry = q.registry.as_deref();
    let vintage = q.vintage.map(i32::from);
    let status = q.status.map(|s| last_event_type(s).as_str());
    let mut args: Vec<&(dyn ToSql + Sync)> = vec![&after.tx, &after.pos, &limit];
    if let Some(registry) = &registry {
        args.push(registry);
        sql.push_str(&format!(" AND r.registry = ${}", args.len()));
    }
    if let Some(vintage) = &vintage {
        args.push(vintage);
        sql.push_str(&format!(" AND r.vintage = ${}::integer", args.len()));
    }
    if let Some(status) = &status {
        args.push(status);
        sql.push_str(&format!(
            " AND (SELECT e.event_type FROM events e WHERE e.record_id = r.id \
             ORDER BY e.seq DESC LIMIT 1) = ${}",
            args.len()
        ));
    }
    sql.push_str(" ORDER BY r.tx, r.pos LIMIT $3");
    let stmt = client.prepare_cached(&sql).await?;
    let rows = client.query(&stmt, &args).await?;
    let ids: Vec<&str> = rows.iter().map(|r| get(r, 2)).collect::<Result<_, _>>()?;
    // The page's events in one query, grouped by record.
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE record_id = ANY($1) ORDER BY record_id, seq"
        ))
        .await?;
    let mut events: HashMap<RecordId, Vec<Event>> = HashMap::new();
    for row in client.query(&stmt, &[&ids]).await? {
        let event = event_from_row(&row)?;
        events.entry(event.record_id).or_default().push(event);
    }
    let mut items = Vec::with_capacity(rows.len());
    let mut last = None;
    for row in &rows {
        if items.len() == q.limit as usize {
            return Ok(Page { items, next: last });
        }
        let id = parse_id(get(row, 2)?)?;
        let (position, record) = record_from_row(row, events.remove(&id).unwrap_or_default())?;
        last = Some(position);
        items.push(record);
    }
    Ok(Page { items, next: None })
}

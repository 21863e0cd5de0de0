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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use async_trait::async_trait;
use carbon_tracker_core::lifecycle::Event;
use carbon_tracker_core::{Acted, CanonicalRecord, RecordId};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::blocks::{self, sortable, LiveBlock};
use super::list::{self, Arg, Cut, Dialect};
use super::rows::{self, Columns, EventRow, RecordRow, API_KEY_COLUMNS, EVENT_COLUMNS};
use super::rows::{log_checkpoint, log_leaf};
use super::summary::{self, Credits, Group, GroupKey, RawRow, Tally};
use super::write::Step;
use super::{
    migrate, write, Answer, ApiKey, Append, Created, IdempotencyKey, Leaf, ListQuery, Page, Pages,
    Remember, SavedResponse, Store, StoreError, StoredCheckpoint, StoredRecord, Write,
};
use crate::access;

mod webhooks;

/// The schema, one migration per entry, applied in order; `PRAGMA user_version`
/// records how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_blocks.sql"),
    include_str!("../../migrations/sqlite/0003_log.sql"),
    include_str!("../../migrations/sqlite/0004_webhooks.sql"),
    include_str!("../../migrations/sqlite/0005_access.sql"),
    include_str!("../../migrations/sqlite/0006_events_final_index.sql"),
    include_str!("../../migrations/sqlite/0007_events_type_check.sql"),
    include_str!("../../migrations/sqlite/0008_left_out_blocks.sql"),
];

/// The migration that edits the stored text of the `events` table (its
/// CHECK on `event_type`, equivalently): `schema_version` must then change,
/// or other connections keep the schema they read before (the migrating
/// connection reads it again itself: `PRAGMA writable_schema = RESET`).
const EDITS_SCHEMA_TEXT: i64 = 7;

/// The migration that keeps the ranges of the blocks migration 2 left out
/// ([`blocks`]), which it then fills.
const LEFT_OUT_BLOCKS: i64 = 8;

/// Most requests one transaction commits together.
const MAX_GROUP: usize = 1024;

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the SQLite database {path}: {detail}")]
pub struct OpenError {
    path: String,
    detail: String,
}

/// The outcomes of a create, one per record.
type Creates = Vec<Result<Created, StoreError>>;
type CreateReply = oneshot::Sender<Result<Answer<Creates>, StoreError>>;
type AppendReply = oneshot::Sender<Result<Answer<Acted>, StoreError>>;
type ExecReply = oneshot::Sender<Result<(), StoreError>>;
/// A write of the log's own tables, run by the writer thread.
type Exec = Box<dyn FnOnce(&Connection) -> Result<(), StoreError> + Send>;

/// A unit of work for the writer thread.
enum Job {
    Create(Vec<CanonicalRecord>, Write<Creates>, CreateReply),
    Append(Append, Write<Acted>, AppendReply),
    Exec(Exec, ExecReply),
}

/// A job's outcome, held until the transaction has committed.
enum Done {
    Create(Result<Answer<Creates>, StoreError>, CreateReply),
    Append(Result<Answer<Acted>, StoreError>, AppendReply),
    Exec(Result<(), StoreError>, ExecReply),
}

/// A SQLite database.
pub struct SqliteStore {
    writer: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    path: PathBuf,
    /// Exports under way ([`Store::snapshot`]): the checkpointer starts the
    /// WAL over only when there are none.
    exports: Arc<AtomicUsize>,
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
        apply_migrations(&mut conn).map_err(|e| fail(&e))?;
        configure_writer(&conn, WAL_RESTART_FRAMES).map_err(|e| fail(&e))?;
        let checkpoint_conn = Connection::open(path).map_err(|e| fail(&e))?;
        configure(&checkpoint_conn).map_err(|e| fail(&e))?;
        let (stop_checkpoints, stopped) = mpsc::channel::<()>();
        let exports = Arc::new(AtomicUsize::new(0));
        let checkpointer = {
            let exports = Arc::clone(&exports);
            std::thread::Builder::new()
                .name("sqlite-checkpoint".to_owned())
                .spawn(move || {
                    checkpoint_loop(&checkpoint_conn, &stopped, WAL_RESTART_FRAMES, &exports);
                })
                .map_err(|e| fail(&e))?
        };
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
            exports,
        })
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        lock(&self.writer)
            .as_ref()
            .and_then(|w| w.send(job).ok())
            .ok_or_else(|| StoreError::stopped("the server is shutting down"))
    }

    /// Runs `exec` on the writer thread, in the next group's transaction.
    async fn exec(&self, exec: Exec) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Exec(exec, reply))?;
        answer(rx).await
    }

    /// Runs `f` with a pooled read connection.
    fn read<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        let result = f(&conn);
        lock(&self.readers).push(conn);
        result
    }
}

/// A connection that only reads.
fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(failed)?;
    configure(&conn).map_err(failed)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(failed)?;
    Ok(conn)
}

/// [`Store::snapshot`] on a connection of its own, in one read transaction
/// (under WAL, its snapshot is the database as of its first read).
fn snapshot(path: &Path, mut query: ListQuery, pages: &Pages) -> Result<(), StoreError> {
    let mut conn = open_reader(path)?;
    let tx = conn.transaction().map_err(failed)?;
    loop {
        let page = list_records(&tx, &query)?;
        if pages.blocking_send(Ok(page.items)).is_err() {
            return Ok(());
        }
        match page.next {
            Some(after) => query.after = Some(after),
            None => return Ok(()),
        }
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
        .unwrap_or_else(|_| Err(StoreError::stopped("the writer stopped")))
}

#[async_trait]
impl Store for SqliteStore {
    async fn create(
        &self,
        records: Vec<CanonicalRecord>,
        write: Write<Creates>,
    ) -> Result<Answer<Creates>, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Create(records, write, tx))?;
        answer(rx).await
    }

    async fn append(
        &self,
        request: Append,
        write: Write<Acted>,
    ) -> Result<Answer<Acted>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Append(request, write, reply))?;
        answer(rx).await
    }

    async fn kept_answer(
        &self,
        key: IdempotencyKey,
    ) -> Result<Option<(String, SavedResponse)>, StoreError> {
        self.read(|conn| kept(conn, &key))
    }

    async fn keep_answer(
        &self,
        key: IdempotencyKey,
        answer: SavedResponse,
    ) -> Result<(), StoreError> {
        self.exec(Box::new(move |conn| keep(conn, &key, &answer)))
            .await
    }

    async fn purge_answers(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let (reply, rx) = oneshot::channel();
        let purge: Exec = Box::new(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM idempotency_keys WHERE created_at < ?1")
                .and_then(|mut s| s.execute(params![before.unix_timestamp()]))
                .map_err(failed)?;
            let _ = reply.send(u64::try_from(n).unwrap_or(u64::MAX));
            Ok(())
        });
        self.exec(purge).await?;
        Ok(rx.await.unwrap_or(0))
    }

    async fn api_key(&self, hash: [u8; 32]) -> Result<Option<ApiKey>, StoreError> {
        let found = self.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE token_hash = ?1 AND revoked_at IS NULL"
            ))
            .and_then(|mut s| s.query_row(params![hash.as_slice()], api_key_row).optional())
            .map_err(failed)?
            .transpose()
        })?;
        if let Some(key) = &found {
            if access::stale(key.last_used_at) {
                let name = key.name.clone();
                let now = rows::timestamp_text(OffsetDateTime::now_utc())?;
                // Noted in the next group, without waiting for it.
                let note: Exec = Box::new(move |conn| {
                    conn.prepare_cached("UPDATE api_keys SET last_used_at = ?2 WHERE name = ?1")
                        .and_then(|mut s| s.execute(params![name, now]))
                        .map_err(failed)?;
                    Ok(())
                });
                let (reply, _) = oneshot::channel();
                self.send(Job::Exec(note, reply))?;
            }
        }
        Ok(found)
    }

    async fn has_api_keys(&self) -> Result<bool, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at IS NULL)")
                .and_then(|mut s| s.query_row([], |r| r.get::<_, bool>(0)))
                .map_err(failed)
        })
    }

    async fn add_api_key(&self, key: ApiKey, hash: [u8; 32]) -> Result<(), StoreError> {
        let created_at = rows::timestamp_text(key.created_at)?;
        self.exec(Box::new(move |conn| {
            conn.prepare_cached(
                "INSERT INTO api_keys (name, token_hash, scopes, created_at) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(params![key.name, hash.as_slice(), key.scopes, created_at]))
            .map_err(failed)?;
            Ok(())
        }))
        .await
    }

    async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, name"
                ))
                .map_err(failed)?;
            let rows = stmt
                .query_map([], api_key_row)
                .map_err(failed)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(failed)?;
            rows.into_iter().collect()
        })
    }

    async fn revoke_api_key(&self, name: String) -> Result<bool, StoreError> {
        let (reply, rx) = oneshot::channel();
        let now = rows::timestamp_text(OffsetDateTime::now_utc())?;
        let revoke: Exec = Box::new(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE api_keys SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                )
                .and_then(|mut s| s.execute(params![name, now]))
                .map_err(failed)?;
            let _ = reply.send(n == 1);
            Ok(())
        });
        self.exec(revoke).await?;
        Ok(rx.await.unwrap_or(false))
    }

    async fn get(&self, id: RecordId) -> Result<Option<StoredRecord>, StoreError> {
        self.read(|conn| load_record(conn, id))
    }

    async fn list(&self, query: ListQuery) -> Result<Page, StoreError> {
        self.read(|conn| list_records(conn, &query))
    }

    async fn snapshot(&self, query: ListQuery, pages: Pages) {
        let path = self.path.clone();
        self.exports.fetch_add(1, Ordering::SeqCst);
        let done = tokio::task::spawn_blocking(move || {
            if let Err(e) = snapshot(&path, query, &pages) {
                let _ = pages.blocking_send(Err(e));
            }
        })
        .await;
        self.exports.fetch_sub(1, Ordering::SeqCst);
        if let Err(e) = done {
            tracing::error!(error = %e, "an export's reader stopped");
        }
    }

    async fn summary(&self, keys: Vec<GroupKey>) -> Result<Vec<(Group, Tally)>, StoreError> {
        self.read(|conn| summarize(conn, &keys))
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
                    .prepare_cached("SELECT pos FROM events WHERE id = ?1")
                    .and_then(|mut s| {
                        s.query_row([id.to_string()], |r| r.get::<_, i64>(0))
                            .optional()
                    })
                    .map_err(failed)?
                {
                    Some(pos) => pos,
                    None => return Ok(None),
                },
            };
            let rows = select_events(
                conn,
                &format!("SELECT {EVENT_COLUMNS} FROM events WHERE pos > ?1 ORDER BY pos LIMIT ?2"),
                params![after_pos, limit],
            )?;
            Ok(Some(rows))
        })
    }

    async fn overlaps(&self) -> Result<Vec<(RecordId, RecordId)>, StoreError> {
        self.read(|conn| {
            select(
                conn,
                "SELECT record_id, earlier FROM block_overlaps ORDER BY record_id",
                [],
                |r| Ok((SqliteRow(r).text(0)?, SqliteRow(r).text(1)?)),
            )?
            .into_iter()
            .map(|(a, b)| Ok((rows::record_id(&a)?, rows::record_id(&b)?)))
            .collect()
        })
    }

    async fn overlapping(&self, record: CanonicalRecord) -> Result<Option<RecordId>, StoreError> {
        let id = record.id();
        let Some(block) = LiveBlock::with_id(id, &record) else {
            return Ok(None);
        };
        Ok(self
            .read(|conn| overlapping(conn, &block))?
            .filter(|found| *found != id))
    }

    async fn canonical_records(
        &self,
        ids: Vec<RecordId>,
    ) -> Result<Vec<(RecordId, CanonicalRecord)>, StoreError> {
        let list =
            serde_json::to_string(&ids).map_err(|e| StoreError::corrupt(None, "record ids", e))?;
        self.read(|conn| {
            select(
                conn,
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM records r \
                     WHERE r.id IN (SELECT value FROM json_each(?1))"
                ),
                [list],
                record_row,
            )?
            .into_iter()
            .map(|row| row.decode(Vec::new()).map(|(_, r)| (r.id, r.canonical)))
            .collect()
        })
    }

    async fn leaves(&self) -> Result<Vec<Leaf>, StoreError> {
        self.read(|conn| {
            select(
                conn,
                "SELECT idx, event_id, hash FROM log_leaves ORDER BY idx",
                [],
                |r| {
                    let row = SqliteRow(r);
                    Ok((row.int(0)?, row.uuid(1)?, row.get::<Vec<u8>>(2)?))
                },
            )?
            .into_iter()
            .zip(0_i64..)
            .map(|((idx, event, hash), expected)| log_leaf(idx, expected, event, &hash))
            .collect()
        })
    }

    async fn append_leaves(&self, first: u64, leaves: Vec<Leaf>) -> Result<(), StoreError> {
        self.exec(Box::new(move |conn| {
            let mut insert = conn
                .prepare_cached(
                    "INSERT INTO log_leaves (idx, event_id, hash) VALUES (?1, ?2, ?3) \
                     ON CONFLICT DO NOTHING",
                )
                .map_err(failed)?;
            let mut stored = conn
                .prepare_cached("SELECT event_id, hash FROM log_leaves WHERE idx = ?1")
                .map_err(failed)?;
            for (idx, leaf) in (first..).zip(&leaves) {
                let idx =
                    i64::try_from(idx).map_err(|e| StoreError::corrupt(None, "leaf index", e))?;
                let event = leaf.event.to_string();
                if insert
                    .execute(params![idx, event, leaf.hash.as_slice()])
                    .map_err(failed)?
                    == 0
                {
                    let (held, hash): (String, Vec<u8>) = stored
                        .query_row([idx], |r| Ok((r.get(0)?, r.get(1)?)))
                        .map_err(failed)?;
                    if held != event || hash != leaf.hash {
                        return Err(StoreError::corrupt(
                            None,
                            "log",
                            format!("leaf {idx} is stored with other contents"),
                        ));
                    }
                }
            }
            Ok(())
        }))
        .await
    }

    async fn add_checkpoint(&self, checkpoint: StoredCheckpoint) -> Result<(), StoreError> {
        self.exec(Box::new(move |conn| {
            let size = i64::try_from(checkpoint.size)
                .map_err(|e| StoreError::corrupt(None, "checkpoint size", e))?;
            let now = rows::timestamp_text(OffsetDateTime::now_utc())?;
            conn.prepare_cached(
                "INSERT INTO log_checkpoints (size, root, note, signed_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![size, checkpoint.root.as_slice(), checkpoint.note, now]))
            .map_err(failed)?;
            Ok(())
        }))
        .await
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        self.read(|conn| {
            select(
                conn,
                "SELECT size, root, note FROM log_checkpoints ORDER BY size",
                [],
                |r| {
                    let row = SqliteRow(r);
                    Ok((row.int(0)?, row.get::<Vec<u8>>(1)?, row.text(2)?))
                },
            )?
            .into_iter()
            .map(|(size, root, note)| log_checkpoint(size, &root, note))
            .collect()
        })
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(failed))
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
    conn.busy_handler(Some(wait_briefly))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit is on disk (WAL fsynced) before it is acknowledged.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // Each job of a group commit runs in a savepoint, whose sub-journal (a
    // copy of every page the job changes) otherwise spills to a temporary
    // file past 64 KiB: a keyed create, or a split, wrote it out at each job.
    // In memory, it lives and dies with the job.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

/// The writer's own settings. The checkpointer thread copies the WAL into
/// the database, so the writer never stalls on a checkpoint in the middle
/// of a commit; and when a commit starts the WAL over, the file is cut back
/// to `restart_frames` pages, so that a burst of writes leaves no lasting
/// WAL behind.
fn configure_writer(conn: &Connection, restart_frames: i64) -> rusqlite::Result<()> {
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "journal_size_limit", restart_frames * PAGE_BYTES)
}

/// Applies pending migrations; `PRAGMA user_version` is the applied version.
fn apply_migrations(conn: &mut Connection) -> Result<(), String> {
    let fail = |e: rusqlite::Error| e.to_string();
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(fail)?;
    let applied: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(fail)?;
    for (version, sql) in migrate::pending(applied, MIGRATIONS)? {
        tx.execute_batch(sql).map_err(fail)?;
        if version == migrate::BLOCKS {
            index_blocks(&tx).map_err(|e| e.to_string())?;
        }
        if version == LEFT_OUT_BLOCKS {
            keep_left_out(&tx).map_err(|e| e.to_string())?;
        }
        if version == EDITS_SCHEMA_TEXT {
            let schema: i64 = tx
                .query_row("PRAGMA schema_version", [], |r| r.get(0))
                .map_err(fail)?;
            tx.pragma_update(None, "schema_version", schema + 1)
                .map_err(fail)?;
        }
        tx.pragma_update(None, "user_version", version)
            .map_err(fail)?;
        tracing::info!(version, "applied a schema migration");
    }
    tx.commit().map_err(fail)
}

/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

/// SQLite's default page size, which every database here keeps: a WAL frame
/// holds one page.
const PAGE_BYTES: i64 = 4096;

/// The WAL size, in frames, past which the checkpointer also restarts the
/// WAL from its beginning: 64 MiB.
const WAL_RESTART_FRAMES: i64 = 16_384;

/// How long a connection waits for a lock another holds before it answers
/// `SQLITE_BUSY`: 5 s, in steps of [`BUSY_STEP`].
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// One wait of the busy handler. SQLite's own (`busy_timeout`) sleeps 1, 2,
/// 5, 10, … ms, so a writer that met a checkpoint's lock lost milliseconds
/// to a lock held for less; this retries as soon as it is likely free.
const BUSY_STEP: std::time::Duration = std::time::Duration::from_micros(100);

/// The busy handler of every connection: `true` (try again) after a short
/// sleep, until [`BUSY_WAIT`] has gone by.
fn wait_briefly(attempts: i32) -> bool {
    let waited = BUSY_STEP.saturating_mul(u32::try_from(attempts).unwrap_or(u32::MAX));
    if waited >= BUSY_WAIT {
        return false;
    }
    std::thread::sleep(BUSY_STEP);
    true
}

/// Checkpoints until `stop` hangs up; the writer's connection then does the
/// last one as it closes. `restart_frames` is [`WAL_RESTART_FRAMES`] but in
/// a unit test, which writes less.
///
/// A PASSIVE checkpoint never blocks the writer or readers, but under
/// steady writes it never catches up with the WAL's end, and SQLite starts
/// the WAL over only once every frame is in the database: the WAL then grew
/// without bound (6.7 GB for a 450 MB database in `server/bench/partial.py`,
/// and splits slowed by half as readers and the writer searched it). So
/// once the WAL passes `restart_frames` and a PASSIVE checkpoint has left
/// at most a sixteenth of that uncopied, a RESTART checkpoint copies the
/// rest, holding off the writer between two commits for only that short
/// copy (a RESTART that copied more held writes up for hundreds of
/// milliseconds), so that the next commit writes the WAL from its start
/// (`journal_size_limit` then truncates the file). Should writes outpace
/// the PASSIVE checkpoints until the WAL is four times that size, the
/// RESTART runs anyway: a bounded WAL comes before a short stall.
///
/// A reader that keeps one snapshot for long (an export: [`Store::snapshot`])
/// keeps every frame written after it: no checkpoint copies them until it
/// ends, and a RESTART would only hold off every writer for [`BUSY_WAIT`]
/// and fail. So no RESTART is tried while an export is under way
/// (`exports`): the WAL grows until it ends.
fn checkpoint_loop(
    conn: &Connection,
    stop: &mpsc::Receiver<()>,
    restart_frames: i64,
    exports: &AtomicUsize,
) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_INTERVAL) {
        // The WAL's size in frames, and how many of them are now copied.
        let passive = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        let result = match passive {
            Ok((frames, copied)) => {
                if exports.load(Ordering::SeqCst) == 0
                    && (frames > 4 * restart_frames
                        || (frames > restart_frames && frames - copied <= restart_frames / 16))
                {
                    conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
                } else {
                    Ok(())
                }
            }
            Err(e) => Err(e),
        };
        if let Err(e) = result {
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
                Done::Create(result, reply) => reply.send(result).is_ok(),
                Done::Append(result, reply) => reply.send(result).is_ok(),
                Done::Exec(result, reply) => reply.send(result).is_ok(),
            };
        }
    }
}

/// A reply channel, kept to report a failed commit.
enum Reply {
    Create(CreateReply),
    Append(AppendReply),
    Exec(ExecReply),
}

impl Reply {
    fn fail(self, e: &rusqlite::Error) {
        let err = || StoreError::unavailable("the commit failed", e.to_string());
        let _ = match self {
            Self::Create(r) => r.send(Err(err())).is_ok(),
            Self::Append(r) => r.send(Err(err())).is_ok(),
            Self::Exec(r) => r.send(Err(err())).is_ok(),
        };
    }
}

impl Done {
    fn into_reply(self) -> Reply {
        match self {
            Self::Create(_, r) => Reply::Create(r),
            Self::Append(_, r) => Reply::Append(r),
            Self::Exec(_, r) => Reply::Exec(r),
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
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let replies = jobs
                .into_iter()
                .map(|job| match job {
                    Job::Create(_, _, r) => Reply::Create(r),
                    Job::Append(_, _, reply) => Reply::Append(reply),
                    Job::Exec(_, reply) => Reply::Exec(reply),
                })
                .collect();
            return Err((e, replies));
        }
    };
    let done: Vec<Done> = jobs.into_iter().map(|job| run_job(&tx, job, now)).collect();
    match tx.commit() {
        Ok(()) => Ok(done),
        Err(e) => Err((e, done.into_iter().map(Done::into_reply).collect())),
    }
}

fn run_job(tx: &Connection, job: Job, now: OffsetDateTime) -> Done {
    match job {
        Job::Create(records, write, reply) => {
            let actor = write.actor.as_deref();
            let outcome = remembered(tx, write.remember.as_ref(), |conn| {
                Ok(records
                    .into_iter()
                    .map(|record| in_savepoint(conn, |sp| create_one(sp, record, now, actor)))
                    .collect())
            });
            Done::Create(outcome, reply)
        }
        Job::Exec(exec, reply) => Done::Exec(in_savepoint(tx, |sp| exec(sp)), reply),
        Job::Append(request, write, reply) => {
            let actor = write.actor.as_deref();
            // In a savepoint of its own: a split writes several rows, all
            // of which stay or none (SPEC §6), key or no key.
            let outcome = remembered(tx, write.remember.as_ref(), |conn| {
                in_savepoint(conn, |sp| append_one(sp, &request, now, actor))
            });
            Done::Append(outcome, reply)
        }
    }
}

/// Runs `f` in a savepoint: what it wrote stays if it succeeds and is undone
/// if it fails, without touching the rest of the group's transaction.
/// (Savepoints nest; SQLite releases or rolls back the innermost of a name.)
fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // Prepared once per connection: a savepoint per job is on the writer's
    // hot path.
    let run = |sql: &str| {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([]))
            .map_err(failed)
    };
    run("SAVEPOINT job")?;
    match f(conn) {
        Ok(result) => {
            run("RELEASE job")?;
            Ok(result)
        }
        Err(e) => {
            run("ROLLBACK TO job")?;
            run("RELEASE job")?;
            Err(e)
        }
    }
}

/// Runs a write's `effect` and keeps its answer for its `Idempotency-Key`,
/// both in one savepoint (SPEC §8); or replays the answer kept for the key.
/// The writer thread runs one job at a time, so a repeat in the same group
/// finds the first one's answer.
fn remembered<T>(
    conn: &Connection,
    remember: Option<&Remember<T>>,
    effect: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<Answer<T>, StoreError> {
    let Some(remember) = remember else {
        return effect(conn).map(Answer::Done);
    };
    if let Some((fingerprint, saved)) = kept(conn, &remember.key)? {
        return if fingerprint == remember.key.fingerprint {
            Ok(Answer::Replayed(saved))
        } else {
            Err(StoreError::IdempotencyKeyReused)
        };
    }
    in_savepoint(conn, |sp| {
        let answer = (remember.render)(&effect(sp)?);
        if answer.status < 500 {
            keep(sp, &remember.key, &answer)?;
        }
        Ok(Answer::Kept(answer))
    })
}

/// The fingerprint and answer kept for `key`, unless expired.
fn kept(
    conn: &Connection,
    key: &IdempotencyKey,
) -> Result<Option<(String, SavedResponse)>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT fingerprint, status, headers, body FROM idempotency_keys \
             WHERE scope = ?1 AND key = ?2 AND created_at >= ?3",
        )
        .and_then(|mut s| {
            s.query_row(
                params![key.scope, key.key, key.not_before.unix_timestamp()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, u16>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                    ))
                },
            )
            .optional()
        })
        .map_err(failed)?;
    row.map(|(fingerprint, status, headers, body)| {
        Ok((fingerprint, SavedResponse::read(status, &headers, body)?))
    })
    .transpose()
}

/// Keeps `answer` for `key` (replacing an expired answer).
fn keep(conn: &Connection, key: &IdempotencyKey, answer: &SavedResponse) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO idempotency_keys \
         (scope, key, fingerprint, created_at, status, headers, body) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            key.scope,
            key.key,
            key.fingerprint,
            key.at.unix_timestamp(),
            answer.status,
            answer.headers_json(),
            answer.body,
        ])
    })
    .map_err(failed)?;
    Ok(())
}

fn api_key_row(r: &Row<'_>) -> rusqlite::Result<Result<ApiKey, StoreError>> {
    let time = |i: usize| -> rusqlite::Result<Result<Option<OffsetDateTime>, StoreError>> {
        Ok(r.get::<_, Option<String>>(i)?
            .map(|t| rows::timestamp(&t))
            .transpose())
    };
    let created_at = r.get::<_, String>(2)?;
    let (last_used_at, revoked_at) = (time(3)?, time(4)?);
    Ok((|| {
        Ok(ApiKey {
            name: r.get(0).map_err(failed)?,
            scopes: r.get(1).map_err(failed)?,
            created_at: rows::timestamp(&created_at)?,
            last_used_at: last_used_at?,
            revoked_at: revoked_at?,
        })
    })())
}

fn create_one(
    conn: &Connection,
    record: CanonicalRecord,
    now: OffsetDateTime,
    actor: Option<&str>,
) -> Result<Created, StoreError> {
    let id = record.id();
    if let Some(stored) = load_record(conn, id)? {
        return write::existing(&record, stored);
    }
    let block = LiveBlock::with_id(id, &record);
    if let Some(block) = &block {
        if let Some(existing) = overlapping(conn, block)? {
            return Err(StoreError::SerialOverlap { existing });
        }
    }
    let event = write::created_event(id, now, actor)?;
    insert_record(conn, id, &record, event.created_at)?;
    insert_event(conn, &event)?;
    if let Some(block) = &block {
        insert_live(conn, block)?;
    }
    Ok(Created::New(StoredRecord {
        id,
        canonical: record,
        created_at: event.created_at,
        events: vec![event],
    }))
}

fn insert_record(
    conn: &Connection,
    id: RecordId,
    record: &CanonicalRecord,
    created_at: OffsetDateTime,
) -> Result<(), StoreError> {
    let created_at = rows::timestamp_text(created_at)?;
    conn.prepare_cached(
        "INSERT INTO records (id, project_name, registry, vintage, quantity, serial_number, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            id.to_string(),
            record.project_name,
            record.registry,
            record.vintage,
            record.quantity.to_string(),
            record.serial_number,
            created_at,
        ])
    })
    .map_err(failed)?;
    Ok(())
}

/// The live block that shares a credit with `block`, if any.
fn overlapping(conn: &Connection, block: &LiveBlock) -> Result<Option<RecordId>, StoreError> {
    // Live ranges are disjoint: only the last one starting at or before the
    // block's end can overlap it.
    let found = conn
        .prepare_cached(
            "SELECT record_id, last FROM live_blocks \
             WHERE scheme = ?1 AND prefix = ?2 AND first <= ?3 ORDER BY first DESC LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row(
                params![block.scheme, block.prefix, sortable(block.last)],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()
        })
        .map_err(failed)?;
    if let Some((id, last)) = found {
        if last >= sortable(block.first) {
            return Ok(Some(rows::record_id(&id)?));
        }
    }
    // The blocks the migration left out hold their credits too.
    find_block(
        conn,
        "SELECT record_id FROM left_out_blocks \
         WHERE scheme = ?1 AND prefix = ?2 AND first <= ?3 AND last >= ?4 LIMIT 1",
        block,
    )
}

/// The record `sql` finds for `block`; its parameters are the block's
/// scheme, prefix, last and first credit.
fn find_block(
    conn: &Connection,
    sql: &str,
    block: &LiveBlock,
) -> Result<Option<RecordId>, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| {
            s.query_row(
                params![
                    block.scheme,
                    block.prefix,
                    sortable(block.last),
                    sortable(block.first)
                ],
                |r| r.get::<_, String>(0),
            )
            .optional()
        })
        .map_err(failed)?
        .map(|id| rows::record_id(&id))
        .transpose()
}

/// Where a walk from `split`, a split record, goes on to reach its remainder
/// ([`write::block_of`]): the live block inside it holding its last credit,
/// unless a block the migration left out overlaps it; `next` (its back
/// child) otherwise, or when `split` is `None`.
fn remainder(
    conn: &Connection,
    split: Option<&StoredRecord>,
    next: RecordId,
) -> Result<RecordId, StoreError> {
    let Some(block) = split.and_then(write::block_of) else {
        return Ok(next);
    };
    let found = find_block(
        conn,
        "SELECT l.record_id FROM live_blocks l \
         WHERE l.scheme = ?1 AND l.prefix = ?2 AND l.first <= ?3 AND l.first >= ?4 AND l.last = ?3 \
         AND NOT EXISTS (SELECT 1 FROM left_out_blocks o \
             WHERE o.scheme = ?1 AND o.prefix = ?2 AND o.first <= ?3 AND o.last >= ?4) \
         ORDER BY l.first DESC LIMIT 1",
        &block,
    )?;
    Ok(found.unwrap_or(next))
}

fn insert_live(conn: &Connection, block: &LiveBlock) -> Result<(), StoreError> {
    insert_range(
        conn,
        "INSERT INTO live_blocks (record_id, scheme, prefix, first, last) VALUES (?1, ?2, ?3, ?4, ?5)",
        block,
    )
}

/// Inserts `block` with `sql`, whose parameters are its record, scheme,
/// prefix, first and last credit.
fn insert_range(conn: &Connection, sql: &str, block: &LiveBlock) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| {
            s.execute(params![
                block.record.to_string(),
                block.scheme,
                block.prefix,
                sortable(block.first),
                sortable(block.last),
            ])
        })
        .map_err(failed)?;
    Ok(())
}

/// Indexes the blocks a database held before blocks existed (migration 2);
/// overlaps already stored are listed in `block_overlaps` and reported.
fn index_blocks(conn: &Connection) -> Result<(), StoreError> {
    let records = select(
        conn,
        &format!("SELECT {RECORD_COLUMNS} FROM records r ORDER BY r.pos"),
        [],
        record_row,
    )?
    .into_iter()
    .map(|row| Ok(row.decode(Vec::new())?.1))
    .collect::<Result<Vec<StoredRecord>, StoreError>>()?;
    let (live, overlaps) = blocks::index(records.into_iter().map(|r| (r.id, r.canonical)));
    for block in &live {
        insert_live(conn, block)?;
    }
    for overlap in &overlaps {
        conn.execute(
            "INSERT INTO block_overlaps (record_id, earlier) VALUES (?1, ?2)",
            params![overlap.record.to_string(), overlap.with.to_string()],
        )
        .map_err(failed)?;
    }
    tracing::info!(
        indexed = live.len(),
        overlapping = overlaps.len(),
        "indexed the stored blocks"
    );
    Ok(())
}

/// Keeps the ranges of the blocks [`index_blocks`] left out (migration 8),
/// so that their credits stay held.
fn keep_left_out(conn: &Connection) -> Result<(), StoreError> {
    let records = select(
        conn,
        &format!(
            "SELECT {RECORD_COLUMNS} FROM records r \
             JOIN block_overlaps o ON o.record_id = r.id ORDER BY r.pos"
        ),
        [],
        record_row,
    )?;
    for row in records {
        let block = blocks::left_out(&row.decode(Vec::new())?.1)?;
        insert_range(
            conn,
            "INSERT INTO left_out_blocks (record_id, scheme, prefix, first, last) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            &block,
        )?;
    }
    Ok(())
}

fn append_one(
    conn: &Connection,
    request: &Append,
    now: OffsetDateTime,
    actor: Option<&str>,
) -> Result<Acted, StoreError> {
    let mut reached = request.record;
    for hop in 0..write::MAX_HOPS {
        let record = load_record(conn, reached)?;
        match write::step(request, reached, record.as_ref(), hop > 0, now, actor)? {
            Step::Follow(next) => {
                reached = remainder(conn, record.as_ref().filter(|_| hop == 0), next)?;
            }
            Step::Act(acted) => {
                write_acted(conn, &acted)?;
                return Ok(acted);
            }
        }
    }
    Err(write::too_deep(request.record))
}

/// Writes what an action did: one event, or a split with both children;
/// the split parent's range gives way to its children's in the index.
fn write_acted(conn: &Connection, acted: &Acted) -> Result<(), StoreError> {
    match acted {
        Acted::Whole(event) => insert_event(conn, event),
        Acted::Split(split) => {
            insert_event(conn, &split.parent)?;
            // The parent's range starts where its front child's does.
            let indexed = match LiveBlock::with_id(split.front.id, &split.front.record) {
                Some(front) => conn
                    .prepare_cached(
                        "DELETE FROM live_blocks \
                         WHERE scheme = ?1 AND prefix = ?2 AND first = ?3 AND record_id = ?4",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            front.scheme,
                            front.prefix,
                            sortable(front.first),
                            split.parent.record_id.to_string(),
                        ])
                    })
                    .map_err(failed)?,
                None => 0,
            };
            for child in [&split.front, &split.back] {
                insert_record(conn, child.id, &child.record, split.parent.created_at)?;
                for event in &child.events {
                    insert_event(conn, event)?;
                }
                // A parent left out of the index (an overlap stored before
                // SPEC §6) leaves its children out too.
                if let (1, Some(block)) = (indexed, LiveBlock::with_id(child.id, &child.record)) {
                    insert_live(conn, &block)?;
                }
            }
            Ok(())
        }
    }
}

fn insert_event(conn: &Connection, event: &Event) -> Result<(), StoreError> {
    let payload = event
        .payload
        .as_ref()
        .map(|p| Value::Object(p.clone()).to_string());
    let created_at = rows::timestamp_text(event.created_at)?;
    conn.prepare_cached(
        "INSERT INTO events (id, record_id, seq, event_type, payload, created_at, actor) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            event.id.to_string(),
            event.record_id.to_string(),
            event.seq,
            event.event_type.as_str(),
            payload,
            created_at,
            event.actor,
        ])
    })
    .map_err(failed)?;
    Ok(())
}

/// A rusqlite error, classified: a constraint of the schema (a unique index,
/// a CHECK, a trigger) is a write conflict (409), a value that does not read
/// as its column's type is corrupt data (500), the rest is unavailable (503).
fn failed(e: rusqlite::Error) -> StoreError {
    use rusqlite::Error as E;
    match &e {
        E::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::WriteConflict(Box::new(e))
        }
        E::FromSqlConversionFailure(..)
        | E::InvalidColumnType(..)
        | E::IntegralValueOutOfRange(..) => StoreError::corrupt(None, "column", e),
        _ => StoreError::unavailable("SQLite failed", e),
    }
}

/// The columns [`RecordRow::read`] reads: SQLite has one writer, so `tx` is always 0.
const RECORD_COLUMNS: &str =
    "0 AS tx, r.pos, r.id, r.project_name, r.registry, r.vintage, r.quantity, r.serial_number, r.created_at";

/// The SQL of SQLite for [`list::query`]: numbered `?` placeholders; rows
/// commit in `pos` order, so a position is `pos` alone.
const DIALECT: Dialect = Dialect {
    int: |n| format!("?{n}"),
    text: |n| format!("?{n}"),
    record_columns: RECORD_COLUMNS,
    json_text: |column, key| format!("json_extract({column}, '$.{key}')"),
    position: &["r.pos"],
};

/// A row of rusqlite: timestamps, event ids and payloads are text.
struct SqliteRow<'a, 'b>(&'a Row<'b>);

impl SqliteRow<'_, '_> {
    fn get<T: rusqlite::types::FromSql>(&self, i: usize) -> Result<T, StoreError> {
        self.0.get(i).map_err(failed)
    }
}

impl Columns for SqliteRow<'_, '_> {
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.get(i)
    }
    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.get(i)
    }
    fn time(&self, i: usize) -> Result<OffsetDateTime, StoreError> {
        rows::timestamp(&self.get::<String>(i)?)
    }
    fn uuid(&self, i: usize) -> Result<Uuid, StoreError> {
        rows::uuid(&self.get::<String>(i)?)
    }
    fn json(&self, i: usize) -> Result<Option<Value>, StoreError> {
        self.get::<Option<String>>(i)?
            .map(|text| rows::json(&text))
            .transpose()
    }
}

fn record_row(r: &Row<'_>) -> Result<RecordRow, StoreError> {
    RecordRow::read(&SqliteRow(r))
}

fn event_row(r: &Row<'_>) -> Result<EventRow, StoreError> {
    EventRow::read(&SqliteRow(r))
}

/// The rows `sql` selects, each read by `read`.
fn select<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    read: fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(failed)?;
    let mut rows = stmt.query(params).map_err(failed)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(failed)? {
        out.push(read(row)?);
    }
    Ok(out)
}

/// The events `sql` selects.
fn select_events(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Event>, StoreError> {
    select(conn, sql, params, event_row)?
        .into_iter()
        .map(EventRow::decode)
        .collect()
}

fn load_events(conn: &Connection, id: RecordId) -> Result<Vec<Event>, StoreError> {
    select_events(
        conn,
        &format!("SELECT {EVENT_COLUMNS} FROM events WHERE record_id = ?1 ORDER BY seq"),
        [id.to_string()],
    )
}

fn load_record(conn: &Connection, id: RecordId) -> Result<Option<StoredRecord>, StoreError> {
    let rows = select(
        conn,
        &format!("SELECT {RECORD_COLUMNS} FROM records r WHERE r.id = ?1"),
        [id.to_string()],
        record_row,
    )?;
    rows.into_iter()
        .next()
        .map(|row| Ok(row.decode(load_events(conn, id)?)?.1))
        .transpose()
}

/// The built query's arguments as driver parameters.
fn sql_args(args: Vec<Arg>) -> Vec<Box<dyn rusqlite::ToSql>> {
    args.into_iter()
        .map(|arg| -> Box<dyn rusqlite::ToSql> {
            match arg {
                Arg::Int(i) => Box::new(i),
                Arg::Text(t) => Box::new(t),
            }
        })
        .collect()
}

fn list_records(conn: &Connection, q: &ListQuery) -> Result<Page, StoreError> {
    let (sql, args) = list::query(q, &DIALECT);
    let args = sql_args(args);
    let rows = select(
        conn,
        &sql,
        rusqlite::params_from_iter(args.iter()),
        record_row,
    )?;
    let cut = Cut::new(rows, q.limit);
    let mut events = HashMap::new();
    for id in cut.ids() {
        let id = rows::record_id(id)?;
        events.insert(id, load_events(conn, id)?);
    }
    cut.page(events)
}

/// The sums of [`summary::query`] on SQLite, whose quantities are decimal
/// text with 4 places: the whole credits and the ten-thousandths, each
/// added up as an integer (exact; an overflow is an error, never a rounding).
const SUMS: &str = "sum(CAST(substr(t.quantity, 1, instr(t.quantity, '.') - 1) AS INTEGER)), \
                    sum(CAST(substr(t.quantity, instr(t.quantity, '.') + 1) AS INTEGER))";

fn summarize(conn: &Connection, keys: &[GroupKey]) -> Result<Vec<(Group, Tally)>, StoreError> {
    let (sql, args) = summary::query(keys, &DIALECT, SUMS);
    let args = sql_args(args);
    let mut stmt = conn.prepare_cached(&sql).map_err(failed)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(args.iter()))
        .map_err(failed)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(failed)? {
        let mut raw = RawRow::default();
        for (i, key) in keys.iter().enumerate() {
            match key {
                GroupKey::Registry => raw.registry = row.get(i).map_err(failed)?,
                GroupKey::Vintage => raw.vintage = row.get(i).map_err(failed)?,
                GroupKey::Status => raw.last_type = row.get(i).map_err(failed)?,
                GroupKey::Holder => raw.holder = Some(row.get(i).map_err(failed)?),
            }
        }
        let n = keys.len();
        let records: i64 = row.get(n).map_err(failed)?;
        let whole: Option<i64> = row.get(n + 1).map_err(failed)?;
        let fraction: Option<i64> = row.get(n + 2).map_err(failed)?;
        raw.tally = Tally {
            records: u64::try_from(records).map_err(|e| StoreError::corrupt(None, "count", e))?,
            credits: Credits::from_parts(whole.unwrap_or(0), fraction.unwrap_or(0))?,
        };
        out.push(raw);
    }
    summary::groups(keys, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 0007 on the connection that applies it (the one that then
    /// becomes the writer's): an event insert plans no temporary B-tree, and
    /// the rewritten CHECK still takes the five types and nothing else.
    #[test]
    fn the_migrating_connection_writes_under_the_rewritten_check() {
        let mut conn = Connection::open_in_memory().unwrap();
        configure(&conn).unwrap();
        apply_migrations(&mut conn).unwrap();
        let insert = "INSERT INTO events (id, record_id, seq, event_type, payload, created_at) \
                      VALUES (?1, ?1, ?2, ?3, NULL, '2026-01-01T00:00:00Z')";
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN {insert}"))
            .unwrap()
            .query_map(params!["e", 1, "SOLD"], |r| r.get(1))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(plan.iter().all(|op| op != "OpenEphemeral"), "{plan:?}");
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        let tx = conn.transaction().unwrap();
        for (seq, kind) in (1_i64..).zip(["CREATED", "SOLD", "RETIRED", "CANCELLED", "SPLIT"]) {
            tx.execute(insert, params![format!("e{seq}"), seq, kind])
                .unwrap();
        }
        for (seq, kind) in (10_i64..).zip(["BOGUS", "created", "SPLIT ", ""]) {
            let refused = tx.execute(insert, params![format!("x{seq}"), seq, kind]);
            assert!(
                refused.is_err_and(|e| e.to_string().contains("CHECK constraint failed")),
                "{kind:?}"
            );
        }
    }

    /// A reader that keeps one snapshot (an export's) while writes go on:
    /// no write waits on the checkpointer. A RESTART tried past the WAL's
    /// limit waited for that reader and held off every writer for the busy
    /// wait (5 s), at each checkpoint interval.
    /// A scratch database in its own folder (`name`), a way to open more
    /// connections to it, and its writer, configured with `limit` frames and
    /// not durable, so that a test writes many frames in little time; the
    /// table `t` holds blobs.
    fn scratch(name: &str, limit: i64) -> (PathBuf, impl Fn() -> Connection, Connection) {
        let dir =
            std::env::temp_dir().join(format!("carbon-tracker-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wal.db");
        let open = move || {
            let conn = Connection::open(&path).unwrap();
            configure(&conn).unwrap();
            conn
        };
        let writer = open();
        configure_writer(&writer, limit).unwrap();
        writer.pragma_update(None, "synchronous", "OFF").unwrap();
        writer.execute_batch("CREATE TABLE t (v BLOB)").unwrap();
        (dir, open, writer)
    }

    #[test]
    fn a_reader_on_an_old_snapshot_holds_up_no_write() {
        const LIMIT: i64 = 64;
        let (dir, open, writer) = scratch("pinned", LIMIT);
        writer
            .execute("INSERT INTO t VALUES (zeroblob(3000))", [])
            .unwrap();
        let mut reader = open();
        let snapshot = reader.transaction().unwrap();
        snapshot
            .query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
            .unwrap();
        let (stop, stopped) = mpsc::channel::<()>();
        let checkpointer = open();
        // The reader is an export's, as `Store::snapshot` counts it.
        let checkpoints = std::thread::spawn(move || {
            checkpoint_loop(&checkpointer, &stopped, LIMIT, &AtomicUsize::new(1));
        });
        let until = std::time::Instant::now() + std::time::Duration::from_millis(2500);
        let mut longest = std::time::Duration::ZERO;
        let mut written = 0_u64;
        while std::time::Instant::now() < until {
            let started = std::time::Instant::now();
            writer
                .execute("INSERT INTO t VALUES (zeroblob(3000))", [])
                .unwrap();
            longest = longest.max(started.elapsed());
            written += 1;
        }
        drop(snapshot);
        drop(stop);
        checkpoints.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(written > 4 * LIMIT as u64, "only {written} commits");
        assert!(
            longest < std::time::Duration::from_secs(1),
            "a write waited {longest:?} on the checkpointer"
        );
    }

    /// Writes that never pause, and a reader always in a read transaction:
    /// the checkpointer still starts the WAL over once it passes its limit.
    /// With PASSIVE checkpoints alone it never did (the file kept every
    /// frame ever written: 117,963 after 38,342 commits).
    #[test]
    fn the_wal_starts_over_under_steady_writes() {
        const LIMIT: i64 = 64;
        let (dir, open, writer) = scratch("wal", LIMIT);
        let (stop, stopped) = mpsc::channel::<()>();
        let checkpointer = open();
        let checkpoints = std::thread::spawn(move || {
            checkpoint_loop(&checkpointer, &stopped, LIMIT, &AtomicUsize::new(0));
        });
        let reading = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let reader = {
            let (reader, reading) = (open(), reading.clone());
            std::thread::spawn(move || {
                while reading.load(std::sync::atomic::Ordering::Relaxed) {
                    reader
                        .query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
                        .unwrap();
                }
            })
        };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let mut written = 0_u64;
        while std::time::Instant::now() < until {
            writer
                .execute("INSERT INTO t VALUES (zeroblob(3000))", [])
                .unwrap();
            written += 1;
        }
        reading.store(false, std::sync::atomic::Ordering::Relaxed);
        reader.join().unwrap();
        drop(stop);
        checkpoints.join().unwrap();
        let wal_bytes = std::fs::metadata(dir.join("wal.db-wal")).unwrap().len();
        let wal_frames = wal_bytes / PAGE_BYTES as u64;
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(written > 4 * LIMIT as u64, "only {written} commits");
        // Each commit writes two or three frames: a WAL that kept them all
        // would hold more frames than there were commits.
        assert!(
            wal_frames < written,
            "the WAL holds {wal_frames} frames after {written} commits of one row"
        );
    }
}

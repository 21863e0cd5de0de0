//! The PostgreSQL backend: a connection pool, one transaction per write, and
//! several server processes on one database.
//!
//! Writes are committed in groups (`group`): the creates and lifecycle calls
//! waiting at one moment share one transaction and one statement per table.
//!
//! Nothing here may assume it is the only writer:
//! - a lifecycle call locks its record's row (`FOR NO KEY UPDATE`) before it
//!   reads the history the core decides on, so calls on one record from any
//!   number of processes run one after the other (a group locks all it
//!   addresses at once, in id order);
//! - creates are `INSERT … ON CONFLICT DO NOTHING`, in id order, so racing
//!   identical creates make one record, and the losers read it back;
//! - the schema's unique indexes stay the last guard. A deadlock, a
//!   serialization failure or a unique violation is retried (the core then
//!   decides again on the new history), and reported as a 409 if it persists
//!   (`retry`).
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

//!
//! The modules hold one job each: `connect` opens the pool and migrates,
//! `group` commits writes in groups,
//! `retry` classifies failures and retries, `sql` holds the statements,
//! `tls` the encryption. What both backends share is in [`crate::store`].

mod connect;
mod group;
mod keys;
mod locks;
mod queue;
mod reads;
mod retry;
mod sql;
mod tls;
mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;
use carbon_tracker_core::lifecycle::Event;
use carbon_tracker_core::{Acted, CanonicalRecord, RecordId};
use deadpool_postgres::Pool;
use time::OffsetDateTime;
use uuid::Uuid;

pub use connect::{parse_url, OpenError};
use retry::{run, Failed};
use sql::{get, now, EVENT_COLUMNS, SETTLED};
pub use webhooks::PostgresWebhooks;

use super::blocks::LiveBlock;
use super::rows::{log_checkpoint, log_leaf};
use super::write::Step;
use super::{
    write, Answer, ApiKey, Append, IdempotencyKey, Leaf, ListQuery, Page, Pages, Position,
    Remember, SavedResponse, Store, StoreError, StoredCheckpoint, StoredRecord, Write,
};

use group::Creates;

/// A PostgreSQL database.
pub struct PostgresStore {
    pool: Pool,
    /// The queue of the group-commit writers; `None` once closed.
    writer: queue::Sender<group::Job>,
    /// The queue of the grouped record lookups; `None` once closed.
    reader: queue::Sender<(RecordId, reads::Reply)>,
    /// The queue of the grouped API key lookups; `None` once closed.
    keys: queue::Sender<keys::Lookup>,
    /// Exports under way: each keeps a connection for as long as its client
    /// reads, so they may hold a quarter of the pool, no more.
    exports: Arc<tokio::sync::Semaphore>,
}

/// How long an export waits for one of the others to end.
const EXPORT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl PostgresStore {
    /// Connects with up to `pool_size` connections and applies pending
    /// migrations; fails at once if the database cannot be reached.
    pub async fn connect(url: &str, pool_size: usize) -> Result<Self, OpenError> {
        let pool = connect::open(url, pool_size).await?;
        let writer = group::start(&pool);
        let reader = reads::start(&pool);
        let keys = keys::start(&pool);
        Ok(Self {
            pool,
            writer: std::sync::Mutex::new(Some(writer)),
            reader: std::sync::Mutex::new(Some(reader)),
            keys: std::sync::Mutex::new(Some(keys)),
            exports: Arc::new(tokio::sync::Semaphore::new((pool_size / 4).max(1))),
        })
    }

    async fn run<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: Fn(deadpool_postgres::Object) -> Fut + Send + Sync,
        Fut: std::future::Future<Output = Result<T, Failed>> + Send,
    {
        run(&self.pool, op).await
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn create(
        &self,
        records: Vec<CanonicalRecord>,
        write: Write<Creates>,
    ) -> Result<Answer<Creates>, StoreError> {
        queue::ask(&self.writer, "writers", |reply| {
            group::Job::Create(group::Request::new(records, write, reply))
        })
        .await
    }

    async fn append(
        &self,
        request: Append,
        write: Write<Acted>,
    ) -> Result<Answer<Acted>, StoreError> {
        queue::ask(&self.writer, "writers", |reply| {
            group::Job::Append(group::Request::new(request, write, reply))
        })
        .await
    }

    async fn kept_answer(
        &self,
        key: IdempotencyKey,
    ) -> Result<Option<(String, SavedResponse)>, StoreError> {
        let key = &key;
        self.run(|client| async move { keys::kept(&client, key).await })
            .await
    }

    async fn keep_answer(
        &self,
        key: IdempotencyKey,
        answer: SavedResponse,
    ) -> Result<(), StoreError> {
        let (key, answer) = (&key, &answer);
        self.run(|client| async move { keys::keep(&client, key, answer).await })
            .await
    }

    async fn purge_answers(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.run(|client| async move {
            let stmt = client
                .prepare_cached("DELETE FROM idempotency_keys WHERE created_at < $1")
                .await?;
            Ok(client.execute(&stmt, &[&before]).await?)
        })
        .await
    }

    async fn api_key(&self, hash: [u8; 32]) -> Result<Option<ApiKey>, StoreError> {
        queue::ask(&self.keys, "key lookups", |reply| {
            keys::Lookup::Key(hash, reply)
        })
        .await
    }

    async fn has_api_keys(&self) -> Result<bool, StoreError> {
        queue::ask(&self.keys, "key lookups", keys::Lookup::AnyActive).await
    }

    async fn add_api_key(&self, key: ApiKey, hash: [u8; 32]) -> Result<(), StoreError> {
        let (key, hash) = (&key, &hash);
        self.run(|client| async move {
            client
                .execute(
                    "INSERT INTO api_keys (name, token_hash, scopes, created_at) VALUES ($1, $2, $3, $4)",
                    &[&key.name, &hash.as_slice(), &key.scopes, &key.created_at],
                )
                .await?;
            Ok(())
        })
        .await
    }

    async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.run(|client| async move { keys::api_keys(&client).await })
            .await
    }

    async fn revoke_api_key(&self, name: String) -> Result<bool, StoreError> {
        let name = &name;
        self.run(|client| async move {
            let n = client
                .execute(
                    "UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL",
                    &[name],
                )
                .await?;
            Ok(n == 1)
        })
        .await
    }

    async fn get(&self, id: RecordId) -> Result<Option<StoredRecord>, StoreError> {
        queue::ask(&self.reader, "readers", |reply| (id, reply)).await
    }

    async fn list(&self, query: ListQuery) -> Result<Page, StoreError> {
        let q = &query;
        self.run(|client| async move { sql::list_records(&client, q).await })
            .await
    }

    async fn snapshot(&self, query: ListQuery, pages: Pages) {
        let Ok(Ok(_turn)) = tokio::time::timeout(EXPORT_WAIT, self.exports.acquire()).await else {
            let busy = StoreError::unavailable(
                "every connection exports may use is in use by another export",
                format!("no export ended within {} s", EXPORT_WAIT.as_secs()),
            );
            let _ = pages.send(Err(busy)).await;
            return;
        };
        if let Err(e) = snapshot(&self.pool, query, &pages).await {
            let _ = pages.send(Err(e.error)).await;
        }
    }

    async fn summary(
        &self,
        keys: Vec<super::summary::GroupKey>,
    ) -> Result<Vec<(super::summary::Group, super::summary::Tally)>, StoreError> {
        let keys = &keys;
        let rows = self
            .run(|client| async move { sql::summary_rows(&client, keys).await })
            .await?;
        super::summary::groups(keys, rows)
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
            let events = rows.iter().map(sql::event).collect::<Result<_, _>>()?;
            Ok(Some(events))
        })
        .await
    }

    async fn overlaps(&self) -> Result<Vec<(RecordId, RecordId)>, StoreError> {
        self.run(|client| async move {
            let rows = client
                .query(
                    "SELECT record_id, earlier FROM block_overlaps ORDER BY record_id",
                    &[],
                )
                .await?;
            let id = |row: &tokio_postgres::Row, i| -> Result<RecordId, StoreError> {
                crate::store::rows::record_id(&get::<String>(row, i)?)
            };
            Ok(rows
                .iter()
                .map(|row| Ok((id(row, 0)?, id(row, 1)?)))
                .collect::<Result<_, StoreError>>()?)
        })
        .await
    }

    async fn overlapping(&self, record: CanonicalRecord) -> Result<Option<RecordId>, StoreError> {
        let id = record.id();
        let Some(block) = LiveBlock::with_id(id, &record) else {
            return Ok(None);
        };
        let block = &block;
        Ok(self
            .run(|client| async move { sql::overlapping(&client, block).await })
            .await?
            .filter(|found| *found != id))
    }

    async fn canonical_records(
        &self,
        ids: Vec<RecordId>,
    ) -> Result<Vec<(RecordId, CanonicalRecord)>, StoreError> {
        let ids: Vec<String> = ids.iter().map(RecordId::to_string).collect();
        let ids = &ids;
        self.run(|client| async move { sql::canonical_records(&client, ids).await })
            .await
    }

    async fn leaves(&self) -> Result<Vec<Leaf>, StoreError> {
        self.run(|client| async move {
            let rows = client
                .query(
                    "SELECT idx, event_id, hash FROM log_leaves ORDER BY idx",
                    &[],
                )
                .await?;
            Ok(rows
                .iter()
                .zip(0_i64..)
                .map(|(row, expected)| {
                    log_leaf(
                        get(row, 0)?,
                        expected,
                        get(row, 1)?,
                        &get::<Vec<u8>>(row, 2)?,
                    )
                })
                .collect::<Result<_, StoreError>>()?)
        })
        .await
    }

    async fn append_leaves(&self, first: u64, leaves: Vec<Leaf>) -> Result<(), StoreError> {
        if leaves.is_empty() {
            return Ok(());
        }
        let start = i64::try_from(first).map_err(|e| StoreError::corrupt(None, "leaf index", e))?;
        let indices: Vec<i64> = (start..).take(leaves.len()).collect();
        let events: Vec<Uuid> = leaves.iter().map(|l| l.event).collect();
        let hashes: Vec<&[u8]> = leaves.iter().map(|l| l.hash.as_slice()).collect();
        let (indices, events, hashes) = (&indices, &events, &hashes);
        self.run(|client| async move {
            // One statement for all the leaves; those another process stored
            // first are kept, and must be the same leaves.
            let insert = client
                .prepare_cached(
                    "INSERT INTO log_leaves (idx, event_id, hash) \
                     SELECT * FROM unnest($1::int8[], $2::uuid[], $3::bytea[]) ORDER BY 1 \
                     ON CONFLICT DO NOTHING RETURNING idx",
                )
                .await?;
            let inserted = client.query(&insert, &[indices, events, hashes]).await?;
            if inserted.len() == indices.len() {
                return Ok(());
            }
            let stored = client
                .prepare_cached(
                    "SELECT idx, event_id, hash FROM log_leaves WHERE idx = ANY($1) ORDER BY idx",
                )
                .await?;
            let rows = client.query(&stored, &[indices]).await?;
            let expected = indices.iter().zip(events.iter().zip(hashes.iter()));
            if rows.len() != indices.len() {
                return Err(
                    StoreError::corrupt(None, "log", "leaves vanished after their insert").into(),
                );
            }
            for (row, (idx, (event, hash))) in rows.iter().zip(expected) {
                let (held_idx, held, held_hash): (i64, Uuid, Vec<u8>) =
                    (get(row, 0)?, get(row, 1)?, get(row, 2)?);
                if held_idx != *idx || held != *event || held_hash.as_slice() != *hash {
                    return Err(StoreError::corrupt(
                        None,
                        "log",
                        format!("leaf {idx} is stored with other contents"),
                    )
                    .into());
                }
            }
            Ok(())
        })
        .await
    }

    async fn add_checkpoint(&self, checkpoint: StoredCheckpoint) -> Result<(), StoreError> {
        let checkpoint = &checkpoint;
        self.run(|client| async move {
            let size = i64::try_from(checkpoint.size)
                .map_err(|e| StoreError::corrupt(None, "checkpoint size", e))?;
            client
                .execute(
                    "INSERT INTO log_checkpoints (size, root, note, signed_at) \
                     VALUES ($1, $2, $3, now()) ON CONFLICT DO NOTHING",
                    &[&size, &checkpoint.root.as_slice(), &checkpoint.note],
                )
                .await?;
            Ok(())
        })
        .await
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        self.run(|client| async move {
            let rows = client
                .query(
                    "SELECT size, root, note FROM log_checkpoints ORDER BY size",
                    &[],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|row| log_checkpoint(get(row, 0)?, &get::<Vec<u8>>(row, 1)?, get(row, 2)?))
                .collect::<Result<_, StoreError>>()?)
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
        queue::close(&self.writer);
        queue::close(&self.reader);
        queue::close(&self.keys);
        self.pool.close();
    }
}

/// A create on its own, in one transaction (a group that failed as a whole
/// runs its requests this way).
async fn create_alone(
    pool: &Pool,
    records: Vec<CanonicalRecord>,
    actor: Option<String>,
    remember: Option<&Remember<Creates>>,
) -> Result<Answer<Creates>, StoreError> {
    // Batches insert in id order, so two batches that share records take
    // their row locks in the same order and cannot deadlock; the stable
    // sort keeps a repeated record's first occurrence first.
    let mut order: Vec<(RecordId, usize)> =
        records.iter().map(CanonicalRecord::id).zip(0..).collect();
    order.sort();
    let blocks: Vec<LiveBlock> = order
        .iter()
        .filter_map(|&(id, index)| LiveBlock::with_id(id, records.get(index)?))
        .collect();
    let (records, order, actor, blocks) = (&records, &order, actor.as_deref(), &blocks);
    run(pool, |mut client| async move {
        let now = now();
        if let ([record], None, None) = (records.as_slice(), remember, blocks.first()) {
            // One plain record: one autocommitted statement.
            return Ok(Answer::Done(vec![
                sql::create_one(&client, record, now, actor).await?,
            ]));
        }
        let tx = client.transaction().await?;
        if let Some(replayed) = keys::claim(&tx, remember.map(|r| &r.key)).await? {
            return Ok(replayed);
        }
        // All the batch's prefixes at once, in lock order (one by one in id
        // order, two batches could take them in opposite orders).
        locks::lock_blocks(&tx, blocks).await?;
        let mut outcomes: Vec<_> = records.iter().map(|_| None).collect();
        for &(_, index) in order {
            if let (Some(record), Some(slot)) = (records.get(index), outcomes.get_mut(index)) {
                *slot = Some(sql::create_one(&tx, record, now, actor).await?);
            }
        }
        let outcomes: Creates = outcomes.into_iter().flatten().collect();
        let answer = keys::answer(&tx, remember, outcomes).await?;
        tx.commit().await.map_err(Failed::at_commit)?;
        Ok(answer)
    })
    .await
}

/// [`Store::snapshot`] in one read-only `REPEATABLE READ` transaction: every
/// page is read in the snapshot its first statement takes. Not retried: a
/// retry would send the pages again.
async fn snapshot(pool: &Pool, mut query: ListQuery, pages: &Pages) -> Result<(), Failed> {
    let mut client = pool.get().await.map_err(Failed::from_pool)?;
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    loop {
        let page = sql::list_records(&tx, &query).await?;
        if pages.send(Ok(page.items)).await.is_err() {
            return Ok(());
        }
        match page.next {
            Some(after) => query.after = Some(after),
            None => return Ok(()),
        }
    }
}

/// A lifecycle call on its own, in one transaction.
async fn append_alone(
    pool: &Pool,
    request: Append,
    actor: Option<String>,
    remember: Option<&Remember<Acted>>,
) -> Result<Answer<Acted>, StoreError> {
    let (request, actor) = (&request, actor.as_deref());
    run(pool, |mut client| async move {
        let tx = client.transaction().await?;
        if let Some(replayed) = keys::claim(&tx, remember.map(|r| &r.key)).await? {
            return Ok(replayed);
        }
        let lock = tx
            .prepare_cached("SELECT 1 FROM records WHERE id = $1 FOR NO KEY UPDATE")
            .await?;
        let now = now();
        let mut reached = request.record;
        for hop in 0..write::MAX_HOPS {
            // Every walk locks from the addressed record down the
            // remainders, in one order, so walks cannot deadlock.
            let locked = tx
                .query_opt(&lock, &[&reached.to_string()])
                .await?
                .is_some();
            let record = if locked {
                sql::load_record(&tx, reached).await?
            } else {
                None
            };
            match write::step(request, reached, record.as_ref(), hop > 0, now, actor) {
                Ok(Step::Follow(next)) => {
                    reached =
                        sql::remainder(&tx, record.as_ref().filter(|_| hop == 0), next).await?;
                }
                Ok(Step::Act(acted)) => {
                    let acted = sql::write_acted(&tx, acted).await?;
                    let answer = keys::answer(&tx, remember, acted).await?;
                    tx.commit().await.map_err(Failed::at_commit)?;
                    return Ok(answer);
                }
                // Refused: nothing is kept; the key's lock ends with the
                // transaction.
                Err(e) => return Err(e.into()),
            }
        }
        Err(write::too_deep(request.record).into())
    })
    .await
}

//! API keys and the answers kept for `Idempotency-Key` retries (SPEC §8).
//!
//! A write with a key first takes an advisory lock standing for the key,
//! held until its transaction ends, then looks for the answer kept for it. A
//! repeat in another process waits on that lock until the first transaction
//! ends: if it committed, the repeat finds the answer kept with it and
//! replays it; if it rolled back, the repeat goes ahead itself. The answer is
//! inserted, whole, in the same transaction as the write's effect, so a
//! crash loses neither or both; a refused write keeps nothing.

use std::collections::HashMap;

use deadpool_postgres::{GenericClient, Pool};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::locks;
use super::retry::{run, Failed};
use super::sql::get;
use crate::access;
use crate::store::rows::API_KEY_COLUMNS;
use crate::store::{Answer, ApiKey, IdempotencyKey, Remember, SavedResponse, StoreError};

/// Locks `key` in the caller's transaction ([`claim_many`] of one); the
/// answer kept for it when it was answered before (or the reuse error),
/// `None` when the write should go ahead. No key: `None`.
pub(super) async fn claim<T, C: GenericClient + Sync>(
    tx: &C,
    key: Option<&IdempotencyKey>,
) -> Result<Option<Answer<T>>, Failed> {
    let Some(key) = key else {
        return Ok(None);
    };
    Ok(claim_many(tx, &[key])
        .await?
        .into_values()
        .next()
        .map(|earlier| earlier.map(Answer::Replayed))
        .transpose()?)
}

/// Keeps the answer of a write whose key it locked, in its transaction (not
/// an answer of 500 or more); the write's [`Answer`]. ([`Answers`] of one.)
pub(super) async fn answer<T, C: GenericClient + Sync>(
    tx: &C,
    remember: Option<&Remember<T>>,
    done: T,
) -> Result<Answer<T>, Failed> {
    let mut answers = Answers::default();
    let answer = answers.add(remember, done);
    answers.write(tx).await?;
    Ok(answer)
}

/// Locks `keys` in the caller's transaction, in the order of their locks, in
/// one statement (so that groups of several processes locking the same keys
/// wait for each other in one order), then finds the answers kept for them;
/// the keys answered before, with their answers (or the reuse error), by
/// `(scope, key)`. The keys not in it go ahead.
pub(super) async fn claim_many<C: GenericClient + Sync>(
    tx: &C,
    keys: &[&IdempotencyKey],
) -> Result<HashMap<(String, String), Result<SavedResponse, StoreError>>, Failed> {
    let mut earlier = HashMap::new();
    let Some(first) = keys.first() else {
        return Ok(earlier);
    };
    let locks = locks::in_lock_order(
        keys.iter()
            .map(|k| locks::key_of(&[&k.scope, &k.key]))
            .collect(),
    );
    let lock = tx.prepare_cached(locks::LOCK_ALL).await?;
    let find = tx
        .prepare_cached(
            // One primary key lookup per key, whatever the planner guessed
            // of the table's size when it planned this prepared statement
            // (OFFSET 0 keeps the subquery from being made a join, which an
            // empty table's plan makes a scan of the whole table).
            "SELECT u.scope, u.key, i.fingerprint, i.status, i.headers, i.body \
             FROM unnest($1::text[], $2::text[]) AS u(scope, key) CROSS JOIN LATERAL \
             (SELECT fingerprint, status, headers, body FROM idempotency_keys \
              WHERE scope = u.scope AND key = u.key AND created_at >= $3 OFFSET 0) AS i",
        )
        .await?;
    let scopes: Vec<&str> = keys.iter().map(|k| k.scope.as_str()).collect();
    let names: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
    // Sent together (one round trip); the lookup runs once the locks are
    // held, with a snapshot of its own (READ COMMITTED), so it sees the
    // answer of a transaction it waited for.
    let (locked, found) = futures_util::future::join(
        tx.execute(&lock, &[&locks::IDEMPOTENCY_KEYS, &locks]),
        tx.query(&find, &[&scopes, &names, &first.not_before]),
    )
    .await;
    locked?;
    let mut found: HashMap<(String, String), (String, SavedResponse)> = found?
        .iter()
        .map(|row| Ok(((get(row, 0)?, get(row, 1)?), saved_row(row, 2)?)))
        .collect::<Result<_, StoreError>>()?;
    for key in keys {
        let id = (key.scope.clone(), key.key.clone());
        if let Some((fingerprint, saved)) = found.remove(&id) {
            let answer = if fingerprint == key.fingerprint {
                Ok(saved)
            } else {
                Err(StoreError::IdempotencyKeyReused)
            };
            earlier.insert(id, answer);
        }
    }
    Ok(earlier)
}

/// A kept answer's fingerprint and answer, from the columns `fingerprint,
/// status, headers, body` starting at `at`.
fn saved_row(row: &tokio_postgres::Row, at: usize) -> Result<(String, SavedResponse), StoreError> {
    let status: i32 = get(row, at + 1)?;
    let status =
        u16::try_from(status).map_err(|e| StoreError::corrupt(None, "kept answer's status", e))?;
    let headers: String = get(row, at + 2)?;
    let saved = SavedResponse::read(status, &headers, get(row, at + 3)?)?;
    Ok((get(row, at)?, saved))
}

/// The answers a group keeps, written before its commit in one statement.
#[derive(Default)]
pub(super) struct Answers {
    kept: Vec<(IdempotencyKey, SavedResponse)>,
}

impl Answers {
    /// The answer to a write that took effect: rendered, and kept when the
    /// write has a key (not an answer of 500 or more, which a retry decides
    /// again).
    pub(super) fn add<T>(&mut self, remember: Option<&Remember<T>>, done: T) -> Answer<T> {
        let Some(remember) = remember else {
            return Answer::Done(done);
        };
        let answer = (remember.render)(&done);
        if answer.status < 500 {
            self.kept.push((remember.key.clone(), answer.clone()));
        }
        Answer::Kept(answer)
    }

    /// Inserts the answers, each replacing its key's expired one (the key's
    /// lock is held and no live answer was found).
    pub(super) async fn write<C: GenericClient + Sync>(self, tx: &C) -> Result<(), Failed> {
        if self.kept.is_empty() {
            return Ok(());
        }
        let stmt = tx
            .prepare_cached(
                "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at, status, headers, body) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], \
                 $5::int4[], $6::text[], $7::bytea[]) \
                 ON CONFLICT (scope, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, \
                 created_at = EXCLUDED.created_at, status = EXCLUDED.status, \
                 headers = EXCLUDED.headers, body = EXCLUDED.body",
            )
            .await?;
        let keys = || self.kept.iter().map(|(k, _)| k);
        let answers = || self.kept.iter().map(|(_, a)| a);
        let scopes: Vec<&str> = keys().map(|k| k.scope.as_str()).collect();
        let names: Vec<&str> = keys().map(|k| k.key.as_str()).collect();
        let prints: Vec<&str> = keys().map(|k| k.fingerprint.as_str()).collect();
        let times: Vec<OffsetDateTime> = keys().map(|k| k.at).collect();
        let statuses: Vec<i32> = answers().map(|a| i32::from(a.status)).collect();
        let headers: Vec<String> = answers().map(SavedResponse::headers_json).collect();
        let bodies: Vec<&[u8]> = answers().map(|a| a.body.as_slice()).collect();
        tx.execute(
            &stmt,
            &[
                &scopes, &names, &prints, &times, &statuses, &headers, &bodies,
            ],
        )
        .await?;
        Ok(())
    }
}

/// The fingerprint and answer kept for `key`, unless expired.
pub(super) async fn kept<C: GenericClient + Sync>(
    client: &C,
    key: &IdempotencyKey,
) -> Result<Option<(String, SavedResponse)>, Failed> {
    let stmt = client
        .prepare_cached(
            "SELECT fingerprint, status, headers, body FROM idempotency_keys \
             WHERE scope = $1 AND key = $2 AND created_at >= $3",
        )
        .await?;
    let row = client
        .query_opt(&stmt, &[&key.scope, &key.key, &key.not_before])
        .await?;
    Ok(row.map(|row| saved_row(&row, 0)).transpose()?)
}

/// Keeps `answer` for `key`, replacing an expired answer.
pub(super) async fn keep<C: GenericClient + Sync>(
    client: &C,
    key: &IdempotencyKey,
    answer: &SavedResponse,
) -> Result<(), Failed> {
    Answers {
        kept: vec![(key.clone(), answer.clone())],
    }
    .write(client)
    .await
}

fn api_key_row(row: &tokio_postgres::Row) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        name: get(row, 0)?,
        scopes: get(row, 1)?,
        created_at: get(row, 2)?,
        last_used_at: get(row, 3)?,
        revoked_at: get(row, 4)?,
    })
}

/// Most key lookups one statement answers.
const MAX_LOOKUPS: usize = 256;

/// Lookup tasks per process.
const LOOKUPS: usize = 2;

/// Where a key lookup's answer goes.
pub(super) type KeyReply = oneshot::Sender<Result<Option<ApiKey>, StoreError>>;

/// A question for the lookup tasks.
pub(super) enum Lookup {
    /// The active key whose token has this SHA-256.
    Key([u8; 32], KeyReply),
    /// Whether any key is active (an open server has none; asked by every
    /// write that sends no key).
    AnyActive(oneshot::Sender<Result<bool, StoreError>>),
}

/// Starts the tasks that look keys up: the lookups waiting at one moment
/// share one statement (`… WHERE token_hash = ANY($1)`, and one `EXISTS`
/// for all the writes without a key), as the record reads do (see `reads`),
/// so that a key on every request, or none on an open server, costs the
/// pool one connection for many requests, not one each. Nothing is cached:
/// each group reads the table after its requests arrived, so a key created
/// or revoked before a request is seen by it.
pub(super) fn start(pool: &Pool) -> mpsc::UnboundedSender<Lookup> {
    super::queue::start(pool, LOOKUPS, MAX_LOOKUPS, |_| 1, answer_lookups)
}

async fn answer_lookups(pool: Pool, lookups: Vec<Lookup>) {
    let hashes: Vec<&[u8]> = lookups
        .iter()
        .filter_map(|l| match l {
            Lookup::Key(hash, _) => Some(hash.as_slice()),
            Lookup::AnyActive(_) => None,
        })
        .collect();
    let any_asked = lookups.iter().any(|l| matches!(l, Lookup::AnyActive(_)));
    let hashes = &hashes;
    let found = run(&pool, |client| async move {
        let keys = async {
            if hashes.is_empty() {
                Ok(HashMap::new())
            } else {
                api_keys_by_hash(&client, hashes).await
            }
        };
        let any = async {
            if any_asked {
                any_active(&client).await
            } else {
                Ok(false)
            }
        };
        // Sent together: one round trip.
        let (keys, any) = futures_util::future::join(keys, any).await;
        Ok((keys?, any?))
    })
    .await;
    // A client that went away no longer waits for its answer.
    match found {
        Ok((found, any)) => {
            for lookup in lookups {
                match lookup {
                    Lookup::Key(hash, reply) => {
                        let _ = reply.send(Ok(found.get(&hash).cloned()));
                    }
                    Lookup::AnyActive(reply) => {
                        let _ = reply.send(Ok(any));
                    }
                }
            }
        }
        Err(e) => {
            let message = e.to_string();
            let error = || StoreError::unavailable("looking API keys up", message.clone());
            for lookup in lookups {
                match lookup {
                    Lookup::Key(_, reply) => {
                        let _ = reply.send(Err(error()));
                    }
                    Lookup::AnyActive(reply) => {
                        let _ = reply.send(Err(error()));
                    }
                }
            }
        }
    }
}

/// Whether any key is active.
async fn any_active<C: GenericClient + Sync>(client: &C) -> Result<bool, Failed> {
    let stmt = client
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at IS NULL)")
        .await?;
    Ok(get(&client.query_one(&stmt, &[]).await?, 0)?)
}

/// The active keys among `hashes`, by hash; notes the use of each whose last
/// noted one is over a minute old (one write a minute per key, not one per
/// request).
async fn api_keys_by_hash<C: GenericClient + Sync>(
    client: &C,
    hashes: &[&[u8]],
) -> Result<HashMap<[u8; 32], ApiKey>, Failed> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {API_KEY_COLUMNS}, token_hash FROM api_keys \
             WHERE token_hash = ANY($1) AND revoked_at IS NULL"
        ))
        .await?;
    let mut found = HashMap::new();
    for row in client.query(&stmt, &[&hashes]).await? {
        let key = api_key_row(&row)?;
        let hash: Vec<u8> = get(&row, 5)?;
        let hash: [u8; 32] = hash
            .try_into()
            .map_err(|_| StoreError::corrupt(None, "API key hash", "not 32 bytes"))?;
        if access::stale(key.last_used_at) {
            let note = client
                .prepare_cached("UPDATE api_keys SET last_used_at = $2 WHERE name = $1")
                .await?;
            client
                .execute(&note, &[&key.name, &OffsetDateTime::now_utc()])
                .await?;
        }
        found.insert(hash, key);
    }
    Ok(found)
}

/// Every key, oldest first.
pub(super) async fn api_keys<C: GenericClient + Sync>(client: &C) -> Result<Vec<ApiKey>, Failed> {
    let rows = client
        .query(
            &format!("SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, name"),
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(api_key_row)
        .collect::<Result<Vec<_>, _>>()?)
}

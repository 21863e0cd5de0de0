//! API keys and the answers kept for `Idempotency-Key` retries (SPEC §8).
//!
//! A write with a key claims it first in its own transaction: an insert of
//! the key's row without an answer. A repeat in another process then waits
//! on that row (the unique index) until the first transaction ends: if it
//! committed, the repeat reads the answer kept with it and replays it; if it
//! rolled back, the repeat claims the key itself. The answer is written in
//! the same transaction as the write's effect, so a crash loses neither or
//! both.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use deadpool_postgres::{GenericClient, Pool};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, Mutex};

use super::retry::{run, Failed};
use super::sql::get;
use crate::access;
use crate::store::rows::API_KEY_COLUMNS;
use crate::store::{Answer, ApiKey, IdempotencyKey, Remember, SavedResponse, StoreError};

/// Claims `key` in the caller's transaction ([`claim_many`] of one); the
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

/// Writes the answer of a write that claimed its key, in its transaction
/// (an answer of 500 or more gives the claim up instead); the write's
/// [`Answer`]. ([`Answers`] of one.)
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

/// Claims `keys` (distinct) in the caller's transaction, in key order, in
/// one statement; the keys answered before, with their answers (or the
/// reuse error), by `(scope, key)`. The keys not in it were claimed.
pub(super) async fn claim_many<C: GenericClient + Sync>(
    tx: &C,
    keys: &[&IdempotencyKey],
) -> Result<HashMap<(String, String), Result<SavedResponse, StoreError>>, Failed> {
    let mut earlier = HashMap::new();
    let Some(first) = keys.first() else {
        return Ok(earlier);
    };
    let stmt = tx
        .prepare_cached(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) \
             AS k(scope, key, fingerprint, created_at) ORDER BY scope, key \
             ON CONFLICT (scope, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, \
             created_at = EXCLUDED.created_at, status = NULL, headers = NULL, body = NULL \
             WHERE idempotency_keys.created_at < $5 \
             RETURNING scope, key",
        )
        .await?;
    let scopes: Vec<&str> = keys.iter().map(|k| k.scope.as_str()).collect();
    let names: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
    let prints: Vec<&str> = keys.iter().map(|k| k.fingerprint.as_str()).collect();
    let times: Vec<OffsetDateTime> = keys.iter().map(|k| k.at).collect();
    let claimed: HashSet<(String, String)> = tx
        .query(
            &stmt,
            &[&scopes, &names, &prints, &times, &first.not_before],
        )
        .await?
        .iter()
        .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
        .collect::<Result<_, StoreError>>()?;
    for key in keys {
        let id = (key.scope.clone(), key.key.clone());
        if claimed.contains(&id) {
            continue;
        }
        let answer = match kept(tx, key).await? {
            Some((fingerprint, saved)) if fingerprint == key.fingerprint => Ok(saved),
            Some(_) => Err(StoreError::IdempotencyKeyReused),
            None => {
                return Err(
                    StoreError::WriteConflict("the Idempotency-Key's row changed".into()).into(),
                )
            }
        };
        earlier.insert(id, answer);
    }
    Ok(earlier)
}

/// The answers a group keeps, and the claims it gives up, written before
/// its commit in two statements.
#[derive(Default)]
pub(super) struct Answers {
    kept: Vec<(IdempotencyKey, SavedResponse)>,
    released: Vec<IdempotencyKey>,
}

impl Answers {
    /// The answer to a write that took effect: rendered and kept when the
    /// write claimed a key (an answer of 500 or more gives the claim up).
    pub(super) fn add<T>(&mut self, remember: Option<&Remember<T>>, done: T) -> Answer<T> {
        let Some(remember) = remember else {
            return Answer::Done(done);
        };
        let answer = (remember.render)(&done);
        if answer.status < 500 {
            self.kept.push((remember.key.clone(), answer.clone()));
        } else {
            self.released.push(remember.key.clone());
        }
        Answer::Kept(answer)
    }

    /// Gives up the claim of a write that was refused.
    pub(super) fn release<T>(&mut self, remember: Option<&Remember<T>>) {
        if let Some(remember) = remember {
            self.released.push(remember.key.clone());
        }
    }

    /// Writes the answers and gives up the claims.
    pub(super) async fn write<C: GenericClient + Sync>(self, tx: &C) -> Result<(), Failed> {
        if !self.kept.is_empty() {
            let stmt = tx
                .prepare_cached(
                    "UPDATE idempotency_keys i SET status = u.status, headers = u.headers, body = u.body \
                     FROM unnest($1::text[], $2::text[], $3::int4[], $4::text[], $5::bytea[]) \
                     AS u(scope, key, status, headers, body) \
                     WHERE i.scope = u.scope AND i.key = u.key",
                )
                .await?;
            let scopes: Vec<&str> = self.kept.iter().map(|(k, _)| k.scope.as_str()).collect();
            let names: Vec<&str> = self.kept.iter().map(|(k, _)| k.key.as_str()).collect();
            let statuses: Vec<i32> = self.kept.iter().map(|(_, a)| i32::from(a.status)).collect();
            let headers: Vec<String> = self.kept.iter().map(|(_, a)| a.headers_json()).collect();
            let bodies: Vec<&[u8]> = self.kept.iter().map(|(_, a)| a.body.as_slice()).collect();
            tx.execute(&stmt, &[&scopes, &names, &statuses, &headers, &bodies])
                .await?;
        }
        if !self.released.is_empty() {
            let stmt = tx
                .prepare_cached(
                    "DELETE FROM idempotency_keys i USING unnest($1::text[], $2::text[]) AS u(scope, key) \
                     WHERE i.scope = u.scope AND i.key = u.key",
                )
                .await?;
            let scopes: Vec<&str> = self.released.iter().map(|k| k.scope.as_str()).collect();
            let names: Vec<&str> = self.released.iter().map(|k| k.key.as_str()).collect();
            tx.execute(&stmt, &[&scopes, &names]).await?;
        }
        Ok(())
    }
}

/// The fingerprint and answer kept for `key`, unless expired or not yet
/// answered.
pub(super) async fn kept<C: GenericClient + Sync>(
    client: &C,
    key: &IdempotencyKey,
) -> Result<Option<(String, SavedResponse)>, Failed> {
    let stmt = client
        .prepare_cached(
            "SELECT fingerprint, status, headers, body FROM idempotency_keys \
             WHERE scope = $1 AND key = $2 AND created_at >= $3 AND status IS NOT NULL",
        )
        .await?;
    let Some(row) = client
        .query_opt(&stmt, &[&key.scope, &key.key, &key.not_before])
        .await?
    else {
        return Ok(None);
    };
    let status: i32 = get(&row, 1)?;
    let status =
        u16::try_from(status).map_err(|e| StoreError::corrupt(None, "kept answer's status", e))?;
    let headers: String = get(&row, 2)?;
    let saved = SavedResponse::read(status, &headers, get(&row, 3)?)?;
    Ok(Some((get(&row, 0)?, saved)))
}

/// Keeps `answer` for `key`, replacing a claim or an expired answer.
pub(super) async fn keep<C: GenericClient + Sync>(
    client: &C,
    key: &IdempotencyKey,
    answer: &SavedResponse,
) -> Result<(), Failed> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at, status, headers, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (scope, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, \
             created_at = EXCLUDED.created_at, status = EXCLUDED.status, \
             headers = EXCLUDED.headers, body = EXCLUDED.body",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &key.scope,
                &key.key,
                &key.fingerprint,
                &key.at,
                &i32::from(answer.status),
                &answer.headers_json(),
                &answer.body,
            ],
        )
        .await?;
    Ok(())
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

/// A key lookup: the token's SHA-256, and where the key goes.
pub(super) type Lookup = ([u8; 32], KeyReply);

/// Starts the tasks that look keys up: the lookups waiting at one moment
/// share one statement (`… WHERE token_hash = ANY($1)`), as the record
/// reads do (see `reads`), so that a key on every request costs the pool
/// one connection for many requests, not one each. Nothing is cached: each
/// group reads the table after its requests arrived, so a revoke committed
/// before a request is seen by it.
pub(super) fn start(pool: &Pool) -> mpsc::UnboundedSender<Lookup> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let receiver = Arc::new(Mutex::new(receiver));
    for _ in 0..LOOKUPS {
        let (pool, receiver) = (pool.clone(), Arc::clone(&receiver));
        tokio::spawn(async move {
            while let Some(lookups) = super::reads::next_group(&receiver, MAX_LOOKUPS).await {
                answer_lookups(&pool, lookups).await;
            }
        });
    }
    sender
}

async fn answer_lookups(pool: &Pool, lookups: Vec<Lookup>) {
    let hashes: Vec<&[u8]> = lookups.iter().map(|(h, _)| h.as_slice()).collect();
    let hashes = &hashes;
    let found = run(pool, |client| async move {
        api_keys_by_hash(&client, hashes).await
    })
    .await;
    match found {
        Ok(found) => {
            for (hash, reply) in lookups {
                let _ = reply.send(Ok(found.get(&hash).cloned()));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for (_, reply) in lookups {
                let _ = reply.send(Err(StoreError::unavailable(
                    "looking API keys up",
                    message.clone(),
                )));
            }
        }
    }
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

//! Grouped reads of `GET /records/{id}`: the lookups waiting at one moment
//! share one statement (`… WHERE r.id = ANY($1)`, the record and its events
//! joined), so PostgreSQL parses, plans and answers one query for many
//! requests. A lookup waits for nothing but a free reader: with no load it
//! is a group of one. Each group starts after its requests arrived, so it
//! sees every write acknowledged before them.

use std::collections::HashMap;

use carbon_tracker_core::RecordId;
use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use super::queue;
use super::retry::run;
use super::sql;
use crate::store::{StoreError, StoredRecord};

/// Most lookups one statement answers.
const MAX_GROUP: usize = 256;

/// Reader tasks per process.
const READERS: usize = 4;

/// Where a lookup's answer goes.
pub(super) type Reply = oneshot::Sender<Result<Option<StoredRecord>, StoreError>>;

/// Starts the reader tasks; they stop when the sender is dropped.
pub(super) fn start(pool: &Pool) -> mpsc::UnboundedSender<(RecordId, Reply)> {
    queue::start(pool, READERS, MAX_GROUP, |_| 1, answer)
}

async fn answer(pool: Pool, lookups: Vec<(RecordId, Reply)>) {
    let pool = &pool;
    let mut ids: Vec<RecordId> = lookups.iter().map(|(id, _)| *id).collect();
    ids.sort();
    ids.dedup();
    let ids = &ids;
    let found = run(pool, |client| async move {
        sql::load_joined(&client, ids).await
    })
    .await;
    // A client that went away no longer waits for its answer.
    match found {
        Ok(mut found) => {
            let mut wanted: HashMap<RecordId, usize> = HashMap::new();
            for (id, _) in &lookups {
                *wanted.entry(*id).or_default() += 1;
            }
            for (id, reply) in lookups {
                let last = wanted.get_mut(&id).is_some_and(|n| {
                    *n -= 1;
                    *n == 0
                });
                let record = if last {
                    found.remove(&id)
                } else {
                    found.get(&id).cloned()
                };
                let _ = reply.send(Ok(record));
            }
        }
        Err(StoreError::Unavailable { context, source }) => {
            let source = source.map(|s| s.to_string());
            for (_, reply) in lookups {
                let _ = reply.send(Err(StoreError::Unavailable {
                    context: context.clone(),
                    source: source.clone().map(Into::into),
                }));
            }
        }
        Err(_) => {
            // One record that cannot be read fails its own lookup only.
            for (id, reply) in lookups {
                let one = run(
                    pool,
                    |client| async move { sql::load_record(&client, id).await },
                )
                .await;
                let _ = reply.send(one);
            }
        }
    }
}

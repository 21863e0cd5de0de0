//! Webhook endpoints and their delivery log on PostgreSQL
//! ([`crate::webhooks::store`]).
//!
//! Several server processes may serve one database; each endpoint is
//! delivered by one of them at a time. The one that delivers holds a
//! session-level advisory lock on the endpoint's id, taken with
//! `pg_try_advisory_lock` on a connection of its own (taken out of the pool
//! for good, so the lock never rides along with a pooled connection): if the
//! process dies, its session ends and another process takes over within a
//! second. If that connection breaks, every lock it held is gone, and the
//! process claims anew before its next attempt.

use std::collections::HashSet;

use async_trait::async_trait;
use deadpool_postgres::{ClientWrapper, Object, Pool};
use tokio::sync::Mutex;
use tokio_postgres::Row;
use uuid::Uuid;

use super::locks;
use super::retry::Failed;
use super::sql::{get, now, SETTLED};
use super::PostgresStore;
use crate::store::StoreError;
use crate::webhooks::store::{
    parse_types, types_text, Delivery, Endpoint, NewEndpoint, WebhookStore,
};

const ENDPOINT_COLUMNS: &str = "id, url, secret, event_types, created_at, cursor";

/// The connection holding this process's endpoint locks.
struct Locks {
    client: ClientWrapper,
    held: HashSet<i64>,
}

/// Webhook storage on a PostgreSQL database.
pub struct PostgresWebhooks {
    pool: Pool,
    locks: Mutex<Option<Locks>>,
}

impl PostgresStore {
    /// The webhook storage of this database (on the same pool).
    pub fn webhooks(&self) -> PostgresWebhooks {
        PostgresWebhooks {
            pool: self.pool.clone(),
            locks: Mutex::new(None),
        }
    }
}

fn endpoint(row: &Row) -> Result<Endpoint, StoreError> {
    Ok(Endpoint {
        id: get(row, 0)?,
        url: get(row, 1)?,
        secret: get(row, 2)?,
        event_types: parse_types(&get::<String>(row, 3)?)?,
        created_at: get(row, 4)?,
        cursor: get(row, 5)?,
    })
}

/// The endpoint's id as the second key of its advisory lock.
fn lock_key(endpoint: i64) -> Result<i32, StoreError> {
    i32::try_from(endpoint).map_err(|e| StoreError::corrupt(None, "webhook endpoint id", e))
}

impl PostgresWebhooks {
    async fn run<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: Fn(Object) -> Fut + Send + Sync,
        Fut: std::future::Future<Output = Result<T, Failed>> + Send,
    {
        super::retry::run(&self.pool, op).await
    }

    async fn select(
        &self,
        filter: &'static str,
        id: Option<i64>,
    ) -> Result<Vec<Endpoint>, StoreError> {
        self.run(|client| async move {
            let sql =
                format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints {filter} ORDER BY id");
            let rows = match id {
                Some(id) => client.query(&sql, &[&id]).await?,
                None => client.query(&sql, &[]).await?,
            };
            Ok(rows.iter().map(endpoint).collect::<Result<_, _>>()?)
        })
        .await
    }
}

/// Logs an attempt, unless the endpoint was removed meanwhile.
const INSERT_DELIVERY: &str =
    "INSERT INTO webhook_deliveries (endpoint_id, event_id, attempt, at, status, error) \
     SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $1)";

async fn insert_delivery(
    client: &impl deadpool_postgres::GenericClient,
    endpoint: i64,
    d: &Delivery,
) -> Result<(), Failed> {
    let attempt = i32::try_from(d.attempt).unwrap_or(i32::MAX);
    let status = d.status.map(i32::from);
    client
        .execute(
            INSERT_DELIVERY,
            &[&endpoint, &d.event, &attempt, &d.at, &status, &d.error],
        )
        .await?;
    Ok(())
}

#[async_trait]
impl WebhookStore for PostgresWebhooks {
    async fn add_endpoint(&self, new: NewEndpoint) -> Result<Option<Endpoint>, StoreError> {
        let new = &new;
        self.run(|client| async move {
            let row = client
                .query_opt(
                    &format!(
                        "INSERT INTO webhook_endpoints (url, secret, event_types, created_at, cursor) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (url) DO NOTHING \
                         RETURNING {ENDPOINT_COLUMNS}"
                    ),
                    &[
                        &new.url,
                        &new.secret,
                        &types_text(&new.event_types),
                        &now(),
                        &new.cursor,
                    ],
                )
                .await?;
            Ok(row.as_ref().map(endpoint).transpose()?)
        })
        .await
    }

    async fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        self.select("", None).await
    }

    async fn endpoint(&self, id: i64) -> Result<Option<Endpoint>, StoreError> {
        Ok(self
            .select("WHERE id = $1", Some(id))
            .await?
            .into_iter()
            .next())
    }

    async fn remove_endpoint(&self, url: &str) -> Result<bool, StoreError> {
        self.run(|client| async move {
            let removed = client
                .execute("DELETE FROM webhook_endpoints WHERE url = $1", &[&url])
                .await?;
            Ok(removed > 0)
        })
        .await
    }

    async fn deliveries(&self, endpoint: i64, limit: u32) -> Result<Vec<Delivery>, StoreError> {
        self.run(|client| async move {
            let rows = client
                .query(
                    "SELECT at, event_id, attempt, status, error FROM (\
                       SELECT id, at, event_id, attempt, status, error FROM webhook_deliveries \
                       WHERE endpoint_id = $1 ORDER BY id DESC LIMIT $2) AS latest ORDER BY id",
                    &[&endpoint, &i64::from(limit)],
                )
                .await?;
            let delivery = |row: &Row| -> Result<Delivery, StoreError> {
                Ok(Delivery {
                    at: get(row, 0)?,
                    event: get(row, 1)?,
                    attempt: u32::try_from(get::<i32>(row, 2)?)
                        .map_err(|e| StoreError::corrupt(None, "attempt", e))?,
                    status: get::<Option<i32>>(row, 3)?
                        .map(u16::try_from)
                        .transpose()
                        .map_err(|e| StoreError::corrupt(None, "status", e))?,
                    error: get(row, 4)?,
                })
            };
            Ok(rows.iter().map(delivery).collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn last_event(&self) -> Result<Option<Uuid>, StoreError> {
        self.run(|client| async move {
            let row = client
                .query_opt(
                    &format!(
                        "SELECT id FROM events WHERE tx < {SETTLED} \
                         ORDER BY tx DESC, pos DESC LIMIT 1"
                    ),
                    &[],
                )
                .await?;
            Ok(row.as_ref().map(|r| get(r, 0)).transpose()?)
        })
        .await
    }

    async fn advance(
        &self,
        endpoint: i64,
        from: Option<Uuid>,
        to: Uuid,
        delivery: Option<Delivery>,
    ) -> Result<bool, StoreError> {
        let delivery = &delivery;
        self.run(|mut client| async move {
            let tx = client.transaction().await?;
            if let Some(d) = delivery {
                insert_delivery(&tx, endpoint, d).await?;
            }
            let moved = tx
                .execute(
                    "UPDATE webhook_endpoints SET cursor = $3 \
                     WHERE id = $1 AND cursor IS NOT DISTINCT FROM $2",
                    &[&endpoint, &from, &to],
                )
                .await?;
            tx.commit().await.map_err(Failed::at_commit)?;
            Ok(moved > 0)
        })
        .await
    }

    async fn rewind(&self, endpoint: i64, to: Option<Uuid>) -> Result<(), StoreError> {
        self.run(|client| async move {
            client
                .execute(
                    "UPDATE webhook_endpoints SET cursor = $2 WHERE id = $1",
                    &[&endpoint, &to],
                )
                .await?;
            Ok(())
        })
        .await
    }

    async fn log_attempt(&self, endpoint: i64, delivery: Delivery) -> Result<(), StoreError> {
        let delivery = &delivery;
        self.run(|client| async move { insert_delivery(&client, endpoint, delivery).await })
            .await
    }

    async fn claim(&self, endpoint: i64) -> Result<bool, StoreError> {
        let key = lock_key(endpoint)?;
        let mut locks = self.locks.lock().await;
        if locks.as_ref().is_some_and(|l| l.client.is_closed()) {
            tracing::warn!("the connection holding the webhook locks closed; claiming anew");
            *locks = None;
        }
        if locks.is_none() {
            let client = self
                .pool
                .get()
                .await
                .map_err(|e| StoreError::unavailable("no PostgreSQL connection", e))?;
            *locks = Some(Locks {
                client: Object::take(client),
                held: HashSet::new(),
            });
        }
        let Some(held) = locks.as_mut() else {
            return Ok(false);
        };
        if held.held.contains(&endpoint) {
            return Ok(true);
        }
        let row = held
            .client
            .query_one(
                "SELECT pg_try_advisory_lock($1, $2)",
                &[&locks::WEBHOOKS, &key],
            )
            .await
            .map_err(|e| StoreError::unavailable("cannot take a webhook lock", e))?;
        let got: bool = get(&row, 0)?;
        if got {
            held.held.insert(endpoint);
        }
        Ok(got)
    }

    async fn release(&self, endpoint: i64) -> Result<(), StoreError> {
        let key = lock_key(endpoint)?;
        let mut locks = self.locks.lock().await;
        if let Some(held) = locks.as_mut() {
            if held.held.remove(&endpoint) {
                held.client
                    .execute(
                        "SELECT pg_advisory_unlock($1, $2)",
                        &[&locks::WEBHOOKS, &key],
                    )
                    .await
                    .map_err(|e| StoreError::unavailable("cannot release a webhook lock", e))?;
            }
        }
        Ok(())
    }
}

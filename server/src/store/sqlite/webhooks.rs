//! Webhook endpoints and their delivery log on SQLite
//! ([`crate::webhooks::store`]). Writes go through the writer thread, like
//! every write; reads use the pooled readers. One process writes a SQLite
//! file's feed, so a claim is always granted.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{failed, lock, SqliteStore};
use crate::store::rows::{timestamp, timestamp_text, uuid};
use crate::store::StoreError;
use crate::webhooks::store::{
    parse_types, types_text, Delivery, Endpoint, NewEndpoint, WebhookStore,
};

const ENDPOINT_COLUMNS: &str = "id, url, secret, event_types, created_at, cursor";

fn endpoint(r: &Row<'_>) -> Result<Endpoint, StoreError> {
    let get_text = |i| r.get::<_, String>(i).map_err(failed);
    Ok(Endpoint {
        id: r.get(0).map_err(failed)?,
        url: get_text(1)?,
        secret: get_text(2)?,
        event_types: parse_types(&get_text(3)?)?,
        created_at: timestamp(&get_text(4)?)?,
        cursor: r
            .get::<_, Option<String>>(5)
            .map_err(failed)?
            .map(|c| uuid(&c))
            .transpose()?,
    })
}

fn select_endpoints(
    conn: &Connection,
    filter: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<Endpoint>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints {filter} ORDER BY id"
        ))
        .map_err(failed)?;
    let mut rows = stmt.query(args).map_err(failed)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(failed)? {
        out.push(endpoint(row)?);
    }
    Ok(out)
}

/// Logs an attempt, unless the endpoint was removed meanwhile.
fn insert_delivery(conn: &Connection, endpoint: i64, d: &Delivery) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, attempt, at, status, error) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ?1)",
    )
    .and_then(|mut s| {
        s.execute(params![
            endpoint,
            d.event.to_string(),
            d.attempt,
            timestamp_text(d.at).unwrap_or_default(),
            d.status,
            d.error
        ])
    })
    .map_err(failed)?;
    Ok(())
}

impl SqliteStore {
    /// Runs `f` on the writer thread (in the next group's transaction) and
    /// returns what it returns.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let slot = Arc::new(Mutex::new(None));
        let out = Arc::clone(&slot);
        self.exec(Box::new(move |conn| {
            let value = f(conn)?;
            *lock(&out) = Some(value);
            Ok(())
        }))
        .await?;
        let value = lock(&slot).take();
        value.ok_or_else(|| StoreError::stopped("the writer gave no answer"))
    }
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn add_endpoint(&self, new: NewEndpoint) -> Result<Option<Endpoint>, StoreError> {
        self.write(move |conn| {
            let created_at = timestamp_text(OffsetDateTime::now_utc())?;
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO webhook_endpoints (url, secret, event_types, created_at, cursor) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (url) DO NOTHING",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        new.url,
                        new.secret,
                        types_text(&new.event_types),
                        created_at,
                        new.cursor.map(|c| c.to_string())
                    ])
                })
                .map_err(failed)?;
            if inserted == 0 {
                return Ok(None);
            }
            let id = conn.last_insert_rowid();
            Ok(select_endpoints(conn, "WHERE id = ?1", [id])?
                .into_iter()
                .next())
        })
        .await
    }

    async fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        self.read(|conn| select_endpoints(conn, "", []))
    }

    async fn endpoint(&self, id: i64) -> Result<Option<Endpoint>, StoreError> {
        self.read(|conn| {
            Ok(select_endpoints(conn, "WHERE id = ?1", [id])?
                .into_iter()
                .next())
        })
    }

    async fn remove_endpoint(&self, url: &str) -> Result<bool, StoreError> {
        let url = url.to_owned();
        self.write(move |conn| {
            let removed = conn
                .execute("DELETE FROM webhook_endpoints WHERE url = ?1", [url])
                .map_err(failed)?;
            Ok(removed > 0)
        })
        .await
    }

    async fn deliveries(&self, endpoint: i64, limit: u32) -> Result<Vec<Delivery>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT at, event_id, attempt, status, error FROM (\
                       SELECT id, at, event_id, attempt, status, error FROM webhook_deliveries \
                       WHERE endpoint_id = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id",
                )
                .map_err(failed)?;
            let mut rows = stmt.query(params![endpoint, limit]).map_err(failed)?;
            let mut out = Vec::new();
            while let Some(r) = rows.next().map_err(failed)? {
                out.push(Delivery {
                    at: timestamp(&r.get::<_, String>(0).map_err(failed)?)?,
                    event: uuid(&r.get::<_, String>(1).map_err(failed)?)?,
                    attempt: r.get(2).map_err(failed)?,
                    status: r.get(3).map_err(failed)?,
                    error: r.get(4).map_err(failed)?,
                });
            }
            Ok(out)
        })
    }

    async fn last_event(&self) -> Result<Option<Uuid>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT id FROM events ORDER BY pos DESC LIMIT 1")
                .and_then(|mut s| s.query_row([], |r| r.get::<_, String>(0)).optional())
                .map_err(failed)?
                .map(|id| uuid(&id))
                .transpose()
        })
    }

    async fn advance(
        &self,
        endpoint: i64,
        from: Option<Uuid>,
        to: Uuid,
        delivery: Option<Delivery>,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            if let Some(d) = &delivery {
                insert_delivery(conn, endpoint, d)?;
            }
            let moved = conn
                .prepare_cached(
                    "UPDATE webhook_endpoints SET cursor = ?3 WHERE id = ?1 AND cursor IS ?2",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        endpoint,
                        from.map(|c| c.to_string()),
                        to.to_string()
                    ])
                })
                .map_err(failed)?;
            Ok(moved > 0)
        })
        .await
    }

    async fn rewind(&self, endpoint: i64, to: Option<Uuid>) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE webhook_endpoints SET cursor = ?2 WHERE id = ?1",
                params![endpoint, to.map(|c| c.to_string())],
            )
            .map_err(failed)?;
            Ok(())
        })
        .await
    }

    async fn log_attempt(&self, endpoint: i64, delivery: Delivery) -> Result<(), StoreError> {
        self.write(move |conn| insert_delivery(conn, endpoint, &delivery))
            .await
    }

    async fn claim(&self, _endpoint: i64) -> Result<bool, StoreError> {
        Ok(true)
    }

    async fn release(&self, _endpoint: i64) -> Result<(), StoreError> {
        Ok(())
    }
}

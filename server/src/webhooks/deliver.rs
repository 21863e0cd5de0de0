//! The delivery worker `serve` runs: one in-order stream per endpoint.
//!
//! Every second it reads the endpoint table (so endpoints added or removed
//! by the CLI while the server runs are picked up), and keeps one task per
//! endpoint. A task claims its endpoint ([`WebhookStore::claim`]: one
//! process at a time on PostgreSQL), reads the feed after the endpoint's
//! cursor, advances the cursor past events of types it does not subscribe
//! to, and POSTs the first one it does, again and again (exponential
//! backoff with full jitter) until it answers 2xx; only then does the
//! cursor move past it, in the transaction that logs that 2xx. Every
//! attempt is logged. Before each retry it reads the endpoint again: a
//! replay or a removal (or another process that took over) ends the retries.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use carbon_tracker_core::lifecycle::{Event, EventType};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::sign;
use super::store::{Delivery, Endpoint, WebhookStore};
use super::WebhookSettings;
use crate::problem::chain;
use crate::store::{Store, StoreError};

/// How often the endpoint table is read, and how long a stream waits when
/// another process holds its endpoint or the database failed.
const POLL: Duration = Duration::from_secs(1);

/// How long a stream that has caught up waits before reading the feed again.
const FEED_POLL: Duration = Duration::from_millis(200);

/// Events read from the feed at once.
const BATCH: u32 = 100;

/// The Standard Webhooks payload: `type`, `timestamp`, `data`.
#[derive(Serialize)]
struct Payload<'a> {
    /// `record.created`, `record.sold`, `record.retired`,
    /// `record.cancelled`, `record.split`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// When the event happened (its `created_at`), RFC 3339.
    timestamp: String,
    /// The event, as `GET /events` gives it.
    data: &'a Event,
}

/// The payload `type` of an event type.
pub const fn payload_type(t: EventType) -> &'static str {
    match t {
        EventType::Created => "record.created",
        EventType::Sold => "record.sold",
        EventType::Retired => "record.retired",
        EventType::Cancelled => "record.cancelled",
        EventType::Split => "record.split",
    }
}

/// The body POSTed for an event.
fn body(event: &Event) -> Result<Vec<u8>, StoreError> {
    let payload = Payload {
        kind: payload_type(event.event_type),
        timestamp: event
            .created_at
            .format(&Rfc3339)
            .map_err(|e| StoreError::corrupt(Some(event.record_id), "event time", e))?,
        data: event,
    };
    serde_json::to_vec(&payload).map_err(|e| StoreError::corrupt(Some(event.record_id), "event", e))
}

/// What one pass of a stream did.
enum Pass {
    /// The endpoint was removed: the stream ends.
    Gone,
    /// Another process delivers it, or the feed is unreadable: wait.
    Wait,
    /// Caught up with the feed.
    Idle,
    /// Moved on, or found its cursor moved: go again at once.
    Again,
}

/// The running streams by endpoint id; dropped (the worker aborted), it
/// aborts them all, so none outlives the server it belongs to.
#[derive(Default)]
struct Streams(HashMap<i64, JoinHandle<()>>);

impl Drop for Streams {
    fn drop(&mut self) {
        for task in self.0.values() {
            task.abort();
        }
    }
}

/// Delivers the event feed to every endpoint.
pub struct Deliverer {
    store: Arc<dyn Store>,
    hooks: Arc<dyn WebhookStore>,
    client: reqwest::Client,
    settings: WebhookSettings,
}

impl Deliverer {
    /// A worker over `store`'s feed and `hooks`' endpoints.
    pub fn new(
        store: Arc<dyn Store>,
        hooks: Arc<dyn WebhookStore>,
        settings: WebhookSettings,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // A redirect is not a delivery: the attempt fails and is logged.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("carbon-tracker-server/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            store,
            hooks,
            client,
            settings,
        })
    }

    /// Runs until aborted: reads the endpoint table every second and keeps
    /// one stream per endpoint. With no endpoints, that one read is all.
    pub async fn run(self: Arc<Self>) {
        let mut streams = Streams::default();
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let endpoints = match self.hooks.endpoints().await {
                Ok(endpoints) => endpoints,
                Err(e) => {
                    tracing::warn!(error = %chain(&e), "cannot read the webhook endpoints; trying again");
                    continue;
                }
            };
            let ids: HashSet<i64> = endpoints.iter().map(|e| e.id).collect();
            let removed: Vec<i64> = streams
                .0
                .keys()
                .filter(|id| !ids.contains(id))
                .copied()
                .collect();
            for id in removed {
                if let Some(task) = streams.0.remove(&id) {
                    task.abort();
                }
                if let Err(e) = self.hooks.release(id).await {
                    tracing::warn!(error = %chain(&e), "cannot release a removed webhook endpoint");
                }
            }
            streams.0.retain(|_, task| !task.is_finished());
            for endpoint in endpoints {
                streams.0.entry(endpoint.id).or_insert_with(|| {
                    tracing::info!(url = %endpoint.url, "delivering webhooks");
                    tokio::spawn(Arc::clone(&self).stream(endpoint.id))
                });
            }
        }
    }

    /// Delivers one endpoint until it is removed.
    async fn stream(self: Arc<Self>, id: i64) {
        loop {
            match self.pass(id).await {
                Ok(Pass::Gone) => return,
                Ok(Pass::Wait) => tokio::time::sleep(POLL).await,
                Ok(Pass::Idle) => tokio::time::sleep(FEED_POLL).await,
                Ok(Pass::Again) => {}
                Err(e) => {
                    tracing::warn!(endpoint = id, error = %chain(&e), "webhook delivery stopped by a storage error; trying again");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }

    /// Reads the feed after the cursor and delivers what it finds.
    async fn pass(&self, id: i64) -> Result<Pass, StoreError> {
        let Some(endpoint) = self.hooks.endpoint(id).await? else {
            return Ok(Pass::Gone);
        };
        if !self.hooks.claim(id).await? {
            return Ok(Pass::Wait);
        }
        let Some(events) = self.store.feed(endpoint.cursor, BATCH).await? else {
            tracing::error!(url = %endpoint.url, cursor = ?endpoint.cursor, "a webhook cursor names no event of the feed");
            return Ok(Pass::Wait);
        };
        if events.is_empty() {
            return Ok(Pass::Idle);
        }
        let key = sign::key(&endpoint.secret).ok_or_else(|| {
            StoreError::corrupt(
                None,
                "webhook secret",
                format!("the secret of {} is not whsec_ and base64", endpoint.url),
            )
        })?;
        let mut cursor = endpoint.cursor;
        let mut skipped = None;
        for event in &events {
            if !endpoint.event_types.contains(&event.event_type) {
                skipped = Some(event.id);
                continue;
            }
            if let Some(to) = skipped.take() {
                if !self.hooks.advance(id, cursor, to, None).await? {
                    return Ok(Pass::Again);
                }
                cursor = Some(to);
            }
            if !self.deliver(&endpoint, &key, cursor, event).await? {
                return Ok(Pass::Again);
            }
            cursor = Some(event.id);
        }
        if let Some(to) = skipped {
            self.hooks.advance(id, cursor, to, None).await?;
        }
        Ok(Pass::Again)
    }

    /// POSTs `event` until it is answered 2xx, then moves the cursor from
    /// `cursor` past it; `false` when the cursor moved meanwhile (a replay,
    /// a removal, another process), which ends the attempts.
    async fn deliver(
        &self,
        endpoint: &Endpoint,
        key: &[u8],
        cursor: Option<Uuid>,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let body = body(event)?;
        let webhook_id = event.id.to_string();
        let mut attempt: u32 = 0;
        loop {
            attempt = attempt.saturating_add(1);
            if attempt > 1 {
                let current = self.hooks.endpoint(endpoint.id).await?;
                if current.is_none_or(|e| e.cursor != cursor)
                    || !self.hooks.claim(endpoint.id).await?
                {
                    return Ok(false);
                }
            }
            let at = OffsetDateTime::now_utc();
            let (status, error) = self.post(endpoint, key, &webhook_id, &body, at).await;
            let delivery = Delivery {
                at,
                event: event.id,
                attempt,
                status,
                error,
            };
            if status.is_some_and(|s| (200..300).contains(&s)) {
                return self
                    .hooks
                    .advance(endpoint.id, cursor, event.id, Some(delivery))
                    .await;
            }
            let wait = self.backoff(attempt);
            tracing::warn!(
                url = %endpoint.url,
                event = %event.id,
                attempt,
                outcome = %match (delivery.status, &delivery.error) {
                    (Some(status), _) => format!("HTTP {status}"),
                    (None, Some(error)) => error.clone(),
                    (None, None) => "no answer".to_owned(),
                },
                retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "a webhook delivery failed; retrying"
            );
            self.hooks.log_attempt(endpoint.id, delivery).await?;
            tokio::time::sleep(wait).await;
        }
    }

    /// One signed POST: the status, or why there was none.
    async fn post(
        &self,
        endpoint: &Endpoint,
        key: &[u8],
        webhook_id: &str,
        body: &[u8],
        at: OffsetDateTime,
    ) -> (Option<u16>, Option<String>) {
        let timestamp = at.unix_timestamp();
        let signature = match sign::sign(key, webhook_id, timestamp, body) {
            Ok(signature) => signature,
            Err(e) => return (None, Some(format!("cannot sign: {e}"))),
        };
        let sent = self
            .client
            .post(&endpoint.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec())
            .send()
            .await;
        match sent {
            Ok(response) => (Some(response.status().as_u16()), None),
            Err(e) if e.is_timeout() => (
                None,
                Some(format!(
                    "no answer within {} ms",
                    self.settings.timeout.as_millis()
                )),
            ),
            Err(e) => (None, Some(chain(&e))),
        }
    }

    /// The wait after failed attempt `attempt` (1, 2, …): a random time up
    /// to `base · 2^(attempt − 1)`, at most the cap ("full jitter").
    fn backoff(&self, attempt: u32) -> Duration {
        ceiling(self.settings, attempt).mul_f64(jitter())
    }
}

/// The longest wait after failed attempt `attempt`.
fn ceiling(settings: WebhookSettings, attempt: u32) -> Duration {
    let doubling = 2_u32.saturating_pow(attempt.saturating_sub(1).min(31));
    settings
        .retry_base
        .saturating_mul(doubling)
        .min(settings.retry_cap)
}

/// A random fraction in [0, 1).
fn jitter() -> f64 {
    // 53 random bits: every f64 in [0, 1) with that spacing.
    let bits = getrandom::u64().unwrap_or(u64::MAX / 2) >> 11;
    #[allow(clippy::cast_precision_loss, reason = "53 bits fit an f64 exactly")]
    let fraction = bits as f64 / (1_u64 << 53) as f64;
    fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let settings = WebhookSettings {
            retry_base: Duration::from_millis(1000),
            retry_cap: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
        };
        let ms = |a| ceiling(settings, a).as_millis();
        assert_eq!(
            [1, 2, 3, 4, 9, 10, 100, u32::MAX].map(ms),
            [1000, 2000, 4000, 8000, 256_000, 300_000, 300_000, 300_000]
        );
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }

    #[test]
    fn payload_shape() {
        let event: Event = serde_json::from_str(
            r#"{"id":"0190f0e2-7b7a-7cc4-9c55-4b1b0c6a4a10",
                "record_id":"a5bc4dc91565de74176de49c87f05596fdaecb63004268bc71473c4f1fda6187",
                "seq":2,"event_type":"RETIRED","payload":{"beneficiary":"X"},
                "created_at":"2026-01-02T03:04:05.123456Z"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let body: serde_json::Value = serde_json::from_slice(&body(&event).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body["type"], "record.retired");
        assert_eq!(body["timestamp"], "2026-01-02T03:04:05.123456Z");
        assert_eq!(
            body["data"],
            serde_json::to_value(&event).unwrap_or_default()
        );
    }
}

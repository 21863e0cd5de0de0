//! `Idempotency-Key` (the IETF httpapi draft "The Idempotency-Key HTTP
//! Header Field"; SPEC §8): a client that retries a POST after a timeout gets
//! the first answer again instead of a second effect.
//!
//! This layer checks the header, waits while a request with the same key is
//! still running in this process (and answers 409 `idempotency_key_in_use`
//! if it runs longer than `--idempotency-wait-ms`), and fingerprints the
//! request (method, path and body). The store then keeps the answer in the
//! same transaction as the write's effect and replays it for a repeat with
//! the same fingerprint (422 `idempotency_key_reused` for another); across
//! processes on PostgreSQL, the key's row is the lock (see the PostgreSQL
//! store's `keys`). Keys belong to the caller's API key and live at least
//! 24 hours; the server purges older answers every hour.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::access::Caller;
use crate::problem::Problem;
use crate::routes::{AppState, BATCH_BODY_LIMIT};
use crate::store::{IdempotencyKey, Remember, Render, SavedResponse, Store, Write};

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// The response header of a replayed answer.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The longest key (SPEC §8).
pub const MAX_KEY_LEN: usize = 255;

/// A key as the caller's: `(scope, key)`.
type Slot = (String, String);

/// The lock a request with a key holds while it runs.
type SlotLock = Arc<tokio::sync::Mutex<()>>;

/// The keys of the requests running in this process.
#[derive(Debug, Default)]
pub struct InFlight {
    running: Mutex<HashMap<Slot, SlotLock>>,
}

/// A request's hold on its key; the next request with it may go on once
/// this is dropped.
struct Hold {
    flight: Arc<InFlight>,
    slot: Slot,
    lock: SlotLock,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut running = self
            .flight
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.guard.take();
        // Nobody else waits: the map's and this hold's are the only references.
        if Arc::strong_count(&self.lock) == 2 {
            running.remove(&self.slot);
        }
    }
}

impl InFlight {
    /// Holds `slot` once no other request holds it, waiting up to `wait`;
    /// `None` if it is still held then.
    async fn hold(self: &Arc<Self>, slot: Slot, wait: Duration) -> Option<Hold> {
        let lock = Arc::clone(
            self.running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(slot.clone())
                .or_default(),
        );
        let mut hold = Hold {
            flight: Arc::clone(self),
            slot,
            lock: Arc::clone(&lock),
            guard: None,
        };
        hold.guard = Some(tokio::time::timeout(wait, lock.lock_owned()).await.ok()?);
        Some(hold)
    }
}

/// The layer: see the module docs.
pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST || request.uri().path() == "/ids" {
        return next.run(request).await;
    }
    let mut sent = request.headers().get_all(IDEMPOTENCY_KEY).iter();
    let Some(raw) = sent.next() else {
        return next.run(request).await;
    };
    let key = match read_key(raw, sent.next().is_some()) {
        Ok(key) => key,
        Err(problem) => return problem.into_response(),
    };
    let scope = request
        .extensions()
        .get::<Caller>()
        .and_then(|c| c.actor.clone())
        .unwrap_or_default();
    let settings = &state.idempotency;
    let Some(hold) = settings
        .in_flight
        .hold((scope.clone(), key.clone()), settings.wait)
        .await
    else {
        let mut response = Problem::new(
            StatusCode::CONFLICT,
            "idempotency_key_in_use",
            "a request with this Idempotency-Key is still being processed",
        )
        .with_help("retry after it has finished: the retry then gets its answer")
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    let (parts, body) = request.into_parts();
    let limit = if parts.uri.path() == "/imports" {
        crate::routes::imports::IMPORT_BODY_LIMIT
    } else {
        BATCH_BODY_LIMIT
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the request body cannot be read whole: {e}"),
            )
            .with_help(format!(
                "bodies are up to {limit} bytes on this endpoint (less on most: see /docs)"
            ))
            .into_response()
        }
    };
    let mut fingerprint = Sha256::new();
    fingerprint.update(parts.method.as_str());
    fingerprint.update(b" ");
    fingerprint.update(parts.uri.to_string());
    fingerprint.update(b"\n");
    fingerprint.update(&bytes);
    let at = OffsetDateTime::now_utc();
    let key = IdempotencyKey {
        scope,
        key,
        fingerprint: hex::encode(fingerprint.finalize()),
        at,
        not_before: at - settings.ttl,
    };
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(key);
    let response = next.run(request).await;
    drop(hold);
    response
}

/// Reads the header: 1 to 255 printable ASCII characters, taken as they
/// are (the draft's RFC 8941 string form, `"…"`, keeps its quotes: a client
/// sends the same header again when it retries); sent more than once
/// (`twice`), it names no one key (the draft: an Item, not a List).
fn read_key(raw: &HeaderValue, twice: bool) -> Result<String, Problem> {
    let bad = |why: &str| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            format!("the Idempotency-Key header {why}"),
        )
        .with_help("send 1 to 255 printable ASCII characters, such as a UUID")
    };
    if twice {
        return Err(bad("is sent more than once"));
    }
    let key = raw.as_bytes();
    if key.is_empty() {
        return Err(bad("is empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(bad(&format!(
            "is {} characters long; the longest is {MAX_KEY_LEN}",
            key.len()
        )));
    }
    if !key.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err(bad("holds characters that are not printable ASCII"));
    }
    Ok(String::from_utf8_lossy(key).into_owned())
}

/// Idempotency settings of the router.
#[derive(Debug)]
pub struct Settings {
    /// How long answers are kept.
    pub ttl: time::Duration,
    /// How long a repeat waits for the first request.
    pub wait: Duration,
    /// The keys in flight.
    pub in_flight: Arc<InFlight>,
}

impl Settings {
    /// Settings from the command line's.
    pub fn new(ttl_hours: u32, wait_ms: u64) -> Self {
        Self {
            ttl: time::Duration::hours(i64::from(ttl_hours)),
            wait: Duration::from_millis(wait_ms),
            in_flight: Arc::default(),
        }
    }
}

/// The store's [`Write`] for a request by `caller` with `key` (if it sent
/// one), answered by `render`.
pub(crate) fn write<T>(
    caller: &Caller,
    key: Option<IdempotencyKey>,
    render: Render<T>,
) -> Write<T> {
    Write {
        actor: caller.actor.clone(),
        remember: key.map(|key| Remember { key, render }),
    }
}

/// An answer as a response; a replay says so (`Idempotent-Replayed: true`).
pub(crate) fn respond(saved: SavedResponse, replayed: bool) -> Response {
    let mut response = Response::new(Body::from(saved.body));
    *response.status_mut() =
        StatusCode::from_u16(saved.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in saved.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    if replayed {
        response
            .headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

/// A JSON answer to keep.
pub(crate) fn json(status: StatusCode, body: &impl serde::Serialize) -> SavedResponse {
    // Rendered in the store's writer, the one thread every write waits on:
    // room for a whole record up front spares the growing buffer's copies
    // (a create's answer is about 500 bytes, an action's about 1 KB).
    let mut bytes = Vec::with_capacity(2048);
    match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => SavedResponse {
            status: status.as_u16(),
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: bytes,
        },
        Err(e) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the answer cannot be written: {e}"),
        )
        .with_help("report it: the server could not write its own answer")
        .saved(),
    }
}

/// Purges the answers older than `ttl`, now and every hour, for as long as
/// the server runs.
pub async fn purge(store: Arc<dyn Store>, ttl: time::Duration) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        match store.purge_answers(OffsetDateTime::now_utc() - ttl).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "purged expired Idempotency-Key answers"),
            Err(e) => tracing::warn!(error = %e, "could not purge expired Idempotency-Key answers"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &[u8]) -> Result<String, String> {
        HeaderValue::from_bytes(raw)
            .map_err(|e| e.to_string())
            .and_then(|v| read_key(&v, false).map_err(|p| p.detail))
    }

    #[test]
    fn keys() {
        assert_eq!(read(b"abc-123"), Ok("abc-123".to_owned()));
        assert_eq!(
            read(b"\"8e03978e-40d5\""),
            Ok("\"8e03978e-40d5\"".to_owned())
        );
        assert_eq!(read(b"with space"), Ok("with space".to_owned()));
        assert!(read(b"").is_err_and(|e| e.contains("empty")));
        assert!(read(&[b'k'; 256]).is_err_and(|e| e.contains("256")));
        assert!(read(&[b'k'; 255]).is_ok());
        assert!(read("é".as_bytes()).is_err_and(|e| e.contains("printable ASCII")));
    }
}

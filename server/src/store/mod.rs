//! Storage: the little the HTTP layer needs from a database.
//!
//! The trait is narrow on purpose (create, append, read, list, feed). What
//! does not depend on the database lives here once: the row types and their
//! decoding into domain types (`rows`), create-or-find and the append plan
//! (`write`), the list query and its page cut (`list`), the summary query and
//! its groups (`summary`), the migration
//! runner's version check (`migrate`). Each backend keeps only its SQL, its
//! driver plumbing and its concurrency mechanics. Every lifecycle decision is
//! the core's: a backend loads a record's events, asks the core for the next
//! event, and stores it, atomically with respect to other writers.

pub(crate) mod blocks;
pub(crate) mod list;
pub(crate) mod migrate;
pub mod postgres;
pub(crate) mod rows;
pub mod sqlite;
pub mod summary;
pub(crate) mod write;

use async_trait::async_trait;
use carbon_tracker_core::lifecycle::{Event, Status, TransitionError};
use carbon_tracker_core::{Acted, Action, CanonicalRecord, RecordId};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

/// A driver's error, kept as the typed source of a [`StoreError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A stored record with its whole history.
#[derive(Clone, Debug)]
pub struct StoredRecord {
    /// The record's id.
    pub id: RecordId,
    /// Its canonical fields.
    pub canonical: CanonicalRecord,
    /// When it was created (the time of its CREATED event).
    pub created_at: OffsetDateTime,
    /// Its events in `seq` order.
    pub events: Vec<Event>,
}

/// An action a client asks for on a record; the core decides whether it may
/// follow, whether it splits a block, and builds every event.
#[derive(Clone, Debug)]
pub struct Append {
    /// The record addressed (a partial action on a `SPLIT` record goes on to
    /// its remainder, SPEC §6).
    pub record: RecordId,
    /// What to do.
    pub action: Action,
    /// Its details, as the client sent them (with `quantity` for a partial
    /// action).
    pub payload: Option<Map<String, Value>>,
}

/// Who asks for a write, and what to keep of its answer (SPEC §8).
pub struct Write<T> {
    /// The name of the API key that asked: every event the write makes
    /// names it as its `actor` (`None` on an open server).
    pub actor: Option<String>,
    /// The request's `Idempotency-Key` and how to render its answer, which
    /// the store keeps in the same transaction as the write's effect.
    pub remember: Option<Remember<T>>,
}

impl<T> Write<T> {
    /// A write by `actor` whose answer is not kept.
    pub fn by(actor: Option<String>) -> Self {
        Self {
            actor,
            remember: None,
        }
    }
}

/// An `Idempotency-Key` with the request it came with (SPEC §8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The API key's name (`""` on an open server): a key is the caller's own.
    pub scope: String,
    /// The header's value: 1 to 255 printable ASCII characters.
    pub key: String,
    /// SHA-256 (hex) of the request's method, path and body: a repeat must
    /// send the same.
    pub fingerprint: String,
    /// When the request arrived.
    pub at: OffsetDateTime,
    /// An answer kept from before this instant has expired: the key is new
    /// again.
    pub not_before: OffsetDateTime,
}

/// How to keep the answer of a write for replays.
pub struct Remember<T> {
    /// The key.
    pub key: IdempotencyKey,
    /// The answer of a write that took effect: called once, inside the
    /// write's transaction; the first answer and every replay are its
    /// bytes. An answer of 500 or more is not kept (a retry is then decided
    /// anew).
    pub render: Render<T>,
}

/// Renders a write's outcome as the HTTP answer to keep.
pub type Render<T> = std::sync::Arc<dyn Fn(&T) -> SavedResponse + Send + Sync>;

/// An answer kept for an `Idempotency-Key` (SPEC §8): what a repeat gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedResponse {
    /// The HTTP status.
    pub status: u16,
    /// The headers that matter (`Content-Type`, `Location`), in order.
    pub headers: Vec<(String, String)>,
    /// The body's bytes.
    pub body: Vec<u8>,
}

impl SavedResponse {
    /// The headers as stored: a JSON array of `[name, value]` pairs.
    pub(crate) fn headers_json(&self) -> String {
        serde_json::to_string(&self.headers).unwrap_or_else(|_| "[]".to_owned())
    }

    /// An answer as stored.
    pub(crate) fn read(status: u16, headers: &str, body: Vec<u8>) -> Result<Self, StoreError> {
        Ok(Self {
            status,
            headers: serde_json::from_str(headers)
                .map_err(|e| StoreError::corrupt(None, "kept answer's headers", e))?,
            body,
        })
    }
}

/// A write's answer: done now, or an earlier request's answer replayed.
#[derive(Debug)]
pub enum Answer<T> {
    /// The write was done (or refused) now.
    Done(T),
    /// The write was done now, with an `Idempotency-Key`: its answer, as
    /// rendered and kept in its transaction (what a replay gets).
    Kept(SavedResponse),
    /// A request with the same `Idempotency-Key` and body was answered
    /// before: its answer.
    Replayed(SavedResponse),
}

impl<T> Answer<T> {
    /// The outcome of a write that sent no `Idempotency-Key`, which the
    /// store never replays.
    pub fn fresh(self) -> Result<T, StoreError> {
        match self {
            Self::Done(t) => Ok(t),
            Self::Kept(_) | Self::Replayed(_) => Err(StoreError::corrupt(
                None,
                "idempotency key",
                "a replay for a request without a key",
            )),
        }
    }
}

/// What a create did.
#[derive(Clone, Debug)]
pub enum Created {
    /// The record is new.
    New(StoredRecord),
    /// An identical record was already there; nothing was written.
    Existing(StoredRecord),
}

/// Why a storage call failed. Each variant is one answer to the client: the
/// same fault gets the same answer on every backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No record has this id (404).
    #[error("no record has the id {0}")]
    NotFound(RecordId),
    /// The id is taken by a record whose canonical fields differ (409
    /// `id_conflict`).
    #[error("the id {0} belongs to a record with other data")]
    Conflict(RecordId),
    /// The block shares credits with a block already tracked (409
    /// `serial_overlap`, SPEC §6).
    #[error(
        "the block shares credits with the tracked block {existing}, of the same scheme and prefix"
    )]
    SerialOverlap {
        /// The tracked block that holds some of the credits.
        existing: RecordId,
    },
    /// The `Idempotency-Key` came with another request before (422
    /// `idempotency_key_reused`, SPEC §8).
    #[error("the Idempotency-Key was used for another request (another method, path or body)")]
    IdempotencyKeyReused,
    /// The core refused the event (409, or 422 for a bad payload).
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The write collided with another writer or hit a constraint of the
    /// schema, after the backend's retries (409 `write_conflict`): reading
    /// again and repeating decides anew.
    #[error("the write conflicted with another write or a rule of the schema")]
    WriteConflict(#[source] BoxError),
    /// The database cannot be reached or is shutting down (503): retrying
    /// later may work.
    #[error("storage unavailable: {context}")]
    Unavailable {
        /// What was being done.
        context: String,
        /// The driver's error, if there was one.
        #[source]
        source: Option<BoxError>,
    },
    /// A stored row cannot be read, or a stored history breaks the lifecycle
    /// rules (500 `corrupt_record`): retrying will not help; an operator must
    /// look at it.
    #[error("{}the stored {what} cannot be read", record.map(|id| format!("record {id}: ")).unwrap_or_default())]
    Corrupt {
        /// The record, when known.
        record: Option<RecordId>,
        /// What could not be read: a column, a payload, the history.
        what: String,
        /// Why.
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    /// Unavailable, with the driver's error as its source.
    pub fn unavailable(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Unavailable {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// Unavailable, for a reason of this server's own (shutting down).
    pub fn stopped(context: impl Into<String>) -> Self {
        Self::Unavailable {
            context: context.into(),
            source: None,
        }
    }

    /// Corrupt data of `record` (if known).
    pub fn corrupt(record: Option<RecordId>, what: &str, source: impl Into<BoxError>) -> Self {
        Self::Corrupt {
            record,
            what: what.to_owned(),
            source: source.into(),
        }
    }
}

/// A leaf of the Merkle log (SPEC §7): the event it commits to, and its
/// RFC 9162 leaf hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leaf {
    /// The event.
    pub event: Uuid,
    /// `SHA-256(0x00 ‖ leaf bytes)`.
    pub hash: [u8; 32],
}

/// A checkpoint the server signed, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The tree size it commits to.
    pub size: u64,
    /// The root hash of the first `size` leaves.
    pub root: [u8; 32],
    /// The signed note (C2SP signed-note text).
    pub note: String,
}

/// Filters and position of one page of `GET /records`.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    /// Only records of this (canonical) registry.
    pub registry: Option<String>,
    /// Only records of this vintage.
    pub vintage: Option<u16>,
    /// Only records whose status is this.
    pub status: Option<Status>,
    /// Only records this holder holds (compared trimmed).
    pub holder: Option<String>,
    /// Only records stored after this position (the decoded cursor).
    pub after: Option<Position>,
    /// Page size.
    pub limit: u32,
}

/// One page of records.
#[derive(Clone, Debug)]
pub struct Page {
    /// The records, oldest first.
    pub items: Vec<StoredRecord>,
    /// The position to continue after, if there may be more.
    pub next: Option<Position>,
}

/// An API key (SPEC §8), as stored: its token is never kept, only the
/// token's SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// Its name: recorded as `actor` on the events it causes.
    pub name: String,
    /// Its scopes, comma-separated (`create,trade`).
    pub scopes: String,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it was last used (to the minute), if ever.
    pub last_used_at: Option<OffsetDateTime>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// Where a record sits in the order pages are read in: by `tx`, then `pos`.
///
/// SQLite has one writer, so its rows commit in `pos` order and `tx` is
/// always 0. PostgreSQL writers commit in any order; `tx` is the inserting
/// transaction's id (see [`postgres`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The inserting transaction (0 on SQLite).
    pub tx: i64,
    /// The insertion position.
    pub pos: i64,
}

/// Where [`Store::snapshot`] sends its pages.
pub type Pages = tokio::sync::mpsc::Sender<Result<Vec<StoredRecord>, StoreError>>;

/// A database that holds records and their events.
#[async_trait]
pub trait Store: Send + Sync {
    /// Creates each record unless it exists; one outcome per record, in order.
    /// The outer error means nothing was written.
    /// With an `Idempotency-Key`, the answer is kept in the same
    /// transaction, or an earlier answer to the key replayed
    /// ([`StoreError::IdempotencyKeyReused`] when it was for another request).
    async fn create(
        &self,
        records: Vec<CanonicalRecord>,
        write: Write<Vec<Result<Created, StoreError>>>,
    ) -> Result<Answer<Vec<Result<Created, StoreError>>>, StoreError>;

    /// Acts on a record, if the core allows it: appends the action's event,
    /// or, for a partial action on a block, writes the split (the parent's
    /// `SPLIT` event and both children) at once. Keys as for [`Store::create`].
    async fn append(
        &self,
        request: Append,
        write: Write<Acted>,
    ) -> Result<Answer<Acted>, StoreError>;

    /// The answer kept for `key`, unless it has expired; the caller compares
    /// fingerprints. (For writes made of several transactions, such as an
    /// import, which keep their answer once done with [`Store::keep_answer`].)
    async fn kept_answer(
        &self,
        key: IdempotencyKey,
    ) -> Result<Option<(String, SavedResponse)>, StoreError>;

    /// Keeps `answer` for `key`, replacing an expired one.
    async fn keep_answer(
        &self,
        key: IdempotencyKey,
        answer: SavedResponse,
    ) -> Result<(), StoreError>;

    /// Forgets the answers kept before `before`; returns how many.
    async fn purge_answers(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    /// The API key whose token hashes to `hash` (SHA-256), unless revoked;
    /// its last use is noted (at most once a minute).
    async fn api_key(&self, hash: [u8; 32]) -> Result<Option<ApiKey>, StoreError>;

    /// Whether any API key is active (then writes need one).
    async fn has_api_keys(&self) -> Result<bool, StoreError>;

    /// Adds an API key; a conflict if the name is taken.
    async fn add_api_key(&self, key: ApiKey, hash: [u8; 32]) -> Result<(), StoreError>;

    /// Every API key, revoked ones included, oldest first.
    async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError>;

    /// Revokes the key `name`; `false` if no active key has it.
    async fn revoke_api_key(&self, name: String) -> Result<bool, StoreError>;

    /// A record and its history.
    async fn get(&self, id: RecordId) -> Result<Option<StoredRecord>, StoreError>;

    /// One page of records, oldest first.
    async fn list(&self, query: ListQuery) -> Result<Page, StoreError>;

    /// Every record matching `query`'s filters, oldest first, `query.limit`
    /// at a time, into `pages`, all read in one snapshot of the database:
    /// each record as it was at one instant, a split block with its children
    /// (an export taken while others write is one state, which an import
    /// replays). Returns when the last page is sent or `pages` is closed; an
    /// error is the last item sent.
    async fn snapshot(&self, query: ListQuery, pages: Pages);

    /// The leaves of every tree (records that are not `SPLIT`), counted and
    /// their credits added up per group of `keys` (none: one grand total),
    /// ordered by the keys in the order of `keys` (see [`summary`]); only
    /// groups with a leaf, but for the grand total.
    async fn summary(
        &self,
        keys: Vec<summary::GroupKey>,
    ) -> Result<Vec<(summary::Group, summary::Tally)>, StoreError>;

    /// Up to `limit` events of all records, oldest first, after the event
    /// `after`; `None` if `after` is not a known event.
    async fn feed(&self, after: Option<Uuid>, limit: u32)
        -> Result<Option<Vec<Event>>, StoreError>;

    /// The stored blocks left out of the overlap index because they share
    /// credits with an earlier block (possible before SPEC §6's rule).
    async fn overlaps(&self) -> Result<Vec<(RecordId, RecordId)>, StoreError>;

    /// The tracked block other than `record` itself that shares a credit
    /// with it (a live block: not `SPLIT`; retired and cancelled ones
    /// included), if `record` is a block and there is one (SPEC §6). A look,
    /// not a guard: the write itself refuses an overlap, atomically.
    async fn overlapping(&self, record: CanonicalRecord) -> Result<Option<RecordId>, StoreError>;

    /// The canonical fields of the stored records among `ids` (without
    /// their events), in no particular order.
    async fn canonical_records(
        &self,
        ids: Vec<RecordId>,
    ) -> Result<Vec<(RecordId, CanonicalRecord)>, StoreError>;

    /// Every leaf of the log, in order.
    async fn leaves(&self) -> Result<Vec<Leaf>, StoreError>;

    /// Appends `leaves` as the leaves `first`, `first + 1`, …; leaves already
    /// stored with the same contents are kept (several processes may append
    /// the same ones); different contents are a conflict.
    async fn append_leaves(&self, first: u64, leaves: Vec<Leaf>) -> Result<(), StoreError>;

    /// Keeps a signed checkpoint (one per size; the same again is a no-op).
    async fn add_checkpoint(&self, checkpoint: StoredCheckpoint) -> Result<(), StoreError>;

    /// Every checkpoint kept, smallest size first.
    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError>;

    /// Whether the database answers.
    async fn check(&self) -> Result<(), StoreError>;

    /// Stops taking requests; returns once every acknowledged write is
    /// durable and the connections are closed.
    fn close(&self);
}

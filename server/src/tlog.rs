//! The Merkle log of every event, and its signed checkpoints (SPEC §7).
//!
//! Every committed event becomes the next leaf, in the order of
//! `GET /events`: the sequencer reads the feed after the last leaf, hashes
//! each event's leaf bytes (the core's [`log::leaf_bytes`]: RFC 8785 JSON of
//! the event, with the record's canonical fields for a `CREATED`), stores the
//! leaves, and signs a checkpoint of the new size. The feed's order is one
//! total order that every process on a PostgreSQL database agrees on (it only
//! hands out settled transactions), so several processes sequencing at once
//! append the same leaves; the store keeps the first and checks the others.
//!
//! The leaves' hashes are kept in memory as well, for proofs. The core makes
//! every decision about bytes, hashes, proofs and signatures; this module
//! only moves them between the store and the HTTP layer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use carbon_tracker_core::lifecycle::{Event, EventType};
use carbon_tracker_core::log::{self, Checkpoint, Hash, MerkleTree, SignerKey, VerifierKey};
use carbon_tracker_core::{CanonicalRecord, RecordId};
use uuid::Uuid;

use crate::store::{Leaf, Store, StoreError, StoredCheckpoint};

/// How often the sequencer looks for new events; a checkpoint is signed at
/// each look that found some, so at least once a second while events arrive.
pub const SEQUENCE_INTERVAL: Duration = Duration::from_millis(250);

/// Events read from the feed at a time.
const FEED_PAGE: u32 = 1000;

/// The log: its leaves, its key, its latest checkpoint.
pub struct Log {
    store: Arc<dyn Store>,
    signer: SignerKey,
    verifier: VerifierKey,
    /// One sequencer pass at a time (the timer's, or a certificate's).
    pass: tokio::sync::Mutex<()>,
    tree: RwLock<Tree>,
}

/// What the log holds in memory.
#[derive(Default)]
struct Tree {
    leaves: MerkleTree,
    index: HashMap<Uuid, u64>,
    last_event: Option<Uuid>,
    latest: Option<Arc<Signed>>,
}

impl Tree {
    /// Appends `leaves` after those held.
    fn extend(&mut self, leaves: &[Leaf]) {
        for leaf in leaves {
            self.index.insert(leaf.event, self.leaves.len());
            self.leaves.push(leaf.hash);
        }
        if let Some(last) = leaves.last() {
            self.last_event = Some(last.event);
        }
    }
}

/// A checkpoint with its signed note.
#[derive(Debug)]
pub struct Signed {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Its C2SP signed-note text.
    pub note: String,
}

/// Why the log cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum LogFault {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The core refused an event's leaf bytes or a key.
    #[error("the log: {0}")]
    Core(#[from] log::LogError),
    /// The stored checkpoints were signed with another key.
    #[error("{0}")]
    WrongKey(String),
}

impl Log {
    /// The log of `store`, signed with `signer`: loads the stored leaves and
    /// the latest checkpoint, and signs one for an empty log.
    pub async fn open(store: Arc<dyn Store>, signer: SignerKey) -> Result<Self, LogFault> {
        let leaves = store.leaves().await?;
        let mut tree = Tree::default();
        tree.extend(&leaves);
        let verifier = signer.verifier();
        let stored = store.checkpoints().await?;
        if let Some(last) = stored.last() {
            let checkpoint = log::open_checkpoint(&last.note, &verifier).map_err(|e| {
                LogFault::WrongKey(format!(
                    "the latest stored checkpoint (size {}) does not open with the log key {} ({e}): \
                     was the key file replaced? A log keeps its key",
                    last.size,
                    verifier.to_vkey()
                ))
            })?;
            tree.latest = Some(Arc::new(Signed {
                checkpoint,
                note: last.note.clone(),
            }));
        }
        let log = Self {
            store,
            signer,
            verifier,
            pass: tokio::sync::Mutex::new(()),
            tree: RwLock::new(tree),
        };
        if log.latest().is_none() {
            log.sign().await?;
        }
        Ok(log)
    }

    /// The public key of the log (C2SP vkey text).
    pub fn key(&self) -> &VerifierKey {
        &self.verifier
    }

    /// The latest signed checkpoint.
    pub fn latest(&self) -> Option<Arc<Signed>> {
        self.read().latest.clone()
    }

    /// Appends the events committed since the last pass and signs a
    /// checkpoint if the log grew.
    pub async fn sequence(&self) -> Result<Arc<Signed>, LogFault> {
        let _pass = self.pass.lock().await;
        loop {
            let after = self.read().last_event;
            let Some(events) = self.store.feed(after, FEED_PAGE).await? else {
                return Err(StoreError::corrupt(
                    None,
                    "log",
                    "its last leaf's event is not in the feed",
                )
                .into());
            };
            if events.is_empty() {
                break;
            }
            let leaves = leaves_of(self.store.as_ref(), &events).await?;
            let first = self.read().leaves.len();
            self.store.append_leaves(first, leaves.clone()).await?;
            self.write().extend(&leaves);
        }
        let grown = {
            let tree = self.read();
            tree.latest
                .as_ref()
                .is_none_or(|l| l.checkpoint.size < tree.leaves.len())
        };
        if grown {
            self.sign().await?;
        }
        self.latest()
            .ok_or_else(|| StoreError::corrupt(None, "log", "no checkpoint was signed").into())
    }

    /// Signs and stores a checkpoint of every leaf held.
    async fn sign(&self) -> Result<(), LogFault> {
        let checkpoint = {
            let tree = self.read();
            Checkpoint::new(self.verifier.name(), tree.leaves.len(), tree.leaves.root())?
        };
        let note = log::sign_checkpoint(&checkpoint, &self.signer);
        self.store
            .add_checkpoint(StoredCheckpoint {
                size: checkpoint.size,
                root: checkpoint.root,
                note: note.clone(),
            })
            .await?;
        self.write().latest = Some(Arc::new(Signed { checkpoint, note }));
        Ok(())
    }

    /// The position of an event in the log, if it is a leaf yet.
    pub fn index_of(&self, event: Uuid) -> Option<u64> {
        self.read().index.get(&event).copied()
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size`
    /// leaves, with the leaf's hash; `None` if the log is not that large.
    pub fn inclusion(&self, index: u64, size: u64) -> Option<Result<(Hash, Vec<Hash>), LogFault>> {
        let tree = self.read();
        if size > tree.leaves.len() || index >= size {
            return None;
        }
        let leaf = *tree.leaves.leaves().get(usize::try_from(index).ok()?)?;
        Some(
            tree.leaves
                .inclusion_proof(index, size)
                .map(|p| (leaf, p))
                .map_err(LogFault::from),
        )
    }

    /// The consistency proof from the tree of `from` leaves to that of `to`;
    /// `None` if the log is not that large.
    pub fn consistency(&self, from: u64, to: u64) -> Option<Result<Vec<Hash>, LogFault>> {
        let tree = self.read();
        if to > tree.leaves.len() || from > to {
            return None;
        }
        Some(
            tree.leaves
                .consistency_proof(from, to)
                .map_err(LogFault::from),
        )
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tree> {
        self.tree
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tree> {
        self.tree
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sequences every [`SEQUENCE_INTERVAL`] until the process stops.
    pub async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(SEQUENCE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.sequence().await {
                tracing::warn!(error = %e, "the log sequencer failed; it will try again");
            }
        }
    }
}

/// The leaves of `events` (a page of the feed), in order: each event's leaf
/// hash, with the record's canonical fields read for a `CREATED` (SPEC §7).
pub async fn leaves_of(store: &dyn Store, events: &[Event]) -> Result<Vec<Leaf>, LogFault> {
    let created: Vec<RecordId> = events
        .iter()
        .filter(|e| e.event_type == EventType::Created)
        .map(|e| e.record_id)
        .collect();
    let records: HashMap<RecordId, CanonicalRecord> = if created.is_empty() {
        HashMap::new()
    } else {
        store
            .canonical_records(created)
            .await?
            .into_iter()
            .collect()
    };
    let mut leaves = Vec::with_capacity(events.len());
    for event in events {
        let record = if event.event_type == EventType::Created {
            Some(records.get(&event.record_id).ok_or_else(|| {
                StoreError::corrupt(
                    Some(event.record_id),
                    "log",
                    "a CREATED event's record is not stored",
                )
            })?)
        } else {
            None
        };
        leaves.push(Leaf {
            event: event.id,
            hash: log::leaf_hash(&log::leaf_bytes(event, record)?),
        });
    }
    Ok(leaves)
}

/// The signing key: read from `file`, or from the default place, where it is
/// created (with `origin` as its name) when missing and the log has signed
/// nothing yet (`new_log`, consulted only then: a log keeps its key, so a
/// missing key of a log with checkpoints is an error, and no other key is
/// left behind). Returns the key and, when it was created, where.
pub fn signing_key(
    file: Option<&Path>,
    default: PathBuf,
    origin: Option<&str>,
    new_log: bool,
) -> Result<(SignerKey, Option<PathBuf>), String> {
    let path = file.map_or(default, Path::to_path_buf);
    let key = match std::fs::read_to_string(&path) {
        Ok(text) => parse_key(&path, &text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && file.is_none() && !new_log => {
            return Err(format!(
                "the log's signing key {} is missing, and the log has signed checkpoints with it:                  a log keeps its key (restore the file, or give it with --log-key)",
                path.display()
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && file.is_none() => {
            let mut seed = [0_u8; 32];
            getrandom::fill(&mut seed).map_err(|e| format!("no randomness for a log key: {e}"))?;
            let key = SignerKey::generate(origin.unwrap_or(DEFAULT_ORIGIN), seed)
                .map_err(|e| format!("cannot make a log key: {e}"))?;
            match write_secret(&path, &key.to_skey()) {
                Ok(()) => return Ok((key, Some(path))),
                // Another process starting at the same moment made it: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    std::thread::sleep(Duration::from_millis(100));
                    read_key(&path)?
                }
                Err(e) => {
                    return Err(format!(
                        "cannot write the new log key to {}: {e}",
                        path.display()
                    ))
                }
            }
        }
        Err(e) => return Err(format!("cannot read the log key {}: {e}", path.display())),
    };
    if let Some(origin) = origin.filter(|o| *o != key.verifier().name()) {
        return Err(format!(
            "the log key in {} is named {:?}, not {origin:?}: a log keeps its name (omit --log-origin, or give another key file)",
            path.display(),
            key.verifier().name()
        ));
    }
    Ok((key, None))
}

fn parse_key(path: &Path, text: &str) -> Result<SignerKey, String> {
    SignerKey::parse(text.trim())
        .map_err(|e| format!("the log key in {} cannot be read: {e}", path.display()))
}

fn read_key(path: &Path) -> Result<SignerKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the log key {}: {e}", path.display()))?;
    parse_key(path, &text)
}

/// The origin of a log whose key the server creates without `--log-origin`.
pub const DEFAULT_ORIGIN: &str = "carbon-tracker.local/log";

/// Writes a new secret file readable by its owner only.
fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

//! The audit commands (SPEC §7): `verify` checks a certificate offline with
//! the core's verifier; `audit` recomputes the log from the database and
//! compares it with the stored leaves and checkpoints.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the commands' verdicts are their output"
)]

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use carbon_tracker_core::log::{self, Certificate, Checkpoint, Hash, MerkleTree, VerifierKey};

use crate::store::{Store, StoreError};
use crate::tlog::leaves_of;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `verify CERTIFICATE --key KEY [--checkpoint NOTE:PROOF]`: exit 0 when the
/// certificate is valid, 1 with the reason when it is not (or cannot be read).
pub fn verify(certificate: &Path, key: &str, trusted: Option<&str>) -> ExitCode {
    match check(certificate, key, trusted) {
        Ok(summary) => {
            println!("valid: {summary}");
            ExitCode::SUCCESS
        }
        Err(reason) => {
            println!("invalid: {reason}");
            ExitCode::FAILURE
        }
    }
}

fn check(certificate: &Path, key: &str, trusted: Option<&str>) -> Result<String, String> {
    let text = std::fs::read_to_string(certificate)
        .map_err(|e| format!("cannot read {}: {e}", certificate.display()))?;
    // A byte-order mark, as some editors write, is not part of the JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let certificate: Certificate = serde_json::from_str(text)
        .map_err(|e| format!("{} is not a certificate: {e}", certificate.display()))?;
    // A file holding the key, or the key itself.
    let key = match std::fs::read_to_string(key) {
        Ok(text) => {
            VerifierKey::parse(text.trim()).map_err(|e| format!("the key in {key}: {e}"))?
        }
        Err(read) => VerifierKey::parse(key.trim()).map_err(|e| {
            format!("--key {key:?} is neither a file that can be read ({read}) nor a key ({e})")
        })?,
    };
    let trusted = trusted
        .map(|spec| -> Result<(Checkpoint, Vec<Hash>), String> {
            let (note, proof) = spec
                .rsplit_once(':')
                .ok_or("--checkpoint takes NOTE_FILE:PROOF_FILE")?;
            let note =
                std::fs::read_to_string(note).map_err(|e| format!("cannot read {note}: {e}"))?;
            let checkpoint = log::open_checkpoint(&note, &key)
                .map_err(|e| format!("the trusted checkpoint: {e}"))?;
            let proof =
                std::fs::read_to_string(proof).map_err(|e| format!("cannot read {proof}: {e}"))?;
            Ok((checkpoint, hashes(&proof)?))
        })
        .transpose()?;
    let verified = log::verify_certificate(
        &certificate,
        &key,
        trusted.as_ref().map(|(c, p)| (c, p.as_slice())),
    )
    .map_err(|e| match e.detail() {
        Some(detail) => format!("{}/{detail}: {e}", e.code()),
        None => format!("{}: {e}", e.code()),
    })?;
    // A log proves what it holds, not that nothing follows (SPEC §7): the
    // status is as of the last event shown.
    let last = certificate
        .records
        .last()
        .and_then(|r| r.events.last())
        .map_or(0, |e| e.index);
    let whole = if verified.state.status.is_final() {
        "final: nothing can follow it"
    } else {
        "later events, if any, are not in this certificate: fetch a new one to see them"
    };
    Ok(format!(
        "record {} is {} as of its event at leaf {last} ({whole}; checked through {} record(s), against the checkpoint of {} leaves of {})",
        certificate.record_id,
        verified.state.status,
        verified.lineage.len(),
        verified.checkpoint.size,
        verified.checkpoint.origin,
    ))
}

/// A consistency proof as `GET /log/consistency` gives it (the whole body,
/// or its `proof` array): hex hashes.
fn hashes(text: &str) -> Result<Vec<Hash>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("the proof is not JSON: {e}"))?;
    let list = value.get("proof").cloned().unwrap_or(value);
    let list: Vec<String> = serde_json::from_value(list)
        .map_err(|e| format!("the proof is not a list of hex hashes: {e}"))?;
    list.iter()
        .map(|h| {
            let mut hash = [0_u8; 32];
            hex::decode_to_slice(h, &mut hash).map_err(|e| format!("{h:?} is not a hash: {e}"))?;
            Ok(hash)
        })
        .collect()
}

/// `audit`: recomputes every leaf from the events, compares them with the
/// stored leaves, and every stored checkpoint's **signed note** with the
/// recomputed tree: the note's signature by the log key (read from
/// `key_file`, never created; without it the notes' roots are compared
/// unsigned, and the output says so), and its size and root against the
/// tree of that many leaves. Exit 0 when all agree, 1 naming the first
/// difference.
pub async fn audit(store: Arc<dyn Store>, key_file: &Path) -> Result<ExitCode, BoxError> {
    let key = match std::fs::read_to_string(key_file) {
        Ok(text) => match log::SignerKey::parse(text.trim()) {
            Ok(key) => Some(key.verifier()),
            Err(e) => {
                println!(
                    "the log key in {} cannot be read ({e}): the checkpoints' signatures are not checked",
                    key_file.display()
                );
                None
            }
        },
        Err(e) => {
            println!(
                "no log key at {} ({e}): the checkpoints' signatures are not checked (give --log-key)",
                key_file.display()
            );
            None
        }
    };
    let stored = store.leaves().await?;
    let mut leaves: Vec<Hash> = Vec::with_capacity(stored.len());
    let mut after = None;
    let mut first_difference: Option<String> = None;
    loop {
        let events = store
            .feed(after, 1000)
            .await?
            .ok_or_else(|| StoreError::corrupt(None, "log", "the feed lost its place"))?;
        let Some(last) = events.last().map(|e| e.id) else {
            break;
        };
        for (event, hash) in events.iter().zip(hashes_of(store.as_ref(), &events).await?) {
            let idx = leaves.len();
            let hash = match hash {
                Ok(hash) => hash,
                Err(e) => {
                    first_difference.get_or_insert_with(|| {
                        format!(
                            "leaf {idx} (event {}, record {}): its leaf cannot be made: {e}",
                            event.id, event.record_id
                        )
                    });
                    // No leaf: the tree from here on is not the log's.
                    [0; 32]
                }
            };
            if first_difference.is_none() {
                match stored.get(idx) {
                    Some(leaf) if leaf.event == event.id && leaf.hash == hash => {}
                    Some(leaf) if leaf.event == event.id => {
                        first_difference = Some(format!(
                            "leaf {idx} (event {}, record {}): the event's stored contents no longer hash to its leaf",
                            event.id, event.record_id
                        ));
                    }
                    Some(leaf) => {
                        first_difference = Some(format!(
                            "leaf {idx}: the log has event {}, the feed event {}",
                            leaf.event, event.id
                        ));
                    }
                    None => {}
                }
            }
            leaves.push(hash);
        }
        after = Some(last);
    }
    if first_difference.is_none() && leaves.len() < stored.len() {
        first_difference = Some(format!(
            "leaf {}: the log has {} leaves, the events only {}",
            leaves.len(),
            stored.len(),
            leaves.len()
        ));
    }
    let checkpoints = store.checkpoints().await?;
    let tree = MerkleTree::from_leaves(leaves.iter().copied());
    let mut bad_checkpoints = 0_usize;
    for checkpoint in &checkpoints {
        let wrong = match signed(&checkpoint.note, key.as_ref()) {
            Err(e) => Some(format!("has a signed note that {e}")),
            Ok(signed) if signed.size != checkpoint.size || signed.root != checkpoint.root => {
                Some(format!(
                    "has a signed note of size {} and root {}, while the database's columns say size {} and root {}",
                    signed.size,
                    log::hash_hex(&signed.root),
                    checkpoint.size,
                    log::hash_hex(&checkpoint.root)
                ))
            }
            Ok(signed) if tree.root_at(signed.size).ok() != Some(signed.root) => {
                Some("does not match the events' tree".to_owned())
            }
            Ok(_) => None,
        };
        if let Some(wrong) = wrong {
            bad_checkpoints += 1;
            if bad_checkpoints == 1 {
                println!("checkpoint of size {} {wrong}", checkpoint.size);
            }
        }
    }
    println!(
        "{} events, {} leaves stored, {} checkpoints ({} not matching)",
        leaves.len(),
        stored.len(),
        checkpoints.len(),
        bad_checkpoints
    );
    Ok(match first_difference {
        Some(difference) => {
            println!("first difference: {difference}");
            ExitCode::FAILURE
        }
        None if bad_checkpoints > 0 => ExitCode::FAILURE,
        None => {
            println!("the log matches the events");
            ExitCode::SUCCESS
        }
    })
}

/// The leaf hash of each event of a page, or why it cannot be made (a
/// record whose stored fields no longer give its id, say): one event at a
/// time once the page as a whole fails, so the audit names the event.
async fn hashes_of(
    store: &dyn Store,
    events: &[carbon_tracker_core::Event],
) -> Result<Vec<Result<Hash, String>>, BoxError> {
    if let Ok(leaves) = leaves_of(store, events).await {
        return Ok(leaves.into_iter().map(|leaf| Ok(leaf.hash)).collect());
    }
    let mut hashes = Vec::with_capacity(events.len());
    for event in events {
        hashes.push(
            leaves_of(store, std::slice::from_ref(event))
                .await
                .map(|leaves| leaves.first().map_or([0; 32], |leaf| leaf.hash))
                .map_err(|e| e.to_string()),
        );
    }
    Ok(hashes)
}

/// The checkpoint a stored signed note says: opened with the log's key when
/// there is one (its signature checked), read unsigned when there is not.
fn signed(note: &str, key: Option<&VerifierKey>) -> Result<Checkpoint, String> {
    match key {
        Some(key) => log::open_checkpoint(note, key)
            .map_err(|e| format!("does not verify with the log key: {e}")),
        None => note
            .split_once("\n\n")
            .ok_or_else(|| "is not a signed note".to_owned())
            .and_then(|(body, _)| {
                Checkpoint::parse_body(&format!("{body}\n"))
                    .map_err(|e| format!("holds no checkpoint: {e}"))
            }),
    }
}

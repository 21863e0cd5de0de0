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
    let certificate: Certificate = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a certificate: {e}", certificate.display()))?;
    let key_text = match std::fs::read_to_string(key) {
        Ok(text) => text,
        Err(_) => key.to_owned(),
    };
    let key = VerifierKey::parse(key_text.trim()).map_err(|e| format!("the key: {e}"))?;
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
    Ok(format!(
        "record {} is {} (checked through {} record(s), against the checkpoint of {} leaves of {})",
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
/// stored leaves, and every stored checkpoint's root with the recomputed
/// tree. Exit 0 when all agree, 1 naming the first difference.
pub async fn audit(store: Arc<dyn Store>) -> Result<ExitCode, BoxError> {
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
        for (event, leaf) in events.iter().zip(leaves_of(store.as_ref(), &events).await?) {
            let hash = leaf.hash;
            let idx = leaves.len();
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
        if tree.root_at(checkpoint.size).ok() != Some(checkpoint.root) {
            bad_checkpoints += 1;
            if bad_checkpoints == 1 {
                println!(
                    "checkpoint of size {} does not match the events' tree",
                    checkpoint.size
                );
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

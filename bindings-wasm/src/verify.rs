//! The certificate verifier of SPEC §7, the module `carbon-tracker/verify`:
//! the core's `verify_certificate`, `open_checkpoint` and key fingerprint,
//! conversions only.
//!
//! It is a `.wasm` of its own (the feature `verify`; build.sh), not part of
//! the main module: Ed25519 (ed25519-dalek, SHA-512, curve arithmetic) and the
//! RFC 8785 writer alone are several times the room the main module's 150 KB
//! budget has left (README.md, "Verifying certificates").
//!
//! A certificate is read property by property into the core's
//! [`Certificate`], as `events.rs` reads events, not through
//! `serde-wasm-bindgen` and the core's `Deserialize` (whose monomorphized
//! visitors, `time`'s parser and float formatting of error messages cost
//! the verifier's `.wasm` tens of KB): each event through the same reader as
//! `replay` and `apply`, so a certificate reads as `JSON.parse` of the
//! server's body gives it, and a value of the wrong shape is a `TypeError`
//! naming its place (`certificate.records[1].events[0].index`).

use carbon_tracker_core::log::{
    self, Certificate, CertificateError, CertifiedEvent, CertifiedRecord, Checkpoint, Hash,
    VerifierKey,
};
use carbon_tracker_core::{CanonicalRecord, FieldValue, Quantity, RecordId};
use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;

use crate::errors::{certificate_error, certificate_error_of, type_error};
use crate::events::{error_at, event_at, is_plain_object, text_at};
use crate::output::to_js;

/// 2^53 - 1: the largest integer every JavaScript number up to is exact.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// Verifies a record's certificate (`GET /records/{id}/certificate`, as
/// `JSON.parse` gives it or as its JSON text) against the log key the caller
/// pins (`name+hexid+base64`, as `GET /log/key` serves it; surrounding
/// whitespace ignored), with the core's verifier: the checkpoint's signature,
/// every inclusion proof, the replay of every history, every id, the lineage
/// back to the registered block.
///
/// `trusted`: an older checkpoint the caller holds (a `Checkpoint` as an
/// earlier `verifyCertificate` returned it, or its signed note, opened with
/// the key) and the consistency proof from it to the certificate's
/// checkpoint (`GET /log/consistency?from=…&to=…`'s `proof`): the
/// certificate's log must extend it.
///
/// Returns what the certificate proves, `{ checkpoint, state, lineage }`.
/// Throws a `CertificateError` saying what failed (`code`: `signature`,
/// `proof`, `replay`, `id`, `lineage`, `consistency`; `detail`), a
/// `TypeError` for a key that is not a log key or arguments of the wrong shape.
#[wasm_bindgen(js_name = verifyCertificate, unchecked_return_type = "Verified")]
pub fn verify_certificate(
    #[wasm_bindgen(unchecked_param_type = "Certificate | string")] bundle: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] key: &JsValue,
    #[wasm_bindgen(
        unchecked_optional_param_type = "{ checkpoint: Checkpoint | string; proof: string[] } | null"
    )]
    trusted: Option<JsValue>,
) -> Result<JsValue, JsValue> {
    let certificate = read_certificate(bundle)?;
    let key = verifier_key(key)?;
    let trusted = match trusted {
        Some(value) if !value.is_null() && !value.is_undefined() => {
            Some(read_trusted(&value, &key, &certificate)?)
        }
        _ => None,
    };
    let verified = log::verify_certificate(
        &certificate,
        &key,
        trusted.as_ref().map(|(c, p)| (c, p.as_slice())),
    )
    .map_err(|e| certificate_error(&e))?;
    to_js(&verified)
}

/// The checkpoint a signed note (`GET /log/checkpoint`) carries, once its
/// signature by the pinned key is verified: `{ origin, size, root }`.
///
/// Throws a `CertificateError` with code `signature` when the key did not
/// sign it (or it is not a checkpoint of the key's log), a `TypeError` for a
/// key that is not a log key.
#[wasm_bindgen(js_name = openCheckpoint, unchecked_return_type = "Checkpoint")]
pub fn open_checkpoint(
    #[wasm_bindgen(unchecked_param_type = "string")] note: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] key: &JsValue,
) -> Result<JsValue, JsValue> {
    let note = note
        .as_string()
        .ok_or_else(|| type_error("a checkpoint note must be a string"))?;
    let key = verifier_key(key)?;
    let checkpoint = log::open_checkpoint(&note, &key)
        .map_err(|e| certificate_error(&CertificateError::Signature(e)))?;
    to_js(&checkpoint)
}

/// The fingerprint people compare a pinned key by: the SHA-256 of the key's
/// type byte and public key, 64 lowercase hex digits (the core's
/// `VerifierKey::fingerprint`).
///
/// Throws a `TypeError` for a key that is not a log key.
#[wasm_bindgen(js_name = keyFingerprint, unchecked_return_type = "string")]
pub fn key_fingerprint(
    #[wasm_bindgen(unchecked_param_type = "string")] key: &JsValue,
) -> Result<String, JsValue> {
    Ok(verifier_key(key)?.fingerprint())
}

/// A pinned key, `name+hexid+base64` (C2SP signed-note), whitespace around it ignored.
fn verifier_key(key: &JsValue) -> Result<VerifierKey, JsValue> {
    let text = key
        .as_string()
        .ok_or_else(|| type_error("a log key must be a string (name+hexid+base64)"))?;
    VerifierKey::parse(text.trim())
        .map_err(|e| type_error(&format!("invalid log key ({}): {e}", e.code())))
}

/// The certificate argument: an object, or its JSON text.
fn read_certificate(value: &JsValue) -> Result<Certificate, JsValue> {
    let parsed;
    let value = match value.as_string() {
        Some(text) => {
            parsed = js_sys::JSON::parse(&text)
                .map_err(|_| type_error("the certificate is not JSON text"))?;
            &parsed
        }
        None => value,
    };
    let at = "certificate";
    if !is_plain_object(value) {
        return Err(type_error(
            "a certificate must be an object (or its JSON text)",
        ));
    }
    let record_id = text_at(value, at, "record_id")?
        .parse::<RecordId>()
        .map_err(|_| error_at(at, "record_id", "must be 64 lowercase hex digits"))?;
    let records = array(value, at, "records")?;
    let records = (0..records.length())
        .zip(records.iter())
        .map(|(i, item)| read_record(&item, &format!("{at}.records[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let checkpoint = text_at(value, at, "checkpoint")?;
    Ok(Certificate {
        record_id,
        records,
        checkpoint,
    })
}

/// One record of a certificate: `{ record, events }`.
fn read_record(value: &JsValue, at: &str) -> Result<CertifiedRecord, JsValue> {
    if !is_plain_object(value) {
        return Err(type_error(&format!(
            "invalid {at}: must be an object {{record, events}}"
        )));
    }
    let record = canonical_record(&property(value, "record")?, &format!("{at}.record"))?;
    let events = array(value, at, "events")?;
    let events = (0..events.length())
        .zip(events.iter())
        .map(|(i, item)| read_event(&item, &format!("{at}.events[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CertifiedRecord { record, events })
}

/// A record's canonical fields, taken as given (the core derives its id
/// from them; the log committed to them in its `CREATED` leaf). The
/// quantity as the core's `Deserialize` reads it: text, or a number.
fn canonical_record(value: &JsValue, at: &str) -> Result<CanonicalRecord, JsValue> {
    if !is_plain_object(value) {
        return Err(type_error(&format!("invalid {at}: must be an object")));
    }
    let project_name = text_at(value, at, "project_name")?;
    let registry = text_at(value, at, "registry")?;
    let vintage = leaf_index(&property(value, "vintage")?)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| error_at(at, "vintage", "must be a year (an integer)"))?;
    let quantity = property(value, "quantity")?;
    let quantity = match quantity.as_string() {
        Some(text) => FieldValue::text(text),
        None => FieldValue::Float(
            quantity
                .as_f64()
                .ok_or_else(|| error_at(at, "quantity", "must be a string or a number"))?,
        ),
    };
    let quantity =
        Quantity::from_field(&quantity).map_err(|code| error_at(at, "quantity", code.message()))?;
    let serial_number = text_at(value, at, "serial_number")?;
    Ok(CanonicalRecord {
        project_name,
        registry,
        vintage,
        quantity,
        serial_number,
    })
}

/// One event of a certificate: `{ event, index, proof }`.
fn read_event(value: &JsValue, at: &str) -> Result<CertifiedEvent, JsValue> {
    if !is_plain_object(value) {
        return Err(type_error(&format!(
            "invalid {at}: must be an object {{event, index, proof}}"
        )));
    }
    let event = event_at(&property(value, "event")?, &format!("{at}.event"))?;
    let index = leaf_index(&property(value, "index")?)
        .ok_or_else(|| error_at(at, "index", "must be an integer from 0 to 2^53 - 1"))?;
    let proof = hashes(value, at, "proof")?;
    Ok(CertifiedEvent {
        event,
        index,
        proof,
    })
}

/// A non-negative integer a JavaScript number holds exactly.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked just before
fn leaf_index(value: &JsValue) -> Option<u64> {
    value
        .as_f64()
        .filter(|n| n.fract() == 0.0 && (0.0..=MAX_SAFE).contains(n))
        // In range and integral, so the conversion is exact.
        .map(|n| n as u64)
}

/// The trusted checkpoint and the consistency proof from it, as the Python
/// binding reads them: a note that does not open with the key, or a proof
/// hash that is not one, is a `consistency` failure (after the
/// certificate's own signature, which the core checks first).
fn read_trusted(
    value: &JsValue,
    key: &VerifierKey,
    certificate: &Certificate,
) -> Result<(Checkpoint, Vec<Hash>), JsValue> {
    let at = "trusted";
    if !is_plain_object(value) {
        return Err(type_error("trusted must be { checkpoint, proof } or null"));
    }
    let checkpoint = property(value, "checkpoint")?;
    let proof = hashes(value, at, "proof")?;
    let checkpoint = match checkpoint.as_string() {
        Some(note) => log::open_checkpoint(&note, key).map_err(|e| {
            if let Err(own) = log::open_checkpoint(&certificate.checkpoint, key) {
                return certificate_error(&CertificateError::Signature(own));
            }
            certificate_error_of(
                &format!("the trusted checkpoint does not open with the key: {e}"),
                "consistency",
                Some(e.code()),
            )
        })?,
        None => trusted_checkpoint(&checkpoint)?,
    };
    let proof = proof
        .iter()
        .map(|h| log::parse_hash(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| certificate_error(&CertificateError::Consistency(e)))?;
    Ok((checkpoint, proof))
}

/// A checkpoint as `verifyCertificate` returns it: `{ origin, size, root }`.
fn trusted_checkpoint(value: &JsValue) -> Result<Checkpoint, JsValue> {
    let at = "trusted.checkpoint";
    if !is_plain_object(value) {
        return Err(type_error(
            "invalid trusted.checkpoint: must be a signed note or { origin, size, root }",
        ));
    }
    let origin = text_at(value, at, "origin")?;
    let size = leaf_index(&property(value, "size")?)
        .ok_or_else(|| error_at(at, "size", "must be an integer from 0 to 2^53 - 1"))?;
    let root = log::parse_hash(&text_at(value, at, "root")?)
        .map_err(|_| error_at(at, "root", "must be 64 hex digits"))?;
    Checkpoint::new(origin, size, root).map_err(|e| error_at(at, "origin", &e.to_string()))
}

/// An array property of strings (hashes as hex; the core reads them).
fn hashes(value: &JsValue, at: &str, field: &str) -> Result<Vec<String>, JsValue> {
    let list = array(value, at, field)?;
    list.iter()
        .map(|h| {
            h.as_string()
                .ok_or_else(|| error_at(at, field, "must be an array of hex strings"))
        })
        .collect()
}

/// An array property.
fn array(value: &JsValue, at: &str, field: &str) -> Result<Array, JsValue> {
    property(value, field)?
        .dyn_into::<Array>()
        .map_err(|_| error_at(at, field, "must be an array"))
}

fn property(value: &JsValue, field: &str) -> Result<JsValue, JsValue> {
    Reflect::get(value, &JsValue::from_str(field))
}

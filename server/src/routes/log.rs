//! The verifiable log over HTTP (SPEC §7): the latest checkpoint, the key,
//! inclusion and consistency proofs, and a record's certificate.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use carbon_tracker_core::log::{Certificate, CertifiedEvent, CertifiedRecord, Hash};
use carbon_tracker_core::{ErrorCode, Lineage};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::lineage::{too_large, MAX_RECORDS};
use super::records::{record_id, stored};
use super::{bad_param, AppState, NoParams, Params};
use crate::problem::Problem;
use crate::store::StoreError;
use crate::tlog::{Log, LogFault, Signed};

/// The server's log, or a 404 when it runs with `--no-log`.
fn the_log(app: &AppState) -> Result<&Arc<Log>, Problem> {
    app.log.as_ref().ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "log_off",
            "this server runs without the verifiable log (--no-log)",
        )
        .with_help("ask the operator to run the server without --no-log; records and events are served as usual")
    })
}

fn hex_list(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

impl From<LogFault> for Problem {
    fn from(e: LogFault) -> Self {
        match e {
            LogFault::Store(e) => e.into(),
            LogFault::Core(e) => StoreError::corrupt(None, "log", e).into(),
            LogFault::WrongKey(e) => StoreError::corrupt(None, "log key", e).into(),
        }
    }
}

/// The latest signed checkpoint, a C2SP signed note.
#[utoipa::path(
    get, path = "/log/checkpoint", tag = "log",
    responses(
        (status = 200, description = "The C2SP tlog-checkpoint, signed (signed-note text)", content_type = "text/plain", body = String),
        (status = 404, description = "The server runs without the log (`--no-log`): code `log_off`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A query parameter: this endpoint takes none", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No checkpoint is signed yet; retry in a second", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn checkpoint(
    State(app): State<AppState>,
    _: Params<NoParams>,
) -> Result<Response, Problem> {
    let signed = latest(&app)?;
    Ok(text(signed.note.clone()))
}

/// The log's public key, C2SP signed-note verifier key text
/// (`name+id+base64`): pin it to verify checkpoints and certificates.
#[utoipa::path(
    get, path = "/log/key", tag = "log",
    responses(
        (status = 200, description = "The verifier key", content_type = "text/plain", body = String),
        (status = 404, description = "The server runs without the log (`--no-log`): code `log_off`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A query parameter: this endpoint takes none", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn key(
    State(app): State<AppState>,
    _: Params<NoParams>,
) -> Result<Response, Problem> {
    Ok(text(format!("{}\n", the_log(&app)?.key().to_vkey())))
}

fn latest(app: &AppState) -> Result<Arc<Signed>, Problem> {
    the_log(app)?
        .latest()
        .ok_or_else(|| StoreError::stopped("the log has no checkpoint yet").into())
}

/// `?size=` of a proof.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SizeParams {
    /// The tree size to prove against (default: the latest checkpoint's).
    #[param(value_type = Option<u64>, minimum = 0)]
    pub size: Option<String>,
}

/// An inclusion proof (RFC 9162 §2.1.3).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InclusionBody {
    /// The event.
    #[schema(value_type = String, format = Uuid)]
    pub event_id: Uuid,
    /// Its leaf index, from 0.
    pub index: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The leaf hash, hex.
    pub leaf_hash: String,
    /// The proof's hashes, hex, from the leaf up.
    pub proof: Vec<String>,
}

fn parse_size(name: &str, raw: &str) -> Result<u64, Problem> {
    let raw = raw.trim();
    raw.parse().map_err(|_| {
        bad_param(
            name,
            super::integer_error(raw),
            format!("{name} must be a tree size: a whole number of leaves, at most 2^64 - 1"),
        )
    })
}

/// The inclusion proof of an event in the log.
#[utoipa::path(
    get, path = "/events/{id}/proof", tag = "log",
    params(("id" = String, Path, description = "The event id"), SizeParams),
    responses(
        (status = 200, description = "The proof", body = InclusionBody),
        (status = 404, description = "No such event in the log (yet)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad size", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn proof(
    State(app): State<AppState>,
    Path(raw): Path<String>,
    Params(params): Params<SizeParams>,
) -> Result<Json<InclusionBody>, Problem> {
    let not_found = || {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no event {raw} is in the log (a new event becomes a leaf within a second)"),
        )
        .with_help(
            "check the event id (GET /records/{id}/events lists a record's), or retry in a second",
        )
    };
    let event_id = Uuid::try_parse(raw.trim()).map_err(|_| not_found())?;
    let size = match params.size.as_deref() {
        Some(raw) => parse_size("size", raw)?,
        None => latest(&app)?.checkpoint.size,
    };
    let index = the_log(&app)?.index_of(event_id).ok_or_else(not_found)?;
    if index >= size {
        return Err(bad_param(
            "size",
            ErrorCode::OutOfRange,
            format!("the event is leaf {index}: size must be more than that"),
        ));
    }
    let (leaf, proof) = the_log(&app)?.inclusion(index, size).ok_or_else(|| {
        bad_param(
            "size",
            ErrorCode::OutOfRange,
            "size must be at most the log's size".to_owned(),
        )
    })??;
    Ok(Json(InclusionBody {
        event_id,
        index,
        size,
        leaf_hash: hex::encode(leaf),
        proof: hex_list(&proof),
    }))
}

/// `?from=&to=` of a consistency proof.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ConsistencyParams {
    /// The older tree size, at least 1 (RFC 9162 §2.1.4: a proof from the
    /// empty tree is not defined).
    #[param(value_type = u64, minimum = 1)]
    pub from: String,
    /// The newer tree size (default: the latest checkpoint's).
    #[param(value_type = Option<u64>, minimum = 0)]
    pub to: Option<String>,
}

/// A consistency proof (RFC 9162 §2.1.4).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConsistencyBody {
    /// The older tree size.
    pub from: u64,
    /// The newer tree size.
    pub to: u64,
    /// The proof's hashes, hex.
    pub proof: Vec<String>,
}

/// The consistency proof between two tree sizes: that the older tree is a
/// prefix of the newer one.
#[utoipa::path(
    get, path = "/log/consistency", tag = "log",
    params(ConsistencyParams),
    responses(
        (status = 200, description = "The proof", body = ConsistencyBody),
        (status = 404, description = "The server runs without the log (`--no-log`): code `log_off`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Sizes out of range, missing or not whole numbers, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn consistency(
    State(app): State<AppState>,
    Params(params): Params<ConsistencyParams>,
) -> Result<Json<ConsistencyBody>, Problem> {
    let from = parse_size("from", &params.from)?;
    if from == 0 {
        return Err(bad_param(
            "from",
            ErrorCode::OutOfRange,
            "from must be at least 1: a consistency proof starts from a tree with leaves (RFC 9162 §2.1.4)".to_owned(),
        ));
    }
    let to = match params.to.as_deref() {
        Some(raw) => parse_size("to", raw)?,
        None => latest(&app)?.checkpoint.size,
    };
    if from > to {
        return Err(bad_param(
            "from",
            ErrorCode::OutOfRange,
            format!("from ({from}) must be at most to ({to})"),
        ));
    }
    let proof = the_log(&app)?.consistency(from, to).ok_or_else(|| {
        bad_param(
            "to",
            ErrorCode::OutOfRange,
            "to must be at most the log's size".to_owned(),
        )
    })??;
    Ok(Json(ConsistencyBody {
        from,
        to,
        proof: hex_list(&proof),
    }))
}

/// A record's certificate (SPEC §7): the record and its ancestors (root
/// first) with every event, an inclusion proof of each against the latest
/// checkpoint, and that checkpoint, signed. Verify it offline with the log's
/// key: `carbon-tracker-server verify`, or any host's `verify_certificate`.
#[utoipa::path(
    get, path = "/records/{id}/certificate", tag = "log",
    params(("id" = String, Path, description = "The record id")),
    responses(
        (status = 200, description = "The certificate", body = Object),
        (status = 404, description = "No such record, or the server runs without the log (`--no-log`: code `log_off`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A query parameter (this endpoint takes none), or `lineage_too_large`: the record has more ancestors than a certificate holds (it holds 10,000 records)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "An event is not in the log yet; retry in a second", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn certificate(
    State(app): State<AppState>,
    Path(raw): Path<String>,
    _: Params<NoParams>,
) -> Result<Json<Certificate>, Problem> {
    let id = record_id(&raw)?;
    let mut chain = vec![stored(&app, &raw).await?];
    while let Some(parent) = chain.last().and_then(|r| Lineage::of(&r.events).parent) {
        if chain.len() >= MAX_RECORDS {
            return Err(too_large(
                format!(
                    "record {id} has at least {MAX_RECORDS} ancestors; a certificate holds the record \
                     and all its ancestors, at most {MAX_RECORDS} records"
                ),
                "each event's inclusion proof is at GET /events/{id}/proof",
            ));
        }
        let record = app.store.get(parent).await?.ok_or_else(|| {
            StoreError::corrupt(Some(parent), "lineage", "a parent is not stored")
        })?;
        chain.push(record);
    }
    chain.reverse();
    let log = the_log(&app)?;
    let signed = log.sequence().await?;
    let size = signed.checkpoint.size;
    let mut records = Vec::with_capacity(chain.len());
    for record in chain {
        let mut events = Vec::with_capacity(record.events.len());
        for event in record.events {
            let index = log
                .index_of(event.id)
                .filter(|&i| i < size)
                .ok_or_else(|| {
                    Problem::from(StoreError::stopped(format!(
                        "event {} is not in the log yet (a transaction still running holds it back); retry in a second",
                        event.id
                    )))
                })?;
            let (_, proof) = log.inclusion(index, size).ok_or_else(|| {
                StoreError::corrupt(None, "log", "a leaf is past the checkpoint")
            })??;
            events.push(CertifiedEvent {
                event,
                index,
                proof: hex_list(&proof),
            });
        }
        records.push(CertifiedRecord {
            record: record.canonical,
            events,
        });
    }
    Ok(Json(Certificate {
        record_id: id,
        records,
        checkpoint: signed.note.clone(),
    }))
}

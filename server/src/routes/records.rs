//! `/records`: create (one or a batch), read, list, history.

use std::str::FromStr;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use carbon_tracker_core::lifecycle::{self, utc_rfc3339, Event, Status};
use carbon_tracker_core::{
    canonical_text, py_strip, vintage_year, Block, CanonicalRecord, ErrorCode, FieldError,
    FieldValue, Lineage, RecordId,
};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::{bad_param, AppState, Call, JsonBody, NoParams, Params};
use crate::create::{self, create_all, RenderOutcomes};
use crate::export::{self, ExportFormat};
use crate::idempotency;
use crate::problem::Problem;
use crate::store::{
    write, Answer, Created, ListQuery, Position, SavedResponse, StoreError, StoredRecord,
};

/// Most inputs one batch takes.
pub(crate) const MAX_BATCH: usize = 1000;
/// Page size of `GET /records` when `limit` is not given.
pub(crate) const DEFAULT_LIMIT: u32 = 50;
/// Largest page of `GET /records` and `GET /events`.
pub(crate) const MAX_LIMIT: u32 = 1000;

/// A record as the original service returned it, with its computed status and
/// its events.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecordBody {
    /// The v1 id.
    #[schema(value_type = String, pattern = "^[0-9a-f]{64}$")]
    pub id: RecordId,
    /// The canonical fields.
    #[serde(flatten)]
    pub canonical: CanonicalRecord,
    /// When the record was created.
    #[serde(with = "utc_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// The status its events add up to.
    pub status: Status,
    /// The buyer of the latest sale, if it was sold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Who holds the credits (SPEC §6): the latest buyer, inherited by a
    /// split's children; `null` while the registrant holds them.
    pub holder: Option<String>,
    /// The numbered range of credits the record is, when its serial names
    /// one whose count is its quantity (SPEC §6); `null` for a plain record.
    pub block: Option<Block<'static>>,
    /// The block this one was split from; `null` for a registered record.
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{64}$")]
    pub parent: Option<RecordId>,
    /// Once split, its two children: the front one (the acted-on part),
    /// then the back one (the remainder); empty before.
    #[schema(value_type = Vec<String>)]
    pub children: Vec<RecordId>,
    /// Its history, oldest first.
    pub events: Vec<Event>,
    /// What the client may not expect: a serial that names a range of
    /// another count than the quantity (SPEC §6: a plain record, not a
    /// block). Absent when there is nothing to say.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl RecordBody {
    /// The body of a stored record; with `at`, as it stood then (`None` if it
    /// did not exist yet).
    pub(crate) fn new(
        record: StoredRecord,
        at: Option<OffsetDateTime>,
    ) -> Result<Option<Self>, Problem> {
        let StoredRecord {
            id,
            canonical,
            created_at,
            mut events,
        } = record;
        let state = match at {
            None => Some(write::history(id, &events)?),
            Some(at) => {
                events.retain(|e| e.created_at <= at);
                lifecycle::state_at(&events, at)
                    .map_err(|e| StoreError::corrupt(Some(id), "history", e))?
            }
        };
        let block = canonical.block().map(Block::into_owned);
        // A block has nothing to warn of: its serial need not be read again.
        let warnings = match block {
            Some(_) => Vec::new(),
            None => canonical.block_warning().into_iter().collect(),
        };
        let lineage = Lineage::of(&events);
        Ok(state.map(|state| Self {
            id,
            canonical,
            created_at,
            status: state.status,
            holder: state.owner.clone(),
            owner: state.owner,
            block,
            parent: lineage.parent,
            children: lineage
                .children
                .map(|(front, back)| vec![front, back])
                .unwrap_or_default(),
            events,
            warnings,
        }))
    }

    fn of(record: StoredRecord) -> Result<Self, Problem> {
        let id = record.id;
        Self::new(record, None)?.ok_or_else(|| Problem::not_found(&id.to_string()))
    }
}

/// Reads the path's record id. Hex digits are read in either case (ids are
/// written lowercase, but a pasted id may not be); anything else names no
/// record, and the 404 says why rather than only "not found".
pub(crate) fn record_id(raw: &str) -> Result<RecordId, Problem> {
    RecordId::from_str(&raw.to_ascii_lowercase()).map_err(|_| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "{raw:?} is not a record id: an id is 64 hex digits (this has {} characters)",
                raw.chars().count()
            ),
        )
        .with_help("ids are what POST /records and POST /ids return")
    })
}

/// The stored record the path names, or a 404.
pub(crate) async fn stored(app: &AppState, raw: &str) -> Result<StoredRecord, Problem> {
    let id = record_id(raw)?;
    app.store
        .get(id)
        .await?
        .ok_or_else(|| Problem::not_found(raw))
}

/// Creates a record, or finds the identical one.
#[utoipa::path(
    post, path = "/records", tag = "records",
    request_body(content = crate::openapi::RecordInput, description = "The five fields; numbers keep their exact digits"),
    responses(
        (status = 201, description = "Created", body = RecordBody, headers(("Location" = String, description = "/records/{id}"))),
        (status = 200, description = "An identical record already exists", body = RecordBody),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The id belongs to a record with other data", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid; `errors` lists every one", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create(
    State(app): State<AppState>,
    Call { caller, key }: Call,
    _: Params<NoParams>,
    body: JsonBody,
) -> Result<Response, Problem> {
    let input = body.required()?;
    let key = key.map(|key| (key, render_create as RenderOutcomes));
    Ok(
        match create_all(app.store.as_ref(), vec![input], caller.actor, key).await? {
            Answer::Kept(saved) => idempotency::respond(saved, false),
            Answer::Replayed(saved) => idempotency::respond(saved, true),
            Answer::Done(outcomes) => idempotency::respond(render_create(&outcomes.each()), false),
        },
    )
}

/// The answer to `POST /records`: 201 with `Location` for a new record, 200
/// for an identical one, a problem otherwise.
fn render_create(outcomes: &[create::Outcome<'_>]) -> SavedResponse {
    let record = |r: &StoredRecord| RecordBody::of(r.clone());
    match outcomes.first() {
        Some(create::Outcome::Invalid(e)) => Problem::from((*e).clone()).saved(),
        Some(create::Outcome::Stored(Ok(Created::New(r)))) => match record(r) {
            Ok(body) => {
                let mut saved = idempotency::json(StatusCode::CREATED, &body);
                saved
                    .headers
                    .push((header::LOCATION.to_string(), format!("/records/{}", r.id)));
                saved
            }
            Err(p) => p.saved(),
        },
        Some(create::Outcome::Stored(Ok(Created::Existing(r)))) => match record(r) {
            Ok(body) => idempotency::json(StatusCode::OK, &body),
            Err(p) => p.saved(),
        },
        Some(create::Outcome::Stored(Err(e))) => Problem::of(e).saved(),
        None => Problem::of(&StoreError::stopped("the store returned no outcome")).saved(),
    }
}

/// `?at=` of `GET /records/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AtParams {
    /// An RFC 3339 instant: the record as it stood then.
    #[param(format = DateTime)]
    pub at: Option<String>,
}

/// A record, its status and its events.
#[utoipa::path(
    get, path = "/records/{id}", tag = "records",
    params(("id" = String, Path, description = "The record id"), AtParams),
    responses(
        (status = 200, description = "The record", body = RecordBody),
        (status = 404, description = "No such record (at that instant)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`at` is not an RFC 3339 timestamp", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get(
    State(app): State<AppState>,
    Path(raw): Path<String>,
    Params(params): Params<AtParams>,
) -> Result<Json<RecordBody>, Problem> {
    let at = params.at.as_deref().map(parse_instant).transpose()?;
    let record = stored(&app, &raw).await?;
    RecordBody::new(record, at)?.map(Json).ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("the record {raw} did not exist yet at that instant"),
        )
        .with_help("ask for an instant at or after its CREATED event's created_at, or leave out `at` for its state now")
    })
}

/// Reads `at`: an RFC 3339 timestamp, in every spelling RFC 3339 §5.6 allows
/// (`t`/`z` in lowercase, a space for the `T`), and with the `+` of an offset
/// that a query string sent unencoded (`?at=2024-01-31T12:00:00+01:00`),
/// which form decoding turns into a space.
fn parse_instant(raw: &str) -> Result<OffsetDateTime, Problem> {
    let mut text = raw.trim().to_ascii_uppercase();
    if text.get(10..11) == Some(" ") {
        text.replace_range(10..11, "T");
    }
    // `…12:00:00 01:00`: the offset's sign, decoded from an unencoded `+`.
    if let Some(sign) = text.len().checked_sub(6) {
        if text.get(sign..=sign) == Some(" ") && text.get(sign + 3..sign + 4) == Some(":") {
            text.replace_range(sign..=sign, "+");
        }
    }
    OffsetDateTime::parse(&text, &Rfc3339).map_err(|e| {
        bad_param(
            "at",
            ErrorCode::InvalidFormat,
            format!("at must be an RFC 3339 timestamp with a time zone, such as 2024-01-31T12:00:00Z or 2024-01-31T13:00:00+01:00 (got {raw:?}: {e})"),
        )
    })
}

/// A record's events, oldest first.
#[utoipa::path(
    get, path = "/records/{id}/events", tag = "records",
    params(("id" = String, Path, description = "The record id")),
    responses(
        (status = 200, description = "The events in seq order", body = Vec<Event>),
        (status = 404, description = "No such record", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn events(
    State(app): State<AppState>,
    Path(raw): Path<String>,
    _: Params<NoParams>,
) -> Result<Json<Vec<Event>>, Problem> {
    Ok(Json(stored(&app, &raw).await?.events))
}

/// Filters of `GET /records`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only this registry (compared after canonicalization: `VCS` finds `vcs`).
    pub registry: Option<String>,
    /// Only this vintage year.
    #[param(value_type = Option<u16>, minimum = 1900, maximum = 2100)]
    pub vintage: Option<String>,
    /// Only this status: ACTIVE, SOLD, RETIRED, CANCELLED or SPLIT (in any case).
    #[param(value_type = Option<Status>)]
    pub status: Option<String>,
    /// Only records this holder holds (SPEC §6: the latest buyer, inherited
    /// by a split's children); compared without surrounding spaces.
    pub holder: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9a-fA-F]{32}$")]
    pub cursor: Option<String>,
    /// `csv` or `jsonl`: every matching record as an export (issue 16),
    /// streamed, one row per record, instead of a page (`limit` and `cursor`
    /// are then ignored). `Accept: text/csv` asks for CSV too; `json` (a
    /// page) is the default.
    #[param(value_type = Option<FormatName>)]
    pub format: Option<String>,
}

/// The values of `format` (for the document: the handler reads the text).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum FormatName {
    /// A page of records.
    Json,
    /// Every matching record, as CSV.
    Csv,
    /// Every matching record, as JSON lines.
    Jsonl,
}

/// One page of records.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecordPage {
    /// The records, oldest first.
    pub items: Vec<RecordBody>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Reads `limit`: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
pub(crate) fn parse_limit(raw: Option<&str>) -> Result<u32, Problem> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIMIT);
    };
    let raw = raw.trim();
    let limit: u32 = raw.parse().map_err(|_| {
        bad_param(
            "limit",
            super::integer_error(raw),
            format!("limit must be an integer from 1 to {MAX_LIMIT}"),
        )
    })?;
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(bad_param(
            "limit",
            ErrorCode::OutOfRange,
            format!("limit must be from 1 to {MAX_LIMIT}"),
        ))
    }
}

/// Cursors are opaque to clients: the position, as hex of its 16 bytes.
fn encode_cursor(p: Position) -> String {
    let mut bytes = [0_u8; 16];
    let (tx, pos) = bytes.split_at_mut(8);
    tx.copy_from_slice(&p.tx.to_be_bytes());
    pos.copy_from_slice(&p.pos.to_be_bytes());
    hex::encode(bytes)
}

fn decode_cursor(raw: &str) -> Result<Position, Problem> {
    let bad = || {
        bad_param(
            "cursor",
            ErrorCode::InvalidFormat,
            "cursor must be a next_cursor this server returned".to_owned(),
        )
    };
    let bytes: [u8; 16] = hex::decode(raw)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    let (Some(tx), Some(pos)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) else {
        return Err(bad());
    };
    Ok(Position {
        tx: i64::from_be_bytes(*tx),
        pos: i64::from_be_bytes(*pos),
    })
}

fn parse_status(raw: &str) -> Result<Status, Problem> {
    serde_json::from_value(serde_json::Value::String(raw.trim().to_ascii_uppercase())).map_err(
        |_| {
            bad_param(
                "status",
                ErrorCode::NotAllowed,
                format!(
                    "status must be one of {}",
                    Status::ALL.map(Status::as_str).join(", ")
                ),
            )
        },
    )
}

fn parse_vintage(raw: &str) -> Result<u16, Problem> {
    vintage_year(&FieldValue::Text(raw.to_owned())).map_err(|code| {
        let error = FieldError::new("vintage", code);
        super::invalid_query(vec![error])
    })
}

/// Records, oldest first, filtered, a page at a time.
///
/// Pages are keyed on the order records were stored in, so paging while
/// records are being added gives no duplicates and no gaps.
#[utoipa::path(
    get, path = "/records", tag = "records",
    params(ListParams),
    responses(
        (status = 200, description = "One page; with `format=csv` or `jsonl` (or `Accept: text/csv`), every matching record as an export, one row per record (columns: see the README)", body = RecordPage,
            content(
                (RecordPage = "application/json"),
                (String = "text/csv"),
                (String = "application/x-ndjson"),
            )),
        (status = 422, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(
    State(app): State<AppState>,
    headers: axum::http::HeaderMap,
    Params(p): Params<ListParams>,
) -> Result<Response, Problem> {
    let wants_csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.to_ascii_lowercase().contains("text/csv"));
    let format = match p.format.as_deref().map(str::trim) {
        Some("csv") => Some(ExportFormat::Csv),
        Some("jsonl") => Some(ExportFormat::Jsonl),
        Some("json") => None,
        Some(other) => {
            return Err(super::bad_param(
                "format",
                ErrorCode::InvalidChoice,
                format!("format must be \"json\", \"csv\" or \"jsonl\", not {other:?}"),
            ))
        }
        None if wants_csv => Some(ExportFormat::Csv),
        None => None,
    };
    let query = ListQuery {
        registry: p.registry.as_deref().map(canonical_text),
        vintage: p.vintage.as_deref().map(parse_vintage).transpose()?,
        status: p.status.as_deref().map(parse_status).transpose()?,
        holder: p.holder.as_deref().map(|h| py_strip(h).to_owned()),
        after: p.cursor.as_deref().map(decode_cursor).transpose()?,
        limit: parse_limit(p.limit.as_deref())?,
    };
    if let Some(format) = format {
        return export_response(app, query, format).await;
    }
    let page = app.store.list(query).await?;
    let items = page
        .items
        .into_iter()
        .map(RecordBody::of)
        .collect::<Result<_, _>>()?;
    Ok(Json(RecordPage {
        items,
        next_cursor: page.next.map(encode_cursor),
    })
    .into_response())
}

/// Every record `query` matches, as an export streamed page by page. The
/// first page is read before the answer starts, so that a failure then (the
/// database, or every connection exports may use being in use) is its own
/// status; a failure after the first bytes ends the body early. The last
/// line of a complete CSV export ends with CRLF.
async fn export_response(
    app: AppState,
    query: ListQuery,
    format: ExportFormat,
) -> Result<Response, Problem> {
    use futures_util::{stream, StreamExt};
    let header_line = match format {
        ExportFormat::Csv => Some(export::csv_header()),
        _ => None,
    };
    let mut pages = Box::pin(export::pages(app.store, query));
    let first = pages.next().await.transpose()?;
    let pages = stream::iter(first.map(Ok)).chain(pages);
    let body = stream::iter(header_line.map(|h| Ok::<_, StoreError>(axum::body::Bytes::from(h))))
        .chain(pages.map(move |page| {
            let mut out = Vec::new();
            for record in &page? {
                let row = export::row(record)?;
                out.extend(match format {
                    ExportFormat::Jsonl => export::json_row(&row),
                    _ => export::csv_row(&row),
                });
            }
            Ok(axum::body::Bytes::from(out))
        }));
    let content_type = match format {
        ExportFormat::Jsonl => "application/x-ndjson",
        _ => "text/csv; charset=utf-8",
    };
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// What happened to one input of a batch.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// The record is new.
    Created,
    /// An identical record was there already.
    Existing,
    /// Nothing was stored for this input; see `errors` or `detail`.
    Error,
}

/// The outcome of one input of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BatchItem {
    /// The input's position in the request, from 0.
    pub index: usize,
    /// What happened.
    pub outcome: Outcome,
    /// The record id, when the input was valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The record's status, when it was created or found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// A stable code, for errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What went wrong, for errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The field errors, for invalid inputs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// What the client may not expect about a stored record (see
    /// [`RecordBody`]'s `warnings`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The outcomes of a batch, in input order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BatchResult {
    /// One per input.
    pub items: Vec<BatchItem>,
}

impl BatchItem {
    fn error(index: usize, id: Option<String>, problem: Problem) -> Self {
        Self {
            index,
            outcome: Outcome::Error,
            id,
            status: None,
            code: Some(problem.code),
            detail: Some(problem.detail),
            errors: problem.errors,
            warnings: Vec::new(),
        }
    }
}

/// Creates up to 1,000 records in one request (one transaction).
#[utoipa::path(
    post, path = "/records/batch", tag = "records",
    request_body(content = crate::openapi::BatchInput, description = "A JSON array of record inputs; each is checked on its own"),
    responses(
        (status = 200, description = "One outcome per input, in input order; an input that is not a valid record (whatever its JSON type) has the outcome `error` with its `code` and field `errors`, and the others are stored all the same", body = BatchResult),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "More than 1,000 inputs, or too large a body", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body is not an array", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn batch(
    State(app): State<AppState>,
    Call { caller, key }: Call,
    _: Params<NoParams>,
    body: JsonBody,
) -> Result<Response, Problem> {
    let serde_json::Value::Array(inputs) = body.required()? else {
        return Err(Problem::invalid(
            "invalid_batch",
            "the body must be a JSON array of records",
            vec![FieldError::with_message(
                "body",
                ErrorCode::NotAnObject,
                "body must be a JSON array of record objects".to_owned(),
            )],
        )
        .with_help("send `[{...}, {...}]`: up to 1,000 record inputs, each checked on its own"));
    };
    if inputs.len() > MAX_BATCH {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_records",
            format!(
                "a batch takes at most {MAX_BATCH} records; this one has {}",
                inputs.len()
            ),
        )
        .with_help("split the input into several batches"));
    }
    let key = key.map(|key| (key, render_batch as RenderOutcomes));
    Ok(
        match create_all(app.store.as_ref(), inputs, caller.actor, key).await? {
            Answer::Kept(saved) => idempotency::respond(saved, false),
            Answer::Replayed(saved) => idempotency::respond(saved, true),
            Answer::Done(outcomes) => idempotency::respond(render_batch(&outcomes.each()), false),
        },
    )
}

/// The answer to `POST /records/batch`: one item per input.
fn render_batch(outcomes: &[create::Outcome<'_>]) -> SavedResponse {
    let items = outcomes
        .iter()
        .enumerate()
        .map(|(index, outcome)| match outcome {
            create::Outcome::Invalid(e) => BatchItem::error(index, None, (*e).clone().into()),
            create::Outcome::Stored(Ok(created)) => {
                let (outcome, record) = match created {
                    Created::New(r) => (Outcome::Created, r),
                    Created::Existing(r) => (Outcome::Existing, r),
                };
                match write::history(record.id, &record.events) {
                    Ok(state) => BatchItem {
                        index,
                        outcome,
                        id: Some(record.id.to_string()),
                        status: Some(state.status),
                        code: None,
                        detail: None,
                        errors: Vec::new(),
                        warnings: record.canonical.block_warning().into_iter().collect(),
                    },
                    Err(e) => BatchItem::error(index, Some(record.id.to_string()), e.into()),
                }
            }
            create::Outcome::Stored(Err(e)) => {
                let id = match e {
                    StoreError::Conflict(id) | StoreError::NotFound(id) => Some(id.to_string()),
                    _ => None,
                };
                BatchItem::error(index, id, Problem::of(e))
            }
        })
        .collect();
    idempotency::json(StatusCode::OK, &BatchResult { items })
}

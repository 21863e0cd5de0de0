//! The HTTP layer: routing, authentication, body reading. Each submodule holds
//! the handlers of one resource; the core makes every decision about records
//! and events, the store keeps them.

mod docs;
pub(crate) mod events;
pub(crate) mod health;
pub(crate) mod ids;
pub(crate) mod imports;
pub(crate) mod lineage;
pub(crate) mod log;
#[cfg(feature = "page")]
pub(crate) mod page;
pub(crate) mod records;
pub(crate) mod summary;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use carbon_tracker_core::{ErrorCode, FieldError};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::problem::Problem;
use crate::store::Store;

/// The UTF-8 byte-order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Largest body of a single-record request.
pub const BODY_LIMIT: usize = 64 * 1024;
/// Largest body of `POST /records/batch` (1,000 records of up to ~4 KB).
pub const BATCH_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// `API_TOKEN` and `--private-reads` (SPEC §8).
    pub access: crate::access::Access,
    /// `Idempotency-Key` settings and the keys in flight (SPEC §8).
    pub idempotency: Arc<crate::idempotency::Settings>,
    /// The rate limit per key or address (`--rate-limit`), if any.
    pub limiter: Option<Arc<crate::limits::Limiter>>,
    /// The Merkle log of every event (SPEC §7); `None` with `--no-log`.
    pub log: Option<Arc<crate::tlog::Log>>,
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/records", post(records::create).get(records::list))
        .route(
            "/records/batch",
            post(records::batch).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        )
        .route(
            "/imports",
            post(imports::create).layer(DefaultBodyLimit::max(imports::IMPORT_BODY_LIMIT)),
        )
        .route("/records/{id}", get(records::get))
        .route("/records/{id}/events", get(records::events))
        .route("/records/{id}/lineage", get(lineage::lineage))
        .route("/summary", get(summary::summary))
        .route("/records/{id}/certificate", get(log::certificate))
        .route("/events/{id}/proof", get(log::proof))
        .route("/log/checkpoint", get(log::checkpoint))
        .route("/log/key", get(log::key))
        .route("/log/consistency", get(log::consistency))
        .route("/records/{id}/sell", post(events::sell))
        .route("/records/{id}/retire", post(events::retire))
        .route("/records/{id}/cancel", post(events::cancel))
        .route("/ids", post(ids::derive))
        .route("/events", get(events::feed))
        .route("/health", get(health::health))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // These run after `authorize`, which names the key a request is
        // made with: limits count per key, idempotency keys are per key.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::idempotency::guard,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::limits::rate_limited,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::access::authorize,
        ))
        .with_state(state);
    let app = api.merge(docs::routes());
    #[cfg(feature = "page")]
    let app = app.merge(page::routes());
    #[cfg(not(feature = "page"))]
    let app = app.route("/", get(no_page));
    app.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(crate::problem::log_failures))
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
    .with_help("records and events are never updated or deleted; see /docs")
}

/// `/` in a build without the `page` feature.
#[cfg(not(feature = "page"))]
async fn no_page() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "no_route",
        "this build of the server has no page at / (built without the `page` feature)",
    )
    .with_help(
        "the API is served as usual; see /docs, or build with the default features (./run-server)",
    )
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "no_route", "no such endpoint")
        .with_help("see /docs for the endpoints")
}

/// Who calls, and the call's `Idempotency-Key`.
pub(crate) struct Call {
    /// The caller (SPEC §8).
    pub(crate) caller: crate::access::Caller,
    /// The `Idempotency-Key`, checked and fingerprinted.
    pub(crate) key: Option<crate::store::IdempotencyKey>,
}

impl<S: Send + Sync> FromRequestParts<S> for Call {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            caller: parts
                .extensions
                .get::<crate::access::Caller>()
                .cloned()
                .unwrap_or_default(),
            key: parts
                .extensions
                .get::<crate::store::IdempotencyKey>()
                .cloned(),
        })
    }
}

/// A JSON request body, read with the core's exact-number JSON: `None` when
/// the body is empty.
pub struct JsonBody(pub Option<Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|essence| {
                let essence = essence.trim().to_ascii_lowercase();
                essence == "application/json" || essence.ends_with("+json")
            });
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the request body is larger than this endpoint accepts",
                )
                .with_help(format!(
                    "single requests take up to {BODY_LIMIT} bytes, batches up to {BATCH_BODY_LIMIT}"
                ))
            } else {
                Problem::new(r.status(), "unreadable_body", r.body_text())
                    .with_help("send the whole body, as JSON, within the server's read timeout")
            }
        })?;
        // A UTF-8 byte-order mark, which RFC 8259 §8.1 lets a reader ignore
        // (Windows tools write one).
        let bytes = bytes.strip_prefix(BOM).unwrap_or(&bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        if is_json != Some(true) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON",
            )
            .with_help("send `Content-Type: application/json`"));
        }
        serde_json::from_slice(bytes)
            .map(|v| Self(Some(v)))
            .map_err(|e| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    format!("the body is not valid JSON: {e}"),
                )
                .with_help("send one JSON value in UTF-8; the detail names the line and column where reading stopped")
            })
    }
}

impl JsonBody {
    /// The body, which this endpoint requires.
    pub fn required(self) -> Result<Value, Problem> {
        self.0.ok_or_else(|| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "the request needs a JSON body",
            )
            .with_help("send the body as JSON with `Content-Type: application/json`; /docs shows its shape")
        })
    }
}

/// Query parameters; a query string that cannot be read is a 422 naming the
/// parameter (an unknown or repeated one included).
///
/// Read as axum's `Query` reads it (`serde_urlencoded`), with the path of
/// the failing parameter kept (`serde_path_to_error`), so that the error's
/// `field` is the parameter rather than the whole query.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or_default();
        let params = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(params)
            .map(Self)
            .map_err(|e| {
                let reason = e.inner().to_string();
                // A repeated or missing key fails past it, at the top:
                // serde's message (`duplicate field `status``, `missing
                // field `from``) names it.
                let named = |prefix: &str| {
                    reason
                        .strip_prefix(prefix)
                        .and_then(|rest| rest.split('`').next())
                };
                let missing = named("missing field `");
                let path = e.path().to_string();
                let field = if path == "." {
                    named("duplicate field `")
                        .or(missing)
                        .unwrap_or("query")
                        .to_owned()
                } else {
                    path
                };
                // serde's words for a key the parameters do not have.
                let code = if reason.starts_with("unknown field") {
                    ErrorCode::UnknownField
                } else if missing.is_some() {
                    ErrorCode::Missing
                } else {
                    ErrorCode::InvalidFormat
                };
                bad_param(&field, code, format!("query parameter {field}: {reason}"))
            })
    }
}

/// The query of an endpoint that takes no parameters: any key in it is a 422
/// `unknown_field` naming it, as on the endpoints that take some (an
/// `?at=` sent to `/records/{id}/events` would otherwise be ignored, and the
/// client would read the current history as the one it asked for).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoParams {}

/// The code for a parameter that does not read as the integer it must be:
/// `out_of_range` for digits past the type's largest value (a whole number
/// all the same), `not_an_integer` for anything else.
pub(crate) fn integer_error(raw: &str) -> ErrorCode {
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        ErrorCode::OutOfRange
    } else {
        ErrorCode::NotAnInteger
    }
}

/// A 422 for one bad query parameter.
pub fn bad_param(field: &str, code: ErrorCode, message: String) -> Problem {
    invalid_query(vec![FieldError::with_message(field, code, message)])
}

/// The 422 `invalid_query` for the query parameters `errors` name.
pub fn invalid_query(errors: Vec<FieldError>) -> Problem {
    let detail = errors
        .iter()
        .map(|e| e.message.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    Problem::invalid("invalid_query", detail, errors)
        .with_help("fix or leave out the parameter named in `errors`; /docs lists each endpoint's query parameters")
}

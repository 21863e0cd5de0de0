//! The HTTP layer: routing, authentication, body reading. Each submodule holds
//! the handlers of one resource; the core makes every decision about records
//! and events, the store keeps them.

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
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use carbon_tracker_core::{ErrorCode, FieldError};
use serde::de::DeserializeOwned;
use serde_json::Value;
use subtle::ConstantTimeEq;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::ApiToken;
use crate::openapi::ApiDoc;
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
    /// When set, POSTs other than `/ids` need `Authorization: Bearer <token>`.
    pub api_token: Option<Arc<ApiToken>>,
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
        .layer(middleware::from_fn(idempotency_key_form))
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state);
    let app = api.merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()));
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

/// Checks the bearer token on writes, in constant time.
///
/// The header is read as RFC 6750 §2.1 and RFC 9110 §11 spell it: the scheme
/// in any case (`Bearer`, `bearer`, `BEARER`), one or more spaces, the token.
/// A 401 says which part is wrong: no header, another scheme, no token, or a
/// token that is not this server's.
async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(token) = &state.api_token else {
        return next.run(request).await;
    };
    if request.method() != Method::POST || request.uri().path() == "/ids" {
        return next.run(request).await;
    }
    let failure = match bearer_token(request.headers().get(header::AUTHORIZATION)) {
        Ok(presented) if bool::from(presented.as_bytes().ct_eq(token.as_bytes())) => {
            return next.run(request).await;
        }
        Ok(_) => "the bearer token is not the one this server was started with".to_owned(),
        Err(failure) => failure,
    };
    let mut response = Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", failure)
        .with_help("send `Authorization: Bearer <token>` with the token the server was started with (API_TOKEN)")
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer"),
    );
    response
}

/// The header that makes a write safe to retry (issue 15; the OpenAPI
/// document describes it on every POST but `/ids`).
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Refuses an `Idempotency-Key` header that is not 1 to 255 printable ASCII
/// characters, with a 400 naming the header, on the POSTs that take one.
async fn idempotency_key_form(request: Request, next: Next) -> Response {
    if request.method() == Method::POST && request.uri().path() != "/ids" {
        for value in request.headers().get_all(IDEMPOTENCY_KEY) {
            let bytes = value.as_bytes();
            if bytes.is_empty()
                || bytes.len() > 255
                || !bytes.iter().all(|b| (0x20..=0x7e).contains(b))
            {
                return Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_header",
                    "the Idempotency-Key header must be 1 to 255 printable ASCII characters",
                )
                .with_help("send a fresh random key per operation, such as a UUID, and the same key when retrying it")
                .into_response();
            }
        }
    }
    next.run(request).await
}

/// The token of an `Authorization: Bearer <token>` header, or what is wrong
/// with the header's spelling.
fn bearer_token(value: Option<&axum::http::HeaderValue>) -> Result<&str, String> {
    let value = value
        .ok_or("this server needs `Authorization: Bearer <token>` on writes; the request has none")?
        .to_str()
        .map_err(|_| "the Authorization header holds bytes that are not visible ASCII")?
        .trim_matches([' ', '\t']);
    let Some((scheme, token)) = value.split_once([' ', '\t']) else {
        return Err(if value.eq_ignore_ascii_case("bearer") {
            "the Authorization header has the Bearer scheme but no token".to_owned()
        } else {
            "the Authorization header has no scheme: write `Bearer <token>`".to_owned()
        });
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(format!(
            "the Authorization header uses the {scheme:?} scheme; this server takes `Bearer <token>`"
        ));
    }
    Ok(token.trim_start_matches([' ', '\t']))
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
        })
    }
}

/// Query parameters; a query string that cannot be read is a 422.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(params)| Self(params))
            .map_err(|e| bad_param("query", ErrorCode::InvalidFormat, e.body_text()))
    }
}

/// A 422 for one bad query parameter.
pub fn bad_param(field: &str, code: ErrorCode, message: String) -> Problem {
    Problem::invalid(
        "invalid_query",
        message.clone(),
        vec![FieldError::with_message(field, code, message)],
    )
}

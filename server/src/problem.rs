//! RFC 9457 problem details: every error response of the server.
//!
//! Clients of the original service read `detail`, so it is always there; the
//! core's stable `code` and, for validation, its field errors come along.
//! Turning an error into a response has no side effect: a failure of the
//! server's own (5xx) carries its typed cause in the response's extensions,
//! and [`log_failures`], a layer, logs it.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use carbon_tracker_core::api::{ApiError, ErrorKind};
use carbon_tracker_core::lifecycle::TransitionCode;
use carbon_tracker_core::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;

/// An error response (`application/problem+json`). Its `type` and `title`
/// follow from `code` and `status` when it is written.
#[derive(Debug)]
pub struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine code, e.g. `invalid_record` or `already_final`.
    pub code: String,
    /// What went wrong, for a human.
    pub detail: String,
    /// How to fix it, when there is a hint.
    pub help: Option<String>,
    /// Every field error, for validation problems.
    pub errors: Vec<FieldError>,
    /// The error behind a failure of the server's own, for the log.
    pub cause: Option<Cause>,
}

/// The error behind a 5xx, kept whole (with its `source` chain) for
/// [`log_failures`].
#[derive(Clone, Debug)]
pub struct Cause(pub Arc<StoreError>);

/// Logs every response that carries a [`Cause`], with the error's whole
/// chain of sources.
pub(crate) async fn log_failures(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let response = next.run(request).await;
    if let Some(Cause(error)) = response.extensions().get::<Cause>() {
        tracing::error!(%method, path, status = response.status().as_u16(), error = %chain(error.as_ref()), "request failed");
    }
    response
}

/// An error and its sources on one line (drivers' own `Display` often stops
/// at "db error" or "error connecting to server").
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        // An error that writes its source into its own message already
        // said it.
        let said = s.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = s.source();
    }
    text
}

/// The JSON form of a [`Problem`].
#[derive(Serialize, ToSchema)]
#[schema(as = Problem)]
struct ProblemBody<'a> {
    /// A URI naming the kind of problem: `urn:carbon-tracker:problem:<code>`.
    #[serde(rename = "type")]
    type_uri: String,
    /// A short summary of the kind of problem (the status's reason phrase).
    title: &'a str,
    /// The HTTP status code.
    status: u16,
    /// What went wrong, for a human.
    detail: &'a str,
    /// A stable machine code, e.g. `invalid_record` or `already_final`.
    code: &'a str,
    /// How to fix it, when there is a hint.
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
    /// Every field error, for validation problems.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldError],
}

impl utoipa::PartialSchema for Problem {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        ProblemBody::schema()
    }
}

impl ToSchema for Problem {}

impl Problem {
    /// A problem with `status`, a stable `code` and a human `detail`.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            code: code.to_owned(),
            help: None,
            errors: Vec::new(),
            cause: None,
        }
    }

    /// Adds a hint.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// A 422 listing field errors.
    pub fn invalid(code: &str, detail: impl Into<String>, errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
        }
    }

    /// A 404 for a record id.
    pub fn not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no record has the id {id}"),
        )
        .with_help("check the id: GET /records lists the stored records, and POST /ids derives a record's id from its fields")
    }
}

impl From<ApiError> for Problem {
    fn from(e: ApiError) -> Self {
        let status = match e.kind {
            ErrorKind::Validation | ErrorKind::Parse => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Transition => StatusCode::CONFLICT,
        };
        Self {
            help: e.help,
            errors: e.errors,
            ..Self::new(status, &e.code, e.message)
        }
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        let problem = Self::of(&e);
        if problem.status.is_server_error() {
            problem.caused_by(e)
        } else {
            problem
        }
    }
}

impl Problem {
    /// The answer to a store error (a 5xx without its cause: see
    /// [`From<StoreError>`], which keeps it for the log).
    pub(crate) fn of(e: &StoreError) -> Self {
        match e {
            StoreError::NotFound(id) => Self::not_found(&id.to_string()),
            StoreError::Conflict(_) => {
                Self::new(StatusCode::CONFLICT, "id_conflict", e.to_string()).with_help(
                    "the stored record's canonical fields differ; this needs an operator",
                )
            }
            StoreError::SerialOverlap { .. } => Self::new(
                StatusCode::CONFLICT,
                TransitionCode::SerialOverlap.as_str(),
                e.to_string(),
            )
            .with_help("the same credits cannot be registered twice (SPEC §6): GET /records/{id} of the tracked block shows who holds them; a block identical to it is that record"),
            StoreError::IdempotencyKeyReused => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                e.to_string(),
            )
            .with_help("a retry sends the same method, path and body as the first request; a new request needs a new key"),
            StoreError::Transition(t) => {
                // A malformed payload is a bad request; any other transition
                // error is a conflict with the record's state.
                let status = if t.is_invalid_input() {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::CONFLICT
                };
                Self {
                    status,
                    ..ApiError::from(t.clone()).into()
                }
            }
            StoreError::WriteConflict(_) => {
                Self::new(StatusCode::CONFLICT, "write_conflict", chain(e))
                    .with_help("other requests changed the same records at the same moment, or the write broke a rule of the schema; read the record and retry")
            }
            StoreError::Unavailable { .. } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", chain(e))
                    .with_help("retry later: with the same Idempotency-Key, a retry is never done twice (SPEC §8); a create is safe to repeat anyway")
            }
            StoreError::Corrupt { record, .. } => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "corrupt_record",
                match record {
                    Some(id) => format!("record {id} is stored in a form this server cannot read"),
                    None => "a stored record is in a form this server cannot read".to_owned(),
                },
            )
            .with_help("retrying will not help: an operator must look at the record (the server's log names the fault); other records are served as usual"),
        }
    }
}

impl Problem {
    fn caused_by(self, e: StoreError) -> Self {
        Self {
            cause: Some(Cause(Arc::new(e))),
            ..self
        }
    }
}

impl Problem {
    fn body(&self) -> ProblemBody<'_> {
        ProblemBody {
            type_uri: format!("urn:carbon-tracker:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: &self.detail,
            code: &self.code,
            help: self.help.as_deref(),
            errors: &self.errors,
        }
    }

    /// The problem as an answer kept for an `Idempotency-Key` (SPEC §8).
    pub(crate) fn saved(&self) -> crate::store::SavedResponse {
        crate::store::SavedResponse {
            status: self.status.as_u16(),
            headers: vec![(
                "content-type".to_owned(),
                "application/problem+json".to_owned(),
            )],
            body: serde_json::to_vec(&self.body()).unwrap_or_default(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(cause) = self.cause {
            response.extensions_mut().insert(cause);
        }
        response
    }
}

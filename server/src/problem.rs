//! RFC 9457 problem details: every error response of the server.
//!
//! Clients of the original service read `detail`, so it is always there; the
//! core's stable `code` and, for validation, its field errors come along.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use carbon_tracker_core::api::{ApiError, ErrorKind};
use carbon_tracker_core::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;

/// An error response (`application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:carbon-tracker:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, for a human.
    pub detail: String,
    /// A stable machine code, e.g. `invalid_record` or `already_final`.
    pub code: String,
    /// How to fix it, when there is a hint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Every field error, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// A problem with `status`, a stable `code` and a human `detail`.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            type_uri: format!("urn:carbon-tracker:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            help: None,
            errors: Vec::new(),
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
        match e {
            StoreError::NotFound(id) => Self::not_found(&id.to_string()),
            StoreError::Conflict(_) => {
                Self::new(StatusCode::CONFLICT, "id_conflict", e.to_string()).with_help(
                    "the stored record's canonical fields differ; this needs an operator",
                )
            }
            StoreError::Transition(t) => ApiError::from(t).into(),
            StoreError::Unavailable(_) => {
                tracing::error!(error = %e, "storage failed");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    e.to_string(),
                )
                .with_help("retry later; nothing was stored")
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(&self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

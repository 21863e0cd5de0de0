//! `GET /health`.

use axum::extract::State;
use axum::Json;
use carbon_tracker_core::ID_SCHEME;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::problem::Problem;

/// The server is up and its database answers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always `ok`.
    pub status: &'static str,
    /// The record id scheme, `v1`.
    pub id_scheme: &'static str,
    /// The server's version.
    pub version: &'static str,
}

/// Whether the server and its database work.
#[utoipa::path(
    get, path = "/health", tag = "health",
    responses(
        (status = 200, description = "Up", body = Health),
        (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn health(State(app): State<AppState>) -> Result<Json<Health>, Problem> {
    app.store.check().await?;
    Ok(Json(Health {
        status: "ok",
        id_scheme: ID_SCHEME,
        version: env!("CARGO_PKG_VERSION"),
    }))
}

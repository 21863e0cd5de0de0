//! `POST /ids`: the id of a record, computed and not stored.

use axum::Json;
use carbon_tracker_core::api::{self, DerivedId};

use super::{JsonBody, NoParams, Params};
use crate::problem::Problem;

/// The v1 id and canonical fields of a record; nothing is stored, and no
/// token is needed.
#[utoipa::path(
    post, path = "/ids", tag = "ids",
    request_body(content = crate::openapi::RecordInput),
    responses(
        (status = 200, description = "The id and canonical fields", body = DerivedId),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn derive(
    _: Params<NoParams>,
    body: JsonBody,
) -> Result<Json<DerivedId>, Problem> {
    let input = api::record_input_from_value(body.required()?)?;
    Ok(Json(api::derive_id(&input)?))
}

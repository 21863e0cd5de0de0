//! Lifecycle events: sell, retire, cancel, and the global feed.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use carbon_tracker_core::lifecycle::{Event, TransitionCode};
use carbon_tracker_core::{Acted, Action, ErrorCode, FieldError, Split};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::records::{parse_limit, record_id};
use super::{bad_param, AppState, Call, JsonBody, NoParams, Params};
use crate::idempotency;
use crate::problem::Problem;
use crate::store::{Answer, Append, Render, SavedResponse, StoreError};

/// What a sell, retire or cancel did: the action's event, and for a partial
/// action on a block the split it made (SPEC §6). A whole action's answer is
/// the event alone, as before blocks.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActedBody {
    /// The action's event: on the record addressed, or, after a split, on
    /// the front child (the acted-on part).
    #[serde(flatten)]
    pub event: Event,
    /// The split: the parent's `SPLIT` event, and the front and back
    /// children with their ids and events. Absent for a whole action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
}

impl ActedBody {
    /// The answer to a lifecycle call that took effect.
    fn render(acted: &Acted) -> SavedResponse {
        match Self::new(acted.clone()) {
            Ok(body) => idempotency::json(StatusCode::OK, &body),
            Err(problem) => problem.saved(),
        }
    }

    fn new(acted: Acted) -> Result<Self, Problem> {
        match acted {
            Acted::Whole(event) => Ok(Self { event, split: None }),
            Acted::Split(split) => {
                let event = split.front.events.last().cloned().ok_or_else(|| {
                    Problem::from(StoreError::corrupt(
                        Some(split.front.id),
                        "split",
                        "the front child has no events",
                    ))
                })?;
                Ok(Self {
                    event,
                    split: Some(*split),
                })
            }
        }
    }
}

/// Acts on a record; the core checks the payload and the transition, and
/// splits a block for a partial action.
async fn append(
    app: &AppState,
    call: Call,
    raw_id: &str,
    action: Action,
    body: JsonBody,
    required: bool,
) -> Result<Response, Problem> {
    let id = record_id(raw_id)?;
    let body = if required {
        Some(body.required()?)
    } else {
        body.0
    };
    let payload =
        match body {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(map),
            Some(_) => return Err(Problem::invalid(
                TransitionCode::InvalidPayload.as_str(),
                "the body must be a JSON object",
                vec![FieldError::new("body", ErrorCode::NotAnObject)],
            )
            .with_help(
                "send the action's fields as one JSON object, or no body at all; /docs lists them",
            )),
        };
    let request = Append {
        record: id,
        action,
        payload,
    };
    let render: Render<Acted> = Arc::new(ActedBody::render);
    let write = idempotency::write(&call.caller, call.key, Arc::clone(&render));
    Ok(match app.store.append(request, write).await? {
        Answer::Done(acted) => idempotency::respond(render(&acted), false),
        Answer::Kept(saved) => idempotency::respond(saved, false),
        Answer::Replayed(saved) => idempotency::respond(saved, true),
    })
}

/// Sells a record (again, if it was sold before).
#[utoipa::path(
    post, path = "/records/{id}/sell", tag = "lifecycle",
    params(("id" = String, Path, description = "The record id")),
    request_body(content = crate::openapi::SellPayload),
    responses(
        (status = 200, description = "The SOLD event; after a partial action (`quantity` less than the block holds), on the front child, with `split`", body = ActedBody),
        (status = 404, description = "No such record", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_final`: the record is retired, cancelled or split (a whole action); `insufficient_quantity`: more credits than the block's remainder holds", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad payload (`errors` lists every field); `not_divisible`: a partial action on a record that is not a block", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn sell(
    State(app): State<AppState>,
    call: Call,
    Path(id): Path<String>,
    _: Params<NoParams>,
    body: JsonBody,
) -> Result<Response, Problem> {
    append(&app, call, &id, Action::Sell, body, true).await
}

/// Retires a record: final.
#[utoipa::path(
    post, path = "/records/{id}/retire", tag = "lifecycle",
    params(("id" = String, Path, description = "The record id")),
    request_body(content = Option<crate::openapi::RetirePayload>, description = "Optional"),
    responses(
        (status = 200, description = "The RETIRED event; after a partial action (`quantity` less than the block holds), on the front child, with `split`", body = ActedBody),
        (status = 404, description = "No such record", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_final`: the record is retired, cancelled or split (a whole action); `insufficient_quantity`: more credits than the block's remainder holds", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad payload; `not_divisible`: a partial action on a record that is not a block", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn retire(
    State(app): State<AppState>,
    call: Call,
    Path(id): Path<String>,
    _: Params<NoParams>,
    body: JsonBody,
) -> Result<Response, Problem> {
    append(&app, call, &id, Action::Retire, body, false).await
}

/// Cancels a record: final.
#[utoipa::path(
    post, path = "/records/{id}/cancel", tag = "lifecycle",
    params(("id" = String, Path, description = "The record id")),
    request_body(content = Option<crate::openapi::CancelPayload>, description = "Optional"),
    responses(
        (status = 200, description = "The CANCELLED event; after a partial action (`quantity` less than the block holds), on the front child, with `split`", body = ActedBody),
        (status = 404, description = "No such record", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_final`: the record is retired, cancelled or split (a whole action); `insufficient_quantity`: more credits than the block's remainder holds", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad payload; `not_divisible`: a partial action on a record that is not a block", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn cancel(
    State(app): State<AppState>,
    call: Call,
    Path(id): Path<String>,
    _: Params<NoParams>,
    body: JsonBody,
) -> Result<Response, Problem> {
    append(&app, call, &id, Action::Cancel, body, false).await
}

/// Position in the feed.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct FeedParams {
    /// The id of the last event already seen (the previous `next_after`).
    #[param(format = Uuid)]
    pub after: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FeedPage {
    /// Events of all records, oldest first.
    pub items: Vec<Event>,
    /// Pass as `after` to continue (also once the feed is caught up, to poll).
    pub next_after: Option<Uuid>,
}

/// Every event of every record, in the order they were stored.
#[utoipa::path(
    get, path = "/events", tag = "lifecycle",
    params(FeedParams),
    responses(
        (status = 200, description = "One page of the feed", body = FeedPage),
        (status = 422, description = "A bad parameter or an unknown `after`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn feed(
    State(app): State<AppState>,
    Params(p): Params<FeedParams>,
) -> Result<Json<FeedPage>, Problem> {
    let limit = parse_limit(p.limit.as_deref())?;
    let unknown = || {
        bad_param(
            "after",
            ErrorCode::InvalidFormat,
            "after must be the id of an event of this server".to_owned(),
        )
    };
    let after = p
        .after
        .as_deref()
        .map(|a| Uuid::parse_str(a.trim()).map_err(|_| unknown()))
        .transpose()?;
    let items = app.store.feed(after, limit).await?.ok_or_else(unknown)?;
    let next_after = items.last().map(|e| e.id).or(after);
    Ok(Json(FeedPage { items, next_after }))
}

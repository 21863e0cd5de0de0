//! The OpenAPI 3.1 document, generated from the handlers and types.
//!
//! The request schemas here only describe bodies: the server reads them with
//! the core's own exact-number JSON reader, which accepts more spellings
//! (quantities as strings or numbers, vintages as integer strings) than a
//! derived schema could say.

use carbon_tracker_core::api::DerivedId;
use carbon_tracker_core::lifecycle::{Event, EventType, Status};
use carbon_tracker_core::{CanonicalRecord, ErrorCode, FieldError};
use utoipa::{OpenApi, ToSchema};

use crate::problem::Problem;
use crate::routes::{events, health, ids, records};

/// A record as a client sends it (`POST /records`, `/ids`, `/records/batch`).
#[derive(ToSchema)]
#[schema(example = json!({"project_name": "Solar Farm", "registry": "VCS", "vintage": 2023, "quantity": 100.1, "serial_number": "VCS-001"}))]
#[allow(
    dead_code,
    reason = "describes a request body; the core reads the body"
)]
pub struct RecordInputSchema {
    /// Project name: up to 256 characters, no `|`, no control characters.
    project_name: String,
    /// Registry, e.g. `VCS`.
    registry: String,
    /// Vintage year, 1900 to 2100: an integer or an integer string.
    #[schema(value_type = serde_json::Value, example = 2023)]
    vintage: i32,
    /// Quantity: a number or a decimal string, > 0 and < 10^14; truncated to 4 decimals.
    #[schema(value_type = serde_json::Value, example = "100.5")]
    quantity: String,
    /// Serial number.
    serial_number: String,
}

/// The body of `POST /records/{id}/sell`.
#[derive(ToSchema)]
#[schema(example = json!({"buyer": "Acme Corp", "price": "12.50", "currency": "USD"}))]
#[allow(
    dead_code,
    reason = "describes a request body; the core validates the payload"
)]
pub struct SellSchema {
    /// Who bought the credits (required).
    buyer: String,
    /// Price per credit, not negative: a number or a decimal string.
    #[schema(value_type = Option<serde_json::Value>)]
    price: Option<String>,
    /// Three uppercase letters, e.g. `USD`.
    currency: Option<String>,
    /// A free note, up to 1000 characters.
    note: Option<String>,
}

/// The body of `POST /records/{id}/retire` (optional).
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "describes a request body; the core validates the payload"
)]
pub struct RetireSchema {
    /// On whose behalf the credits were retired.
    beneficiary: Option<String>,
    /// Why.
    reason: Option<String>,
}

/// The body of `POST /records/{id}/cancel` (optional).
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "describes a request body; the core validates the payload"
)]
pub struct CancelSchema {
    /// Why.
    reason: Option<String>,
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Carbon Credit Tracker",
        description = "Carbon credits through their lifecycle, with deterministic v1 record ids. Errors are RFC 9457 problem+json.",
        license(name = "MIT"),
    ),
    paths(
        records::create, records::get, records::list, records::events, records::batch,
        events::sell, events::retire, events::cancel, events::feed,
        ids::derive, health::health,
    ),
    components(schemas(
        RecordInputSchema, SellSchema, RetireSchema, CancelSchema,
        records::RecordBody, records::RecordPage, records::BatchItem, records::BatchResult, records::Outcome,
        events::FeedPage, health::Health, Problem,
        CanonicalRecord, DerivedId, Event, EventType, Status, FieldError, ErrorCode,
    )),
    tags(
        (name = "records", description = "Create and read records"),
        (name = "lifecycle", description = "Sell, retire, cancel, and the event feed"),
        (name = "ids", description = "Compute ids without storing"),
        (name = "health", description = "Liveness"),
    ),
)]
pub struct ApiDoc;

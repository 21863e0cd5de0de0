//! The OpenAPI 3.1 document, generated from the handlers and types.
//!
//! The request body schemas are built from the core's own tables (the record
//! fields and their limits, the payload keys of each event type and their
//! rules), so the document cannot drift from what the core checks. The server
//! reads bodies with the core's exact-number JSON reader, which accepts the
//! spellings these schemas name (quantities as strings or numbers, vintages as
//! integer strings).

use carbon_tracker_core::api::DerivedId;
use carbon_tracker_core::lifecycle::{Event, EventType, Status, TransitionCode};
use carbon_tracker_core::{
    payload_fields, Block, CanonicalRecord, Child, ErrorCode, FieldError, PayloadRule, Scheme,
    Split, MAX_TEXT_CHARS, MAX_VINTAGE, MIN_VINTAGE, RECORD_FIELDS,
};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{OpenApi, PartialSchema, ToSchema};

use crate::problem::Problem;
use crate::routes::{events, health, ids, imports, lineage, log, records, summary};

/// Text or a number: how quantities, vintages and prices may be sent.
fn text_or_number(description: String) -> Schema {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Number))
        .item(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(description))
        .into()
}

/// A record as a client sends it (`POST /records`, `/ids`, `/records/batch`):
/// [`RECORD_FIELDS`] with their rules (SPEC §2).
pub(crate) struct RecordInput;

impl PartialSchema for RecordInput {
    fn schema() -> RefOr<Schema> {
        let text = format!(
            "text: at most {MAX_TEXT_CHARS} characters once canonicalized, not empty, no `|`, no control characters"
        );
        let mut object = ObjectBuilder::new().description(Some(
            "A record's five fields; other keys are ignored. Numbers keep their exact digits.",
        ));
        for name in RECORD_FIELDS {
            let schema: Schema = match name {
                "vintage" => text_or_number(format!(
                    "an integer year from {MIN_VINTAGE} to {MAX_VINTAGE}, or an integer string such as \"2023\""
                )),
                "quantity" => text_or_number(
                    "a decimal greater than 0 and below 10^14, as a number or a string (\"1E+2\" too); truncated to 4 decimals".to_owned(),
                ),
                _ => ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(text.clone()))
                    .into(),
            };
            object = object.property(name, schema).required(name);
        }
        RefOr::T(object.into())
    }
}

impl ToSchema for RecordInput {}

/// The payload of an event type, from the core's table of its keys.
fn payload_schema(event_type: EventType) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new()
        .description(Some(format!(
            "The {event_type} payload; unknown keys are refused."
        )))
        .additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
        ));
    for field in payload_fields(event_type) {
        let description = field.rule.describe();
        let schema: Schema = match field.rule {
            PayloadRule::Price => text_or_number(description),
            PayloadRule::Name(max) | PayloadRule::Note(max) => ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(max))
                .description(Some(description))
                .into(),
            PayloadRule::Currency => ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Z]{3}$"))
                .description(Some(description))
                .into(),
            PayloadRule::RecordId => ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[0-9a-f]{64}$"))
                .description(Some(description))
                .into(),
            PayloadRule::Credits => text_or_number(description),
            PayloadRule::OneOf(values) => ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(values.iter().copied()))
                .description(Some(description))
                .into(),
            PayloadRule::Country => ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Z]{2}$"))
                .description(Some(description))
                .into(),
            PayloadRule::Timestamp => ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(
                    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$",
                ))
                .description(Some(description))
                .into(),
        };
        object = object.property(field.name, schema);
        if field.required {
            object = object.required(field.name);
        }
    }
    RefOr::T(object.into())
}

macro_rules! payload {
    ($name:ident, $event_type:expr, $doc:literal) => {
        #[doc = $doc]
        pub(crate) struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                payload_schema($event_type)
            }
        }

        impl ToSchema for $name {}
    };
}

payload!(
    SellPayload,
    EventType::Sold,
    "The body of `POST /records/{id}/sell`."
);
payload!(
    RetirePayload,
    EventType::Retired,
    "The body of `POST /records/{id}/retire` (optional)."
);
payload!(
    CancelPayload,
    EventType::Cancelled,
    "The body of `POST /records/{id}/cancel` (optional)."
);

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Carbon Credit Tracker",
        description = "Carbon credits through their lifecycle, with deterministic v1 record ids. Errors are RFC 9457 problem+json.",
        license(name = "MIT"),
    ),
    paths(
        records::create, records::get, records::list, records::events, records::batch, lineage::lineage, summary::summary,
        log::checkpoint, log::key, log::proof, log::consistency, log::certificate,
        events::sell, events::retire, events::cancel, events::feed,
        ids::derive, health::health, imports::create,
    ),
    components(schemas(
        RecordInput, SellPayload, RetirePayload, CancelPayload,
        records::RecordBody, records::RecordPage, records::BatchItem, records::BatchResult, records::Outcome,
        summary::SummaryBody, summary::SummaryGroup, summary::SummaryTotal, crate::store::summary::GroupKey,
        events::FeedPage, events::ActedBody, lineage::LineageBody, lineage::Node, log::InclusionBody, log::ConsistencyBody, health::Health, Problem,
        crate::import::Summary, crate::import::Rejected, crate::import::Skipped,
        CanonicalRecord, DerivedId, Event, EventType, Status, Split, Child, FieldError, ErrorCode, TransitionCode, Block<'static>, Scheme,
    )),
    tags(
        (name = "records", description = "Create and read records"),
        (name = "lifecycle", description = "Sell, retire, cancel, and the event feed"),
        (name = "ids", description = "Compute ids without storing"),
        (name = "log", description = "The verifiable log: checkpoints, proofs, certificates (SPEC §7)"),
        (name = "health", description = "Liveness"),
    ),
)]
pub(crate) struct ApiDoc;

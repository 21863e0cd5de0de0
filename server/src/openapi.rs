//! The OpenAPI 3.1 document, generated from the handlers and types.
//!
//! The request body schemas are built from the core's own tables (the record
//! fields and their limits, the payload keys of each event type and their
//! rules), so the document cannot drift from what the core checks. The server
//! reads bodies with the core's exact-number JSON reader, which accepts the
//! spellings these schemas name (quantities as strings or numbers, vintages as
//! integer strings).

use crate::store::summary::GroupKey;
use carbon_tracker_core::api::DerivedId;
use carbon_tracker_core::lifecycle::{Event, EventType, Status, TransitionCode};
use carbon_tracker_core::{
    action_fields, country_codes, Block, CanonicalRecord, Child, ErrorCode, FieldError,
    PayloadRule, Scheme, Split, MAX_TEXT_CHARS, MAX_VINTAGE, MIN_VINTAGE, RECORD_FIELDS,
};
use utoipa::openapi::schema::{
    ArrayBuilder, ArrayItems, ObjectBuilder, OneOfBuilder, Schema, Type,
};

use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Required};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::problem::Problem;
use crate::routes::{events, health, ids, imports, lineage, log, records, summary};

/// Python's `str.strip()` whitespace, which the core trims from text
/// (Unicode `White_Space` and the separators U+001C–U+001F), as the inside
/// of a regular expression's character class.
const WS: &str = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Control characters (Unicode `Cc`), for a character class.
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";

/// Text the core trims, then checks: not empty, none of `forbidden` (a
/// character class's inside) once trimmed, at most `max` characters.
fn trimmed_text(forbidden: &str, max: usize, description: String) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!(
            "^[{WS}]*[^{forbidden}{WS}]([^{forbidden}]*[^{forbidden}{WS}])?[{WS}]*$"
        )))
        .max_length(Some(max))
        .description(Some(description))
        .into()
}

/// One of a number and a string, each with its own rules.
fn number_or_text(number: ObjectBuilder, text_pattern: String, description: String) -> Schema {
    OneOfBuilder::new()
        .item(number)
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(text_pattern)),
        )
        .description(Some(description))
        .into()
}

/// Below 10^14: the bound of quantities and prices.
const DECIMAL_LIMIT: f64 = 1e14;

/// A record as a client sends it (`POST /records`, `/ids`, `/records/batch`):
/// [`RECORD_FIELDS`] with their rules (SPEC §2).
///
/// The schema says what the core accepts, as far as JSON Schema can: a
/// text field's limits hold once it is canonicalized (trimmed, lowercased,
/// NFKC), which the pattern and `maxLength` bound on the raw text.
pub(crate) struct RecordInput;

impl PartialSchema for RecordInput {
    fn schema() -> RefOr<Schema> {
        let text = format!(
            "text: at most {MAX_TEXT_CHARS} characters once canonicalized (trimmed, lowercased, NFKC), not empty, no `|` (nor U+FF5C, which NFKC makes one), no control characters"
        );
        let mut object = ObjectBuilder::new().description(Some(
            "A record's five fields; other keys are ignored. Numbers keep their exact digits.",
        ));
        for name in RECORD_FIELDS {
            let schema: Schema = match name {
                "vintage" => number_or_text(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(MIN_VINTAGE))
                        .maximum(Some(MAX_VINTAGE)),
                    format!("^[{WS}]*\\+?0*(19[0-9]{{2}}|20[0-9]{{2}}|2100)[{WS}]*$"),
                    format!(
                        "an integer year from {MIN_VINTAGE} to {MAX_VINTAGE} (an integral number such as 2023.0 too), or an integer string such as \"2023\""
                    ),
                ),
                "quantity" => number_or_text(
                    ObjectBuilder::new()
                        .schema_type(Type::Number)
                        .minimum(Some(0.0001))
                        .exclusive_maximum(Some(DECIMAL_LIMIT)),
                    format!(
                        "^[{WS}]*\\+?0*([1-9][0-9]{{0,13}}(\\.[0-9]*)?|\\.[0-9]{{0,3}}[1-9][0-9]*)[{WS}]*$"
                    ),
                    "a decimal of at least 0.0001 and below 10^14, as a number or a decimal string; truncated to 4 decimals (exponent forms such as \"1E+2\" are read too)".to_owned(),
                ),
                _ => trimmed_text(&format!("|\\uff5c{CONTROL}"), MAX_TEXT_CHARS, text.clone()),
            };
            object = object.property(name, schema).required(name);
        }
        RefOr::T(object.into())
    }
}

impl ToSchema for RecordInput {}

/// The body of `POST /records/batch`: an array of up to 1,000 inputs, each
/// any JSON value. Each input is checked on its own (as [`RecordInput`]): one
/// that is not a valid record gets the outcome `error` with its `code` and
/// field `errors` in the 200 answer, and the others are stored all the same.
pub(crate) struct BatchInput;

impl PartialSchema for BatchInput {
    fn schema() -> RefOr<Schema> {
        RefOr::T(
            ArrayBuilder::new()
                .items(RefOr::T(Schema::Object(
                    ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
                        .description(Some(
                            "A record input (see RecordInput). Any JSON value is taken: an input that is not a valid record is reported in its own item of the answer (outcome `error`, with `code` and `errors`), and does not stop the others",
                        ))
                        .build(),
                )))
                .max_items(Some(crate::routes::records::MAX_BATCH))
                .description(Some("Up to 1,000 record inputs"))
                .into(),
        )
    }
}

impl ToSchema for BatchInput {}

/// The JSON form of `POST /imports`' file: an array of record inputs (the
/// tracker's own export adds columns, which the import reads too). Unlike a
/// batch, one rejected row stops the whole file (unless `skip_rejected`), so
/// each item is described as a valid [`RecordInput`].
pub(crate) struct ImportRecords;

impl PartialSchema for ImportRecords {
    fn schema() -> RefOr<Schema> {
        RefOr::T(
            ArrayBuilder::new()
                .items(RefOr::Ref(Ref::from_schema_name("RecordInput")))
                .description(Some(
                    "Record inputs, one per row; a JSON lines file (application/x-ndjson) holds the same objects one per line",
                ))
                .into(),
        )
    }
}

impl ToSchema for ImportRecords {}

/// The body of the action that appends `event_type`, from the core's table
/// of its keys: the event's payload keys and `quantity` (SPEC §6).
fn payload_schema(event_type: EventType) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new()
        .description(Some(format!(
            "The {event_type} payload, and `quantity` to act on part of a block (SPEC §6); unknown keys are refused."
        )))
        .additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
        ));
    for field in action_fields(event_type) {
        let description = field.rule.describe();
        let schema: Schema = match field.rule {
            PayloadRule::Price => number_or_text(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .minimum(Some(0))
                    .exclusive_maximum(Some(DECIMAL_LIMIT)),
                format!("^[{WS}]*\\+?([0-9]{{1,14}}(\\.[0-9]*)?|\\.[0-9]+)[{WS}]*$"),
                description,
            ),
            PayloadRule::Name(max) => trimmed_text(CONTROL, max, description),
            PayloadRule::Note(max) => ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"))
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
            PayloadRule::Credits => number_or_text(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(u64::MAX)),
                format!("^[{WS}]*\\+?0*[1-9][0-9]{{0,18}}[{WS}]*$"),
                description,
            ),
            PayloadRule::OneOf(values) => ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(values.iter().copied()))
                .description(Some(description))
                .into(),
            PayloadRule::Country => ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(country_codes()))
                .description(Some(description))
                .into(),
            PayloadRule::Timestamp => ObjectBuilder::new()
                .schema_type(Type::String)
                // A real date (29 February aside, which the pattern leaves
                // out), from year 1, without a leap second.
                .pattern(Some(concat!(
                    "^([0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)-",
                    "((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)",
                    "T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]+)?Z$",
                )))
                .description(Some(description))
                .into(),
        };
        if field.required {
            object = object.property(field.name, schema).required(field.name);
        } else {
            // The core reads `null` as a field not given (SPEC §3).
            object = object.property(
                field.name,
                utoipa::openapi::schema::OneOfBuilder::new()
                    .item(schema)
                    .item(ObjectBuilder::new().schema_type(Type::Null)),
            );
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
    modifiers(&Conventions),
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
        RecordInput, BatchInput, ImportRecords, SellPayload, RetirePayload, CancelPayload,
        records::RecordBody, records::RecordPage, records::BatchItem, records::BatchResult, records::Outcome,
        summary::SummaryBody, summary::SummaryGroup, summary::SummaryTotal, crate::store::summary::GroupKey,
        records::FormatName, imports::ImportFrom,
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

/// What every operation shares, added to the document in one place rather
/// than on each handler (issue 15): the errors every JSON body can meet,
/// `Idempotency-Key` on the writes, authentication, scopes and rate limits,
/// and the links from a record's creation to what can be done with it.
///
/// A status an operation already lists keeps its content and gets the new
/// case added to its description.
pub(crate) struct Conventions;

/// The `Idempotency-Key` header's form: 1 to 255 printable ASCII characters.
pub(crate) const IDEMPOTENCY_KEY_PATTERN: &str = "^[\\x20-\\x7e]{1,255}$";

fn problem_content() -> Content {
    Content::new(Some(RefOr::Ref(Ref::from_schema_name("Problem"))))
}

fn header(schema: ObjectBuilder, description: &str) -> Header {
    HeaderBuilder::new()
        .schema(Schema::Object(schema.build()))
        .description(Some(description))
        .build()
}

fn string_header(description: &str) -> Header {
    header(ObjectBuilder::new().schema_type(Type::String), description)
}

/// Adds a problem+json answer for `status` to `operation`, or merges it into
/// the one it has.
fn add_problem(
    operation: &mut Operation,
    status: &str,
    description: &str,
    headers: &[(&str, Header)],
) {
    let entry = operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(ResponseBuilder::new().description(String::new()).build()));
    let RefOr::T(response) = entry else {
        return;
    };
    if response.description.is_empty() {
        response.description = description.to_owned();
    } else if !response.description.contains(description) {
        response.description = format!("{}; {description}", response.description);
    }
    response
        .content
        .entry("application/problem+json".to_owned())
        .or_insert_with(problem_content);
    for (name, header) in headers {
        response
            .headers
            .entry((*name).to_owned())
            .or_insert_with(|| header.clone());
    }
}

/// The links from an answer that carries a record's id (at `id`, a runtime
/// expression) to the operations on that record, as the JSON of an OpenAPI
/// `links` map. (Written as JSON because utoipa 5.5's `Link` spells
/// `operationId` as `operation_id`.)
fn record_links(id: &str) -> serde_json::Value {
    [
        ("GetRecord", "get", "The record"),
        ("RecordEvents", "events", "Its events"),
        ("RecordLineage", "lineage", "Its lineage"),
        ("RecordCertificate", "certificate", "Its certificate"),
        ("Sell", "sell", "Sell it"),
        ("Retire", "retire", "Retire it"),
        ("Cancel", "cancel", "Cancel it"),
    ]
    .into_iter()
    .map(|(name, operation, description)| {
        let link = serde_json::json!({
            "operationId": operation,
            "parameters": {"id": id},
            "description": description,
        });
        (name.to_owned(), link)
    })
    .collect::<serde_json::Map<_, _>>()
    .into()
}

/// Adds `links` to a response.
fn add_links(response: &mut Response, links: serde_json::Value) {
    response
        .extensions
        .get_or_insert_with(Extensions::default)
        .insert("links".to_owned(), links);
}

/// The name of the API-key security scheme in the document (SPEC §8).
const API_KEY_SCHEME: &str = "api_key";

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                API_KEY_SCHEME,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "An API key (`carbon-tracker-server keys create`) or the server's `API_TOKEN`, as `Authorization: Bearer <token>`. Writes need one when the server has keys or `API_TOKEN`; reads only with `--private-reads`; each key has scopes (README, \"API keys\")",
                        ))
                        .build(),
                ),
            );
        let idempotency_key = ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Makes the request safe to retry (IETF httpapi draft): a repeat with the same key and body gets the first answer again (`Idempotent-Replayed: true`) without acting twice. Keys are scoped to the caller's API key and kept at least 24 hours",
            ))
            .schema(Some(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(255))
                    .pattern(Some(IDEMPOTENCY_KEY_PATTERN))
                    .build(),
            )))
            .build();
        let replayed = header(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["true"])),
            "`true` when this answer is the stored answer to an earlier request with the same `Idempotency-Key`",
        );
        let www_authenticate = string_header("`Bearer`");
        let rate_limit_headers = [
            (
                "Retry-After",
                header(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                    "Seconds to wait before trying again",
                ),
            ),
            (
                "RateLimit",
                string_header("The caller's remaining quota (IETF httpapi RateLimit header draft)"),
            ),
            (
                "RateLimit-Policy",
                string_header("The quota policy (IETF httpapi RateLimit header draft)"),
            ),
        ];
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, operation) in [("get", item.get.as_mut()), ("post", item.post.as_mut())] {
                let Some(operation) = operation else { continue };
                // `group_by` names each key at most once.
                for parameter in operation.parameters.iter_mut().flatten() {
                    if parameter.name == "group_by" {
                        if let Some(RefOr::T(Schema::Array(array))) = parameter.schema.as_mut() {
                            array.unique_items = true;
                            // `group_by=` (no names) is refused: leave the
                            // parameter out for one grand total.
                            array.min_items = Some(1);
                            let names = GroupKey::ALL.map(GroupKey::as_str);
                            array.items = ArrayItems::RefOrSchema(Box::new(RefOr::T(
                                ObjectBuilder::new()
                                    .schema_type(Type::String)
                                    .enum_values(Some(names))
                                    .into(),
                            )));
                        }
                    }
                }
                let post = method == "post";
                let json_body = operation
                    .request_body
                    .as_ref()
                    .is_some_and(|body| body.content.keys().any(|c| c == "application/json"));
                if json_body {
                    add_problem(operation, "400", "`invalid_json`: the body is not JSON, or it is missing where the operation needs one", &[]);
                    add_problem(
                        operation,
                        "413",
                        "`body_too_large`: the body is larger than the operation takes",
                        &[],
                    );
                    add_problem(operation, "415", "`unsupported_media_type`: a body that is not sent as JSON (`Content-Type: application/json`)", &[]);
                }
                if post && path != "/ids" {
                    operation
                        .parameters
                        .get_or_insert_with(Vec::new)
                        .push(idempotency_key.clone());
                    add_problem(operation, "400", "`invalid_idempotency_key`: the `Idempotency-Key` header is empty, longer than 255 characters, or not printable ASCII", &[]);
                    add_problem(operation, "409", "`idempotency_key_in_use`: a request with this `Idempotency-Key` is still being answered; retry later", &[]);
                    add_problem(operation, "422", "`idempotency_key_reused`: this `Idempotency-Key` was used with another body", &[]);
                    for (status, response) in operation.responses.responses.iter_mut() {
                        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
                            response
                                .headers
                                .entry("Idempotent-Replayed".to_owned())
                                .or_insert_with(|| replayed.clone());
                        }
                    }
                }
                if path != "/health" {
                    // Optional in the document: whether a key is needed
                    // depends on the server's keys and `--private-reads`,
                    // which the 401 says; declared so that clients and the
                    // docs page (Authorize) can send one.
                    operation.security = Some(vec![
                        SecurityRequirement::new(API_KEY_SCHEME, Vec::<String>::new()),
                        SecurityRequirement::default(),
                    ]);
                    let who = if post && path != "/ids" {
                        "`unauthorized`: no API key, or one the server does not know (writes need one when the server has keys or `API_TOKEN`)"
                    } else {
                        "`unauthorized`: no API key, or one the server does not know (only when the server runs with `--private-reads`)"
                    };
                    add_problem(
                        operation,
                        "401",
                        who,
                        &[("WWW-Authenticate", www_authenticate.clone())],
                    );
                    add_problem(operation, "403", "`missing_scope`: the API key lacks the scope this operation needs (named in the problem)", &[]);
                    add_problem(operation, "429", "`rate_limited`: too many requests from this API key (or client address); retry after `Retry-After` seconds", &rate_limit_headers);
                }
                if post && path == "/records" {
                    for (status, response) in operation.responses.responses.iter_mut() {
                        if let ("200" | "201", RefOr::T(response)) = (status.as_str(), response) {
                            add_links(response, record_links("$response.body#/id"));
                        }
                    }
                }
                if post && path.starts_with("/records/{id}/") {
                    if let Some(RefOr::T(response)) = operation.responses.responses.get_mut("200") {
                        add_links(response, record_links("$request.path.id"));
                    }
                }
            }
        }
    }
}

//! Event payloads (SPEC §3): which keys each event type takes, and their rules.
//!
//! Unknown keys are rejected rather than ignored: a misspelt `buyer_name` would
//! otherwise be stored as an anonymous sale in an audit trail that can never be
//! corrected.

use serde_json::{Map, Value};

use crate::error::{ErrorCode, FieldError};
use crate::lifecycle::EventType;
use crate::number::ExactDecimal;
use crate::text::py_strip;

/// Longest accepted free-text payload value, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;
/// Longest accepted name (buyer, beneficiary), in characters.
pub const MAX_NAME_CHARS: usize = 256;
/// Longest accepted public `note` of a retirement (SPEC §6), in characters.
pub const MAX_PUBLIC_NOTE_CHARS: usize = 256;

/// The `purpose` values of a retirement (SPEC §6), in the order the SPEC
/// lists them: the one list validation, the OpenAPI document and the bindings
/// read.
pub const RETIREMENT_PURPOSES: [&str; 5] = [
    "corporate_target",
    "public_claim",
    "insetting",
    "regulatory_compliance",
    "other",
];

/// How a payload key is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadRule {
    /// Non-empty text without control characters, at most this many characters.
    Name(usize),
    /// Free text: control characters other than line breaks and tabs refused.
    Note(usize),
    /// A non-negative decimal below 10^14, as a JSON number or a string.
    Price,
    /// Three uppercase ASCII letters.
    Currency,
    /// A record id: 64 lowercase hex digits.
    RecordId,
    /// A whole number of credits, 1 to 2^64 − 1: a JSON number of integral
    /// value (`37`, `37.0`) or a string of digits.
    Credits,
    /// Exactly one of these strings (case-sensitive), such as a retirement's
    /// `purpose` ([`RETIREMENT_PURPOSES`]).
    OneOf(&'static [&'static str]),
    /// An officially assigned ISO 3166-1 alpha-2 country code, in uppercase
    /// (`"KE"`; `"ke"`, `"KEN"` and the user-assigned `"XX"` are refused).
    Country,
    /// A UTC instant in RFC 3339's `date-time` form with `T` and `Z`,
    /// `YYYY-MM-DDThh:mm:ss[.fraction]Z`, a real date and time (no leap
    /// second): when a registry says an action took effect (`effective_at`).
    Timestamp,
}

impl PayloadRule {
    /// The rule in words, for documentation (the OpenAPI document, READMEs).
    pub fn describe(self) -> String {
        match self {
            Self::Name(max) => {
                format!("text, not empty, no control characters, at most {max} characters")
            }
            Self::Note(max) => format!(
                "free text, at most {max} characters; no control characters but line breaks and tabs"
            ),
            Self::Price => {
                "a decimal, not negative, below 10^14: a number or a string such as \"12.50\"".to_owned()
            }
            Self::Currency => "three uppercase letters, like an ISO 4217 code such as \"USD\"".to_owned(),
            Self::RecordId => "a record id: 64 lowercase hex digits".to_owned(),
            Self::Credits => format!(
                "a whole number of credits from 1 to {} (2^64 − 1): an integral number or a string of digits",
                u64::MAX
            ),
            Self::OneOf(values) => format!("one of {}", quoted_list(values)),
            Self::Country => {
                "an ISO 3166-1 alpha-2 country code, officially assigned, in uppercase, such as \"KE\"".to_owned()
            }
            Self::Timestamp => {
                "a UTC time in RFC 3339 form, such as \"2026-04-03T00:00:00Z\"".to_owned()
            }
        }
    }
}

/// One key an event type's payload accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadField {
    /// The key.
    pub name: &'static str,
    /// Whether the payload must have it.
    pub required: bool,
    /// How its value is checked.
    pub rule: PayloadRule,
}

impl PayloadField {
    /// The error `code` for this key, its message in the key's own terms
    /// (a quantity of credits is not told to be a year).
    pub fn error(&self, code: ErrorCode) -> FieldError {
        describe(self.name, self.rule, code)
    }
}

const fn field(name: &'static str, required: bool, rule: PayloadRule) -> PayloadField {
    PayloadField {
        name,
        required,
        rule,
    }
}

const SOLD: &[PayloadField] = &[
    field("buyer", true, PayloadRule::Name(MAX_NAME_CHARS)),
    field("price", false, PayloadRule::Price),
    field("currency", false, PayloadRule::Currency),
    field("note", false, PayloadRule::Note(MAX_NOTE_CHARS)),
];
/// SPEC §6: why the credits were retired, for whom (and the beneficiary's
/// country), and a short note that is shown publicly.
const RETIRED: &[PayloadField] = &[
    field("beneficiary", false, PayloadRule::Name(MAX_NAME_CHARS)),
    field("reason", false, PayloadRule::Note(MAX_NOTE_CHARS)),
    field("purpose", false, PayloadRule::OneOf(&RETIREMENT_PURPOSES)),
    field("beneficiary_country", false, PayloadRule::Country),
    field("note", false, PayloadRule::Note(MAX_PUBLIC_NOTE_CHARS)),
    field("effective_at", false, PayloadRule::Timestamp),
];
/// `effective_at`: when the registry says the retirement or cancellation took
/// effect, where it differs from when the tracker recorded it (an import of a
/// registry's export, issue 16).
const CANCELLED: &[PayloadField] = &[
    field("reason", false, PayloadRule::Note(MAX_NOTE_CHARS)),
    field("effective_at", false, PayloadRule::Timestamp),
];
/// A split's child names its parent and inherits its holder (SPEC §6); a
/// record registered by a client has no payload.
const CREATED: &[PayloadField] = &[
    field("parent", false, PayloadRule::RecordId),
    field("holder", false, PayloadRule::Name(MAX_NAME_CHARS)),
];
const SPLIT: &[PayloadField] = &[
    field("front", true, PayloadRule::RecordId),
    field("back", true, PayloadRule::RecordId),
    field("quantity", true, PayloadRule::Credits),
];

/// A partial action's `quantity` (SPEC §6): how many credits of a block a
/// sale, retirement or cancellation acts on. A key of the action's body
/// beside its event's payload keys, not of the event's payload: the front
/// child's event does not carry it (the parent's `SPLIT` payload does).
pub const ACTION_QUANTITY: PayloadField = field("quantity", false, PayloadRule::Credits);

/// The keys the body of a sale, retirement or cancellation accepts: its
/// event's payload keys ([`payload_fields`]), then [`ACTION_QUANTITY`]. The
/// list the OpenAPI document reads for those bodies.
pub fn action_fields(event_type: EventType) -> impl Iterator<Item = &'static PayloadField> {
    payload_fields(event_type)
        .iter()
        .chain(std::iter::once(&ACTION_QUANTITY))
}

/// The keys an event type's payload accepts (SPEC §3), the one table that
/// validation, the OpenAPI document and the docs read.
pub const fn payload_fields(event_type: EventType) -> &'static [PayloadField] {
    match event_type {
        EventType::Created => CREATED,
        EventType::Sold => SOLD,
        EventType::Retired => RETIRED,
        EventType::Cancelled => CANCELLED,
        EventType::Split => SPLIT,
    }
}

/// Every problem of `payload` for `event_type`; empty when it is valid.
///
/// `null` and `{}` stand for "no payload"; the keys are named in the errors as
/// they appear in the payload (the body of `POST /records/{id}/sell`, …).
pub fn validate_payload(
    event_type: EventType,
    payload: Option<&Map<String, Value>>,
) -> Vec<FieldError> {
    let empty = Map::new();
    let payload = payload.unwrap_or(&empty);
    let rules = payload_fields(event_type);
    let mut errors = Vec::new();
    // Unknown keys first, sorted, whatever order the map keeps its keys in.
    // (Each put in its place as it comes: `sort_unstable`, or collecting into
    // a `BTreeSet`, which sorts with the standard library's stable sort,
    // cost the WASM package 5 to 8 KB of sort code.)
    let mut unknown: Vec<&String> = Vec::new();
    for key in payload.keys() {
        if !rules.iter().any(|f| f.name == key.as_str()) {
            unknown.insert(unknown.partition_point(|k| *k < key), key);
        }
    }
    let code = if rules.is_empty() {
        ErrorCode::NotAllowed
    } else {
        ErrorCode::UnknownField
    };
    errors.extend(unknown.into_iter().map(|key| FieldError::new(key, code)));
    for &PayloadField {
        name,
        required,
        rule,
    } in rules
    {
        match payload.get(name) {
            None | Some(Value::Null) if required => {
                errors.push(FieldError::new(name, ErrorCode::Missing));
            }
            None | Some(Value::Null) => {}
            Some(value) => errors.extend(check(rule, value).map(|code| describe(name, rule, code))),
        }
    }
    errors
}

fn check(rule: PayloadRule, value: &Value) -> Option<ErrorCode> {
    match (rule, value) {
        (PayloadRule::Name(max), Value::String(s)) => {
            let s = py_strip(s);
            if s.is_empty() {
                Some(ErrorCode::Empty)
            } else if s.chars().any(char::is_control) {
                Some(ErrorCode::ControlCharacter)
            } else {
                (s.chars().count() > max).then_some(ErrorCode::TooLong)
            }
        }
        (PayloadRule::Note(max), Value::String(s)) => {
            if s.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            {
                Some(ErrorCode::ControlCharacter)
            } else {
                (s.chars().count() > max).then_some(ErrorCode::TooLong)
            }
        }
        (PayloadRule::Currency, Value::String(s)) => (s.len() != 3
            || !s.bytes().all(|b| b.is_ascii_uppercase()))
        .then_some(ErrorCode::InvalidCurrency),
        (PayloadRule::RecordId, Value::String(s)) => (s.len() != 64
            || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then_some(ErrorCode::InvalidFormat),
        (PayloadRule::OneOf(values), Value::String(s)) => {
            (!values.contains(&s.as_str())).then_some(ErrorCode::InvalidChoice)
        }
        (PayloadRule::Country, Value::String(s)) => {
            (!is_country_code(s)).then_some(ErrorCode::InvalidCountry)
        }
        (PayloadRule::Timestamp, Value::String(s)) => {
            (!is_utc_timestamp(s)).then_some(ErrorCode::InvalidFormat)
        }
        (
            PayloadRule::Name(_)
            | PayloadRule::Note(_)
            | PayloadRule::Currency
            | PayloadRule::RecordId
            | PayloadRule::OneOf(_)
            | PayloadRule::Country
            | PayloadRule::Timestamp,
            _,
        ) => Some(ErrorCode::NotAString),
        (PayloadRule::Credits, value) => credits(value).err(),
        (PayloadRule::Price, Value::Number(n)) => price(&n.to_string()),
        (PayloadRule::Price, Value::String(s)) => price(py_strip(s)),
        (PayloadRule::Price, _) => Some(ErrorCode::NotANumber),
    }
}

/// A whole number of credits from a payload value (SPEC §6's `quantity`):
/// a JSON number of integral value (`37`, and `37.0` or `3.7e1`, which JSON
/// Schema's `integer` also admits) or a string of ASCII digits, 1 to
/// 2^64 − 1. A negative value is `not_positive` before anything else.
pub(crate) fn credits(value: &Value) -> Result<u64, ErrorCode> {
    match value {
        Value::Number(n) => {
            let text = n.to_string();
            let exact = ExactDecimal::parse(&text).ok_or(ErrorCode::NotAnInteger)?;
            if exact.is_negative() {
                return Err(ErrorCode::NotPositive);
            }
            if !exact.is_integral() {
                return Err(ErrorCode::NotAnInteger);
            }
            // u64::MAX has 20 digits; a value past it overflows the reading.
            match exact.truncated_magnitude(0, 20) {
                Some(0) => Err(ErrorCode::NotPositive),
                Some(n) => Ok(n),
                None => Err(ErrorCode::TooLarge),
            }
        }
        Value::String(s) => {
            let text = py_strip(s);
            if text.starts_with('-') && text.bytes().skip(1).any(|b| (b'1'..=b'9').contains(&b)) {
                return Err(ErrorCode::NotPositive);
            }
            let digits = text.strip_prefix('+').unwrap_or(text);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ErrorCode::NotAnInteger);
            }
            match digits.parse::<u64>() {
                Ok(0) => Err(ErrorCode::NotPositive),
                Ok(n) => Ok(n),
                Err(_) => Err(ErrorCode::TooLarge),
            }
        }
        _ => Err(ErrorCode::NotAnInteger),
    }
}

/// Decimal places a price keeps when compared against its bound.
const PRICE_PLACES: i64 = 4;
/// A price is below 10^14, like a quantity.
const PRICE_MAX_INT_DIGITS: i64 = 14;

fn price(text: &str) -> Option<ErrorCode> {
    match ExactDecimal::parse(text) {
        None => Some(ErrorCode::NotANumber),
        Some(d) if d.is_negative() => Some(ErrorCode::Negative),
        // The same bound as a quantity: a price fits NUMERIC(18,4), and every
        // host reads it back as the number that was sent.
        Some(d)
            if d.truncated_magnitude(PRICE_PLACES, PRICE_MAX_INT_DIGITS)
                .is_none() =>
        {
            Some(ErrorCode::TooLarge)
        }
        Some(_) => None,
    }
}

/// The officially assigned ISO 3166-1 alpha-2 codes, as a 26 × 26 bitmap:
/// bit `b − 'A'` of row `a − 'A'` is set when `ab` is assigned.
///
/// The list is the `rust_iso3166` crate's `ALL_ALPHA2` (all 249 assigned
/// codes; a test below checks every pair of letters against ISO's list). It
/// is a `const` array, so the bitmap is built at compile time and the
/// package carries 104 bytes of it: none of the crate's names, alpha-3 codes,
/// subdivisions or `phf` maps, which matters under the WASM package's 150 KB
/// budget. Measured: a lookup through `isocountry` (a `match` over the codes)
/// cost the `.wasm` 2.7 KB gzipped, over that budget; `iso3166` lacks `AQ`;
/// `keshvar` is 22 MB of sources; `celes` needs a newer Rust than this
/// workspace's.
const COUNTRY_CODES: [u32; 26] = country_bitmap(rust_iso3166::ALL_ALPHA2);

const fn country_bitmap(codes: &[&str]) -> [u32; 26] {
    let mut rows = [0_u32; 26];
    let mut rest: &mut [u32] = &mut rows;
    let mut first = b'A';
    while let [row, tail @ ..] = rest {
        *row = country_row(codes, first);
        first += 1;
        rest = tail;
    }
    rows
}

/// The row of codes starting with `first`. A code that is not two uppercase
/// letters is left out (the test counts the bits).
const fn country_row(codes: &[&str], first: u8) -> u32 {
    let mut row = 0;
    let mut rest = codes;
    while let [code, tail @ ..] = rest {
        if let [a, b @ b'A'..=b'Z'] = *code.as_bytes() {
            if a == first {
                row |= 1 << (b - b'A');
            }
        }
        rest = tail;
    }
    row
}

/// Whether `code` is an officially assigned ISO 3166-1 alpha-2 code, exactly
/// as ISO writes it: uppercase (`"ke"` is refused: a payload is stored as
/// sent, and a currency is checked the same way).
/// The officially assigned ISO 3166-1 alpha-2 codes that
/// `beneficiary_country` takes, in order (for the OpenAPI document's enum).
pub fn country_codes() -> impl Iterator<Item = String> {
    (b'A'..=b'Z')
        .flat_map(|a| (b'A'..=b'Z').map(move |b| String::from_utf8_lossy(&[a, b]).into_owned()))
        .filter(|code| is_country_code(code))
}

fn is_country_code(code: &str) -> bool {
    match *code.as_bytes() {
        [a @ b'A'..=b'Z', b @ b'A'..=b'Z'] => COUNTRY_CODES
            .get(usize::from(a - b'A'))
            .is_some_and(|row| row & (1 << (b - b'A')) != 0),
        _ => false,
    }
}

/// Whether `text` is a UTC instant written `YYYY-MM-DDThh:mm:ss[.f…]Z`
/// (RFC 3339 with the `T` and `Z` it allows in lowercase taken in capitals
/// only), naming a real date from year 1 and a time without a leap second.
fn is_utc_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.get(10) == Some(&b'T')
        && bytes.last() == Some(&b'Z')
        && bytes.get(17..19) != Some(b"60")
        && crate::rfc3339::parse(text).is_some_and(|t| t.year() >= 1)
}

/// `"a", "b" or "c"`: the allowed values, for messages and docs.
fn quoted_list(values: &[&str]) -> String {
    let mut out = String::new();
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(if i + 1 == values.len() { " or " } else { ", " });
        }
        out.push('"');
        out.push_str(value);
        out.push('"');
    }
    out
}

fn describe(name: &str, rule: PayloadRule, code: ErrorCode) -> FieldError {
    match (rule, code) {
        (PayloadRule::OneOf(values), ErrorCode::InvalidChoice) => FieldError::with_message(
            name,
            code,
            format!("{name} must be one of {}", quoted_list(values)),
        ),
        (PayloadRule::Name(max) | PayloadRule::Note(max), ErrorCode::TooLong) => {
            FieldError::with_message(
                name,
                code,
                format!("{name} must be at most {max} characters"),
            )
        }
        // A number of credits shares its codes with other fields
        // (`not_an_integer` with a vintage, `not_positive` with a decimal):
        // its message says what it takes instead of theirs.
        (PayloadRule::Credits, _) | (PayloadRule::Timestamp, ErrorCode::InvalidFormat) => {
            FieldError::with_message(name, code, format!("{name} must be {}", rule.describe()))
        }
        _ => FieldError::new(name, code),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The 249 officially assigned ISO 3166-1 alpha-2 codes (ISO 3166
    /// Maintenance Agency; the same list as Debian's `iso-codes` 4.15 and
    /// `tests/reference/lifecycle_v1.py`): the oracle the crate's list is
    /// checked against.
    const ISO_3166_1_ALPHA_2: &str = "\
        AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI \
        BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN \
        CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK \
        FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM \
        HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN \
        KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK \
        ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP \
        NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW \
        SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF \
        TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI \
        VN VU WF WS YE YT ZA ZM ZW";

    #[test]
    fn every_pair_of_letters_is_checked_against_iso_3166_1() {
        let assigned: BTreeSet<&str> = ISO_3166_1_ALPHA_2.split_whitespace().collect();
        assert_eq!(assigned.len(), 249);
        for a in 'A'..='Z' {
            for b in 'A'..='Z' {
                let code = format!("{a}{b}");
                assert_eq!(
                    is_country_code(&code),
                    assigned.contains(code.as_str()),
                    "{code}"
                );
                assert!(
                    !is_country_code(&code.to_ascii_lowercase()),
                    "{code} in lowercase"
                );
            }
        }
        // Every code of the crate's list made it into the bitmap.
        let bits: u32 = COUNTRY_CODES.iter().map(|row| row.count_ones()).sum();
        assert_eq!(bits as usize, rust_iso3166::ALL_ALPHA2.len());
        for code in [
            "",
            "K",
            "KEN",
            "Ke",
            " KE",
            "KE ",
            "К\u{415}",
            "\u{ff2b}\u{ff25}",
        ] {
            assert!(!is_country_code(code), "{code:?}");
        }
    }

    fn retired(payload: Value) -> Vec<FieldError> {
        let Value::Object(map) = payload else {
            panic!("not an object")
        };
        validate_payload(EventType::Retired, Some(&map))
    }

    #[test]
    fn a_retirement_takes_purpose_country_and_a_public_note() {
        for purpose in RETIREMENT_PURPOSES {
            let payload = serde_json::json!({
                "beneficiary": "Acme Corp",
                "reason": "2025 emissions",
                "purpose": purpose,
                "beneficiary_country": "KE",
                "note": "n".repeat(MAX_PUBLIC_NOTE_CHARS),
            });
            assert_eq!(retired(payload), []);
        }
    }

    #[test]
    fn retirement_errors_name_the_field_and_what_it_allows() {
        let errors = retired(serde_json::json!({
            "purpose": "Corporate_Target",
            "beneficiary_country": "ke",
            "note": "n".repeat(MAX_PUBLIC_NOTE_CHARS + 1),
        }));
        let codes: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            codes,
            [
                ("purpose", ErrorCode::InvalidChoice),
                ("beneficiary_country", ErrorCode::InvalidCountry),
                ("note", ErrorCode::TooLong),
            ]
        );
        let messages: Vec<_> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "purpose must be one of \"corporate_target\", \"public_claim\", \"insetting\", \"regulatory_compliance\" or \"other\"",
                "beneficiary_country must be an ISO 3166-1 alpha-2 country code, officially assigned and in uppercase, such as \"KE\"",
                "note must be at most 256 characters",
            ]
        );
        let errors = retired(serde_json::json!({"purpose": 1, "beneficiary_country": ["KE"]}));
        let codes: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            codes,
            [
                ("purpose", ErrorCode::NotAString),
                ("beneficiary_country", ErrorCode::NotAString),
            ]
        );
    }

    #[test]
    fn the_rules_describe_their_values() {
        assert_eq!(
            PayloadRule::OneOf(&RETIREMENT_PURPOSES).describe(),
            "one of \"corporate_target\", \"public_claim\", \"insetting\", \"regulatory_compliance\" or \"other\""
        );
        assert!(PayloadRule::Country
            .describe()
            .contains("ISO 3166-1 alpha-2"));
    }
}

//! Actions on records, whole or partial (SPEC §6).
//!
//! A sale, retirement or cancellation may name a `quantity` of credits. Without
//! it, or with the record's whole quantity, it acts on the whole record as
//! before. With less, on a block, the block splits: the parent gets a final
//! `SPLIT` event, and two child records are created — the front child holds
//! the acted-on part (from the front of the range, as Verra, Gold Standard,
//! ACR, CAR and ART do) and takes the action's event, the back child holds the
//! remainder. Every host derives the same children, ids and events from the
//! same inputs: times and random bytes are arguments.

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::canonical::CanonicalRecord;
use crate::error::FieldError;
use crate::id::RecordId;
use crate::lifecycle::{next_event, Event, EventType, RecordState, Status, TransitionError};
use crate::payload::{credits, validate_payload, ACTION_QUANTITY};
use crate::quantity::Quantity;
use crate::serial::parse_serial;

/// What a client asks to do to a record, named by the event it appends
/// (what [`Action::parse`] reads).
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `SOLD`.
    #[cfg_attr(feature = "typescript", serde(rename = "SOLD"))]
    Sell,
    /// `RETIRED`.
    #[cfg_attr(feature = "typescript", serde(rename = "RETIRED"))]
    Retire,
    /// `CANCELLED`.
    #[cfg_attr(feature = "typescript", serde(rename = "CANCELLED"))]
    Cancel,
}

impl Action {
    /// The action that appends `event_type`: `SOLD`, `RETIRED` or `CANCELLED`.
    pub fn parse(event_type: &str) -> Option<Self> {
        [Self::Sell, Self::Retire, Self::Cancel]
            .into_iter()
            .find(|a| a.event_type().as_str() == event_type)
    }

    /// The event the action appends.
    pub const fn event_type(self) -> EventType {
        match self {
            Self::Sell => EventType::Sold,
            Self::Retire => EventType::Retired,
            Self::Cancel => EventType::Cancelled,
        }
    }
}

/// A record a split creates, with its history.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Child {
    /// Its canonical fields: the parent's, with the sub-range's serial and count.
    pub record: CanonicalRecord,
    /// Its v1 id.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9a-f]{64}$"))]
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub id: RecordId,
    /// Its events: `CREATED` (payload `parent`, and `holder` if the parent
    /// had one), then, for the front child, the action's event.
    pub events: Vec<Event>,
}

/// A partial action's outcome.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Split {
    /// The parent's `SPLIT` event (payload `front`, `back`, `quantity`).
    pub parent: Event,
    /// The acted-on part, from the front of the range.
    pub front: Child,
    /// The remainder.
    pub back: Child,
}

/// What an action does; as JSON `{"whole": event}` or `{"split": {parent,
/// front, back}}`.
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Acted {
    /// The action's event, appended to the whole record.
    Whole(Event),
    /// The block split; the front child took the action.
    Split(Box<Split>),
}

impl Acted {
    /// The same events, each naming `actor` as the one who caused them
    /// (SPEC §8): the action's event, and after a split the parent's `SPLIT`
    /// event and both children's events. Ids do not depend on the actor.
    #[must_use]
    pub fn by(self, actor: Option<&str>) -> Self {
        let Some(actor) = actor else {
            return self;
        };
        let stamp = |event: &mut Event| event.actor = Some(actor.to_owned());
        match self {
            Self::Whole(mut event) => {
                stamp(&mut event);
                Self::Whole(event)
            }
            Self::Split(mut split) => {
                stamp(&mut split.parent);
                split
                    .front
                    .events
                    .iter_mut()
                    .chain(split.back.events.iter_mut())
                    .for_each(stamp);
                Self::Split(split)
            }
        }
    }
}

/// Acts on `record`, whose history adds up to `state`.
///
/// `payload` is the action's payload as the client sent it; its `quantity`
/// (whole credits, a number or a string of digits) is read and removed, and
/// the rest is the event's payload. `random` holds the random bytes of up to
/// four event ids (the first alone for a whole action).
///
/// # Errors
/// A [`TransitionError`]: `already_final` for a final record;
/// `invalid_payload` for a bad `quantity` or payload; `not_divisible` for a
/// partial action on a record that is not a block (its serial names no
/// range, or its quantity is not the range's count); `insufficient_quantity`
/// for more credits than it holds.
pub fn act(
    record: &CanonicalRecord,
    state: &RecordState,
    action: Action,
    payload: Option<Map<String, Value>>,
    now: OffsetDateTime,
    random: [[u8; 10]; 4],
) -> Result<Acted, TransitionError> {
    let event_type = action.event_type();
    let [r0, r1, r2, r3] = random;
    let requested = requested(action, payload.as_ref())?;
    // The rest of the payload, without `quantity`: moved key by key rather
    // than with `remove`, whose B-tree rebalancing cost the WASM package
    // 5 KB (the map's `insert` is there anyway).
    let payload = payload
        .map(|p| {
            let mut rest = Map::new();
            for (key, value) in p {
                if key != ACTION_QUANTITY.name {
                    rest.insert(key, value);
                }
            }
            rest
        })
        .filter(|p| !p.is_empty());
    if state.status.is_final() {
        return Err(TransitionError::AlreadyFinal {
            status: state.status,
        });
    }
    let whole = |payload| {
        next_event(Some(state), state.record_id, event_type, payload, now, r0)
            .map(|(event, _)| Acted::Whole(event))
    };
    let Some(requested) = requested else {
        return whole(payload);
    };
    if Quantity::from_credits(requested) == Some(record.quantity) {
        return whole(payload);
    }
    let (front, back) = split_records(record, requested)?;
    let (front_id, back_id) = (front.id(), back.id());
    let mut split_payload = Map::new();
    split_payload.insert("front".to_owned(), hex(front_id));
    split_payload.insert("back".to_owned(), hex(back_id));
    split_payload.insert("quantity".to_owned(), Value::from(requested));
    let (parent, _) = next_event(
        Some(state),
        state.record_id,
        EventType::Split,
        Some(split_payload),
        now,
        r0,
    )?;
    // The children begin when the parent ends.
    let at = parent.created_at;
    // Each child's CREATED payload, built twice rather than cloned (a map's
    // clone is code of its own in the WASM package).
    let created = || {
        let mut created = Map::new();
        created.insert("parent".to_owned(), hex(state.record_id));
        if let Some(holder) = &state.owner {
            created.insert("holder".to_owned(), Value::String(holder.clone()));
        }
        Some(created)
    };
    let (front_created, front_state) =
        next_event(None, front_id, EventType::Created, created(), at, r1)?;
    let (front_action, _) = next_event(Some(&front_state), front_id, event_type, payload, at, r2)?;
    let (back_created, _) = next_event(None, back_id, EventType::Created, created(), at, r3)?;
    Ok(Acted::Split(Box::new(Split {
        parent,
        front: Child {
            record: front,
            id: front_id,
            events: vec![front_created, front_action],
        },
        back: Child {
            record: back,
            id: back_id,
            events: vec![back_created],
        },
    })))
}

/// The two records a block splits into when `requested` of its credits are
/// acted on (SPEC §6): the front child holds the first `requested` credits
/// of the range, the back child the rest; both keep the parent's other
/// fields, with the sub-range's serial (in the scheme's own notation) and
/// count. What [`act`] creates, and what a certificate's verifier re-derives
/// to check that a child descends from its parent.
///
/// # Errors
/// `not_divisible` when `record` is not a block (its serial names no range,
/// or its quantity is not the range's count), `requested` is 0 or all of
/// its credits (a whole action, which splits nothing), or a child's serial
/// would not read back as a block of the same issuance (a CDM pair of one
/// credit);
/// `insufficient_quantity` when `requested` is more than its credits.
pub fn split_records(
    record: &CanonicalRecord,
    requested: u64,
) -> Result<(CanonicalRecord, CanonicalRecord), TransitionError> {
    let not_divisible = |why: &str| TransitionError::NotDivisible {
        why: why.to_owned(),
    };
    let block = record.block().ok_or_else(|| {
        not_divisible(if parse_serial(&record.serial_number).is_some() {
            "its quantity is not the count of its serial's range"
        } else {
            "its serial names no range of credits"
        })
    })?;
    let available = block.credits();
    if requested > available {
        return Err(TransitionError::InsufficientQuantity {
            available,
            requested,
        });
    }
    if requested == 0 || requested == available {
        return Err(not_divisible(
            "a split leaves credits on both sides: it acts on fewer than all of them, and on at least one",
        ));
    }
    // 0 < requested < available: the front is start..=cut, the back the rest.
    let cut = block.start + (requested - 1);
    let child = |start: u64, end: u64, count: u64| -> Result<CanonicalRecord, TransitionError> {
        let serial_number = block.render(start, end);
        // A child is a block, or the credits it holds would be no block's
        // (SPEC §6): its serial must read back as the parent's scheme with
        // its own range (the rendering keeps the rest of the text). A CDM
        // pair of one credit (two equal unit serials) names no range.
        let a_block = parse_serial(&serial_number)
            .is_some_and(|b| (b.scheme, b.start, b.end) == (block.scheme, start, end));
        if !a_block {
            return Err(not_divisible("a child's serial would name no range"));
        }
        Ok(CanonicalRecord {
            serial_number,
            quantity: Quantity::from_credits(count)
                .ok_or_else(|| not_divisible("its quantity is out of range"))?,
            ..record.clone()
        })
    };
    Ok((
        child(block.start, cut, requested)?,
        child(cut + 1, block.end, available - requested)?,
    ))
}

/// An id as a JSON string.
fn hex(id: RecordId) -> Value {
    Value::String(id.encode_hex(&mut [0; 64]).to_owned())
}

/// A record's place in its block's tree, read from its history (SPEC §6):
/// the parent its `CREATED` event names, and the children its `SPLIT` event
/// names. Both are `None` for a record that was registered whole and never
/// split. Ids that do not read are ignored here: [`crate::replay`] has already
/// refused such a history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lineage {
    /// The block this one was split from.
    pub parent: Option<RecordId>,
    /// The front (acted-on) and back (remainder) children, once split.
    pub children: Option<(RecordId, RecordId)>,
}

impl Lineage {
    /// The lineage `events` (one record's history) record.
    pub fn of(events: &[Event]) -> Self {
        let id = |event: &Event, key: &str| -> Option<RecordId> {
            event.payload.as_ref()?.get(key)?.as_str()?.parse().ok()
        };
        let parent = events
            .first()
            .filter(|e| e.event_type == EventType::Created)
            .and_then(|e| id(e, "parent"));
        let children = events
            .iter()
            .find(|e| e.event_type == EventType::Split)
            .and_then(|e| Some((id(e, "front")?, id(e, "back")?)));
        Self { parent, children }
    }

    /// The child that holds the rest of a split block: where a partial
    /// action addressed to a `SPLIT` record goes next (SPEC §6).
    pub fn remainder(&self) -> Option<RecordId> {
        self.children.map(|(_, back)| back)
    }
}

/// The credits a partial action asks for: its payload's `quantity`, if any
/// (`null` is none).
///
/// # Errors
/// `invalid_payload` when `quantity` is not a whole number ≥ 1, listing
/// every problem of the body at once (SPEC §4): those of the rest of the
/// payload, then `quantity`'s.
pub fn requested(
    action: Action,
    payload: Option<&Map<String, Value>>,
) -> Result<Option<u64>, TransitionError> {
    // `null` is a key not given, as in every payload (SPEC §3).
    let Some(value) = payload
        .and_then(|p| p.get(ACTION_QUANTITY.name))
        .filter(|v| !v.is_null())
    else {
        return Ok(None);
    };
    credits(value).map(Some).map_err(|code| {
        let event_type = action.event_type();
        // The payload's own check sees `quantity` as a key it does not know.
        let mut errors: Vec<FieldError> = validate_payload(event_type, payload)
            .into_iter()
            .filter(|e| e.field != ACTION_QUANTITY.name)
            .collect();
        errors.push(ACTION_QUANTITY.error(code));
        TransitionError::InvalidPayload { event_type, errors }
    })
}

/// Where an action addressed to a record goes (SPEC §6), given the history
/// `events` of the record it has reached and the state they add up to:
/// `Some(child)` to go on to the remainder of a `SPLIT` record for a partial
/// action, `None` to act on this record ([`act`] then decides).
///
/// `followed` says the record was reached from a split parent: a remainder
/// already retired or cancelled has no credits left to act on.
///
/// # Errors
/// `invalid_payload` for a bad `quantity`; `insufficient_quantity` (0
/// available) when a followed remainder is retired or cancelled.
pub fn route(
    events: &[Event],
    state: &RecordState,
    action: Action,
    payload: Option<&Map<String, Value>>,
    followed: bool,
) -> Result<Option<RecordId>, TransitionError> {
    let Some(requested) = requested(action, payload)? else {
        return Ok(None);
    };
    match state.status {
        Status::Split => Ok(Lineage::of(events).remainder()),
        status if followed && status.is_final() => Err(TransitionError::InsufficientQuantity {
            available: 0,
            requested,
        }),
        _ => Ok(None),
    }
}

"""Pure-Python reference of actions on blocks (SPEC §6): whole, or partial
with a split. The oracle for ``tests/vectors/splits.json``; standard library
only, built on the other references (``ids_v1`` for ids, ``serials_v1`` for
ranges, ``lifecycle_v1`` for the event rules), sharing no code with the core.

``act(record, state, action, payload, now)`` returns ``{"whole": event}`` or
``{"split": {"parent": event, "front": child, "back": child}}``, where an
event is ``{record_id, seq, event_type, payload, created_at}`` (no ``id``: it
is random) and a child is ``{record, id, events}``; it raises
``lifecycle_v1.Refused`` with the code (and field errors) the core gives.

The order of the checks: the payload's ``quantity``, a final record, a whole
action (no quantity, or the record's whole quantity), a block (its serial
names a range whose count is its quantity), enough credits; then the split:
the parent's ``SPLIT``, each child's ``CREATED`` (``parent``, and ``holder``
when the parent has one), the front child's action event.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

import ids_v1
import lifecycle_v1
import serials_v1
from lifecycle_v1 import Refused


def _event(state: Optional[dict[str, Any]], record_id: str, event_type: str, payload: Optional[dict[str, Any]], now: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The next event of a record (``state`` None: its first) and the state after it."""
    if state is None:
        seq, at = 1, lifecycle_v1.utc_text(now)
    else:
        seq = state["last_seq"] + 1
        at = lifecycle_v1.utc_text(max(now, state["updated_at"], key=lifecycle_v1.instant))
    event = {"record_id": record_id, "seq": seq, "event_type": event_type, "payload": payload or None, "created_at": at}
    return event, lifecycle_v1.apply(state, event)


def _credits(record: dict[str, Any]) -> int:
    """The credits of a block: the count of its serial's range, which its
    quantity must be; Refused("not_divisible") for a record that is not one."""
    block = serials_v1.parse(record["serial_number"])
    if block is None:
        raise Refused("not_divisible")
    available = int(block["end"]) - int(block["start"]) + 1
    if Decimal(record["quantity"]) != Decimal(available):
        raise Refused("not_divisible")
    return available


def children(record: dict[str, Any], requested: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The front and back records of a split of ``requested`` credits off the
    block ``record``: the front the first ``requested`` credits of the range,
    the back the rest, both with the parent's other fields. Refused
    ``not_divisible`` for a record that is not a block, a count that leaves
    one side empty, or a child whose serial would not parse back as a block
    of the same issuance (a CDM pair of one credit); ``insufficient_quantity``
    for more than it holds."""
    available = _credits(record)
    if requested > available:
        raise Refused("insufficient_quantity")
    if requested < 1 or requested == available:
        raise Refused("not_divisible")
    block = serials_v1.parse(record["serial_number"])
    assert block is not None  # _credits refused a record that is not a block
    start = int(block["start"])
    cut = start + requested - 1

    def child(a: int, b: int, count: int) -> dict[str, Any]:
        serial = serials_v1.render(record["serial_number"], a, b)
        # A child must be a block of the parent's issuance: its serial parses
        # back to the same scheme, prefix and suffix, with its own range. A
        # CDM pair of one credit (two equal unit serials) does not.
        parsed = serials_v1.parse(serial)
        expected = {**block, "start": str(a), "end": str(b)}
        if parsed is None or any(parsed[k] != expected[k] for k in ("scheme", "prefix", "suffix", "start", "end")):
            raise Refused("not_divisible")
        return dict(record, serial_number=serial, quantity=f"{count}.0000")

    return child(start, cut, requested), child(cut + 1, start + available - 1, available - requested)


def act(record: dict[str, Any], state: dict[str, Any], action: str, payload: Optional[dict[str, Any]], now: str) -> dict[str, Any]:
    payload = dict(payload or {})
    requested: Optional[int] = None
    # A null quantity is one not given, as any null payload key is.
    quantity_value = payload.pop("quantity", None)
    if quantity_value is not None:
        requested, code = lifecycle_v1.credits(quantity_value)
        if code:
            # Every problem of the body at once: the rest of the payload's,
            # then the quantity's.
            raise Refused("invalid_payload", lifecycle_v1.payload_errors(action, payload) + [("quantity", code)])
    if state["status"] in lifecycle_v1.FINAL:
        raise Refused("already_final")
    quantity = Decimal(record["quantity"])
    if requested is None or Decimal(requested) == quantity:
        event, _ = _event(state, state["record_id"], action, payload, now)
        return {"whole": event}
    front, back = children(record, requested)
    front_id, back_id = ids_v1.record_id(front), ids_v1.record_id(back)
    parent, _ = _event(state, state["record_id"], "SPLIT", {"front": front_id, "back": back_id, "quantity": requested}, now)
    created: dict[str, Any] = {"parent": state["record_id"]}
    if state["owner"] is not None:
        created["holder"] = state["owner"]
    front_created, front_state = _event(None, front_id, "CREATED", created, parent["created_at"])
    front_action, _ = _event(front_state, front_id, action, payload, parent["created_at"])
    back_created, _ = _event(None, back_id, "CREATED", created, parent["created_at"])
    return {
        "split": {
            "parent": parent,
            "front": {"record": front, "id": front_id, "events": [front_created, front_action]},
            "back": {"record": back, "id": back_id, "events": [back_created]},
        }
    }

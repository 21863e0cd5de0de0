"""Every case of tests/vectors/ through the installed package."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Optional

import pytest

import carbon_tracker as ct
from conftest import cases

IDS = cases("ids.json")
REJECTS = cases("rejects.json")
LIFECYCLE = cases("lifecycle.json")


def exact(body: str) -> Any:
    """JSON with exact numbers: ints stay int, the rest become Decimal."""
    return json.loads(body, parse_float=Decimal)


def test_vectors_are_complete() -> None:
    assert len(IDS) >= 300
    assert sum(c["source"] == "original-service" for c in IDS) == 60


@pytest.mark.parametrize("case", IDS, ids=[c["name"] for c in IDS])
def test_ids(case: dict[str, Any]) -> None:
    fields = exact(case["body"])
    assert ct.record_id(fields) == case["id"]
    derived = ct.derive_id(fields)
    assert derived.id == case["id"]
    assert derived.canonical.as_dict() == case["canonical"]
    assert derived.as_dict() == {"id": case["id"], "canonical": case["canonical"]}
    assert ct.canonicalize(fields) == derived.canonical
    assert ct.validate(fields) == []
    # The same body read with floats: the same id exactly when float_safe.
    floats = json.loads(case["body"])
    try:
        through_floats: Optional[str] = ct.record_id(floats)
    except ct.ValidationError:
        through_floats = None
    assert (through_floats == case["id"]) == case["float_safe"]


def test_keyword_arguments() -> None:
    assert ct.record_id(project_name="Solar Farm", registry="VCS", vintage=2023, quantity="100.1",
                        serial_number="VCS-001") == "a5bc4dc91565de74176de49c87f05596fdaecb63004268bc71473c4f1fda6187"
    assert ct.record_id(project_name="Solar Farm", registry="VCS", vintage=2023, quantity=Decimal("100.1"),
                        serial_number="VCS-001") == "a5bc4dc91565de74176de49c87f05596fdaecb63004268bc71473c4f1fda6187"
    with pytest.raises(TypeError):
        ct.record_id({"project_name": "x"}, registry="y")  # type: ignore[call-overload]


class Key(str):
    """A `str` subclass as a dict key: a lookup by the field's name finds it."""


class AnyCase(str):
    """A key equal to any spelling of its name in upper or lower case, as a
    dict lookup sees it (its own `__eq__` and `__hash__`)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and self.lower() == other.lower()

    def __hash__(self) -> int:
        return hash(self.lower())


@pytest.mark.parametrize("extra", [0, 2, 3, 20], ids=lambda n: f"{n} other keys")
def test_a_row_is_read_whatever_its_keys_are(extra: int) -> None:
    # Rows of up to 8 keys, all exact `str`, are read by walking their
    # entries, other rows by lookups (bindings-python/src/lib.rs): both must
    # find what a lookup by the field's name finds, whether the keys are the
    # interned names, equal strings built at run time (json.load and csv
    # give those), a str subclass, or one with its own equality; and must
    # ignore other keys, including ones that are not strings.
    case = IDS[0]
    body = exact(case["body"])
    builds: list[Callable[[str], Any]] = [sys.intern, lambda k: "".join(list(k)), Key, lambda k: AnyCase(k.upper())]
    for build in builds:
        row: dict[Any, Any] = {build(k): v for k, v in body.items()}
        for n in range(extra):
            row[f"other_{n}"] = "x"
        if extra:
            row[extra] = "not a field"
        assert ct.record_id(row) == case["id"]
        assert ct.record_ids([row] * 3) == [case["id"]] * 3
        assert ct.record_ids([row] * 5000) == [case["id"]] * 5000


def test_record_id_without_a_mapping_or_fields_lists_every_field_missing() -> None:
    for call in (lambda: ct.record_id(), lambda: ct.record_id(**{})):  # type: ignore[call-overload]
        with pytest.raises(ct.ValidationError) as raised:
            call()
        assert [e.code for e in raised.value.errors] == ["missing"] * 5
    with pytest.raises(ct.ValidationError) as raised:
        ct.record_id(None)  # type: ignore[call-overload]
    assert [e.code for e in raised.value.errors] == ["not_an_object"]
    with pytest.raises(TypeError):
        ct.record_id(None, project_name="x")  # type: ignore[call-overload]


@pytest.mark.parametrize("case", REJECTS, ids=[c["name"] for c in REJECTS])
def test_rejects(case: dict[str, Any]) -> None:
    fields = exact(case["body"])
    expected = [(e["field"], e["code"]) for e in case["errors"]]
    assert [(e.field, e.code) for e in ct.validate(fields)] == expected
    with pytest.raises(ct.ValidationError) as raised:
        ct.record_id(fields)
    assert [(e.field, e.code) for e in raised.value.errors] == expected
    assert all(e.message.startswith(e.field) for e in raised.value.errors)
    assert isinstance(raised.value, ValueError)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def expected_state(data: Optional[dict[str, Any]]) -> Optional[ct.RecordState]:
    if data is None:
        return None
    return ct.RecordState(data["record_id"], data["status"], data["last_seq"], instant(data["created_at"]),
                          instant(data["updated_at"]), data["owner"])


@pytest.mark.parametrize("case", LIFECYCLE, ids=[c["name"] for c in LIFECYCLE])
def test_lifecycle(case: dict[str, Any]) -> None:
    events = case["events"]
    expect = case["expect"]

    def run() -> Optional[ct.RecordState]:
        if "at" in case:
            return ct.state_at(events, case["at"])
        return ct.replay(events)

    if "state" in expect:
        assert run() == expected_state(expect["state"])
    else:
        with pytest.raises(ct.TransitionError) as raised:
            run()
        assert raised.value.code == expect["error"]["code"]
        assert [(e.field, e.code) for e in raised.value.errors] == [
            (e["field"], e["code"]) for e in expect["error"].get("errors", [])
        ]


def test_apply_step_by_step_with_datetimes() -> None:
    case = next(c for c in LIFECYCLE if c["name"] == "five resales then retire")
    state: Optional[ct.RecordState] = None
    for event in case["events"]:
        state = ct.apply(state, {**event, "created_at": instant(event["created_at"])})
    assert state == expected_state(case["expect"]["state"])
    assert state is not None and state.status == "RETIRED"
    with pytest.raises(ValueError, match="timezone-aware"):
        ct.state_at(case["events"], datetime(2026, 1, 1))


def test_record_ids_raise_and_collect() -> None:
    rows = [exact(c["body"]) for c in IDS[:5]] + [exact(REJECTS[0]["body"])] + [exact(IDS[5]["body"])]
    with pytest.raises(ct.ValidationError) as raised:
        ct.record_ids(rows)
    assert raised.value.row == 5
    collected = ct.record_ids(rows, errors="collect")
    assert collected[:5] == [c["id"] for c in IDS[:5]]
    assert isinstance(collected[5], ct.ValidationError) and collected[5].row == 5
    assert collected[6] == IDS[5]["id"]
    assert ct.record_ids(iter(rows[:2])) == [c["id"] for c in IDS[:2]]


def test_the_core_lists_hold_every_code_the_oracle_uses() -> None:
    """The exported lists are the core's: every field, error code and
    transition code the independent reference produces is in them."""
    assert ct.RECORD_FIELDS == ("project_name", "registry", "vintage", "quantity", "serial_number")
    # The dataclass declares the core's fields, in the core's order.
    assert tuple(f.name for f in dataclasses.fields(ct.CanonicalRecord)) == ct.RECORD_FIELDS
    error_codes = {e["code"] for c in REJECTS for e in c["errors"]}
    error_codes |= {e["code"] for c in LIFECYCLE for e in c["expect"].get("error", {}).get("errors", [])}
    assert error_codes <= set(ct.ERROR_CODES), error_codes - set(ct.ERROR_CODES)
    transition_codes = {c["expect"]["error"]["code"] for c in LIFECYCLE if "error" in c["expect"]}
    assert transition_codes <= set(ct.TRANSITION_CODES), transition_codes - set(ct.TRANSITION_CODES)
    assert len(set(ct.ERROR_CODES)) == len(ct.ERROR_CODES) and len(set(ct.TRANSITION_CODES)) == len(ct.TRANSITION_CODES)
    # Every purpose the reference accepts, and no other, in the SPEC's order.
    accepted = [c["events"][-1]["payload"]["purpose"] for c in LIFECYCLE
                if c["name"].startswith("RETIRED for purpose ") and "state" in c["expect"]]
    assert ct.RETIREMENT_PURPOSES == tuple(accepted)


SERIALS = cases("serials.json")
SPLITS = cases("splits.json")


@pytest.mark.parametrize("case", SERIALS, ids=[c["name"] for c in SERIALS])
def test_serials(case: dict[str, Any]) -> None:
    assert ct.parse_serial(case["serial"]) == case["block"]


def _without_ids(value: Any) -> Any:
    """The vectors leave out event ids (they are random)."""
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if not (k == "id" and "event_type" in value)}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


@pytest.mark.parametrize("case", SPLITS, ids=[c["name"] for c in SPLITS])
def test_splits(case: dict[str, Any]) -> None:
    expect = case["expect"]

    def run() -> dict[str, Any]:
        return ct.split_block(case["record"], case["history"], case["action"], case["payload"], now=case["now"])

    if "error" in expect:
        with pytest.raises(ct.TransitionError) as raised:
            run()
        assert raised.value.code == expect["error"]["code"]
        assert [(e.field, e.code) for e in raised.value.errors] == [(e["field"], e["code"]) for e in expect["error"]["errors"]]
        return
    got = run()
    assert _without_ids(got) == expect
    # The event ids are fresh UUIDv7s.
    events = [got["whole"]] if "whole" in got else [got["split"]["parent"], *got["split"]["front"]["events"], *got["split"]["back"]["events"]]
    assert len({e["id"] for e in events}) == len(events)

"""Hypothesis: the package equals the pure-Python reference wherever the
reference accepts an input, reports the same (field, code) list where it
rejects, and never crashes on anything."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

from hypothesis import given, settings
from hypothesis import strategies as st

import carbon_tracker as ct
import ids_v1

# Characters assigned in Python's Unicode (14.0): later ones may lowercase
# differently in Rust's newer tables, which the README lists as a known limit.
ASSIGNED = st.characters(exclude_categories=["Cn", "Cs"])
text = st.text(ASSIGNED, max_size=40) | st.sampled_from([" Solar Farm ", "ΟΔΟΣ", "İ", "ℌ", "ﬁ", "ＡＢ", "A|B", "\x00", ""])
numbers = (
    st.decimals(allow_nan=True, allow_infinity=True)
    | st.integers()
    | st.floats()
    | st.text(st.sampled_from("0123456789.eE+- "), max_size=30)
    | st.sampled_from(["1E+2", "0.00019", "1e-999999999", "NaN", "inf", "99999999999999.99999"])
)
anything: st.SearchStrategy[Any] = st.none() | st.booleans() | numbers | text | st.lists(st.integers(), max_size=2)
field_values = st.fixed_dictionaries(
    {},
    optional={
        "project_name": text | anything,
        "registry": text | anything,
        "vintage": st.integers(1800, 2200) | st.from_regex(r"\s?[+-]?[0-9]{1,5}\s?", fullmatch=True) | anything,
        "quantity": numbers | anything,
        "serial_number": text | anything,
    },
)


@settings(max_examples=2000, deadline=None)
@given(field_values)
def test_equals_the_reference(fields: dict[str, Any]) -> None:
    try:
        expected_canonical, expected_id = ids_v1.derive(fields)
    except ids_v1.Rejected as rejected:
        errors = ct.validate(fields)
        assert [(e.field, e.code) for e in errors] == rejected.errors
        return
    assert ct.record_id(fields) == expected_id
    assert ct.canonicalize(fields).as_dict() == expected_canonical


surrogate_text = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF) | ASSIGNED, min_size=1, max_size=10)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.sampled_from(ids_v1.FIELD_ORDER), anything | surrogate_text | st.integers(-(10**60), 10**60)))
def test_never_crashes(fields: dict[str, Any]) -> None:
    try:
        assert len(ct.record_id(fields)) == 64
    except ct.ValidationError as e:
        assert e.errors and all(err.message.startswith(err.field) for err in e.errors)


def test_special_inputs_are_clear_errors() -> None:
    base = {"project_name": "a", "registry": "b", "vintage": 2023, "quantity": 1, "serial_number": "c"}
    for field, value, code in [
        ("quantity", float("nan"), "not_a_number"),
        ("quantity", float("inf"), "not_a_number"),
        ("quantity", Decimal("NaN"), "not_a_number"),
        ("quantity", 10**40, "too_large"),
        ("vintage", 10**40, "out_of_range"),
        ("project_name", "\ud800", "invalid_unicode"),
        ("serial_number", "a\x00b", "control_character"),
    ]:
        errors = ct.validate({**base, field: value})
        assert [(e.field, e.code) for e in errors] == [(field, code)]
    cases: list[tuple[str, Any, Optional[str]]] = [("quantity", 10**5000, "too_large"), ("quantity", -(10**5000), "not_positive"),
                                                   ("vintage", 10**5000, "out_of_range"),
                                                   ("quantity", 90961303843695.62, None)]
    for field, value, maybe_code in cases:
        errors = ct.validate({**base, field: value})
        assert [(e.field, e.code) for e in errors] == ([(field, maybe_code)] if maybe_code else [])
    # A float reads as repr() does, ties to even: 90961303843695.625 is "…695.62".
    assert ct.canonicalize({**base, "quantity": 90961303843695.62}).quantity == "90961303843695.6200"


class MyDecimal(Decimal):
    pass


def test_decimal_subclass_is_exact() -> None:
    base = {"project_name": "a", "registry": "b", "vintage": 2023, "serial_number": "c"}
    assert ct.record_id({**base, "quantity": MyDecimal("1.5")}) == ct.record_id({**base, "quantity": "1.5"})


def test_out_of_range_timestamps_and_non_finite_prices_are_clear_errors() -> None:
    record = "86db9b9a1e56092d9ff60b0ee09713b28f12312243fbe6d51f21020e5ec303fe"
    created = {"id": "0192f0c1-0000-7000-8000-000000000001", "record_id": record, "seq": 1,
               "event_type": "CREATED", "payload": None, "created_at": "2026-01-01T00:00:00Z"}
    for at in ["9999-12-31T23:59:59-01:00", "0000-01-01T00:00:00Z"]:
        try:
            ct.replay([{**created, "created_at": at}])
        except ValueError as e:
            assert "out of range" in str(e)
        else:
            raise AssertionError(f"{at} accepted")
    for price in [float("inf"), float("nan")]:
        sold = {**created, "id": "0192f0c1-0000-7000-8000-000000000002", "seq": 2, "event_type": "SOLD",
                "payload": {"buyer": "x", "price": price}, "created_at": "2026-01-02T00:00:00Z"}
        try:
            ct.replay([created, sold])
        except ct.TransitionError as e:
            assert [(err.field, err.code) for err in e.errors] == [("price", "not_a_number")]
        else:
            raise AssertionError(f"price {price} accepted")
    assert ct.replay([created, {**created, "seq": 2, "event_type": "SOLD", "created_at": "2026-01-02T00:00:00Z",
                               "payload": {"buyer": "x", "price": Decimal("12.50")}}]).status == "SOLD"


@settings(max_examples=3000, deadline=None)
@given(st.floats(min_value=1e-5, max_value=1e14, allow_nan=False) | st.floats(min_value=1e12, max_value=1e14))
def test_float_quantities_read_as_repr(quantity: float) -> None:
    fields = {"project_name": "a", "registry": "b", "vintage": 2023, "quantity": quantity, "serial_number": "c"}
    try:
        expected = ids_v1.derive(fields)[1]
    except ids_v1.Rejected as rejected:
        assert [(e.field, e.code) for e in ct.validate(fields)] == rejected.errors
        return
    assert ct.record_id(fields) == expected

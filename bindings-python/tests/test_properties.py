"""Hypothesis: the package equals the pure-Python reference wherever the
reference accepts an input, reports the same (field, code) list where it
rejects, and never crashes on anything."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

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

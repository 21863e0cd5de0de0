"""Pure-Python reference of the `v1` record id scheme (SPEC §2).

This file is the independent oracle for every host's id tests: it uses only the
standard library (``hashlib``, ``unicodedata``, ``decimal``, ``re``) and follows
the SPEC text step by step, sharing no code with the Rust core. The expected ids
in ``tests/vectors/ids.json`` are written by ``tests/vectors/generate.py`` from
this module, never from the code under test.

Public API:

* ``derive(fields) -> (canonical, id)`` where ``fields`` is a mapping from a
  JSON body parsed with ``parse_body``; raises ``Rejected`` listing every
  ``(field, code)`` problem of the input;
* ``parse_body(text)`` parses JSON keeping numbers exact (``Decimal``).
"""

from __future__ import annotations

import decimal
import hashlib
import json
import re
import unicodedata
from typing import Any, Mapping

SCHEME = "v1"
TEXT_FIELDS = ("project_name", "registry", "serial_number")
FIELD_ORDER = ("project_name", "registry", "vintage", "quantity", "serial_number")
MAX_TEXT_CHARS = 256
MIN_VINTAGE, MAX_VINTAGE = 1900, 2100
# quantity < 10^14: it must fit NUMERIC(18,4).
QUANTITY_LIMIT = decimal.Decimal(10) ** 14
FOUR_PLACES = decimal.Decimal("0.0001")

# The decimal text the v1 scheme accepts for a quantity given as a string:
# an optional sign, digits with an optional fraction (".5" and "5." included),
# an optional exponent; ASCII digits only. Python's str.strip() whitespace
# around it is ignored.
DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")


class Rejected(ValueError):
    """The input is invalid; ``errors`` lists ``(field, code)`` pairs in field order."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__(", ".join(f"{f}: {c}" for f, c in errors))
        self.errors = errors


def parse_body(text: str) -> Any:
    """Parse a JSON body keeping every number's exact digits."""
    return json.loads(text, parse_float=decimal.Decimal, parse_int=decimal.Decimal)


def canonical_text(value: str) -> str:
    """SPEC §2.1: str.strip(), then str.lower(), then NFKC, in that order."""
    return unicodedata.normalize("NFKC", value.strip().lower())


def text_errors(canonical: str) -> list[str]:
    codes = []
    if canonical == "":
        codes.append("empty")
    if "|" in canonical:
        codes.append("contains_separator")
    if any(unicodedata.category(c) == "Cc" for c in canonical):
        codes.append("control_character")
    if len(canonical) > MAX_TEXT_CHARS:
        codes.append("too_long")
    return codes


def _exact_decimal(value: Any) -> decimal.Decimal | None:
    """The exact decimal a quantity denotes, or None if it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, decimal.Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return decimal.Decimal(value)
    if isinstance(value, float):
        # A float's shortest round-trip spelling, as the original service read it.
        return decimal.Decimal(repr(value)) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        text = value.strip()
        if DECIMAL_TEXT.fullmatch(text) is None:
            return None
        try:
            return decimal.Decimal(text)
        except decimal.InvalidOperation:
            # An exponent beyond what decimal can hold: keep the sign and the
            # side of 1 (only those matter to the range checks).
            mantissa, _, exponent = text.lower().partition("e")
            if decimal.Decimal(mantissa) == 0:
                return decimal.Decimal(0)
            sign = "-" if mantissa.startswith("-") else ""
            return decimal.Decimal(f"{sign}1e99" if not exponent.startswith("-") else f"{sign}1e-99")
    return None


def canonical_quantity(value: Any) -> tuple[str | None, str | None]:
    """SPEC §2.3: exact, truncated toward zero to 4 places, written with 4 places.

    Returns ``(text, None)`` or ``(None, code)``.
    """
    exact = _exact_decimal(value)
    if exact is None:
        return None, "not_a_number"
    # Compare before quantizing (copy_abs is exact: no context, no overflow).
    if exact.copy_abs() >= QUANTITY_LIMIT:
        return None, ("too_large" if exact > 0 else "not_positive")
    with decimal.localcontext() as ctx:
        ctx.prec = 40
        ctx.Emin, ctx.Emax = decimal.MIN_EMIN, decimal.MAX_EMAX
        truncated = exact.quantize(FOUR_PLACES, rounding=decimal.ROUND_DOWN)
    if truncated <= 0:
        return None, "not_positive"
    return f"{truncated:f}", None


def canonical_vintage(value: Any) -> tuple[int | None, str | None]:
    """SPEC §2.2: an integer year 1900..2100; an integer-valued string is accepted."""
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, decimal.Decimal):
        if value.is_finite() and value.adjusted() > 4:
            # Integral or not, far outside the range; int() would not fit in memory.
            return (None, "out_of_range") if value == value.to_integral_value() else (None, "not_an_integer")
        if value.is_finite() and value == value.to_integral_value():
            number = int(value)
    elif isinstance(value, float):
        if value == value and abs(value) != float("inf") and value == int(value):
            number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if INTEGER_TEXT.fullmatch(text) is not None:
            # More than 5 digits (after any sign and leading zeros) is out of range.
            digits = text.lstrip("+-").lstrip("0")
            number = int(text) if len(digits) <= 5 else 10**6
    if number is None:
        return None, "not_an_integer"
    if not MIN_VINTAGE <= number <= MAX_VINTAGE:
        return None, "out_of_range"
    return number, None


def canonicalize(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical fields of an input, or ``Rejected`` with every problem."""
    if not isinstance(fields, Mapping):
        raise Rejected([("body", "not_an_object")])
    errors: list[tuple[str, str]] = []
    out: dict[str, Any] = {}
    for name in FIELD_ORDER:
        value = fields.get(name)
        if value is None:
            errors.append((name, "missing"))
            continue
        if name in TEXT_FIELDS:
            if not isinstance(value, str):
                errors.append((name, "not_a_string"))
                continue
            text = canonical_text(value)
            codes = text_errors(text)
            errors.extend((name, c) for c in codes)
            out[name] = text
        elif name == "vintage":
            year, code = canonical_vintage(value)
            if code:
                errors.append((name, code))
            out[name] = year
        else:
            qty, code = canonical_quantity(value)
            if code:
                errors.append((name, code))
            out[name] = qty
    if errors:
        raise Rejected(errors)
    return out


def canonical_string(canonical: Mapping[str, Any]) -> str:
    """SPEC §2.4: the five canonical fields joined by `|`."""
    return "|".join(str(canonical[name]) for name in FIELD_ORDER)


def derive(fields: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The canonical fields and the v1 id of an input."""
    canonical = canonicalize(fields)
    digest = hashlib.sha256(canonical_string(canonical).encode("utf-8")).hexdigest()
    return canonical, digest


def record_id(fields: Mapping[str, Any]) -> str:
    """The v1 id of an input."""
    return derive(fields)[1]

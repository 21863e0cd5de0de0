"""Pure-Python reference of the lifecycle (SPEC §3), the oracle for
``tests/vectors/lifecycle.json``. Standard library only; shares no code with the
Rust core.

Checks, in this order, for an event applied to an existing record: same record,
next ``seq``, not earlier than the previous event, not after a final event, not
a second CREATED, then the payload rules. For the first event: CREATED, seq 1,
then the payload rules.
"""

from __future__ import annotations

import re
from decimal import Decimal
import unicodedata
from datetime import datetime, timezone
from typing import Any, Optional

FINAL = {"RETIRED", "CANCELLED", "SPLIT"}
AFTER = {"SOLD": "SOLD", "RETIRED": "RETIRED", "CANCELLED": "CANCELLED", "SPLIT": "SPLIT"}
U64_MAX = 2**64 - 1
MAX_NAME, MAX_NOTE, MAX_PUBLIC_NOTE = 256, 1000, 256
# SPEC §6: why credits were retired.
PURPOSES = ("corporate_target", "public_claim", "insetting", "regulatory_compliance", "other")
# The 249 officially assigned ISO 3166-1 alpha-2 codes (ISO 3166-1, as kept by
# the ISO 3166 Maintenance Agency; copied from Debian's iso-codes 4.15,
# /usr/share/iso-codes/json/iso_3166-1.json). User-assigned
# codes (AA, QM..QZ, XA..XZ, ZZ), exceptionally reserved ones (EU, UK...) and
# withdrawn ones (AN, CS...) are not in it. Written out here: the standard
# library has no list, and this oracle shares no data with the Rust core.
ISO_3166_1_ALPHA_2 = frozenset({
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX",
    "AZ", "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ",
    "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK",
    "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM",
    "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR",
    "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS",
    "GT", "GU", "GW", "GY", "HK", "HM", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN",
    "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN",
    "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV",
    "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ",
    "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI",
    "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM",
    "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC",
    "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV",
    "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR",
    "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
})
assert len(ISO_3166_1_ALPHA_2) == 249
DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

# key -> (required, rule) per event type
SCHEMA: dict[str, dict[str, tuple[bool, str]]] = {
    # A split's child names its parent and inherits the holder (SPEC §6).
    "CREATED": {"parent": (False, "record_id"), "holder": (False, "name")},
    "SOLD": {"buyer": (True, "name"), "price": (False, "price"), "currency": (False, "currency"), "note": (False, "note")},
    "RETIRED": {"beneficiary": (False, "name"), "reason": (False, "note"), "purpose": (False, "purpose"),
                "beneficiary_country": (False, "country"), "note": (False, "public_note"),
                "effective_at": (False, "timestamp")},
    "CANCELLED": {"reason": (False, "note"), "effective_at": (False, "timestamp")},
    "SPLIT": {"front": (True, "record_id"), "back": (True, "record_id"), "quantity": (True, "credits")},
}


class Refused(Exception):
    def __init__(self, code: str, errors: Optional[list[tuple[str, str]]] = None) -> None:
        super().__init__(code)
        self.code = code
        self.errors = errors or []


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def utc_text(text: str) -> str:
    return instant(text).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_control(c: str) -> bool:
    return unicodedata.category(c) == "Cc"


def credits(value: Any) -> tuple[Optional[int], Optional[str]]:
    """A whole number of credits (SPEC §6 ``quantity``): a number of integral
    value (``37``, ``37.0``, ``3.7e1``: JSON Schema's ``integer`` admits them)
    or a string of digits, 1 to 2**64 - 1; a negative value is
    ``not_positive`` first. ``(number, None)`` or ``(None, code)``."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, float, str)):
        return None, "not_an_integer"
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-[0-9]*[1-9][0-9]*", text):
            return None, "not_positive"
        if not re.fullmatch(r"\+?[0-9]+", text):
            return None, "not_an_integer"
        n = int(text)
    else:
        # A float as JSON writes it (its shortest spelling), read exactly.
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not d.is_finite():
            return None, "not_an_integer"
        if d < 0:
            return None, "not_positive"
        if d != d.to_integral_value():
            return None, "not_an_integer"
        if d.adjusted() > 19:
            return None, "too_large"
        n = int(d)
    if n == 0:
        return None, "not_positive"
    return (n, None) if n <= U64_MAX else (None, "too_large")


def _check(rule: str, value: Any) -> Optional[str]:
    if rule in ("name", "note", "public_note", "currency", "record_id", "purpose", "country", "timestamp") and not isinstance(value, str):
        return "not_a_string"
    if rule == "timestamp":
        # A UTC instant, YYYY-MM-DDThh:mm:ss[.f]Z, naming a real date and time.
        m = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?Z", value)
        if m is None:
            return "invalid_format"
        try:
            year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
            datetime(year, month, day, hour, minute, second)
        except ValueError:
            return "invalid_format"
        return None
    if rule == "record_id":
        return None if re.fullmatch(r"[0-9a-f]{64}", value) else "invalid_format"
    if rule == "credits":
        return credits(value)[1]
    if rule == "name":
        v = value.strip()
        if v == "":
            return "empty"
        if any(_is_control(c) for c in v):
            return "control_character"
        return "too_long" if len(v) > MAX_NAME else None
    if rule in ("note", "public_note"):
        if any(_is_control(c) and c not in "\n\r\t" for c in value):
            return "control_character"
        return "too_long" if len(value) > (MAX_NOTE if rule == "note" else MAX_PUBLIC_NOTE) else None
    if rule == "currency":
        return None if re.fullmatch(r"[A-Z]{3}", value) else "invalid_currency"
    if rule == "purpose":
        return None if value in PURPOSES else "invalid_choice"
    if rule == "country":
        # Exactly as ISO writes it: uppercase, not folded (stored as sent).
        return None if value in ISO_3166_1_ALPHA_2 else "invalid_country"
    # price: a JSON number (given here as its text) or a decimal string
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return "not_a_number"
    text = value.strip() if isinstance(value, str) else repr(value)
    if not DECIMAL_TEXT.fullmatch(text):
        return "not_a_number"
    negative = text.startswith("-") and any(c in "123456789" for c in text.split("e")[0].split("E")[0])
    if negative:
        return "negative"
    # Bounded like a quantity: below 10^14 once truncated to 4 decimals.
    return "too_large" if Decimal(text) >= Decimal(10) ** 14 else None


def payload_errors(event_type: str, payload: Optional[dict[str, Any]]) -> list[tuple[str, str]]:
    payload = payload or {}
    schema = SCHEMA[event_type]
    errors = []
    for key in sorted(payload):
        if key not in schema:
            errors.append((key, "not_allowed" if not schema else "unknown_field"))
    for key, (required, rule) in schema.items():
        value = payload.get(key)
        if value is None:
            if required:
                errors.append((key, "missing"))
            continue
        code = _check(rule, value)
        if code:
            errors.append((key, code))
    return errors


def apply(state: Optional[dict[str, Any]], event: dict[str, Any]) -> dict[str, Any]:
    etype, seq, at = event["event_type"], event["seq"], event["created_at"]
    if state is None:
        if etype != "CREATED":
            raise Refused("not_created")
        if seq != 1:
            raise Refused("out_of_sequence")
        holder = (event.get("payload") or {}).get("holder")
        new = {"record_id": event["record_id"], "status": "ACTIVE", "last_seq": 1,
               "created_at": utc_text(at), "updated_at": utc_text(at),
               "owner": holder.strip() if isinstance(holder, str) else None}
    else:
        if event["record_id"] != state["record_id"]:
            raise Refused("wrong_record")
        if seq != state["last_seq"] + 1:
            raise Refused("out_of_sequence")
        if instant(at) < instant(state["updated_at"]):
            raise Refused("time_went_backwards")
        if state["status"] in FINAL:
            raise Refused("already_final")
        if etype == "CREATED":
            raise Refused("already_created")
        owner = state["owner"]
        if etype == "SOLD":
            buyer = (event.get("payload") or {}).get("buyer")
            owner = buyer.strip() if isinstance(buyer, str) else None
        new = dict(state, status=AFTER[etype], last_seq=seq, updated_at=utc_text(at), owner=owner)
    errors = payload_errors(etype, event.get("payload"))
    if errors:
        raise Refused("invalid_payload", errors)
    return new


def replay(events: list[dict[str, Any]]) -> dict[str, Any]:
    if not events:
        raise Refused("no_events")
    state = None
    for event in events:
        state = apply(state, event)
    assert state is not None
    return state


def state_at(events: list[dict[str, Any]], at: str) -> Optional[dict[str, Any]]:
    state = None
    for event in events:
        if instant(event["created_at"]) > instant(at):
            break
        state = apply(state, event)
    return state

#!/usr/bin/env python3
"""Writes the conformance vectors from the pure-Python references.

    .venv/bin/python tests/vectors/generate.py          # rewrite ids.json, rejects.json, lifecycle.json, serials.json, splits.json, log.json
    .venv/bin/python tests/vectors/generate.py --check  # fail if the committed files differ

Expected values come from ``tests/reference/`` (standard library only, but for
the ``cryptography`` package's Ed25519 in ``log_v1.py``) and from published
vectors (``sources/`` and the constants of the log.json section), never from
the code under test. The 60 cases of
``../shared/vectors/original-service-ids.json`` are copied in and their ids are
asserted equal to the ids the original service derived.
"""

from __future__ import annotations

import argparse
import base64
import copy
import difflib
import hashlib
import itertools
import json
import random
import sys
import unicodedata
from pathlib import Path
from typing import Any, Iterator, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "reference"))

import ids_v1  # noqa: E402
import lifecycle_v1  # noqa: E402
import log_v1  # noqa: E402
import serials_v1  # noqa: E402
import splits_v1  # noqa: E402

SHARED = ROOT.parent / "shared" / "vectors" / "original-service-ids.json"
FIELDS = ids_v1.FIELD_ORDER
BASE = {"project_name": "Solar Farm", "registry": "VCS", "vintage": 2023, "quantity": 100, "serial_number": "VCS-001"}


def body(**overrides: Any) -> str:
    """A JSON body: BASE with some fields replaced (a value of ... removes the field)."""
    fields = {k: v for k, v in {**BASE, **overrides}.items() if v is not ...}
    return json.dumps(fields, ensure_ascii=False)


def raw_body(**raw: str) -> str:
    """A JSON body whose values are given as raw JSON text (exact number spellings)."""
    fields = {k: json.dumps(v, ensure_ascii=False) for k, v in BASE.items()}
    fields.update(raw)
    return "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in fields.items()) + "}"


def outcome(parsed: Any) -> Any:
    try:
        canonical, digest = ids_v1.derive(parsed)
        return ("ok", canonical, digest)
    except ids_v1.Rejected as e:
        return ("rejected", e.errors)


def float_safe(text: str) -> bool:
    """Whether a host reading JSON numbers as IEEE doubles gets the same outcome."""
    return outcome(ids_v1.parse_body(text)) == outcome(json.loads(text))


# ---------------------------------------------------------------- ids.json

def python_whitespace() -> list[str]:
    return [chr(c) for c in range(0x110000) if chr(c).isspace()]


def hand_id_cases() -> Iterator[tuple[str, str]]:
    for ws in python_whitespace():
        yield f"whitespace U+{ord(ws):04X} at both ends", body(project_name=f"{ws}Solar Farm{ws}", serial_number=f"{ws}{ws}VCS-001{ws}")
    kept = {"U+200B zero width space": "\u200b", "U+180E mongolian vowel separator": "\u180e", "U+FEFF byte order mark": "\ufeff", "U+2060 word joiner": "\u2060"}
    for name, ch in kept.items():
        yield f"{name} is not whitespace and is kept", body(project_name=f"{ch}Solar{ch}")
    unicode_cases = {
        "dotted capital I lowercases to i + combining dot": "İstanbul İ",
        "final sigma": "ΟΔΟΣ",
        "final sigma before punctuation": "ΟΔΟΣ. ΣΑΣ",
        "lone capital sigma": "Σ",
        "sigma after apostrophe (case-ignorable)": "A'Σ",
        "sigma between letters": "AΣB",
        "sigma after space": "A Σ",
        "black-letter H stays capital after NFKC": "ℌ Farm",
        "double-struck capitals": "ℍℂℕ",
        "mathematical bold capitals stay capital": "𝐀𝐁𝐂 Farm",
        "squared latin capital": "🄰🄱",
        "roman numeral twelve": "Ⅻ",
        "small roman numerals": "ⅻⅳ",
        "fi ligature": "ﬁeld",
        "ffi ligature": "oﬃce",
        "ff ligature": "eﬀort",
        "dz titlecase digraph": "ǅemal",
        "capital sharp s": "ẞtraße",
        "circled letter": "Ⓐⓑ",
        "full-width latin": "ＶＣＳ Ｆａｒｍ",
        "full-width digits": "Ｆａｒｍ １２３",
        "half-width katakana with voiced mark": "ｶﾞｷﾞ",
        "square kilogram": "㎏ Farm",
        "square corporation": "㍿",
        "vulgar fraction": "½ Farm",
        "kelvin sign": "K Farm",
        "ohm sign": "Ω Farm",
        "angstrom sign": "Å Farm",
        "combining diaeresis composes": "A\u0308rhus",
        "decomposed hangul composes": "\u1100\u1161",
        "hangul compatibility jamo": "ㄱㅏ",
        "dotless i is kept": "ıI",
        "cherokee capital lowercases": "ᎠᎡᎢ",
        "georgian capital lowercases": "ႠႡ",
        "greek with tonos": "Άθήνα",
        "greek iota with dialytika and tonos": "ΐΰ",
        "arabic ligature expands": "ﷺ",
        "arabic presentation form": "ﺳﻼﻡ",
        "emoji is kept": "🌱 Farm",
        "diaeresis decomposes to a leading space, kept": "\u00a8abc",
        "acute accent decomposes to space + combining acute": "\u00b4",
        "one dot leader": "A․B",
        "superscripts": "CO² e³",
        "subscript": "CO₂",
        "micro sign": "µg",
        "long s": "ſtate",
        "armenian ligature": "ﬓ",
        "turkish capital with cedilla": "ŞĞÇ",
        "vietnamese stacked diacritics": "Ẩm Thực",
        "cyrillic": "Лесной Проект",
        "devanagari": "महाराष्ट्र",
        "chinese": "碳信用项目",
        "compatibility ideograph": "\uf900\uf901",
        "broken bar is not a separator": "A¦B",
        "full stop variants": "A．B｡C",
        "non-breaking space inside is normalized to space": "Solar\u00a0Farm",
        "ideographic space inside": "Solar\u3000Farm",
        "en quad inside": "Solar\u2000Farm",
        "zero width joiner inside": "a\u200db",
        "tab-like ogham space mark inside": "a\u1680b",
    }
    for name, text in unicode_cases.items():
        yield name, body(project_name=text)
    yield "unicode in every text field", body(project_name="ℌydro Ⅻ", registry="ＧＳ", serial_number="ΟΔΟΣ-ﬁ-001")
    yield "256 ASCII characters", body(project_name="a" * 256)
    yield "256 non-ASCII characters", body(project_name="é" * 256)
    yield "255 characters from 85 ffi ligatures", body(project_name="ﬃ" * 85)
    yield "256 characters after stripping", body(project_name="  " + "B" * 256 + "\n")
    quantities = {
        "integer": "100", "float with .0": "100.0", "JSON exponent": "1E+2", "JSON lowercase exponent": "1e2",
        "negative exponent": "1.5e-3", "smallest positive": "0.0001", "truncated to smallest": "0.00019",
        "exponent to smallest": "1e-4", "long fraction": "12.34567890123456789012345678901234567890",
        "largest": "99999999999999.9999", "largest with more digits": "99999999999999.99999999",
        "float that rounds up in binary": "1.99999999999999999999",
        "float just below 4 places": "0.99999999999999999", "trailing zeros": "100.5000",
        "seventeen digits": "123456789.12345678", "precise binary value": "0.1",
    }
    for name, number in quantities.items():
        yield f"quantity as JSON number: {name}", raw_body(quantity=number)
    texts = ["100.5", "1E+2", "1e2", ".5", "5.", "+7", " 42 ", "\t3.25\n", "0001.5000", "1.99999999999999999999", "1e-4",
             "99999999999999.9999", "0.00019", "628E+6", "5e-4", "1.0e1", "+0.5e1", "1E0"]
    for number in texts:
        yield f"quantity as string {number!r}", body(quantity=number)
    for vintage in ["1900", "2100", '"2023"', '" 2023 "', '"+2023"', "2023.0", "2.023e3", '"1900"']:
        yield f"vintage {vintage}", raw_body(vintage=vintage)
    yield "unknown fields are ignored", body(extra="x", id="ignored")


WORDS = ["Solar", "Wind", "Mangrove", "Peatland", "Cookstove", "Hydro", "Biogas", "Rice", "Kenya", "Gujarat",
         "Amazon", "Blue-Carbon", "REDD+", "Restoration", "Farm", "Forest", "Landfill", "Methane"]
DECOR = ["ℌ", "Ⅻ", "ﬁ", "ＡＢ", "İ", "Σ", "ǅ", "ẞ", "Ⓐ", "½", "ｶﾞ", "K", "Å", "A\u0308", "ΟΔΟΣ", "Ꭰ", "Ⴀ", "㎏", "µ", "ſ", "é", "ß"]
SPACES = [" ", "\t", "\n", "\u00a0", "\u3000", "\u2005", "\u001c", "\u001f", "\u0085", "\u000b", "\u000c", "\r", "\u2028"]
REGISTRIES = ["VCS", "Verra", "Gold Standard", "GS", "CAR", "ACR", "Puro.earth", "Isometric"]


def random_cases(count: int) -> Iterator[tuple[str, str]]:
    rng = random.Random(20261125)

    def mixcase(s: str) -> str:
        return "".join(c.upper() if rng.random() < 0.4 else c.lower() for c in s)

    def pad(s: str) -> str:
        left = "".join(rng.choice(SPACES) for _ in range(rng.randint(0, 2)))
        right = "".join(rng.choice(SPACES) for _ in range(rng.randint(0, 2)))
        return left + s + right

    def text(words: int) -> str:
        parts = [mixcase(rng.choice(WORDS)) for _ in range(words)]
        if rng.random() < 0.5:
            parts.insert(rng.randint(0, len(parts)), rng.choice(DECOR))
        return pad(" ".join(parts))

    def quantity() -> str:
        kind = rng.randint(0, 5)
        whole = rng.randint(1, 10 ** rng.randint(1, 13))
        frac = str(rng.randint(0, 10 ** 9)).rjust(9, "0")[: rng.randint(1, 9)]
        if kind == 0:
            return str(whole)
        if kind == 1:
            return f"{whole}.{frac}"
        if kind == 2:
            return json.dumps(f"{whole}.{frac}")
        if kind == 3:
            return json.dumps(f"{rng.randint(1, 999)}E+{rng.randint(0, 8)}")
        if kind == 4:
            return f"{rng.randint(1, 99999)}e-{rng.randint(0, 6)}"
        return json.dumps(f"{whole}")

    for n in range(count):
        serial = rng.choice([f"VCS-{rng.randint(1, 99999):05d}", f"GS1-1-IN-GS{rng.randint(1, 9999)}-{rng.randint(1, 99)}-2020",
                             f"{rng.randint(1000, 9999)}-{rng.randint(10**8, 10**9)}-VCS-VCU-{rng.randint(1, 999)}"])
        vintage = rng.choice([str(rng.randint(1990, 2040)), json.dumps(str(rng.randint(1990, 2040))), f"{rng.randint(1990, 2040)}.0"])
        fields = {
            "project_name": json.dumps(text(rng.randint(1, 4)), ensure_ascii=rng.random() < 0.5),
            "registry": json.dumps(pad(mixcase(rng.choice(REGISTRIES))), ensure_ascii=rng.random() < 0.5),
            "vintage": vintage,
            "quantity": quantity(),
            "serial_number": json.dumps(pad(mixcase(serial)), ensure_ascii=rng.random() < 0.5),
        }
        yield f"generated #{n + 1}", "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in fields.items()) + "}"


def id_case(name: str, text: str, source: str) -> dict[str, Any]:
    result = outcome(ids_v1.parse_body(text))
    if result[0] != "ok":
        raise SystemExit(f"id case {name!r} is rejected by the reference: {result[1]}")
    _, canonical, digest = result
    return {"name": name, "source": source, "body": text, "canonical": canonical, "id": digest, "float_safe": float_safe(text)}


def ids_vectors() -> dict[str, Any]:
    cases = []
    shared = json.loads(SHARED.read_text(encoding="utf-8"))["cases"]
    for n, c in enumerate(shared, 1):
        case = id_case(f"original service #{n}", c["body"], "original-service")
        if case["id"] != c["id"] or case["canonical"] != c["canonical"]:
            raise SystemExit(f"reference disagrees with the original service on {c['body']!r}")
        cases.append(case)
    spec = '{"project_name":"Solar Farm","registry":"VCS","vintage":2023,"quantity":100.1,"serial_number":"VCS-001"}'
    case = id_case("SPEC §2 example", spec, "spec")
    assert case["id"] == "a5bc4dc91565de74176de49c87f05596fdaecb63004268bc71473c4f1fda6187"
    cases.append(case)
    cases += [id_case(name, text, "edge") for name, text in hand_id_cases()]
    cases += [id_case(name, text, "generated") for name, text in random_cases(160)]
    return {
        "about": "v1 record ids: request bodies (JSON text, numbers spelled exactly), their canonical fields and ids. "
                 "Written by tests/vectors/generate.py from tests/reference/ids_v1.py. float_safe: a host that reads "
                 "JSON numbers as IEEE doubles (shortest round-trip spelling) gets the same result.",
        "scheme": ids_v1.SCHEME,
        "cases": cases,
    }


# ---------------------------------------------------------------- rejects.json

def hand_reject_cases() -> Iterator[tuple[str, str]]:
    for field in FIELDS:
        yield f"{field} missing", body(**{field: ...})
        yield f"{field} null", body(**{field: None})
    for field in ("project_name", "registry", "serial_number"):
        for value in (42, True, ["a"], {"a": 1}):
            yield f"{field} is {type(value).__name__}", body(**{field: value})
        yield f"{field} empty", body(**{field: ""})
        yield f"{field} only whitespace", body(**{field: " \u3000\n\u001c"})
        yield f"{field} contains |", body(**{field: "A|B"})
        yield f"{field} contains full-width | (NFKC gives |)", body(**{field: "A｜B"})
        yield f"{field} contains a tab", body(**{field: "A\tB"})
        yield f"{field} contains NUL", body(**{field: "A\u0000B"})
        yield f"{field} contains DEL", body(**{field: "A\u007fB"})
        yield f"{field} contains U+0085 inside", body(**{field: "é\u0085é"})
        yield f"{field} contains U+009F", body(**{field: "A\u009fB"})
        yield f"{field} 257 characters", body(**{field: "a" * 257})
        yield f"{field} 257 non-ASCII characters", body(**{field: "é" * 257})
    yield "ligatures expand past 256 characters", body(project_name="ﬃ" * 86)
    yield "arabic ligature expands past 256 characters", body(project_name="ﷺ" * 20)
    yield "several rules broken in one field", body(project_name="a|\t" + "b" * 300)
    for name, number in {"zero": "0", "zero float": "0.0", "negative": "-1", "negative small": "-0.0001",
                         "below 4 places": "0.00009", "exponent below 4 places": "1e-5", "10^14": "1e14",
                         "10^14 spelled out": "100000000000000", "10^30 (a 500 in the original)": "1e30",
                         "huge exponent": "1e999999999", "huge negative exponent": "1e-999999999",
                         "negative huge": "-1e999999999", "negative zero": "-0"}.items():
        yield f"quantity JSON number {name}", raw_body(quantity=number)
    for text in ["0", "-5", "abc", "", " ", "NaN", "nan", "Infinity", "-Infinity", "inf", "1,000", "1_000", "0x10",
                 "１００", "1e", "e5", ".", "1.2.3", "100000000000000", "1e999999999999999999", "1e-999999999999999999",
                 "0.00001", "5 6", "+-5", "١٢٣"]:
        yield f"quantity string {text!r}", body(quantity=text)
    for value in (True, False, [1], {"v": 1}):
        yield f"quantity is {type(value).__name__}", body(quantity=value)
    for raw in ["1899", "2101", "0", "-2023", "2023.5", "1e3", "1e100", "2023.0000000000000001", "true", "[2023]", "{}",
                '"2023.5"', '"abc"', '""', '" "', '"twenty"', '"1e3"', '"２０２３"', '"2023.0"', '"1899"', '"2101"']:
        yield f"vintage {raw}", raw_body(vintage=raw)
    yield "every field wrong at once", raw_body(project_name='" "', registry='"A|B"', vintage="1850", quantity="-5", serial_number="null")
    yield "empty object", "{}"
    for raw in ["[]", "[1, 2, 3, 4, 5]", '"text"', "42", "null", "true"]:
        yield f"body is not an object: {raw}", raw


def rejects_vectors() -> dict[str, Any]:
    cases = []
    for name, text in hand_reject_cases():
        result = outcome(ids_v1.parse_body(text))
        if result[0] != "rejected":
            raise SystemExit(f"reject case {name!r} is accepted by the reference")
        errors = [{"field": f, "code": c} for f, c in result[1]]
        cases.append({"name": name, "body": text, "errors": errors, "float_safe": float_safe(text)})
    return {
        "about": "invalid inputs and every (field, code) the v1 rules report for them, in field order. "
                 "Written by tests/vectors/generate.py from tests/reference/ids_v1.py.",
        "cases": cases,
    }


# ---------------------------------------------------------------- lifecycle.json

RECORD = "86db9b9a1e56092d9ff60b0ee09713b28f12312243fbe6d51f21020e5ec303fe"
OTHER = "92a56c0da9a791f5d9f332aaab5ddbaa334b2ccdbe767cdca34472fbd2bfb539"
PAYLOADS = {
    "CREATED": None,
    "SOLD": {"buyer": "Acme Corp", "price": "12.50", "currency": "USD"},
    "RETIRED": {"beneficiary": "Acme Corp", "reason": "2025 emissions"},
    "CANCELLED": None,
    "SPLIT": {"front": OTHER, "back": RECORD[::-1], "quantity": 37},
}


def event(seq: int, etype: str, payload: Any = "default", *, record: str = RECORD, at: str | None = None) -> dict[str, Any]:
    return {
        "id": f"0192f0c1-0000-7000-8000-{seq:012d}",
        "record_id": record,
        "seq": seq,
        "event_type": etype,
        "payload": PAYLOADS[etype] if payload == "default" else payload,
        "created_at": at or f"2026-01-{max(seq, 1):02d}T10:00:00Z",
    }


def lifecycle_case(name: str, events: list[dict[str, Any]], at: str | None = None) -> dict[str, Any]:
    case: dict[str, Any] = {"name": name, "events": events}
    try:
        if at is None:
            case["expect"] = {"state": lifecycle_v1.replay(events)}
        else:
            case["at"] = at
            case["expect"] = {"state": lifecycle_v1.state_at(events, at)}
    except lifecycle_v1.Refused as e:
        error: dict[str, Any] = {"code": e.code}
        if e.errors:
            error["errors"] = [{"field": f, "code": c} for f, c in e.errors]
        case["expect"] = {"error": error}
    return case


def lifecycle_vectors() -> dict[str, Any]:
    types = ["CREATED", "SOLD", "RETIRED", "CANCELLED"]
    cases = []
    # Every sequence of up to three event types: each row of the SPEC §3 table
    # from every status, valid or not.
    for length in (1, 2, 3):
        for seq_types in itertools.product(types, repeat=length):
            events = [event(i + 1, t) for i, t in enumerate(seq_types)]
            cases.append(lifecycle_case(" → ".join(seq_types), events))
    resale = [event(1, "CREATED")] + [event(i, "SOLD", {"buyer": f"Buyer {i}"}) for i in range(2, 7)]
    cases.append(lifecycle_case("five resales", resale))
    cases.append(lifecycle_case("five resales then retire", resale + [event(7, "RETIRED", None)]))
    cases.append(lifecycle_case("empty history", []))
    c, s = event(1, "CREATED"), event(2, "SOLD")
    cases += [
        lifecycle_case("first event with seq 2", [event(2, "CREATED")]),
        lifecycle_case("first event with seq 0", [event(0, "CREATED")]),
        lifecycle_case("seq gap", [c, event(3, "SOLD")]),
        lifecycle_case("repeated seq", [c, s, dict(event(3, "SOLD"), seq=2)]),
        lifecycle_case("event of another record", [c, event(2, "SOLD", record=OTHER)]),
        lifecycle_case("time goes backwards", [c, event(2, "SOLD", at="2025-12-31T10:00:00Z")]),
        lifecycle_case("same instant is allowed", [c, event(2, "RETIRED", at="2026-01-01T10:00:00Z")]),
        lifecycle_case("offsets normalize to UTC", [event(1, "CREATED", at="2026-01-01T12:00:00+02:00"),
                                                     event(2, "SOLD", at="2026-01-01T05:30:00-05:00")]),
        lifecycle_case("offset making a later wall clock earlier", [event(1, "CREATED", at="2026-01-01T12:00:00Z"),
                                                                    event(2, "SOLD", at="2026-01-01T13:00:00+02:00")]),
    ]
    bad_payloads = {
        "SOLD without payload": ("SOLD", None),
        "SOLD without buyer": ("SOLD", {"price": "1"}),
        "SOLD with null buyer": ("SOLD", {"buyer": None}),
        "SOLD with empty buyer": ("SOLD", {"buyer": "  "}),
        "SOLD with numeric buyer": ("SOLD", {"buyer": 7}),
        "SOLD with control character in buyer": ("SOLD", {"buyer": "A\u0000B"}),
        "SOLD with 257-character buyer": ("SOLD", {"buyer": "b" * 257}),
        "SOLD with unknown field": ("SOLD", {"buyer": "A", "buyer_name": "B"}),
        "SOLD with negative price": ("SOLD", {"buyer": "A", "price": -1}),
        "SOLD with negative price string": ("SOLD", {"buyer": "A", "price": "-0.5"}),
        "SOLD with text price": ("SOLD", {"buyer": "A", "price": "ten"}),
        "SOLD with boolean price": ("SOLD", {"buyer": "A", "price": True}),
        "SOLD with huge exponent price": ("SOLD", {"buyer": "A", "price": "1e400"}),
        "SOLD with huge price string": ("SOLD", {"buyer": "A", "price": "100000000000000"}),
        "SOLD with lowercase currency": ("SOLD", {"buyer": "A", "currency": "usd"}),
        "SOLD with long currency": ("SOLD", {"buyer": "A", "currency": "EURO"}),
        "SOLD with numeric note": ("SOLD", {"buyer": "A", "note": 5}),
        "SOLD with control character in note": ("SOLD", {"buyer": "A", "note": "a\u0007"}),
        "SOLD with 1001-character note": ("SOLD", {"buyer": "A", "note": "n" * 1001}),
        "SOLD with several problems": ("SOLD", {"zeta": 1, "alpha": 2, "price": "x", "currency": "us"}),
        "RETIRED with unknown field": ("RETIRED", {"buyer": "A"}),
        "RETIRED with empty beneficiary": ("RETIRED", {"beneficiary": ""}),
        "RETIRED with numeric reason": ("RETIRED", {"reason": 1}),
        # SPEC §6: purpose, beneficiary_country and a public note.
        "RETIRED with an unknown purpose": ("RETIRED", {"purpose": "offsetting"}),
        "RETIRED with a purpose in capitals": ("RETIRED", {"purpose": "CORPORATE_TARGET"}),
        "RETIRED with an empty purpose": ("RETIRED", {"purpose": ""}),
        "RETIRED with numeric purpose": ("RETIRED", {"purpose": 1}),
        "RETIRED with lowercase country": ("RETIRED", {"beneficiary_country": "ke"}),
        "RETIRED with mixed-case country": ("RETIRED", {"beneficiary_country": "Ke"}),
        "RETIRED with user-assigned country XX": ("RETIRED", {"beneficiary_country": "XX"}),
        "RETIRED with exceptionally reserved country UK": ("RETIRED", {"beneficiary_country": "UK"}),
        "RETIRED with withdrawn country AN": ("RETIRED", {"beneficiary_country": "AN"}),
        "RETIRED with 3-letter country": ("RETIRED", {"beneficiary_country": "KEN"}),
        "RETIRED with padded country": ("RETIRED", {"beneficiary_country": " KE"}),
        "RETIRED with empty country": ("RETIRED", {"beneficiary_country": ""}),
        "RETIRED with numeric country": ("RETIRED", {"beneficiary_country": 404}),
        "RETIRED with country as a list": ("RETIRED", {"beneficiary_country": ["KE"]}),
        "RETIRED with 257-character note": ("RETIRED", {"note": "n" * 257}),
        "RETIRED with 257 non-ASCII characters in note": ("RETIRED", {"note": "é" * 257}),
        "RETIRED with control character in note": ("RETIRED", {"note": "a\u0000b"}),
        "RETIRED with numeric note": ("RETIRED", {"note": 1}),
        "RETIRED with every new field wrong": ("RETIRED", {"note": "n" * 257, "beneficiary_country": "kenya", "purpose": "other "}),
        "CANCELLED with beneficiary": ("CANCELLED", {"beneficiary": "A"}),
        # effective_at: a registry's date of the retirement or cancellation.
        "RETIRED with a date only": ("RETIRED", {"effective_at": "2026-04-03"}),
        "RETIRED with an offset": ("RETIRED", {"effective_at": "2026-04-03T10:00:00+02:00"}),
        "RETIRED with lowercase t and z": ("RETIRED", {"effective_at": "2026-04-03t10:00:00z"}),
        "RETIRED with a space for T": ("RETIRED", {"effective_at": "2026-04-03 10:00:00Z"}),
        "RETIRED with February 30": ("RETIRED", {"effective_at": "2026-02-30T00:00:00Z"}),
        "RETIRED with February 29 of a common year": ("RETIRED", {"effective_at": "2025-02-29T00:00:00Z"}),
        "RETIRED with hour 24": ("RETIRED", {"effective_at": "2026-04-03T24:00:00Z"}),
        "RETIRED with a leap second": ("RETIRED", {"effective_at": "2016-12-31T23:59:60Z"}),
        "RETIRED with year 0": ("RETIRED", {"effective_at": "0000-01-01T00:00:00Z"}),
        "RETIRED with an empty fraction": ("RETIRED", {"effective_at": "2026-04-03T10:00:00.Z"}),
        "RETIRED with a US date": ("RETIRED", {"effective_at": "11/3/2025 7:10:41 PM"}),
        "RETIRED with a numeric effective_at": ("RETIRED", {"effective_at": 1775174400}),
        "CANCELLED with an empty effective_at": ("CANCELLED", {"effective_at": ""}),
        "CANCELLED with a trailing space": ("CANCELLED", {"effective_at": "2026-04-03T00:00:00Z "}),
    }
    for name, (etype, payload) in bad_payloads.items():
        cases.append(lifecycle_case(name, [c, event(2, etype, payload)]))
    good_payloads = {
        "SOLD with buyer only": {"buyer": "A"},
        "SOLD with every field": {"buyer": "  Acme  ", "price": 0, "currency": "EUR", "note": "line one\nline two\tend"},
        "SOLD with exponent price": {"buyer": "A", "price": "1.5e3"},
        "SOLD with negative zero price": {"buyer": "A", "price": "-0"},
        "SOLD with largest price": {"buyer": "A", "price": "99999999999999.99999"},
        "SOLD with empty note": {"buyer": "A", "note": ""},
        "SOLD with 256-character buyer": {"buyer": "b" * 256},
    }
    for name, payload in good_payloads.items():
        cases.append(lifecycle_case(name, [c, event(2, "SOLD", payload)]))
    good_retirements: dict[str, Any] = {
        f"RETIRED for purpose {purpose}": {"purpose": purpose} for purpose in lifecycle_v1.PURPOSES
    }
    good_retirements.update({
        "RETIRED with beneficiary country KE": {"beneficiary_country": "KE"},
        "RETIRED with beneficiary country AQ": {"beneficiary_country": "AQ"},
        "RETIRED with 256-character note": {"note": "n" * 256},
        "RETIRED with 256 non-ASCII characters in note": {"note": "é" * 256},
        "RETIRED with line breaks in note": {"note": "line one\nline two\tend"},
        "RETIRED with every field": {"beneficiary": "Acme Corp", "reason": "r" * 1000, "purpose": "corporate_target",
                                     "beneficiary_country": "KE", "note": "Retired for Acme's 2025 target"},
        "RETIRED with null new fields": {"purpose": None, "beneficiary_country": None, "note": None},
        "RETIRED effective at a registry's date": {"effective_at": "2026-04-03T00:00:00Z"},
        "RETIRED effective at a time with microseconds": {"effective_at": "2026-04-13T12:35:58.842275Z"},
        "RETIRED effective on February 29 of a leap year": {"effective_at": "2024-02-29T23:59:59Z"},
        "RETIRED effective in year 1": {"effective_at": "0001-01-01T00:00:00Z"},
    })
    for name, payload in good_retirements.items():
        cases.append(lifecycle_case(name, [c, event(2, "RETIRED", payload)]))
    cases.append(lifecycle_case("SOLD then RETIRED with purpose and country",
                                [c, s, event(3, "RETIRED", {"beneficiary": "Acme Corp", "purpose": "insetting", "beneficiary_country": "BR"})]))
    cases += [
        lifecycle_case("RETIRED with empty payload object", [c, event(2, "RETIRED", {})]),
        lifecycle_case("CANCELLED with reason", [c, event(2, "CANCELLED", {"reason": "issued in error"})]),
        lifecycle_case("CANCELLED effective at a registry's date",
                       [c, event(2, "CANCELLED", {"reason": "Buffer Pool", "effective_at": "2025-11-03T19:10:41Z"})]),
        lifecycle_case("CREATED with empty payload object", [event(1, "CREATED", {})]),
        lifecycle_case("CREATED with a payload", [event(1, "CREATED", {"note": "x"})]),
        # SPEC §6: a split ends a block; its children name it and inherit its holder.
        lifecycle_case("SPLIT of an active block", [c, event(2, "SPLIT")]),
        lifecycle_case("SPLIT of a sold block", [c, s, event(3, "SPLIT")]),
        lifecycle_case("nothing follows a SPLIT", [c, event(2, "SPLIT"), event(3, "RETIRED")]),
        lifecycle_case("SPLIT without its quantity", [c, event(2, "SPLIT", {"front": OTHER, "back": RECORD})]),
        lifecycle_case("SPLIT with no payload", [c, event(2, "SPLIT", None)]),
        lifecycle_case("SPLIT with bad ids and quantity", [c, event(2, "SPLIT", {"front": "ABC", "back": 7, "quantity": "1.5"})]),
        lifecycle_case("SPLIT with quantity 0", [c, event(2, "SPLIT", {"front": OTHER, "back": RECORD, "quantity": 0})]),
        lifecycle_case("SPLIT with quantity as a string", [c, event(2, "SPLIT", {"front": OTHER, "back": RECORD, "quantity": "18446744073709551615"})]),
        lifecycle_case("SPLIT with quantity beyond 2^64 - 1", [c, event(2, "SPLIT", {"front": OTHER, "back": RECORD, "quantity": "18446744073709551616"})]),
        lifecycle_case("SPLIT as the first event", [event(1, "SPLIT")]),
        lifecycle_case("a child: CREATED with its parent", [event(1, "CREATED", {"parent": OTHER})]),
        lifecycle_case("a child inherits its parent's holder", [event(1, "CREATED", {"parent": OTHER, "holder": " Acme Corp "})]),
        lifecycle_case("a child's holder until it is sold", [event(1, "CREATED", {"parent": OTHER, "holder": "Acme Corp"}), event(2, "SOLD", {"buyer": "Beta Ltd"})]),
        lifecycle_case("CREATED with a bad parent", [event(1, "CREATED", {"parent": "not-an-id"})]),
        lifecycle_case("CREATED with an empty holder", [event(1, "CREATED", {"parent": OTHER, "holder": "  "})]),
    ]
    history = [c, s, event(3, "SOLD", {"buyer": "Second Buyer"}), event(4, "RETIRED")]
    for at, name in [("2025-12-31T23:59:59Z", "before creation"), ("2026-01-01T10:00:00Z", "at the creation instant"),
                     ("2026-01-02T09:59:59Z", "just before the sale"), ("2026-01-02T10:00:00Z", "at the sale"),
                     ("2026-01-03T12:00:00+02:00", "at the resale, given with an offset"), ("2030-01-01T00:00:00Z", "long after")]:
        cases.append(lifecycle_case(f"state {name}", history, at=at))
    cases.append(lifecycle_case("state before a bad later event", [c, event(2, "CREATED")], at="2026-01-01T12:00:00Z"))
    cases.append(lifecycle_case("state after a bad event", [c, event(2, "CREATED")], at="2026-01-03T00:00:00Z"))
    return {
        "about": "event histories and the state they replay to (or the transition error), per SPEC §3. "
                 "With `at`, the expected state is the state as of that instant (null: not created yet). "
                 "Written by tests/vectors/generate.py from tests/reference/lifecycle_v1.py.",
        "cases": cases,
    }


# ---------------------------------------------------------------- main

# ---------------------------------------------------------------- serials.json

U64_MAX = 2**64 - 1

# Serials as registries print them: each scheme's SPEC §6 example, both Verra
# lengths, ACR's two separators, leading zeros, ranges near 2^64 - 1, and
# serials that are not blocks.
SERIALS: dict[str, list[str]] = {
    "verra": [
        "19380-941382555-941382741-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0",
        "19380-941382555-941382741-VCU-1310-VER-CN-13-3005-01012022-31102022-0",
        "7070-295823423-295823522-VCS-VCU-262-VER-IN-1-1744-01012018-31122018-0",
        "11424-310512789-310513288-VCS-VCU-997-VER-BR-14-1115-01012014-31122014-1",
        "5528-265046751-265046751-VCS-VCU-263-APX-US-14-1360-01012016-31122016-0",
        "9999-000000001-000000100-VCS-VCU-1-MER-KE-3-42-01012020-31122020-0",
        "1-1-18446744073709551615-VCU-1-VER-CN-1-1-01012020-31122020-0",
        "2-18446744073709551614-18446744073709551615-VCS-VCU-1-VER-CN-1-1-01012020-31122020-0",
        "  19380-941382555-941382741-vcs-vcu-1310-ver-cn-13-3005-01012022-31102022-0 ",
        "12-100-200-VCS-VCU-9-VER-PE-14-1067-01012015-31122015-0",
    ],
    "gold-standard": [
        "GS1-1-KE-GS11603-16-2025-30256-110-5463",
        "GS1-1-IN-GS2446-12-2019-18752-1-1000",
        "GS1-1-BR-GS5678-3-2021-20001-0001-0500",
        "GS1-1-VN-GS7201-5-2022-22222-999-1000",
        "GS1-1-UG-GS3011-16-2018-17733-5000-5000",
        "GS1-1-CN-GS1000-1-2020-1-1-18446744073709551615",
        "GS1-1-GH-GS11000-15-2024-29000-12-2500",
        "GS1-1-TR-GS6500-2-2017-15000-100-199",
        "GS1-1-MX-GS9000-4-2023-26000-00010-09999",
        "GS1-1-ZA-GS4321-8-2016-14000-7-7",
    ],
    "acr": [
        "ACR-FR-1129-2025-2917-30932 to 35143",
        "ACR-FR-1129-2025-2917-30932-35143",
        "ACR-US-527-2023-1988-1 to 100",
        "ACR-US-527-2023-1988-1-100",
        "ACR-CA-700-2020-1500-0001 to 1000",
        "ACR-US-1-2019-1-18446744073709551614 to 18446744073709551615",
        "ACR-BR-880-2021-2100-500 to 500",
        "ACR-US-310-2018-900-77 to 1077",
        "ACR-MX-411-2022-2500-10 to 20",
        "ACR-US-999-2024-3000-123456-654321",
    ],
    "car": [
        "CAR-1-US-1335-31-983-KS-2025-9205-1 to 5000",
        "CAR-ROC-US-1001-10-120-CA-2019-4500-1 to 250",
        "CAR-1-US-1200-31-983-OK-2024-9000-5001 to 9000",
        "CAR-1-MX-1500-5-300-JA-2021-7000-0001 to 0100",
        "CAR-1-US-800-2-50-TX-2018-3000-100 to 100",
        "CAR-1-US-1-1-1-WA-2020-1-1 to 18446744073709551615",
        "CAR-ROC-US-1100-12-200-OR-2022-8000-20 to 40",
        "CAR-1-US-1335-31-983-KS-2023-8800-10 to 12000",
        "CAR-1-US-1400-9-77-NE-2017-2500-1 to 2",
        "CAR-1-US-950-3-61-MI-2016-2100-500 to 999",
    ],
    "art-trees": [
        "ART-GY-102-2016-9-1401 to 1408",
        "FCPF-CI-200-2020-3-1 to 1000",
        "ART-EC-105-2019-1-1 to 5000000",
        "ART-CR-110-2021-4-0001 to 0050",
        "FCPF-GH-201-2022-2-10 to 10",
        "ART-GY-102-2017-10-1 to 18446744073709551615",
        "ART-AR-120-2023-7-500 to 600",
        "FCPF-MZ-205-2019-8-1000 to 2000",
        "ART-BR-130-2020-11-42 to 420",
        "FCPF-NP-210-2021-5-7 to 8",
    ],
    "puro": [
        "PURO_PR_CORC100+_FI_577166_2020_055a3fbe-eabc-4535-b9cf-1028e7d18f89_1-100",
        "PURO_PR_CORC_SE_100200_2022_9b1c2d3e-0000-4000-8000-000000000001_101-250",
        "PURO_PR_CORC100+_US_42_2021_aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee_0001-0010",
        "PURO_PR_CORC_DE_7_2023_12345678-1234-1234-1234-123456789abc_5-5",
        "PURO_PR_CORC100+_NO_8_2019_deadbeef-dead-beef-dead-beefdeadbeef_1-18446744073709551615",
        "PURO_PR_CORC_FI_577166_2024_055a3fbe-eabc-4535-b9cf-1028e7d18f90_1000-1999",
        "PURO_PR_CORC_GB_3_2022_00000000-0000-0000-0000-000000000000_10-20",
        "PURO_PR_CORC1000+_CA_9_2021_11111111-2222-3333-4444-555555555555_77-777",
        "PURO_PR_CORC_AU_11_2020_abcdefab-cdef-abcd-efab-cdefabcdefab_3-30",
        "PURO_PR_CORC_NL_12_2025_fedcbafe-dcba-fedc-bafe-dcbafedcbafe_1-2",
    ],
    "undp": [
        "CA0004-VU-CH-356-1-3000-2023",
        "CA0005-KE-CH-400-1-100-2022",
        "CA0010-VN-JP-12-0001-0500-2021",
        "CA0011-UG-SE-77-50-50-2024",
        "CA0012-BD-CH-9-1-18446744073709551615-2020",
        "CA0013-MA-CH-356-3001-6000-2023",
        "CA0014-PE-CH-8-10-20-2019",
        "CA0015-GH-KR-31-100-999-2025",
        "CA0016-SN-CH-2-5-6-2022",
        "CA0017-RW-CH-45-1000-1999-2018",
    ],
    "cdm": [
        "IN-5-123456789-1-1-0-1234 - IN-5-123457000-1-1-0-1234",
        "CN-5-1-2-2-0-9876 - CN-5-100-2-2-0-9876",
        "BR-5-0001-1-1-0-555 - BR-5-0100-1-1-0-555",
        "MX-5-700-1-2-0-4321 - MX-5-701-1-2-0-4321",
        "ZA-5-1-2-2-0-1 - ZA-5-18446744073709551615-2-2-0-1",
        "VN-5-5000-2-2-0-777 - VN-5-5999-2-2-0-777",
        "KE-5-10-1-1-0-88 - KE-5-20-1-1-0-88",
        "ID-5-31-2-2-0-3131 - ID-5-62-2-2-0-3131",
        "TH-5-400-1-1-0-40 - TH-5-800-1-1-0-40",
        "PE-5-9-2-2-0-9 - PE-5-90-2-2-0-9",
    ],
    "generic": [
        "VCS-001:1-100",
        "My Registry Block:0001-0100",
        "X:5-5",
        "registry:2024:batch-7:1-18446744073709551615",
        "ABC:10-20",
        "a:b:c:100-200",
        "Tracker Test 9:7-700",
        "lot 42:1-1",
        "cert-9:  1-10".replace("  ", ""),
        "Ü-Registry:3-30",
    ],
    "not a block": [
        "19380-941382555-941382741-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-A",
        "19380-941382741-941382555-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0",
        "19380-941382555-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0",
        "GS1-1-KE-GS11603-16-2025-30256-5463-110",
        "ACR-FR-1129-2025-2917-30932 TO",
        "CAR-1-US-1335-31-983-KS-2025-9205-1-5000x",
        "ART-GY-102-2016-9-1401 to 18446744073709551616",
        "CA0004-VU-CH-356-1-3000",
        "IN-5-1-1-1-0-1 - IN-6-2-1-1-0-1",
        "MX-5-700-1-2-0-4321 - MX-5-700-1-2-0-4321",
        "VCS-001",
        "VCS-001:100-1",
        "VCS-001:0-18446744073709551615",
        ":1-10",
        "GS1-1-KE-GS11603-16-2025-30256-18446744073709551616-18446744073709551617",
    ],
}


def serial_case(scheme: str, serial: str) -> dict[str, Any]:
    canonical = ids_v1.canonical_text(serial)
    block = serials_v1.parse(canonical)
    case: dict[str, Any] = {"name": f"{scheme}: {serial.strip()}", "serial": serial, "canonical": canonical, "block": block}
    if block is not None:
        start, end = int(block["start"]), int(block["end"])
        # A 37-credit front part too, as in SPEC §6's Verra example.
        cuts = sorted({start, min(start + 36, end), (start + end) // 2, end})
        # The front part of each cut, and the remainder behind it: what a split makes.
        case["sub_ranges"] = [
            {"start": str(a), "end": str(b), "serial": serials_v1.render(canonical, a, b)}
            for a, b in [(start, c) for c in cuts] + [(c + 1, end) for c in cuts if c < end]
        ]
    return case


def serials_vectors() -> dict[str, Any]:
    cases = [serial_case(scheme, serial) for scheme, serials in SERIALS.items() for serial in serials]
    for scheme, serials in SERIALS.items():
        parsed = [c for c in cases if c["name"].startswith(f"{scheme}: ")]
        if scheme == "not a block":
            assert all(c["block"] is None for c in parsed), [c["name"] for c in parsed if c["block"]]
        else:
            assert all(c["block"] and c["block"]["scheme"] == scheme for c in parsed), [c["name"] for c in parsed if not c["block"] or c["block"]["scheme"] != scheme]
    return {
        "description": "Registry serials (SPEC §6): the block each canonical serial names, or null, and the serials of sub-ranges in the scheme's own notation. From tests/reference/serials_v1.py.",
        "cases": cases,
    }


# ---------------------------------------------------------------- splits.json

VERRA_187 = "19380-941382555-941382741-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0"
T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"


def fixed_id(n: int) -> str:
    """A UUID for an event of a history (event ids are random; replay ignores them)."""
    return f"00000000-0000-7000-8000-{n:012d}"


def block_record(serial: str, quantity: Any, name: str = "Mangrove Blue Carbon", registry: str = "Verra") -> dict[str, Any]:
    return ids_v1.canonicalize({"project_name": name, "registry": registry, "vintage": 2022, "quantity": quantity, "serial_number": serial})


def created_history(record: dict[str, Any], *sales: str) -> list[dict[str, Any]]:
    rid = ids_v1.record_id(record)
    events = [{"id": fixed_id(1), "record_id": rid, "seq": 1, "event_type": "CREATED", "payload": None, "created_at": T0}]
    for n, buyer in enumerate(sales, start=2):
        events.append({"id": fixed_id(n), "record_id": rid, "seq": n, "event_type": "SOLD", "payload": {"buyer": buyer}, "created_at": T1})
    return events


def split_case(name: str, record: dict[str, Any], history: list[dict[str, Any]], action: str, payload: Any, now: str) -> dict[str, Any]:
    state = lifecycle_v1.replay(history)
    case: dict[str, Any] = {"name": name, "record": record, "history": history, "action": action, "payload": payload, "now": now}
    try:
        case["expect"] = splits_v1.act(record, state, action, payload, now)
    except lifecycle_v1.Refused as e:
        case["expect"] = {"error": {"code": e.code, "errors": [{"field": f, "code": c} for f, c in e.errors]}}
    return case


def chain(name: str, record: dict[str, Any], history: list[dict[str, Any]], steps: list[tuple[str, int]]) -> Iterator[dict[str, Any]]:
    """Successive partial actions, each on the previous split's remainder."""
    for i, (action, quantity) in enumerate(steps, start=1):
        now = f"2026-04-{i:02d}T00:00:00Z"
        payload: dict[str, Any] = {"quantity": quantity}
        if action == "SOLD":
            payload["buyer"] = f"Buyer {i}"
        case = split_case(f"{name}, step {i}: {action} {quantity}", record, history, action, payload, now)
        yield case
        if "split" not in case["expect"]:
            return
        back = case["expect"]["split"]["back"]
        record = back["record"]
        history = [dict(e, id=fixed_id(100 * i + n)) for n, e in enumerate(back["events"], start=1)]


def splits_vectors() -> dict[str, Any]:
    verra = block_record(VERRA_187, 187)
    sold = created_history(verra, "Acme Corp")
    plain = block_record("VCS-001", 100)
    cases = [
        split_case("retire 37 of a 187-credit Verra block", verra, created_history(verra), "RETIRED", {"quantity": 37, "beneficiary": "City of Oslo"}, T1),
        split_case("retire 37 given as a string", verra, created_history(verra), "RETIRED", {"quantity": "37"}, T1),
        split_case("retire without a quantity: the whole block", verra, created_history(verra), "RETIRED", None, T1),
        split_case("retire the whole quantity: the whole block", verra, created_history(verra), "RETIRED", {"quantity": 187}, T1),
        split_case("a null quantity is none: the whole block", verra, created_history(verra), "RETIRED", {"quantity": None, "reason": "offset"}, T1),
        split_case("one credit more than the block holds", verra, created_history(verra), "RETIRED", {"quantity": 188}, T1),
        split_case("the last credit but one", verra, created_history(verra), "CANCELLED", {"quantity": 186, "reason": "error"}, T1),
        split_case("one credit", verra, created_history(verra), "RETIRED", {"quantity": 1}, T1),
        split_case("a partial sale of a sold block: the children keep the holder", verra, sold, "SOLD", {"quantity": 10, "buyer": "Beta Ltd", "price": "12.50", "currency": "USD"}, T2),
        split_case("a partial retirement of a sold block", verra, sold, "RETIRED", {"quantity": 100}, T2),
        split_case("a clock behind the last event: the split takes its time", verra, sold, "RETIRED", {"quantity": 5}, T0),
        split_case("quantity 0", verra, created_history(verra), "RETIRED", {"quantity": 0}, T1),
        split_case("quantity negative", verra, created_history(verra), "RETIRED", {"quantity": -3}, T1),
        split_case("quantity with a fraction", verra, created_history(verra), "RETIRED", {"quantity": "1.5"}, T1),
        split_case("quantity as a number with a fraction", verra, created_history(verra), "RETIRED", {"quantity": 1.5}, T1),
        split_case("quantity as a negative number with a fraction", verra, created_history(verra), "RETIRED", {"quantity": -1.5}, T1),
        split_case("quantity 37.0: a number of integral value", verra, created_history(verra), "RETIRED", {"quantity": 37.0}, T1),
        split_case("quantity 0.0", verra, created_history(verra), "RETIRED", {"quantity": 0.0}, T1),
        split_case("quantity 1e30: integral, beyond 2^64 - 1", verra, created_history(verra), "RETIRED", {"quantity": 1e30}, T1),
        split_case("quantity 1.8446744073709552e19: integral, beyond 2^64 - 1", verra, created_history(verra), "RETIRED", {"quantity": 1.8446744073709552e19}, T1),
        split_case("quantity 37.0 as a string is not digits", verra, created_history(verra), "RETIRED", {"quantity": "37.0"}, T1),
        split_case("quantity not a number", verra, created_history(verra), "RETIRED", {"quantity": "some"}, T1),
        split_case("quantity beyond 2^64 - 1", verra, created_history(verra), "RETIRED", {"quantity": "18446744073709551616"}, T1),
        split_case("a partial sale without its buyer", verra, created_history(verra), "SOLD", {"quantity": 5}, T1),
        split_case("a bad quantity beside other bad keys: every problem at once", verra, created_history(verra), "SOLD", {"quantity": "x", "price": -1, "currency": "usd", "colour": "red"}, T1),
        split_case("a partial action on a plain record", plain, created_history(plain), "RETIRED", {"quantity": 5}, T1),
        split_case("the whole quantity of a plain record", plain, created_history(plain), "RETIRED", {"quantity": 100}, T1),
        split_case("a block whose quantity is not its range's count", block_record("GS1-1-KE-GS11603-16-2025-30256-1-100", 50), created_history(block_record("GS1-1-KE-GS11603-16-2025-30256-1-100", 50)), "RETIRED", {"quantity": 5}, T1),
        split_case("a block with a fractional quantity", block_record("VCS-001:1-100", "100.5"), created_history(block_record("VCS-001:1-100", "100.5")), "RETIRED", {"quantity": 5}, T1),
    ]
    retired = created_history(verra)
    retired.append({"id": fixed_id(9), "record_id": ids_v1.record_id(verra), "seq": 2, "event_type": "RETIRED", "payload": None, "created_at": T1})
    cases.append(split_case("a retired block", verra, retired, "RETIRED", {"quantity": 5}, T2))
    cases += chain("Verra block", verra, created_history(verra), [("RETIRED", 37), ("RETIRED", 50), ("SOLD", 99), ("CANCELLED", 1)])
    gs = block_record("GS1-1-BR-GS5678-3-2021-20001-0001-0500", 500, registry="Gold Standard")
    cases += chain("Gold Standard block with leading zeros", gs, created_history(gs), [("RETIRED", 1), ("SOLD", 249), ("RETIRED", 250)])
    acr = block_record("ACR-FR-1129-2025-2917-30932 to 35143", 4212, registry="ACR")
    cases += chain("ACR block", acr, created_history(acr), [("RETIRED", 1000), ("RETIRED", 3211), ("RETIRED", 2)])
    cdm = block_record("IN-5-123456789-1-1-0-1234 - IN-5-123456888-1-1-0-1234", 100, registry="CDM")
    # Step 3 would leave children of one credit, which a CDM pair cannot
    # name as a block (two equal unit serials): not_divisible.
    cases += chain("CDM block", cdm, created_history(cdm), [("CANCELLED", 40), ("RETIRED", 58), ("RETIRED", 1)])
    # A one-credit child here would read as a generic block of another prefix.
    odd = block_record("X:7-7 - X:7-9", 3, registry="CDM")
    cases.append(split_case("a CDM child of one credit that reads as another block", odd, created_history(odd), "RETIRED", {"quantity": 1}, T1))
    generic = block_record("My Registry Lot:1-64", 64, registry="Other")
    cases += chain("generic block, one credit at a time", generic, created_history(generic), [("RETIRED", 1)] * 6)
    return {
        "description": "Actions on blocks (SPEC §6): a record, its history and an action with its payload; the whole action's event, or the split (the parent's SPLIT event, the two children with their records, ids and events), or the error. Event ids are left out (random). From tests/reference/splits_v1.py.",
        "cases": cases,
    }


# ---------------------------------------------------------------- log.json

MERKLE = json.loads((HERE / "sources" / "transparency-dev-merkle.json").read_text(encoding="utf-8"))
LOG_NAME = "carbon-tracker.example/log"
# Fixed seeds: the vectors' keys are test keys, never a log's.
LOG_SEED = hashlib.sha256(b"carbon-tracker log_v1 vectors: the log key").digest()
OTHER_SEED = hashlib.sha256(b"carbon-tracker log_v1 vectors: another key").digest()
WITNESS_SEED = hashlib.sha256(b"carbon-tracker log_v1 vectors: a witness").digest()
# golang.org/x/mod/sumdb/note, note_test.go (golang/mod@fe2ec04f7c3c3aa6fad97631aafcff6e49e2d1db, BSD-3-Clause).
GO_NOTE = "golang/mod@fe2ec04f7c3c3aa6fad97631aafcff6e49e2d1db sumdb/note/note_test.go"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
PETER_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_SIG = "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
# C2SP signed-note.md, "Example" (C2SP/C2SP@5ba5ee830903e91240fc6f9f3a7a9293d49e69c9).
C2SP_NOTE = "C2SP/C2SP@5ba5ee830903e91240fc6f9f3a7a9293d49e69c9 signed-note.md"
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_TEXT = "This is an example message.\n"
C2SP_SIG = "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
# RFC 8785 §3.2.2.3 and §3.2.3: its number and sorting examples.
RFC8785_NUMBERS = "[333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]"
RFC8785_SORTING = '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", "\\u00f6": "Latin Small Letter O With Diaeresis"}'


def log_outcome(f: Any, *args: Any) -> Any:
    """None when ``f`` accepts, else the reference's code."""
    try:
        f(*args)
        return None
    except log_v1.Refused as e:
        return e.code


def unhex(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


def tree_vectors() -> dict[str, Any]:
    tree = MERKLE["tree"]
    data = unhex(tree["leaves"])
    hashes = [log_v1.leaf_hash(d) for d in data]
    for n in range(1, 9):
        assert log_v1.mth(hashes[:n]).hex() == tree["roots"][n - 1], f"published root of size {n}"
    for v in tree["inclusion_proofs"]:
        if v["leaf"] == 0:
            continue  # the published "bad parameters" vector
        assert [h.hex() for h in log_v1.inclusion_proof(hashes[: v["size"]], v["leaf"] - 1)] == v["proof"], v
    for v in tree["consistency_proofs"]:
        assert [h.hex() for h in log_v1.consistency_proof(hashes[: v["size2"]], v["size1"])] == v["proof"], v
    inclusion = []
    for n in range(1, 9):
        root = log_v1.mth(hashes[:n])
        for m in range(n):
            proof = log_v1.inclusion_proof(hashes[:n], m)
            log_v1.verify_inclusion(hashes[m], m, n, proof, root)
            inclusion.append({"index": m, "size": n, "proof": [h.hex() for h in proof]})
    consistency = []
    for n in range(1, 9):
        for m in range(1, n + 1):
            proof = log_v1.consistency_proof(hashes[:n], m)
            log_v1.verify_consistency(m, n, log_v1.mth(hashes[:m]), log_v1.mth(hashes[:n]), proof)
            consistency.append({"old": m, "new": n, "proof": [h.hex() for h in proof]})
    return {
        "source": tree["source"] + "; the proofs of every index and size up to 8 from tests/reference/log_v1.py, checked against the published ones",
        "leaf_data": tree["leaves"],
        "leaf_hashes": [h.hex() for h in hashes],
        "roots": [{"size": n, "root": log_v1.mth(hashes[:n]).hex()} for n in range(0, 9)],
        "inclusion": inclusion,
        "consistency": consistency,
    }


# Published probes whose hashes are not 32 bytes but which the Go verifier
# accepts: equal sizes and equal (12-byte) roots. The core's hashes are
# 32-byte arrays, so such a probe cannot even be written for it.
UNREPRESENTABLE = {"testdata/consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"}


def published_vectors() -> list[dict[str, Any]]:
    cases = []
    for p in MERKLE["probes"]["cases"]:
        if p["kind"] == "inclusion":
            got = log_outcome(log_v1.verify_inclusion, bytes.fromhex(p["leaf_hash"]), p["leaf_index"], p["tree_size"], unhex(p["proof"]), bytes.fromhex(p["root"]))
        else:
            got = log_outcome(log_v1.verify_consistency, p["size1"], p["size2"], bytes.fromhex(p["root1"]), bytes.fromhex(p["root2"]), unhex(p["proof"]))
        if p["path"] in UNREPRESENTABLE:
            assert got == "invalid_hash" and not p["want_err"], p
        elif (got is not None) != p["want_err"]:
            raise SystemExit(f"the reference disagrees with the published probe {p['path']}: {got}")
        cases.append(dict(p, expect=got))
    return cases


def flip(h: str, byte: int = 0) -> str:
    raw = bytearray(bytes.fromhex(h))
    raw[byte] ^= 0x01
    return raw.hex()


def adversarial_proofs() -> list[dict[str, Any]]:
    """Tampered proofs over an 11-leaf tree; the expected code from the reference."""
    leaves = [log_v1.leaf_hash(f"leaf {i}".encode()) for i in range(11)]
    fork = list(leaves)
    fork[2] = log_v1.leaf_hash(b"leaf 2, rewritten")
    cases: list[dict[str, Any]] = []

    def inclusion(name: str, leaf: bytes, index: int, size: int, proof: list[str], root: bytes) -> None:
        got = log_outcome(log_v1.verify_inclusion, leaf, index, size, unhex(proof), root)
        cases.append({"kind": "inclusion", "name": name, "leaf_hash": leaf.hex(), "leaf_index": index, "tree_size": size, "proof": proof, "root": root.hex(), "expect": got})

    def consistency(name: str, size1: int, size2: int, root1: bytes, root2: bytes, proof: list[str]) -> None:
        got = log_outcome(log_v1.verify_consistency, size1, size2, root1, root2, unhex(proof))
        cases.append({"kind": "consistency", "name": name, "size1": size1, "size2": size2, "root1": root1.hex(), "root2": root2.hex(), "proof": proof, "expect": got})

    root = log_v1.mth(leaves)
    proof = [h.hex() for h in log_v1.inclusion_proof(leaves, 6)]
    inclusion("valid: leaf 6 of 11", leaves[6], 6, 11, proof, root)
    for i in range(len(proof)):
        inclusion(f"one bit of proof hash {i} flipped", leaves[6], 6, 11, [flip(h) if j == i else h for j, h in enumerate(proof)], root)
    inclusion("the leaf's hash flipped", bytes.fromhex(flip(leaves[6].hex(), 31)), 6, 11, proof, root)
    # The size is not hashed: a proof also fits every size whose tree gives the
    # leaf the same path (here 9 to 16). The signed checkpoint authenticates it.
    inclusion("another tree size with the same path (12): the checkpoint, not the proof, fixes the size", leaves[6], 6, 12, proof, root)
    inclusion("a wrong tree size (8, fewer levels)", leaves[6], 6, 8, proof, root)
    last = [h.hex() for h in log_v1.inclusion_proof(leaves, 10)]
    inclusion("valid: the last leaf, 10 of 11", leaves[10], 10, 11, last, root)
    for wrong_size in (12, 13, 16, 17):
        inclusion(f"the last leaf with a wrong tree size ({wrong_size})", leaves[10], 10, wrong_size, last, root)
    inclusion("a wrong index (7)", leaves[6], 7, 11, proof, root)
    inclusion("the index beyond the tree", leaves[6], 11, 11, proof, root)
    inclusion("a hash too many", leaves[6], 6, 11, proof + [root.hex()], root)
    inclusion("a hash too few", leaves[6], 6, 11, proof[:-1], root)
    inclusion("the root of another tree", leaves[6], 6, 11, proof, log_v1.mth(fork))
    inclusion("the empty tree", leaves[0], 0, 0, [], log_v1.EMPTY_ROOT)
    old, new = log_v1.mth(leaves[:6]), root
    cproof = [h.hex() for h in log_v1.consistency_proof(leaves, 6)]
    consistency("valid: 6 to 11", 6, 11, old, new, cproof)
    consistency("valid: 4 to 11 (the old tree a complete subtree)", 4, 11, log_v1.mth(leaves[:4]), new, [h.hex() for h in log_v1.consistency_proof(leaves, 4)])
    for i in range(len(cproof)):
        consistency(f"one bit of proof hash {i} flipped", 6, 11, old, new, [flip(h) if j == i else h for j, h in enumerate(cproof)])
    # GHSA-672p-m5jq-mrh8 (immudb): the proof's path to the new root is valid,
    # but the old root it claims to extend is not the one it rebuilds.
    consistency("GHSA-672p-m5jq-mrh8: a valid path to the new root, another old root", 6, 11, log_v1.mth(fork[:6]), new, cproof)
    fproof = [h.hex() for h in log_v1.consistency_proof(fork, 6)]
    consistency("GHSA-672p-m5jq-mrh8: a forked log's valid proof against the genuine old root", 6, 11, old, log_v1.mth(fork), fproof)
    consistency("the new root of another tree", 6, 11, old, log_v1.mth(fork), cproof)
    consistency("the roots swapped", 6, 11, new, old, cproof)
    consistency("another new size with the same proof shape (12): the checkpoint fixes the size", 6, 12, old, new, cproof)
    consistency("a wrong new size (17)", 6, 17, old, new, cproof)
    consistency("a wrong new size (7)", 6, 7, old, new, cproof)
    consistency("a wrong old size", 5, 11, old, new, cproof)
    consistency("the old size beyond the new", 11, 6, new, old, cproof)
    consistency("from the empty tree", 0, 11, log_v1.EMPTY_ROOT, new, [])
    consistency("equal sizes, equal roots", 11, 11, new, new, [])
    consistency("equal sizes, other roots", 11, 11, new, log_v1.mth(fork), [])
    consistency("equal sizes with a proof", 11, 11, new, new, cproof[:1])
    consistency("an empty proof", 6, 11, old, new, [])
    return cases


def fixed_event(n: int, record: str, seq: int, etype: str, payload: Any, at: str) -> dict[str, Any]:
    return {"id": f"0192f0c1-7e00-7000-8000-{n:012d}", "record_id": record, "seq": seq, "event_type": etype, "payload": payload, "created_at": at}


def leaf_case(name: str, event_text: str, record: Optional[dict[str, Any]]) -> dict[str, Any]:
    event = log_v1.read_json(event_text)
    case: dict[str, Any] = {"name": name, "event": event_text, "record": record}
    try:
        leaf = log_v1.leaf_bytes(event, record)
        case["expect"] = {"leaf": leaf.decode("utf-8"), "hash": log_v1.leaf_hash(leaf).hex()}
    except log_v1.Refused as e:
        case["expect"] = {"error": e.code}
    return case


def leaf_vectors() -> list[dict[str, Any]]:
    verra = block_record(VERRA_187, 187)
    vid = log_v1.line_id(verra)
    plain = ids_v1.canonicalize({"project_name": "  Énergie Solaire ℌ ", "registry": "VCS", "vintage": "2023", "quantity": "100.1", "serial_number": "VCS-001"})
    pid = log_v1.line_id(plain)

    def text(n: int, record: str, seq: int, etype: str, payload: str, at: str) -> str:
        return (f'{{"id": "0192F0C1-7E00-7000-8000-{n:012d}", "record_id": "{record}", "seq": {seq}, '
                f'"event_type": "{etype}", "payload": {payload}, "created_at": "{at}"}}')

    return [
        leaf_case("CREATED with its record's canonical fields", text(1, vid, 1, "CREATED", "null", T0), verra),
        leaf_case("CREATED with a non-ASCII record", text(2, pid, 1, "CREATED", "null", T0), plain),
        leaf_case("CREATED of a split child (payload parent, holder)", text(3, vid, 1, "CREATED", f'{{"parent": "{pid}", "holder": "Acme Corp"}}', T0), verra),
        leaf_case("SOLD with a decimal price as a number, 12.50", text(4, vid, 2, "SOLD", '{"buyer": "Acme Corp", "price": 12.50, "currency": "USD"}', T1), None),
        leaf_case("SOLD with a price as a string, kept as sent", text(5, vid, 2, "SOLD", '{"buyer": "Acme Corp", "price": "12.50", "currency": "USD"}', T1), None),
        leaf_case("SOLD with a price 1E+2", text(6, vid, 2, "SOLD", '{"buyer": "Acme Corp", "price": 1E+2}', T1), None),
        leaf_case("SOLD with a price 0.1", text(7, vid, 2, "SOLD", '{"buyer": "B", "price": 0.1, "note": "0.1 is 0.1000000000000000055511151231257827 as a double"}', T1), None),
        leaf_case("SOLD with a price of 18 significant digits: RFC 8785 commits to the nearest double, 2", text(8, vid, 2, "SOLD", '{"buyer": "B", "price": 1.99999999999999999}', T1), None),
        leaf_case("RETIRED with every key, escapes and non-ASCII", text(9, vid, 3, "RETIRED", '{"beneficiary": "Ville de Montréal \\"Est\\"", "reason": "tab\\there, newline\\n, bell \\u0007, slash \\/ and \\\\", "purpose": "public_claim", "beneficiary_country": "CA", "note": "😀 \\u2028"}', T2), None),
        leaf_case("SPLIT with its integer quantity", text(10, vid, 3, "SPLIT", f'{{"front": "{pid}", "back": "{vid}", "quantity": 37}}', T2), None),
        leaf_case("created_at with a fraction and an offset, written in UTC", text(11, vid, 2, "CANCELLED", "null", "2026-03-01T12:00:00.120+02:00"), None),
        leaf_case("RFC 8785 §3.2.2.3 numbers", text(12, vid, 2, "CANCELLED", f'{{"numbers": {RFC8785_NUMBERS}}}', T1), None),
        leaf_case("RFC 8785 §3.2.3 key order (UTF-16 code units)", text(13, vid, 2, "CANCELLED", RFC8785_SORTING, T1), None),
        leaf_case("CREATED without its record", text(14, vid, 1, "CREATED", "null", T0), None),
        leaf_case("SOLD with a record", text(15, vid, 2, "SOLD", '{"buyer": "B"}', T1), verra),
        leaf_case("CREATED with another record", text(16, vid, 1, "CREATED", "null", T0), plain),
        leaf_case("SOLD by an API key: the actor is committed to (SPEC §8)", text(17, vid, 2, "SOLD", '{"buyer": "B"}', T1)[:-1] + ', "actor": "trading-desk"}', None),
        leaf_case("CREATED by an API key, with its record", text(18, vid, 1, "CREATED", "null", T0)[:-1] + ', "actor": "importer \u00e9"}', verra),
        leaf_case("an actor of null is no actor: the same leaf as without", text(19, vid, 2, "SOLD", '{"buyer": "B"}', T1)[:-1] + ', "actor": null}', None),
    ]


def key_vectors() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []

    def vkey(name: str, text: str, source: str = "") -> None:
        case: dict[str, Any] = {"name": name, "vkey": text}
        if source:
            case["source"] = source
        try:
            v = log_v1.parse_vkey(text)
            case["expect"] = {"name": v.name, "id": f"{v.id:08x}", "vkey": v.vkey(), "fingerprint": v.fingerprint()}
        except log_v1.Refused as e:
            case["expect"] = {"error": e.code}
        cases.append(case)

    def skey(name: str, text: str, source: str = "") -> None:
        case: dict[str, Any] = {"name": name, "skey": text}
        if source:
            case["source"] = source
        try:
            s = log_v1.parse_skey(text)
            case["expect"] = {"name": s.name, "vkey": s.verifier.vkey(), "skey": s.skey()}
        except log_v1.Refused as e:
            case["expect"] = {"error": e.code}
        cases.append(case)

    vkey("Go's PeterNeumann", PETER_VKEY, GO_NOTE)
    vkey("Go's EnochRoot", ENOCH_VKEY, GO_NOTE)
    vkey("C2SP's example.com/foo", C2SP_VKEY, C2SP_NOTE)
    vkey("a key of the wrong length, with its key ID adjusted", "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==", GO_NOTE)
    vkey("an unknown algorithm, with its key ID adjusted", "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", GO_NOTE)
    vkey("a wrong key ID", "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    vkey("another name", "PeterNeuman+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    vkey("a key ID of 7 digits", "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    vkey("no key", "PeterNeumann+c74f20a3")
    vkey("a name with a space", "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    vkey("an empty name", "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    vkey("base64 without its padding", "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"[:-1])
    # Go's test also truncates the key at every point: each must fail.
    for end in range(1, len(PETER_VKEY)):
        vkey(f"Go's PeterNeumann cut to {end} characters", PETER_VKEY[:end])
    skey("Go's PeterNeumann", PETER_SKEY, GO_NOTE)
    skey("the vectors' log key", log_v1.Signer(LOG_NAME, LOG_SEED).skey())
    skey("a wrong key ID", PETER_SKEY.replace("c74f20a3", "c74f20a4"))
    skey("without PRIVATE+KEY", PETER_SKEY[len("PRIVATE+KEY+"):])
    skey("a public key where the seed goes", "PRIVATE+KEY+" + PETER_VKEY)
    for n, case in enumerate(cases):
        if case["name"].startswith("Go's PeterNeumann cut") and "error" not in case["expect"]:
            raise SystemExit(f"the reference accepts {case}")
    return cases


def note_vectors() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    peter, enoch, c2sp = log_v1.parse_vkey(PETER_VKEY), log_v1.parse_vkey(ENOCH_VKEY), log_v1.parse_vkey(C2SP_VKEY)
    assert log_v1.sign_note(PETER_TEXT, log_v1.parse_skey(PETER_SKEY)) == PETER_TEXT + "\n" + PETER_SIG, "Go's TestSign"

    def case(name: str, key: Any, note: str, source: str = "") -> None:
        c: dict[str, Any] = {"name": name, "vkey": key.vkey(), "note": note}
        if source:
            c["source"] = source
        try:
            c["expect"] = {"text": log_v1.open_note(note, key)}
        except log_v1.Refused as e:
            c["expect"] = {"error": e.code}
        cases.append(c)

    bad = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    case("Go: Peter's signature", peter, PETER_TEXT + "\n" + PETER_SIG, GO_NOTE)
    case("Go: Peter's and Enoch's, Peter pinned", peter, PETER_TEXT + "\n" + PETER_SIG + ENOCH_SIG, GO_NOTE)
    case("Go: Peter's and Enoch's, Enoch pinned", enoch, PETER_TEXT + "\n" + PETER_SIG + ENOCH_SIG, GO_NOTE)
    case("Go: an invalid signature of Peter", peter, PETER_TEXT + "\n" + bad, GO_NOTE)
    case("Go: repeated signatures, and a broken one of an unknown key", peter, PETER_TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:], GO_NOTE)
    case("a valid signature of Peter, then a broken one (every line of the pinned key must verify; Go skips repeats)", peter, PETER_TEXT + "\n" + PETER_SIG + bad)
    case("only Enoch's signature, Peter pinned", peter, PETER_TEXT + "\n" + ENOCH_SIG)
    case("Peter's name with another key ID", peter, PETER_TEXT + "\n" + PETER_SIG.replace("x08g", "xxxx"))
    for n, msg in enumerate([
        PETER_TEXT,
        PETER_TEXT + "\n",
        PETER_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + PETER_TEXT + "\n" + PETER_SIG,
        PETER_TEXT + "\n" + "\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        PETER_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    ], start=1):
        case(f"Go: malformed note {n}", peter, msg, GO_NOTE)
    case("a signature line without its key ID", peter, PETER_TEXT + "\n\u2014 PeterNeumann AAAA\n")
    case("C2SP: the example note", c2sp, C2SP_TEXT + "\n" + C2SP_SIG, C2SP_NOTE)
    case("C2SP: the example note, text changed", c2sp, C2SP_TEXT.replace("example", "exemplary") + "\n" + C2SP_SIG, C2SP_NOTE)
    return cases


def signing_vectors() -> list[dict[str, Any]]:
    signer = log_v1.parse_skey(PETER_SKEY)
    log = log_v1.Signer(LOG_NAME, LOG_SEED)
    return [
        {"name": "Go's TestSign", "source": GO_NOTE, "skey": PETER_SKEY, "text": PETER_TEXT, "expect": log_v1.sign_note(PETER_TEXT, signer)},
        {"name": "a checkpoint of the vectors' log", "skey": log.skey(), "text": log_v1.checkpoint_body(LOG_NAME, 8, bytes.fromhex(MERKLE["tree"]["roots"][7])), "expect": log_v1.sign_note(log_v1.checkpoint_body(LOG_NAME, 8, bytes.fromhex(MERKLE["tree"]["roots"][7])), log)},
        {"name": "a checkpoint of the empty tree", "skey": log.skey(), "text": log_v1.checkpoint_body(LOG_NAME, 0, log_v1.EMPTY_ROOT), "expect": log_v1.sign_note(log_v1.checkpoint_body(LOG_NAME, 0, log_v1.EMPTY_ROOT), log)},
    ]


def checkpoint_vectors() -> list[dict[str, Any]]:
    log = log_v1.Signer(LOG_NAME, LOG_SEED)
    other = log_v1.Signer(LOG_NAME, OTHER_SEED)
    witness = log_v1.Signer("witness.example/w1", WITNESS_SEED)
    root = bytes.fromhex(MERKLE["tree"]["roots"][7])
    body = log_v1.checkpoint_body(LOG_NAME, 8, root)
    signed = log_v1.sign_note(body, log)
    line = log.signature_line(body.encode())
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[10] ^= 0x01
    bad_line = f"\u2014 {LOG_NAME} {base64.b64encode(bytes(raw)).decode()}\n"
    cases: list[dict[str, Any]] = []

    def case(name: str, note: str, key: Any = log.verifier) -> None:
        c: dict[str, Any] = {"name": name, "vkey": key.vkey(), "note": note}
        try:
            c["expect"] = {"checkpoint": log_v1.open_checkpoint(note, key)}
        except log_v1.Refused as e:
            c["expect"] = {"error": e.code}
        cases.append(c)

    def signed_body(text: str, signer: Any = log) -> str:
        return log_v1.sign_note(text, signer)

    case("valid", signed)
    case("the empty tree", signed_body(log_v1.checkpoint_body(LOG_NAME, 0, log_v1.EMPTY_ROOT)))
    case("signed by another key of the same name", signed_body(body, other))
    case("signed by another key, checked with it", signed_body(body, other), other.verifier)
    case("another origin, signed with the log's key", signed_body(log_v1.checkpoint_body("other.example/log", 8, root)))
    case("extra signatures of unknown keys (a witness, a rotated key)", signed + witness.signature_line(body.encode()) + other.signature_line(body.encode()))
    case("the unknown keys' signatures first", body + "\n" + witness.signature_line(body.encode()) + other.signature_line(body.encode()) + line)
    case("a bad signature from the pinned key", body + "\n" + bad_line)
    case("a good and a bad signature from the pinned key", signed + bad_line)
    case("the tree size changed after signing", signed.replace("\n8\n", "\n9\n", 1))
    case("an extension line", signed_body(body + "extension\n"))
    case("a tree size with a leading zero", signed_body(log_v1.checkpoint_body(LOG_NAME, 8, root).replace("\n8\n", "\n08\n")))
    case("a root of 31 bytes", signed_body(f"{LOG_NAME}\n8\n{base64.b64encode(root[:31]).decode()}\n"))
    case("a tree size beyond 2^64 - 1", signed_body(f"{LOG_NAME}\n18446744073709551616\n{base64.b64encode(root).decode()}\n"))
    case("a largest tree size", signed_body(f"{LOG_NAME}\n18446744073709551615\n{base64.b64encode(root).decode()}\n"))
    case("no root line", signed_body(f"{LOG_NAME}\n8\n"))
    return cases


def certificate_vectors() -> list[dict[str, Any]]:
    log = log_v1.Signer(LOG_NAME, LOG_SEED)
    other = log_v1.Signer(LOG_NAME, OTHER_SEED)
    verra = block_record(VERRA_187, 187)
    plain = ids_v1.canonicalize({"project_name": "Solar Farm", "registry": "VCS", "vintage": 2023, "quantity": "100.1", "serial_number": "VCS-001"})
    vid, pid = log_v1.line_id(verra), log_v1.line_id(plain)
    entries: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (event, record)

    def add(record: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        event = dict(event, id=f"0192f0c1-7e00-7000-8000-{len(entries) + 1:012d}")
        entries.append((event, record))
        return event

    add(verra, fixed_event(0, vid, 1, "CREATED", None, T0))
    add(plain, fixed_event(0, pid, 1, "CREATED", None, T0))
    add(verra, fixed_event(0, vid, 2, "SOLD", {"buyer": "Acme Corp", "price": "12.50", "currency": "USD"}, T1))
    add(plain, fixed_event(0, pid, 2, "SOLD", {"buyer": "Beta Ltd", "price": 9.75, "currency": "EUR"}, T1))
    state = lifecycle_v1.replay([e for e, r in entries if r is verra])
    split = splits_v1.act(verra, state, "RETIRED", {"quantity": 37, "beneficiary": "City of Oslo", "purpose": "public_claim", "beneficiary_country": "NO", "note": "2025 emissions"}, T2)["split"]
    front, back = split["front"], split["back"]
    add(verra, split["parent"])
    for e in front["events"]:
        add(front["record"], e)
    for e in back["events"]:
        add(back["record"], e)
    add(plain, fixed_event(0, pid, 3, "RETIRED", {"beneficiary": "Beta Ltd", "reason": "2025 emissions", "purpose": "corporate_target"}, T2))
    odd = ids_v1.canonicalize({"project_name": "ℌydro ﬁeld", "registry": "Gold Standard", "vintage": 2021, "quantity": 5, "serial_number": "GS-ℌ-1"})
    oid = log_v1.line_id(odd)
    add(odd, fixed_event(0, oid, 1, "CREATED", None, T0))
    add(odd, fixed_event(0, oid, 2, "CANCELLED", {"reason": "issued twice"}, T1))
    hashes = [log_v1.leaf_hash(log_v1.leaf_bytes(e, r if e["event_type"] == "CREATED" else None)) for e, r in entries]
    size = len(hashes)
    root = log_v1.mth(hashes)
    note = log_v1.sign_note(log_v1.checkpoint_body(LOG_NAME, size, root), log)

    def certificate(records: list[dict[str, Any]], checkpoint: str = note, leaves: list[bytes] = hashes) -> dict[str, Any]:
        out = []
        for record in records:
            rid = log_v1.line_id(record)
            events = [{"event": e, "index": i, "proof": [h.hex() for h in log_v1.inclusion_proof(leaves, i)]}
                      for i, (e, r) in enumerate(entries) if e["record_id"] == rid]
            out.append({"record": record, "events": events})
        return {"record_id": log_v1.line_id(records[-1]), "records": out, "checkpoint": checkpoint}

    cases: list[dict[str, Any]] = []

    def case(name: str, cert: dict[str, Any], key: Any = log.verifier, trusted: Optional[tuple[dict[str, Any], list[str]]] = None) -> None:
        c: dict[str, Any] = {"name": name, "vkey": key.vkey(), "certificate": cert}
        if trusted is not None:
            c["trusted"] = {"checkpoint": trusted[0], "proof": trusted[1]}
        try:
            c["expect"] = {"verified": log_v1.verify_certificate(cert, key.vkey(), trusted)}
        except log_v1.Refused as e:
            c["expect"] = {"error": {"code": e.code, "detail": e.detail}}
        cases.append(c)

    retired = certificate([verra, front["record"]])
    case("the retired front child of a split block, with its parent", retired)
    case("a plain record, sold and retired", certificate([plain]))
    case("the remainder of a split block (ACTIVE)", certificate([verra, back["record"]]))
    case("the registered block itself (SPLIT)", certificate([verra]))
    tampered = copy.deepcopy(retired)
    tampered["records"][1]["events"][1]["event"]["payload"]["beneficiary"] = "City of Bergen"
    case("a tampered payload (the retirement's beneficiary)", tampered)
    wrong = copy.deepcopy(retired)
    wrong["records"][1]["events"][1]["proof"][0] = flip(wrong["records"][1]["events"][1]["proof"][0])
    case("a wrong proof (one hash flipped)", wrong)
    moved = copy.deepcopy(retired)
    moved["records"][0]["events"][1]["index"] += 1
    case("a wrong leaf index", moved)
    case("checked with another key of the same name", retired, other.verifier)
    resigned = dict(retired, checkpoint=log_v1.sign_note(log_v1.checkpoint_body(LOG_NAME, size, root), other))
    case("a checkpoint signed by another key", resigned)
    case("without its ancestor", certificate([front["record"]]))
    case("the ancestor and a record that is not its child", certificate([verra, plain]))
    skipped = copy.deepcopy(retired)
    del skipped["records"][0]["events"][1]
    case("an event left out (a seq missing)", skipped)
    other_id = dict(retired, record_id=vid)
    case("record_id naming the ancestor", other_id)
    changed = copy.deepcopy(retired)
    changed["records"][1]["record"]["quantity"] = "38.0000"
    case("the record's quantity changed", changed)
    renamed = copy.deepcopy(certificate([plain]))
    renamed["records"][0]["record"]["project_name"] = "solar farms"
    case("the record's project name changed", renamed)
    case("a record whose canonical fields do not canonicalize to themselves (ℌ becomes H)", certificate([odd]))
    empty = dict(retired, records=[])
    case("no records", empty)
    # A verifier that holds an older checkpoint (size 5).
    old = {"origin": LOG_NAME, "size": 5, "root": log_v1.mth(hashes[:5]).hex()}
    good = [h.hex() for h in log_v1.consistency_proof(hashes, 5)]
    case("with a trusted older checkpoint and its consistency proof", retired, trusted=(old, good))
    case("with a trusted checkpoint of the same size", retired, trusted=({"origin": LOG_NAME, "size": size, "root": root.hex()}, []))
    case("with a trusted empty tree", retired, trusted=({"origin": LOG_NAME, "size": 0, "root": log_v1.EMPTY_ROOT.hex()}, []))
    forked = list(hashes)
    forked[2] = log_v1.leaf_hash(b"a rewritten sale")
    case("with a trusted checkpoint of a forked history", retired, trusted=({"origin": LOG_NAME, "size": 5, "root": log_v1.mth(forked[:5]).hex()}, good))
    case("with a trusted checkpoint and a proof one hash short", retired, trusted=(old, good[:-1]))
    case("with a trusted checkpoint of another log", retired, trusted=(dict(old, origin="other.example/log"), good))
    case("with a trusted checkpoint larger than the certificate's", retired, trusted=({"origin": LOG_NAME, "size": size + 1, "root": root.hex()}, []))
    # A certificate older than the checkpoint the verifier holds: the plain
    # record's whole story is in the first 9 leaves.
    early = log_v1.sign_note(log_v1.checkpoint_body(LOG_NAME, 9, log_v1.mth(hashes[:9])), log)
    stale = certificate([plain], early, hashes[:9])
    later = [h.hex() for h in log_v1.consistency_proof(hashes, 9)]
    case("older than the trusted checkpoint, with the consistency proof from it", stale, trusted=({"origin": LOG_NAME, "size": size, "root": root.hex()}, later))
    case("older than the trusted checkpoint, with a wrong consistency proof", stale, trusted=({"origin": LOG_NAME, "size": size, "root": root.hex()}, [flip(later[0])] + later[1:]))
    # What a log proves: the events shown, not that none follow. Leaving out
    # a record's last events gives an older state, and still verifies.
    shortened = copy.deepcopy(certificate([plain]))
    del shortened["records"][0]["events"][2]
    case("the last event left out: the state before it (a log proves what it holds, not that nothing follows)", shortened)
    cases += forged_certificates(log)
    return cases


def forged_certificates(log: Any) -> list[dict[str, Any]]:
    """Certificates of small logs of their own, signed with the log's key:
    every signature and proof holds, only the story is false (a dishonest or
    broken log). Each must be refused by what SPEC §6 makes a child."""
    verra = block_record(VERRA_187, 187)
    vid = log_v1.line_id(verra)
    plain = ids_v1.canonicalize({"project_name": "Solar Farm", "registry": "VCS", "vintage": 2023, "quantity": "100", "serial_number": "VCS-001"})
    pid = log_v1.line_id(plain)
    cases: list[dict[str, Any]] = []

    def forged(chain: list[tuple[dict[str, Any], list[dict[str, Any]]]], order: Optional[list[int]] = None) -> dict[str, Any]:
        flat = [(r, e) for r, es in chain for e in es]
        if order is not None:
            flat = [flat[i] for i in order]
        flat = [(r, dict(e, id=f"0192f0c1-7e00-7000-9000-{i + 1:012d}")) for i, (r, e) in enumerate(flat)]
        leaves = [log_v1.leaf_hash(log_v1.leaf_bytes(e, r if e["event_type"] == "CREATED" else None)) for r, e in flat]
        note = log_v1.sign_note(log_v1.checkpoint_body(LOG_NAME, len(leaves), log_v1.mth(leaves)), log)
        records = []
        for record, _ in chain:
            rid = log_v1.line_id(record)
            mine = sorted(((i, e) for i, (_, e) in enumerate(flat) if e["record_id"] == rid), key=lambda ie: ie[1]["seq"])
            records.append({"record": record, "events": [
                {"event": e, "index": i, "proof": [h.hex() for h in log_v1.inclusion_proof(leaves, i)]} for i, e in mine]})
        return {"record_id": log_v1.line_id(chain[-1][0]), "records": records, "checkpoint": note}

    def case(name: str, cert: dict[str, Any]) -> None:
        c: dict[str, Any] = {"name": "a forged log: " + name, "vkey": log.verifier.vkey(), "certificate": cert}
        try:
            c["expect"] = {"verified": log_v1.verify_certificate(cert, log.verifier.vkey())}
        except log_v1.Refused as e:
            c["expect"] = {"error": {"code": e.code, "detail": e.detail}}
        cases.append(c)

    def created(record: dict[str, Any], payload: Any = None, at: str = T0) -> dict[str, Any]:
        return fixed_event(0, log_v1.line_id(record), 1, "CREATED", payload, at)

    def split_chain(front: dict[str, Any], back: dict[str, Any], quantity: Any = 37, parent: dict[str, Any] = verra,
                    child_at: str = T1, child_payload: Any = None, front_tail: Optional[list[dict[str, Any]]] = None,
                    owner: Optional[str] = None) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        rid = log_v1.line_id(parent)
        events = [created(parent)]
        if owner is not None:
            events.append(fixed_event(0, rid, 2, "SOLD", {"buyer": owner}, T0))
        events.append(fixed_event(0, rid, len(events) + 1, "SPLIT", {"front": log_v1.line_id(front), "back": log_v1.line_id(back), "quantity": quantity}, T1))
        inherited = child_payload if child_payload is not None else dict({"parent": rid}, **({"holder": owner} if owner else {}))
        fid = log_v1.line_id(front)
        tail = front_tail if front_tail is not None else [fixed_event(0, fid, 2, "RETIRED", {"beneficiary": "City of Oslo"}, child_at)]
        return [(parent, events), (front, [fixed_event(0, fid, 1, "CREATED", inherited, child_at)] + tail)]

    derived = splits_v1.act(verra, lifecycle_v1.replay([dict(created(verra), id="x")]), "RETIRED", {"quantity": 37}, T1)["split"]
    front, back = derived["front"]["record"], derived["back"]["record"]
    case("an honest split, for comparison", forged(split_chain(front, back)))
    unrelated = block_record("19380-1-1000-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0", 1000, name="Another Project")
    case("a child with fields its parent's block does not give (another project, 1,000 credits)", forged(split_chain(unrelated, back)))
    larger = block_record("19380-941382555-941383554-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0", 1000)
    case("a child holding more credits than its parent", forged(split_chain(larger, back)))
    plain_front = ids_v1.canonicalize(dict(plain, quantity="37"))
    case("a split of a record that is not a block", forged(split_chain(plain_front, back, parent=plain)))
    case("a split naming more credits than the block holds", forged(split_chain(front, back, quantity=1000)))
    case("a split naming the same child as front and back", forged(split_chain(front, front)))
    case("a child created before its parent's split", forged(split_chain(front, back, child_at=T0)))
    # The log's order is not checked: PostgreSQL logs from before 2026-12-03
    # hold such inversions, and the story is the replay by seq and time.
    case("a child whose CREATED is in the log before its parent's SPLIT (verifies: the log's order is not checked)", forged(split_chain(front, back), order=[2, 0, 1, 3]))
    case("a child claiming a holder its parent never had", forged(split_chain(front, back, child_payload={"parent": vid, "holder": "Mallory"})))
    case("a child of a sold block that drops the buyer", forged(split_chain(front, back, owner="Acme Corp", child_payload={"parent": vid})))
    case("the child of a sold block, inheriting its buyer", forged(split_chain(front, back, owner="Acme Corp")))
    case("the acted-on child without its action (shown ACTIVE)", forged(split_chain(front, back, front_tail=[])))
    case("the acted-on child acted on later than the split", forged(split_chain(front, back, front_tail=[fixed_event(0, log_v1.line_id(front), 2, "RETIRED", None, T2)])))
    case("the remainder, which takes no action", forged([split_chain(front, back)[0], (back, [fixed_event(0, log_v1.line_id(back), 1, "CREATED", {"parent": vid}, T1)])]))
    case("a registered record starting with a holder", forged([(plain, [created(plain, {"holder": "Mallory"})])]))
    case("a retirement in the log before the record's CREATED (verifies: the log's order is not checked)", forged([(plain, [created(plain), fixed_event(0, pid, 2, "RETIRED", None, T1)])], order=[1, 0]))
    return cases


def log_vectors() -> dict[str, Any]:
    return {
        "description": "The verifiable log of SPEC §7, from tests/reference/log_v1.py and published vectors: RFC 9162 trees and proofs (transparency-dev), signed notes and keys (Go's sumdb/note, C2SP signed-note), RFC 8785 examples, leaves, checkpoints and certificates of a log whose key has a fixed seed. Hashes in lowercase hex; an expected null or 'error' is the reference's code.",
        "sources": {
            "transparency-dev": [MERKLE["tree"]["source"], MERKLE["probes"]["source"]],
            "go": GO_NOTE,
            "c2sp": C2SP_NOTE,
            "rfc8785": "RFC 8785 §3.2.2.3 (numbers) and §3.2.3 (sorting)",
        },
        "log_key": {"name": LOG_NAME, "skey": log_v1.Signer(LOG_NAME, LOG_SEED).skey(), "vkey": log_v1.Signer(LOG_NAME, LOG_SEED).verifier.vkey()},
        "tree": tree_vectors(),
        "published": published_vectors(),
        "proofs": adversarial_proofs(),
        "leaves": leaf_vectors(),
        "keys": key_vectors(),
        "notes": note_vectors(),
        "signing": signing_vectors(),
        "checkpoints": checkpoint_vectors(),
        "certificates": certificate_vectors(),
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    args = parser.parse_args()
    if unicodedata.unidata_version != "14.0.0":
        print(f"note: this Python has Unicode {unicodedata.unidata_version}; the vectors were made with 14.0.0", file=sys.stderr)
    outputs = {
        "ids.json": ids_vectors(),
        "rejects.json": rejects_vectors(),
        "lifecycle.json": lifecycle_vectors(),
        "serials.json": serials_vectors(),
        "splits.json": splits_vectors(),
        "log.json": log_vectors(),
    }
    stale = 0
    for name, data in outputs.items():
        path, text = HERE / name, render(data)
        if args.check:
            old = path.read_text(encoding="utf-8") if path.exists() else ""
            if old != text:
                stale += 1
                diff = difflib.unified_diff(old.splitlines(), text.splitlines(), f"committed/{name}", f"regenerated/{name}", lineterm="", n=1)
                print("\n".join(itertools.islice(diff, 40)))
        else:
            path.write_text(text, encoding="utf-8")
        count = len(data["cases"]) if "cases" in data else sum(len(v) for v in data.values() if isinstance(v, list))
        print(f"{name}: {count} cases{' (differs)' if args.check and stale else ''}")
    if stale:
        print("vectors are stale: run .venv/bin/python tests/vectors/generate.py and commit the result", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())

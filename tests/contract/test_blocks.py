"""SPEC §6 so far on the server: a record's body says which block of credits
it is (`block`, from the core's serial parsing, the expected values from the
pure-Python reference) and who holds it (`holder`), on both backends."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from conftest import ROOT, VECTORS, Server, new_record

sys.path.insert(0, str(ROOT / "tests" / "reference"))
import serials_v1  # noqa: E402

SERIALS = json.loads((VECTORS / "serials.json").read_text())["cases"]
BLOCKS = [c for c in SERIALS if c["block"] is not None and int(c["block"]["end"]) - int(c["block"]["start"]) < 10**13]


@pytest.mark.parametrize("case", BLOCKS[::7], ids=lambda c: c["name"])
def test_a_record_whose_serial_names_its_range_is_a_block(server: Server, case: dict[str, Any]) -> None:
    count = int(case["block"]["end"]) - int(case["block"]["start"]) + 1
    r = server.post("/records", new_record(serial_number=case["serial"], quantity=count))
    assert r.status in (200, 201), r.raw
    assert r.json["block"] == case["block"]
    assert server.get(f"/records/{r.json['id']}").json["block"] == case["block"]


def test_the_spec_example_block(server: Server) -> None:
    serial = "19380-941382555-941382741-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0"
    expected = serials_v1.parse(serial.lower())
    body = server.post("/records", new_record(serial_number=serial, quantity=187)).json
    assert body["block"] == expected and body["block"]["start"] == "941382555"
    assert body["holder"] is None
    sold = server.post(f"/records/{body['id']}/sell", {"buyer": " Acme Corp "})
    assert sold.status == 200
    assert server.get(f"/records/{body['id']}").json["holder"] == "Acme Corp"


@pytest.mark.parametrize("serial,quantity", [
    ("19380-941382555-941382741-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0", 100),  # not the range's count
    ("19380-941382555-941382741-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0", "187.5"),
    ("VCS-001", 100),  # names no range
])
def test_a_plain_record_has_no_block(server: Server, serial: str, quantity: Any) -> None:
    body = server.post("/records", new_record(serial_number=serial, quantity=quantity)).json
    assert body["block"] is None, body


def test_the_openapi_document_describes_blocks(server: Server) -> None:
    schemas = server.get("/openapi.json").json["components"]["schemas"]
    assert {"scheme", "prefix", "start", "end", "suffix"} <= set(schemas["Block"]["properties"])
    assert "verra" in schemas["Scheme"]["enum"]

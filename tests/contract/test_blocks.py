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
    # A serial that names a range of another count: said so (SPEC §6).
    if serial.startswith("19380"):
        assert body["warnings"] == [
            f"the serial names 187 credits (941382555 to 941382741) but the quantity is {body['quantity']}: "
            "the record is a plain record, not a block, so partial actions on it are not_divisible"
        ]
        batch = server.post("/records/batch", [new_record(serial_number=serial, quantity=quantity)]).json
        assert batch["items"][0]["warnings"] == body["warnings"]
    else:
        assert "warnings" not in body


def test_the_openapi_document_describes_blocks(server: Server) -> None:
    schemas = server.get("/openapi.json").json["components"]["schemas"]
    assert {"scheme", "prefix", "start", "end", "suffix"} <= set(schemas["Block"]["properties"])
    assert "verra" in schemas["Scheme"]["enum"]


# --- Partial actions, splits, lineage and the overlap rule (SPEC §6) ---------
#
# Expected serials and ids come from the pure-Python references (serials_v1,
# ids_v1, splits_v1), never from the server.

import random  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

import ids_v1  # noqa: E402
import splits_v1  # noqa: E402

from conftest import assert_problem  # noqa: E402
from test_concurrency import all_at_once  # noqa: E402

VERRA_TAIL = "VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0"


def verra(issuance: int, start: int, end: int) -> str:
    """A Verra serial of the block start..=end of an issuance."""
    return f"{issuance}-{start}-{end}-{VERRA_TAIL}"


def fresh_issuance() -> int:
    """An issuance number no other test uses (blocks of one issuance must not overlap)."""
    return random.randrange(10**6, 10**9)


def block_record(serial: str, count: int) -> dict[str, Any]:
    return new_record(project_name="Block Project", registry="Verra", vintage=2022, quantity=count, serial_number=serial)


def register(server: Server, serial: str, count: int) -> dict[str, Any]:
    r = server.post("/records", block_record(serial, count))
    assert r.status == 201, r.raw
    assert r.json["block"] is not None
    return dict(r.json)


def expected_split(record: dict[str, Any], requested: int, action: str = "RETIRED") -> dict[str, Any]:
    """What the reference says a partial action on a fresh block makes."""
    canonical = {k: record[k] for k in ("project_name", "registry", "vintage", "quantity", "serial_number")}
    # Ids do not depend on times; the reference gets a fixed one.
    at = "2024-01-01T00:00:00Z"
    state = {"record_id": record["id"], "status": "ACTIVE", "last_seq": 1, "created_at": at, "updated_at": at, "owner": record["holder"]}
    return dict(splits_v1.act(canonical, state, action, {"quantity": requested}, at)["split"])


def test_retiring_37_of_the_spec_block_splits_it(server: Server) -> None:
    issuance = fresh_issuance()
    parent = register(server, verra(issuance, 941382555, 941382741), 187)
    r = server.post(f"/records/{parent['id']}/retire", {"quantity": 37, "beneficiary": "Acme"})
    assert r.status == 200, r.raw
    expected = expected_split(parent, 37)
    front_id, back_id = expected["front"]["id"], expected["back"]["id"]
    # The answer: the RETIRED event on the front child, and the split.
    assert r.json["event_type"] == "RETIRED" and r.json["record_id"] == front_id
    assert r.json["payload"] == {"beneficiary": "Acme"}
    split = r.json["split"]
    assert split["parent"]["event_type"] == "SPLIT"
    assert split["parent"]["payload"] == {"front": front_id, "back": back_id, "quantity": 37}
    assert (split["front"]["id"], split["back"]["id"]) == (front_id, back_id)
    # The parent is SPLIT and names its children.
    got = server.get(f"/records/{parent['id']}").json
    assert got["status"] == "SPLIT" and got["children"] == [front_id, back_id]
    # The front child: 37 credits, the SPEC's serial, RETIRED, its parent named.
    front = server.get(f"/records/{front_id}").json
    assert front["status"] == "RETIRED" and front["quantity"] == "37.0000"
    assert front["serial_number"] == verra(issuance, 941382555, 941382591).lower()
    assert front["parent"] == parent["id"] and front["children"] == []
    assert [e["event_type"] for e in front["events"]] == ["CREATED", "RETIRED"]
    assert front["events"][0]["payload"] == {"parent": parent["id"]}
    # Its id is the v1 id of its own fields, by POST /ids and by the reference.
    fields = {k: front[k] for k in ("project_name", "registry", "vintage", "quantity", "serial_number")}
    assert server.post("/ids", fields).json["id"] == front_id == ids_v1.record_id(fields)
    # The back child: the remainder, 150 credits, ACTIVE.
    back = server.get(f"/records/{back_id}").json
    assert back["status"] == "ACTIVE" and back["quantity"] == "150.0000"
    assert back["serial_number"] == verra(issuance, 941382592, 941382741).lower()
    assert back["block"]["start"] == "941382592"


def test_a_second_partial_retire_addressed_to_the_parent_acts_on_the_remainder(server: Server) -> None:
    issuance = fresh_issuance()
    parent = register(server, verra(issuance, 1, 187), 187)
    first = server.post(f"/records/{parent['id']}/retire", {"quantity": 37}).json
    back_id = first["split"]["back"]["id"]
    back = server.get(f"/records/{back_id}").json
    second = server.post(f"/records/{parent['id']}/retire", {"quantity": 50})
    assert second.status == 200, second.raw
    assert second.json["split"]["parent"]["record_id"] == back_id
    expected = expected_split(back, 50)
    assert second.json["record_id"] == expected["front"]["id"]
    assert second.json["split"]["front"]["record"]["serial_number"] == verra(issuance, 38, 87).lower()
    assert second.json["split"]["back"]["record"]["quantity"] == "100.0000"
    # The whole remainder, addressed to the root: the last leaf is retired whole.
    last = server.post(f"/records/{parent['id']}/retire", {"quantity": "100"})
    assert last.status == 200 and "split" not in last.json
    assert last.json["record_id"] == expected["back"]["id"]
    # Nothing is left.
    r = server.post(f"/records/{parent['id']}/retire", {"quantity": 1})
    assert_problem(r, 409, "insufficient_quantity")


def test_partial_sale_then_retire_keeps_the_holder(server: Server) -> None:
    parent = register(server, verra(fresh_issuance(), 1, 100), 100)
    sold = server.post(f"/records/{parent['id']}/sell", {"buyer": "Buyer A", "quantity": 60}).json
    front, back = sold["split"]["front"]["id"], sold["split"]["back"]["id"]
    assert server.get(f"/records/{front}").json["holder"] == "Buyer A"
    assert server.get(f"/records/{back}").json["holder"] is None
    retired = server.post(f"/records/{front}/retire", {"quantity": 10}).json
    child = server.get(f"/records/{retired['record_id']}").json
    assert child["holder"] == "Buyer A" and child["status"] == "RETIRED"
    held = server.get("/records?" + urlencode({"holder": "Buyer A", "limit": "1000"})).json["items"]
    assert {r["id"] for r in held} == {front, retired["split"]["front"]["id"], retired["split"]["back"]["id"]}
    split = server.get("/records?" + urlencode({"status": "SPLIT", "holder": "Buyer A"})).json["items"]
    assert [r["id"] for r in split] == [front]


def test_too_many_credits_is_insufficient_quantity(server: Server) -> None:
    parent = register(server, verra(fresh_issuance(), 10, 19), 10)
    r = server.post(f"/records/{parent['id']}/retire", {"quantity": 11})
    body = assert_problem(r, 409, "insufficient_quantity")
    assert "10" in body["detail"] and "11" in body["detail"]
    assert server.get(f"/records/{parent['id']}").json["status"] == "ACTIVE"


@pytest.mark.parametrize("serial,quantity", [("VCS-001", 100), (verra(1, 1, 187), 100)])
def test_a_partial_action_on_a_plain_record_is_not_divisible(server: Server, serial: str, quantity: int) -> None:
    record = server.post("/records", new_record(serial_number=f"{serial}-{random.random()}" if serial == "VCS-001" else serial, quantity=quantity)).json
    r = server.post(f"/records/{record['id']}/retire", {"quantity": 5})
    body = assert_problem(r, 422, "not_divisible")
    assert body.get("help")
    assert server.get(f"/records/{record['id']}/events").json[-1]["event_type"] == "CREATED"


@pytest.mark.parametrize("quantity,code", [(0, "not_positive"), (-3, "not_positive"), (1.5, "not_an_integer"), ("x", "not_an_integer"), (True, "not_an_integer")])
def test_a_bad_quantity_names_the_field(server: Server, quantity: Any, code: str) -> None:
    parent = register(server, verra(fresh_issuance(), 1, 10), 10)
    body = assert_problem(server.post(f"/records/{parent['id']}/retire", {"quantity": quantity}), 422, "invalid_payload")
    assert body["errors"][0]["field"] == "quantity" and body["errors"][0]["code"] == code, body
    # Its own words: the message was a vintage's ("an integer year") or a
    # decimal quantity's ("once truncated to 4 decimals").
    message = body["errors"][0]["message"]
    assert "credits" in message and "year" not in message and "decimals" not in message, message


def test_a_bad_quantity_is_reported_with_every_other_problem(server: Server) -> None:
    # A bad quantity was the only error reported, hiding the rest (SPEC §4:
    # every problem at once); the order is the core's, from the vectors.
    parent = register(server, verra(fresh_issuance(), 1, 10), 10)
    r = server.post(f"/records/{parent['id']}/sell", {"quantity": "x", "price": -1, "currency": "usd", "colour": "red"})
    body = assert_problem(r, 422, "invalid_payload")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("colour", "unknown_field"), ("buyer", "missing"), ("price", "negative"),
        ("currency", "invalid_currency"), ("quantity", "not_an_integer"),
    ], body
    assert server.get(f"/records/{parent['id']}").json["status"] == "ACTIVE"


def test_a_block_overlapping_a_tracked_one_is_refused(server: Server) -> None:
    issuance = fresh_issuance()
    tracked = register(server, verra(issuance, 100, 199), 100)
    for start, end in [(50, 100), (199, 250), (120, 130), (1, 1000)]:
        r = server.post("/records", block_record(verra(issuance, start, end), end - start + 1))
        body = assert_problem(r, 409, "serial_overlap")
        assert tracked["id"] in body["detail"], body
    # Touching at either end is not overlapping.
    assert server.post("/records", block_record(verra(issuance, 50, 99), 50)).status == 201
    assert server.post("/records", block_record(verra(issuance, 200, 210), 11)).status == 201
    # The identical block is that record.
    same = server.post("/records", block_record(verra(issuance, 100, 199), 100))
    assert same.status == 200 and same.json["id"] == tracked["id"]
    # Another issuance may use the same numbers.
    assert server.post("/records", block_record(verra(issuance + 1, 100, 199), 100)).status == 201


def test_retired_and_cancelled_blocks_still_hold_their_credits(server: Server) -> None:
    issuance = fresh_issuance()
    retired = register(server, verra(issuance, 1, 10), 10)
    cancelled = register(server, verra(issuance, 11, 20), 10)
    assert server.post(f"/records/{retired['id']}/retire").status == 200
    assert server.post(f"/records/{cancelled['id']}/cancel").status == 200
    assert_problem(server.post("/records", block_record(verra(issuance, 10, 10), 1)), 409, "serial_overlap")
    assert_problem(server.post("/records", block_record(verra(issuance, 11, 11), 1)), 409, "serial_overlap")


def test_a_split_block_s_children_hold_its_credits(server: Server) -> None:
    issuance = fresh_issuance()
    parent = register(server, verra(issuance, 1, 100), 100)
    split = server.post(f"/records/{parent['id']}/retire", {"quantity": 30}).json["split"]
    # Re-registering a child is that child; a range across both children overlaps.
    child = server.post("/records", block_record(verra(issuance, 31, 100), 70))
    assert child.status == 200, child.raw
    assert child.status == 200 and child.json["id"] == split["back"]["id"]
    assert_problem(server.post("/records", block_record(verra(issuance, 25, 35), 11)), 409, "serial_overlap")
    # The registered parent is still that record.
    assert server.post("/records", block_record(verra(issuance, 1, 100), 100)).json["id"] == parent["id"]


def test_lineage_adds_up_to_the_root(server: Server) -> None:
    parent = register(server, verra(fresh_issuance(), 1, 187), 187)
    first = server.post(f"/records/{parent['id']}/retire", {"quantity": 37}).json
    second = server.post(f"/records/{parent['id']}/sell", {"quantity": 50, "buyer": "B"}).json
    third = server.post(f"/records/{second['record_id']}/cancel", {"quantity": 5}).json
    leaf = third["split"]["front"]["id"]
    lineage = server.get(f"/records/{leaf}/lineage").json
    assert lineage["root"] == parent["id"]
    assert [a["id"] for a in lineage["ancestors"]] == [second["record_id"], first["split"]["back"]["id"], parent["id"]]
    assert [n["id"] for n in lineage["subtree"]] == [leaf]
    # The remainder of a sold block is a new record: ACTIVE, held by the buyer.
    assert lineage["totals"] == {"RETIRED": "37.0000", "CANCELLED": "5.0000", "ACTIVE": "145.0000"}
    remainder = server.get(f"/records/{third['split']['back']['id']}").json
    assert (remainder["status"], remainder["holder"], remainder["quantity"]) == ("ACTIVE", "B", "45.0000")
    root = server.get(f"/records/{parent['id']}/lineage").json
    assert root["ancestors"] == [] and root["subtree"][0]["id"] == parent["id"]
    assert len(root["subtree"]) == 7  # root, 3 splits' 6 children
    leaves = [n for n in root["subtree"] if n["status"] != "SPLIT"]
    assert sum(int(n["block"]["end"]) - int(n["block"]["start"]) + 1 for n in leaves) == 187
    assert server.get(f"/records/{'0' * 64}/lineage").status == 404


def test_a_plain_record_s_lineage_is_itself(server: Server) -> None:
    record = server.post("/records", new_record(quantity="12.5")).json
    lineage = server.get(f"/records/{record['id']}/lineage").json
    assert lineage["root"] == record["id"] and lineage["ancestors"] == []
    assert lineage["totals"] == {"ACTIVE": "12.5000"}


def test_65_simultaneous_one_credit_retires_of_a_64_credit_block(server: Server) -> None:
    issuance = fresh_issuance()
    parent = register(server, verra(issuance, 1001, 1064), 64)
    results = all_at_once(65, lambda i: server.post(f"/records/{parent['id']}/retire", {"quantity": 1, "reason": f"client {i}"}))
    statuses = sorted(r.status for r in results)
    assert statuses == [200] * 64 + [409], statuses
    assert [r.json["code"] for r in results if r.status == 409] == ["insufficient_quantity"]
    assert_leaves_tile(server, parent["id"], 1001, 1064)


def assert_leaves_tile(server: Server, root: str, start: int, end: int) -> None:
    """The retired leaves of `root` cover start..=end exactly: no gap, no overlap."""
    lineage = server.get(f"/records/{root}/lineage").json
    leaves = [n for n in lineage["subtree"] if n["status"] != "SPLIT"]
    assert {n["status"] for n in leaves} == {"RETIRED"}
    ranges = sorted((int(n["block"]["start"]), int(n["block"]["end"])) for n in leaves)
    assert ranges[0][0] == start and ranges[-1][1] == end
    for (_, a_end), (b_start, _) in zip(ranges, ranges[1:]):
        assert b_start == a_end + 1, ranges
    assert lineage["totals"] == {"RETIRED": f"{end - start + 1}.0000"}


def test_32_simultaneous_creates_of_overlapping_blocks_give_one_winner(server: Server) -> None:
    issuance = fresh_issuance()
    results = all_at_once(32, lambda i: server.post("/records", block_record(verra(issuance, 100 + i, 200 + i), 101)))
    statuses = sorted(r.status for r in results)
    assert statuses == [201] + [409] * 31, statuses
    assert {r.json["code"] for r in results if r.status == 409} == {"serial_overlap"}


def test_the_openapi_document_describes_partial_actions(server: Server) -> None:
    doc = server.get("/openapi.json").json
    # The bodies refuse unknown keys, and left out `quantity`: a client that
    # checked its requests against the document could not act on part of a
    # block, nor the fuzzer try it.
    for name in ("SellPayload", "RetirePayload", "CancelPayload"):
        body = doc["components"]["schemas"][name]
        assert body["additionalProperties"] is False, name
        kinds, schemas = set(), [body["properties"]["quantity"]]
        while schemas:
            schema = schemas.pop()
            kinds.add(schema.get("type"))
            schemas += schema.get("oneOf", [])
        assert {"integer", "string", "null"} <= kinds, (name, kinds)
    assert "/records/{id}/lineage" in doc["paths"]
    names = {p["name"] for p in doc["paths"]["/records"]["get"]["parameters"]}
    assert "holder" in names
    retire = doc["paths"]["/records/{id}/retire"]["post"]["responses"]["200"]
    assert retire["content"]["application/json"]["schema"]["$ref"].endswith("/ActedBody")
    acted = doc["components"]["schemas"]["ActedBody"]["allOf"]
    assert acted[0]["$ref"].endswith("/Event") and "split" in acted[1]["properties"]
    assert {"parent", "front", "back"} <= set(doc["components"]["schemas"]["Split"]["properties"])

"""SPEC §3 over HTTP: sell, retire, cancel, and the original service's client flow."""

from __future__ import annotations

import pytest

from conftest import Server, assert_problem, new_record


def test_original_service_client_flow(server: Server) -> None:
    """create 201 -> repeat 200 same id -> get ACTIVE -> retire 200 -> retire 409 -> get RETIRED, two events."""
    record = new_record(project_name="Solar Farm Maharashtra", quantity=100.0)
    first = server.post("/records", record)
    assert first.status == 201
    again = server.post("/records", record)
    assert again.status == 200
    rid = first.json["id"]
    assert again.json["id"] == rid
    got = server.get(f"/records/{rid}")
    assert got.status == 200 and got.json["status"] == "ACTIVE"
    retire = server.post(f"/records/{rid}/retire")
    assert retire.status == 200
    assert retire.json["event_type"] == "RETIRED"
    conflict = assert_problem(server.post(f"/records/{rid}/retire"), 409, "already_final")
    assert "RETIRED" in conflict["detail"]
    final = server.get(f"/records/{rid}").json
    assert final["status"] == "RETIRED"
    assert [e["event_type"] for e in final["events"]] == ["CREATED", "RETIRED"]


def test_sell_resell_then_retire(server: Server) -> None:
    rid = server.post("/records", new_record()).json["id"]
    sold = server.post(f"/records/{rid}/sell", {"buyer": "Acme", "price": "12.50", "currency": "USD", "note": "spot"})
    assert sold.status == 200, sold.raw
    e = sold.json
    assert (e["seq"], e["event_type"], e["record_id"]) == (2, "SOLD", rid)
    assert e["payload"]["buyer"] == "Acme"
    resold = server.post(f"/records/{rid}/sell", {"buyer": "Beta"}).json
    assert resold["seq"] == 3
    record = server.get(f"/records/{rid}").json
    assert record["status"] == "SOLD"
    assert record["owner"] == "Beta"
    retired = server.post(f"/records/{rid}/retire", {"beneficiary": "Beta", "reason": "2026 offset"})
    assert retired.status == 200
    assert retired.json["payload"] == {"beneficiary": "Beta", "reason": "2026 offset"}
    assert_problem(server.post(f"/records/{rid}/sell", {"buyer": "C"}), 409, "already_final")
    assert_problem(server.post(f"/records/{rid}/cancel"), 409, "already_final")


def test_cancel_is_final(server: Server) -> None:
    rid = server.post("/records", new_record()).json["id"]
    r = server.post(f"/records/{rid}/cancel", {"reason": "issued in error"})
    assert r.status == 200 and r.json["event_type"] == "CANCELLED"
    assert server.get(f"/records/{rid}").json["status"] == "CANCELLED"
    assert_problem(server.post(f"/records/{rid}/retire"), 409, "already_final")
    assert_problem(server.post(f"/records/{rid}/cancel"), 409, "already_final")


@pytest.mark.parametrize("action", ["sell", "retire", "cancel"])
def test_unknown_record_is_404(server: Server, action: str) -> None:
    body = {"buyer": "x"} if action == "sell" else None
    assert_problem(server.post(f"/records/{'ab' * 32}/{action}", body), 404, "not_found")
    assert_problem(server.post(f"/records/nonsense/{action}", body), 404, "not_found")


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({}, [("buyer", "missing")]),
        ({"buyer": ""}, [("buyer", "empty")]),
        ({"buyer": "A", "currency": "usd"}, [("currency", "invalid_currency")]),
        ({"buyer": "A", "price": -1}, [("price", "negative")]),
        ({"buyer": "A", "price": "abc"}, [("price", "not_a_number")]),
        ({"buyer": "A", "colour": "red", "alpha": 1}, [("alpha", "unknown_field"), ("colour", "unknown_field")]),
        ({"buyer": "A" * 300}, [("buyer", "too_long")]),
    ],
)
def test_sell_payload_errors_are_422_and_store_nothing(server: Server, payload: dict[str, object], errors: list[tuple[str, str]]) -> None:
    rid = server.post("/records", new_record()).json["id"]
    body = assert_problem(server.post(f"/records/{rid}/sell", payload), 422)
    got = [(e["field"], e["code"]) for e in body["errors"]]
    assert sorted(got) == sorted(errors)
    assert len(server.get(f"/records/{rid}/events").json) == 1


def test_sell_needs_a_json_object(server: Server) -> None:
    rid = server.post("/records", new_record()).json["id"]
    assert_problem(server.post(f"/records/{rid}/sell"), 400, "invalid_json")
    assert_problem(server.post(f"/records/{rid}/sell", raw=b"{", headers={"Content-Type": "application/json"}), 400)
    assert_problem(server.post(f"/records/{rid}/sell", raw=b"buyer=A", headers={"Content-Type": "application/x-www-form-urlencoded"}), 415)
    assert_problem(server.post(f"/records/{rid}/sell", [1]), 422)
    assert_problem(server.post(f"/records/{rid}/retire", "text"), 422)
    assert_problem(server.post(f"/records/{rid}/retire", {"buyer": "x"}), 422)
    assert len(server.get(f"/records/{rid}/events").json) == 1


def test_every_error_is_problem_json_never_500(server: Server) -> None:
    rid = server.post("/records", new_record()).json["id"]
    weird = [
        b"", b"{}", b"[]", b"null", b"0", b'"', b"\xff\xfe", b'{"buyer": "\\ud800"}',
        b'{"buyer": {"nested": [1, 2, {"deep": null}]}}', b'{"price": 1e400, "buyer": "x"}',
        b'{"buyer": "x", "price": "NaN"}', b'{"buyer": "x", "currency": 5}', b"[" * 10000,
    ]
    for path in ("/records", f"/records/{rid}/sell", f"/records/{rid}/cancel", "/ids", "/records/batch"):
        for raw in weird:
            r = server.post(path, raw=raw, headers={"Content-Type": "application/json"})
            assert r.status < 500, (path, raw[:40], r.status, r.raw[:200])
            if r.status >= 400:
                assert_problem(r, r.status)
    # Only the first valid cancel (the empty body) wrote anything.
    events = server.get(f"/records/{rid}/events").json
    assert [e["event_type"] for e in events] == ["CREATED", "CANCELLED"]

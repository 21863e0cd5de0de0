"""Inputs in every spelling the relevant standard allows are accepted; where
one is not, the error says what is wrong with the spelling (issue
"Hardening", kind 2). Every header, path parameter and query parameter the
server reads."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from conftest import Backend, Server, assert_problem, new_record

TOKEN = "s3cret"


@pytest.fixture(scope="module")
def authed(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("authed")
    s = Server(backend.new_url(workdir), workdir, env={"API_TOKEN": TOKEN}).start()
    yield s
    s.stop()


# RFC 9110 §11.1: the scheme is case-insensitive; RFC 6750 §2.1: one or more spaces.
@pytest.mark.parametrize("value", ["Bearer s3cret", "bearer s3cret", "BEARER s3cret", "Bearer  s3cret", "bEaReR \t s3cret"])
def test_bearer_in_every_standard_spelling(authed: Server, value: str) -> None:
    r = authed.post("/records", new_record(), headers={"Authorization": value})
    assert r.status == 201, r.raw
    rid = r.json["id"]
    assert authed.post(f"/records/{rid}/retire", headers={"Authorization": value}).status == 200


@pytest.mark.parametrize(
    "headers,words",
    [
        ({}, "has none"),
        ({"Authorization": "s3cret"}, "no scheme"),
        ({"Authorization": "Bearer"}, "no token"),
        ({"Authorization": "Basic czNjcmV0Og=="}, '"Basic" scheme'),
        ({"Authorization": "Bearer wrong"}, "not a key of this server"),
        ({"Authorization": "Bearer s3cret2"}, "not a key of this server"),
        ({"Authorization": "Bearer s3cre"}, "not a key of this server"),
    ],
)
def test_refused_authorization_says_what_is_wrong(authed: Server, headers: dict[str, str], words: str) -> None:
    record = new_record()
    body = assert_problem(authed.post("/records", record, headers=headers), 401, "unauthorized")
    assert words in body["detail"], body
    assert authed.get(f"/records/{authed.post('/ids', record).json['id']}").status == 404, "nothing was stored"


def test_record_id_in_uppercase_hex(server: Server) -> None:
    rid = server.post("/records", new_record()).json["id"]
    assert server.get(f"/records/{rid.upper()}").json["id"] == rid
    assert server.get(f"/records/{rid.upper()}/events").status == 200
    assert server.post(f"/records/{rid.upper()}/sell", {"buyer": "Acme"}).json["record_id"] == rid


@pytest.mark.parametrize("bad", ["abc", "a" * 63, "g" * 64, "a" * 65])
def test_malformed_record_id_says_why(server: Server, bad: str) -> None:
    body = assert_problem(server.get(f"/records/{bad}"), 404, "not_found")
    assert "64 hex digits" in body["detail"] and f"{len(bad)} characters" in body["detail"], body


@pytest.mark.parametrize(
    "at",
    [
        "2999-01-01T00:00:00Z",
        "2999-01-01t00:00:00z",  # RFC 3339 §5.6: T and Z in either case
        "2999-01-01%2000:00:00Z",  # ... and a space for the T
        "2999-01-01T01:00:00%2B01:00",  # the offset's + percent-encoded
        "2999-01-01T01:00:00+01:00",  # ... or sent as it is, which form decoding makes a space
        "2999-01-01T00:00:00.123456Z",
    ],
)
def test_at_in_every_rfc3339_spelling(server: Server, at: str) -> None:
    rid = server.post("/records", new_record()).json["id"]
    r = server.get(f"/records/{rid}?at={at}")
    assert r.status == 200, r.raw
    assert r.json["status"] == "ACTIVE"


def test_at_without_time_zone_says_so(server: Server) -> None:
    rid = server.post("/records", new_record()).json["id"]
    body = assert_problem(server.get(f"/records/{rid}?at=2024-01-31T12:00:00"), 422)
    assert "time zone" in body["detail"] and body["errors"][0]["field"] == "at"


@pytest.mark.parametrize("path", ["/records?registy=vcs", "/records?Status=ACTIVE", "/events?limt=5", "/records/" + "a" * 64 + "?when=2024-01-01T00:00:00Z"])
def test_unknown_query_parameter_is_named_not_ignored(server: Server, path: str) -> None:
    body = assert_problem(server.get(path), 422, "invalid_query")
    name = path.split("?", 1)[1].split("=", 1)[0]
    assert name in body["detail"], body


def test_query_values_in_other_cases_and_spacing(server: Server) -> None:
    record = new_record(registry="Spelling Registry")
    server.post("/records", record)
    for query in ("registry=spelling%20registry", "registry=SPELLING+REGISTRY", "status=active", "status=%20Active%20", "vintage=%202023", "limit=%205"):
        r = server.get(f"/records?{query}")
        assert r.status == 200, (query, r.raw)


def test_json_body_with_a_byte_order_mark(server: Server) -> None:
    import json

    record = new_record()
    raw = b"\xef\xbb\xbf" + json.dumps(record).encode()
    headers = {"Content-Type": "application/json"}
    assert server.post("/records", raw=raw, headers=headers).status == 201
    assert server.post("/ids", raw=raw, headers=headers).status == 200
    batch = b"\xef\xbb\xbf" + json.dumps([new_record()]).encode()
    assert server.post("/records/batch", raw=batch, headers=headers).json["items"][0]["outcome"] == "created"


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON", "application/json; charset=UTF-8", "application/json;charset=utf-8", "application/problem+json"])
def test_content_type_spellings(server: Server, content_type: str) -> None:
    import json

    r = server.post("/records", raw=json.dumps(new_record()).encode(), headers={"Content-Type": content_type})
    assert r.status == 201, r.raw


def test_missing_content_type_says_what_to_send(server: Server) -> None:
    import json

    body = assert_problem(server.post("/records", raw=json.dumps(new_record()).encode(), headers={}), 415)
    assert "Content-Type: application/json" in body.get("help", ""), body

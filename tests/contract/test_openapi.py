"""The OpenAPI document says what the server does: each fault the outside
fuzzer (tests/fuzz/run.py, Schemathesis) found, as a contract test on both
backends. The fuzzer itself runs in tests/run."""

from __future__ import annotations

import time
from typing import Any

from conftest import Server, assert_problem, new_record


def operation(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    op = doc["paths"][path][method]
    assert isinstance(op, dict)
    return op


def test_consistency_from_zero_is_a_422_naming_from(server: Server) -> None:
    # Was a 500 `corrupt_record`: the core's refusal of size 0 was read as a
    # fault of the stored log.
    server.post("/records", new_record())
    deadline = time.monotonic() + 10
    while server.get("/log/checkpoint").status != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    r = server.get("/log/consistency?from=0&to=1")
    problem = assert_problem(r, 422)
    assert "from" in problem["detail"], problem
    doc = server.get("/openapi.json").json
    params = {p["name"]: p for p in operation(doc, "get", "/log/consistency")["parameters"]}
    assert params["from"]["schema"]["minimum"] == 1


def test_query_parameters_are_query_parameters(server: Server) -> None:
    # Every query parameter was documented as a required path parameter, so
    # no client generator sent them where the server reads them.
    doc = server.get("/openapi.json").json
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for p in op.get("parameters", []):
                if p["in"] == "path":
                    assert "{" + p["name"] + "}" in path, (method, path, p["name"])
    list_params = {p["name"]: p for p in operation(doc, "get", "/records")["parameters"]}
    assert list_params["limit"]["in"] == "query" and not list_params["limit"].get("required", False)
    assert list_params["limit"]["schema"]["maximum"] == 1000


def test_lifecycle_posts_list_their_body_errors(server: Server) -> None:
    # A missing or unreadable body is a 400, which the document did not list.
    doc = server.get("/openapi.json").json
    rid = server.post("/records", new_record()).json["id"]
    for action in ("sell", "retire", "cancel"):
        responses = operation(doc, "post", f"/records/{{id}}/{action}")["responses"]
        for status in ("400", "413", "415", "401", "403", "429"):
            assert status in responses, (action, status)
    assert_problem(server.request("POST", f"/records/{rid}/sell", raw=b"{", headers={"Content-Type": "application/json"}), 400, "invalid_json")
    assert_problem(server.post(f"/records/{rid}/sell"), 400, "invalid_json")


def test_batch_items_are_any_json_answered_per_item(server: Server) -> None:
    # A batch item that is not a record is an error item of a 200, by
    # design; the document said items were records (schema-invalid, yet 200).
    doc = server.get("/openapi.json").json
    ref = operation(doc, "post", "/records/batch")["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert body["type"] == "array" and body["maxItems"] == 1000
    assert set(body["items"]) <= {"description"}, body["items"]
    r = server.post("/records/batch", [new_record(), None, {"serial_number": 7}])
    assert r.status == 200
    assert [item["outcome"] for item in r.json["items"]] == ["created", "error", "error"]


def test_record_fields_the_document_allows_are_accepted(server: Server) -> None:
    # The document allowed `vintage: ""`, empty text and `quantity: 0`,
    # which the core refuses; it now says what the core accepts.
    doc = server.get("/openapi.json").json
    schemas = doc["components"]["schemas"]
    record = schemas["RecordInput"]
    assert set(record["required"]) == {"project_name", "registry", "vintage", "quantity", "serial_number"}
    for bad in ({"vintage": ""}, {"project_name": "   "}, {"quantity": 0}):
        assert_problem(server.post("/records", new_record(**bad)), 422)
    assert server.post("/records", new_record(vintage="2023", quantity="0.0001")).status == 201


def test_optional_payload_fields_may_be_null(server: Server) -> None:
    # The core reads a null field as one not given; the document said the
    # fields were strings (a null price was schema-invalid, yet accepted).
    doc = server.get("/openapi.json").json
    sell = doc["components"]["schemas"]["SellPayload"]["properties"]["price"]
    assert any(alt.get("type") == "null" for alt in sell["oneOf"]), sell
    rid = server.post("/records", new_record()).json["id"]
    r = server.post(f"/records/{rid}/sell", {"buyer": "Acme", "price": None})
    assert r.status == 200 and "price" not in (r.json["payload"] or {}) or r.json["payload"].get("price") is None


def test_every_reference_resolves(server: Server) -> None:
    # Found by the fuzzer's warnings: `format` of GET /records and `from` of
    # POST /imports named schemas the document did not define, so neither
    # Schemathesis nor a client generator could read those parameters.
    doc = server.get("/openapi.json").json

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    found = refs(doc)
    assert found, "the document has no references at all"
    for ref in sorted(set(found)):
        assert ref.startswith("#/"), ref
        target: Any = doc
        for part in ref[2:].split("/"):
            assert isinstance(target, dict) and part in target, f"{ref} does not resolve"
            target = target[part]


def test_imports_document_their_json_form(server: Server) -> None:
    # The document gave POST /imports a text/csv body only, so the fuzzer sent
    # random text that was nearly always rejected ("mostly rejected") and
    # never reached the import's writes; the JSON form it accepts is an array
    # of record inputs.
    doc = server.get("/openapi.json").json
    content = operation(doc, "post", "/imports")["requestBody"]["content"]
    assert "text/csv" in content, content
    schema = content["application/json"]["schema"]
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert schema["type"] == "array" and schema["items"] == {"$ref": "#/components/schemas/RecordInput"}, schema
    rows = [new_record(), new_record(vintage=2021)]
    r = server.post("/imports", rows)
    assert r.status == 200, (r.status, r.raw[:500])
    assert r.json["created"] == 2 and r.json["rejected"] == [], r.json
    for row in rows:
        rid = server.post("/ids", row).json["id"]
        assert server.get(f"/records/{rid}").status == 200


def test_an_unknown_query_parameter_is_refused_everywhere(server: Server) -> None:
    # The endpoints that take no parameters ignored any: `?at=` on
    # /records/{id}/events answered the current history as if it were the
    # one asked for. Every API endpoint now names the parameter it does not
    # know, as the README says.
    rid = server.post("/records", new_record(serial_number=f"UQ-{time.time_ns()}:1-10", quantity=10)).json["id"]
    deadline = time.monotonic() + 10
    while server.get("/log/checkpoint").status != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    gets = [f"/records/{rid}/events", f"/records/{rid}/lineage", f"/records/{rid}/certificate", "/log/checkpoint", "/log/key"]
    posts = [("/records", new_record()), ("/records/batch", [new_record()]), ("/ids", new_record()),
             (f"/records/{rid}/sell", {"buyer": "B", "quantity": 1}), (f"/records/{rid}/retire", {"quantity": 1}),
             (f"/records/{rid}/cancel", {"quantity": 1})]
    for path in gets:
        assert server.get(path).status == 200, path
        problem = assert_problem(server.get(f"{path}?at=2020-01-01T00:00:00Z"), 422)
        assert [e["field"] for e in problem["errors"]] == ["at"], (path, problem)
    for path, body in posts:
        problem = assert_problem(server.post(f"{path}?dry_run=true", body), 422)
        assert [e["field"] for e in problem["errors"]] == ["dry_run"], (path, problem)
    assert len(server.get(f"/records/{rid}/events").json) == 1, "a refused action was written"


def test_operation_ids_are_unique(server: Server) -> None:
    doc = server.get("/openapi.json").json
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values() if "operationId" in op]
    assert len(ids) == len(set(ids)), sorted(ids)


def test_a_null_quantity_is_a_whole_action(server: Server) -> None:
    # The document allows `quantity: null` (an optional key may be null, as
    # the core reads a null key as one not given); the core refused it as
    # `not_an_integer`.
    for action, body in (("sell", {"buyer": "Acme"}), ("retire", {}), ("cancel", {})):
        rid = server.post("/records", new_record()).json["id"]
        r = server.post(f"/records/{rid}/{action}", {**body, "quantity": None})
        assert r.status == 200, (action, r.json)
        assert "split" not in r.json and r.json["record_id"] == rid


def test_an_integral_number_is_a_quantity(server: Server) -> None:
    # JSON Schema's `integer` admits 381.0, which the document allows for
    # `quantity`; the core refused it as `not_an_integer`.
    serial = f"FUZZ-{time.time_ns()}:1-10"
    block = server.post("/records", new_record(serial_number=serial, quantity=10)).json
    r = server.request("POST", f"/records/{block['id']}/retire", raw=b'{"quantity": 4.0}', headers={"Content-Type": "application/json"})
    assert r.status == 200, r.json
    assert r.json["split"]["parent"]["payload"]["quantity"] == 4, r.json
    r = server.request("POST", f"/records/{block['id']}/retire", raw=b'{"quantity": 1e30}', headers={"Content-Type": "application/json"})
    assert_problem(r, 422, "invalid_payload")
    assert [(e["field"], e["code"]) for e in r.json["errors"]] == [("quantity", "too_large")]


def test_the_document_declares_the_api_key(server: Server) -> None:
    # No securitySchemes: the docs page could not send a key, and a client
    # generator did not know operations take one. Optional (`{}`) beside the
    # key: what a server needs depends on its keys and `--private-reads`.
    doc = server.get("/openapi.json").json
    scheme = doc["components"]["securitySchemes"]["api_key"]
    assert scheme["type"] == "http" and scheme["scheme"].lower() == "bearer", scheme
    for path, item in doc["paths"].items():
        for method, op in item.items():
            expected: list[dict[str, list[str]]] | None = None if path == "/health" else [{"api_key": []}, {}]
            assert op.get("security") == expected, (method, path, op.get("security"))

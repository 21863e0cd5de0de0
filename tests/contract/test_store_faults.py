"""Faults of the store get the same answer on both backends (issue "No logic
twice": what was drift): a schema newer than the server is refused at start,
a write that breaks a rule of the schema is a 409, and a stored row or
history the server cannot read is a 500 `corrupt_record` that names the
record, is logged with its cause, and leaves every other record served."""

from __future__ import annotations

import uuid
from pathlib import Path

from conftest import ROOT, Backend, Server, assert_problem, new_record
from test_config import one_line_error, run_cli


def test_a_newer_schema_is_refused_at_start(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    Server(url, tmp_path).start().stop()
    if backend.name == "sqlite":
        backend.execute(url, "PRAGMA user_version = 99")
    else:
        backend.execute(url, "INSERT INTO schema_migrations (version) VALUES (99)")
    p = run_cli(env={"DATABASE_URL": url}, cwd=tmp_path)
    known = len(list((ROOT / "server" / "migrations" / backend.name).glob("*.sql")))
    one_line_error(p, f"version 99, newer than this server's {known}", "run a newer carbon-tracker-server")


def test_a_write_that_breaks_a_rule_of_the_schema_is_409(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    s = Server(url, tmp_path).start()
    try:
        rid = s.post("/records", new_record()).json["id"]
        # An operator's rule the application does not know: one sale per record.
        backend.execute(url, "CREATE UNIQUE INDEX one_sale ON events (record_id) WHERE event_type = 'SOLD'")
        assert s.post(f"/records/{rid}/sell", {"buyer": "A"}).status == 200
        body = assert_problem(s.post(f"/records/{rid}/sell", {"buyer": "B"}), 409, "write_conflict")
        assert "unique" in body["detail"].lower(), body
        assert [e["event_type"] for e in s.get(f"/records/{rid}").json["events"]] == ["CREATED", "SOLD"]
    finally:
        s.stop()


def test_a_corrupt_history_is_500_and_the_rest_is_served(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    s = Server(url, tmp_path).start()
    try:
        good = s.post("/records", new_record()).json["id"]
        bad = s.post("/records", new_record()).json["id"]
        # A SOLD event without its buyer, written by another tool: the core
        # refuses to replay it.
        backend.execute(
            url,
            "INSERT INTO events (id, record_id, seq, event_type, created_at) "
            f"VALUES ('{uuid.uuid4()}', '{bad}', 2, 'SOLD', '2999-01-01T00:00:00Z')",
        )
        for r in (s.get(f"/records/{bad}"), s.post(f"/records/{bad}/retire")):
            body = assert_problem(r, 500, "corrupt_record")
            assert bad in body["detail"] and "retry" in body["help"], body
        batch = s.post("/records/batch", [s.get(f"/records/{good}").json | {"status": None}]).json["items"][0]
        assert batch["outcome"] == "existing", batch
        # The server goes on serving every other record.
        assert s.get(f"/records/{good}").json["status"] == "ACTIVE"
        assert s.post(f"/records/{good}/retire").status == 200
        assert s.get("/health").status == 200
        log = s.log_text()
        assert f"record {bad}: the stored history cannot be read" in log and "buyer" in log, log[-2000:]
    finally:
        s.stop()


def test_an_unreadable_column_is_500_naming_the_record(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    s = Server(url, tmp_path).start()
    try:
        rid = s.post("/records", new_record()).json["id"]
        # A payload that is JSON but not an object, as another tool wrote it.
        payload = "'[1, 2]'" if backend.name == "sqlite" else "'[1, 2]'::jsonb"
        backend.execute(
            url,
            "INSERT INTO events (id, record_id, seq, event_type, payload, created_at) "
            f"VALUES ('{uuid.uuid4()}', '{rid}', 2, 'RETIRED', {payload}, '2999-01-01T00:00:00Z')",
        )
        body = assert_problem(s.get(f"/records/{rid}"), 500, "corrupt_record")
        assert rid in body["detail"], body
        assert s.post("/records", new_record()).status == 201
    finally:
        s.stop()

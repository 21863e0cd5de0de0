"""Upgrading a database from before credit blocks (SPEC §6): the migration
indexes the blocks already stored; overlaps the old rules allowed are kept,
reported at start and by `carbon-tracker-server overlaps`, and do not stop
the server."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from conftest import ROOT, SERVER_BIN, Backend, Server, assert_problem

sys.path.insert(0, str(ROOT / "tests" / "reference"))
import ids_v1  # noqa: E402

SCHEMA_V1 = {
    "sqlite": ROOT / "server" / "migrations" / "sqlite" / "0001_init.sql",
    "postgres": ROOT / "server" / "migrations" / "postgres" / "0001_init.sql",
}
TAIL = "-vcs-vcu-1310-ver-cn-13-3005-01012022-31102022-0"


def old_database(backend: Backend, url: str) -> dict[str, str]:
    """A database at schema version 1 holding two overlapping blocks, a
    block of its own and a plain record; returns their ids by name."""
    schema = SCHEMA_V1[backend.name].read_text()
    if backend.name == "sqlite":
        import sqlite3

        path = url.removeprefix("sqlite://")[1:]
        with sqlite3.connect(path) as conn:
            conn.executescript(schema + "\nPRAGMA user_version = 1;")
    else:
        backend.execute(url, schema)
        backend.execute(url, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        backend.execute(url, "INSERT INTO schema_migrations (version) VALUES (1)")
    records = {
        "first": ("19380-1-100" + TAIL, "100.0000"),
        "overlapping": ("19380-50-150" + TAIL, "101.0000"),
        "apart": ("19380-151-200" + TAIL, "50.0000"),
        "plain": ("vcs-plain-1", "7.0000"),
    }
    ids = {}
    for n, (name, (serial, quantity)) in enumerate(records.items()):
        fields = {"project_name": "old", "registry": "verra", "vintage": 2022, "quantity": quantity, "serial_number": serial}
        rid = ids_v1.record_id(fields)
        ids[name] = rid
        at = f"2024-01-0{n + 1}T00:00:00Z"
        backend.execute(
            url,
            "INSERT INTO records (id, project_name, registry, vintage, quantity, serial_number, created_at) "
            f"VALUES ('{rid}', 'old', 'verra', 2022, '{quantity}', '{serial}', '{at}')",
        )
        backend.execute(
            url,
            "INSERT INTO events (id, record_id, seq, event_type, payload, created_at) "
            f"VALUES ('{uuid.uuid4()}', '{rid}', 1, 'CREATED', NULL, '{at}')",
        )
    return ids


def test_an_old_database_upgrades_in_place_and_reports_its_overlaps(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    ids = old_database(backend, url)
    server = Server(url, tmp_path).start()
    try:
        # Nothing was dropped or altered, and the server serves.
        for name, rid in ids.items():
            got = server.get(f"/records/{rid}")
            assert got.status == 200 and got.json["status"] == "ACTIVE", name
        # The first block holds its credits now; the overlapping one is kept.
        r = server.post("/records", {"project_name": "new", "registry": "verra", "vintage": 2022, "quantity": 10, "serial_number": "19380-91-100" + TAIL})
        body = assert_problem(r, 409, "serial_overlap")
        assert ids["first"] in body["detail"]
        assert server.post(f"/records/{ids['apart']}/retire", {"quantity": 10}).status == 200
    finally:
        assert server.stop() == 0
    assert server.log is not None
    assert "share credits with earlier blocks" in server.log.read_text()
    listed = subprocess.run(
        [str(SERVER_BIN), "overlaps"], env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert listed.returncode == 1, listed.stderr
    assert listed.stdout.splitlines() == [f"{ids['overlapping']} overlaps {ids['first']}"]
    assert "1 stored block(s)" in listed.stderr


def test_a_new_database_has_no_overlaps(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    Server(url, tmp_path).start().stop()
    listed = subprocess.run(
        [str(SERVER_BIN), "overlaps"], env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert listed.returncode == 0 and listed.stdout == "", listed

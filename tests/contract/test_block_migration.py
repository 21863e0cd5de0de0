"""Upgrading a database from before credit blocks (SPEC §6): the migration
indexes the blocks already stored; overlaps the old rules allowed are kept,
reported at start and by `carbon-tracker-server overlaps`, and do not stop
the server."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, SERVER_BIN, Backend, Server, assert_problem

sys.path.insert(0, str(ROOT / "tests" / "reference"))
import ids_v1  # noqa: E402

SCHEMA_V1 = {
    "sqlite": ROOT / "server" / "migrations" / "sqlite" / "0001_init.sql",
    "postgres": ROOT / "server" / "migrations" / "postgres" / "0001_init.sql",
}
TAIL = "-vcs-vcu-1310-ver-cn-13-3005-01012022-31102022-0"


def old_database(backend: Backend, url: str, extra: dict[str, tuple[str, str]] | None = None) -> dict[str, str]:
    """A database at schema version 1 holding two overlapping blocks, a
    block of its own, a plain record and the `extra` ones (serial, quantity
    by name); returns their ids by name."""
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
        **(extra or {}),
    }
    ids = {}
    for n, (name, (serial, quantity)) in enumerate(records.items()):
        fields = {"project_name": "old", "registry": "verra", "vintage": 2022, "quantity": quantity, "serial_number": serial}
        rid = ids_v1.record_id(fields)
        ids[name] = rid
        at = f"2024-01-{n + 1:02d}T00:00:00Z"
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
    assert "share credits with earlier blocks" in server.log_text()
    listed = subprocess.run(
        [str(SERVER_BIN), "overlaps"], env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert listed.returncode == 1, listed.stderr
    assert listed.stdout.splitlines() == [f"{ids['overlapping']} overlaps {ids['first']}"]
    assert "1 stored block(s)" in listed.stderr


@pytest.mark.parametrize("upgraded_before", [False, True])
def test_a_block_left_out_of_the_index_still_holds_its_credits(backend: Backend, tmp_path: Path, upgraded_before: bool) -> None:
    """SPEC §6, no double registration, on an upgraded database: the block
    the migration left out ("overlapping", credits 50-150, of which 101-120
    no other block holds) and its children keep their credits. Each way of
    registering a block is refused; re-registering a stored one is that
    record; a partial action addressed to it acts on its own remainder.

    `upgraded_before`: the database was upgraded by a server from before
    the ranges of left-out blocks were kept, so it holds `block_overlaps`
    only (the table is dropped and the migration that makes it undone), and
    that server indexed "inner" (121-150), a block inside "overlapping" that
    overlaps no indexed block: it holds "overlapping"'s last credit without
    being its remainder."""
    url = backend.new_url(tmp_path)
    ids = old_database(backend, url, {"inner": ("19380-121-150" + TAIL, "30.0000")})
    if upgraded_before:
        assert Server(url, tmp_path).start().stop() == 0
        (migration,) = (SCHEMA_V1[backend.name].parent).glob("*_left_out_blocks.sql")
        version = int(migration.name[:4])
        backend.execute(url, "DROP TABLE left_out_blocks")
        backend.execute(url, f"DELETE FROM block_overlaps WHERE record_id = '{ids['inner']}'")
        if backend.name == "sqlite":
            # Credit numbers as SQLite stores them: top bit flipped (src/store/blocks.rs).
            first, last = 121 - 2**63, 150 - 2**63
            backend.execute(url, "INSERT INTO live_blocks (record_id, scheme, prefix, first, last) "
                            f"VALUES ('{ids['inner']}', 'verra', '19380-', {first}, {last})")
            backend.execute(url, f"PRAGMA user_version = {version - 1}")
        else:
            backend.execute(url, "INSERT INTO live_blocks (record_id, scheme, prefix, credits) "
                            f"VALUES ('{ids['inner']}', 'verra', '19380-', numrange(121, 150, '[]'))")
            backend.execute(url, f"DELETE FROM schema_migrations WHERE version = {version}")
    server = Server(url, tmp_path).start()

    def block(start: int, end: int) -> dict[str, object]:
        return {"project_name": "new", "registry": "verra", "vintage": 2022,
                "quantity": end - start + 1, "serial_number": f"19380-{start}-{end}" + TAIL}

    try:
        for start, end in [(101, 101), (105, 115), (120, 120), (95, 105)]:
            body = assert_problem(server.post("/records", block(start, end)), 409, "serial_overlap")
            assert ids["overlapping"] in body["detail"] or ids["first"] in body["detail"], body
        batch = server.post("/records/batch", [block(105, 115), block(300, 310)]).json["items"]
        assert [(i["outcome"], i.get("code")) for i in batch] == [("error", "serial_overlap"), ("created", None)], batch
        assert ids["overlapping"] in batch[0]["detail"], batch
        # The stored block is that record, before and after it splits.
        old = {"project_name": "old", "registry": "verra", "vintage": 2022, "quantity": "101.0000", "serial_number": "19380-50-150" + TAIL}
        again = server.post("/records", old)
        assert again.status == 200 and again.json["id"] == ids["overlapping"], again.raw
        split = server.post(f"/records/{ids['overlapping']}/retire", {"quantity": 10})
        assert split.status == 200, split.raw
        back = server.get(f"/records/{split.json['split']['back']['id']}").json
        assert back["serial_number"] == "19380-60-150" + TAIL, back
        old_back = {**old, "quantity": back["quantity"], "serial_number": back["serial_number"]}
        again = server.post("/records", old_back)
        assert again.status == 200 and again.json["id"] == back["id"], again.raw
        # Its children's credits stay held too.
        body = assert_problem(server.post("/records", block(105, 110)), 409, "serial_overlap")
        assert ids["overlapping"] in body["detail"], body
        # Addressed to it again, a partial retire acts on its remainder, not
        # on "inner".
        second = server.post(f"/records/{ids['overlapping']}/retire", {"quantity": 10})
        assert second.status == 200, second.raw
        assert second.json["split"]["parent"]["record_id"] == back["id"], second.json
        assert second.json["split"]["front"]["record"]["serial_number"] == "19380-60-69" + TAIL.lower()
        inner = server.get(f"/records/{ids['inner']}").json
        assert inner["status"] == "ACTIVE" and inner["children"] == [], inner
    finally:
        assert server.stop() == 0


def test_a_new_database_has_no_overlaps(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    Server(url, tmp_path).start().stop()
    listed = subprocess.run(
        [str(SERVER_BIN), "overlaps"], env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert listed.returncode == 0 and listed.stdout == "", listed


def test_a_split_that_cannot_be_written_whole_writes_nothing(backend: Backend, tmp_path: Path) -> None:
    """A split commits with both its children or not at all (SPEC §6), even
    when a stored record already holds the front child's id (possible only
    with an overlap the old rules allowed): nothing of it is written, the
    other records are untouched, and the same action on another block
    still works."""
    # The front child of retiring 10 credits of "first", as the Python
    # reference derives it: the block's first 10 serials, 10 credits.
    child = ("19380-1-10" + TAIL, "10.0000")
    url = backend.new_url(tmp_path)
    ids = old_database(backend, url, {"child": child})
    child_id = ids_v1.record_id({"project_name": "old", "registry": "verra", "vintage": 2022, "quantity": child[1], "serial_number": child[0]})
    assert ids["child"] == child_id
    server = Server(url, tmp_path).start()
    try:
        r = server.post(f"/records/{ids['first']}/retire", {"quantity": 10})
        assert r.status == 409, (r.status, r.json)
        first = server.get(f"/records/{ids['first']}").json
        assert first["status"] == "ACTIVE" and first["children"] == []
        assert [e["event_type"] for e in first["events"]] == ["CREATED"]
        stored = server.get(f"/records/{child_id}").json
        assert [e["event_type"] for e in stored["events"]] == ["CREATED"]
        # The group the refused split was in still commits the others'.
        assert server.post(f"/records/{ids['apart']}/retire", {"quantity": 10}).status == 200
        events = server.get("/events?limit=100").json
        assert not any(e["event_type"] == "SPLIT" and e["record_id"] == ids["first"] for e in events["items"])
    finally:
        assert server.stop() == 0


def test_sqlite_events_check_is_rewritten_in_place(tmp_path: Path) -> None:
    """SQLite migration 0007 edits the stored CHECK on `events.event_type`
    from an IN list (a temporary B-tree built for every insert) to the same
    rule as comparisons. On an upgraded database (from version 1, so every
    migration runs on the way): the events are all there, the file passes
    `integrity_check`, and a new connection's event insert builds no
    temporary table. (The rule itself, and the migrating connection's plan:
    the unit test in server/src/store/sqlite.rs.)"""
    import sqlite3

    sqlite = Backend("sqlite")
    url = sqlite.new_url(tmp_path)
    ids = old_database(sqlite, url)
    server = Server(url, tmp_path).start()
    try:
        # The writer (the connection that migrated) writes under the new text.
        assert server.post(f"/records/{ids['apart']}/retire", {"quantity": 10}).status == 200
    finally:
        assert server.stop() == 0
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone()
        assert " IN (" not in sql and "event_type = 'SPLIT'" in sql, sql
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        migrations = len(list((ROOT / "server" / "migrations" / "sqlite").glob("*.sql")))
        assert conn.execute("PRAGMA user_version").fetchone() == (migrations,)
        insert = "INSERT INTO events (id, record_id, seq, event_type, payload, created_at) VALUES (?, ?, 9, ?, NULL, '2024-02-01T00:00:00Z')"
        plan = [row[1] for row in conn.execute("EXPLAIN " + insert, ("x", ids["plain"], "SOLD"))]
        assert "OpenEphemeral" not in plan, plan
        # 4 CREATED of old_database, then SPLIT + 2 CREATED + RETIRED.
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (len(ids) + 4,)


def test_a_partial_action_reaches_its_own_remainder_when_another_block_holds_its_last_credit(backend: Backend, tmp_path: Path) -> None:
    """An older server split CDM blocks into children of one credit, which
    are no blocks (two equal unit serials name no range; SPEC §6 now refuses
    such a split as not_divisible), so it left their credit out of the index
    and another block could be registered over it. A partial action
    addressed to the split block must still act on its own remainder, not on
    that other block. The state is made by removing the remainder's entry
    from the index, as that server would have left it."""
    unit = "KR-5-123-1-1-0-{}-7"
    url = backend.new_url(tmp_path)
    server = Server(url, tmp_path).start()
    try:
        def cdm(first: int, last: int, project: str) -> dict[str, Any]:
            return {"project_name": project, "registry": "cdm", "vintage": 2022, "quantity": last - first + 1,
                    "serial_number": f"{unit.format(first)} - {unit.format(last)}"}

        a = server.post("/records", cdm(1001, 1010, "A"))
        assert a.status == 201 and a.json["block"] is not None, a.raw
        # One credit is no CDM block: the split is refused, nothing written.
        assert_problem(server.post(f"/records/{a.json['id']}/retire", {"quantity": 9}), 422, "not_divisible")
        split = server.post(f"/records/{a.json['id']}/retire", {"quantity": 8})
        assert split.status == 200, split.raw
        back = split.json["split"]["back"]
        assert back["record"]["serial_number"] == f"{unit.format(1009)} - {unit.format(1010)}".lower()
        backend.execute(url, f"DELETE FROM live_blocks WHERE record_id = '{back['id']}'")
        b = server.post("/records", cdm(1010, 1012, "B"))
        assert b.status == 201, b.raw
        # Addressed to A: its remainder (2 credits) is retired whole; B is untouched.
        r = server.post(f"/records/{a.json['id']}/retire", {"quantity": 2})
        assert r.status == 200 and r.json["record_id"] == back["id"] and "split" not in r.json, r.raw
        got = server.get(f"/records/{b.json['id']}").json
        assert got["status"] == "ACTIVE" and got["children"] == [], got
    finally:
        assert server.stop() == 0

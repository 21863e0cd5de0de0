"""A block retired a credit at a time (SPEC §6): its tree is as deep as it
has credits. The answers that hold a lineage (`GET /records/{id}/lineage`,
the certificate of SPEC §7) have a size limit, 10,000 records (README), and
past it the answer is a 422 `lineage_too_large` that says what to do
instead, not a 500; a partial action addressed to the registered block still
acts on its remainder, without walking the chain.

The chain is written straight into a SQLite database by the pure-Python
reference (`splits_v1`), as the server would have written it: 10,000
partial retires over HTTP would take minutes on a debug build."""

from __future__ import annotations

import json
import sqlite3
import sys
import uuid
from pathlib import Path

from conftest import ROOT, Backend, Server, assert_problem

sys.path.insert(0, str(ROOT / "tests" / "reference"))
import ids_v1  # noqa: E402
import lifecycle_v1  # noqa: E402
import splits_v1  # noqa: E402

TAIL = "-vcs-vcu-1310-ver-cn-13-3005-01012022-31102022-0"
AT = "2024-01-01T00:00:00Z"


def sortable(n: int) -> int:
    """A credit number as SQLite stores it (src/store/blocks.rs: top bit flipped)."""
    return n - 2**63


def split_chain(path: str, splits: int) -> list[str]:
    """Registers a block of `splits + 1` credits and retires one credit of
    its remainder `splits` times, each split as the reference derives it;
    returns the ids of the registered block and of each remainder, in order."""
    record = {"project_name": "deep", "registry": "verra", "vintage": 2022,
              "quantity": f"{splits + 1}.0000", "serial_number": f"19390-1-{splits + 1}" + TAIL}
    root = ids_v1.record_id(record)
    created, state = splits_v1._event(None, root, "CREATED", None, AT)
    records = [(root, record)]
    events = [created]
    leaves = []
    chain = [root]
    for _ in range(splits):
        split = splits_v1.act(record, state, "RETIRED", {"quantity": 1}, AT)["split"]
        events.append(split["parent"])
        for child in (split["front"], split["back"]):
            records.append((child["id"], child["record"]))
            events.extend(child["events"])
        leaves.append(split["front"])
        back = split["back"]
        record, state = back["record"], lifecycle_v1.apply(None, back["events"][0])
        chain.append(back["id"])
    leaves.append({"id": chain[-1], "record": record})
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO records (id, project_name, registry, vintage, quantity, serial_number, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(rid, r["project_name"], r["registry"], r["vintage"], r["quantity"], r["serial_number"], AT)
             for rid, r in records],
        )
        conn.executemany(
            "INSERT INTO events (id, record_id, seq, event_type, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [(str(uuid.uuid4()), e["record_id"], e["seq"], e["event_type"],
              None if e["payload"] is None else json.dumps(e["payload"]), e["created_at"]) for e in events],
        )
        # The index of live blocks: the leaves.
        rows = []
        for leaf in leaves:
            first, last = (int(n) for n in leaf["record"]["serial_number"].split("-")[1:3])
            rows.append((leaf["id"], "verra", "19390-", sortable(first), sortable(last)))
        conn.executemany("INSERT INTO live_blocks (record_id, scheme, prefix, first, last) VALUES (?, ?, ?, ?, ?)", rows)
    return chain


def test_a_lineage_too_large_to_answer_is_refused_by_name(tmp_path: Path) -> None:
    sqlite = Backend("sqlite")
    url = sqlite.new_url(tmp_path)
    assert Server(url, tmp_path).start().stop() == 0
    chain = split_chain(url.removeprefix("sqlite:///"), 10_000)
    server = Server(url, tmp_path).start()
    try:
        # The deepest remainder has 10,000 ancestors: with it, 10,001 records.
        deepest = chain[-1]
        body = assert_problem(server.get(f"/records/{deepest}/certificate"), 422, "lineage_too_large")
        assert deepest in body["detail"] and "10000" in body["detail"], body
        assert "/events/{id}/proof" in body["help"], body
        # Every record's lineage holds the whole tree: 20,001 records.
        for rid in (chain[0], chain[5_000], deepest):
            body = assert_problem(server.get(f"/records/{rid}/lineage"), 422, "lineage_too_large")
            assert rid in body["detail"] and "whole tree" in body["detail"], body
        # The records themselves read as usual, and a retire of 1 credit
        # addressed to the registered block acts on the deepest remainder,
        # which holds just that one.
        assert server.get(f"/records/{chain[0]}").json["status"] == "SPLIT"
        r = server.post(f"/records/{chain[0]}/retire", {"quantity": 1})
        assert r.status == 200 and r.json["record_id"] == deepest and "split" not in r.json, r.raw
    finally:
        assert server.stop() == 0

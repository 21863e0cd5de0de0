"""Concurrent writers: one final event, no event after it, stable pagination."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

from conftest import Response, Server, new_record


T = TypeVar("T")


def all_at_once(n: int, call: Callable[[int], T]) -> list[T]:
    """Runs `call(i)` for i < n on n threads released together."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T:
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def test_64_simultaneous_retires_give_one_200(server: Server) -> None:
    rid = server.post("/records", new_record()).json["id"]
    results = all_at_once(64, lambda i: server.post(f"/records/{rid}/retire", {"reason": f"client {i}"}))
    statuses = sorted(r.status for r in results)
    assert statuses == [200] + [409] * 63, statuses
    assert all(r.json["code"] == "already_final" for r in results if r.status == 409)
    events = server.get(f"/records/{rid}/events").json
    assert [e["event_type"] for e in events] == ["CREATED", "RETIRED"]


def test_sells_racing_a_retire_never_follow_it(server: Server) -> None:
    for _ in range(5):
        rid = server.post("/records", new_record()).json["id"]

        def call(i: int) -> Response:
            if i == 20:
                return server.post(f"/records/{rid}/retire")
            return server.post(f"/records/{rid}/sell", {"buyer": f"buyer {i}"})

        results = all_at_once(40, call)
        assert all(r.status in (200, 409) for r in results), [r.status for r in results]
        assert results[20].status == 200
        events = server.get(f"/records/{rid}/events").json
        kinds = [e["event_type"] for e in events]
        assert kinds[-1] == "RETIRED" and kinds.count("RETIRED") == 1, kinds
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        ok_sells = sum(1 for i, r in enumerate(results) if i != 20 and r.status == 200)
        assert kinds.count("SOLD") == ok_sells


def test_simultaneous_creates_of_one_record(server: Server) -> None:
    record = new_record()
    results = all_at_once(32, lambda i: server.post("/records", record))
    statuses = sorted(r.status for r in results)
    assert statuses == [200] * 31 + [201], statuses
    assert len({r.json["id"] for r in results}) == 1
    assert len(server.get(f"/records/{results[0].json['id']}/events").json) == 1


def test_paging_while_records_are_added_has_no_duplicates_or_gaps(fresh_server: Server) -> None:
    s = fresh_server
    first = [s.post("/records", new_record()).json["id"] for _ in range(30)]
    stop = threading.Event()
    added: list[str] = []

    def writer() -> None:
        conn = s.connection()
        while not stop.is_set():
            added.append(s.post("/records", new_record(), conn=conn).json["id"])
        conn.close()

    t = threading.Thread(target=writer)
    t.start()
    seen: list[str] = []
    cursor = None
    try:
        for _ in range(200):
            r = s.get("/records?limit=7" + (f"&cursor={cursor}" if cursor else ""))
            assert r.status == 200
            seen += [i["id"] for i in r.json["items"]]
            cursor = r.json["next_cursor"]
            if cursor is None:
                break
    finally:
        stop.set()
        t.join()
    assert len(seen) == len(set(seen)), "a record was listed twice"
    # Everything stored before paging began is listed, in order, and what was
    # added meanwhile follows in the order it was stored.
    assert seen[:30] == first
    assert seen[30:] == added[: len(seen) - 30]

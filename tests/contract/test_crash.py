"""Durability: what the server acknowledged survives kill -9 and SIGTERM."""

from __future__ import annotations

import http.client
import signal
import sqlite3
import threading
import time
from pathlib import Path

from conftest import Server, new_record, sqlite_url


def load_until_stopped(server: Server, stop: threading.Event, acked: list[str], threads: int = 16) -> list[threading.Thread]:
    lock = threading.Lock()

    def client() -> None:
        conn = server.connection(timeout=10)
        while not stop.is_set():
            try:
                r = server.post("/records", new_record(), conn=conn)
            except (OSError, http.client.HTTPException):  # the server died mid-request
                return
            if r.status == 201:
                with lock:
                    acked.append(r.json["id"])

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    return workers


def check_survivors(db: Path, workdir: Path, acked: list[str]) -> None:
    with sqlite3.connect(db) as db_conn:
        assert db_conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    s = Server(sqlite_url(db), workdir).start()
    try:
        conn = s.connection()
        missing = [rid for rid in acked if s.get(f"/records/{rid}", conn=conn).status != 200]
        assert not missing, f"{len(missing)} of {len(acked)} acknowledged creates were lost"
    finally:
        s.stop()


def test_kill_9_under_load_loses_no_acknowledged_create(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    for _round in range(2):
        s = Server(sqlite_url(db), tmp_path).start()
        stop = threading.Event()
        acked: list[str] = []
        workers = load_until_stopped(s, stop, acked)
        time.sleep(1.5)
        s.stop(signal.SIGKILL)
        stop.set()
        for w in workers:
            w.join()
        assert len(acked) > 50, "the load did not get going"
        check_survivors(db, tmp_path, acked)


def test_sigterm_under_load_finishes_in_flight_requests(tmp_path: Path) -> None:
    db = tmp_path / "term.db"
    s = Server(sqlite_url(db), tmp_path).start()
    stop = threading.Event()
    acked: list[str] = []
    workers = load_until_stopped(s, stop, acked)
    time.sleep(1.0)
    assert s.stop(signal.SIGTERM) == 0
    stop.set()
    for w in workers:
        w.join()
    assert len(acked) > 50
    check_survivors(db, tmp_path, acked)

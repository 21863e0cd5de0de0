"""Durability: what the server acknowledged survives kill -9 and SIGTERM."""

from __future__ import annotations

import http.client
import signal
import threading
import time
from pathlib import Path

from conftest import Backend, Server, new_record


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


def check_survivors(backend: Backend, url: str, workdir: Path, acked: list[str]) -> None:
    if backend.name == "sqlite":
        assert backend.execute(url, "PRAGMA integrity_check") == "ok"
    s = Server(url, workdir).start()
    try:
        conn = s.connection()
        missing = [rid for rid in acked if s.get(f"/records/{rid}", conn=conn).status != 200]
        assert not missing, f"{len(missing)} of {len(acked)} acknowledged creates were lost"
    finally:
        s.stop()


def test_kill_9_under_load_loses_no_acknowledged_create(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    for _round in range(2):
        s = Server(url, tmp_path).start()
        stop = threading.Event()
        acked: list[str] = []
        workers = load_until_stopped(s, stop, acked)
        time.sleep(1.5)
        s.stop(signal.SIGKILL)
        stop.set()
        for w in workers:
            w.join()
        assert len(acked) > 50, "the load did not get going"
        check_survivors(backend, url, tmp_path, acked)


def test_sigterm_under_load_finishes_in_flight_requests(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    s = Server(url, tmp_path).start()
    stop = threading.Event()
    acked: list[str] = []
    workers = load_until_stopped(s, stop, acked)
    time.sleep(1.0)
    assert s.stop(signal.SIGTERM) == 0
    stop.set()
    for w in workers:
        w.join()
    assert len(acked) > 50
    check_survivors(backend, url, tmp_path, acked)

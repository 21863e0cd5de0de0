"""Limits (server/README.md, "Limits"): rate limits per API key and per
client address, and slow and huge clients (header and body timeouts, the
head size cap, the connection cap).

Timing bounds are generous: a check is "cut off within a few times the
timeout", never "answered within so many milliseconds".
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import SERVER_BIN, Response, Server, assert_problem, new_record
from test_access import new_key

# The bucket refills one request every 20 minutes: nothing refills during a test.
SLOW_RATE = {"RATE_LIMIT": "3/h", "RATE_BURST": "5"}
BURST = 5


def restart(server: Server, **env: str) -> Server:
    """The fixture's server, started again with `env` added."""
    server.stop()
    server.env.update(env)
    return server.start()


def get_from(server: Server, path: str, source: str, headers: dict[str, str] | None = None) -> Response:
    """GET from the local address `source` (any of 127.0.0.0/8)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30, source_address=(source, 0))
    try:
        return server.get(path, headers=headers, conn=conn)
    finally:
        conn.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_limited(r: Response) -> int:
    """`r` is a 429 `rate_limited` with its Retry-After and RateLimit fields; the wait."""
    assert_problem(r, 429, "rate_limited")
    retry_after = int(r.headers["retry-after"])
    assert retry_after >= 1
    assert r.headers["ratelimit-policy"] == '"default";q=3;w=3600'
    # The effective window is the wait: Retry-After is not earlier than its end.
    assert r.headers["ratelimit"] == f'"default";r=0;t={retry_after}'
    return retry_after


def with_keys(server: Server, *names: str) -> dict[str, str]:
    """Gives the server's database a key per name (every scope); their tokens."""
    return {name: new_key(server.database_url, server.workdir, name, "admin") for name in names}


def test_a_burst_over_the_limit_is_refused_and_other_clients_are_not(fresh_server: Server) -> None:
    tokens = with_keys(fresh_server, "key-a", "key-b")
    s = restart(fresh_server, **SLOW_RATE)
    a, b = tokens["key-a"], tokens["key-b"]
    for left in range(BURST - 1, -1, -1):
        r = s.get("/records", headers=bearer(a))
        assert r.status == 200, r.raw
        assert r.headers["ratelimit-policy"] == '"default";q=3;w=3600'
        remaining = r.headers["ratelimit"].split(";")
        assert remaining[:2] == ['"default"', f"r={left}"], r.headers["ratelimit"]
    retry_after = assert_limited(s.get("/records", headers=bearer(a)))
    # 3 an hour: the next request is 20 minutes away.
    assert 60 <= retry_after <= 1200
    # Writes count too, and a 429 never reaches the handler.
    assert_limited(s.post("/records", new_record(), headers=bearer(a)))
    # The scheme is read in any case: the same key.
    assert_limited(s.get("/records", headers={"Authorization": f"bearer {a}"}))
    # Another key, and a client without one, have their own buckets.
    r = s.get("/records", headers=bearer(b))
    assert r.status == 200 and r.headers["ratelimit"].startswith(f'"default";r={BURST - 1};')
    for _ in range(BURST):
        assert s.get("/records").status == 200
    assert_limited(s.get("/records"))
    # Another address is another client.
    r = get_from(s, "/records", "127.0.0.2")
    assert r.status == 200 and r.headers["ratelimit"].startswith(f'"default";r={BURST - 1};')
    # /health is never limited, and says nothing of limits.
    for _ in range(3):
        r = s.get("/health", headers=bearer(a))
        assert r.status == 200 and "ratelimit" not in r.headers
    # A create by a key with requests left works as usual.
    r = s.post("/records", new_record(), headers=bearer(b))
    assert r.status == 201, r.raw
    assert s.stop() == 0


def test_made_up_tokens_buy_no_bucket(fresh_server: Server) -> None:
    """The limiter counts the key authentication found: a made-up token is
    refused (401) and counts against its address, as a request without a
    key does, never against the real key's bucket. (Refusals were not
    counted at all: a new made-up token each time was never limited.)"""
    s = restart(fresh_server, API_TOKEN="the-right-token", **SLOW_RATE)
    for n in range(BURST):
        r = s.post("/records", new_record(), headers=bearer(f"made-up-{n}"))
        assert_problem(r, 401, "unauthorized")
        assert r.headers["ratelimit"].startswith(f'"default";r={BURST - 1 - n};'), r.headers
    for n in range(3):
        assert_limited(s.post("/records", new_record(), headers=bearer(f"made-up-again-{n}")))
    # The address's bucket is the one a request without a key uses.
    assert_limited(s.get("/records"))
    r = s.post("/records", new_record(), headers=bearer("the-right-token"))
    assert r.status == 201, r.raw
    assert r.headers["ratelimit"].startswith(f'"default";r={BURST - 1};')
    # Another address is another client.
    r = get_from(s, "/records", "127.0.0.2", headers=bearer("made-up-elsewhere"))
    assert_problem(r, 401, "unauthorized")


def test_a_key_refused_for_a_scope_counts_against_itself(fresh_server: Server) -> None:
    """A known key that lacks the scope (403) uses its own bucket, not its
    address's: other clients at the address are not held back by it."""
    reader = new_key(fresh_server.database_url, fresh_server.workdir, "reader", "read")
    other = with_keys(fresh_server, "other")["other"]
    s = restart(fresh_server, **SLOW_RATE)
    for left in range(BURST - 1, -1, -1):
        r = s.post("/records", new_record(), headers=bearer(reader))
        assert_problem(r, 403, "missing_scope")
        assert r.headers["ratelimit"].startswith(f'"default";r={left};'), r.headers
    assert_limited(s.post("/records", new_record(), headers=bearer(reader)))
    assert_limited(s.get("/records", headers=bearer(reader)))
    # The address and another key still have their whole burst.
    r = s.get("/records")
    assert r.status == 200 and r.headers["ratelimit"].startswith(f'"default";r={BURST - 1};'), r.headers
    r = s.get("/records", headers=bearer(other))
    assert r.status == 200 and r.headers["ratelimit"].startswith(f'"default";r={BURST - 1};'), r.headers


def test_the_bucket_refills(fresh_server: Server) -> None:
    s = restart(fresh_server, RATE_LIMIT="1/s", RATE_BURST="2")
    assert s.get("/records").status == 200
    assert s.get("/records").status == 200
    r = s.get("/records")
    assert_problem(r, 429, "rate_limited")
    assert r.headers["retry-after"] == "1"
    assert r.headers["ratelimit-policy"] == '"default";q=1;w=1'
    time.sleep(1.2)
    assert s.get("/records").status == 200


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--rate-limit", "100"], ["RATE_LIMIT (--rate-limit)", "N/s, N/m or N/h"]),
        (["--rate-limit", "100/d"], ["RATE_LIMIT (--rate-limit)"]),
        (["--rate-limit", "0/s"], ["RATE_LIMIT (--rate-limit)"]),
        (["--rate-limit", "100/s", "--rate-burst", "0"], ["RATE_BURST (--rate-burst)"]),
        (["--rate-burst", "10"], ["RATE_BURST (--rate-burst)", "needs a rate"]),
        (["--body-timeout-ms", "0"], ["--body-timeout-ms"]),
        (["--header-timeout-ms", "x"], ["--header-timeout-ms"]),
        (["--max-connections", "0"], ["--max-connections"]),
        (["--max-header-bytes", "100"], ["--max-header-bytes"]),
    ],
)
def test_bad_limits_are_refused_at_start(tmp_path: Path, flags: list[str], words: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "API_TOKEN", "PORT", "HOST")}
    p = subprocess.run([str(SERVER_BIN), *flags], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert p.returncode == 2, (p.returncode, p.stderr)
    line = next(line for line in p.stderr.splitlines() if line.startswith("error"))
    for word in words:
        assert word in line, (word, line)
    assert not (tmp_path / "carbon_credits.db").exists(), "nothing is opened"


def test_the_environment_sets_the_limits_and_the_log_shows_them(fresh_server: Server) -> None:
    s = restart(
        fresh_server,
        RATE_LIMIT="50/m",
        RATE_BURST="70",
        BODY_TIMEOUT_MS="5000",
        HEADER_TIMEOUT_MS="6000",
        MAX_CONNECTIONS="64",
        MAX_HEADER_BYTES="8192",
    )
    line = next(text for text in s.log_text().splitlines() if "configuration:" in text)
    for flag in (
        "--rate-limit 50/m",
        "--rate-burst 70",
        "--header-timeout-ms 6000",
        "--body-timeout-ms 5000",
        "--max-connections 64",
        "--max-header-bytes 8192",
    ):
        assert flag in line, (flag, line)
    assert s.get("/records").headers["ratelimit-policy"] == '"default";q=50;w=60'


# -- slow and huge clients ----------------------------------------------------


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Reads one response from a connection the server then closes."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return status, headers, body


def closed_by_server(sock: socket.socket) -> bool:
    """True when the server closed the connection (without an answer)."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def test_a_trickled_body_is_cut_off_at_the_timeout_while_others_are_served(fresh_server: Server) -> None:
    s = restart(fresh_server, BODY_TIMEOUT_MS="2000")
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    sock.sendall(
        b"POST /records HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 300\r\n\r\n"
    )
    started = time.monotonic()
    stop = threading.Event()

    def trickle() -> None:
        # One byte a second, until the server stops listening (or 60 s).
        for _ in range(60):
            if stop.wait(1.0):
                return
            try:
                sock.sendall(b" ")
            except OSError:
                return

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    try:
        # Meanwhile, other clients are served.
        assert s.get("/health").status == 200
        r = s.post("/records", new_record())
        assert r.status == 201, r.raw
        status, headers, body = read_response(sock)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        trickler.join()
        sock.close()
    assert status == 408, body
    assert headers["content-type"].startswith("application/problem+json")
    assert headers.get("connection") == "close"
    assert b'"code":"body_timeout"' in body, body
    # Cut off at the timeout: not before it, and well before the body could
    # have been sent at this pace (300 s).
    assert 1.5 <= elapsed <= 20, elapsed
    # The server goes on, and stops cleanly.
    assert s.get("/health").status == 200
    assert s.stop() == 0


def test_shutdown_waits_for_a_trickled_body_no_longer_than_the_timeout(fresh_server: Server) -> None:
    s = restart(fresh_server, BODY_TIMEOUT_MS="3000")
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    sock.sendall(b"POST /records HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{")
    time.sleep(0.5)
    assert s.process is not None
    process = s.process
    started = time.monotonic()
    process.send_signal(15)
    code = process.wait(timeout=30)
    elapsed = time.monotonic() - started
    s.process = None
    status, _, body = read_response(sock)
    sock.close()
    assert code == 0
    assert status == 408, body
    assert elapsed <= 20, elapsed


def read_one_response(sock: socket.socket) -> int:
    """Reads one response (with a Content-Length) off a kept-alive connection; its status."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, body
        body += chunk
    return int(lines[0].split()[1])


def test_a_slow_or_silent_head_is_cut_off(fresh_server: Server) -> None:
    s = restart(fresh_server, HEADER_TIMEOUT_MS="2000")
    # A kept-alive connection, idle after its request: closed after the
    # header timeout too.
    idle = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    idle.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
    assert read_one_response(idle) == 200
    silent = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    slow = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    slow.sendall(b"GET /records HTTP/1.1\r\nHost: test\r\n")
    started = time.monotonic()
    stop = threading.Event()

    def trickle() -> None:
        for n in range(60):
            if stop.wait(0.5):
                return
            try:
                slow.sendall(f"X-Slow-{n}: 1\r\n".encode())
            except OSError:
                return

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    try:
        assert s.get("/records").status == 200
        assert closed_by_server(slow)
        assert closed_by_server(silent)
        assert closed_by_server(idle)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        trickler.join()
        for sock in (slow, silent, idle):
            sock.close()
    assert 1.5 <= elapsed <= 20, elapsed


def send_head(server: Server, extra: bytes) -> tuple[int, bytes]:
    """Sends a GET with `extra` header bytes; the status and body of the answer."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        sock.sendall(b"GET /records HTTP/1.1\r\nHost: test\r\nConnection: close\r\n" + extra + b"\r\n")
        status, _, body = read_response(sock)
        return status, body
    finally:
        sock.close()


def test_an_oversized_head_is_refused(fresh_server: Server) -> None:
    # The default cap: 16 KiB.
    s = fresh_server
    assert send_head(s, b"X-Big: " + b"a" * 15_000 + b"\r\n")[0] == 200
    assert send_head(s, b"X-Big: " + b"a" * 17_000 + b"\r\n")[0] == 431
    many = b"".join(f"X-Part-{n}: {'b' * 90}\r\n".encode() for n in range(180))
    assert send_head(s, many)[0] == 431
    # A cap of its own.
    s = restart(fresh_server, MAX_HEADER_BYTES="4096")
    assert send_head(s, b"X-Big: " + b"a" * 3_000 + b"\r\n")[0] == 200
    assert send_head(s, b"X-Big: " + b"a" * 5_000 + b"\r\n")[0] == 431
    assert s.get("/health").status == 200


def test_connections_over_the_cap_wait_for_a_free_one(fresh_server: Server) -> None:
    s = restart(fresh_server, MAX_CONNECTIONS="2", HEADER_TIMEOUT_MS="8000")
    first = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    second = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    time.sleep(0.5)
    waiting = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    try:
        waiting.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        # Two connections are open: the third connects (the kernel queues
        # it) but is not read.
        waiting.settimeout(1.0)
        with pytest.raises(socket.timeout):
            waiting.recv(1)
        # One closes: the third is served.
        first.close()
        waiting.settimeout(30)
        status, _, _ = read_response(waiting)
        assert status == 200
        # An idle connection holds its place no longer than the header
        # timeout.
        assert closed_by_server(second)
    finally:
        for sock in (first, second, waiting):
            sock.close()
    assert s.get("/health").status == 200

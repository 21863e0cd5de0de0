"""Signed webhooks (server/README.md, "Webhooks"): the event feed POSTed to
registered endpoints, in feed order, at least once, signed per the Standard
Webhooks specification; a durable cursor per endpoint, a delivery log,
replay, and the CLI's checks. Every test runs on SQLite and on PostgreSQL.

A loopback receiver (http.server in a thread) checks each delivery's
signature with the README's own Python snippet, which is read from the
README and run here, so the documented check is the tested one.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

from conftest import ROOT, Backend, Server, new_record
from pgcluster import PostgresCluster
from test_config import run_cli

README = ROOT / "server" / "README.md"


def readme_verifier() -> Callable[..., bool]:
    """`verify_webhook` from the README's Webhooks section, executed as written."""
    text = README.read_text()
    section = text.split("## Webhooks", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None, "the README's Webhooks section has no Python block"
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), str(README), "exec"), namespace)  # noqa: S102 - our own README
    verify: Callable[..., bool] = namespace["verify_webhook"]
    return verify


verify_webhook = readme_verifier()

# Fast retries, so the tests do not wait for the production backoff.
FAST = {"WEBHOOK_RETRY_BASE_MS": "50", "WEBHOOK_RETRY_CAP_MS": "200"}


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that checks signatures and records deliveries.

    Answers 401 to a bad signature, 500 while `failures_left` > 0 or
    `failing` is set, 200 otherwise. `accepted` holds the bodies it answered
    200 to, in arrival order; `seen` every delivery with its answer.
    """

    def __init__(self, failures_left: int = 0, delay: float = 0) -> None:
        self.secret: Optional[str] = None
        self.delay = delay
        self.in_flight = 0
        self.most_in_flight = 0
        self.failures_left = failures_left
        self.failing = False
        self.lock = threading.Lock()
        self.flight = threading.Lock()
        self.accepted: list[dict[str, Any]] = []
        self.seen: list[tuple[dict[str, str], bytes, int]] = []
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.flight:
                    receiver.in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
                time.sleep(receiver.delay)
                status = receiver.answer(headers, body)
                with receiver.flight:
                    receiver.in_flight -= 1
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            assert self.secret is not None, "a delivery came before the secret was known"
            if not verify_webhook(self.secret, headers, body):
                self.bad_signatures += 1
                status = 401
            elif self.failing or self.failures_left > 0:
                self.failures_left = max(0, self.failures_left - 1)
                status = 500
            else:
                status = 200
                self.accepted.append(json.loads(body))
            self.seen.append((headers, body, status))
            return status

    def first_arrivals(self) -> list[str]:
        """Event ids in the order they first arrived (deduplicated by webhook-id)."""
        with self.lock:
            ids: list[str] = []
            for body in self.accepted:
                if body["data"]["id"] not in ids:
                    ids.append(body["data"]["id"])
            return ids

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hook_server(backend: Backend, tmp_path: Path) -> Iterator[Server]:
    """A server of its own with fast webhook retries."""
    s = Server(backend.new_url(tmp_path), tmp_path, env=dict(FAST)).start()
    yield s
    if s.process is not None:
        assert s.stop() == 0, "the server did not stop cleanly on SIGTERM"


def cli(server: Server, *args: str) -> Any:
    return run_cli("webhooks", *args, env={"DATABASE_URL": server.database_url})


def add(server: Server, receiver: Receiver, *extra: str) -> str:
    p = cli(server, "add", receiver.url, *extra)
    assert p.returncode == 0, p.stderr
    secrets: list[str] = re.findall(r"whsec_[A-Za-z0-9+/=]+", p.stdout)
    assert len(secrets) == 1, p.stdout
    receiver.secret = secrets[0]
    return secrets[0]


def feed(server: Server) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after: Optional[str] = None
    while True:
        r = server.get("/events?limit=1000" + (f"&after={after}" if after else ""))
        assert r.status == 200, r.raw
        events += r.json["items"]
        if not r.json["items"]:
            return events
        after = r.json["next_after"]


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# Events one make_history() stores: 3 + sell + retire + cancel + a block,
# whose partial retirement is SPLIT, two CREATED children and RETIRED.
N = 11


def make_history(server: Server) -> None:
    """Events of every type: creates, a sale, a retirement, a cancellation,
    and a partial retirement of a block (SPLIT and its children)."""
    ids = []
    for _ in range(3):
        r = server.post("/records", new_record())
        assert r.status == 201, r.raw
        ids.append(r.json["id"])
    assert server.post(f"/records/{ids[0]}/sell", {"buyer": "Acme"}).status == 200
    assert server.post(f"/records/{ids[0]}/retire", {"beneficiary": "Acme"}).status == 200
    assert server.post(f"/records/{ids[1]}/cancel").status == 200
    block = new_record()
    block.update(serial_number=f"WH-{time.monotonic_ns()}:1-100", quantity=100)
    r = server.post("/records", block)
    assert r.status == 201, r.raw
    r = server.post(f"/records/{r.json['id']}/retire", {"quantity": 10})
    assert r.status == 200, r.raw


def settled_feed(server: Server, count: int) -> list[dict[str, Any]]:
    """The feed once it holds `count` events (PostgreSQL hands out an event
    only once every older transaction has ended)."""
    wait_for(f"{count} events in the feed", lambda: len(feed(server)) >= count, 30)
    return feed(server)


def test_every_event_arrives_signed_in_order_despite_failures(hook_server: Server, receiver: Receiver) -> None:
    receiver.failures_left = 3
    add(hook_server, receiver)  # the database is empty: every event is after this
    make_history(hook_server)
    events = settled_feed(hook_server, N)
    assert {e["event_type"] for e in events} == {"CREATED", "SOLD", "RETIRED", "CANCELLED", "SPLIT"}
    ids = [e["id"] for e in events]
    wait_for("every event delivered", lambda: receiver.first_arrivals() == ids or len(receiver.first_arrivals()) > len(ids))
    assert receiver.first_arrivals() == ids
    assert receiver.bad_signatures == 0
    # The body: type, the event's time, the event as GET /events gives it.
    by_id: dict[str, dict[str, Any]] = {}
    for body in receiver.accepted:
        by_id.setdefault(body["data"]["id"], body)
    for e in events:
        body = by_id[e["id"]]
        assert body["data"] == e
        assert body["type"] == "record." + e["event_type"].lower()
        assert body["timestamp"] == e["created_at"]
    # The first three attempts (all of the first event) got 500, then 200s.
    statuses = [(h["webhook-id"], status) for h, _, status in receiver.seen]
    assert [s for _, s in statuses[:3]] == [500, 500, 500]
    assert {i for i, _ in statuses[:4]} == {ids[0]}, "a failed event was overtaken"
    # webhook-id is the event id, stable across retries.
    assert all(h["webhook-id"] == json.loads(b)["data"]["id"] for h, b, _ in receiver.seen)

    # The delivery log shows the 500s and the 200s.
    log = cli(hook_server, "deliveries", receiver.url)
    assert log.returncode == 0, log.stderr
    lines = log.stdout.splitlines()
    assert [line.split("\t")[3] for line in lines[:4]] == ["500", "500", "500", "200"]
    assert [line.split("\t")[2] for line in lines[:4]] == ["attempt=1", "attempt=2", "attempt=3", "attempt=4"]
    assert sum(line.endswith("\t200") for line in lines) == len(ids)
    assert all(line.split("\t")[1] == ids[0] for line in lines[:4])

    # A signature that does not match is refused by the README's check.
    headers, raw, _ = receiver.seen[-1]
    assert verify_webhook(receiver.secret, headers, raw)
    assert not verify_webhook(receiver.secret, headers, raw.replace(b"record.", b"recorc."))
    assert not verify_webhook(receiver.secret, {**headers, "webhook-id": ids[0] + "x"}, raw)
    assert not verify_webhook("whsec_" + "A" * 44, headers, raw)
    assert not verify_webhook(receiver.secret, {**headers, "webhook-timestamp": str(int(time.time()) - 3600)}, raw)
    before = receiver.bad_signatures
    c = http.client.HTTPConnection("127.0.0.1", receiver.httpd.server_address[1], timeout=5)
    forged = {k: v for k, v in headers.items() if k != "content-length"}
    c.request("POST", "/hook", body=raw + b" ", headers=forged)
    assert c.getresponse().status == 401
    c.close()
    assert receiver.bad_signatures == before + 1

    # Replay re-delivers every event after the one named, in order.
    n = len(receiver.accepted)
    p = cli(hook_server, "replay", receiver.url, "--after", ids[5])
    assert p.returncode == 0, p.stderr
    wait_for("the replay", lambda: len(receiver.accepted) >= n + len(ids) - 6)
    time.sleep(0.5)
    assert [b["data"]["id"] for b in receiver.accepted[n:]] == ids[6:]

    # The secret was shown once: list does not show it.
    listed = cli(hook_server, "list")
    assert listed.returncode == 0
    assert receiver.url in listed.stdout and "events=CREATED,SOLD,RETIRED,CANCELLED,SPLIT" in listed.stdout
    assert "whsec_" not in listed.stdout and receiver.secret not in listed.stdout
    assert f"last={ids[-1]}" in listed.stdout


def test_event_filter(hook_server: Server, receiver: Receiver) -> None:
    make_history(hook_server)  # before the endpoint: not delivered
    before = {e["id"] for e in settled_feed(hook_server, N)}
    add(hook_server, receiver, "--events", "RETIRED,sold")
    make_history(hook_server)
    events = [e for e in settled_feed(hook_server, 2 * N) if e["id"] not in before]
    wanted = [e["id"] for e in events if e["event_type"] in ("RETIRED", "SOLD")]
    assert len(wanted) == 3
    wait_for("the subscribed events", lambda: len(receiver.first_arrivals()) >= len(wanted))
    # Later events of other types move the cursor past the last one.
    wait_for("the cursor past the last event", lambda: f"last={events[-1]['id']}" in cli(hook_server, "list").stdout)
    assert receiver.first_arrivals() == wanted
    assert all(b["type"] in ("record.retired", "record.sold") for b in receiver.accepted)
    assert "events=RETIRED,SOLD" in cli(hook_server, "list").stdout
    # replay --from-start: the subscribed events of the whole feed, from before `add` too.
    everything = [e["id"] for e in feed(hook_server) if e["event_type"] in ("RETIRED", "SOLD")]
    n = len(receiver.accepted)
    assert cli(hook_server, "replay", receiver.url, "--from-start").returncode == 0
    wait_for("the replay from the start", lambda: len(receiver.accepted) >= n + len(everything))
    assert [b["data"]["id"] for b in receiver.accepted[n:]] == everything


def test_kill_9_mid_delivery_loses_nothing(backend: Backend, tmp_path: Path, receiver: Receiver) -> None:
    url = backend.new_url(tmp_path)
    s = Server(url, tmp_path, env=dict(FAST)).start()
    add(s, receiver)
    make_history(s)
    first = settled_feed(s, N)
    wait_for("a first delivery", lambda: len(receiver.first_arrivals()) >= 2)
    receiver.failing = True  # events pile up while the endpoint fails
    make_history(s)
    settled_feed(s, 2 * N)
    wait_for("failed attempts", lambda: sum(st == 500 for _, _, st in receiver.seen) >= 3)
    s.stop(signal.SIGKILL)
    delivered_before = receiver.first_arrivals()
    assert len(delivered_before) < 2 * N

    receiver.failing = False
    s = Server(url, tmp_path, env=dict(FAST)).start()
    try:
        make_history(s)
        events = settled_feed(s, 3 * N)
        ids = [e["id"] for e in events]
        assert ids[:N] == [e["id"] for e in first]
        wait_for("every event after the restart", lambda: len(receiver.first_arrivals()) >= len(ids))
        assert receiver.first_arrivals() == ids
        assert receiver.bad_signatures == 0
    finally:
        s.stop()


def test_cli_checks(hook_server: Server, receiver: Receiver) -> None:
    def refused(p: Any, *words: str) -> None:
        assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
        lines = [line for line in p.stderr.splitlines() if line.startswith("error")]
        assert len(lines) == 1, p.stderr
        assert "panicked" not in p.stderr
        for w in words:
            assert w in lines[0], (w, lines[0])

    refused(cli(hook_server, "add", "ftp://example.com/hook"), "ftp", "http")
    refused(cli(hook_server, "add", "example.com/hook"), "not a URL")
    refused(cli(hook_server, "add", "http://user:pw@example.com/"), "credentials")
    refused(cli(hook_server, "add", receiver.url, "--events", "RETIRED,RETIRE"), '"RETIRE"', "--events")
    refused(cli(hook_server, "add", receiver.url, "--events", "RETIRED,"), "--events")
    assert cli(hook_server, "list").stdout == "", "a refused add stored something"
    add(hook_server, receiver, "--events", "CREATED")
    refused(cli(hook_server, "add", receiver.url), "already registered")
    refused(cli(hook_server, "remove", "http://127.0.0.1:1/none"), "no webhook endpoint")
    refused(cli(hook_server, "deliveries", "http://127.0.0.1:1/none"), "no webhook endpoint")
    refused(cli(hook_server, "replay", receiver.url, "--after", "nope"), "--after")
    refused(cli(hook_server, "replay", receiver.url, "--after", "0190f0e2-7b7a-7cc4-9c55-4b1b0c6a4a10"), "no event")
    assert hook_server.post("/records", new_record()).status == 201
    wait_for("the CREATED event", lambda: len(receiver.first_arrivals()) == 1)
    p = cli(hook_server, "remove", receiver.url)
    assert p.returncode == 0, p.stderr
    assert cli(hook_server, "list").stdout == ""
    # A removed endpoint gets nothing more.
    time.sleep(1.5)
    assert hook_server.post("/records", new_record()).status == 201
    time.sleep(1.5)
    assert len(receiver.first_arrivals()) == 1


def test_several_processes_deliver_each_endpoint_once_at_a_time(postgres: PostgresCluster, tmp_path: Path) -> None:
    """PostgreSQL only (one server process per SQLite file): two servers on one
    database; one delivers the endpoint at a time (its advisory lock), and
    when it dies the other takes over."""
    receiver = Receiver(delay=0.02)
    url = postgres.create_database()
    servers = [Server(url, tmp_path, env=dict(FAST)).start()]
    try:
        add(servers[0], receiver)
        make_history(servers[0])
        settled_feed(servers[0], N)
        # The first process delivers, so it holds the endpoint's lock.
        wait_for("the first deliveries", lambda: len(receiver.first_arrivals()) >= N)
        servers.append(Server(url, tmp_path, env=dict(FAST)).start())
        for s in servers:
            make_history(s)
        ids = [e["id"] for e in settled_feed(servers[0], 3 * N)]
        wait_for("every event", lambda: len(receiver.first_arrivals()) >= len(ids))
        assert receiver.first_arrivals() == ids
        assert receiver.most_in_flight == 1, "two processes delivered the endpoint at once"
        # The lock holder dies: the other process takes over.
        servers[0].stop(signal.SIGKILL)
        make_history(servers[1])
        ids = [e["id"] for e in settled_feed(servers[1], 4 * N)]
        wait_for("every event after the kill", lambda: len(receiver.first_arrivals()) >= len(ids))
        assert receiver.first_arrivals() == ids
        assert receiver.most_in_flight == 1
        assert receiver.bad_signatures == 0
    finally:
        for s in servers:
            if s.process is not None:
                s.stop()
        receiver.close()


def test_an_unreachable_endpoint_is_retried_and_logged(hook_server: Server) -> None:
    dead = Receiver()
    dead.close()  # nothing listens on its port any more
    add(hook_server, dead)
    assert hook_server.post("/records", new_record()).status == 201

    def errors() -> list[str]:
        lines = cli(hook_server, "deliveries", dead.url).stdout.splitlines()
        return [line for line in lines if line.split("\t")[3].startswith("error: ")]

    wait_for("failed attempts in the log", lambda: len(errors()) >= 3)
    attempts = [line.split("\t")[2] for line in errors()]
    assert attempts[:3] == ["attempt=1", "attempt=2", "attempt=3"]
    assert "last=-" in cli(hook_server, "list").stdout, "the cursor moved without a 2xx"

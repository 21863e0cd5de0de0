"""Write safety and access (SPEC §8): Idempotency-Key, API keys with scopes,
and the `actor` of every event. Both backends; two processes on PostgreSQL."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest

from conftest import SERVER_BIN, Backend, Response, Server, assert_problem, new_record
from pgcluster import PostgresCluster
from test_concurrency import all_at_once
from test_log import certificate
from test_registry_import import FIXTURES


def keys_cli(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SERVER_BIN), "keys", *args],
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin", "RUST_LOG": "warn"},
        cwd=cwd, capture_output=True, text=True, timeout=60,
    )


def new_key(url: str, cwd: Path, name: str, scopes: str) -> str:
    r = keys_cli(url, cwd, "create", "--name", name, "--scope", scopes)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert token.startswith("ctk_") and len(token) == 47, token
    return token


def auth(token: str, key: Optional[str] = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


@pytest.fixture
def keyed(backend: Backend, tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """A server whose database has a key with every write scope."""
    url = backend.new_url(tmp_path)
    token = new_key(url, tmp_path, "desk", "create,trade,retire")
    s = Server(url, tmp_path).start()
    yield s, token
    if s.process is not None:
        s.stop()


# ---------------------------------------------------------------- Idempotency-Key


def test_32_concurrent_retries_of_one_sell_make_one_event(keyed: tuple[Server, str]) -> None:
    s, token = keyed
    rid = s.post("/records", new_record(), headers=auth(token)).json["id"]
    results = all_at_once(32, lambda i: s.post(f"/records/{rid}/sell", {"buyer": "Acme"}, headers=auth(token, "sell-1")))
    assert {r.status for r in results} == {200}, [r.raw[:200] for r in results if r.status != 200]
    assert len({r.raw for r in results}) == 1, "every answer is the same bytes"
    replayed = [r.headers.get("idempotent-replayed") for r in results]
    assert replayed.count(None) == 1 and replayed.count("true") == 31, replayed
    events = s.get(f"/records/{rid}/events").json
    assert [e["event_type"] for e in events] == ["CREATED", "SOLD"]
    assert results[0].json["id"] == events[1]["id"]


def test_same_key_other_body_is_422_and_key_is_per_api_key(keyed: tuple[Server, str], tmp_path: Path) -> None:
    s, token = keyed
    first = s.post("/records", new_record(), headers=auth(token, "create-1"))
    assert first.status == 201
    assert_problem(s.post("/records", new_record(), headers=auth(token, "create-1")), 422, "idempotency_key_reused")
    # Another path with the key is another request too.
    assert_problem(s.post(f"/records/{first.json['id']}/retire", None, headers=auth(token, "create-1")), 422, "idempotency_key_reused")
    # The same key from another API key is that key's own.
    other = new_key(s.database_url, tmp_path, "other-desk", "create")
    again = s.post("/records", new_record(), headers=auth(other, "create-1"))
    assert again.status == 201 and again.json["id"] != first.json["id"]


def test_a_replay_repeats_status_headers_and_body(keyed: tuple[Server, str]) -> None:
    s, token = keyed
    record = new_record()
    first = s.post("/records", record, headers=auth(token, "k-create"))
    second = s.post("/records", record, headers=auth(token, "k-create"))
    assert (first.status, second.status) == (201, 201)
    assert second.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert second.headers["location"] == first.headers["location"]
    assert second.raw == first.raw
    # Without the key, the same create is the usual 200 of an identical record.
    assert s.post("/records", record, headers=auth(token)).status == 200
    # A batch and a partial retirement replay too.
    batch = [new_record(), {"vintage": "x"}]
    b1 = s.post("/records/batch", batch, headers=auth(token, "k-batch"))
    b2 = s.post("/records/batch", batch, headers=auth(token, "k-batch"))
    assert b1.status == b2.status == 200 and b1.raw == b2.raw and b2.headers["idempotent-replayed"] == "true"


def test_an_expired_key_is_new_again_and_the_purge_leaves_records(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    token = new_key(url, tmp_path, "desk", "create,trade")
    s = Server(url, tmp_path).start()
    rid = s.post("/records", new_record(), headers=auth(token, "old")).json["id"]
    s.stop()
    pg = backend.name == "postgres"
    two_days_ago = "now() - interval '2 days'" if pg else "CAST(strftime('%s', 'now') AS INTEGER) - 172800"
    body = "'x'::bytea" if pg else "X'78'"
    backend.execute(url, f"UPDATE idempotency_keys SET created_at = {two_days_ago}")
    backend.execute(url, "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at, status, headers, body) "
                    f"VALUES ('desk', 'stale', 'f', {two_days_ago}, 200, '[]', {body})")
    s = Server(url, tmp_path).start()
    try:
        # The purge at start removed the expired answers, and nothing else.
        deadline = time.monotonic() + 10
        while backend.execute(url, "SELECT count(*) FROM idempotency_keys").strip() != "0":
            assert time.monotonic() < deadline, "the expired answers were not purged"
            time.sleep(0.1)
        assert s.get(f"/records/{rid}").status == 200
        # The old key takes another request now.
        r = s.post("/records", new_record(), headers=auth(token, "old"))
        assert r.status == 201 and r.json["id"] != rid
    finally:
        s.stop()


@pytest.mark.parametrize("value,why", [("k" * 256, "256 characters"), ("caf\u00e9", "printable ASCII"), ("", "empty"),
                                       ("tab\there", "printable ASCII"), (["k2", "k3"], "more than once")])
def test_a_bad_key_is_400_naming_the_header(keyed: tuple[Server, str], value: str | list[str], why: str) -> None:
    s, token = keyed
    c = s.connection()
    c.putrequest("POST", "/records")
    c.putheader("Authorization", f"Bearer {token}")
    c.putheader("Content-Type", "application/json")
    # A list: the header sent once per value (which key is meant is a guess).
    for each in value if isinstance(value, list) else [value]:
        c.putheader("Idempotency-Key", each.encode("utf-8"))
    body = json.dumps(new_record()).encode()
    c.putheader("Content-Length", str(len(body)))
    c.endheaders(body)
    raw = c.getresponse()
    r = Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, raw.read())
    problem = assert_problem(r, 400, "invalid_idempotency_key")
    assert "Idempotency-Key" in problem["detail"] and why in problem["detail"], problem
    assert s.get("/records?limit=5").json["items"] == [], "nothing was stored"


def test_a_repeat_while_the_first_runs_is_409(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    token = new_key(url, tmp_path, "desk", "create")
    s = Server(url, tmp_path, env={"IDEMPOTENCY_WAIT_MS": "200"}).start()
    try:
        body = json.dumps(new_record()).encode()
        slow = socket.create_connection(("127.0.0.1", s.port))
        slow.sendall(
            f"POST /records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: busy\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:5]
        )
        time.sleep(0.3)
        r = s.post("/records", json.loads(body), headers=auth(token, "busy"))
        problem = assert_problem(r, 409, "idempotency_key_in_use")
        assert r.headers.get("retry-after") == "1", r.headers
        slow.sendall(body[5:])
        assert b" 201 " in slow.recv(65536).split(b"\r\n", 1)[0] + b" "
        slow.close()
        # Now the repeat gets the first answer.
        again = s.post("/records", json.loads(body), headers=auth(token, "busy"))
        assert again.status == 201 and again.headers["idempotent-replayed"] == "true", problem
    finally:
        s.stop()


def test_kill_9_between_effect_and_answer_then_replay(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    token = new_key(url, tmp_path, "desk", "create,trade")
    s = Server(url, tmp_path).start()
    records = s.post("/records/batch", [new_record() for _ in range(300)], headers=auth(token)).json["items"]
    ids = [item["id"] for item in records]
    answered: dict[str, bytes] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def client(part: list[str]) -> None:
        conn = s.connection(timeout=10)
        for rid in part:
            if stop.is_set():
                return
            try:
                r = s.post(f"/records/{rid}/sell", {"buyer": "Acme"}, headers=auth(token, f"sell-{rid}"), conn=conn)
            except (OSError, http.client.HTTPException):
                return
            if r.status == 200:
                with lock:
                    answered[rid] = r.raw

    workers = [threading.Thread(target=client, args=(ids[i::8],)) for i in range(8)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 60
    while len(answered) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    s.stop(signal.SIGKILL)
    stop.set()
    for w in workers:
        w.join()
    s = Server(url, tmp_path).start()
    try:
        replays = 0
        for rid in ids:
            r = s.post(f"/records/{rid}/sell", {"buyer": "Acme"}, headers=auth(token, f"sell-{rid}"))
            assert r.status == 200, r.raw
            if rid in answered:
                assert r.raw == answered[rid] and r.headers["idempotent-replayed"] == "true"
            replays += r.headers.get("idempotent-replayed") == "true"
            sold = [e for e in s.get(f"/records/{rid}/events").json if e["event_type"] == "SOLD"]
            assert len(sold) == 1, (rid, sold)
        # Writes committed but never answered (killed in between) replay too.
        assert replays >= len(answered) > 0
    finally:
        s.stop()


def test_idempotent_sells_across_two_processes(postgres: PostgresCluster, tmp_path: Path) -> None:
    url = postgres.create_database()
    token = new_key(url, tmp_path, "desk", "create,trade")
    a, b = Server(url, tmp_path).start(), Server(url, tmp_path).start()
    try:
        for round_ in range(3):
            rid = a.post("/records", new_record(), headers=auth(token)).json["id"]
            results = all_at_once(32, lambda i: (a, b)[i % 2].post(f"/records/{rid}/sell", {"buyer": "Acme"}, headers=auth(token, f"x-{round_}")))
            assert {r.status for r in results} == {200}, [r.raw[:300] for r in results if r.status != 200]
            assert len({r.raw for r in results}) == 1
            events = a.get(f"/records/{rid}/events").json
            assert [e["event_type"] for e in events] == ["CREATED", "SOLD"]
    finally:
        a.stop()
        b.stop()


# ---------------------------------------------------------------- keys and scopes

# The README's table: the scope each endpoint needs (server/README.md, "Access").
SCOPE_OF = {
    "create": "create",
    "batch": "create",
    "import": "create",
    "sell": "trade",
    "retire": "retire",
    "cancel": "retire",
}


def call(s: Server, token: str, endpoint: str, rid: str) -> Response:
    h = auth(token)
    if endpoint == "create":
        return s.post("/records", new_record(), headers=h)
    if endpoint == "batch":
        return s.post("/records/batch", [new_record()], headers=h)
    if endpoint == "import":
        return s.request("POST", "/imports?from=records&filename=r.json", raw=json.dumps([new_record()]).encode(),
                         headers={**h, "Content-Type": "application/json"})
    if endpoint == "sell":
        return s.post(f"/records/{rid}/sell", {"buyer": "B"}, headers=h)
    return s.post(f"/records/{rid}/{endpoint}", None, headers=h)


def test_each_endpoint_with_each_scope(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    tokens = {scope: new_key(url, tmp_path, f"only-{scope}", scope) for scope in ("read", "create", "trade", "retire", "admin")}
    s = Server(url, tmp_path).start()
    try:
        for endpoint, needed in SCOPE_OF.items():
            for scope, token in tokens.items():
                rid = s.post("/records", new_record(), headers=auth(tokens["admin"])).json["id"]
                r = call(s, token, endpoint, rid)
                if scope in (needed, "admin"):
                    assert r.status in (200, 201), (endpoint, scope, r.raw)
                else:
                    problem = assert_problem(r, 403, "missing_scope")
                    assert f"`{needed}`" in problem["detail"], problem
        # Reads are public without --private-reads; /ids needs nothing.
        assert s.get("/records").status == 200
        assert s.post("/ids", new_record()).status == 200
    finally:
        s.stop()


def test_an_import_needs_the_scope_of_every_action_it_records(backend: Backend, tmp_path: Path) -> None:
    # A key with `create` alone retired credits by importing a registry's
    # retirement rows, and sold a record by importing an export whose holder
    # was edited: POST /imports needed `create` only, whatever the file did.
    url = backend.new_url(tmp_path)
    creator = new_key(url, tmp_path, "creator", "create")
    retirer = new_key(url, tmp_path, "retirer", "create,retire")
    trader = new_key(url, tmp_path, "trader", "create,trade")
    s = Server(url, tmp_path).start()
    try:
        verra = (FIXTURES / "verra.csv").read_bytes()

        def post(token: str, body: bytes, query: str) -> Response:
            return s.request("POST", f"/imports?{query}", raw=body, headers={**auth(token), "Content-Type": "text/csv"})

        problem = assert_problem(post(creator, verra, "from=verra"), 403, "missing_scope")
        assert "`retire`" in problem["detail"] and "row" in problem["detail"], problem
        assert s.get("/records").json["items"] == [], "a refused import wrote rows"
        # A dry run writes nothing: no scope beyond `create` is needed.
        assert post(creator, verra, "from=verra&dry_run=true").status == 200
        r = post(retirer, verra, "from=verra")
        assert r.status == 200 and r.json["retired"] > 0, r.json

        rid = s.post("/records", new_record(serial_number="VIC:1-50", quantity=50), headers=auth(trader)).json["id"]
        export = s.get("/records?format=csv").raw.decode()
        header, *rows = export.splitlines()
        columns = header.split(",")
        row = next(r for r in rows if r.startswith(rid))
        cells = row.split(",")
        cells[columns.index("holder")] = "Mallory"
        edited = f"{header}\n{','.join(cells)}\n".encode()
        problem = assert_problem(post(creator, edited, "from=tracker"), 403, "missing_scope")
        assert "`trade`" in problem["detail"], problem
        assert s.get(f"/records/{rid}").json["status"] == "ACTIVE"
        r = post(trader, edited, "from=tracker")
        assert r.status == 200 and r.json["sold"] == 1, r.json
        assert s.get(f"/records/{rid}").json["holder"] == "Mallory"
    finally:
        s.stop()


def test_private_reads(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    reader = new_key(url, tmp_path, "dashboard", "read")
    writer = new_key(url, tmp_path, "desk", "create")
    s = Server(url, tmp_path, env={"PRIVATE_READS": "true"}).start()
    try:
        rid = s.post("/records", new_record(), headers=auth(writer)).json["id"]
        for path in ("/records", f"/records/{rid}", f"/records/{rid}/events", "/events", "/summary"):
            assert_problem(s.get(path), 401, "unauthorized")
            assert s.get(path, headers=auth(reader)).status == 200, path
            assert_problem(s.get(path, headers=auth(writer)), 403, "missing_scope")
        assert s.get("/health").status == 200
        assert s.get("/openapi.json").status == 200
    finally:
        s.stop()


def test_private_reads_need_a_key_before_any_key_exists(backend: Backend, tmp_path: Path) -> None:
    # Found in review: a server with --private-reads and no key yet was open
    # to reads as to writes. Reads stay closed; writes stay open until a key
    # exists, and a key created while the server runs reads at once.
    url = backend.new_url(tmp_path)
    s = Server(url, tmp_path, env={"PRIVATE_READS": "true"}).start()
    try:
        rid = s.post("/records", new_record()).json["id"]
        for path in ("/records", f"/records/{rid}", "/events", "/summary"):
            problem = assert_problem(s.get(path), 401, "unauthorized")
            assert "`read`" in problem["detail"], problem
        reader = new_key(url, tmp_path, "dashboard", "read")
        assert s.get(f"/records/{rid}", headers=auth(reader)).status == 200
        assert s.get("/health").status == 200
    finally:
        s.stop()


def test_a_revoked_key_is_refused_at_once(keyed: tuple[Server, str], tmp_path: Path) -> None:
    s, token = keyed
    assert s.post("/records", new_record(), headers=auth(token)).status == 201
    r = keys_cli(s.database_url, tmp_path, "revoke", "desk")
    assert r.returncode == 0, r.stderr
    problem = assert_problem(s.post("/records", new_record(), headers=auth(token)), 401, "unauthorized")
    assert "revoked" in problem["detail"]
    # Again: an error that says why (exit 2, as for every command's errors).
    again = keys_cli(s.database_url, tmp_path, "revoke", "desk")
    assert again.returncode == 2 and "error: no active key is named desk" in again.stderr, again.stderr
    listed = keys_cli(s.database_url, tmp_path, "list").stdout.splitlines()
    assert listed[0].split("\t") == ["name", "scopes", "created", "last used", "revoked"]
    row = listed[1].split("\t")
    assert row[0] == "desk" and row[1] == "create,trade,retire" and row[3] != "-" and row[4] != "-", row


def test_keys_cli_refuses_bad_input(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    for args, message in [
        (("--name", "desk", "--scope", "sell"), '"sell" is not a scope'),
        (("--name", "has space", "--scope", "read"), "not a key name"),
        (("--name", "api-token", "--scope", "read"), "API_TOKEN"),
        # In any case: an actor "API-TOKEN" would read as API_TOKEN's.
        (("--name", "API-TOKEN", "--scope", "read"), "API_TOKEN"),
        (("--name", "Api-Token", "--scope", "read"), "API_TOKEN"),
    ]:
        r = keys_cli(url, tmp_path, "create", *args)
        assert r.returncode != 0 and message in r.stderr, r.stderr
    new_key(url, tmp_path, "desk", "read")
    r = keys_cli(url, tmp_path, "create", "--name", "desk", "--scope", "read")
    assert r.returncode != 0 and "exists already" in r.stderr, r.stderr
    # A revoked key keeps its name: the events it caused name it.
    assert keys_cli(url, tmp_path, "revoke", "desk").returncode == 0
    r = keys_cli(url, tmp_path, "create", "--name", "desk", "--scope", "read")
    assert r.returncode != 0 and "active or revoked" in r.stderr and "actor" in r.stderr, r.stderr


def test_unknown_and_missing_keys_are_401(keyed: tuple[Server, str]) -> None:
    s, _ = keyed
    assert_problem(s.post("/records", new_record()), 401, "unauthorized")
    r = s.post("/records", new_record(), headers=auth("ctk_not-a-key"))
    assert_problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"


def test_actor_names_the_key_everywhere(keyed: tuple[Server, str], tmp_path: Path) -> None:
    s, token = keyed
    block = new_record(quantity=10, serial_number=f"VCS-{time.monotonic_ns() % 10**9}:1-10")
    rid = s.post("/records", block, headers=auth(token)).json["id"]
    sold = s.post(f"/records/{rid}/sell", {"buyer": "B"}, headers=auth(token)).json
    assert sold["actor"] == "desk"
    split = s.post(f"/records/{rid}/retire", {"quantity": 3}, headers=auth(token)).json
    assert split["actor"] == "desk" and split["split"]["parent"]["actor"] == "desk"
    for child in ("front", "back"):
        assert all(e["actor"] == "desk" for e in split["split"][child]["events"])
    feed = s.get("/events?limit=1000").json["items"]
    assert feed and all(e["actor"] == "desk" for e in feed), feed
    cert = certificate(s, split["split"]["front"]["id"])
    assert json.dumps(cert).count('"actor": "desk"') >= 3, cert
    # API_TOKEN is the key `api-token`.
    s.stop()
    s.env["API_TOKEN"] = "the-shared-token"
    s.start()
    other = s.post("/records", new_record(), headers=auth("the-shared-token")).json
    assert other["events"][0]["actor"] == "api-token"


def test_an_open_server_writes_no_actor(server: Server) -> None:
    created = server.post("/records", new_record()).json
    assert "actor" not in created["events"][0] or created["events"][0]["actor"] is None
    events = server.get("/events?limit=1000").json["items"]
    assert all(e.get("actor") is None for e in events)

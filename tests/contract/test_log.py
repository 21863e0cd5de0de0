"""SPEC §7 over HTTP, on both backends: every event becomes a leaf of the
Merkle log, checkpoints are signed with the server's key, a record's
certificate proves its story offline (`carbon-tracker-server verify`), and
tampering with the database is caught (`verify`, `audit`).

Certificates and proofs are checked by the core's verifier through the CLI
and by the independent Python reference (`tests/reference/log_v1.py`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import ROOT, SERVER_BIN, Backend, Server, assert_problem, new_record

sys.path.insert(0, str(ROOT / "tests" / "reference"))
import log_v1  # noqa: E402


def cli(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SERVER_BIN), *args], env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        cwd=cwd, capture_output=True, text=True, timeout=60,
    )


def certificate(server: Server, rid: str) -> dict[str, Any]:
    """The record's certificate, once every event of it is a leaf."""
    deadline = time.monotonic() + 10
    while True:
        r = server.get(f"/records/{rid}/certificate")
        if r.status == 200 or time.monotonic() > deadline:
            assert r.status == 200, r.raw
            return dict(r.json)
        time.sleep(0.1)


def verify(server: Server, cert: dict[str, Any], tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"cert-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(cert))
    key = server.get("/log/key").raw.decode().strip()
    return cli("verify", str(path), "--key", key, *extra, url=server.database_url, cwd=tmp_path)


NODE_PACKAGE = ROOT / "bindings-wasm" / "pkg-node" / "verify" / "carbon_tracker_verify.js"


def wasm_verify(cert: dict[str, Any], key: str, tmp_path: Path) -> str:
    """The WASM package's verifyCertificate on `cert`, in Node: "valid", or
    the error's class and code."""
    path = tmp_path / f"wasm-cert-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(cert))
    script = (
        f"const v = require({json.dumps(str(NODE_PACKAGE))});"
        f"const fs = require('fs');"
        f"try {{ v.verifyCertificate(JSON.parse(fs.readFileSync({json.dumps(str(path))}, 'utf8')), {json.dumps(key)}); console.log('valid'); }}"
        f"catch (e) {{ console.log(e.constructor.name + ' ' + e.code); }}"
    )
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def key_of(server: Server) -> str:
    return server.get("/log/key").raw.decode().strip()


def reference_checkpoint(server: Server, note: str) -> dict[str, Any]:
    """The checkpoint of a signed note, opened by the reference with the server's key."""
    return dict(log_v1.open_checkpoint(note, log_v1.parse_vkey(key_of(server))))


def checkpoint_size(note: str) -> int:
    """The tree size of a C2SP checkpoint note (its second line)."""
    return int(note.split("\n")[1])


def test_a_certificate_verifies_offline(server: Server, tmp_path: Path) -> None:
    rid = server.post("/records", new_record()).json["id"]
    assert server.post(f"/records/{rid}/sell", {"buyer": "Acme", "price": "12.50", "currency": "USD"}).status == 200
    assert server.post(f"/records/{rid}/retire", {"beneficiary": "Acme", "purpose": "corporate_target"}).status == 200
    cert = certificate(server, rid)
    assert cert["record_id"] == rid
    assert [e["event"]["event_type"] for e in cert["records"][-1]["events"]] == ["CREATED", "SOLD", "RETIRED"]
    done = verify(server, cert, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"valid: record {rid} is RETIRED"), done.stdout
    assert wasm_verify(cert, key_of(server), tmp_path) == "valid"
    # The independent reference agrees.
    verified = log_v1.verify_certificate(cert, key_of(server))
    assert verified["state"]["status"] == "RETIRED"


def test_a_split_child_s_certificate_covers_its_ancestors(server: Server, tmp_path: Path) -> None:
    from test_blocks import fresh_issuance, register, verra

    parent = register(server, verra(fresh_issuance(), 1, 187), 187)
    front = server.post(f"/records/{parent['id']}/retire", {"quantity": 37}).json["record_id"]
    cert = certificate(server, front)
    assert [r["events"][0]["event"]["record_id"] for r in cert["records"]] == [parent["id"], front]
    done = verify(server, cert, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_tampered_certificate_fails(server: Server, tmp_path: Path) -> None:
    rid = server.post("/records", new_record()).json["id"]
    assert server.post(f"/records/{rid}/sell", {"buyer": "Acme"}).status == 200
    cert = certificate(server, rid)
    cert["records"][-1]["events"][1]["event"]["payload"]["buyer"] = "Mallory"
    done = verify(server, cert, tmp_path)
    assert done.returncode == 1 and done.stdout.startswith("invalid: proof/root_mismatch"), done.stdout
    # A checkpoint signed by another key.
    other = certificate(server, rid)
    other["checkpoint"] = other["checkpoint"].replace(other["checkpoint"].split("\n")[0], "other.example/log", 1)
    done = verify(server, other, tmp_path)
    assert done.returncode == 1 and done.stdout.startswith("invalid: signature/"), done.stdout


def test_the_log_serves_its_checkpoint_key_and_proofs(server: Server) -> None:
    rid = server.post("/records", new_record()).json["id"]
    cert = certificate(server, rid)
    note = server.get("/log/checkpoint")
    assert note.status == 200 and note.content_type.startswith("text/plain")
    key = server.get("/log/key").raw.decode().strip()
    origin = note.raw.decode().split("\n")[0]
    assert key.startswith(origin + "+"), (key, origin)
    size = checkpoint_size(note.raw.decode())
    event = cert["records"][-1]["events"][0]
    proof = server.get(f"/events/{event['event']['id']}/proof?size={size}")
    assert proof.status == 200, proof.raw
    assert proof.json["index"] == event["index"] and proof.json["size"] == size
    # The leaf is the reference's leaf of the event, and the proof leads to the signed root.
    checkpoint = reference_checkpoint(server, note.raw.decode())
    record = cert["records"][-1]["record"]
    leaf = log_v1.leaf_hash(log_v1.leaf_bytes(event["event"], record))
    assert proof.json["leaf_hash"] == leaf.hex()
    log_v1.verify_inclusion(leaf, event["index"], size, [bytes.fromhex(h) for h in proof.json["proof"]], bytes.fromhex(checkpoint["root"]))
    assert server.get(f"/events/{event['event']['id']}/proof?size={event['index']}").status == 422
    assert server.get("/events/00000000-0000-7000-8000-000000000000/proof").status == 404
    consistency = server.get(f"/log/consistency?from=1&to={size}")
    assert consistency.status == 200 and consistency.json["from"] == 1
    first = server.get("/events?limit=1").json["items"][0]
    first_leaf = bytes.fromhex(server.get(f"/events/{first['id']}/proof?size=1").json["leaf_hash"])
    log_v1.verify_consistency(1, size, first_leaf, bytes.fromhex(checkpoint["root"]), [bytes.fromhex(h) for h in consistency.json["proof"]])
    assert server.get(f"/log/consistency?from={size + 1}&to={size}").status == 422
    assert server.get(f"/log/consistency?from=1&to={size + 10**6}").status == 422
    # A bad parameter is named, with what is wrong with it.
    for query, field, code in (("", "from", "missing"), (f"?to={size}", "from", "missing"),
                               ("?from=18446744073709551616", "from", "out_of_range"),
                               ("?from=1&to=18446744073709551616", "to", "out_of_range"),
                               ("?from=one", "from", "not_an_integer")):
        body = assert_problem(server.get(f"/log/consistency{query}"), 422, "invalid_query")
        assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)], (query, body)


def test_the_key_and_the_log_survive_a_restart(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    s = Server(url, tmp_path).start()
    rid = s.post("/records", new_record()).json["id"]
    old_cert = certificate(s, rid)
    old_note = old_cert["checkpoint"]
    key = s.get("/log/key").raw
    assert s.stop() == 0
    s.start()
    try:
        assert s.get("/log/key").raw == key
        rid2 = s.post("/records", new_record()).json["id"]
        cert = certificate(s, rid2)
        old_size, new_size = checkpoint_size(old_note), checkpoint_size(cert["checkpoint"])
        assert new_size > old_size
        proof = s.get(f"/log/consistency?from={old_size}&to={new_size}").json
        note_file, proof_file = tmp_path / "old.note", tmp_path / "proof.json"
        note_file.write_text(old_note)
        proof_file.write_text(json.dumps(proof))
        done = verify(s, cert, tmp_path, "--checkpoint", f"{note_file}:{proof_file}")
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        s.stop()
    audited = cli("audit", url=url, cwd=tmp_path)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert "the log matches the events" in audited.stdout


def sold_and_certified(backend: Backend, tmp_path: Path) -> tuple[str, Server, str, dict[str, Any]]:
    """A new database with a record sold once and a checkpoint over both
    events; the server stopped. Returns the URL, the server, the record's id
    and the sale's event."""
    url = backend.new_url(tmp_path)
    s = Server(url, tmp_path).start()
    try:
        rid = s.post("/records", new_record()).json["id"]
        event: dict[str, Any] = s.post(f"/records/{rid}/sell", {"buyer": "Acme"}).json
        certificate(s, rid)
    finally:
        s.stop()
    return url, s, rid, event


def test_tampering_with_a_stored_event_is_caught(backend: Backend, tmp_path: Path) -> None:
    url, s, rid, event = sold_and_certified(backend, tmp_path)
    if backend.name == "sqlite":
        backend.execute(url, "DROP TRIGGER events_no_update")
    else:
        backend.execute(url, "ALTER TABLE events DISABLE TRIGGER events_no_update")
    backend.execute(url, f"UPDATE events SET payload = '{{\"buyer\": \"Mallory\"}}' WHERE id = '{event['id']}'")
    audited = cli("audit", url=url, cwd=tmp_path)
    assert audited.returncode == 1, audited.stdout
    assert "first difference: leaf" in audited.stdout and event["id"] in audited.stdout, audited.stdout
    s.start()
    try:
        cert = certificate(s, rid)
        done = verify(s, cert, tmp_path)
        assert done.returncode == 1 and done.stdout.startswith("invalid: proof/root_mismatch"), done.stdout
        # The Python package (the core's verifier) and the reference agree.
        import carbon_tracker

        try:
            carbon_tracker.verify_certificate(cert, key_of(s))
            raise AssertionError("the Python package accepted a tampered certificate")
        except carbon_tracker.CertificateError as e:
            assert e.code == "proof", e
        try:
            log_v1.verify_certificate(cert, key_of(s))
            raise AssertionError("the reference accepted a tampered certificate")
        except log_v1.Refused as e:
            assert e.code == "proof", e
        # And the WASM package, in Node.
        assert wasm_verify(cert, key_of(s), tmp_path) == "CertificateError proof"
    finally:
        s.stop()


def test_every_acknowledged_event_is_a_leaf_after_a_crash(backend: Backend, tmp_path: Path) -> None:
    """kill -9 under a create load, restart: every acknowledged event is a
    leaf, and the new checkpoint is consistent with every checkpoint signed
    before the crash."""
    import threading

    url = backend.new_url(tmp_path)
    s = Server(url, tmp_path).start()
    acknowledged: list[str] = []
    notes: list[str] = []
    stop = threading.Event()

    def create() -> None:
        while not stop.is_set():
            try:
                r = s.post("/records", new_record())
            except OSError:
                return
            if r.status == 201:
                acknowledged.append(r.json["id"])

    def watch() -> None:
        while not stop.is_set():
            try:
                notes.append(s.get("/log/checkpoint").raw.decode())
            except OSError:
                return
            time.sleep(0.1)

    threads = [threading.Thread(target=create) for _ in range(4)] + [threading.Thread(target=watch)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    assert s.process is not None
    s.process.kill()
    s.process.wait()
    stop.set()
    for t in threads:
        t.join()
    s.process = None
    assert acknowledged and notes
    s.start()
    try:
        key = log_v1.parse_vkey(key_of(s))
        for rid in acknowledged:
            certificate(s, rid)  # each CREATED is a leaf under a signed checkpoint
        latest = log_v1.open_checkpoint(certificate(s, acknowledged[-1])["checkpoint"], key)
        for note in notes:
            old = log_v1.open_checkpoint(note, key)
            if old["size"] == 0:
                continue
            proof = s.get(f"/log/consistency?from={old['size']}&to={latest['size']}").json["proof"]
            log_v1.verify_consistency(old["size"], latest["size"], bytes.fromhex(old["root"]), bytes.fromhex(latest["root"]), [bytes.fromhex(h) for h in proof])
    finally:
        s.stop()
    # Every checkpoint stored, signed before the crash or after, is a prefix of the recomputed log.
    audited = cli("audit", url=url, cwd=tmp_path)
    assert audited.returncode == 0 and "(0 not matching)" in audited.stdout, audited.stdout


def test_a_rewritten_history_fails_against_an_older_checkpoint(backend: Backend, tmp_path: Path) -> None:
    """Delete the last event (and its leaf) and append a different one: a
    verifier holding the checkpoint signed before rejects every later one,
    since no consistency proof from it exists; `audit` flags the old
    checkpoint."""
    url = backend.new_url(tmp_path)
    s = Server(url, tmp_path).start()
    try:
        rid = s.post("/records", new_record()).json["id"]
        sold = s.post(f"/records/{rid}/sell", {"buyer": "Acme"}).json
        old_note = certificate(s, rid)["checkpoint"]
    finally:
        s.stop()
    if backend.name == "sqlite":
        for trigger in ("events_no_delete", "log_leaves_no_delete"):
            backend.execute(url, f"DROP TRIGGER {trigger}")
    else:
        backend.execute(url, "ALTER TABLE events DISABLE TRIGGER events_no_update")
        backend.execute(url, "ALTER TABLE log_leaves DISABLE TRIGGER log_leaves_no_update")
    backend.execute(url, f"DELETE FROM log_leaves WHERE event_id = '{sold['id']}'")
    backend.execute(url, f"DELETE FROM events WHERE id = '{sold['id']}'")
    s.start()
    try:
        assert s.post(f"/records/{rid}/sell", {"buyer": "Mallory"}).status == 200
        s.post("/records", new_record())
        cert = certificate(s, rid)
        new_size, old_size = checkpoint_size(cert["checkpoint"]), checkpoint_size(old_note)
        assert new_size > old_size
        # On its own, the rewritten certificate is consistent with itself.
        assert verify(s, cert, tmp_path).returncode == 0
        proof = s.get(f"/log/consistency?from={old_size}&to={new_size}").json
        note_file, proof_file = tmp_path / "old.note", tmp_path / "proof.json"
        note_file.write_text(old_note)
        proof_file.write_text(json.dumps(proof))
        done = verify(s, cert, tmp_path, "--checkpoint", f"{note_file}:{proof_file}")
        assert done.returncode == 1 and done.stdout.startswith("invalid: consistency/"), done.stdout
    finally:
        s.stop()
    audited = cli("audit", url=url, cwd=tmp_path)
    assert audited.returncode == 1 and f"checkpoint of size {old_size} does not match" in audited.stdout, audited.stdout


def test_audit_checks_the_signed_checkpoints_not_the_stored_roots(backend: Backend, tmp_path: Path) -> None:
    """An event edited together with its stored leaf and every stored root
    column still fails the audit: the roots it checks are the signed notes'."""
    url, s, rid, sold = sold_and_certified(backend, tmp_path)
    s.start()
    try:
        record = s.get(f"/records/{rid}").json
        events = s.get("/events?limit=1000").json["items"]
    finally:
        s.stop()
    fields = {k: record[k] for k in ("project_name", "registry", "vintage", "quantity", "serial_number")}
    forged = [dict(e, payload={"buyer": "Mallory"}) if e["id"] == sold["id"] else e for e in events]
    leaves = [log_v1.leaf_hash(log_v1.leaf_bytes(e, fields if e["event_type"] == "CREATED" else None)) for e in forged]

    def blob(b: bytes) -> str:
        return f"X'{b.hex()}'" if backend.name == "sqlite" else f"'\\x{b.hex()}'::bytea"

    if backend.name == "sqlite":
        for trigger in ("events_no_update", "log_leaves_no_update", "log_checkpoints_no_update"):
            backend.execute(url, f"DROP TRIGGER {trigger}")
    else:
        for table in ("events", "log_leaves", "log_checkpoints"):
            backend.execute(url, f"ALTER TABLE {table} DISABLE TRIGGER USER")
    backend.execute(url, f"UPDATE events SET payload = '{{\"buyer\": \"Mallory\"}}' WHERE id = '{sold['id']}'")
    for idx, leaf in enumerate(leaves):
        backend.execute(url, f"UPDATE log_leaves SET hash = {blob(leaf)} WHERE idx = {idx}")
    for size in range(1, len(leaves) + 1):
        backend.execute(url, f"UPDATE log_checkpoints SET root = {blob(log_v1.mth(leaves[:size]))} WHERE size = {size}")
    audited = cli("audit", url=url, cwd=tmp_path)
    assert audited.returncode == 1, audited.stdout
    assert "while the database's columns say" in audited.stdout, audited.stdout
    assert "first difference" not in audited.stdout, audited.stdout


def test_verify_reads_a_certificate_saved_with_a_byte_order_mark(server: Server, tmp_path: Path) -> None:
    rid = server.post("/records", new_record()).json["id"]
    cert = certificate(server, rid)
    (tmp_path / "log.key").write_text(key_of(server))
    (tmp_path / "bom.json").write_text("\ufeff" + json.dumps(cert), encoding="utf-8")
    # Settings the verifier does not use cannot stop it: it opens nothing.
    unused = {"PORT": "abc", "DATABASE_URL": "mysql://x"}
    done = subprocess.run([str(SERVER_BIN), "verify", "bom.json", "--key", "log.key"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=30, env={**os.environ, **unused})
    assert done.returncode == 0 and done.stdout.startswith("valid: "), (done.stdout, done.stderr)


def test_verify_says_when_the_key_is_neither_a_file_nor_a_key(backend: Backend, tmp_path: Path) -> None:
    s = Server(backend.new_url(tmp_path), tmp_path).start()
    try:
        rid = s.post("/records", new_record()).json["id"]
        (tmp_path / "certificate.json").write_text(json.dumps(certificate(s, rid)))
    finally:
        s.stop()
    missing = tmp_path / "missing.vkey"
    done = subprocess.run([str(SERVER_BIN), "verify", "certificate.json", "--key", str(missing)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=30)
    assert done.returncode == 1
    assert f"--key {str(missing)!r}".replace("'", '"') in done.stdout and "No such file" in done.stdout, done.stdout


def test_another_key_for_an_existing_log_is_refused_at_start(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    s = Server(url, tmp_path).start()
    rid = s.post("/records", new_record()).json["id"]
    certificate(s, rid)
    assert s.stop() == 0
    # Another log's key: made by a server on a database of its own.
    other = tmp_path / "other"
    other.mkdir()
    o = Server("sqlite://other.db", other, env={"LOG_ORIGIN": "other.example/log"}).start()
    assert o.stop() == 0
    p = subprocess.run(
        [str(SERVER_BIN), "--port", "0", "--log-key", str(other / "other.db.log-key")],
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}, cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )
    assert p.returncode == 2, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the latest stored checkpoint") and "was the key file replaced?" in last, last

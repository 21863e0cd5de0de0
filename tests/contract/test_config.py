"""Configuration, the API token, start-up errors and the import command."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import SERVER_BIN, SHARED, Backend, Server, assert_problem, new_record, sqlite_url
from pgcluster import Refused


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "API_TOKEN", "PORT", "HOST")}
    full_env.update(env or {})
    return subprocess.run([str(SERVER_BIN), *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=60)


def one_line_error(p: subprocess.CompletedProcess[str], *words: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = [line for line in p.stderr.splitlines() if line.startswith("error")]
    assert len(lines) == 1, p.stderr
    assert "panicked" not in p.stderr and "backtrace" not in p.stderr.lower()
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_help_explains_every_setting() -> None:
    p = run_cli("--help")
    assert p.returncode == 0
    for word in ("DATABASE_URL", "HOST", "PORT", "API_TOKEN", "import", "sqlite://", "postgres"):
        assert word in p.stdout, word


def test_bad_database_url_scheme(tmp_path: Path) -> None:
    one_line_error(run_cli(env={"DATABASE_URL": "mysql://db/x"}, cwd=tmp_path), "mysql://db/x", "scheme")


def test_unwritable_database_path(tmp_path: Path) -> None:
    one_line_error(run_cli(env={"DATABASE_URL": "sqlite:///no/such/dir/x.db"}, cwd=tmp_path), "no/such/dir/x.db")


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        one_line_error(run_cli("--port", str(port), env={"DATABASE_URL": sqlite_url(tmp_path / "a.db")}, cwd=tmp_path), str(port))


def test_bad_port_value(tmp_path: Path) -> None:
    p = run_cli(env={"PORT": "eighty"}, cwd=tmp_path)
    assert p.returncode == 2 and "eighty" in p.stderr and "panicked" not in p.stderr


def test_default_database_is_carbon_credits_db_in_the_working_directory(tmp_path: Path) -> None:
    s = Server("sqlite://carbon_credits.db", tmp_path)
    s.start()
    try:
        assert s.post("/records", new_record()).status == 201
    finally:
        s.stop()
    assert (tmp_path / "carbon_credits.db").exists()


def test_original_services_url_form(tmp_path: Path) -> None:
    s = Server("sqlite:///./original.db", tmp_path).start()
    try:
        assert s.get("/health").status == 200
    finally:
        s.stop()
    assert (tmp_path / "original.db").exists()


def test_api_token(tmp_path: Path) -> None:
    s = Server(sqlite_url(tmp_path / "auth.db"), tmp_path, env={"API_TOKEN": "s3cret"}).start()
    try:
        record = new_record()
        r = s.post("/records", record)
        assert_problem(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
        assert_problem(s.post("/records", record, headers={"Authorization": "Bearer wrong"}), 401)
        assert_problem(s.post("/records", record, headers={"Authorization": "s3cret"}), 401)
        assert_problem(s.post("/records/batch", [record]), 401)
        ok = s.post("/records", record, headers={"Authorization": "Bearer s3cret"})
        assert ok.status == 201
        rid = ok.json["id"]
        assert_problem(s.post(f"/records/{rid}/retire"), 401)
        # Reads and POST /ids need no token.
        assert s.get(f"/records/{rid}").status == 200
        assert s.post("/ids", record).json["id"] == rid
        assert s.get(f"/records/{rid}").json["status"] == "ACTIVE"
    finally:
        s.stop()


@pytest.mark.parametrize(
    "args,env,words",
    [
        # Set but empty, as a compose file gives for an unset variable: it
        # once compared equal to a missing header and let every write in.
        ((), {"API_TOKEN": ""}, ("API_TOKEN", "empty")),
        (("--api-token", ""), {}, ("api-token", "empty")),
        # Read from a secret file with its newline: no client could ever write.
        ((), {"API_TOKEN": "s3cret\n"}, ("API_TOKEN", "whitespace")),
        ((), {"API_TOKEN": " s3cret"}, ("API_TOKEN", "whitespace")),
        ((), {"API_TOKEN": "s3 cret"}, ("API_TOKEN", "' '")),
        ((), {"API_TOKEN": "s\u00e9cret"}, ("API_TOKEN", "letters, digits")),
    ],
)
def test_api_token_that_cannot_mean_what_was_meant_is_refused(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], words: tuple[str, ...]
) -> None:
    env = {**env, "DATABASE_URL": sqlite_url(tmp_path / "t.db")}
    p = run_cli(*args, env=env, cwd=tmp_path)
    one_line_error(p, *words)
    assert "s3cret" not in p.stderr, "the token is not echoed"
    assert not (tmp_path / "t.db").exists()


def test_id_conflict_is_409(backend: Backend, tmp_path: Path) -> None:
    """A stored record whose canonical fields differ from its id's (written by
    another tool) is never silently merged."""
    url = backend.new_url(tmp_path)
    s = Server(url, tmp_path).start()
    record = new_record()
    rid = s.post("/ids", record).json["id"]
    backend.execute(
        url,
        "INSERT INTO records (id, project_name, registry, vintage, quantity, serial_number, created_at) "
        f"VALUES ('{rid}', 'other', 'vcs', 2023, '1.0000', 'x', '2026-01-01T00:00:00Z')",
    )
    try:
        assert_problem(s.post("/records", record), 409, "id_conflict")
    finally:
        s.stop()


def test_store_rejects_update_and_delete(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    s = Server(url, tmp_path).start()
    rid = s.post("/records", new_record()).json["id"]
    s.post(f"/records/{rid}/retire")
    s.stop()
    statements = [
        "UPDATE records SET quantity = '1.0000'",
        "DELETE FROM records",
        "UPDATE events SET event_type = 'SOLD'",
        "DELETE FROM events",
        # A second final event, and a duplicate (record_id, seq).
        f"INSERT INTO events (id, record_id, seq, event_type, created_at) VALUES ('{uuid.uuid4()}', '{rid}', 3, 'CANCELLED', '2026-01-01T00:00:00Z')",
        f"INSERT INTO events (id, record_id, seq, event_type, created_at) VALUES ('{uuid.uuid4()}', '{rid}', 2, 'SOLD', '2026-01-01T00:00:00Z')",
    ]
    if backend.name == "postgres":
        statements += ["TRUNCATE events", "TRUNCATE records CASCADE"]
    for sql in statements:
        with pytest.raises(Refused):
            backend.execute(url, sql)
    assert backend.execute(url, "SELECT count(*) FROM events") == "2"
    if backend.name == "sqlite":
        assert backend.execute(url, "PRAGMA journal_mode") == "wal"


def test_import_sample_registry_is_idempotent(tmp_path: Path) -> None:
    env = {"DATABASE_URL": sqlite_url(tmp_path / "import.db")}
    sample = SHARED / "seed" / "sample-registry.json"
    first = run_cli("import", str(sample), env=env)
    assert first.returncode == 0, first.stderr
    assert "10 rows: 10 created, 0 existing, 0 rejected" in first.stdout
    again = run_cli("import", str(sample), env=env)
    assert again.returncode == 0
    assert "10 rows: 0 created, 10 existing, 0 rejected" in again.stdout
    s = Server(env["DATABASE_URL"], tmp_path).start()
    try:
        items = s.get("/records?limit=100").json["items"]
        assert len(items) == 10
        assert items[0]["project_name"] == "mangrove restoration project"
    finally:
        s.stop()


def test_import_csv_reports_rejected_rows(tmp_path: Path) -> None:
    csv_file = tmp_path / "records.csv"
    csv_file.write_text(
        "project_name,registry,vintage,quantity,serial_number\n"
        "Wind Farm,VCS,2021,200.12345,VCS-1\n"
        "Bad Row,VCS,1800,-5,VCS-2\n"
        '"Quoted, Name",GS,2022,1E+2,GS-9\n'
        "No Serial,GS,2022,5,\n"
    )
    env = {"DATABASE_URL": sqlite_url(tmp_path / "csv.db")}
    p = run_cli("import", str(csv_file), env=env)
    assert p.returncode == 1, p.stderr
    assert "4 rows: 2 created, 0 existing, 2 rejected" in p.stdout
    assert "row 2: vintage must be a year from 1900 to 2100; quantity must be greater than 0" in p.stdout
    assert "row 4: serial_number is required" in p.stdout


def test_import_errors(tmp_path: Path) -> None:
    env = {"DATABASE_URL": sqlite_url(tmp_path / "x.db")}
    one_line_error(run_cli("import", str(tmp_path / "missing.json"), env=env), "missing.json")
    (tmp_path / "obj.json").write_text('{"a": 1}')
    one_line_error(run_cli("import", str(tmp_path / "obj.json"), env=env), "not a JSON array")
    (tmp_path / "data.xml").write_text("<x/>")
    one_line_error(run_cli("import", str(tmp_path / "data.xml"), env=env), "unknown file type")

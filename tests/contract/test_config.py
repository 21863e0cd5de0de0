"""Configuration, the API token, start-up errors and the import command."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import SERVER_BIN, SHARED, Backend, Server, assert_problem, new_record, sqlite_url
from pgcluster import PostgresCluster, Refused


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
    for word in ("DATABASE_URL", "HOST", "PORT", "API_TOKEN", "DATABASE_POOL_SIZE", "RUST_LOG", "import", "postgres"):
        assert word in p.stdout, word
    # Each SQLite form says what it means; the ambiguous one is named as refused.
    assert "sqlite://PATH       a relative path" in p.stdout
    assert "sqlite:///./PATH" in p.stdout and "sqlite:////PATH     an absolute path" in p.stdout
    assert "Anything else after `sqlite:///` is refused" in p.stdout


# Every setting, each given a value that cannot mean what the operator meant:
# refused at start with one line naming the setting, nothing opened.
REFUSED_SETTINGS = [
    ({"DATABASE_URL": ""}, ("DATABASE_URL", "empty")),
    ({"DATABASE_URL": "sqlite://x.db\n"}, ("DATABASE_URL", "whitespace")),
    ({"DATABASE_URL": " sqlite://x.db"}, ("DATABASE_URL", "whitespace")),
    # SQLAlchemy reads it as relative, sqlx and others as absolute.
    ({"DATABASE_URL": "sqlite:///var/lib/cc.db"}, ("DATABASE_URL", "ambiguous", "sqlite:////var/lib/cc.db")),
    ({"DATABASE_URL": "sqlite:///cc.db"}, ("DATABASE_URL", "ambiguous", "sqlite://cc.db")),
    ({"DATABASE_URL": "sqlite://cc.db?mode=ro"}, ("DATABASE_URL", "?options")),
    ({"DATABASE_URL": "sqlite://my%20cc.db"}, ("DATABASE_URL", "percent-escapes")),
    ({"DATABASE_URL": "sqlite://~/cc.db"}, ("DATABASE_URL", "~ is not expanded")),
    ({"DATABASE_URL": "sqlite://"}, ("DATABASE_URL", "names no file")),
    ({"DATABASE_URL": "sqlite://data/"}, ("DATABASE_URL", "names no file")),
    ({"DATABASE_URL": "sqlite:cc.db"}, ("DATABASE_URL", "scheme")),
    ({"DATABASE_URL": "postgres://127.0.0.1:1/cc?sslmode=verify-full"}, ("DATABASE_URL", "sslmode", "disable, prefer or require")),
    ({"DATABASE_URL": "postgres://127.0.0.1:1/cc?sslmod=require"}, ("DATABASE_URL", "sslmod")),
    # libpq reads 0 as "wait forever"; the driver would drop it silently.
    ({"DATABASE_URL": "postgres://127.0.0.1:1/cc?connect_timeout=0"}, ("DATABASE_URL", "connect_timeout=0", "wait forever")),
    ({"HOST": ""}, ("HOST", "empty")),
    ({"HOST": "0.0.0.0 "}, ("HOST", "whitespace")),
    ({"HOST": "localhost:8000"}, ("HOST", "--port")),
    ({"HOST": "http://localhost"}, ("HOST", "URL")),
    ({"PORT": ""}, ("PORT", "empty")),
    ({"PORT": "8000\n"}, ("PORT", "whitespace")),
    ({"PORT": "65536"}, ("PORT", "65535")),
    ({"PORT": "+80"}, ("PORT", "65535")),
    ({"DATABASE_POOL_SIZE": ""}, ("DATABASE_POOL_SIZE", "empty")),
    ({"DATABASE_POOL_SIZE": "0"}, ("DATABASE_POOL_SIZE", "1 to 1000")),
    ({"DATABASE_POOL_SIZE": "1001"}, ("DATABASE_POOL_SIZE", "1 to 1000")),
    ({"RUST_LOG": ""}, ("RUST_LOG", "empty")),
    ({"RUST_LOG": "info,carbon_tracker_server=loud"}, ("RUST_LOG", "level")),
    # The flags clap reads itself (switches, ranged numbers): the same one line.
    ({"PRIVATE_READS": "1"}, ("PRIVATE_READS (--private-reads)", '"1" is not one of true, false')),
    ({"BODY_TIMEOUT_MS": "0"}, ("BODY_TIMEOUT_MS (--body-timeout-ms)", "100..=3600000")),
    ({"IDEMPOTENCY_TTL_HOURS": "1"}, ("IDEMPOTENCY_TTL_HOURS (--idempotency-ttl-hours)", "24..=8760")),
]


@pytest.mark.parametrize("env,words", REFUSED_SETTINGS, ids=lambda v: repr(v) if isinstance(v, dict) else "")
def test_setting_that_cannot_mean_what_was_meant_is_refused(tmp_path: Path, env: dict[str, str], words: tuple[str, ...]) -> None:
    p = run_cli(env={"DATABASE_URL": "sqlite://t.db", **env}, cwd=tmp_path)
    one_line_error(p, *words)
    assert list(tmp_path.iterdir()) == [], "nothing is created before the settings are checked"


@pytest.mark.parametrize("env,words", REFUSED_SETTINGS[:3] + REFUSED_SETTINGS[14:16], ids=lambda v: repr(v) if isinstance(v, dict) else "")
def test_the_flag_form_is_checked_the_same_way(tmp_path: Path, env: dict[str, str], words: tuple[str, ...]) -> None:
    flags = {"DATABASE_URL": "--database-url", "HOST": "--host"}
    (name, value), = env.items()
    p = run_cli(flags[name], value, env={"DATABASE_URL": "sqlite://t.db"}, cwd=tmp_path)
    one_line_error(p, *words[1:], flags[name])


def configuration_line(server: Server) -> list[str]:
    """The flags the server printed as its configuration at start."""
    text = server.log_text()
    line = text.split("configuration: ", 1)[1].splitlines()[0]
    return shlex.split(line.split(" (API_TOKEN", 1)[0])


@pytest.mark.parametrize("url", ["sqlite:///./cfg.db", "sqlite://cfg.db", "SQLite://cfg.db", "ABSOLUTE"])
def test_printed_configuration_pastes_back_to_the_same_database(tmp_path: Path, url: str) -> None:
    if url == "ABSOLUTE":
        url = sqlite_url(tmp_path / "cfg.db")
    s = Server(url, tmp_path, env={"API_TOKEN": "s3cret", "DATABASE_POOL_SIZE": "7"}).start()
    try:
        rid = s.post("/records", new_record(), headers={"Authorization": "Bearer s3cret"}).json["id"]
        flags = configuration_line(s)
    finally:
        s.stop()
    assert "s3cret" not in s.log_text()
    assert flags[flags.index("--pool-size") + 1] == "7"
    # Started again from the printed flags alone (and another port), in the
    # same directory: the same database.
    port_at = flags.index("--port")
    flags[port_at + 1] = "0"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "API_TOKEN", "PORT", "HOST", "DATABASE_POOL_SIZE")}
    log = tmp_path / "again.log"
    with open(log, "wb") as out:
        p = subprocess.Popen([str(SERVER_BIN), *flags], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    again = Server(url, tmp_path, process=p, log=log)
    try:
        again.wait_listening()
        assert again.get(f"/records/{rid}").status == 200
    finally:
        again.stop()
    assert len(list(tmp_path.glob("*.db"))) == 1


def test_printed_postgres_configuration_has_no_password(postgres: PostgresCluster, tmp_path: Path) -> None:
    url = postgres.create_database()
    with_password = url.replace("://postgres@", "://postgres:hunter2@", 1)
    assert with_password != url, url
    s = Server(with_password, tmp_path).start()
    try:
        flags = configuration_line(s)
    finally:
        s.stop()
    printed = flags[flags.index("--database-url") + 1]
    assert "hunter2" not in printed and printed == url, (printed, url)


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
    backend: Backend, tmp_path: Path, args: tuple[str, ...], env: dict[str, str], words: tuple[str, ...]
) -> None:
    url = backend.new_url(tmp_path)
    p = run_cli(*args, env={**env, "DATABASE_URL": url}, cwd=tmp_path)
    one_line_error(p, *words)
    assert "s3cret" not in p.stderr, "the token is not echoed"
    if backend.name == "sqlite":
        assert not list(tmp_path.glob("*.db")), "nothing is opened before the settings are checked"
    else:
        assert backend.execute(url, "SELECT count(*) FROM pg_tables WHERE tablename = 'records'") == "0"


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
    # A certificate puts the events in the log and signs a checkpoint.
    assert s.get(f"/records/{rid}/certificate").status == 200
    s.stop()
    statements = [
        "UPDATE records SET quantity = '1.0000'",
        "DELETE FROM records",
        "UPDATE events SET event_type = 'SOLD'",
        "DELETE FROM events",
        # The log is append-only too (SPEC §7).
        "UPDATE log_leaves SET hash = hash",
        "DELETE FROM log_leaves",
        "UPDATE log_checkpoints SET note = note",
        "DELETE FROM log_checkpoints",
        # A second final event, and a duplicate (record_id, seq).
        f"INSERT INTO events (id, record_id, seq, event_type, created_at) VALUES ('{uuid.uuid4()}', '{rid}', 3, 'CANCELLED', '2026-01-01T00:00:00Z')",
        f"INSERT INTO events (id, record_id, seq, event_type, created_at) VALUES ('{uuid.uuid4()}', '{rid}', 2, 'SOLD', '2026-01-01T00:00:00Z')",
    ]
    if backend.name == "postgres":
        # CASCADE: the log's leaves reference events, which a plain TRUNCATE refuses anyway.
        statements += ["TRUNCATE events CASCADE", "TRUNCATE records CASCADE", "TRUNCATE log_leaves", "TRUNCATE log_checkpoints"]
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
    assert "10 rows as records: 10 created, 0 already there, 0 retirements applied, 0 skipped, 0 rejected" in first.stdout
    again = run_cli("import", str(sample), env=env)
    assert again.returncode == 0
    assert "10 rows as records: 0 created, 10 already there, 0 retirements applied, 0 skipped, 0 rejected" in again.stdout
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
    # Every row is checked before any is written: rows 3 and 5 (the file's
    # own numbers, the header being row 1) stop the import.
    assert "4 rows as records: 0 created, 0 already there, 0 retirements applied, 0 skipped, 2 rejected — nothing was written" in p.stdout
    # Each problem of row 3 on its own line, with its column and code.
    assert "row 3: vintage: out_of_range: vintage must be a year from 1900 to 2100\n" in p.stdout, p.stdout
    assert "row 3: quantity: not_positive: quantity must be greater than 0" in p.stdout, p.stdout
    assert "row 5: serial_number: missing: serial_number is required" in p.stdout
    p = run_cli("import", "--skip-rejected", str(csv_file), env=env)
    assert "4 rows as records: 2 created, 0 already there, 0 retirements applied, 0 skipped, 2 rejected" in p.stdout


def test_import_errors(tmp_path: Path) -> None:
    env = {"DATABASE_URL": sqlite_url(tmp_path / "x.db")}
    one_line_error(run_cli("import", str(tmp_path / "missing.json"), env=env), "missing.json")
    (tmp_path / "obj.json").write_text('{"a": 1}')
    one_line_error(run_cli("import", str(tmp_path / "obj.json"), env=env), "not a JSON array")
    (tmp_path / "data.xml").write_text("<x/>")
    one_line_error(run_cli("import", str(tmp_path / "data.xml"), env=env), "unknown file type")


@pytest.mark.parametrize("args", [
    ("audit",), ("overlaps",), ("export",), ("keys", "list"), ("keys", "revoke", "desk"),
    ("webhooks", "list"),
])
def test_a_command_on_a_mistyped_sqlite_path_creates_nothing(tmp_path: Path, args: tuple[str, ...]) -> None:
    """A command that reads or changes what is stored, pointed at a SQLite
    file that is not there, is a mistyped path: it says so and creates no
    database (it used to create one and report it empty: 'the log matches
    the events', 'nothing written')."""
    (tmp_path / "records.json").write_text("[]")
    typo = tmp_path / "typo.db"
    p = run_cli(*args, env={"DATABASE_URL": sqlite_url(typo)}, cwd=tmp_path)
    one_line_error(p, "no database at", str(typo))
    assert not typo.exists()


def test_a_dry_run_on_a_missing_sqlite_path_counts_against_an_empty_database_and_creates_none(tmp_path: Path) -> None:
    (tmp_path / "records.json").write_text(
        '[{"project_name": "Wind", "registry": "VCS", "vintage": 2021, "quantity": 5, "serial_number": "VCS-1"}]'
    )
    typo = tmp_path / "typo.db"
    p = run_cli("import", "--dry-run", "records.json", env={"DATABASE_URL": sqlite_url(typo)}, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "no database at" in p.stderr and "(dry run, nothing written): 1 created" in p.stdout, (p.stdout, p.stderr)
    assert not typo.exists()


def test_commands_that_make_a_database_still_do(tmp_path: Path) -> None:
    created = run_cli("keys", "create", "--name", "desk", "--scope", "read",
                      env={"DATABASE_URL": sqlite_url(tmp_path / "keys.db")}, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    (tmp_path / "records.json").write_text("[]")
    imported = run_cli("import", "records.json", env={"DATABASE_URL": sqlite_url(tmp_path / "import.db")}, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr


def test_an_import_report_that_cannot_be_written_stops_before_anything_is_imported(tmp_path: Path) -> None:
    (tmp_path / "records.json").write_text(
        '[{"project_name": "Wind", "registry": "VCS", "vintage": 2021, "quantity": 5, "serial_number": "VCS-1"}]'
    )
    url = sqlite_url(tmp_path / "report.db")
    p = run_cli("import", "--report", str(tmp_path / "missing" / "report.csv"), "records.json",
                env={"DATABASE_URL": url}, cwd=tmp_path)
    one_line_error(p, "cannot write the report", "report.csv")
    assert "created" not in p.stdout, p.stdout
    s = Server(url, tmp_path).start()
    try:
        assert s.get("/records").json["items"] == []
    finally:
        s.stop()


def test_a_log_whose_key_is_missing_is_refused_without_a_new_key(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "log.db")
    s = Server(url, tmp_path).start()
    s.post("/records", new_record())
    assert s.stop() == 0
    key = tmp_path / "log.db.log-key"
    key.rename(tmp_path / "kept.log-key")
    p = subprocess.run([str(SERVER_BIN), "--port", "0"], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                       env={**{k: v for k, v in os.environ.items() if k != "API_TOKEN"}, "DATABASE_URL": url})
    one_line_error(p, "signing key", "missing", "a log keeps its key")
    assert not key.exists()


def test_a_port_in_use_stops_the_server_before_a_database_is_made(tmp_path: Path) -> None:
    """The server takes its port before it opens the database: a port in use
    left a new, migrated SQLite file behind (found by a re-test)."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = run_cli(env={"DATABASE_URL": "sqlite://t.db", "HOST": "127.0.0.1", "PORT": str(port)}, cwd=tmp_path)
    one_line_error(p, f"cannot listen on 127.0.0.1:{port}")
    assert list(tmp_path.iterdir()) == [], "no database is made"

"""Fixtures for the HTTP contract suite: the real server binary on a temporary
database, and a small JSON-over-HTTP client.

The binary is `target/debug/carbon-tracker-server` unless
`CARBON_TRACKER_SERVER` names another. `tests/run` builds it first.

One suite, two backends: the `server` and `fresh_server` fixtures run every
test that uses them on SQLite and on PostgreSQL. The PostgreSQL cluster is a
real one started for the session: `initdb` into a temporary folder, a free
local port, TLS on (so the default `sslmode=prefer` connects over TLS), run
as the `postgres` user when the tests run as root (PostgreSQL refuses root).
Its binaries come from `PG_BINDIR`, else the newest
`/usr/lib/postgresql/*/bin`; `tests/run` installs the package when missing.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER_BIN = Path(
    os.environ.get("CARBON_TRACKER_SERVER", ROOT / "target" / "debug" / "carbon-tracker-server")
)
VECTORS = ROOT / "tests" / "vectors"
SHARED = ROOT.parent / "shared"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass
class Server:
    """One server process; `start()` waits until it listens."""

    database_url: str
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    process: Optional[subprocess.Popen[bytes]] = None
    port: int = 0
    log: Optional[Path] = None

    def start(self, port: int = 0) -> "Server":
        self.log = self.workdir / f"server-{time.monotonic_ns()}.log"
        env = {**os.environ, "DATABASE_URL": self.database_url, "RUST_LOG": "info", **self.env}
        if "API_TOKEN" not in self.env:
            env.pop("API_TOKEN", None)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(SERVER_BIN), "--port", str(port or self.port)],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            marker = "listening on http://127.0.0.1:"
            if marker in text:
                self.port = int(text.split(marker, 1)[1].split()[0])
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited at start:\n{text}")
            time.sleep(0.02)
        raise RuntimeError(f"the server did not start:\n{self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        self.process = None
        return code

    def connection(self, timeout: float = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: Optional[bytes] = None,
        headers: Optional[dict[str, str]] = None,
        conn: Optional[http.client.HTTPConnection] = None,
    ) -> Response:
        hdrs = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        own = conn is None
        c = conn or self.connection()
        try:
            c.request(method, path, body=data, headers=hdrs)
            r = c.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            if own:
                c.close()

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Response:
        return self.request("POST", path, body, **kw)


def sqlite_url(path: Path) -> str:
    """The URL of a SQLite file; an absolute path takes four slashes, as in
    SQLAlchemy (the original service's form)."""
    return f"sqlite:///{path}" if path.is_absolute() else f"sqlite://{path}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Refused(Exception):
    """The database refused a statement with an integrity error."""


def pg_bindir() -> Path:
    if "PG_BINDIR" in os.environ:
        return Path(os.environ["PG_BINDIR"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: tests/run installs it (apt package postgresql), or set PG_BINDIR")
    return found[-1].parent


class PostgresCluster:
    """A throwaway PostgreSQL cluster on 127.0.0.1, owned by the test session."""

    def __init__(self) -> None:
        self.bindir = pg_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="carbon-tracker-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        root = os.geteuid() == 0
        # PostgreSQL will not run as root; the Debian package makes this user.
        self.as_owner = ["runuser", "-u", "postgres", "--"] if root else []
        if root:
            shutil.chown(self.root, "postgres")
        self._owner([str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
        self._owner(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                     "-keyout", str(self.data / "server.key"), "-out", str(self.data / "server.crt")])
        self._owner(["chmod", "600", str(self.data / "server.key")])
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                "ssl = on\nmax_connections = 300\nshared_buffers = 128MB\n"
            )
        self.start()

    def _owner(self, cmd: list[str]) -> None:
        subprocess.run(self.as_owner + cmd, check=True, capture_output=True, cwd=self.root)

    def start(self) -> None:
        self._owner([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "start"])

    def stop(self, mode: str = "fast") -> None:
        self._owner([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def restart(self) -> None:
        self._owner([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "restart"])

    def url(self, dbname: str, query: str = "") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}" + (f"?{query}" if query else "")

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        self.psql("postgres", f"CREATE DATABASE {name}")
        return self.url(name)

    def psql(self, url_or_db: str, sql: str) -> str:
        """Runs `sql`; its output rows, `|`-separated. An integrity error
        (SQLSTATE class 23) raises `Refused`, any other error RuntimeError."""
        db = url_or_db.rsplit("/", 1)[-1].split("?")[0]
        r = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db,
             "-X", "-At", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-c", sql],
            capture_output=True, text=True,
        )
        if r.returncode != 0:
            if "ERROR:  23" in r.stderr:
                raise Refused(r.stderr.strip())
            raise RuntimeError(f"psql failed on {sql!r}: {r.stderr.strip()}")
        return r.stdout.strip()

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    yield cluster
    cluster.destroy()


@dataclass
class Backend:
    """A kind of database: gives fresh database URLs and runs SQL beside the server."""

    name: str
    cluster: Optional[PostgresCluster] = None

    def new_url(self, workdir: Path) -> str:
        if self.cluster is not None:
            return self.cluster.create_database()
        return sqlite_url(workdir / f"db-{uuid.uuid4().hex[:8]}.db")

    def execute(self, url: str, sql: str) -> str:
        """Runs one statement directly on the database; `Refused` on an integrity error."""
        if self.cluster is not None:
            return self.cluster.psql(url, sql)
        path = url.removeprefix("sqlite://")
        path = path[1:] if path.startswith("/") else path
        try:
            with sqlite3.connect(path) as conn:
                return "\n".join("|".join(map(str, row)) for row in conn.execute(sql))
        except sqlite3.IntegrityError as e:
            raise Refused(str(e)) from e


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each test that uses it runs once per backend."""
    if request.param == "postgres":
        return Backend("postgres", request.getfixturevalue("postgres"))
    return Backend("sqlite")


@pytest.fixture(scope="module")
def server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server shared by the tests of one module."""
    workdir = tmp_path_factory.mktemp("server")
    s = Server(backend.new_url(workdir), workdir).start()
    yield s
    assert s.stop() == 0, "the server did not stop cleanly on SIGTERM"


@pytest.fixture
def fresh_server(backend: Backend, tmp_path: Path) -> Iterator[Server]:
    """A server of its own, on an empty database."""
    s = Server(backend.new_url(tmp_path), tmp_path).start()
    yield s
    if s.process is not None:
        s.stop()


def new_record(**overrides: Any) -> dict[str, Any]:
    """A valid record that no other test uses."""
    record: dict[str, Any] = {
        "project_name": "Contract Test Project",
        "registry": "VCS",
        "vintage": 2023,
        "quantity": 100,
        "serial_number": f"CT-{uuid.uuid4()}",
    }
    record.update(overrides)
    return record


def assert_problem(r: Response, status: int, code: Optional[str] = None) -> dict[str, Any]:
    """`r` is an RFC 9457 problem with `status` (and `code`)."""
    assert r.status == status, (r.status, r.raw[:500])
    assert r.content_type.startswith("application/problem+json"), r.content_type
    body = r.json
    for key in ("type", "title", "status", "detail"):
        assert key in body, (key, body)
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    if code is not None:
        assert body["code"] == code, body
    return dict(body)

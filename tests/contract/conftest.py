"""Fixtures for the HTTP contract suite: the real server binary on a temporary
database, and a small JSON-over-HTTP client.

The binary is `target/debug/carbon-tracker-server` unless
`CARBON_TRACKER_SERVER` names another. `tests/run` builds it first.

One suite, two backends: the `server` and `fresh_server` fixtures run every
test that uses them on SQLite and on PostgreSQL, a real cluster started for
the session (see `pgcluster.py`).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from pgcluster import PostgresCluster, Refused

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
        return self.wait_listening()

    def wait_listening(self) -> "Server":
        """Waits until the started process listens; its port is read from the log."""
        assert self.process is not None and self.log is not None
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

    def log_text(self) -> str:
        """What the server has logged so far (it was started)."""
        assert self.log is not None
        return self.log.read_text(errors="replace")

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
    """`r` is an RFC 9457 problem with `status` (and `code`), and a `help`
    that says what to do (the README promises one on every error)."""
    assert r.status == status, (r.status, r.raw[:500])
    assert r.content_type.startswith("application/problem+json"), r.content_type
    body = r.json
    for key in ("type", "title", "status", "detail"):
        assert key in body, (key, body)
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body.get("help"), str) and body["help"], ("no help", body)
    if code is not None:
        assert body["code"] == code, body
    return dict(body)

"""A throwaway PostgreSQL cluster on 127.0.0.1, for the contract suite and
the server benchmark: `initdb` into a temporary folder, a free local port, TLS
on with a self-signed certificate (so the default `sslmode=prefer` connects
over TLS), run as the `postgres` user when the caller is root (PostgreSQL
refuses root). Its binaries come from `PG_BINDIR`, else the newest
`/usr/lib/postgresql/*/bin`; `tests/run` installs the package when missing.

No pytest here, so `server/bench/bench.py` can use it too.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


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

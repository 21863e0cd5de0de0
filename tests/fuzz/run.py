"""The outside fuzzer (issue 15, item 5): Schemathesis against the real server
binary's own `/openapi.json`, on a fresh SQLite database and on a fresh
PostgreSQL database (a throwaway cluster, `tests/contract/pgcluster.py`).

Each server runs with an API token (`API_TOKEN`), which Schemathesis sends as
`Authorization: Bearer <token>` on every request. Every check is on
(`--checks all`: no server error, status code, content type, response
headers and response schema conformance, negative data rejection, positive
data acceptance, …), every phase runs (examples, coverage, fuzzing, and the
stateful phase, which follows the document's OpenAPI links: create → get,
sell, retire, cancel, events, lineage), with a fixed seed and a bounded
number of examples per operation so that both backends together take well
under three minutes on two cores.

    tests/fuzz/run.py                     # both backends
    tests/fuzz/run.py sqlite              # one
    FUZZ_EXAMPLES=200 tests/fuzz/run.py   # more examples per operation

Exit status: 0 when Schemathesis finds nothing on either backend.
Schemathesis comes from the test virtualenv (`tests/run` installs the pinned
version with the other test tools); its reports (JUnit XML, and a pytest file
reproducing each failure) go to `$FUZZ_REPORTS`, else a temporary folder.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "contract"))

from conftest import SERVER_BIN, Server, sqlite_url  # noqa: E402
from pgcluster import PostgresCluster  # noqa: E402

SEED = 1
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
BACKENDS = ("sqlite", "postgres")


def schemathesis() -> str:
    """The `schemathesis` command beside this interpreter (the test virtualenv)."""
    beside = Path(sys.executable).parent / "schemathesis"
    if not beside.exists():
        raise SystemExit(
            f"tests/fuzz/run.py: {beside} not found: run with the test virtualenv's python (tests/run installs schemathesis)"
        )
    return str(beside)


def fuzz(backend: str, database_url: str, workdir: Path, reports: Path) -> bool:
    """Runs Schemathesis against one server on `database_url`; True when it found nothing."""
    token = secrets.token_hex(32)
    server = Server(database_url, workdir, env={"API_TOKEN": token}).start()
    base = f"http://127.0.0.1:{server.port}"
    command = [
        schemathesis(), "--config-file", str(HERE / "schemathesis.toml"), "run", f"{base}/openapi.json",
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--seed", str(SEED),
        "--max-examples", str(EXAMPLES),
        "--generation-database", "none",
        # One worker: two in threads crash CPython 3.11's `ast` inside
        # Hypothesis now and then ("AST constructor recursion depth mismatch").
        "--workers", "1",
        "--header", f"Authorization: Bearer {token}",
        "--request-timeout", "30",
        "--no-color",
        "--report", "junit,pytest",
        "--report-dir", str(reports / backend),
    ]
    print(f"\n--- {backend}: {' '.join(c if token not in c else c.replace(token, '<token>') for c in command)}", flush=True)
    t0 = time.monotonic()
    try:
        env = {
            **os.environ,
            "SCHEMATHESIS_TELEMETRY": "false",
            # hooks.py: a valid generated Idempotency-Key is made unique.
            "SCHEMATHESIS_HOOKS": "hooks",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        }
        result = subprocess.run(command, env=env)
    finally:
        code = server.stop()
    print(f"--- {backend}: schemathesis exited {result.returncode} in {time.monotonic() - t0:.0f}s; the server exited {code}", flush=True)
    if code != 0 and server.log is not None:
        print(server.log.read_text(errors="replace")[-4000:], file=sys.stderr)
    return result.returncode == 0 and code == 0


def main(argv: list[str]) -> int:
    backends = argv or list(BACKENDS)
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise SystemExit(f"tests/fuzz/run.py: unknown backend {sorted(unknown)}; choose from {BACKENDS}")
    if not SERVER_BIN.exists():
        raise SystemExit(f"tests/fuzz/run.py: {SERVER_BIN} not found: build the server (tests/run does) or set CARBON_TRACKER_SERVER")
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="carbon-tracker-fuzz-") as tmp:
        root = Path(tmp)
        reports = Path(os.environ.get("FUZZ_REPORTS", root / "reports"))
        for backend in backends:
            workdir = root / backend
            workdir.mkdir()
            if backend == "postgres":
                cluster = PostgresCluster()
                try:
                    ok = fuzz(backend, cluster.create_database(), workdir, reports)
                finally:
                    cluster.destroy()
            else:
                ok = fuzz(backend, sqlite_url(workdir / "fuzz.db"), workdir, reports)
            if not ok:
                failed.append(backend)
        if failed and "FUZZ_REPORTS" not in os.environ:
            print(f"(set FUZZ_REPORTS=<folder> to keep the reports)", file=sys.stderr)
    if failed:
        print(f"\nFUZZ FAILED on {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"\nfuzz: no failures on {', '.join(backends)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

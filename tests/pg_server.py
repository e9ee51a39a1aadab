"""A real PostgreSQL server for the tests: initdb + postgres on a free loopback port.

``postgres_server`` (session-scoped) runs ``initdb`` and ``pg_ctl start`` in a temporary
directory, listening on 127.0.0.1 only, with a random password (scram-sha-256), and stops the
server and removes the directory at the end. PostgreSQL refuses to run as root: as root the
server runs as the ``postgres`` OS user (made by the Debian package) through ``runuser``.
``postgres_url`` (per test) creates a fresh database and returns its ``postgresql://`` URL.
Without PostgreSQL (``bash scripts/install-postgres.sh`` installs it) or psycopg, the tests
that use them skip with the reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

_USER = "rair"


@dataclass(frozen=True)
class PostgresServer:
    """A running test server: ``url(database)`` gives a connection URL."""

    host: str
    port: int
    password: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{_USER}:{self.password}@{self.host}:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = "rair_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major, reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _major(path: str) -> int:
    try:
        return int(Path(path).parts[-3])
    except (IndexError, ValueError):
        return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    """``argv`` run as the ``postgres`` OS user when we are root (postgres refuses root)."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for the whole session (skips with a reason when unavailable)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install -e .)")
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (bash scripts/install-postgres.sh as root)")
    if os.geteuid() == 0:
        try:
            server_user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' OS user to run PostgreSQL")
    root = Path(tempfile.mkdtemp(prefix="rair-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    password = secrets.token_urlsafe(16)
    pwfile = root / "pw"
    pwfile.write_text(password)
    if os.geteuid() == 0:
        for path in (root, sockets, pwfile):
            os.chown(path, server_user.pw_uid, server_user.pw_gid)
    port = _free_port()
    log = root / "server.log"

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _as_server_user(list(argv)), capture_output=True, text=True, timeout=120, check=False
        )

    init = run(
        str(bin_dir / "initdb"), "-D", str(data), "-U", _USER, "--pwfile", str(pwfile),
        "-A", "scram-sha-256", "-E", "UTF8", "--no-instructions",
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
    options = f"-h 127.0.0.1 -p {port} -k {sockets} -c max_connections=100"
    start = run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
                "-w", "-t", "60", "start")
    if start.returncode != 0:
        detail = log.read_text()[-500:] if log.exists() else start.stderr
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {detail.strip()}")
    try:
        yield PostgresServer("127.0.0.1", port, password)
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server):
    """The URL of a fresh, empty database on the session's server."""
    return postgres_server.create_database()

"""Root fixtures: real databases for tests.

- ``pg_server`` (session): a throwaway PostgreSQL cluster on 127.0.0.1, started once per run.
  It FAILS (never skips) when PostgreSQL cannot start: ``scripts/test`` installs it.
- ``postgres_url`` / ``sqlite_url`` (function): a fresh database of each engine, already migrated
  (a copy of a template migrated once per run); ``empty_database_url``: one with no tables.
- ``database_url`` (function, parametrized "sqlite"/"postgres"): one test, both engines.
- ``make_settings(database_url, tmp_path, **overrides)``: ``Settings`` for a test.
"""

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mailhelpdesk.config import Settings, load_settings

TEST_SECRET_KEY = "test-secret-key-" + "x" * 32


# --- PostgreSQL ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PgServer:
    bin_dir: Path
    port: int
    url: str  # postgres://postgres@127.0.0.1:PORT (no database)

    def psql(self, sql: str) -> None:
        """Run one statement as the superuser (CREATE DATABASE cannot share a -c)."""
        cmd = [str(self.bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
               "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-c", sql]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            pytest.fail(f"psql {sql!r} failed ({done.returncode}):\n{done.stdout}{done.stderr}", pytrace=False)


def _pg_bin_dir() -> Path:
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").is_file()]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if not found:
        pytest.fail("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
                    "(run `bash scripts/test`, which installs them)", pytrace=False)
    return found[-1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the ``postgres`` user when we are root."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str], log: list[str]) -> bool:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.append(f"$ {' '.join(cmd)}\n{exc}")
        return False
    log.append(f"$ {' '.join(cmd)}\n[exit {done.returncode}]\n{done.stdout}{done.stderr}")
    return done.returncode == 0


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A throwaway PostgreSQL cluster: trust auth, superuser ``postgres``, fsync off."""
    bin_dir = _pg_bin_dir()
    root = os.geteuid() == 0
    # As root the server runs as ``postgres``, which must reach the directory: use /tmp itself.
    base = Path(tempfile.mkdtemp(prefix="mhd-pg-", dir="/tmp" if root else None))
    data, server_log = base / "data", base / "server.log"
    log: list[str] = []
    if root:
        shutil.chown(base, "postgres", "postgres")
    started = False
    try:
        if not _run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]), log):
            pytest.fail("initdb failed:\n" + "\n".join(log), pytrace=False)
        for _attempt in range(3):  # the free port can be taken between probe and start
            port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
            started = _run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(server_log),
                                         "-w", "-t", "60", "-o", options, "start"]), log)
            if started:
                break
        if not started:
            pytest.fail("PostgreSQL did not start:\n" + "\n".join(log) + "\n--- server.log ---\n"
                        + _read(server_log), pytrace=False)
        yield PgServer(bin_dir, port, f"postgres://postgres@127.0.0.1:{port}")
    finally:
        if started:
            _run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "60",
                               "stop"]), log)
        shutil.rmtree(base, ignore_errors=True)


async def _migrate(database_url: str) -> None:
    from mailhelpdesk.store.db import close_database, open_database

    await open_database(database_url)
    await close_database()


@pytest.fixture(scope="session")
def postgres_template(pg_server: PgServer) -> str:
    """A database migrated once per run: each test's database is a copy (CREATE DATABASE … TEMPLATE)."""
    name = f"template_{uuid.uuid4().hex[:12]}"
    pg_server.psql(f'CREATE DATABASE "{name}"')
    asyncio.run(_migrate(f"{pg_server.url}/{name}"))
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per run: each test gets a copy (migrating takes most of a second)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    asyncio.run(_migrate(f"sqlite://{path}"))
    return path


@pytest.fixture
def postgres_url(pg_server: PgServer, postgres_template: str) -> str:
    """A fresh database in the session's PostgreSQL server, migrated."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    pg_server.psql(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    return f"{pg_server.url}/{name}"


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh SQLite database, migrated."""
    path = tmp_path / "mailhelpdesk.sqlite3"
    shutil.copyfile(sqlite_template, path)
    path.chmod(0o600)
    return f"sqlite://{path}"


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"),
                        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test on both engines (PostgreSQL only starts when such a test runs); migrated."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"),
                        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables yet, on each engine: for tests of the migrations themselves."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/empty.sqlite3"
    server: PgServer = request.getfixturevalue("pg_server")
    name = f"empty_{uuid.uuid4().hex[:16]}"
    server.psql(f'CREATE DATABASE "{name}"')
    return f"{server.url}/{name}"


# --- settings --------------------------------------------------------------------------------

MakeSettings = Callable[..., Settings]


def build_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings isolated from the machine: no real environment, data under ``tmp_path``."""
    return load_settings(
        overrides={**overrides, "data_dir": tmp_path, "database_url": database_url},
        environ={"MAILHELPDESK_SECRET_KEY": TEST_SECRET_KEY},
    )


@pytest.fixture
def make_settings() -> MakeSettings:
    """``make_settings(database_url, tmp_path, **overrides) -> Settings``."""
    return build_settings

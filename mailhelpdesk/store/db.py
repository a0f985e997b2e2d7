"""Opening the database and applying migrations."""

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tortoise import Tortoise
from tortoise.backends.base import executor
from tortoise.exceptions import DBConnectionError
from tortoise.migrations.api.migrate import migrate

from mailhelpdesk.errors import StoreError

MODELS_MODULE = "mailhelpdesk.store.models"
MIGRATIONS_MODULE = "mailhelpdesk.store.migrations"


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": database_url},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def ensure_sqlite_directory(database_url: str) -> None:
    """SQLite needs its directory to exist, and a new database file is created readable by its
    owner only: it holds every customer's mail and the agents' password hashes (SQLite gives
    its -wal and -shm files the same mode). Other engines need nothing."""
    path = _sqlite_path(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # an empty file is an empty database
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


async def open_database(database_url: str) -> None:
    """Connect and bring the schema up to date; must run in the task that uses the ORM."""
    ensure_sqlite_directory(database_url)
    # Tortoise caches prepared INSERT/DELETE SQL per connection *name*, not per engine:
    # reopening "default" on another engine in the same process would reuse SQLite's
    # "?" placeholders on PostgreSQL. Start clean on every open.
    executor.EXECUTOR_CACHE.clear()
    config = tortoise_config(database_url)
    try:
        async with _migrating_alone(database_url):
            await migrate(config=config)
        await Tortoise.init(config=config)
    except (OSError, DBConnectionError) as exc:
        raise StoreError(f"cannot connect to the database at {_redacted(database_url)}: {exc}") from exc


# pg_advisory_lock's key while migrating: other than the scheduler's (scheduler_lease).
_MIGRATION_KEY = 0x6D68645F6D696772  # "mhd_migr"


@contextlib.asynccontextmanager
async def _migrating_alone(database_url: str) -> AsyncIterator[None]:
    """Processes started together on one database (``serve --role``) migrate one at a time; the
    others wait, then find nothing left to do. PostgreSQL: an advisory lock on a connection of
    its own. SQLite: an exclusive flock on the database's directory (a lock file would be left
    beside the database)."""
    if not database_url.startswith(("postgres://", "postgresql://")):
        async with _directory_locked(_sqlite_path(database_url)):
            yield
        return
    try:
        connection = await own_connection(database_url, timeout=30)
    except Exception as exc:  # refused, unreachable, bad password: all "cannot connect", said once
        raise DBConnectionError(str(exc)) from exc
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", _MIGRATION_KEY)
        yield
    finally:
        await connection.close()  # the lock goes with the session


@contextlib.asynccontextmanager
async def _directory_locked(path: Path | None) -> AsyncIterator[None]:
    if path is None:
        yield
        return
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing it lets the next one in


# The libpq connection options asyncpg reads from a DSN. The URL may also carry Tortoise's own
# (minsize, maxsize …), which asyncpg would send to the server as settings it refuses.
_LIBPQ_OPTIONS = frozenset({"sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword", "passfile",
                            "target_session_attrs", "ssl_min_protocol_version", "ssl_max_protocol_version"})


async def own_connection(database_url: str, timeout: float) -> Any:
    """A PostgreSQL connection beside Tortoise's pool, for locks that live as long as a session
    (the scheduler lease, the migration lock)."""
    import asyncpg  # type: ignore[import-untyped]  # only PostgreSQL installations need it loaded

    return await asyncpg.connect(asyncpg_dsn(database_url), timeout=timeout)


def asyncpg_dsn(database_url: str) -> str:
    """A DSN for a connection of our own beside Tortoise's pool (locks that live as long as a
    session), keeping the URL's TLS options: ``ssl=true`` as Tortoise takes it means ``sslmode=require``."""
    parts = urlsplit(database_url)
    options = [(k, v) for k, v in parse_qsl(parts.query) if k in _LIBPQ_OPTIONS]
    if not any(k == "sslmode" for k, _ in options) and dict(parse_qsl(parts.query)).get("ssl", "").lower() in (
            "true", "require", "1"):
        options.append(("sslmode", "require"))
    return urlunsplit(parts._replace(scheme="postgresql", query=urlencode(options)))


def _sqlite_path(database_url: str) -> Path | None:
    if not database_url.startswith("sqlite://") or ":memory:" in database_url:
        return None
    return Path(database_url.removeprefix("sqlite://").split("?", 1)[0])


def _redacted(url: str) -> str:
    """The URL without its password: errors are logged and shown."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


async def close_database() -> None:
    await Tortoise.close_connections()

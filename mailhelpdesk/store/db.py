"""Opening the database and applying migrations."""

import contextlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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
    if database_url.startswith("sqlite://") and ":memory:" not in database_url:
        path = Path(database_url.removeprefix("sqlite://").split("?", 1)[0])
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
        await migrate(config=config)
        await Tortoise.init(config=config)
    except (OSError, DBConnectionError) as exc:
        raise StoreError(f"cannot connect to the database at {_redacted(database_url)}: {exc}") from exc


def _redacted(url: str) -> str:
    """The URL without its password: errors are logged and shown."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


async def close_database() -> None:
    await Tortoise.close_connections()

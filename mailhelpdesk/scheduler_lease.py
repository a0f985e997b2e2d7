"""Exactly one active scheduler among the processes that share a database.

The timer job (SLA warnings and breaches, timed rules) must fire once, not once per
process. A process with the ``scheduler`` role runs the jobs only while it holds the lease:
on PostgreSQL a session advisory lock on a connection of its own, on SQLite an exclusive
``flock`` on a file beside the data. Both are released by the operating system or the
database server when the holder dies, however it dies, so a standby takes over at its next
try without any expiry to tune.
"""

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from mailhelpdesk.store.db import own_connection

log = logging.getLogger(__name__)

# pg_try_advisory_lock's key: any 64-bit number other applications on the server do not use.
ADVISORY_KEY = 0x6D68645F73636864  # "mhd_schd"


class Lease(Protocol):
    async def acquire(self) -> bool: ...

    async def held(self) -> bool: ...

    async def release(self) -> None: ...


class PostgresLease:
    """A session advisory lock, on a connection that lives as long as the lease."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._connection: Any = None

    async def acquire(self) -> bool:
        try:
            if self._connection is None or self._connection.is_closed():
                self._connection = await own_connection(self._database_url, timeout=10)
            return bool(await self._connection.fetchval("SELECT pg_try_advisory_lock($1)", ADVISORY_KEY))
        except Exception as exc:  # noqa: BLE001 - any failure to reach it: stand by and try again
            log.warning("cannot reach the database for the scheduler lease: %s: %s", type(exc).__name__, exc)
            await self.release()
            return False

    async def held(self) -> bool:
        """Still ours: the lock's connection answers (a lost connection has lost the lock)."""
        try:
            return self._connection is not None and await self._connection.fetchval("SELECT 1") == 1
        except Exception:  # noqa: BLE001 - any failure of the connection means the lock is gone
            return False

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close(timeout=5)


class FileLease:
    """An exclusive flock on a file: for processes on one host sharing a SQLite database."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    async def acquire(self) -> bool:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def held(self) -> bool:
        return self._fd is not None

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the lock


def lease_for(database_url: str, data_dir: Path) -> Lease:
    if database_url.startswith(("postgres://", "postgresql://")):
        return PostgresLease(database_url)
    return FileLease(data_dir / "scheduler.lock")


async def while_leased(lease: Lease, start: Callable[[], Callable[[], None]], stopping: asyncio.Event,
                       retry: float = 5.0) -> None:
    """Run ``start()`` (which returns its own stop) whenever the lease is ours, until ``stopping``."""
    try:
        while not stopping.is_set():
            if await lease.acquire():
                log.warning("this process runs the scheduler")
                stop = start()
                while not stopping.is_set() and await lease.held():
                    await _wait(stopping, retry)
                stop()
                if not stopping.is_set():
                    log.error("the scheduler lease was lost; trying to take it again")
                    await lease.release()
            else:
                await _wait(stopping, retry)
    finally:
        await lease.release()


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)

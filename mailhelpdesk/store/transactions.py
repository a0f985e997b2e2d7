"""Transactions that survive the database going away.

Tortoise keeps each task's connection in a ContextVar, set while a transaction is open. When
the database goes away (a restart, a failover, a full disk), two of its paths leave that
variable pointing at the dead transaction for good: ``BEGIN`` failing after the connection was
taken (the exit that resets it never runs, and the connection is never given back to the
pool), and a failed rollback or release on the way out. Every later statement of that task
then fails with "connection is closed", so a long-running loop (the inbound worker, the
sender, a fetcher) would never recover once the database is back. Here the task's
connections are put back as they were whenever entering or leaving fails.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction


@contextlib.asynccontextmanager
async def transaction() -> AsyncIterator[Any]:
    """A database transaction (a savepoint inside another one)."""
    saved = connections._copy_storage()
    context = in_transaction()
    try:
        client = await context.__aenter__()
    except BaseException as exc:
        if getattr(context, "token", None) is not None:  # the connection was taken: give it back
            await _leave(context, saved, exc)
        connections._set_storage(saved)
        raise
    try:
        yield client
    except BaseException as exc:
        await _leave(context, saved, exc)
        raise
    await _leave(context, saved, None)


async def _leave(context: Any, saved: dict[str, Any], exc: BaseException | None) -> None:
    """Commit (or roll back after ``exc``); if that fails, the task's connections are restored.
    A failed rollback is not raised over the error that caused it: that one says what happened."""
    tb: TracebackType | None = exc.__traceback__ if exc is not None else None
    try:
        await context.__aexit__(type(exc) if exc is not None else None, exc, tb)
    except BaseException as failure:
        connections._set_storage(saved)
        if exc is None or isinstance(failure, asyncio.CancelledError):
            raise

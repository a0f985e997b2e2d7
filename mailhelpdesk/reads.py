"""The light half of the composition root: the database and its stores, for commands that only read.

``mailhelpdesk.app`` builds the whole runtime, and importing it loads the mail pipeline, the
templates and the ticket service. A command that lists or shows what is stored needs none of
that, so this module imports nothing beyond the store; it is kept apart from ``app`` for that
reason alone. Opening the database migrates it here too: every command migrates on start.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from mailhelpdesk.config import Settings
from mailhelpdesk.store.db import close_database, open_database
from mailhelpdesk.store.outbox import OutboxStore

if TYPE_CHECKING:
    from mailhelpdesk.store.repository import Repository


class Reads:
    """What a read-only command may use: the settings, the outbox store and the repository."""

    __slots__ = ("_repo", "outbox", "settings")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.outbox = OutboxStore()
        self._repo: Repository | None = None

    @property
    def repo(self) -> "Repository":
        # Built on first use: the repository imports the rules engine, which most reads never touch
        # (about a tenth of the start-up of ``tickets list``).
        if self._repo is None:
            from mailhelpdesk.store.repository import Repository

            self._repo = Repository()
        return self._repo


@asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[Reads]:
    """Open the database (migrating it) and yield the stores; close on exit."""
    await open_database(settings.database_url)
    try:
        yield Reads(settings)
    finally:
        await close_database()

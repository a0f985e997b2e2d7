"""How far each IMAP folder has been read, and how its last fetch went."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailhelpdesk.store.sql import Sql, from_db_datetime

_UPSERT = (
    'INSERT INTO "imap_folder_state" ("mailbox", "folder", "uidvalidity", "last_uid", "fetched_at", "error",'
    ' "failures") VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT ("mailbox", "folder") DO UPDATE SET'
)


@dataclass(frozen=True, slots=True)
class FolderState:
    mailbox: str
    folder: str
    uidvalidity: int
    last_uid: int
    fetched_at: datetime | None
    error: str
    failures: int


class ImapStates:
    def __init__(self) -> None:
        self._sql = Sql()

    async def get(self, mailbox: str, folder: str) -> FolderState | None:
        row = await self._sql.first(f'SELECT {_COLUMNS} FROM "imap_folder_state" WHERE "mailbox" = ? AND "folder" = ?',
                                    mailbox, folder)
        return _state(row) if row is not None else None

    async def advance(self, mailbox: str, folder: str, uidvalidity: int, last_uid: int, at: datetime) -> None:
        """Mail up to ``last_uid`` is stored (committed before this is called)."""
        await self._sql.execute(
            f'{_UPSERT} "uidvalidity" = ?, "last_uid" = ?, "fetched_at" = ?, "error" = \'\', "failures" = 0',
            mailbox, folder, uidvalidity, last_uid, at, "", 0, uidvalidity, last_uid, at)

    async def failed(self, mailbox: str, folder: str, error: str, at: datetime) -> int:
        """Record a failed fetch; how many failed in a row."""
        await self._sql.execute(
            f'{_UPSERT} "error" = ?, "failures" = "imap_folder_state"."failures" + 1',
            mailbox, folder, 0, 0, None, error[:2000], 1, error[:2000])
        state = await self.get(mailbox, folder)
        return state.failures if state is not None else 1

    async def all(self) -> list[FolderState]:
        rows = await self._sql.rows(f'SELECT {_COLUMNS} FROM "imap_folder_state" ORDER BY "mailbox", "folder"')
        return [_state(r) for r in rows]


_COLUMNS = '"mailbox", "folder", "uidvalidity", "last_uid", "fetched_at", "error", "failures"'


def _state(row: Sequence[Any]) -> FolderState:
    fetched = from_db_datetime(row[4]) if row[4] is not None else None
    return FolderState(str(row[0]), str(row[1]), int(row[2]), int(row[3]), fetched, str(row[5]), int(row[6]))

"""How far each IMAP folder has been read, and how its last fetch went."""

from dataclasses import dataclass
from datetime import datetime

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
        row = await self._sql.first(
            'SELECT "uidvalidity", "last_uid", "fetched_at", "error", "failures" FROM "imap_folder_state"'
            ' WHERE "mailbox" = ? AND "folder" = ?', mailbox, folder)
        if row is None:
            return None
        fetched = from_db_datetime(row[2]) if row[2] is not None else None
        return FolderState(mailbox, folder, int(row[0]), int(row[1]), fetched, str(row[3]), int(row[4]))

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
        rows = await self._sql.rows(
            'SELECT "mailbox", "folder", "uidvalidity", "last_uid", "fetched_at", "error", "failures"'
            ' FROM "imap_folder_state" ORDER BY "mailbox", "folder"')
        return [FolderState(str(r[0]), str(r[1]), int(r[2]), int(r[3]),
                            from_db_datetime(r[4]) if r[4] is not None else None, str(r[5]), int(r[6]))
                for r in rows]

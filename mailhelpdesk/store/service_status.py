"""What an admin watches: the inbound backlog, the outbox, the breaker, each IMAP folder."""

from collections import Counter
from dataclasses import dataclass

from mailhelpdesk.store.imap_state import FolderState, ImapStates
from mailhelpdesk.store.outbox import OutboxStore
from mailhelpdesk.store.sql import Sql


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    inbound: Counter[str]  # inbound rows by state
    outbox: Counter[str]  # outbox rows by status
    breaker: str  # why the outbox breaker is tripped, '' when mail flows
    folders: list[FolderState]

    @property
    def needs_attention(self) -> bool:
        return bool(self.breaker) or any(f.error for f in self.folders)


async def read_status(outbox_store: OutboxStore) -> ServiceStatus:
    sql = Sql()
    inbound = Counter({str(r[0]): int(r[1]) for r in await sql.rows(
        'SELECT "state", COUNT(*) FROM "inbound" GROUP BY "state"')})
    outbox = Counter({str(r[0]): int(r[1]) for r in await sql.rows(
        'SELECT "status", COUNT(*) FROM "outbox" GROUP BY "status"')})
    return ServiceStatus(inbound, outbox, await outbox_store.breaker_tripped(), await ImapStates().all())

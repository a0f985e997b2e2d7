"""Writing what the rules decided for a ticket: its events and its SLA timers.

The ticket's columns come from ``rules.effects.ticket_columns``; the caller writes them with
whatever else it changes (a new ticket is inserted with them).
"""

from dataclasses import dataclass
from datetime import datetime

from mailhelpdesk.domain.types import DONE_STATUSES
from mailhelpdesk.rules.effects import rule_events
from mailhelpdesk.rules.result import RulesResult
from mailhelpdesk.sla.deadlines import Deadline
from mailhelpdesk.store.repository import Repository, StoredTicket
from mailhelpdesk.store.timers import TimerStore


@dataclass(frozen=True, slots=True)
class RuleWriter:
    repo: Repository
    timers: TimerStore

    async def record(self, ticket_id: int, result: RulesResult | None, at: datetime,
                     inbound_id: int | None = None, stored: StoredTicket | None = None,
                     now: datetime | None = None) -> None:
        """One event per fired rule and near miss, the SLA policy and clock events, the timers.
        ``stored`` is the ticket before the event (None for a new ticket); ``now`` the action's clock."""
        if result is None:
            return
        await self.repo.events(rule_events(result, at), ticket_id=ticket_id, inbound_id=inbound_id, at=now or at)
        if result.after.status in DONE_STATUSES:
            await self.timers.drop_unfired(ticket_id)
            return
        await self.timers.shift(ticket_id, result.sla)
        if stored is not None and stored.state.status in DONE_STATUSES:  # after the shift: already moved
            await self.timers.schedule(ticket_id, _restored(result, stored))
        await self.timers.schedule(ticket_id, result.sla.writes, new_ticket=stored is None)


def _restored(result: RulesResult, stored: StoredTicket) -> dict[str, Deadline | None]:
    """A reopened ticket's deadlines get their timers back (their warnings are not known any more)."""
    return {target: Deadline(target, result.sla.shifted(due), "restored on reopening")
            for target, due in stored.dues.items() if due is not None and target not in result.sla.writes}

"""Writing what the rules decided for a ticket: its events and its SLA timers.

The ticket's columns come from ``rules.effects.ticket_columns``; the caller writes them with
whatever else it changes (a new ticket is inserted with them).
"""

from dataclasses import dataclass
from datetime import datetime

from mailhelpdesk.domain.types import DONE_STATUSES
from mailhelpdesk.rules.effects import rule_events
from mailhelpdesk.rules.result import RulesResult
from mailhelpdesk.store.repository import Repository
from mailhelpdesk.store.timers import TimerStore


@dataclass(frozen=True, slots=True)
class RuleWriter:
    repo: Repository
    timers: TimerStore

    async def record(self, ticket_id: int, result: RulesResult | None, at: datetime,
                     inbound_id: int | None = None) -> None:
        """One event per fired rule and near miss, the SLA policy and clock events, the timers."""
        if result is None:
            return
        for kind, data in rule_events(result, at):
            await self.repo.event(kind, data, ticket_id=ticket_id, inbound_id=inbound_id)
        if result.after.status in DONE_STATUSES:
            await self.timers.drop_unfired(ticket_id)
            return
        await self.timers.shift(ticket_id, result.sla)
        await self.timers.schedule(ticket_id, result.sla.writes)

"""The closing flow: a resolved ticket closes by itself after N business days of silence.

The closing request promises a date; the same computation schedules the timer that keeps
the promise. A reply before then reopens the ticket and the timer is dropped.
"""

from dataclasses import dataclass
from datetime import datetime

from mailhelpdesk.domain.types import TicketStatus
from mailhelpdesk.outbound.context import Moments
from mailhelpdesk.outbound.planner import TicketChange
from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.sla.calendar import BusinessCalendar
from mailhelpdesk.sla.days import after_business_days
from mailhelpdesk.store.timers import TimerStore

_RESOLVED = TicketStatus.RESOLVED.value


@dataclass(frozen=True, slots=True)
class Closing:
    timers: TimerStore

    async def follow(self, ticket_id: int, change: TicketChange, ruleset: RuleSet, at: datetime) -> Moments:
        was = change.before.status if change.before is not None else ""
        now = change.after.status
        if now == _RESOLVED and was != _RESOLVED:
            close_at = close_time(ruleset, at)
            if close_at is not None:
                await self.timers.schedule_auto_close(ticket_id, close_at)
            return Moments(close_at)
        if was == _RESOLVED and now != _RESOLVED:
            await self.timers.drop_auto_close(ticket_id)
        return Moments()


def close_time(ruleset: RuleSet, resolved_at: datetime) -> datetime | None:
    """When a ticket resolved at ``resolved_at`` closes if the customer stays silent."""
    calendar = ruleset.sla_calendar or BusinessCalendar.always_open()
    return after_business_days(calendar, resolved_at, ruleset.replies.close_after_days)

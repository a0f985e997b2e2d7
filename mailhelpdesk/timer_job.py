"""The timer job: fire due SLA warnings and breaches and timed triggers, each once.

Every run looks only at due rows (indexed), claims each in its own transaction (see
``store/timers.py``), runs the rules for its event over the ticket, writes what they
decided and records the firing as a ticket event. Several processes may run the job at
once: a claim that another process won is skipped. A timer whose rules fail is recorded as
failed on its ticket instead of being retried for ever.
"""

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from mailhelpdesk.domain.types import TicketStatus
from mailhelpdesk.rules.result import RulesResult, run_rules
from mailhelpdesk.rules.ruleset import RuleSet, Trigger
from mailhelpdesk.store.repository import Repository, StoredTicket, transaction
from mailhelpdesk.store.timers import AUTO_CLOSE, SLA_EVENTS, DueTimer, TimerStore
from mailhelpdesk.tickets.actor import TIMER, Moment
from mailhelpdesk.tickets.service import TicketService

log = logging.getLogger(__name__)
_EVENT_KINDS = {"sla_warning": "sla.warning", "sla_breached": "sla.breached", AUTO_CLOSE: "ticket.auto_closed"}


@dataclass(frozen=True, slots=True)
class TimerJob:
    repo: Repository
    timers: TimerStore
    service: TicketService
    rules: Callable[[], RuleSet]
    batch: int = 500  # timers per kind per run; the next run takes the rest

    async def run(self, now: datetime) -> Counter[str]:
        """Fire what is due at ``now``; counts by event ('taken' = fired by another process)."""
        tally: Counter[str] = Counter()
        for timer in await self._due(now):
            tally[await self._fire_safely(timer, now)] += 1
        return tally

    async def _due(self, now: datetime) -> list[DueTimer]:
        due = await self.timers.due_sla(now, self.batch) + await self.timers.due_auto_close(now, self.batch)
        for trigger in self.rules().timed_triggers():
            assert trigger.after is not None
            find = self.timers.due_pending if trigger.event == "pending_for" else self.timers.due_quiet
            due += await find(trigger.after, trigger.label, now, self.batch)
        return due

    async def _fire_safely(self, timer: DueTimer, now: datetime) -> str:
        try:
            async with transaction():
                return await self._fire(timer, now)
        except Exception as exc:  # one bad ticket must not stop the others' timers
            log.exception("timer %s %s of ticket %s failed", timer.event, timer.target, timer.ticket_id)
            async with transaction():
                if await self.timers.claim(timer, now):
                    await self.repo.event("timer.failed", {**_describe(timer), "error": repr(exc)[:500]},
                                          ticket_id=timer.ticket_id, actor=str(TIMER), at=now)
            return "failed"

    async def _fire(self, timer: DueTimer, now: datetime) -> str:
        if not await self.timers.claim(timer, now):
            return "taken"
        stored = await self.repo.stored_ticket(timer.ticket_id)
        if stored is None:
            return "gone"
        result = await self._rules(timer, stored, now)
        await self.repo.event(_EVENT_KINDS.get(timer.event, "timer.fired"), _describe(timer), ticket_id=stored.id,
                              actor=str(TIMER), at=now)
        sla_target = timer.target if timer.event in SLA_EVENTS else ""
        await self.service.apply_rules(stored, result, TIMER, Moment.of(now), sla_target=sla_target)
        return timer.event

    async def _rules(self, timer: DueTimer, stored: StoredTicket, now: datetime) -> RulesResult:
        ruleset = self.rules()
        if timer.event in ("pending_for", "no_update_for"):
            ruleset = ruleset.for_trigger(Trigger(timer.event, _after(ruleset, timer)))
        # Silence after the closing request closes the ticket; status_changed rules see it closed.
        state = replace(stored.state, status=TicketStatus.CLOSED.value) if timer.event == AUTO_CLOSE \
            else stored.state
        facts = await self.service.facts_of(stored, state, now, ruleset)
        return run_rules(ruleset, timer.event, facts, state, stored.tier, now, stored.sla(), stored.state.status)


def _after(ruleset: RuleSet, timer: DueTimer) -> timedelta | None:
    return next((t.after for t in ruleset.timed_triggers() if (t.event, t.label) == (timer.event, timer.target)),
                None)


def _describe(timer: DueTimer) -> dict[str, str]:
    moment = "due" if timer.id else "since"
    return {"on": timer.event, "target": timer.target, moment: timer.due_at.isoformat()}

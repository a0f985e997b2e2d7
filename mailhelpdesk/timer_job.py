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
from mailhelpdesk.outbound.notifier import Notifier
from mailhelpdesk.outbound.planner import TicketChange
from mailhelpdesk.pipeline.parse import parse_mail
from mailhelpdesk.rules.effects import ticket_columns
from mailhelpdesk.rules.facts import MailFacts
from mailhelpdesk.rules.result import RulesResult, run_rules
from mailhelpdesk.rules.ruleset import RuleSet, Trigger
from mailhelpdesk.store.repository import Repository, StoredTicket, transaction
from mailhelpdesk.store.rule_writes import RuleWriter
from mailhelpdesk.store.timers import AUTO_CLOSE, SLA_EVENTS, DueTimer, TimerStore

log = logging.getLogger(__name__)
_EVENT_KINDS = {"sla_warning": "sla.warning", "sla_breached": "sla.breached", AUTO_CLOSE: "ticket.auto_closed"}


@dataclass(frozen=True, slots=True)
class TimerJob:
    repo: Repository
    timers: TimerStore
    writer: RuleWriter
    rules: Callable[[], RuleSet]
    notifier: Notifier
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
                                          ticket_id=timer.ticket_id)
            return "failed"

    async def _fire(self, timer: DueTimer, now: datetime) -> str:
        if not await self.timers.claim(timer, now):
            return "taken"
        stored = await self.repo.stored_ticket(timer.ticket_id)
        if stored is None:
            return "gone"
        result = await self._rules(timer, stored, now)
        columns = ticket_columns(result, now, stored.state.status, stored.dues)
        if timer.event == AUTO_CLOSE:
            columns["closed_at"] = now
        await self.repo.event(_EVENT_KINDS.get(timer.event, "timer.fired"), _describe(timer), ticket_id=stored.id)
        await self.repo.update_ticket(stored.id, **columns)
        await self.writer.record(stored.id, result, now, stored=stored)
        sla_target = timer.target if timer.event in SLA_EVENTS else ""
        await self.notifier.ticket_changed(stored.id, TicketChange(timer.event, stored.state, result.after,
                                                                   fired=result.fired, sla_target=sla_target), now)
        return timer.event

    async def _rules(self, timer: DueTimer, stored: StoredTicket, now: datetime) -> RulesResult:
        ruleset = self.rules()
        if timer.event in ("pending_for", "no_update_for"):
            ruleset = ruleset.for_trigger(Trigger(timer.event, _after(ruleset, timer)))
        raw = await self.repo.latest_customer_mail(stored.id)
        # Silence after the closing request closes the ticket; status_changed rules see it closed.
        state = replace(stored.state, status=TicketStatus.CLOSED.value) if timer.event == AUTO_CLOSE \
            else stored.state
        facts = MailFacts(parse_mail(raw or b""), stored.mailbox, stored.company, stored.tier, state, now,
                          ruleset.sla_calendar, created_at=stored.created_at)
        return run_rules(ruleset, timer.event, facts, state, stored.tier, now, stored.sla(), stored.state.status)


def _after(ruleset: RuleSet, timer: DueTimer) -> timedelta | None:
    return next((t.after for t in ruleset.timed_triggers() if (t.event, t.label) == (timer.event, timer.target)),
                None)


def _describe(timer: DueTimer) -> dict[str, str]:
    moment = "due" if timer.id else "since"
    return {"on": timer.event, "target": timer.target, moment: timer.due_at.isoformat()}

"""Run the rules for a mail: ``ticket_created`` for a new ticket, ``customer_replied`` for a reply,
then ``status_changed`` if the status moved. An agent's mail on a ticket is left to the ticket
service, which runs ``agent_replied`` once the agent's commands are known.

The step decides; ``persist`` writes the ticket fields, deadlines, timers and one event per
fired rule. Automatic mail (auto-replies, bounces) and survey scores trigger no rules; mail that
only looks automated does, but reopens nothing.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from mailhelpdesk.domain.outcomes import CONTINUE, Ignore, Outcome
from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.domain.types import REOPENED_BY_REPLY, TicketStatus
from mailhelpdesk.pipeline.context import MailContext
from mailhelpdesk.rules.facts import MailFacts
from mailhelpdesk.rules.result import run_rules
from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.store.repository import Repository, StoredTicket


def _untimed(seconds: float) -> None:
    pass


@dataclass(frozen=True, slots=True)
class RulesStep:
    repo: Repository
    rules: Callable[[], RuleSet]  # the current rules (the file may be reloaded while running)
    name: str = "rules"
    timed: Callable[[float], None] = _untimed  # told how long each evaluation took (the metrics)

    async def run(self, ctx: MailContext) -> Outcome:
        ticket = ctx.thread.ticket if ctx.thread else None
        # Deadlines run from when the mail was written, as the ticket's dates do; never from the future.
        at = ctx.rules_at = min(ctx.written_at, ctx.accepted_at)
        if ctx.is_automatic or ctx.sender is None or ctx.survey_score is not None or (ctx.agent and ticket):
            return CONTINUE  # an agent's mail on a ticket: the ticket service runs its rules
        ruleset = self.rules()
        # The ticket came with the thread's IDs (duplicate step) unless another signal found it.
        stored = (ctx.known_ticket(ticket.id) or await self.repo.stored_ticket(ticket.id)) if ticket else None
        event = "ticket_created" if stored is None else "customer_replied"
        state = self._state(ctx, stored)
        # The ticket's company decides its tier and SLA policy, whoever writes (an agent, a colleague
        # from another domain); the sender's company only for a new ticket.
        company, tier = (stored.company, stored.tier) if stored else (ctx.sender.company_name, ctx.sender.company_tier)
        facts = MailFacts(ctx.parsed, ctx.mailbox.name, company, tier, state, at,
                          ruleset.sla_calendar, created_at=stored.created_at if stored else at)
        started = time.perf_counter()
        result = run_rules(ruleset, event, facts, state, tier, at, stored.sla() if stored else None,
                           stored.state.status if stored else None)
        self.timed(time.perf_counter() - started)
        if result.after.spam:
            return Ignore(f"spam, by rule {result.spam_rule or '?'!r}")
        ctx.rules, ctx.stored_ticket = result, stored
        return CONTINUE

    @staticmethod
    def _state(ctx: MailContext, stored: StoredTicket | None) -> TicketState:
        if stored is None:
            return TicketState(line=ctx.mailbox.line, team=ctx.mailbox.team)
        if stored.state.status in REOPENED_BY_REPLY and not ctx.stays_closed:  # machine-sent or late mail
            return replace(stored.state, status=TicketStatus.OPEN.value)  # the reply reopens it (persist)
        return stored.state


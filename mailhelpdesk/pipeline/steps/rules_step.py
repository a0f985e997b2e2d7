"""Run the rules for a mail: ``ticket_created`` for a new ticket, ``customer_replied`` or
``agent_replied`` (mail from a team member) for a reply, then ``status_changed`` if the status moved.

The step decides; ``persist`` writes the ticket fields, deadlines, timers and one event per
fired rule. Automatic mail (auto-replies, bounces) and survey scores trigger no rules.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

from mailhelpdesk.domain.outcomes import CONTINUE, Ignore, Outcome
from mailhelpdesk.domain.types import REOPENED_BY_REPLY, TicketStatus
from mailhelpdesk.pipeline.context import MailContext
from mailhelpdesk.rules.engine import TicketState
from mailhelpdesk.rules.facts import MailFacts
from mailhelpdesk.rules.result import run_rules
from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.store.repository import Repository, StoredTicket


@dataclass(frozen=True, slots=True)
class RulesStep:
    repo: Repository
    rules: Callable[[], RuleSet]  # the current rules (the file may be reloaded while running)
    name: str = "rules"

    async def run(self, ctx: MailContext) -> Outcome:
        if ctx.is_automatic or ctx.sender is None or ctx.survey_score is not None:
            return CONTINUE
        ruleset = self.rules()
        ticket = ctx.thread.ticket if ctx.thread else None
        stored = await self.repo.stored_ticket(ticket.id) if ticket else None
        ctx.from_agent = stored is not None and ruleset.is_agent(ctx.sender.email)
        event = "ticket_created" if stored is None else "agent_replied" if ctx.from_agent else "customer_replied"
        state = self._state(ctx, stored)
        # The ticket's company decides its tier and SLA policy, whoever writes (an agent, a colleague
        # from another domain); the sender's company only for a new ticket.
        company, tier = (stored.company, stored.tier) if stored else (ctx.sender.company_name, ctx.sender.company_tier)
        # Deadlines run from when the mail was written, as the ticket's dates do; never from the future.
        at = min(ctx.parsed.date or ctx.accepted_at, ctx.accepted_at)
        facts = MailFacts(ctx.parsed, ctx.mailbox.name, company, tier, state, at,
                          ruleset.sla_calendar, created_at=stored.created_at if stored else at)
        result = run_rules(ruleset, event, facts, state, tier, at, stored.sla() if stored else None,
                           stored.state.status if stored else None)
        if result.after.spam:
            return Ignore(f"spam, by rule {result.spam_rule or '?'!r}")
        ctx.rules, ctx.rules_at, ctx.stored_ticket = result, at, stored
        return CONTINUE

    @staticmethod
    def _state(ctx: MailContext, stored: StoredTicket | None) -> TicketState:
        if stored is None:
            return TicketState(line=ctx.mailbox.line, team=ctx.mailbox.team)
        status = stored.state.status
        if not ctx.from_agent and status in REOPENED_BY_REPLY:
            return replace(stored.state, status=TicketStatus.OPEN.value)  # the reply reopens it (persist)
        if ctx.from_agent and status == TicketStatus.NEW.value:
            return replace(stored.state, status=TicketStatus.OPEN.value)  # an agent has taken it up
        return stored.state


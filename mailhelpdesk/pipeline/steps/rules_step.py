"""Run the rules for a customer's mail: ``ticket_created`` for a new ticket, ``customer_replied`` for a reply.

The step decides; ``persist`` writes the ticket fields, deadlines and one event per fired rule.
Automatic mail (auto-replies, bounces) triggers no rules.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from mailhelpdesk.domain.outcomes import CONTINUE, Ignore, Outcome
from mailhelpdesk.pipeline.context import MailContext, RulesResult
from mailhelpdesk.rules.engine import TicketState, evaluate
from mailhelpdesk.rules.facts import MailFacts
from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.sla.deadlines import choose_policy, compute_deadlines
from mailhelpdesk.store.repository import Repository


@dataclass(frozen=True, slots=True)
class RulesStep:
    repo: Repository
    rules: Callable[[], RuleSet]  # the current rules (the file may be reloaded while running)
    name: str = "rules"

    async def run(self, ctx: MailContext) -> Outcome:
        if ctx.is_automatic or ctx.sender is None:
            return CONTINUE
        ruleset = self.rules()
        ticket = ctx.thread.ticket if ctx.thread else None
        event = "ticket_created" if ticket is None else "customer_replied"
        state, created_at = await self._state(ctx, ticket.id if ticket else None)
        company, tier = ctx.sender.company_name, ctx.sender.company_tier
        # Deadlines run from when the mail was written, as the ticket's dates do; never from the future.
        at = min(ctx.parsed.date or ctx.accepted_at, ctx.accepted_at)
        facts = MailFacts(ctx.parsed, ctx.mailbox.name, company, tier, state, at,
                          ruleset.sla_calendar, created_at=created_at or at)
        decision = evaluate(ruleset, event, facts, state)
        if decision.after.spam:
            fired = next((f.rule.name for f in decision.fired if any(c.field == "spam" for c in f.changes)), "?")
            return Ignore(f"spam, by rule {fired!r}")
        policy, reason = choose_policy(ruleset, decision.after, tier)
        deadlines = compute_deadlines(ruleset, policy, decision.after, at) if policy else ()
        ctx.rules = RulesResult(decision, policy.name if policy else "", reason, deadlines)
        return CONTINUE

    async def _state(self, ctx: MailContext, ticket_id: int | None) -> tuple[TicketState, datetime | None]:
        if ticket_id is None:
            return TicketState(line=ctx.mailbox.line, team=ctx.mailbox.team), None
        return await self.repo.ticket_rule_state(ticket_id)

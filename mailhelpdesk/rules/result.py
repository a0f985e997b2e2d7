"""Rules and SLA clock for one event on one ticket: the decisions and what they mean for deadlines."""

from dataclasses import dataclass
from datetime import datetime

from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.rules.chain import decide
from mailhelpdesk.rules.engine import Decision, Fired, TicketFacts
from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.sla.clock import SlaPlan, SlaTicket, plan_sla


@dataclass(frozen=True, slots=True)
class RulesResult:
    event: str
    decisions: tuple[Decision, ...]  # the event's, then status_changed's if the status moved
    sla: SlaPlan

    @property
    def before(self) -> TicketState:
        return self.decisions[0].before

    @property
    def after(self) -> TicketState:
        return self.decisions[-1].after

    @property
    def fired(self) -> tuple[tuple[str, Fired], ...]:
        """Every rule that fired, with the event it fired on."""
        return tuple((d.event, f) for d in self.decisions for f in d.fired)

    def changed(self) -> set[str]:
        """Ticket fields some rule changed."""
        return {c.field for _, f in self.fired for c in f.changes}

    @property
    def spam_rule(self) -> str:
        """The rule that marked the mail as spam, '' if none did."""
        return next((f.rule.name for _, f in self.fired if any(c.field == "spam" for c in f.changes)), "")


def run_rules(ruleset: RuleSet, event: str, facts: TicketFacts, state: TicketState, tier: str, at: datetime,
              stored: SlaTicket | None = None, stored_status: str | None = None) -> RulesResult:
    """Run the rules for ``event`` and plan the SLA clock; ``stored`` is None for a new ticket."""
    decisions = decide(ruleset, event, facts, state, stored_status)
    return RulesResult(event, decisions, plan_sla(ruleset, event, decisions[-1].after, tier, at, stored))

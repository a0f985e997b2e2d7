"""One event's rules, then the ``status_changed`` rules if the status moved.

A ``status_changed`` rule that changes the status again does not start another round: a
pair of rules moving a ticket back and forth would otherwise never end.
"""

from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.rules.engine import Decision, TicketFacts, evaluate
from mailhelpdesk.rules.ruleset import RuleSet


def decide(ruleset: RuleSet, event: str, facts: TicketFacts, state: TicketState,
           stored_status: str | None = None) -> tuple[Decision, ...]:
    """The decisions for ``event``; ``stored_status`` is the status before anything happened
    (a customer reply may have reopened the ticket before the rules ran)."""
    first = evaluate(ruleset, event, facts, state)
    before = state.status if stored_status is None else stored_status
    if first.after.spam or first.after.status == before or event == "status_changed":
        return (first,)
    if not ruleset.rules_for("status_changed"):
        return (first,)
    return first, evaluate(ruleset, "status_changed", facts, first.after)

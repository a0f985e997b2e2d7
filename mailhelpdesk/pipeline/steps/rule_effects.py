"""What the rules' decision means for the stored ticket: its fields and its events."""

from typing import Any

from mailhelpdesk.pipeline.context import RulesResult
from mailhelpdesk.rules.engine import Change, Fired
from mailhelpdesk.rules.sla import DUE_COLUMNS

_FIELDS = ("urgency", "line", "team", "assignee", "status")


def rule_fields(result: RulesResult | None, *, new_ticket: bool) -> dict[str, Any]:
    """Ticket columns to write: every ruled field for a new ticket, only changed ones for a reply."""
    if result is None:
        return {}
    decision, state = result.decision, result.decision.after
    changed = {c.field for f in decision.fired for c in f.changes}
    fields = {name: getattr(state, name) for name in _FIELDS if new_ticket or name in changed}
    if new_ticket or "tags" in changed:
        fields["tags"] = sorted(state.tags)
    if new_ticket or state.sla_policy != decision.before.sla_policy:
        fields["sla_policy"] = result.policy
    for deadline in result.deadlines:
        if new_ticket or deadline.target == "next_response" or "deadlines" in changed:
            fields[DUE_COLUMNS[deadline.target]] = deadline.due
    return fields


def rule_events(result: RulesResult | None, *, new_ticket: bool) -> list[tuple[str, dict[str, Any]]]:
    if result is None:
        return []
    decision = result.decision
    events = [("rule.fired", _fired(decision.event, fired)) for fired in decision.fired]
    events += [("rule.near_miss", {"rule": m.rule.name, "rules_line": m.rule.line, "on": decision.event,
                                   "held": m.held, "of": m.total, "failed": list(m.failed)})
               for m in decision.near_misses]
    if new_ticket:
        events.append(("sla.policy", {
            "policy": result.policy, "reason": result.policy_reason,
            "deadlines": [{"target": d.target, "due": d.due.isoformat(), "how": d.how} for d in result.deadlines],
        }))
    return events


def _fired(event: str, fired: Fired) -> dict[str, Any]:
    return {
        "rule": fired.rule.name, "rules_line": fired.rule.line, "on": event,
        "matched": [{"field": h.field, "matcher": h.matcher, "expected": h.expected, "seen": h.seen,
                     "captures": dict(h.captures)} for h in fired.hits if h.field != "not"],
        "changes": [_change(c) for c in fired.changes],
    }


def _change(change: Change) -> dict[str, Any]:
    return {"field": change.field, "text": str(change)}

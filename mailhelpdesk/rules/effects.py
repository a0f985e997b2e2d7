"""What a ``RulesResult`` means for the stored ticket: the columns to write and the events to record."""

from datetime import datetime
from typing import Any

from mailhelpdesk.domain.sla import DUE_COLUMNS
from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.domain.types import TicketStatus
from mailhelpdesk.rules.engine import Change, Fired
from mailhelpdesk.rules.result import RulesResult
from mailhelpdesk.sla.deadlines import Deadline

_FIELDS = ("urgency", "line", "team", "assignee", "status")


def ticket_columns(result: RulesResult | None, at: datetime, stored_status: str | None = None,
                   stored_dues: dict[str, datetime | None] | None = None) -> dict[str, Any]:
    """Columns to write: every ruled field for a new ticket (``stored_status`` None), else the changed ones."""
    if result is None:
        return {}
    new_ticket, state, changed = stored_status is None, result.after, result.changed()
    fields = {name: getattr(state, name) for name in _FIELDS if new_ticket or name in changed}
    if new_ticket or "tags" in changed:
        fields["tags"] = sorted(state.tags)
    if new_ticket or state.status != stored_status:
        fields["status"], fields["status_since"] = state.status, at
    return fields | _sla_columns(result, stored_dues or {})


def changed_columns(before: TicketState, result: RulesResult, at: datetime,
                    stored_dues: dict[str, datetime | None]) -> dict[str, Any]:
    """Columns to write for an existing ticket: every field that differs from the stored ``before``,
    whoever changed it (an agent's command, the rules, a reopening reply), and the SLA side."""
    after = result.after
    fields = {name: getattr(after, name) for name in _FIELDS if getattr(after, name) != getattr(before, name)}
    if after.tags != before.tags:
        fields["tags"] = sorted(after.tags)
    if "status" in fields:
        fields["status_since"] = at
        # When it closed, whoever closed it (an agent, a rule, the silence after the closing request).
        if after.status == TicketStatus.CLOSED.value:
            fields["closed_at"] = at
        elif before.status == TicketStatus.CLOSED.value:
            fields["closed_at"] = None
    return fields | _sla_columns(result, stored_dues)


def _sla_columns(result: RulesResult, stored_dues: dict[str, datetime | None]) -> dict[str, Any]:
    plan = result.sla
    fields: dict[str, Any] = {"sla_policy": plan.policy.name if plan.policy else "",
                              "sla_policy_rule": result.after.sla_policy}
    for target, due in stored_dues.items():
        if due is not None and target not in plan.writes and plan.shifted(due) != due:
            fields[DUE_COLUMNS[target]] = plan.shifted(due)
    for target, deadline in plan.writes.items():
        fields[DUE_COLUMNS[target]] = deadline.due if deadline else None
    if any(column in fields for column in DUE_COLUMNS.values()):
        fields["next_due"] = next_due(stored_dues, fields)
    if plan.clock is not None:
        fields["sla_paused_at"] = plan.clock.paused_at
        fields["sla_paused_seconds"] = int(plan.clock.paused.total_seconds())
    return fields


def next_due(stored_dues: dict[str, datetime | None], fields: dict[str, Any]) -> datetime | None:
    """The nearest deadline after this write: what the queues sort and filter by (overdue, at risk),
    kept in a column of its own so one index serves them."""
    dues = [fields[column] if column in fields else stored_dues.get(target)
            for target, column in DUE_COLUMNS.items()]
    return min((due for due in dues if due is not None), default=None)


def rule_events(result: RulesResult | None, at: datetime) -> list[tuple[str, dict[str, Any]]]:
    if result is None:
        return []
    events = [("rule.fired", _fired(event, fired)) for event, fired in result.fired]
    events += [("rule.near_miss", {"rule": m.rule.name, "rules_line": m.rule.line, "on": d.event,
                                   "held": m.held, "of": m.total, "failed": list(m.failed)})
               for d in result.decisions for m in d.near_misses]
    plan = result.sla
    if plan.policy_changed:
        events.append(("sla.policy", {"policy": plan.policy.name if plan.policy else "", "reason": plan.reason,
                                       "on": result.event, "deadlines": [_deadline(d) for d in plan.deadlines]}))
    if plan.clock is not None:
        events.append((plan.clock.kind, _clock(result, at)))
    return events


def _clock(result: RulesResult, at: datetime) -> dict[str, Any]:
    clock = result.sla.clock
    assert clock is not None
    data: dict[str, Any] = {"at": at.isoformat(), "status": result.after.status}
    if clock.since is not None:
        data |= {"paused_at": clock.since.isoformat(), "stopped_seconds": int(clock.stopped.total_seconds()),
                 "total_seconds": int(clock.paused.total_seconds())}
    return data


def _deadline(deadline: Deadline) -> dict[str, Any]:
    return {"target": deadline.target, "due": deadline.due.isoformat(), "how": deadline.how,
            "warn": deadline.warn.isoformat() if deadline.warn else None}


def _fired(event: str, fired: Fired) -> dict[str, Any]:
    return {
        "rule": fired.rule.name, "rules_line": fired.rule.line, "on": event,
        "matched": [{"field": h.field, "matcher": h.matcher, "expected": h.expected, "seen": h.seen,
                     "captures": dict(h.captures)} for h in fired.hits if h.field != "not"],
        "changes": [_change(c) for c in fired.changes],
    }


def _change(change: Change) -> dict[str, Any]:
    return {"field": change.field, "text": str(change)}

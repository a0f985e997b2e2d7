"""Which mails a change of a ticket sends, and to whom. Pure: the caller supplies the change.

Two sources: the ticket's life (a new ticket is acknowledged, a resolved one gets the closing
request …, each can be switched off in the rules file's ``replies``), and rules that asked
for a template or a notification (always sent: a rule is an explicit wish).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.domain.types import TicketStatus
from mailhelpdesk.rules.engine import Fired
from mailhelpdesk.rules.ruleset import RuleSet

Audience = Literal["customer", "agent"]
_REOPENING = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)
_STATUS_MAILS = {TicketStatus.PENDING.value: "waiting_for_reply", TicketStatus.RESOLVED.value: "closing_request",
                 TicketStatus.CLOSED.value: "closed_survey"}
_SLA_MAILS = {"sla_warning": "agent_sla_warning", "sla_breached": "agent_sla_breached"}


@dataclass(frozen=True, slots=True)
class TicketChange:
    event: str  # ticket_created, customer_replied, agent_replied, sla_warning, pending_for, auto_close …
    before: TicketState | None  # the stored ticket before the change; None for a new ticket
    after: TicketState
    reopened_from: str = ""  # the status a customer's reply reopened the ticket from
    fired: tuple[tuple[str, Fired], ...] = ()
    sla_target: str = ""  # the deadline of an sla_warning / sla_breached
    actor: str = ""  # the agent who made the change: told nothing about their own doing
    watchers: tuple[str, ...] = ()  # the ticket's collaborators: told what its owner is told
    answered: bool = False  # an agent's reply went to the customer with this change: it speaks for itself
    automated: str = ""  # why the mail that caused it looks machine-sent: the customer is mailed nothing


@dataclass(frozen=True, slots=True)
class Notice:
    template: str
    audience: Audience
    to: tuple[str, ...]  # agents' addresses; empty for the customer (the requester)
    extra: dict[str, Any] = field(default_factory=dict)  # template variables of this mail
    requested_by: str = ""  # the rule that asked for it; '' for the ticket's life


# Customer mails an agent's own answer makes redundant: it asks for a reply, shows who took it, says where it went.
_SAID_BY_REPLY = frozenset(("waiting_for_reply", "assigned", "escalated"))


def plan(change: TicketChange, ruleset: RuleSet) -> list[Notice]:
    lifecycle = [n for n in _lifecycle(change, ruleset) if ruleset.replies.sends(n.template)]
    if change.answered:
        lifecycle = [n for n in lifecycle if n.template not in _SAID_BY_REPLY]
    wanted = [_without(n, change.actor) for n in (*lifecycle, *_requested(change, ruleset))]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    unique = []
    for notice in wanted:
        key = (notice.template, notice.to)
        if key not in seen and (notice.audience == "customer" or notice.to):
            seen.add(key)
            unique.append(notice)
    return unique


def _without(notice: Notice, actor: str) -> Notice:
    """An agent's notice minus the agent who caused it."""
    if notice.audience != "agent" or not actor or actor not in notice.to:
        return notice
    return replace(notice, to=tuple(a for a in notice.to if a != actor))


def _lifecycle(change: TicketChange, ruleset: RuleSet) -> Iterator[Notice]:
    before, after = change.before, change.after
    owners = _owners(after, ruleset, change.watchers)
    if change.event in _SLA_MAILS:
        yield _agents(_SLA_MAILS[change.event], owners, sla_target=change.sla_target)
    if before is None:
        yield Notice("acknowledgement", "customer", ())
        yield _agents("agent_new_ticket", _team(after.team, ruleset), reason="created")
        if after.assignee:
            yield _agents("agent_assigned", (after.assignee,))
        return
    if change.reopened_from in _REOPENING:
        yield Notice("reopened", "customer", ())
        yield _agents("agent_reopened", owners)
    elif change.event == "customer_replied" and after.line <= before.line:  # else the new team hears of it
        yield _agents("agent_customer_replied", owners)
    yield from _changes(before, after, ruleset)


def _changes(before: TicketState, after: TicketState, ruleset: RuleSet) -> Iterator[Notice]:
    escalated = after.line > before.line
    if after.assignee and after.assignee != before.assignee:
        if not escalated:  # one mail to the customer: the escalation says someone took it
            yield Notice("assigned", "customer", ())
        yield _agents("agent_assigned", (after.assignee,))
    if escalated:
        yield Notice("escalated", "customer", ())
        yield _agents("agent_new_ticket", _team(after.team, ruleset), reason="escalated")
    if after.status != before.status and after.status in _STATUS_MAILS:
        yield Notice(_STATUS_MAILS[after.status], "customer", ())


def _requested(change: TicketChange, ruleset: RuleSet) -> Iterator[Notice]:
    for _, fired in change.fired:
        for action in fired.rule.actions:
            if action.kind == "template":
                name = str(action.value)
                if name.startswith("agent_"):
                    yield _agents(name, _owners(change.after, ruleset, change.watchers), rule=fired.rule.name,
                                  requested_by=fired.rule.name)
                else:
                    yield Notice(name, "customer", (), {"rule": fired.rule.name}, fired.rule.name)
            elif action.kind == "notify":
                yield _agents("agent_notify", _team(str(action.value), ruleset), rule=fired.rule.name,
                              requested_by=fired.rule.name)


def _agents(template: str, to: tuple[str, ...], requested_by: str = "", **extra: Any) -> Notice:
    return Notice(template, "agent", to, extra, requested_by)


def _owners(state: TicketState, ruleset: RuleSet, watchers: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The assignee, else the ticket's team; and the collaborators."""
    owners = (state.assignee,) if state.assignee else _team(state.team, ruleset)
    return tuple(dict.fromkeys((*owners, *watchers)))


def _team(name: str, ruleset: RuleSet) -> tuple[str, ...]:
    team = ruleset.teams.get(name)
    if team is None:
        return ()
    return (team.address,) if team.address else tuple(team.members)
